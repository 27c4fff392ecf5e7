"""Unit conversion: every unit the files may declare becomes SI, exactly where it can."""

from __future__ import annotations

import numpy as np
import pytest

from domain.units import UNITS, UnknownUnitError, lookup_unit, to_si, units_of


@pytest.mark.parametrize(
    ("value", "unit", "expected", "si_unit"),
    [
        (3710.0, "mV", 3.71, "V"),
        (250.0, "µV", 0.00025, "V"),
        (1.2, "kV", 1200.0, "V"),
        (1500.0, "mA", 1.5, "A"),
        (20.0, "µA", 2e-5, "A"),
        (0.2, "kA", 200.0, "A"),
        (5550.0, "mW", 5.55, "W"),
        (3.5, "kW", 3500.0, "W"),
        (250.0, "ms", 0.25, "s"),
        (2.5, "min", 150.0, "s"),
        (1.5, "h", 5400.0, "s"),
        (2500.0, "mAh", 2.5, "Ah"),
        (7200.0, "As", 2.0, "Ah"),
        (9250.0, "mWh", 9.25, "Wh"),
        (1.25, "kWh", 1250.0, "Wh"),
        (7200.0, "J", 2.0, "Wh"),
        (298.15, "K", 25.0, "°C"),
        (25.5, "°C", 25.5, "°C"),
        (3.0, "1", 3.0, "1"),
    ],
)
def test_to_si_scales_each_unit(value: float, unit: str, expected: float, si_unit: str) -> None:
    scaled, unit_after = to_si(value, unit)
    assert scaled == pytest.approx(expected, rel=1e-12)
    assert unit_after == si_unit


def test_sub_units_divide_so_decimal_values_stay_exact() -> None:
    # 3710 * 0.001 is 3.7100000000000004; 3710 / 1000 is the double nearest 3.71.
    assert to_si(3710.0, "mV")[0] == 3.71
    assert to_si(1234.0, "mA")[0] == 1.234


def test_si_units_return_the_values_untouched() -> None:
    values = np.array([3.7, 3.8])
    scaled, unit = to_si(values, "V")
    assert scaled is values
    assert unit == "V"


def test_to_si_converts_arrays_element_wise() -> None:
    scaled, unit = to_si(np.array([1000.0, 2500.0, -500.0]), "mA")
    assert unit == "A"
    np.testing.assert_array_equal(scaled, [1.0, 2.5, -0.5])


def test_empty_unit_means_no_unit() -> None:
    assert to_si(42.0, "") == (42.0, "")


def test_unknown_unit_raises() -> None:
    with pytest.raises(UnknownUnitError, match="furlong"):
        to_si(1.0, "furlong")


@pytest.mark.parametrize(
    ("written", "symbol"),
    [("uV", "µV"), ("\u03bcA", "µA"), ("degC", "°C"), ("\u2103", "°C"), (" mV ", "mV")],
)
def test_other_spellings_find_the_unit(written: str, symbol: str) -> None:
    found = lookup_unit(written)
    assert found is not None and found.symbol == symbol


@pytest.mark.parametrize(("written", "symbol"), [("MV", "mV"), ("mah", "mAh"), ("KW", "kW")])
def test_case_is_ignored_when_only_one_unit_matches(written: str, symbol: str) -> None:
    found = lookup_unit(written)
    assert found is not None and found.symbol == symbol


def test_units_of_lists_the_si_unit_first() -> None:
    assert units_of("V") == ["V", "mV", "µV", "kV"]


def test_every_unit_converts_to_an_si_unit_in_the_table() -> None:
    for unit in UNITS.values():
        assert UNITS[unit.si_unit].is_si, unit
