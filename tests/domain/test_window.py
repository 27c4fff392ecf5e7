"""The voltage and current window: intersection, emptiness, the check before a run, and the
JSON of the start command's "limits" object."""

from __future__ import annotations

import json

import pytest

from domain.window import Window

CELL = Window(2.5, 4.2, -5.0, 3.0)
CHANNEL = Window(0.0, 4.0, -10.0, 10.0)


def test_the_intersection_is_what_both_windows_allow():
    assert CELL.intersect(CHANNEL) == Window(2.5, 4.0, -5.0, 3.0)


def test_the_intersection_does_not_depend_on_the_order():
    assert CHANNEL.intersect(CELL) == CELL.intersect(CHANNEL)


@pytest.mark.parametrize(
    "other",
    [Window(4.5, 5.0, -5.0, 5.0), Window(0.0, 5.0, 4.0, 5.0)],
    ids=["voltages apart", "currents apart"],
)
def test_windows_that_do_not_overlap_intersect_to_an_empty_window(other):
    assert CELL.intersect(other).is_empty


def test_windows_that_touch_leave_a_single_value_and_are_not_empty():
    assert not CELL.intersect(Window(4.2, 5.0, 3.0, 5.0)).is_empty


def test_a_window_with_room_and_zero_current_passes_the_check():
    assert CELL.checked() is CELL


@pytest.mark.parametrize("voltage_max", [2.5, 2.0])
def test_the_check_refuses_a_voltage_window_without_room(voltage_max):
    with pytest.raises(ValueError) as caught:
        Window(2.5, voltage_max, -5.0, 5.0).checked()
    assert str(caught.value) == (
        f"voltage_max: must be above voltage_min (2.5 V), got {voltage_max}"
    )


@pytest.mark.parametrize(("current_min", "current_max"), [(0.5, 5.0), (-5.0, -0.5)])
def test_the_check_refuses_a_current_window_without_zero(current_min, current_max):
    with pytest.raises(ValueError) as caught:
        Window(2.5, 4.2, current_min, current_max).checked()
    assert str(caught.value) == (
        "current_min, current_max: expected current_min <= 0 <= current_max, "
        f"got {current_min} and {current_max}"
    )


def test_json_has_the_four_limit_keys_in_order():
    assert json.dumps(CELL.to_json(), separators=(",", ":")) == (
        '{"voltage_min":2.5,"voltage_max":4.2,"current_min":-5.0,"current_max":3.0}'
    )


def test_a_window_survives_a_json_round_trip():
    assert Window.from_json(json.loads(json.dumps(CELL.to_json()))) == CELL


def test_json_numbers_are_read_as_floats_and_other_keys_ignored():
    window = Window.from_json(
        {"voltage_min": 0, "voltage_max": 5, "current_min": -15, "current_max": 15, "t_max": 45}
    )
    assert window == Window(0.0, 5.0, -15.0, 15.0)
    assert all(type(value) is float for value in window.to_json().values())


def test_json_missing_a_bound_is_refused_naming_it():
    with pytest.raises(ValueError, match="^current_max: required field is missing$"):
        Window.from_json({"voltage_min": 0, "voltage_max": 5, "current_min": -15})


def test_json_with_a_bound_that_is_not_a_number_is_refused():
    with pytest.raises(ValueError, match="^not a window: "):
        Window.from_json(
            {"voltage_min": 0, "voltage_max": "high", "current_min": -15, "current_max": 15}
        )
