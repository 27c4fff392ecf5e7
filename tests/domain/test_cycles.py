"""Cycle statistics with known answers, detection, and incremental integration."""

from __future__ import annotations

import numpy as np
import pytest

from domain.cycles import CycleIntegrator, cycle_totals, detection_threshold, retention


def constant(current: float, seconds: int, voltage: float = 3.7, start: float = 0.0):
    ts = start + np.arange(seconds + 1, dtype=float)
    return ts, np.full(len(ts), voltage), np.full(len(ts), current)


def test_two_amperes_for_an_hour_is_two_ampere_hours() -> None:
    ts, v, i = constant(2.0, 3600)
    (cycle,) = cycle_totals(range(len(ts)), ts, v, i)
    assert cycle.charge_ah == pytest.approx(2.0, rel=1e-12)
    assert cycle.charge_wh == pytest.approx(7.4, rel=1e-12)
    assert cycle.discharge_ah == 0 and cycle.coulombic_efficiency == 0
    assert cycle.duration_s == 3600 and cycle.mean_charge_voltage == pytest.approx(3.7)


def test_two_ampere_hours_in_then_one_point_nine_out_is_95_percent() -> None:
    # 2.0 Ah of charge at 4.0 V, then 1.9 Ah of discharge at 3.5 V, as cycle 1.
    t1, v1, i1 = constant(2.0, 3600, voltage=4.0)
    t2, v2, i2 = constant(-1.9, 3600, voltage=3.5, start=3601.0)
    ts, v, i = np.r_[t1, t2], np.r_[v1, v2], np.r_[i1, i2]
    cycles = cycle_totals(range(len(ts)), ts, v, i, [1] * len(ts))
    (cycle,) = cycles
    # The one-second step between the phases goes from +2.0 to -1.9 A: a little of each.
    step_charge, step_discharge = 0.5 * 2.0 / 3600, 0.5 * 1.9 / 3600
    assert cycle.charge_ah == pytest.approx(2.0 + step_charge)
    assert cycle.discharge_ah == pytest.approx(1.9 + step_discharge)
    assert cycle.coulombic_efficiency == pytest.approx((1.9 + step_discharge) / (2.0 + step_charge))
    assert cycle.mean_discharge_voltage == pytest.approx(3.5, abs=0.01)
    assert cycle.energy_efficiency == pytest.approx(cycle.discharge_wh / cycle.charge_wh)


def test_an_exact_95_percent_cycle_without_a_step_between() -> None:
    ts = np.array([0.0, 3600.0, 3600.0, 7200.0])  # the current changes at one instant
    cycles = cycle_totals(
        [0, 1, 2, 3], ts, [4.0, 4.0, 3.5, 3.5], [2.0, 2.0, -1.9, -1.9], [1] * 4, max_gap_s=3600
    )
    assert cycles[0].charge_ah == pytest.approx(2.0)
    assert cycles[0].discharge_ah == pytest.approx(1.9)
    assert cycles[0].coulombic_efficiency == pytest.approx(0.95)


def test_a_given_cycle_column_is_used_as_it_is() -> None:
    ts = np.arange(6, dtype=float)
    cycles = cycle_totals(range(6), ts, [3.7] * 6, [1, 1, -1, 1, 1, -1], [4, 4, 4, 9, 9, 9])
    assert [c.cycle for c in cycles] == [4, 9]
    assert [c.samples for c in cycles] == [3, 3]


def test_without_a_cycle_column_a_charge_after_a_discharge_starts_a_cycle() -> None:
    # discharge, rest, charge, rest, discharge, charge, charge
    current = [-1, -1, 0, 0, 1, 1, 0, -1, -1, 1, 1]
    cycles = cycle_totals(range(11), np.arange(11.0), [3.7] * 11, current)
    assert [(c.cycle, c.first_seq, c.last_seq) for c in cycles] == [
        (1, 0, 3),
        (2, 4, 8),
        (3, 9, 10),
    ]


def test_noise_around_zero_does_not_start_cycles() -> None:
    current = [1, 1, -1, -1, 0.0004, -0.0004, 0.0004, -1, -1]
    cycles = cycle_totals(range(9), np.arange(9.0), [3.7] * 9, current, threshold_a=0.001)
    assert len(cycles) == 1


def test_a_hole_in_the_data_is_not_integrated() -> None:
    ts = np.array([0.0, 1.0, 2.0, 10_000.0, 10_001.0])
    (cycle,) = cycle_totals(range(5), ts, [3.7] * 5, [3600.0] * 5)
    assert cycle.charge_ah == pytest.approx(3.0)  # three one-second intervals at 3600 A


def test_feeding_samples_in_pieces_gives_the_same_totals_as_all_at_once() -> None:
    rng = np.random.default_rng(1)
    n = 5_000
    ts = np.cumsum(rng.uniform(0.5, 1.5, n))
    current = np.where((np.arange(n) // 400) % 2 == 0, 2.0, -1.8) + rng.normal(0, 0.01, n)
    voltage = 3.6 + rng.normal(0, 0.01, n)
    whole = cycle_totals(range(n), ts, voltage, current)

    integrator = CycleIntegrator()
    totals: dict = {}
    edges = sorted(rng.choice(np.arange(1, n), 40, replace=False))
    for a, b in zip([0, *edges], [*edges, n], strict=True):
        integrator.add(range(a, b), ts[a:b], voltage[a:b], current[a:b], totals=totals)
    pieces = sorted(totals.values(), key=lambda c: c.cycle)
    assert len(whole) == len(pieces) > 5
    for one, other in zip(whole, pieces, strict=True):
        assert one.charge_ah == pytest.approx(other.charge_ah, rel=1e-12)
        assert one.discharge_wh == pytest.approx(other.discharge_wh, rel=1e-12)
        assert (one.first_seq, one.last_seq) == (other.first_seq, other.last_seq)


def test_retention_is_relative_to_the_first_full_cycle_and_names_cycles_to_80() -> None:
    capacities = [(0.0, 2.0), (2.0, 2.0), (2.0, 1.8), (2.0, 1.62), (2.0, 1.58)]
    cycles = []
    t = 0.0
    for number, (charge, discharge) in enumerate(capacities, start=1):
        ts = np.array([t, t + 3600, t + 3600, t + 7200])
        current = [charge, charge, -discharge, -discharge]
        cycles += cycle_totals([0, 1, 2, 3], ts, [3.7] * 4, current, [number] * 4, max_gap_s=3600)
        t += 10_000
    result = retention(cycles)
    assert result is not None and "cycle 2" in result.reference
    assert result.percent[1:] == pytest.approx([100.0, 90.0, 81.0, 79.0])
    assert result.cycles_to_80 == 5
    nominal = retention(cycles, 2.5, of_nominal=True)
    assert nominal is not None and nominal.percent[1] == pytest.approx(80.0)


def test_the_detection_threshold_follows_the_capacity() -> None:
    assert detection_threshold(2.5) == pytest.approx(0.0025)
    assert detection_threshold(None) == 0.001
