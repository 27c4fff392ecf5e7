"""The planned set points of a profile, step by step, for drawing it before it runs.

Like `expansion.expand_profile`, REPEAT blocks are unrolled and cycles numbered, but
lazily and only up to a cap (a profile may unroll to 100,000 steps; a sketch needs the
first few hundred), and C-rates may stay in C: a profile is drawn before any battery is
chosen, and a C-rate is only resolved to amperes against a battery's nominal capacity.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

from domain.profiles.expansion import first_cycles
from domain.profiles.language import (
    LIMIT_NAMES,
    SETPOINT_NAMES,
    Instruction,
    Limit,
    Mode,
    Profile,
    Repeat,
    Step,
    format_number,
)

# Steps drawn at most: enough to see a few cycles of any real profile, few enough for a
# figure the browser draws at once.
SKETCH_CAP = 2_000
C_RATE_UNIT = "C"


@dataclass(frozen=True)
class PlannedStep:
    """One step of the sketch: its set point and limit, each with the unit it is shown in
    ("A", "V", "W", or "C" for a C-rate left unresolved; the set point is None for WAIT)."""

    step: int
    cycle: int
    line: int
    mode: Mode
    setpoint: float | None
    setpoint_unit: str
    limit: Limit
    limit_value: float
    limit_unit: str

    def describe(self) -> str:
        """The step in words: "CC 1.5 A until VOLTAGE 4.2 V", "WAIT until TIME 600 s"."""
        limit = f"until {self.limit} {format_number(self.limit_value)}{_space(self.limit_unit)}"
        if self.setpoint is None:
            return f"{self.mode} {limit}"
        setpoint = f"{format_number(self.setpoint)}{_space(self.setpoint_unit)}"
        return f"{self.mode} {setpoint} {limit}"


def _space(unit: str) -> str:
    return unit if unit == C_RATE_UNIT else f" {unit}"  # 0.5C, as profiles write it


@dataclass(frozen=True)
class Sketch:
    """The first `len(steps)` of the profile's `total` steps."""

    steps: tuple[PlannedStep, ...]
    total: int
    resolved: bool  # C-rates turned into amperes (a capacity was given)

    @property
    def capped(self) -> bool:
        return len(self.steps) < self.total


def _unrolled(instructions: tuple[Instruction, ...]) -> Iterator[Step]:
    for instruction in instructions:
        if isinstance(instruction, Repeat):
            for _ in range(instruction.count):
                yield from _unrolled(instruction.body)
        else:
            yield instruction


def _with_cycles(profile: Profile) -> Iterator[tuple[int, Step]]:
    """Each step to run, in order, with its cycle (numbered as `expand_profile` does)."""
    instructions = profile.instructions
    for instruction, first in zip(instructions, first_cycles(instructions), strict=True):
        if isinstance(instruction, Repeat):
            for iteration in range(instruction.count):
                for step in _unrolled(instruction.body):
                    yield first + iteration, step
        else:
            yield first, instruction


def _planned(number: int, cycle: int, step: Step, capacity_ah: float | None) -> PlannedStep:
    setpoint, setpoint_unit = step.setpoint, ""
    if step.mode is not Mode.WAIT:
        setpoint_unit = SETPOINT_NAMES[step.mode][1]
    if step.setpoint_c_rate:
        if capacity_ah is None:
            setpoint_unit = C_RATE_UNIT
        elif setpoint is not None:
            setpoint = setpoint * capacity_ah
    limit_value, limit_unit = step.limit_value, LIMIT_NAMES[step.limit][1]
    if step.limit_c_rate:
        if capacity_ah is None:
            limit_unit = C_RATE_UNIT
        else:
            limit_value = limit_value * capacity_ah
    return PlannedStep(
        number, cycle, step.line, step.mode, setpoint, setpoint_unit, step.limit, limit_value,
        limit_unit,
    )  # fmt: skip


def sketch_profile(
    profile: Profile, capacity_ah: float | None = None, cap: int = SKETCH_CAP
) -> Sketch:
    """The first `cap` steps, C-rates resolved with `capacity_ah` (Ah) when it is positive
    and left in C otherwise."""
    capacity = capacity_ah if capacity_ah is not None and capacity_ah > 0 else None
    steps = tuple(
        _planned(number, cycle, step, capacity)
        for number, (cycle, step) in enumerate(itertools.islice(_with_cycles(profile), cap), 1)
    )
    return Sketch(steps, profile.step_count, resolved=capacity is not None)
