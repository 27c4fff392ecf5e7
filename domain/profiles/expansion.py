"""Expansion for execution: the flat list of `ExpandedStep`s a cycler runs.

REPEAT blocks are unrolled and C-rates resolved to amperes. The same steps are stored
with a queued experiment and sent in the MQTT start command, both as the JSON of
`ExpandedStep.to_json`: `{"step": 1, "cycle": 1, "line": 3, "mode": "CC",
"setpoint": 2.5, "limit": "VOLTAGE", "limit_value": 4.2}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from domain.profiles.language import (
    Instruction,
    Limit,
    Mode,
    Profile,
    ProfileError,
    Repeat,
    Step,
    c_rate_problems,
    check_step_count,
)


@dataclass(frozen=True, slots=True)
class ExpandedStep:
    """One step to run: hold `setpoint` in `mode` until `limit` reaches `limit_value`.

    SI units (A, V, W; limits in s, V, A, Ah, Wh), positive current = charge;
    `setpoint` is None for WAIT. `step` is the 1-based position in the list, `cycle`
    the iteration of the outermost REPEAT (1 outside any REPEAT) and `line` the source
    line (0: unknown). A start command may leave out cycle and line: they are None then.
    """

    mode: Mode
    setpoint: float | None
    limit: Limit
    limit_value: float
    step: int
    cycle: int | None = None
    line: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The step as stored and sent: keys in this order, cycle and line only when known."""
        data: dict[str, Any] = {"step": self.step}
        if self.cycle is not None:
            data["cycle"] = self.cycle
        if self.line is not None:
            data["line"] = self.line
        data["mode"] = str(self.mode)
        data["setpoint"] = self.setpoint
        data["limit"] = str(self.limit)
        data["limit_value"] = self.limit_value
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any], step: int | None = None) -> ExpandedStep:
        """The step from its JSON (as stored, or as a start command carries it).

        `step` numbers a step whose JSON has no "step" (its 1-based position); missing
        cycle and line stay None. Numbers become floats and ints. Anything else that does
        not fit is a ValueError; the strict checks with field paths are the protocol's.
        """
        number = data.get("step", step)
        if number is None:
            raise ValueError("step: required field is missing")
        setpoint, cycle, line = data.get("setpoint"), data.get("cycle"), data.get("line")
        try:
            return cls(
                Mode(data["mode"]),
                None if setpoint is None else float(setpoint),
                Limit(data["limit"]),
                float(data["limit_value"]),
                int(number),
                None if cycle is None else int(cycle),
                None if line is None else int(line),
            )
        except KeyError as error:
            raise ValueError(f"{error.args[0]}: required field is missing") from None
        except (TypeError, ValueError) as error:
            raise ValueError(f"not an expanded step: {error}") from None


# One unrolled step before numbering: (line, mode, setpoint, limit, limit_value).
_Flat = tuple[int, Mode, float | None, Limit, float]


def _resolve(step: Step, capacity_ah: float | None) -> _Flat:
    setpoint = step.setpoint
    if setpoint is not None and step.setpoint_c_rate:
        assert capacity_ah is not None
        setpoint = setpoint * capacity_ah
    limit_value = step.limit_value
    if step.limit_c_rate:
        assert capacity_ah is not None
        limit_value = limit_value * capacity_ah
    return step.line, step.mode, setpoint, step.limit, limit_value


def _unroll(instructions: tuple[Instruction, ...], capacity_ah: float | None) -> list[_Flat]:
    flat: list[_Flat] = []
    for instruction in instructions:
        if isinstance(instruction, Repeat):
            # The body is unrolled once and then copied: the tuples are immutable.
            flat.extend(_unroll(instruction.body, capacity_ah) * instruction.count)
        else:
            flat.append(_resolve(instruction, capacity_ah))
    return flat


def first_cycles(instructions: tuple[Instruction, ...]) -> list[int]:
    """The cycle each top-level instruction starts in.

    Cycles are numbered across the whole profile: each iteration of a top-level REPEAT
    is the next cycle. A step outside any REPEAT belongs to the cycle of the REPEAT that
    follows it (a preparation charge shares cycle 1 with the first iteration), or to the
    last cycle when no REPEAT follows.
    """
    firsts: list[int] = []
    next_cycle = 1
    pending = 0  # steps outside a REPEAT waiting for the cycle that follows them
    for instruction in instructions:
        if isinstance(instruction, Repeat):
            firsts[len(firsts) - pending :] = [next_cycle] * pending
            firsts.append(next_cycle)
            next_cycle += instruction.count
            pending = 0
        else:
            firsts.append(next_cycle)
            pending += 1
    # Steps after the last REPEAT stay in its last cycle.
    if pending and next_cycle > 1:
        firsts[len(firsts) - pending :] = [next_cycle - 1] * pending
    return firsts


def expand_profile(
    profile: Profile, capacity_ah: float | None = None, max_steps: int | None = None
) -> list[ExpandedStep]:
    """The steps to run, in order; ProfileError if C-rates cannot be resolved or there are
    more than `max_steps` (the site's `profiles.max_steps`; None: no cap)."""
    if max_steps is not None:
        check_step_count(profile, max_steps)
    if profile.uses_c_rates and not (capacity_ah is not None and capacity_ah > 0):
        raise ProfileError(c_rate_problems(profile))
    steps: list[ExpandedStep] = []
    for instruction, first_cycle in zip(
        profile.instructions, first_cycles(profile.instructions), strict=True
    ):
        if isinstance(instruction, Repeat):
            body = _unroll(instruction.body, capacity_ah)
            cycles = range(first_cycle, first_cycle + instruction.count)
            flat_with_cycles = [(cycle, item) for cycle in cycles for item in body]
        else:
            flat_with_cycles = [(first_cycle, _resolve(instruction, capacity_ah))]
        for cycle, (line, mode, setpoint, limit, limit_value) in flat_with_cycles:
            steps.append(
                ExpandedStep(mode, setpoint, limit, limit_value, len(steps) + 1, cycle, line)
            )
    return steps
