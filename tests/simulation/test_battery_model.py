"""The equivalent-circuit battery: OCV curves, charge counting, RC and thermal dynamics, and
the current solvers the cycler uses for CV and CP steps."""

from __future__ import annotations

import dataclasses

import pytest

from simulation.battery_model import AMBIENT_C, BatteryModel, BatteryParameters, parameters_for

KINDS = [
    ("lithium-ion", "NMC"),
    ("lithium-ion", "NCA"),
    ("lithium-ion", "LCO"),
    ("lithium-ion", "LMO"),
    ("lithium-ion", "LFP"),
    ("lithium-ion", "LTO"),
    ("lead-acid", "AGM"),
    ("redox-flow", None),
    ("sodium-ion", None),
    ("other", None),
]


def nmc(capacity_ah: float = 2.5, soc: float = 0.5) -> BatteryModel:
    return BatteryModel(parameters_for("lithium-ion", capacity_ah, 1, "NMC"), soc=soc)


# ---------------------------------------------------------------- OCV curves


@pytest.mark.parametrize(("technology", "chemistry"), KINDS)
def test_ocv_rises_strictly_with_soc(technology: str, chemistry: str | None) -> None:
    model = BatteryModel(parameters_for(technology, 10.0, 1, chemistry))
    voltages = [model.ocv(i / 400) for i in range(401)]
    assert all(b > a for a, b in zip(voltages, voltages[1:], strict=False))


@pytest.mark.parametrize(("technology", "chemistry"), KINDS)
def test_ocv_spans_the_cut_off_voltages(technology: str, chemistry: str | None) -> None:
    parameters = parameters_for(technology, 10.0, 1, chemistry)
    model = BatteryModel(parameters)
    assert model.ocv(0.0) == pytest.approx(parameters.voltage_min, abs=0.1)
    assert model.ocv(1.0) == pytest.approx(parameters.voltage_max, abs=0.1)


def test_lfp_has_a_flat_plateau_and_nmc_a_sloped_curve() -> None:
    lfp = BatteryModel(parameters_for("lithium-ion", 2.5, 1, "LFP"))
    nmc_cell = nmc()
    plateau = [lfp.ocv(i / 100) for i in range(10, 96)]
    assert min(plateau) >= 3.2 and max(plateau) <= 3.35
    assert nmc_cell.ocv(0.0) == pytest.approx(3.0, abs=0.01)
    assert nmc_cell.ocv(1.0) == pytest.approx(4.2, abs=0.01)
    assert nmc_cell.ocv(0.9) - nmc_cell.ocv(0.1) > 0.4


def test_lead_acid_cell_voltage_lies_between_1_95_and_2_15_volts() -> None:
    model = BatteryModel(parameters_for("lead-acid", 100.0, 1, "flooded"))
    for i in range(5, 96):
        assert 1.95 <= model.ocv(i / 100) <= 2.15


def test_vanadium_flow_cell_follows_a_nernst_curve() -> None:
    model = BatteryModel(parameters_for("redox-flow", 5.0))
    mid = model.ocv(0.5)
    assert 1.3 < mid < 1.45
    # Nernst: symmetric about 50 % and steepest at the ends.
    assert model.ocv(0.8) - mid == pytest.approx(mid - model.ocv(0.2), abs=0.005)
    assert model.ocv(0.95) - model.ocv(0.9) > model.ocv(0.55) - model.ocv(0.5)
    assert model.ocv(0.02) >= 1.1 and model.ocv(0.98) <= 1.65


def test_ocv_scales_with_cells_in_series() -> None:
    single = BatteryModel(parameters_for("lead-acid", 60.0, 1))
    six = BatteryModel(parameters_for("lead-acid", 60.0, 6))
    for soc in (0.0, 0.3, 0.7, 1.0):
        assert six.ocv(soc) == pytest.approx(6 * single.ocv(soc))
    assert six.parameters.voltage_max == pytest.approx(6 * 2.4)


def test_unknown_technology_is_refused() -> None:
    with pytest.raises(ValueError, match="technology"):
        parameters_for("nickel-iron", 10.0)


def test_parameters_refuse_a_falling_ocv_curve() -> None:
    parameters = parameters_for("lithium-ion", 2.5)
    with pytest.raises(ValueError, match="strictly increasing"):
        dataclasses.replace(parameters, ocv_cell_v=tuple(reversed(parameters.ocv_cell_v)))


def test_resistance_shrinks_with_capacity_and_grows_with_cells() -> None:
    small = parameters_for("lithium-ion", 2.5)
    large = parameters_for("lithium-ion", 25.0, 4)
    assert large.r0_ohm == pytest.approx(small.r0_ohm * 4 / 10)
    assert small.c1_f == pytest.approx(small.tau1_s / small.r1_ohm)


# ---------------------------------------------------------------- charge counting


def test_cc_charge_raises_soc_by_charge_over_capacity() -> None:
    model = nmc(capacity_ah=2.5, soc=0.2)
    for _ in range(360):
        model.step(1.25, 10.0)
    expected = model.parameters.coulombic_efficiency * 1.25 * 3600 / 3600 / 2.5
    assert model.soc == pytest.approx(0.2 + expected, abs=1e-12)


def test_discharge_removes_the_full_charge() -> None:
    model = nmc(capacity_ah=2.5, soc=0.8)
    model.step(-2.5, 1800.0)
    assert model.soc == pytest.approx(0.3, abs=1e-12)


