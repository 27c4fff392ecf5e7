"""Expansion: the flat step list of the MQTT start command, as `ExpandedStep`s and in the
fixed JSON format they are stored and sent in."""

from __future__ import annotations

import json

import pytest

from domain.profiles import ExpandedStep, Limit, Mode, ProfileError, expand_profile, parse_profile

STEP_KEYS = {"step", "cycle", "line", "mode", "setpoint", "limit", "limit_value"}


def expand(text: str, capacity_ah: float | None = None, **options: int) -> list[dict]:
    """The expanded steps as the JSON they are stored and sent as."""
    return [step.to_json() for step in expand_profile(parse_profile(text), capacity_ah, **options)]


def test_each_step_has_the_fixed_format():
    assert expand("# charge\nCC, 1.5, VOLTAGE, 4.2\nWAIT, 60") == [
        {
            "step": 1,
            "cycle": 1,
            "line": 2,
            "mode": "CC",
            "setpoint": 1.5,
            "limit": "VOLTAGE",
            "limit_value": 4.2,
        },
        {
            "step": 2,
            "cycle": 1,
            "line": 3,
            "mode": "WAIT",
            "setpoint": None,
            "limit": "TIME",
            "limit_value": 60.0,
        },
    ]


def test_steps_are_plain_json():
    steps = expand("REPEAT 2\nCV, 4.2, CURRENT, 0.05C\nCP, -5, ENERGY, 1\nEND", 2.0)
    assert json.loads(json.dumps(steps)) == steps
    assert all(set(step) == STEP_KEYS for step in steps)
    assert all(type(step["mode"]) is str and type(step["limit"]) is str for step in steps)


def test_repeat_blocks_are_unrolled_and_steps_numbered_from_one():
    steps = expand("CC, 1, TIME, 1\nREPEAT 3\nCC, -1, TIME, 1\nWAIT, 5\nEND\nCV, 4, TIME, 1")
    assert [step["step"] for step in steps] == list(range(1, 9))
    assert [step["mode"] for step in steps] == ["CC"] + ["CC", "WAIT"] * 3 + ["CV"]
    assert [step["line"] for step in steps] == [1] + [3, 4] * 3 + [6]


def test_the_cycle_is_the_iteration_of_the_outermost_repeat():
    steps = expand("WAIT, 1\nREPEAT 2\nREPEAT 2\nCC, 1, TIME, 1\nEND\nWAIT, 1\nEND\nWAIT, 2")
    assert [(step["cycle"], step["line"]) for step in steps] == [
        (1, 1),  # outside any REPEAT
        (1, 4),
        (1, 4),
        (1, 6),
        (2, 4),
        (2, 4),
        (2, 6),
        (2, 8),  # after the last REPEAT: its last cycle
    ]


def test_cycles_count_on_across_top_level_repeats():
    steps = expand("REPEAT 2\nWAIT, 1\nEND\nREPEAT 3\nWAIT, 2\nEND")
    assert [step["cycle"] for step in steps] == [1, 2, 3, 4, 5]


def test_a_step_between_repeats_opens_the_cycle_of_the_repeat_after_it():
    text = "CC, 1, TIME, 1\nREPEAT 2\nWAIT, 1\nEND\nCC, 2, TIME, 1\nREPEAT 2\nWAIT, 2\nEND\nWAIT, 3"
    assert [step["cycle"] for step in expand(text)] == [1, 1, 2, 3, 3, 4, 4]


def test_a_profile_without_repeat_is_one_cycle():
    assert [step["cycle"] for step in expand("CC, 1, TIME, 1\nCC, -1, TIME, 1")] == [1, 1]


def test_c_rates_resolve_to_amperes_through_the_capacity():
    steps = expand("CC, 0.5C, VOLTAGE, 4.2\nCC, -2C, VOLTAGE, 2.5\nCV, 4.2, CURRENT, 0.05C", 3.0)
    assert [step["setpoint"] for step in steps] == [1.5, -6.0, 4.2]
    assert steps[2]["limit_value"] == pytest.approx(0.15)


def test_si_set_points_and_limits_are_unchanged():
    steps = expand("CP, -10, VOLTAGE, 3\nCC, 2, CAPACITY, 1.5", 3.0)
    assert [(step["setpoint"], step["limit_value"]) for step in steps] == [(-10.0, 3.0), (2.0, 1.5)]


