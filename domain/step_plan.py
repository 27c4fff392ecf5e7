"""An experiment's expanded steps, and any of them in words: "step 7 of 400 · cycle 2 of 100 ·
CC −2.50 A until 3.00 V".

The steps are the expanded list the cycler runs (`domain.profiles.expansion`: {"step",
"cycle", "line", "mode", "setpoint", "limit", "limit_value"}), and the instruction
number is 1-based in that list, as in the MQTT measures message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from domain.formatting import format_duration, format_quantity

_LIMIT_UNITS = {"VOLTAGE": "V", "CURRENT": "A", "CAPACITY": "Ah", "ENERGY": "Wh"}
_SETPOINT_UNITS = {"CC": "A", "CV": "V", "CP": "W"}


@dataclass(frozen=True)
class StepPlan:
    """The expanded steps of an experiment, ready to describe any of them."""

    steps: tuple[Mapping[str, Any], ...]
    cycles: int  # the largest cycle number in the steps (1 without REPEAT)

    @classmethod
    def from_steps(cls, steps: Sequence[Mapping[str, Any]]) -> StepPlan:
        cycles = max((int(step.get("cycle") or 1) for step in steps), default=1)
        return cls(tuple(steps), cycles)

    @property
    def total(self) -> int:
        return len(self.steps)

    def describe(self, instruction: int | None) -> str:
        """ "step 7 of 400 · cycle 2 of 100 · CC −2.50 A until 3.00 V" for a 1-based step."""
        if instruction is None:
            return f"waiting for the first sample · {self.total} steps"
        if not 1 <= instruction <= self.total:
            return f"step {instruction} (not in the {self.total} steps of the profile)"
        step = self.steps[instruction - 1]
        parts = [f"step {instruction} of {self.total}"]
        if self.cycles > 1:
            parts.append(f"cycle {int(step.get('cycle') or 1)} of {self.cycles}")
        parts.append(describe_instruction(step))
        return " · ".join(parts)


def describe_instruction(step: Mapping[str, Any]) -> str:
    """One step in words: "CC −2.50 A until 3.00 V", "CV 4.20 V until |I| < 0.10 A",
    "WAIT for 20 s"."""
    mode = str(step.get("mode", "")).upper()
    limit = str(step.get("limit", "")).upper()
    limit_value = step.get("limit_value")
    head = mode
    if mode in _SETPOINT_UNITS:
        head = f"{mode} {format_quantity(_number(step.get('setpoint')), _SETPOINT_UNITS[mode])}"
    value = _number(limit_value)
    if limit == "TIME":
        return f"{head} for {format_duration(value, compact=True)}"
    if limit == "CURRENT":
        return f"{head} until |I| < {format_quantity(value, 'A')}"
    if limit in _LIMIT_UNITS:
        return f"{head} until {format_quantity(value, _LIMIT_UNITS[limit])}"
    return head


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