def test_a_new_battery_does_not_fade_unless_told_to() -> None:
    model = nmc(capacity_ah=2.5, soc=0.5)
    for _ in range(100):
        model.step(2.5, 360.0)
        model.step(-2.5, 360.0)
    assert model.capacity_ah == 2.5


def test_capacity_fades_with_the_charge_moved_through_the_battery() -> None:
    parameters = dataclasses.replace(
        parameters_for("lithium-ion", 2.0, 1, "NMC"), fade_per_cycle=0.001
    )
    model = BatteryModel(parameters, soc=0.5)
    # 2 A for half an hour each way moves 2 Ah: half an equivalent cycle; 50 in all.
    for _ in range(100):
        model.step(2.0, 1800.0)
        model.step(-2.0, 1800.0)
    assert model.capacity_ah == pytest.approx(2.0 * (1 - 0.001 * 100 / 2), rel=1e-9)
    for _ in range(10_000):  # far past the end of life: the fade stops at 30 % left
        model.step(2.0, 3600.0)
    assert model.capacity_ah == pytest.approx(0.6)


def test_a_fade_outside_its_range_is_refused() -> None:
    with pytest.raises(ValueError, match="fade_per_cycle"):
        dataclasses.replace(parameters_for("lithium-ion", 2.0, 1, "NMC"), fade_per_cycle=-0.01)


def test_soc_stays_clipped_while_the_voltage_runs_away() -> None:
    model = nmc(soc=0.95)
    model.step(2.5, 3600.0)
    assert model.soc == 1.0
    assert model.voltage > model.parameters.voltage_max + 0.3
    model.step(-2.5, 7200.0)
    assert model.soc == 0.0
    assert model.voltage < model.parameters.voltage_min - 0.3


# ---------------------------------------------------------------- dynamics


def test_current_step_shows_the_ohmic_jump_at_once() -> None:
    model = nmc()
    ocv = model.voltage
    model.step(2.0, 0.0)
    assert model.voltage - ocv == pytest.approx(2.0 * model.parameters.r0_ohm)


def test_voltage_relaxes_to_ocv_at_rest() -> None:
    model = nmc(soc=0.3)
    model.step(2.5, 600.0)
    loaded = model.voltage
    model.step(0.0, 5 * 3600.0)
    assert model.voltage < loaded
    assert model.voltage == pytest.approx(model.open_circuit_voltage, abs=1e-6)


def test_body_heats_under_current_and_cools_back_to_ambient() -> None:
    model = nmc()
    assert model.temperature == AMBIENT_C
    for _ in range(180):
        model.step(-2.5, 10.0)
    assert model.temperature > AMBIENT_C + 1.0
    model.step(0.0, 10 * 3600.0)
    assert model.temperature == pytest.approx(AMBIENT_C, abs=0.01)


def test_voltage_after_predicts_step_without_changing_state() -> None:
    model = nmc()
    predicted = model.voltage_after(1.5, 120.0)
    assert model.current == 0.0 and model.soc == 0.5
    model.step(1.5, 120.0)
    assert model.voltage == pytest.approx(predicted, abs=1e-12)


# ---------------------------------------------------------------- solvers


@pytest.mark.parametrize("dt_s", [0.0, 1.0, 10.0, 300.0])
@pytest.mark.parametrize("target_v", [3.5, 3.9, 4.2])
def test_current_for_voltage_ends_the_step_at_that_voltage(dt_s: float, target_v: float) -> None:
    model = nmc(soc=0.7)
    current = model.current_for_voltage(target_v, dt_s)
    assert model.voltage_after(current, dt_s) == pytest.approx(target_v, abs=1e-8)


def test_current_for_voltage_holds_near_full_charge() -> None:
    model = nmc(soc=0.995)
    current = model.current_for_voltage(4.2, 30.0)
    assert 0 < current < 2.5
    assert model.voltage_after(current, 30.0) == pytest.approx(4.2, abs=1e-8)


def test_current_for_voltage_is_clamped_to_the_given_bounds() -> None:
    model = nmc(soc=0.1)
    assert model.current_for_voltage(4.2, 10.0, -5.0, 2.0) == 2.0
    assert model.current_for_voltage(3.0, 10.0, -1.0, 5.0) == -1.0


@pytest.mark.parametrize("dt_s", [0.0, 1.0, 10.0, 300.0])
@pytest.mark.parametrize("power_w", [-20.0, -5.0, 0.5, 8.0])
def test_current_for_power_gives_that_power(dt_s: float, power_w: float) -> None:
    model = nmc(soc=0.5)
    current = model.current_for_power(power_w, dt_s)
    assert current * model.voltage_after(current, dt_s) == pytest.approx(power_w, rel=1e-9)


def test_current_for_power_beyond_the_battery_gives_maximum_power() -> None:
    model = nmc(soc=0.5)
    current = model.current_for_power(-1000.0, 1.0)

    def power(i: float) -> float:
        return -i * model.voltage_after(i, 1.0)

    assert power(current) >= power(current * 0.98)
    assert power(current) >= power(current * 1.02)


def test_zero_power_means_zero_current() -> None:
    assert nmc().current_for_power(0.0, 10.0) == 0.0


def test_parameters_are_plain_dataclass_values() -> None:
    parameters = parameters_for("sodium-ion", 3.0, 2, None)
    assert isinstance(parameters, BatteryParameters)
    assert parameters.cells_in_series == 2
    assert 0.99 <= parameters.coulombic_efficiency < 1
