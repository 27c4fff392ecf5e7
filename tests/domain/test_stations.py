"""A station as its unit announces it."""

from __future__ import annotations

from domain.stations import StationSpec
from domain.window import Window

WINDOW = Window(0.0, 5.0, -10.0, 10.0)


def test_a_station_without_a_location_has_an_empty_one():
    assert StationSpec("ch1", WINDOW).location == ""


def test_the_bounds_can_still_be_read_off_the_station():
    station = StationSpec("ch1", WINDOW, location="rack A")
    bounds = (station.voltage_min, station.voltage_max, station.current_min, station.current_max)
    assert bounds == (0.0, 5.0, -10.0, 10.0)
