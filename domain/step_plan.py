"""An experiment's expanded steps, and any of them in words: "step 7 of 400 · cycle 2 of 100 ·
CC −2.50 A until 3.00 V".

The steps are the expanded list the cycler runs (`domain.profiles.ExpandedStep`), and the
instruction number is 1-based in that list, as in the MQTT measures message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from domain.formatting import format_duration, format_quantity
from domain.profiles.expansion import ExpandedStep
from domain.profiles.language import Limit, Mode

_LIMIT_UNITS = {Limit.VOLTAGE: "V", Limit.CURRENT: "A", Limit.CAPACITY: "Ah", Limit.ENERGY: "Wh"}
_SETPOINT_UNITS = {Mode.CC: "A", Mode.CV: "V", Mode.CP: "W"}


@dataclass(frozen=True)
class StepPlan:
    """The expanded steps of an experiment, ready to describe any of them."""

    steps: tuple[ExpandedStep, ...]
    cycles: int  # the largest cycle number in the steps (1 without REPEAT)

    @classmethod
    def from_steps(cls, steps: Sequence[ExpandedStep]) -> StepPlan:
        cycles = max((step.cycle or 1 for step in steps), default=1)
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
            parts.append(f"cycle {step.cycle or 1} of {self.cycles}")
        parts.append(describe_instruction(step))
        return " · ".join(parts)


def describe_instruction(step: ExpandedStep) -> str:
    """One step in words: "CC −2.50 A until 3.00 V", "CV 4.20 V until |I| < 0.10 A",
    "WAIT for 20 s"."""
    head = str(step.mode)
    if step.mode in _SETPOINT_UNITS:
        head = f"{head} {format_quantity(step.setpoint, _SETPOINT_UNITS[step.mode])}"
    if step.limit == Limit.TIME:
        return f"{head} for {format_duration(step.limit_value, compact=True)}"
    if step.limit == Limit.CURRENT:
        return f"{head} until |I| < {format_quantity(step.limit_value, 'A')}"
    return f"{head} until {format_quantity(step.limit_value, _LIMIT_UNITS[step.limit])}"
