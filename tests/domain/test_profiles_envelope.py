"""What a profile demands, its envelope on a battery, and the compatibility verdict."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.profiles import (
    BatteryRating,
    Demand,
    Envelope,
    ProfileError,
    Window,
    check_compatibility,
    demand_fits,
    fit_bounds,
    parse_profile,
    profile_demand,
    resolve_envelope,
)

CELL = BatteryRating(Window(2.5, 4.2, -6.0, 3.0), capacity_ah=3.0)
STATION = Window(0.0, 5.0, -5.0, 5.0)


def demand_of(text: str) -> Demand:
    return profile_demand(parse_profile(text))


# ---------------------------------------------------------------- demand


def test_cc_set_points_and_voltage_limits_make_the_demand():
    assert demand_of("CC, 1.5, VOLTAGE, 4.2\nCC, -2, VOLTAGE, 2.7") == Demand(
        voltage_min=2.7, voltage_max=4.2, current_min=-2.0, current_max=1.5
    )


def test_cv_set_points_are_voltages_and_current_limits_count_both_ways():
    assert demand_of("CV, 4.1, CURRENT, 0.2") == Demand(
        voltage_min=4.1, voltage_max=4.1, current_min=-0.2, current_max=0.2
    )


def test_c_rates_are_kept_in_c_apart_from_absolute_currents():
    assert demand_of("CC, 0.5C, TIME, 10\nCC, -2C, TIME, 10\nCV, 4.2, CURRENT, 0.05C") == Demand(
        voltage_min=4.2, voltage_max=4.2, c_rate_min=-2.0, c_rate_max=0.5
    )


def test_cp_set_points_are_kept_as_power():
    assert demand_of("CP, -10, VOLTAGE, 3\nCP, 4, ENERGY, 1") == Demand(
        voltage_min=3.0, voltage_max=3.0, power_min=-10.0, power_max=4.0
    )


def test_time_capacity_energy_limits_and_waits_demand_nothing():
    assert demand_of("WAIT, 5\nCC, 1, CAPACITY, 1\nCV, 4, TIME, 5") == Demand(
        voltage_min=4.0, voltage_max=4.0, current_min=1.0, current_max=1.0
    )
    assert demand_of("WAIT, 5") == Demand()


def test_steps_inside_repeat_blocks_count_once():
    assert demand_of("REPEAT 100\nREPEAT 2\nCC, 7, TIME, 1\nEND\nEND") == demand_of(
        "CC, 7, TIME, 1"
    )


def test_the_demand_maps_onto_the_profile_columns():
    columns = demand_of("CC, 1, VOLTAGE, 4").as_columns()
    assert columns == {
        "voltage_min": 4.0,
        "voltage_max": 4.0,
        "current_min": 1.0,
        "current_max": 1.0,
        "c_rate_min": None,
        "c_rate_max": None,
        "power_min": None,
        "power_max": None,
    }


# ---------------------------------------------------------------- envelope on a battery


def test_c_rates_resolve_through_the_nominal_capacity():
    profile = parse_profile("CC, 0.5C, VOLTAGE, 4.2\nCC, -2C, VOLTAGE, 2.5\nCC, 1, TIME, 1")
    assert resolve_envelope(profile, CELL) == Envelope(2.5, 4.2, -6.0, 1.5)


def test_a_cv_c_rate_current_limit_resolves_both_ways():
    profile = parse_profile("CV, 4.2, CURRENT, 0.1C")
    envelope = resolve_envelope(profile, CELL)
    assert (envelope.current_min, envelope.current_max) == pytest.approx((-0.3, 0.3))


def test_c_rates_on_a_battery_without_capacity_name_each_line():
    profile = parse_profile("WAIT, 1\nCC, 0.5C, VOLTAGE, 4.2\nCV, 4.2, CURRENT, 0.05C")
    with pytest.raises(ProfileError) as caught:
        resolve_envelope(profile, BatteryRating(CELL.window, capacity_ah=None))
    assert [str(problem) for problem in caught.value.problems] == [
        "line 2: CC uses a C-rate (0.5C) but the battery has no nominal capacity to resolve it",
        "line 3: the CURRENT limit is a C-rate (0.05C) but the battery has no nominal capacity "
        "to resolve it",
    ]


def test_cp_current_is_bounded_by_the_battery_voltage_window():
    # 10 W charge is largest at 2.5 V (4 A); a 5 W discharge largest at 2.5 V (-2 A).
    envelope = resolve_envelope(parse_profile("CP, 10, TIME, 1\nCP, -5, TIME, 1"), CELL)
    assert (envelope.current_min, envelope.current_max) == (-2.0, 4.0)


def test_cp_in_one_direction_only_never_demands_current_in_the_other():
    envelope = resolve_envelope(parse_profile("CP, 4.2, TIME, 1\nCP, 8.4, TIME, 1"), CELL)
    # Smallest charge current: 4.2 W at 4.2 V.
    assert (envelope.current_min, envelope.current_max) == (1.0, 8.4 / 2.5)


def test_cp_on_a_battery_that_may_reach_zero_volts_is_unbounded():
    battery = BatteryRating(Window(0.0, 4.2, -5.0, 5.0), 3.0)
    envelope = resolve_envelope(parse_profile("CP, 10, TIME, 1\nCP, -1, TIME, 1"), battery)
    assert envelope.current_max == math.inf
    assert envelope.current_min == -math.inf


def test_a_profile_without_voltage_demands_has_no_voltage_envelope():
    envelope = resolve_envelope(parse_profile("CC, 1, TIME, 60"), CELL)
    assert (envelope.voltage_min, envelope.voltage_max) == (None, None)


# ---------------------------------------------------------------- compatibility


def test_a_profile_inside_the_window_fits():
    verdict = check_compatibility(
        parse_profile("CC, 1C, VOLTAGE, 4.2\nCC, -1C, VOLTAGE, 2.5"), CELL, STATION
    )
    assert verdict.fits
    assert verdict.problems == ()
    assert verdict.message == "compatible"


def test_the_window_is_the_battery_window_intersected_with_the_station_window():
    verdict = check_compatibility(parse_profile("WAIT, 1"), CELL, STATION)
    assert verdict.window == Window(2.5, 4.2, -5.0, 3.0)


def test_demands_exactly_on_the_bounds_fit():
    text = "CC, 3, VOLTAGE, 4.2\nCC, -5, VOLTAGE, 2.5"
    assert check_compatibility(parse_profile(text), CELL, STATION).fits


def test_a_charge_current_over_the_station_window_says_by_how_much():
    station = Window(0.0, 5.0, -5.0, 5.0)
    battery = BatteryRating(Window(2.5, 4.2, -10.0, 10.0), 3.0)
    verdict = check_compatibility(parse_profile("CC, 2C, VOLTAGE, 4.2"), battery, station)
    assert not verdict.fits
    assert verdict.problems == ("needs 6.0 A charge; the station allows 5.0 A (1.0 A over)",)


def test_a_discharge_current_over_the_battery_window_says_by_how_much():
    station = Window(0.0, 5.0, -9.0, 9.0)
    assert check_compatibility(parse_profile("CC, -5.5, VOLTAGE, 2.5"), CELL, station).fits
    verdict = check_compatibility(parse_profile("CC, -7, VOLTAGE, 2.5"), CELL, station)
    assert verdict.problems == ("needs 7.0 A discharge; the battery allows 6.0 A (1.0 A over)",)


def test_voltages_outside_the_window_say_by_how_much():
    verdict = check_compatibility(
        parse_profile("CV, 4.3, TIME, 1\nCC, -1, VOLTAGE, 2.0"), CELL, STATION
    )
    assert verdict.problems == (
        "needs 4.3 V; the battery allows at most 4.2 V (0.1 V over)",
        "needs 2.0 V; the battery allows at least 2.5 V (0.5 V under)",
    )


def test_a_bound_shared_by_battery_and_station_names_both():
    battery = BatteryRating(Window(2.5, 4.2, -5.0, 5.0), 3.0)
    verdict = check_compatibility(parse_profile("CC, 6, TIME, 1"), battery, STATION)
    assert verdict.problems == (
        "needs 6.0 A charge; the battery and the station allow 5.0 A (1.0 A over)",
    )


def test_every_exceeded_bound_is_named():
    text = "CC, 10, VOLTAGE, 4.5\nCC, -10, VOLTAGE, 1"
    verdict = check_compatibility(parse_profile(text), CELL, STATION)
    assert len(verdict.problems) == 4
    assert verdict.message.startswith("incompatible: needs 4.5 V;")


def test_cp_power_is_checked_through_the_battery_voltage_window():
    # 10 W at 2.5 V is 4 A, over the battery's 3 A charge limit.
    verdict = check_compatibility(parse_profile("CP, 10, TIME, 1"), CELL, STATION)
    assert verdict.problems == ("needs 4.0 A charge; the battery allows 3.0 A (1.0 A over)",)
    assert check_compatibility(parse_profile("CP, 7.5, TIME, 1"), CELL, STATION).fits


def test_cp_on_a_battery_that_may_reach_zero_volts_never_fits():
    battery = BatteryRating(Window(0.0, 4.2, -5.0, 5.0), 3.0)
    verdict = check_compatibility(parse_profile("CP, 0.001, TIME, 1"), battery, STATION)
    assert not verdict.fits
    assert verdict.problems == (
        "CP steps (0.001 W to 0.001 W) need an unbounded charge current because the "
        "battery's minimum voltage is 0 V",
    )


def test_c_rates_on_a_battery_without_capacity_never_fit():
    battery = BatteryRating(CELL.window, capacity_ah=None)
    verdict = check_compatibility(parse_profile("CC, 0.1C, VOLTAGE, 4.5"), battery, STATION)
    assert not verdict.fits
    assert verdict.problems == (
        "the profile uses C-rates but the battery has no nominal capacity",
        "needs 4.5 V; the battery allows at most 4.2 V (0.3 V over)",
    )


def test_a_battery_and_station_that_do_not_overlap_fit_nothing():
    verdict = check_compatibility(parse_profile("WAIT, 1"), CELL, Window(0.0, 2.0, -5.0, 5.0))
    assert not verdict.fits
    assert verdict.problems == (
        "the battery's window (2.5 to 4.2 V, -6.0 to 3.0 A) and the station's "
        "(0.0 to 2.0 V, -5.0 to 5.0 A) do not overlap",
    )


def test_a_profile_that_demands_nothing_fits_any_overlapping_pair():
    assert check_compatibility(parse_profile("WAIT, 3600"), CELL, STATION).fits


# The verdict comes from `demand_fits` (mirrored in SQL); the messages from the resolved
# envelope. They must agree on every input.
windows = st.tuples(st.floats(0, 5), st.floats(0.1, 5), st.floats(-10, 0), st.floats(0, 10)).map(
    lambda v: Window(v[0], v[0] + v[1], v[2], v[3])
)
currents = st.sampled_from([-12.0, -6.0, -5.0, -3.0, -0.5, 0.5, 1.0, 3.0, 5.0, 6.0, 12.0])
voltages = st.sampled_from([0.5, 2.5, 3.0, 4.2, 5.0, 6.0])


@st.composite
def texts(draw: st.DrawFn) -> str:
    lines = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["CC", "CCC", "CV", "CP", "WAIT"]))
        if kind == "CC":
            lines.append(f"CC, {draw(currents)}, VOLTAGE, {draw(voltages)}")
        elif kind == "CCC":
            lines.append(f"CC, {draw(currents) / 3}C, TIME, 1")
        elif kind == "CV":
            lines.append(f"CV, {draw(voltages)}, CURRENT, {abs(draw(currents))}")
        elif kind == "CP":
            lines.append(f"CP, {draw(currents) * 3}, TIME, 1")
        else:
            lines.append("WAIT, 1")
    return "\n".join(lines)


@settings(max_examples=200, deadline=None)
@given(texts(), windows, windows, st.sampled_from([None, 1.0, 3.0]))
def test_the_verdict_has_reasons_exactly_when_it_refuses(text, battery_window, station, capacity):
    battery = BatteryRating(battery_window, capacity)
    demand = profile_demand(parse_profile(text))
    verdict = check_compatibility(demand, battery, station)
    assert verdict.fits == demand_fits(demand, fit_bounds(battery, station)).all_pass
    assert verdict.fits == (verdict.problems == ())
