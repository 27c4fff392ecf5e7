"""docs/profiles.md stays true: its examples parse and its error table matches the parser."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from config import default_settings
from domain.profiles import ProfileError, expand_profile, parse_profile

DOCS = Path(__file__).resolve().parents[2] / "docs" / "profiles.md"
EXAMPLE = re.compile(r"^```profile\n(.*?)^```", re.MULTILINE | re.DOTALL)


def examples() -> list[str]:
    return EXAMPLE.findall(DOCS.read_text(encoding="utf-8"))


def test_the_docs_have_the_promised_examples():
    found = examples()
    assert len(found) >= 5
    joined = "\n".join(found).upper()
    for feature in ("CV, 4.2, CURRENT", "CC, -", "REPEAT 100", "0.5C", "CP, "):
        assert feature in joined


@pytest.mark.parametrize("example", examples(), ids=lambda text: text.splitlines()[0][:40])
def test_every_example_profile_parses_and_expands(example):
    profile = parse_profile(example)
    steps = expand_profile(profile, capacity_ah=3.0)
    assert len(steps) == profile.step_count


# One profile for each message of the docs' error table.
PRODUCED_BY = {
    "line 3: unknown instruction 'CX'; expected WAIT, CC, CV, CP, REPEAT or END": "\n\nCX, 1",
    "line 3: missing instruction before the first comma": "\n\n, 1",
    "line 3: CC needs 4 fields (CC, <current>, TIME|VOLTAGE|CAPACITY, <limit>), got 3": (
        "\n\nCC, 1, TIME"
    ),
    "line 3: CC needs a number for the current (in A, or a C-rate like 0.5C), got 'abc'": (
        "\n\nCC, abc, TIME, 1"
    ),
    "line 3: CC needs a finite current, got inf": "\n\nCC, inf, TIME, 1",
    "line 3: CV takes the voltage in V, not a C-rate, got 4.2C": "\n\nCV, 4.2C, TIME, 1",
    "line 4: CV needs a positive voltage, got -4.2": "\n\n\nCV, -4.2, TIME, 1",
    "line 3: CC needs a non-zero current (positive to charge, negative to discharge), got 0": (
        "\n\nCC, 0, TIME, 1"
    ),
    "line 3: unknown limit 'VOLTS'; CC expects TIME, VOLTAGE or CAPACITY": "\n\nCC, 1, VOLTS, 1",
    "line 3: CV cannot stop on VOLTAGE; expected TIME or CURRENT": "\n\nCV, 4, VOLTAGE, 1",
    "line 3: WAIT can only stop on TIME, not VOLTAGE": "\n\nWAIT, VOLTAGE, 1",
    "line 3: the TIME limit needs a positive duration (in s), got 0": "\n\nCC, 1, TIME, 0",
    "line 3: WAIT needs a positive duration (in s), got -5": "\n\nWAIT, -5",
    "line 2: REPEAT needs a whole number of at least 1, got '2.5'": "\nREPEAT 2.5\nWAIT, 1\nEND",
    "line 2: REPEAT needs one count, e.g. REPEAT 10": "\nREPEAT\nWAIT, 1\nEND",
    "line 2: REPEAT has no matching END": "\nREPEAT 2\nWAIT, 1",
    "line 9: END without a matching REPEAT": "WAIT, 1" + "\n" * 8 + "END",
    "line 2: REPEAT block has no instructions before END": "\nREPEAT 2\nEND",
    "line 34: REPEAT blocks nest more than 32 deep here": "WAIT, 1\n"
    + "REPEAT 1\n" * 33
    + "WAIT, 1\n"
    + "END\n" * 33,
    "line 1: the profile reaches 1,000,000 steps here once REPEAT blocks are unrolled; "
    "at most 24,000 are allowed": "REPEAT 1000000\nWAIT, 1\nEND",
    "line 24001: the profile has more than 24,000 steps by this line; at most 24,000 are "
    "allowed": "WAIT, 1\n" * 24_001,
    "line 101: too many problems: reading stopped here": "x\n" * 101,
    "the profile has no instructions": "# nothing yet\n",
}


def documented_errors() -> list[str]:
    text = DOCS.read_text(encoding="utf-8")
    table = text.split("## Error messages", 1)[1].split("\n## ", 1)[0]
    return [
        match.replace("\\|", "|") for match in re.findall(r"^\| `(.+?)` \|", table, re.MULTILINE)
    ]


def test_the_error_table_lists_the_messages_the_parser_gives():
    documented = documented_errors()
    # The C-rate message comes from expansion, tested below; the others from parsing.
    c_rate_message = (
        "line 2: CC uses a C-rate (0.5C) but the battery has no nominal capacity to resolve it"
    )
    assert set(documented) == set(PRODUCED_BY) | {c_rate_message}
    for message, text in PRODUCED_BY.items():
        with pytest.raises(ProfileError) as caught:
            parse_profile(text, max_steps=default_settings().profiles.max_steps)
        assert message in [str(problem) for problem in caught.value.problems]
    with pytest.raises(ProfileError) as caught:
        expand_profile(parse_profile("WAIT, 1\nCC, 0.5C, VOLTAGE, 4.2"), capacity_ah=None)
    assert [str(problem) for problem in caught.value.problems] == [c_rate_message]
