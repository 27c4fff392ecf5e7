"""V–Q and dQ/dV of one cycle, with known answers, and degenerate input left empty."""

from __future__ import annotations

import numpy as np
import pytest

from domain.curves import HalfCycle, dq_dv, smooth, voltage_capacity


def test_two_amperes_for_an_hour_is_two_ampere_hours() -> None:
    ts = np.arange(3601, dtype=float)
    curves = voltage_capacity(ts, np.full(3601, 3.7), np.full(3601, 2.0))
    assert curves.charge.capacity_ah[-1] == pytest.approx(2.0, rel=1e-12)
    assert curves.charge.capacity_ah[0] == 0.0 and len(curves.discharge) == 0


def test_charge_and_discharge_are_split_by_the_current_and_rests_dropped() -> None:
    # 100 s at +1 A, 50 s of rest, 100 s at -0.5 A: one sample a second.
    current = np.r_[np.full(100, 1.0), np.zeros(50), np.full(100, -0.5)]
    ts = np.arange(len(current), dtype=float)
    voltage = np.r_[np.linspace(3.5, 4.0, 100), np.full(50, 3.95), np.linspace(3.9, 3.6, 100)]
    curves = voltage_capacity(ts, voltage, current, threshold_a=0.01)
    assert len(curves.charge) == 100 and len(curves.discharge) == 100
    # 99 whole seconds at 1 A, plus half of the step down to the rest.
    assert curves.charge.capacity_ah[-1] == pytest.approx(99 / 3600)
    # The discharge counts from its own start: half of the step up from the rest first.
    assert curves.discharge.capacity_ah[0] == pytest.approx(0.25 / 3600)
    assert curves.discharge.capacity_ah[-1] == pytest.approx((0.25 + 99 * 0.5) / 3600)
    assert curves.discharge.voltage[0] == 3.9


def test_a_linear_voltage_gives_a_constant_dq_dv_of_one_over_the_slope() -> None:
    capacity = np.linspace(0.0, 2.0, 2001)
    charge = HalfCycle(1, 3.0 + 0.5 * capacity, capacity)  # 0.5 V/Ah
    result = dq_dv(charge)
    assert len(result) == 201  # 3.000 to 4.000 V every 5 mV
    assert result.voltage[0] == pytest.approx(3.0) and result.voltage[-1] == pytest.approx(4.0)
    np.testing.assert_allclose(result.dq_dv, 2.0, rtol=1e-9)
    # On discharge the voltage falls as capacity grows: the slope and dQ/dV are negative.
    discharge = dq_dv(HalfCycle(-1, 4.0 - 0.25 * capacity, capacity))
    np.testing.assert_allclose(discharge.dq_dv, -4.0, rtol=1e-9)
    assert np.all(np.diff(discharge.voltage) > 0)


def test_a_plateau_gives_a_peak_at_its_voltage() -> None:
    # 3.0 → 3.6 V over 0.5 Ah, a plateau at 3.6 V for 1 Ah, then 3.6 → 4.0 V over 0.5 Ah,
    # with a little measurement noise.
    capacity = np.linspace(0.0, 2.0, 4001)
    voltage = np.interp(capacity, [0.0, 0.5, 1.5, 2.0], [3.0, 3.6, 3.6, 4.0])
    noisy = voltage + np.random.default_rng(1).normal(0.0, 0.0005, len(capacity))
    result = dq_dv(HalfCycle(1, noisy, capacity))
    peak = int(np.argmax(result.dq_dv))
    assert result.voltage[peak] == pytest.approx(3.6, abs=0.01)
    assert result.dq_dv[peak] > 10 * np.median(result.dq_dv)
    # Away from the plateau, dQ/dV is the inverse of the slope (0.5 Ah over 0.6 V).
    away = (result.voltage > 3.1) & (result.voltage < 3.5)
    np.testing.assert_allclose(result.dq_dv[away], 0.5 / 0.6, rtol=0.05)
    # The area under dQ/dV is the capacity passed.
    area = np.sum(result.dq_dv) * 0.005
    assert area == pytest.approx(2.0, rel=0.02)


@pytest.mark.parametrize(
    "half",
    [
        HalfCycle(1),  # no samples
        HalfCycle(1, np.array([3.7]), np.array([0.0])),  # one sample
        HalfCycle(1, np.full(100, 3.7), np.linspace(0, 1, 100)),  # flat voltage
        HalfCycle(1, np.linspace(3.7, 3.701, 100), np.linspace(0, 1, 100)),  # under a step
        HalfCycle(1, np.linspace(3.0, 4.0, 100), np.zeros(100)),  # no capacity
    ],
)
def test_degenerate_half_cycles_give_an_empty_dq_dv(half: HalfCycle) -> None:
    result = dq_dv(half)
    assert len(result) == 0 and len(result.dq_dv) == 0


def test_a_short_cycle_is_smoothed_with_a_smaller_window_and_never_gives_nan() -> None:
    capacity = np.linspace(0.0, 0.01, 20)
    result = dq_dv(HalfCycle(1, np.linspace(3.70, 3.72, 20), capacity))
    assert len(result) == 5 and np.all(np.isfinite(result.dq_dv))
    np.testing.assert_allclose(result.dq_dv, 0.5, rtol=1e-9)


def test_bad_samples_are_dropped_and_mismatched_arrays_give_nothing() -> None:
    curves = voltage_capacity([0.0, 1.0, 2.0], [3.7, float("nan"), 3.8], [1.0, 1.0, 1.0])
    assert curves.charge.voltage.tolist() == [3.7, 3.8]
    assert len(voltage_capacity([0.0, 1.0], [3.7], [1.0, 1.0]).charge) == 0


def test_smoothing_keeps_straight_lines_and_short_series() -> None:
    line = np.linspace(0.0, 1.0, 50)
    np.testing.assert_allclose(smooth(line), line, atol=1e-12)
    assert smooth(np.array([1.0, 5.0])).tolist() == [1.0, 5.0]
