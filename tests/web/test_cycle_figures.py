"""The shared cycle figures, built without a browser: what the report and the compare
page get from them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from components.cycle_figures import (
    capacity_figure,
    dq_dv_figure,
    efficiency_figure,
    retention_sentence,
    voltage_capacity_figure,
)
from domain.curves import CycleCurves, DqDv, HalfCycle
from domain.cycles import retention


@dataclass(frozen=True)
class Row:
    cycle: int
    charge_ah: float
    discharge_ah: float
    coulombic_efficiency: float | None = None
    energy_efficiency: float | None = None
    mean_charge_voltage: float | None = None
    mean_discharge_voltage: float | None = None


def test_capacity_with_retention_and_cycles_to_80() -> None:
    rows = [Row(1, 2.0, 0.0), Row(2, 2.0, 1.8), Row(3, 2.0, 1.5), Row(4, 2.0, 1.4)]
    kept = retention(rows)
    figure = capacity_figure(rows, kept)
    charge, discharge, percent = figure["data"]
    assert charge["x"] == [1, 2, 3, 4] and discharge["y"] == [0.0, 1.8, 1.5, 1.4]
    # Cycle 1 only charged: cycle 2 is the first full cycle and the reference.
    assert percent["y"] == [None, 100.0, pytest.approx(83.333333), pytest.approx(77.777778)]
    assert figure["layout"]["title"]["text"] == (
        "Cycles to 80 % retention: cycle 4. Retention is relative to cycle 2 (1.8 Ah)."
    )


def test_retention_not_reached_and_without_a_reference() -> None:
    rows = [Row(1, 1.0, 1.0), Row(2, 1.0, 0.9)]
    assert retention_sentence(retention(rows, 2.0, of_nominal=True)) == (
        "Cycles to 80 % retention: cycle 1. Retention is relative to nominal capacity (2 Ah)."
    )
    assert "not reached" in retention_sentence(retention(rows))
    assert retention_sentence(retention(rows, None, of_nominal=True)) == (
        "Retention: no reference capacity."
    )
    assert len(capacity_figure(rows, None)["data"]) == 2


def test_efficiencies_are_drawn_in_percent_with_gaps_where_undefined() -> None:
    rows = [Row(1, 1.0, 0.0, None, None), Row(2, 1.0, 0.99, 0.99, 0.95)]
    coulombic, energy = efficiency_figure(rows)["data"]
    assert coulombic["y"] == [None, 99.0] and energy["y"] == [None, 95.0]


def test_curves_of_chosen_cycles_leave_out_empty_halves() -> None:
    q = np.linspace(0.0, 1.0, 11)
    curves = {
        3: CycleCurves(HalfCycle(1, 3.5 + 0.5 * q, q), HalfCycle(-1)),
        1: CycleCurves(HalfCycle(1, 3.5 + 0.5 * q, q), HalfCycle(-1, 4.0 - 0.5 * q, q)),
    }
    names = [trace["name"] for trace in voltage_capacity_figure(curves)["data"]]
    assert names == ["cycle 1 charge", "cycle 1 discharge", "cycle 3 charge"]
    derivative = dq_dv_figure({2: (DqDv(np.array([3.5, 3.505]), np.array([2.0, 2.0])), DqDv())})
    assert [trace["y"] for trace in derivative["data"]] == [[2.0, 2.0]]
    assert dq_dv_figure({2: (DqDv(), DqDv())})["data"] == []
