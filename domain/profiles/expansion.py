"""Expansion for execution: the flat step list a cycler runs (the MQTT start command's form).

Each step is `{"step": 1, "cycle": 1, "line": 3, "mode": "CC", "setpoint": 2.5,
"limit": "VOLTAGE", "limit_value": 4.2}`: REPEAT blocks unrolled, C-rates resolved to
amperes, `step` 1-based, `cycle` the iteration of the outermost REPEAT (1 outside any
REPEAT), `line` the source line. `setpoint` is None for WAIT.
"""

from __future__ import annotations

from typing import Any

from domain.profiles.language import (
    Instruction,
    Profile,
    ProfileError,
    Repeat,
    Step,
    c_rate_problems,
    check_step_count,
)

# One unrolled step before numbering: (line, mode, setpoint, limit, limit_value).
_Flat = tuple[int, str, float | None, str, float]


def _resolve(step: Step, capacity_ah: float | None) -> _Flat:
    setpoint = step.setpoint
    if setpoint is not None and step.setpoint_c_rate:
        assert capacity_ah is not None
        setpoint = setpoint * capacity_ah
    limit_value = step.limit_value
    if step.limit_c_rate:
        assert capacity_ah is not None
        limit_value = limit_value * capacity_ah
    return step.line, str(step.mode), setpoint, str(step.limit), limit_value


def _unroll(instructions: tuple[Instruction, ...], capacity_ah: float | None) -> list[_Flat]:
    flat: list[_Flat] = []
    for instruction in instructions:
        if isinstance(instruction, Repeat):
            # The body is unrolled once and then copied: the tuples are immutable.
            flat.extend(_unroll(instruction.body, capacity_ah) * instruction.count)
        else:
            flat.append(_resolve(instruction, capacity_ah))
    return flat


def expand_profile(
    profile: Profile, capacity_ah: float | None = None, max_steps: int | None = None
) -> list[dict[str, Any]]:
    """The steps to run, in order; ProfileError if C-rates cannot be resolved or there are
    more than `max_steps` (the site's `profiles.max_steps`; None: no cap)."""
    if max_steps is not None:
        check_step_count(profile, max_steps)
    if profile.uses_c_rates and not (capacity_ah is not None and capacity_ah > 0):
        raise ProfileError(c_rate_problems(profile))
    steps: list[dict[str, Any]] = []
    for instruction in profile.instructions:
        if isinstance(instruction, Repeat):
            body = _unroll(instruction.body, capacity_ah)
            cycles = range(1, instruction.count + 1)
            flat_with_cycles = [(cycle, item) for cycle in cycles for item in body]
        else:
            flat_with_cycles = [(1, _resolve(instruction, capacity_ah))]
        for cycle, (line, mode, setpoint, limit, limit_value) in flat_with_cycles:
            steps.append(
                {
                    "step": len(steps) + 1,
                    "cycle": cycle,
                    "line": line,
                    "mode": mode,
                    "setpoint": setpoint,
                    "limit": limit,
                    "limit_value": limit_value,
                }
            )
    return steps
