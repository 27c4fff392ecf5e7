"""The profile language: what parses, what is refused and how, canonical text and JSON."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.profiles import (
    MAX_NESTING,
    MAX_TEXT_LENGTH,
    Limit,
    Mode,
    Problem,
    Profile,
    ProfileError,
    Repeat,
    Step,
    canonical_text,
    parse_profile,
    profile_from_json,
    profile_to_json,
)


def problems_of(text: str, **options: int) -> list[str]:
    with pytest.raises(ProfileError) as caught:
        parse_profile(text, **options)
    return [str(problem) for problem in caught.value.problems]


# ---------------------------------------------------------------- what parses


def test_each_mode_parses_to_a_step_with_si_values():
    profile = parse_profile(
        "WAIT, 60\nCC, 1.5, VOLTAGE, 4.2\nCV, 4.2, CURRENT, 0.1\nCP, -10, ENERGY, 5\n"
    )
    assert profile.instructions == (
        Step(Mode.WAIT, None, Limit.TIME, 60.0),
        Step(Mode.CC, 1.5, Limit.VOLTAGE, 4.2),
        Step(Mode.CV, 4.2, Limit.CURRENT, 0.1),
        Step(Mode.CP, -10.0, Limit.ENERGY, 5.0),
    )


@pytest.mark.parametrize(
    ("mode", "setpoint", "limit"),
    [
        ("CC", "1", "TIME"),
        ("CC", "1", "VOLTAGE"),
        ("CC", "-1", "CAPACITY"),
        ("CV", "4", "TIME"),
        ("CV", "4", "CURRENT"),
        ("CP", "5", "TIME"),
        ("CP", "5", "VOLTAGE"),
        ("CP", "-5", "ENERGY"),
    ],
)
def test_every_allowed_mode_and_limit_combination_parses(mode, setpoint, limit):
    (step,) = parse_profile(f"{mode}, {setpoint}, {limit}, 2").instructions
    assert (step.mode, step.limit) == (Mode(mode), Limit(limit))


def test_letter_case_spaces_comments_and_blank_lines_do_not_matter():
    text = "# charge\n\n   cc ,  1.5 ,voltage,   4.2   # to full\n\n\tCv,4.2,Current,0.1\n"
    assert parse_profile(text) == parse_profile("CC, 1.5, VOLTAGE, 4.2\nCV, 4.2, CURRENT, 0.1")


def test_steps_keep_the_line_they_were_written_on():
    profile = parse_profile("# header\n\nWAIT, 1\n\nREPEAT 2\n  CC, 1, TIME, 5\nEND\n")
    wait, repeat = profile.instructions
    assert wait.line == 3
    assert repeat.line == 5
    assert repeat.body[0].line == 6


def test_windows_and_old_mac_line_endings_count_lines_like_an_editor():
    assert problems_of("WAIT, 1\r\nWAIT, 0\rWAIT, x") == [
        "line 2: WAIT needs a positive duration (in s), got 0",
        "line 3: WAIT needs a number for the duration (in s), got 'x'",
    ]


@pytest.mark.parametrize("written", ["0.5C", "0.5c", "0.5 C", ".5C", "5e-1C"])
def test_a_cc_current_can_be_a_c_rate(written):
    (step,) = parse_profile(f"CC, {written}, VOLTAGE, 4.2").instructions
    assert (step.setpoint, step.setpoint_c_rate) == (0.5, True)


def test_a_negative_c_rate_is_a_discharge():
    (step,) = parse_profile("CC, -1C, VOLTAGE, 2.5").instructions
    assert (step.setpoint, step.setpoint_c_rate) == (-1.0, True)


def test_a_cv_current_limit_can_be_a_c_rate():
    (step,) = parse_profile("CV, 4.2, CURRENT, 0.05C").instructions
    assert (step.limit_value, step.limit_c_rate) == (0.05, True)


def test_repeat_blocks_nest():
    profile = parse_profile("REPEAT 3\n  WAIT, 1\n  REPEAT 2\n    CC, 1, TIME, 1\n  END\nEND")
    assert profile.instructions == (
        Repeat(
            3,
            (
                Step(Mode.WAIT, None, Limit.TIME, 1.0),
                Repeat(2, (Step(Mode.CC, 1.0, Limit.TIME, 1.0),)),
            ),
        ),
    )
    assert profile.step_count == 3 * (1 + 2)


def test_repeat_also_reads_with_a_comma():
    assert parse_profile("REPEAT, 4\nWAIT, 1\nEND") == parse_profile("REPEAT 4\nWAIT, 1\nEND")


def test_wait_also_reads_with_the_time_word():
    assert parse_profile("WAIT, TIME, 30") == parse_profile("WAIT, 30")


# ---------------------------------------------------------------- what is refused


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "CX, 1, TIME, 1",
            "line 1: unknown instruction 'CX'; expected WAIT, CC, CV, CP, REPEAT or END",
        ),
        (
            "CC 1, TIME, 1",
            "line 1: unknown instruction 'CC 1'; expected WAIT, CC, CV, CP, REPEAT or END "
            "(fields are separated by commas)",
        ),
        (", 1, TIME, 1", "line 1: missing instruction before the first comma"),
        (
            "CC, 1, TIME",
            "line 1: CC needs 4 fields (CC, <current>, TIME|VOLTAGE|CAPACITY, <limit>), got 3",
        ),
        (
            "CC, 1, TIME, 1,",
            "line 1: CC needs 4 fields (CC, <current>, TIME|VOLTAGE|CAPACITY, <limit>), got 5",
        ),
        ("WAIT", "line 1: WAIT needs 2 fields (WAIT, <seconds>), got 1"),
        ("WAIT, 1, 2, 3", "line 1: WAIT needs 2 fields (WAIT, <seconds>), got 4"),
        (
            "CC, abc, TIME, 1",
            "line 1: CC needs a number for the current (in A, or a C-rate like 0.5C), got 'abc'",
        ),
        (
            "CC, , TIME, 1",
            "line 1: CC needs a number for the current (in A, or a C-rate like 0.5C), got nothing",
        ),
        (
            "CC, 1.2.3, TIME, 1",
            "line 1: CC needs a number for the current (in A, or a C-rate like 0.5C), got '1.2.3'",
        ),
        ("CC, nan, TIME, 1", "line 1: CC needs a finite current, got nan"),
        ("CC, -inf, TIME, 1", "line 1: CC needs a finite current, got -inf"),
        ("CC, InfinityC, TIME, 1", "line 1: CC needs a finite current, got InfinityC"),
        ("CC, 1e999, TIME, 1", "line 1: CC needs a finite current, got 1e999"),
        ("CC, 1, TIME, NaN", "line 1: the TIME limit needs a finite duration, got NaN"),
        ("CV, 4.2, VOLTAGE, 4", "line 1: CV cannot stop on VOLTAGE; expected TIME or CURRENT"),
        (
            "CC, 1, CURRENT, 0.1",
            "line 1: CC cannot stop on CURRENT; expected TIME, VOLTAGE or CAPACITY",
        ),
        (
            "CP, 1, CAPACITY, 1",
            "line 1: CP cannot stop on CAPACITY; expected TIME, VOLTAGE or ENERGY",
        ),
        ("CV, 4, ENERGY, 1", "line 1: CV cannot stop on ENERGY; expected TIME or CURRENT"),
        ("CC, 1, VOLTS, 4", "line 1: unknown limit 'VOLTS'; CC expects TIME, VOLTAGE or CAPACITY"),
        ("WAIT, VOLTAGE, 3", "line 1: WAIT can only stop on TIME, not VOLTAGE"),
        ("WAIT, SECONDS, 3", "line 1: unknown limit 'SECONDS'; WAIT expects TIME"),
        ("WAIT, 0", "line 1: WAIT needs a positive duration (in s), got 0"),
        ("WAIT, -5", "line 1: WAIT needs a positive duration (in s), got -5"),
        ("CC, 1, TIME, 0", "line 1: the TIME limit needs a positive duration (in s), got 0"),
        ("CC, 1, TIME, -10", "line 1: the TIME limit needs a positive duration (in s), got -10"),
        (
            "CC, 1, VOLTAGE, -4.2",
            "line 1: the VOLTAGE limit needs a positive voltage (in V), got -4.2",
        ),
        (
            "CC, 1, CAPACITY, 0",
            "line 1: the CAPACITY limit needs a positive capacity (in Ah), got 0",
        ),
        ("CP, 1, ENERGY, -1", "line 1: the ENERGY limit needs a positive energy (in Wh), got -1"),
        (
            "CV, 4, CURRENT, -0.1",
            "line 1: the CURRENT limit needs a positive current (in A), got -0.1",
        ),
        ("CV, -4.2, TIME, 1", "line 1: CV needs a positive voltage, got -4.2"),
        ("CV, 0, TIME, 1", "line 1: CV needs a positive voltage, got 0"),
        (
            "CC, 0, TIME, 1",
            "line 1: CC needs a non-zero current (positive to charge, negative to discharge), got 0",
        ),
        (
            "CC, -0.0C, TIME, 1",
            "line 1: CC needs a non-zero current (positive to charge, negative to discharge), got -0.0C",
        ),
        (
            "CP, 0, TIME, 1",
            "line 1: CP needs a non-zero power (positive to charge, negative to discharge), got 0",
        ),
        ("CV, 4.2C, TIME, 1", "line 1: CV takes the voltage in V, not a C-rate, got 4.2C"),
        ("CP, 2C, TIME, 1", "line 1: CP takes the power in W, not a C-rate, got 2C"),
        (
            "CC, 1, TIME, 10C",
            "line 1: the TIME limit takes the duration in s, not a C-rate, got 10C",
        ),
        ("REPEAT 3\nWAIT, 1", "line 1: REPEAT has no matching END"),
        ("WAIT, 1\nEND", "line 2: END without a matching REPEAT"),
        ("REPEAT 0\nWAIT, 1\nEND", "line 1: REPEAT needs a whole number of at least 1, got 0"),
        ("REPEAT -2\nWAIT, 1\nEND", "line 1: REPEAT needs a whole number of at least 1, got -2"),
        (
            "REPEAT 2.5\nWAIT, 1\nEND",
            "line 1: REPEAT needs a whole number of at least 1, got '2.5'",
        ),
        (
            "REPEAT ten\nWAIT, 1\nEND",
            "line 1: REPEAT needs a whole number of at least 1, got 'ten'",
        ),
        ("REPEAT\nWAIT, 1\nEND", "line 1: REPEAT needs one count, e.g. REPEAT 10"),
        ("REPEAT 2 3\nWAIT, 1\nEND", "line 1: REPEAT needs one count, e.g. REPEAT 10"),
        (
            "REPEAT 99999999999999999999\nWAIT, 1\nEND",
            "line 1: REPEAT count 99999999999999999999 is far too large",
        ),
        ("REPEAT 2\nEND", "line 1: REPEAT block has no instructions before END"),
        ("REPEAT 2\nWAIT, 1\nEND 2", "line 3: END takes nothing after it"),
        ("", "the profile has no instructions"),
        ("# only a comment\n\n   \n", "the profile has no instructions"),
    ],
)
def test_each_problem_is_named_with_its_line(text, expected):
    assert problems_of(text) == [expected]


def test_every_problem_is_reported_at_once_in_line_order():
    text = "\n".join(
        [
            "CC, 1, VOLTAGE, 4.2",
            "REPEAT 3",
            "  CV, -4.2, VOLTAGE, 4",  # two problems on one line
            "  FOO",
            "END",
            "END",
            "WAIT, 0",
        ]
    )
    assert problems_of(text) == [
        "line 3: CV needs a positive voltage, got -4.2",
        "line 3: CV cannot stop on VOLTAGE; expected TIME or CURRENT",
        "line 4: unknown instruction 'FOO'; expected WAIT, CC, CV, CP, REPEAT or END",
        "line 6: END without a matching REPEAT",
        "line 7: WAIT needs a positive duration (in s), got 0",
    ]


def test_an_unclosed_repeat_is_reported_where_it_opens():
    assert problems_of("REPEAT 2\n  REPEAT 3\n    WAIT, 1\n  END\nWAIT, 1") == [
        "line 1: REPEAT has no matching END"
    ]


def test_the_error_message_lists_one_problem_per_line():
    with pytest.raises(ProfileError) as caught:
        parse_profile("WAIT, 0\nWAIT, -1")
    assert str(caught.value) == (
        "line 1: WAIT needs a positive duration (in s), got 0\n"
        "line 2: WAIT needs a positive duration (in s), got -1"
    )
    assert caught.value.problems[0] == Problem(1, "WAIT needs a positive duration (in s), got 0")


def test_a_profile_longer_than_the_step_cap_is_refused_at_the_line_that_crosses_it():
    text = "WAIT, 1\nREPEAT 1000\n  REPEAT 1000\n    WAIT, 1\n  END\nEND"
    assert problems_of(text, max_steps=100_000) == [
        "line 2: the profile reaches 1,000,001 steps here once REPEAT blocks are unrolled; "
        "at most 100,000 are allowed"
    ]


def test_the_step_cap_is_configurable():
    text = "REPEAT 11\nWAIT, 1\nEND"
    assert parse_profile(text, max_steps=11).step_count == 11
    assert problems_of(text, max_steps=10) == [
        "line 1: the profile reaches 11 steps here once REPEAT blocks are unrolled; "
        "at most 10 are allowed"
    ]


def test_a_huge_repeat_count_is_refused_without_unrolling():
    # 10**12 steps would never fit in memory; the count alone decides.
    problems = problems_of("REPEAT 1000000000000\nWAIT, 1\nEND", max_steps=100_000)
    assert problems[0].startswith("line 1: the profile reaches 1,000,000,000,000 steps")


def test_reading_stops_as_soon_as_the_written_steps_exceed_the_cap():
    text = "WAIT, 1\n\n" * 5 + "FOO\n" * 3
    assert problems_of(text, max_steps=3) == [
        "line 7: the profile has more than 3 steps by this line; at most 3 are allowed"
    ]


def test_reading_stops_after_a_hundred_problems():
    problems = problems_of("WAIT, 0\n" * 500)
    assert len(problems) == 101
    assert problems[-1] == "line 101: too many problems: reading stopped here"


def test_repeat_nesting_is_bounded():
    depth = MAX_NESTING + 5
    text = "REPEAT 1\n" * depth + "WAIT, 1\n" + "END\n" * depth
    assert problems_of(text) == [
        f"line {MAX_NESTING + 1}: REPEAT blocks nest more than {MAX_NESTING} deep here"
    ]


def test_nesting_to_the_limit_is_allowed():
    text = "REPEAT 1\n" * MAX_NESTING + "WAIT, 1\n" + "END\n" * MAX_NESTING
    assert parse_profile(text).step_count == 1


def test_text_beyond_the_length_limit_is_refused_before_parsing():
    assert problems_of("#" * (MAX_TEXT_LENGTH + 1)) == [
        f"the profile text is {MAX_TEXT_LENGTH + 1:,} characters long; "
        f"at most {MAX_TEXT_LENGTH:,} are accepted"
    ]


def test_something_other_than_text_is_a_profile_error():
    assert problems_of(None) == ["the profile must be text"]  # type: ignore[arg-type]


# ---------------------------------------------------------------- canonical text and JSON


def test_canonical_text_has_one_layout():
    profile = parse_profile(
        "cc,0.50c,voltage,4.20 # x\nrepeat 2\ncv,4.2,current,.05C\nwait, time, 60.0\nend\ncp,-1e1,energy,5"
    )
    assert canonical_text(profile) == (
        "CC, 0.5C, VOLTAGE, 4.2\n"
        "REPEAT 2\n"
        "    CV, 4.2, CURRENT, 0.05C\n"
        "    WAIT, 60\n"
        "END\n"
        "CP, -10, ENERGY, 5\n"
    )


def test_canonical_text_reads_back_as_the_same_profile():
    profile = parse_profile(
        "CC, 0.1, TIME, 1e-3\nREPEAT 2\nCC, -1.2345678901234567, VOLTAGE, 3\nEND"
    )
    assert parse_profile(canonical_text(profile)) == profile


def test_json_form_round_trips_and_is_plain_json():
    profile = parse_profile("CC, 0.5C, VOLTAGE, 4.2\nREPEAT 3\nCV, 4.2, CURRENT, 0.05C\nEND")
    stored = json.loads(json.dumps(profile_to_json(profile)))
    restored = profile_from_json(stored)
    assert restored == profile
    assert restored.instructions[1].line == 2


def test_damaged_json_is_a_profile_error():
    with pytest.raises(ProfileError, match="damaged"):
        profile_from_json([{"mode": "XX"}])


# ---------------------------------------------------------------- properties

numbers = st.floats(allow_nan=False, allow_infinity=False, min_value=1e-9, max_value=1e9)
signed = st.tuples(st.sampled_from([1.0, -1.0]), numbers).map(lambda pair: pair[0] * pair[1])


@st.composite
def steps(draw: st.DrawFn) -> Step:
    mode = draw(st.sampled_from(list(Mode)))
    if mode is Mode.WAIT:
        return Step(Mode.WAIT, None, Limit.TIME, draw(numbers))
    setpoint = draw(numbers if mode is Mode.CV else signed)
    setpoint_c_rate = mode is Mode.CC and draw(st.booleans())
    limit = draw(
        st.sampled_from(
            {
                Mode.CC: [Limit.TIME, Limit.VOLTAGE, Limit.CAPACITY],
                Mode.CV: [Limit.TIME, Limit.CURRENT],
                Mode.CP: [Limit.TIME, Limit.VOLTAGE, Limit.ENERGY],
            }[mode]
        )
    )
    limit_c_rate = limit is Limit.CURRENT and draw(st.booleans())
    return Step(mode, setpoint, limit, draw(numbers), setpoint_c_rate, limit_c_rate)


instructions = st.recursive(
    steps(),
    lambda inner: st.builds(
        Repeat,
        st.integers(min_value=1, max_value=5),
        st.lists(inner, min_size=1, max_size=3).map(tuple),
    ),
    max_leaves=12,
)
profiles = st.lists(instructions, min_size=1, max_size=6).map(lambda items: Profile(tuple(items)))


@settings(max_examples=200, deadline=None)
@given(profiles)
def test_structure_to_canonical_text_and_back_is_the_same_structure(profile):
    text = canonical_text(profile)
    assert parse_profile(text) == profile
    assert canonical_text(parse_profile(text)) == text


@settings(max_examples=200, deadline=None)
@given(profiles)
def test_structure_to_json_and_back_is_the_same_structure(profile):
    assert profile_from_json(json.loads(json.dumps(profile_to_json(profile)))) == profile


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_text_gives_a_profile_or_a_profile_error(text):
    try:
        profile = parse_profile(text)
    except ProfileError as error:
        assert error.problems
        assert all(isinstance(problem, Problem) for problem in error.problems)
    else:
        assert parse_profile(canonical_text(profile)) == profile


# Text made of the language's own words exercises far more of the parser than random
# characters do.
tokens = st.sampled_from(
    [
        "WAIT",
        "CC",
        "CV",
        "CP",
        "REPEAT",
        "END",
        "TIME",
        "VOLTAGE",
        "CURRENT",
        "CAPACITY",
        "ENERGY",
        "cc",
        "repeat",
        "0",
        "1",
        "-1",
        "2.5",
        "0.5C",
        "-1c",
        "4.2",
        "1e999",
        "nan",
        "inf",
        "-0",
        "1e5",
        "3.0.1",
        "C",
        "#",
        ",",
        ", ",
        " ",
        "\n",
        "\n",
        "\r\n",
        "\t",
        "x",
    ]
)


@settings(max_examples=200, deadline=None)
@given(st.lists(tokens, max_size=60).map("".join))
def test_text_made_of_profile_words_gives_a_profile_or_a_profile_error(text):
    try:
        profile = parse_profile(text, max_steps=1000)
    except ProfileError as error:
        assert all(str(problem) for problem in error.problems)
    else:
        assert parse_profile(canonical_text(profile), max_steps=1000) == profile
