"""The sketch of a profile's set points: the same steps, cycles and lines as the expansion
a cycler receives, C-rates left in C until a capacity is given, and a cap on its length."""

from __future__ import annotations

from domain.profiles import Limit, Mode, expand_profile, parse_profile, sketch_profile

TEXT = """# preparation, then cycles with nested pulses
CC, 1.5, VOLTAGE, 4.2
REPEAT 3
    CC, -1C, VOLTAGE, 2.5
    REPEAT 2
        CV, 4.2, CURRENT, 0.05C
        WAIT, 60
    END
END
CP, 5, ENERGY, 3
"""


def test_the_sketch_with_a_capacity_is_the_expansion_a_cycler_runs() -> None:
    profile = parse_profile(TEXT)
    sketch = sketch_profile(profile, capacity_ah=3.0)
    expanded = expand_profile(profile, 3.0)
    assert sketch.resolved and not sketch.capped and sketch.total == len(expanded) == 17
    assert [
        (s.step, s.cycle, s.line, s.mode, s.setpoint, s.limit, s.limit_value) for s in sketch.steps
    ] == [(e.step, e.cycle, e.line, e.mode, e.setpoint, e.limit, e.limit_value) for e in expanded]
    assert {s.setpoint_unit for s in sketch.steps if s.mode is Mode.CC} == {"A"}


def test_without_a_capacity_c_rates_stay_in_c() -> None:
    sketch = sketch_profile(parse_profile(TEXT))
    assert not sketch.resolved
    second, third = sketch.steps[1], sketch.steps[2]
    assert (second.setpoint, second.setpoint_unit) == (-1.0, "C")
    assert (third.limit, third.limit_value, third.limit_unit) == (Limit.CURRENT, 0.05, "C")
    assert second.describe() == "CC -1C until VOLTAGE 2.5 V"
    assert third.describe() == "CV 4.2 V until CURRENT 0.05C"
    assert sketch.steps[3].describe() == "WAIT until TIME 60 s"
    assert sketch.steps[-1].describe() == "CP 5 W until ENERGY 3 Wh"
    # A capacity of 0 (or none) resolves nothing.
    assert not sketch_profile(parse_profile(TEXT), capacity_ah=0).resolved


def test_a_long_profile_is_drawn_up_to_the_cap_without_unrolling_the_rest() -> None:
    profile = parse_profile("REPEAT 1000000000\n  CC, 1, TIME, 1\n  WAIT, 1\nEND\n")
    sketch = sketch_profile(profile, cap=5)
    assert sketch.capped and sketch.total == 2_000_000_000
    assert [(s.step, s.cycle, s.mode) for s in sketch.steps] == [
        (1, 1, Mode.CC), (2, 1, Mode.WAIT), (3, 2, Mode.CC), (4, 2, Mode.WAIT), (5, 3, Mode.CC),
    ]  # fmt: skip
