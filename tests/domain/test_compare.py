"""Comparison statistics with known answers, the view in the address, CSV rows."""

from __future__ import annotations

import math

import pytest

from domain.compare import (
    CompareView,
    ExperimentFacts,
    capacity_at_cycle,
    csv_rows,
    cycles_to_retention,
    formula_safe,
    from_query,
    group_band,
    group_bands,
    mean_and_std,
    mean_coulombic_efficiency,
    merit,
    numeric_values,
    throughput,
    to_query,
)
from domain.cycles import CycleTotals


def cycles(discharges: list[float], charge: float = 2.0) -> list[CycleTotals]:
    return [
        CycleTotals(n, 0, 0, 0.0, 1.0, 3.0, 3.0, charge_ah=charge, discharge_ah=d)
        for n, d in enumerate(discharges, start=1)
    ]


def test_mean_and_sample_std_of_one_two_three_are_two_and_one() -> None:
    assert mean_and_std([1.0, 2.0, 3.0]) == (2.0, 1.0)
    with pytest.raises(ValueError):
        mean_and_std([1.0])


def test_a_band_keeps_only_cycles_two_members_reached() -> None:
    band = group_band(
        [
            {1: 1.0, 2: 2.0, 3: 5.0},
            {1: 2.0, 2: None},  # cycle 2 missing a value, cycle 3 not reached
            {1: 3.0, 2: 4.0},
        ]
    )
    assert band.cycles == [1, 2]  # cycle 3: one member only
    assert band.mean == [2.0, 3.0]
    assert band.std[0] == 1.0 and band.std[1] == pytest.approx(math.sqrt(2))
    assert band.count == [3, 2]


def test_bands_by_group_leave_out_a_group_of_one() -> None:
    members = {1: {1: 1.0}, 2: {1: 3.0}, 3: {1: 10.0}}
    bands = group_bands(members, {1: "A", 2: "A", 3: "B"})
    assert list(bands) == ["A"]
    assert bands["A"].mean == [2.0] and bands["A"].std == [pytest.approx(math.sqrt(2))]


def test_throughput_adds_charge_and_discharge() -> None:
    assert throughput(cycles([1.5, 1.0])) == [3.5, 6.5]


def test_figures_of_merit() -> None:
    fading = cycles([2.0, 1.8, 1.59, 1.5])
    assert capacity_at_cycle(fading, 2, 2.0, normalise=False) == 1.8
    assert capacity_at_cycle(fading, 2, 2.0, normalise=True) == pytest.approx(0.9)
    assert capacity_at_cycle(fading, 9, 2.0, normalise=False) is None
    assert cycles_to_retention(fading) == 3  # 1.59 / 2.0 = 79.5 %
    assert cycles_to_retention(cycles([2.0, 1.9])) is None
    assert mean_coulombic_efficiency(cycles([2.0, 1.0, 0.0])) == pytest.approx(0.75)
    assert merit(fading, 2.0, CompareView(merit="cycles80")) == 3.0


def test_numeric_values_only_when_all_are_numbers() -> None:
    assert numeric_values(["1.5", 2.0]) == [1.5, 2.0]
    assert numeric_values(["1.5", "NMC"]) is None
    assert numeric_values([1.0, None]) is None


def test_the_view_round_trips_through_the_query_and_names_bad_ids() -> None:
    view = CompareView(
        ids=(3, 1, 7), plot="throughput", quantity="retention", color_by="details:cathode",
        style_by="technology", normalise=True, bands=True, merit="ce", cycle_n=50,
        merit_x="details:temperature",
    )  # fmt: skip
    assert from_query(to_query(view)) == view
    odd = from_query("?ids=1,x,2,1,-4&plot=nonsense&color=secret&n=0")
    assert odd.ids == (1, 2) and odd.bad_ids == ("x", "-4")
    assert (odd.plot, odd.color_by, odd.cycle_n) == ("cycle", "battery", 1)


def test_formula_safe_quotes_what_a_spreadsheet_would_run() -> None:
    for text in ("=1+1", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tx", "\r=1"):
        assert formula_safe(text) == "'" + text
    # Numbers (signed too) and plain text are left as they are.
    for text in ("NMC 811", "-1", "+1.5", "-2.5e-3", "3"):
        assert formula_safe(text) == text


def test_csv_rows_per_cycle_with_safe_text() -> None:
    facts = ExperimentFacts(5, "=HYPERLINK()", 2.0, {"battery": "cell A"})
    rows = csv_rows(facts, cycles([2.0, 1.0]), "battery")
    assert rows[1] == [
        "5", "'=HYPERLINK()", "Battery", "cell A", "2", "7.0", "2.0", "1.0", "0.5", "50.0", "0.5",
    ]  # fmt: skip
