"""Steps in words: position, cycle and instruction, as the monitor and the overview show them."""

from __future__ import annotations

from domain.profiles import ExpandedStep, Limit, Mode, expand_profile, parse_profile
from domain.step_plan import StepPlan, describe_instruction


def steps_of(source: str, capacity_ah: float | None = None) -> list[ExpandedStep]:
    return expand_profile(parse_profile(source), capacity_ah)


def test_a_step_is_described_with_its_position_cycle_and_instruction():
    plan = StepPlan.from_steps(
        steps_of(
            "CC, 1, TIME, 10\n"
            "REPEAT 100\n CC, -2.5, VOLTAGE, 3.0\n CV, 4.2, CURRENT, 0.1\n"
            " WAIT, 60\n CP, 5, TIME, 90\nEND\n"
        )
    )
    assert plan.total == 401 and plan.cycles == 100
    assert plan.describe(6) == "step 6 of 401 · cycle 2 of 100 · CC −2.50 A until 3.00 V"
    assert plan.describe(7) == "step 7 of 401 · cycle 2 of 100 · CV 4.20 V until |I| < 0.10 A"
    assert plan.describe(8) == "step 8 of 401 · cycle 2 of 100 · WAIT for 1 min"
    assert plan.describe(9) == "step 9 of 401 · cycle 2 of 100 · CP 5.00 W for 1 min 30 s"


def test_a_profile_without_repeat_has_no_cycle_in_its_description():
    plan = StepPlan.from_steps(steps_of("CC, 0.5C, CAPACITY, 1.2\nCP, -4, ENERGY, 2\n", 2.0))
    assert plan.describe(1) == "step 1 of 2 · CC 1.00 A until 1.20 Ah"
    assert plan.describe(2) == "step 2 of 2 · CP −4.00 W until 2.00 Wh"


def test_before_the_first_sample_and_outside_the_steps_the_text_says_so():
    plan = StepPlan.from_steps(steps_of("WAIT, 5\n"))
    assert plan.describe(None) == "waiting for the first sample · 1 steps"
    assert "not in the 1 steps" in plan.describe(7)


def test_steps_without_a_cycle_count_as_one_cycle():
    plan = StepPlan.from_steps([ExpandedStep(Mode.WAIT, None, Limit.TIME, 20.0, step=1)])
    assert plan.cycles == 1
    assert plan.describe(1) == "step 1 of 1 · WAIT for 20 s"


def test_an_instruction_is_described_on_its_own():
    step = ExpandedStep(Mode.CV, 4.2, Limit.CURRENT, 0.1, step=3, cycle=2, line=4)
    assert describe_instruction(step) == "CV 4.20 V until |I| < 0.10 A"
