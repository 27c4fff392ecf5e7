"""A station as its unit announces it, and the checks of the station form."""

from __future__ import annotations

import pytest

from domain.stations import StationSpec, field_of_message, window_problems
from domain.window import Window

WINDOW = Window(0.0, 5.0, -10.0, 10.0)


def test_a_station_without_a_location_has_an_empty_one():
    assert StationSpec("ch1", WINDOW).location == ""


# ---------------------------------------------------------------- the station form


FORM_WINDOW = {"voltage_min": 0.0, "voltage_max": 5.0, "current_min": -5.0, "current_max": 5.0}


def test_a_sound_window_has_no_problems():
    assert window_problems(FORM_WINDOW) == {}


def test_each_missing_number_is_named_beside_its_field_with_its_unit():
    assert window_problems({**FORM_WINDOW, "voltage_max": None, "current_min": None}) == {
        "voltage_max": "required: a number of V",
        "current_min": "required: a number of A",
    }


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"voltage_max": 0.0}, "voltage_max", "must be above voltage_min (0.0 V), got 0.0"),
        ({"voltage_min": -1.0}, "voltage_min", "expected 0 V or more, got -1.0"),
        ({"current_min": 1.0}, "current_min", "the discharge limit must be 0 A or negative"),
        ({"current_max": -1.0}, "current_max", "the charge limit must be 0 A or positive"),
    ],
)
def test_a_broken_window_rule_is_keyed_by_its_field(changes, field, message):
    problems = window_problems({**FORM_WINDOW, **changes})
    assert list(problems) == [field]
    assert problems[field].startswith(message)


def test_a_message_names_its_field_only_when_it_starts_with_one():
    assert field_of_message("name: must not be empty") == "name"
    assert field_of_message("unit: at most 100 characters, got 101") == "unit"
    assert field_of_message("station 'ch1' on unit 'cu' exists already with id 1") is None
    assert field_of_message("chemistry: expected one of NMC") is None
