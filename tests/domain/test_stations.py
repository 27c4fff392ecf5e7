"""A station as its unit announces it."""

from __future__ import annotations

from domain.stations import StationSpec
from domain.window import Window

WINDOW = Window(0.0, 5.0, -10.0, 10.0)


def test_a_station_without_a_location_has_an_empty_one():
    assert StationSpec("ch1", WINDOW).location == ""