@pytest.mark.parametrize("capacity", [None, 0.0, -1.0])
def test_c_rates_without_a_capacity_are_a_profile_error(capacity):
    with pytest.raises(ProfileError) as caught:
        expand("WAIT, 1\nCC, 1C, TIME, 1", capacity)
    assert [problem.line for problem in caught.value.problems] == [2]


def test_a_profile_without_c_rates_needs_no_capacity():
    assert len(expand("CC, 1, TIME, 1")) == 1


def test_expansion_is_capped():
    profile = parse_profile("REPEAT 50\nWAIT, 1\nWAIT, 2\nEND")
    assert len(expand_profile(profile, max_steps=100)) == 100
    with pytest.raises(ProfileError, match="reaches 100 steps here.*at most 99"):
        expand_profile(profile, max_steps=99)


def test_a_profile_at_the_default_cap_expands():
    steps = expand("REPEAT 50000\nCC, 1C, TIME, 1\nCC, -1C, TIME, 1\nEND", 2.0)
    assert len(steps) == 100_000
    assert steps[-1] == {
        "step": 100_000,
        "cycle": 50_000,
        "line": 3,
        "mode": "CC",
        "setpoint": -2.0,
        "limit": "TIME",
        "limit_value": 1.0,
    }


# ---------------------------------------------------------------- the ExpandedStep type


def test_expansion_gives_typed_steps():
    (step,) = expand_profile(parse_profile("\n\nCC, 0.5C, VOLTAGE, 4.2"), 3.0)
    assert step == ExpandedStep(Mode.CC, 1.5, Limit.VOLTAGE, 4.2, step=1, cycle=1, line=3)
    assert type(step.mode) is Mode and type(step.limit) is Limit


def test_json_keys_come_in_the_fixed_order():
    step = ExpandedStep(Mode.CP, -5.0, Limit.ENERGY, 1.0, step=4, cycle=2, line=7)
    assert list(step.to_json()) == [
        "step",
        "cycle",
        "line",
        "mode",
        "setpoint",
        "limit",
        "limit_value",
    ]


def test_a_step_survives_a_json_round_trip():
    steps = expand_profile(parse_profile("REPEAT 2\nCC, 1, VOLTAGE, 4.2\nWAIT, 60\nEND"))
    assert [ExpandedStep.from_json(json.loads(json.dumps(s.to_json()))) for s in steps] == steps


def test_unknown_cycle_and_line_are_left_out_of_the_json():
    step = ExpandedStep(Mode.WAIT, None, Limit.TIME, 60.0, step=2)
    assert step.to_json() == {
        "step": 2,
        "mode": "WAIT",
        "setpoint": None,
        "limit": "TIME",
        "limit_value": 60.0,
    }


def test_json_without_step_cycle_and_line_takes_the_position_given():
    raw = {"mode": "CC", "setpoint": 2, "limit": "TIME", "limit_value": 10}
    assert ExpandedStep.from_json(raw, step=3) == ExpandedStep(
        Mode.CC, 2.0, Limit.TIME, 10.0, step=3, cycle=None, line=None
    )


def test_a_step_number_in_the_json_wins_over_the_position():
    raw = {"step": 5, "mode": "WAIT", "setpoint": None, "limit": "TIME", "limit_value": 1}
    assert ExpandedStep.from_json(raw, step=1).step == 5


def test_json_without_a_step_number_or_position_is_refused():
    with pytest.raises(ValueError, match="^step: required field is missing"):
        ExpandedStep.from_json(
            {"mode": "WAIT", "setpoint": None, "limit": "TIME", "limit_value": 1}
        )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"mode": "EIS"}, "'EIS' is not a valid Mode"),
        ({"limit": "SOC"}, "'SOC' is not a valid Limit"),
        ({"limit_value": "long"}, "could not convert string to float"),
        ({"limit_value": None}, "float\\(\\) argument must be"),
    ],
)
def test_json_that_is_not_a_step_is_refused(change, message):
    raw = {"step": 1, "mode": "CC", "setpoint": 1.0, "limit": "TIME", "limit_value": 1.0}
    with pytest.raises(ValueError, match=f"^not an expanded step: {message}"):
        ExpandedStep.from_json(raw | change)


def test_json_missing_a_field_is_refused_naming_it():
    with pytest.raises(ValueError, match="^limit: required field is missing"):
        ExpandedStep.from_json({"step": 1, "mode": "WAIT", "limit_value": 1.0})
