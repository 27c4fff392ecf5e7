"""The profile runner: each mode and limit, sampling, the safety window, timeouts, pause, and
that any calling rhythm gives the same experiment."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

from domain.profiles import ExpandedStep, Limit, Mode
from domain.status import ExperimentStatus
from domain.window import Window
from simulation.battery_model import BatteryModel, parameters_for
from simulation.profile_runner import (
    AlarmCode,
    ProfileRunner,
    Sample,
    StepError,
    run_to_completion,
)

WINDOW = Window(voltage_min=2.5, voltage_max=4.25, current_min=-5.0, current_max=5.0)


def nmc(soc: float = 0.5) -> BatteryModel:
    return BatteryModel(parameters_for("lithium-ion", 2.5, 1, "NMC"), soc=soc)


def steps(*specs: tuple[Any, ...], cycle: int = 1, first: int = 1) -> list[ExpandedStep]:
    """Expanded steps numbered from `first`, from (mode, setpoint, limit, limit_value) tuples."""
    return [
        ExpandedStep(
            Mode(mode), setpoint, Limit(limit), limit_value, step=number, cycle=cycle, line=number
        )
        for number, (mode, setpoint, limit, limit_value) in enumerate(specs, start=first)
    ]


def of_step(samples: list[Sample], number: int) -> list[Sample]:
    return [s for s in samples if s.instruction == number]


CC_CV_CYCLE = (
    ("CC", 2.5, "VOLTAGE", 4.2),
    ("CV", 4.2, "CURRENT", 0.125),
    ("WAIT", None, "TIME", 600),
    ("CC", -2.5, "VOLTAGE", 3.0),
    ("WAIT", None, "TIME", 600),
)


def cycles(count: int) -> list[ExpandedStep]:
    result = []
    for cycle in range(1, count + 1):
        first = 1 + (cycle - 1) * len(CC_CV_CYCLE)
        result += steps(*CC_CV_CYCLE, cycle=cycle, first=first)
    return result


# ---------------------------------------------------------------- sampling


def test_seq_numbers_are_consecutive_from_zero() -> None:
    samples, _, _ = run_to_completion(cycles(1), nmc(0.3), WINDOW, 10.0)
    assert [s.seq for s in samples] == list(range(len(samples)))


def test_samples_fall_on_the_period_plus_one_at_each_step_end() -> None:
    profile = steps(("CC", 1.0, "TIME", 25.0), ("WAIT", None, "TIME", 20.0))
    samples, outcome, _ = run_to_completion(profile, nmc(), WINDOW, 10.0)
    assert outcome == ExperimentStatus.FINISHED
    assert [(s.t, s.instruction) for s in samples] == [
        (0.0, 1),
        (10.0, 1),
        (20.0, 1),
        (25.0, 1),
        (30.0, 2),
        (40.0, 2),
        (45.0, 2),
    ]


def test_first_sample_is_the_rest_reading() -> None:
    model = nmc()
    samples, _, _ = run_to_completion(steps(("CC", 2.0, "TIME", 10)), model, WINDOW, 1.0)
    assert samples[0].t == 0.0 and samples[0].current == 0.0
    assert samples[0].voltage == pytest.approx(model.ocv(0.5))


def test_instruction_and_cycle_follow_the_steps() -> None:
    samples, _, _ = run_to_completion(cycles(2), nmc(0.3), WINDOW, 10.0)
    assert [s.instruction for s in samples] == sorted(s.instruction for s in samples)
    assert {s.instruction for s in samples} == set(range(1, 11))
    for sample in samples:
        assert sample.cycle == (1 if sample.instruction <= 5 else 2)
        assert sample.mode == CC_CV_CYCLE[(sample.instruction - 1) % 5][0]


def test_samples_carry_power_and_body_temperature() -> None:
    samples, _, _ = run_to_completion(steps(("CC", -2.5, "TIME", 1800)), nmc(0.9), WINDOW, 10.0)
    for sample in samples:
        assert sample.power == pytest.approx(sample.voltage * sample.current)
    assert samples[0].extra["temp_body"] == pytest.approx(25.0)
    assert samples[-1].extra["temp_body"] > 26.0


def test_steps_without_step_and_cycle_keys_are_numbered_by_position() -> None:
    raw = [
        {"mode": "CC", "setpoint": 1.0, "limit": "TIME", "limit_value": 5},
        {"mode": "WAIT", "setpoint": None, "limit": "TIME", "limit_value": 5},
    ]
    profile = [ExpandedStep.from_json(step, position) for position, step in enumerate(raw, 1)]
    samples, _, _ = run_to_completion(profile, nmc(), WINDOW, 1.0)
    assert samples[-1].instruction == 2 and samples[-1].cycle is None


# ---------------------------------------------------------------- modes and limits


def test_time_limit_ends_the_step_after_its_duration() -> None:
    samples, outcome, _ = run_to_completion(steps(("CC", 1.0, "TIME", 95.5)), nmc(), WINDOW, 10.0)
    assert outcome == ExperimentStatus.FINISHED
    assert samples[-1].t == pytest.approx(95.5)


def test_wait_gives_zero_current() -> None:
    profile = steps(("CC", 2.0, "TIME", 60), ("WAIT", None, "TIME", 300))
    samples, _, _ = run_to_completion(profile, nmc(), WINDOW, 10.0)
    rest = of_step(samples, 2)
    assert len(rest) == 30
    assert all(s.current == 0.0 and s.power == 0.0 for s in rest)
    # The voltage relaxes downwards after a charge.
    assert rest[-1].voltage < rest[0].voltage


def test_cc_charge_with_voltage_limit_stops_at_the_limit() -> None:
    samples, _, _ = run_to_completion(steps(("CC", 2.5, "VOLTAGE", 4.2)), nmc(0.2), WINDOW, 10.0)
    charge = of_step(samples, 1)
    assert charge[-1].voltage == pytest.approx(4.2, abs=1e-4)
    assert all(s.voltage < 4.2 for s in charge[:-1])
    assert all(s.current == 2.5 for s in charge[1:])


def test_cc_discharge_with_voltage_limit_stops_when_voltage_falls_to_it() -> None:
    samples, _, _ = run_to_completion(steps(("CC", -2.5, "VOLTAGE", 3.0)), nmc(0.8), WINDOW, 10.0)
    assert samples[-1].voltage == pytest.approx(3.0, abs=1e-4)
    assert all(s.voltage > 3.0 for s in samples[:-1])


def test_cc_charge_raises_soc_by_charge_over_capacity() -> None:
    model = nmc(0.2)
    run_to_completion(steps(("CC", 1.25, "TIME", 3600)), model, WINDOW, 10.0)
    efficiency = model.parameters.coulombic_efficiency
    assert model.soc == pytest.approx(0.2 + efficiency * 1.25 * 3600 / 3600 / 2.5, abs=1e-9)


def test_cv_with_current_limit_tapers_at_the_set_voltage() -> None:
    profile = steps(("CC", 2.5, "VOLTAGE", 4.2), ("CV", 4.2, "CURRENT", 0.125))
    samples, outcome, _ = run_to_completion(profile, nmc(0.2), WINDOW, 10.0)
    assert outcome == ExperimentStatus.FINISHED
    hold = of_step(samples, 2)
    assert len(hold) > 10
    assert all(s.voltage == pytest.approx(4.2, abs=1e-6) for s in hold)
    currents = [s.current for s in hold]
    assert all(b <= a for a, b in zip(currents, currents[1:], strict=False))
    assert currents[0] > 2.0
    assert currents[-1] <= 0.125 and currents[-1] == pytest.approx(0.125, rel=1e-3)
    assert all(c > 0.125 for c in currents[:-1])


def test_cv_starting_far_from_its_voltage_is_current_limited() -> None:
    samples, _, _ = run_to_completion(steps(("CV", 4.2, "TIME", 60)), nmc(0.1), WINDOW, 10.0)
    assert samples[1].current == WINDOW.current_max
    assert samples[1].voltage < 4.2


def test_cp_holds_the_power() -> None:
    samples, outcome, _ = run_to_completion(
        steps(("CP", -6.0, "VOLTAGE", 3.2)), nmc(0.9), WINDOW, 10.0
    )
    assert outcome == ExperimentStatus.FINISHED
    for sample in samples[1:]:
        assert sample.power == pytest.approx(-6.0, rel=1e-6)
    # Constant power: the current grows as the voltage falls.
    assert samples[-1].current < samples[1].current
    assert samples[-1].voltage == pytest.approx(3.2, abs=1e-4)


def test_cp_charge_holds_the_power() -> None:
    samples, _, _ = run_to_completion(steps(("CP", 5.0, "TIME", 1200)), nmc(0.3), WINDOW, 30.0)
    assert all(s.power == pytest.approx(5.0, rel=1e-6) for s in samples[1:])


@pytest.mark.parametrize(
    "step",
    [("CC", -1.5, "CAPACITY", 0.4), ("CV", 3.5, "CAPACITY", 0.4), ("CP", 4.0, "CAPACITY", 0.4)],
)
def test_capacity_limit_stops_at_the_ah(step: tuple[Any, ...]) -> None:
    model = nmc(0.6)
    samples, outcome, _ = run_to_completion(steps(step), model, WINDOW, 10.0)
    assert outcome == ExperimentStatus.FINISHED
    charging = samples[-1].current > 0
    efficiency = model.parameters.coulombic_efficiency if charging else 1.0
    moved_ah = abs(model.soc - 0.6) * 2.5 / efficiency
    assert moved_ah == pytest.approx(0.4, abs=1e-6)


def test_cc_capacity_limit_takes_charge_over_current() -> None:
    samples, _, _ = run_to_completion(steps(("CC", -1.0, "CAPACITY", 0.5)), nmc(0.8), WINDOW, 10.0)
    assert samples[-1].t == pytest.approx(1800.0, abs=1e-3)


@pytest.mark.parametrize("step", [("CP", 10.0, "ENERGY", 1.0), ("CP", -10.0, "ENERGY", 1.0)])
def test_cp_energy_limit_stops_at_the_wh(step: tuple[Any, ...]) -> None:
    samples, _, _ = run_to_completion(steps(step), nmc(0.5), WINDOW, 10.0)
    assert samples[-1].t == pytest.approx(360.0, rel=1e-5)


def test_cc_energy_limit_stops_at_the_wh() -> None:
    samples, _, _ = run_to_completion(steps(("CC", -2.0, "ENERGY", 2.0)), nmc(0.9), WINDOW, 1.0)
    energy_wh = sum(
        -b.current * 0.5 * (a.voltage + b.voltage) * (b.t - a.t)
        for a, b in zip(samples[1:], samples[2:], strict=False)
    )
    # The first interval starts from the rest reading; count it at the loaded voltage.
    energy_wh += -samples[1].power * samples[1].t
    assert energy_wh / 3600 == pytest.approx(2.0, rel=2e-3)


def test_limit_already_met_ends_the_step_at_once() -> None:
    profile = steps(("CC", -1.0, "VOLTAGE", 4.0), ("WAIT", None, "TIME", 10))
    samples, outcome, _ = run_to_completion(profile, nmc(0.5), WINDOW, 1.0)
    assert outcome == ExperimentStatus.FINISHED
    assert [(s.t, s.instruction) for s in samples[:3]] == [(0.0, 1), (0.0, 1), (1.0, 2)]


@pytest.mark.parametrize(
    ("technology", "chemistry", "cells"),
    [
        ("lithium-ion", "LFP", 1),
        ("lithium-ion", "LTO", 1),
        ("lead-acid", "AGM", 6),
        ("redox-flow", None, 10),
        ("sodium-ion", None, 1),
    ],
)
def test_every_technology_reaches_its_cut_off_voltages(
    technology: str, chemistry: str | None, cells: int
) -> None:
    parameters = parameters_for(technology, 20.0, cells, chemistry)
    window = Window(parameters.voltage_min, parameters.voltage_max, -20.0, 20.0)
    profile = steps(
        ("CC", 10.0, "VOLTAGE", parameters.voltage_max),
        ("CC", -10.0, "VOLTAGE", parameters.voltage_min),
    )
    model = BatteryModel(parameters, soc=0.5)
    samples, outcome, alarms = run_to_completion(profile, model, window, 30.0)
    assert outcome == ExperimentStatus.FINISHED and alarms == []
    assert of_step(samples, 1)[-1].voltage == pytest.approx(parameters.voltage_max, abs=1e-3)
    assert samples[-1].voltage == pytest.approx(parameters.voltage_min, abs=1e-3)
    assert model.soc < 0.1


# ---------------------------------------------------------------- safety


def test_leaving_the_window_upwards_raises_over_voltage_and_errors() -> None:
    samples, outcome, alarms = run_to_completion(
        steps(("CC", 2.5, "TIME", 20000), ("WAIT", None, "TIME", 60)), nmc(0.8), WINDOW, 10.0
    )
    assert outcome == ExperimentStatus.ERROR
    assert [a.code for a in alarms] == [AlarmCode.OVER_VOLTAGE]
    margin_v = 0.01 * WINDOW.voltage_max
    assert alarms[0].value == pytest.approx(WINDOW.voltage_max + margin_v, abs=1e-3)
    assert alarms[0].instruction == 1
    assert alarms[0].t == samples[-1].t
    assert samples[-1].instruction == 1


def test_leaving_the_window_downwards_raises_under_voltage() -> None:
    _, outcome, alarms = run_to_completion(
        steps(("CC", -2.5, "CAPACITY", 5.0)), nmc(0.3), WINDOW, 10.0
    )
    assert outcome == ExperimentStatus.ERROR
    assert [a.code for a in alarms] == [AlarmCode.UNDER_VOLTAGE]


def test_a_setpoint_beyond_the_current_window_is_clamped_with_an_alarm() -> None:
    samples, outcome, alarms = run_to_completion(
        steps(("CC", 8.0, "TIME", 60)), nmc(), WINDOW, 10.0
    )
    assert outcome == ExperimentStatus.FINISHED
    assert {s.current for s in samples[1:]} == {5.0}
    assert [a.code for a in alarms] == [AlarmCode.OVER_CURRENT]


def test_a_step_that_never_meets_its_limit_times_out() -> None:
    samples, outcome, alarms = run_to_completion(
        steps(("CC", 0.0, "VOLTAGE", 4.2)), nmc(), WINDOW, 60.0, max_step_duration_s=7200
    )
    assert outcome == ExperimentStatus.ERROR
    assert [a.code for a in alarms] == [AlarmCode.STEP_TIMEOUT]
    assert samples[-1].t == pytest.approx(7200.0)


def test_the_default_timeout_is_a_day() -> None:
    _, outcome, alarms = run_to_completion(steps(("CC", 0.0, "VOLTAGE", 4.2)), nmc(), WINDOW, 600.0)
    assert outcome == ExperimentStatus.ERROR
    assert alarms[0].t == pytest.approx(24 * 3600.0)


def test_window_can_be_given_as_the_mqtt_limits_object() -> None:
    limits = {"voltage_min": 2.5, "voltage_max": 4.25, "current_min": -5, "current_max": 5}
    runner = ProfileRunner(steps(("WAIT", None, "TIME", 10)), nmc(), Window.from_json(limits), 1.0)
    runner.advance(20)
    assert runner.outcome == ExperimentStatus.FINISHED


def test_a_window_the_run_cannot_keep_is_refused() -> None:
    no_zero_current = Window(2.5, 4.25, 0.5, 5.0)
    with pytest.raises(ValueError, match="^current_min, current_max: expected current_min <= 0"):
        ProfileRunner(steps(("WAIT", None, "TIME", 10)), nmc(), no_zero_current, 1.0)


@pytest.mark.parametrize(
    ("step", "message"),
    [
        (("WAIT", None, "VOLTAGE", 3.0), "WAIT step stops on TIME"),
        (("CC", 1.0, "CURRENT", 0.1), "CC step stops on"),
        (("CV", -4.2, "CURRENT", 0.1), "CV needs a positive voltage"),
        (("CC", None, "TIME", 10), "CC needs a numeric setpoint"),
        (("CC", 1.0, "TIME", -5), "limit_value must be 0 or more"),
    ],
)
def test_a_step_the_runner_cannot_execute_is_refused(step: tuple[Any, ...], message: str) -> None:
    with pytest.raises(StepError, match=message):
        ProfileRunner(steps(("WAIT", None, "TIME", 1), step), nmc(), WINDOW, 1.0)


# ---------------------------------------------------------------- the runner's interface


def test_runner_reports_progress_between_calls() -> None:
    profile = steps(("CC", 1.0, "TIME", 100), ("WAIT", None, "TIME", 100))
    runner = ProfileRunner(profile, nmc(), WINDOW, 10.0)
    assert runner.current_step is profile[0] or runner.current_step == profile[0]
    runner.advance(150)
    assert runner.elapsed_s == pytest.approx(150)
    assert runner.current_step == profile[1]
    assert not runner.finished and runner.outcome is None
    runner.advance(1000)
    assert runner.finished and runner.outcome == ExperimentStatus.FINISHED
    assert runner.current_step is None
    assert runner.elapsed_s == pytest.approx(200)
    assert runner.advance(10) == []


def test_alarms_are_popped_once() -> None:
    runner = ProfileRunner(steps(("CC", 9.0, "TIME", 30)), nmc(), WINDOW, 10.0)
    runner.advance(20)
    assert [a.code for a in runner.pop_alarms()] == [AlarmCode.OVER_CURRENT]
    assert runner.pop_alarms() == []
    assert len(runner.alarms) == 1


def test_pause_switches_the_current_off_and_holds_the_step() -> None:
    runner = ProfileRunner(steps(("CC", 1.0, "TIME", 100)), nmc(), WINDOW, 10.0)
    runner.advance(50)
    runner.pause()
    paused = runner.advance(100)
    assert runner.paused and not runner.finished
    assert [s.t for s in paused] == [60.0 + 10 * i for i in range(10)]
    assert all(s.current == 0.0 and s.mode == "WAIT" and s.instruction == 1 for s in paused)
    runner.resume()
    resumed = runner.advance(100)
    assert runner.finished
    # 50 s before the pause plus 50 s after it.
    assert resumed[-1].t == pytest.approx(200.0)
    assert resumed[0].current == 1.0


def test_small_and_large_advances_give_the_same_experiment() -> None:
    profile = cycles(1)
    one_call = ProfileRunner(profile, nmc(0.3), WINDOW, 10.0)
    coarse = one_call.advance(100_000)
    many_calls = ProfileRunner(profile, nmc(0.3), WINDOW, 10.0)
    fine: list[Sample] = []
    while not many_calls.finished:
        fine.extend(many_calls.advance(0.37))
    assert one_call.outcome == many_calls.outcome == ExperimentStatus.FINISHED
    assert [s.seq for s in fine] == list(range(len(fine)))
    assert abs(len(fine) - len(coarse)) <= 2
    assert many_calls.model.soc == pytest.approx(one_call.model.soc, abs=1e-3)
    for number in range(1, len(profile) + 1):
        coarse_end, fine_end = of_step(coarse, number)[-1], of_step(fine, number)[-1]
        assert fine_end.t == pytest.approx(coarse_end.t, rel=1e-3)
        assert fine_end.voltage == pytest.approx(coarse_end.voltage, abs=2e-3)
        assert fine_end.current == pytest.approx(coarse_end.current, abs=1e-3)


def test_max_samples_stops_early_without_an_outcome() -> None:
    samples, outcome, _ = run_to_completion(cycles(3), nmc(0.3), WINDOW, 10.0, max_samples=100)
    assert len(samples) == 100
    assert outcome is None


# ---------------------------------------------------------------- a realistic experiment


def test_three_nmc_cycles_give_plausible_capacities() -> None:
    samples, outcome, alarms = run_to_completion(cycles(3), nmc(0.0), WINDOW, 10.0)
    assert outcome == ExperimentStatus.FINISHED and alarms == []
    moved: dict[tuple[int | None, bool], float] = defaultdict(float)
    for a, b in zip(samples, samples[1:], strict=False):
        moved[(b.cycle, b.current > 0)] += abs(b.current) * (b.t - a.t) / 3600
    for cycle in (1, 2, 3):
        charged, discharged = moved[(cycle, True)], moved[(cycle, False)]
        assert 0.9 * 2.5 < discharged <= 2.5
        assert charged == pytest.approx(discharged, rel=0.03)
    # 3 cycles at 1 sample / 10 s: a few thousand samples, generated without a timing assertion.
    assert 2000 < len(samples) < 4000
