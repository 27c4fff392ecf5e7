"""The size of the start command that carries a profile's steps to a cycler.

A cycler accepts MQTT payloads of at most `node.max_payload_bytes` (4,000,000 bytes by
default, docs/protocol.md), and the start command carries every expanded step. A
profile that is accepted but whose start command is larger can never start, so the
catalogue checks the size when a profile is saved and when an experiment is queued.
The encoder itself is the protocol's (`mqtt_node.protocol.encode_start`), which the
datastore must not import; this module writes the steps the same way (compact UTF-8
JSON of `ExpandedStep.to_json`) and bounds everything else the command holds, and the
protocol's tests check that the bound holds for the encoder's worst case.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Final

from domain.profiles.expansion import ExpandedStep, expand_profile
from domain.profiles.language import Limit, Mode, Problem, Profile, ProfileError

# The largest payload protocol v1 promises a cycler will accept (docs/protocol.md): the
# default of node.max_payload_bytes, which sites keep unless their cyclers accept more.
CYCLER_MAX_PAYLOAD_BYTES: Final = 4_000_000

# Everything in a start command but its steps, at most: the command word, an experiment
# id, a profile name of 100 characters written as JSON escapes (6 bytes each), the four
# window limits, and a battery's technology, chemistry, capacity and cell count.
START_OVERHEAD_BYTES: Final = 4096

# A step at its largest: 10-digit step, cycle and line numbers, the longest mode and
# limit words and two 24-character floats, plus the comma between steps.
_LARGEST_STEP: Final = {
    "step": 2**31 - 1,
    "cycle": 2**31 - 1,
    "line": 2**31 - 1,
    "mode": max((str(mode) for mode in Mode), key=len),
    "setpoint": -2.2250738585072014e-308,
    "limit": max((str(limit) for limit in Limit), key=len),
    "limit_value": -2.2250738585072014e-308,
}

_ENCODER: Final = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)

MAX_STEP_BYTES: Final = len(_ENCODER.encode(_LARGEST_STEP).encode("utf-8")) + 1


def start_command_bytes(steps: Sequence[ExpandedStep]) -> int:
    """At least the size in bytes of a start command carrying these steps."""
    encoded = _ENCODER.encode([step.to_json() for step in steps]).encode("utf-8")
    return len(encoded) + START_OVERHEAD_BYTES


def largest_start_bytes(step_count: int) -> int:
    """The largest start command of a profile of `step_count` steps, whatever its values."""
    return step_count * MAX_STEP_BYTES + START_OVERHEAD_BYTES


def steps_within(max_bytes: int) -> int:
    """How many steps any start command of at most `max_bytes` bytes can carry."""
    return max(0, (max_bytes - START_OVERHEAD_BYTES) // MAX_STEP_BYTES)


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:,.1f} MB"


def refusal(step_count: int, size: int, max_bytes: int) -> str:
    """The sentence that refuses a profile: its steps, its start command, the limit."""
    return (
        f"this profile expands to {step_count:,} steps, a start command of "
        f"{_megabytes(size)} ({size:,} bytes); a cycler accepts at most "
        f"{_megabytes(max_bytes)} ({max_bytes:,} bytes). Lower the REPEAT counts or split "
        "the test into several experiments"
    )


def check_start_size(steps: Sequence[ExpandedStep], max_bytes: int) -> None:
    """Refuse (ProfileError) steps whose start command would exceed `max_bytes`."""
    size = start_command_bytes(steps)
    if size > max_bytes:
        raise ProfileError([Problem(None, refusal(len(steps), size, max_bytes))])


def check_profile_start_size(profile: Profile, max_bytes: int) -> None:
    """Refuse (ProfileError) a profile that could not start on any battery.

    Without C-rates the steps do not depend on the battery and the size is exact; with
    C-rates the amperes are only known when an experiment is queued (then checked again
    exactly), so each step counts at its largest.
    """
    count = profile.step_count
    if largest_start_bytes(count) <= max_bytes:
        return
    if profile.uses_c_rates:
        raise ProfileError([Problem(None, refusal(count, largest_start_bytes(count), max_bytes))])
    check_start_size(expand_profile(profile), max_bytes)
