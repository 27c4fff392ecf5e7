"""The experiment graph's time axis: time of day or elapsed units, both ways."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from domain.time_axis import TIME_OF_DAY, axis_mode, from_axis, to_axis, zoomed_range

T0 = 1_800_000_000.0


def test_time_of_day_is_milliseconds_and_elapsed_modes_count_from_the_first_sample() -> None:
    ts = np.array([T0, T0 + 90.0, T0 + 7200.0])
    assert to_axis(ts, TIME_OF_DAY, T0).tolist() == [
        T0 * 1000,
        (T0 + 90) * 1000,
        (T0 + 7200) * 1000,
    ]
    assert to_axis(ts, axis_mode("min"), T0).tolist() == [0.0, 1.5, 120.0]
    assert to_axis(ts, axis_mode("h"), T0).tolist() == [0.0, 0.025, 2.0]
    assert to_axis(ts, axis_mode("d"), T0)[2] == pytest.approx(2 / 24)


def test_an_unknown_mode_is_time_of_day() -> None:
    assert axis_mode("fortnights") is TIME_OF_DAY and axis_mode(None) is TIME_OF_DAY


@pytest.mark.parametrize(
    ("value", "mode", "expected"),
    [
        (
            "2027-01-15 08:00:00.250",
            "time",
            dt.datetime(2027, 1, 15, 8, tzinfo=dt.UTC).timestamp() + 0.25,
        ),
        (T0 * 1000 + 500, "time", T0 + 0.5),
        (1.5, "h", T0 + 5400.0),
        (30, "min", T0 + 1800.0),
    ],
)
def test_axis_values_go_back_to_unix_seconds(value, mode, expected) -> None:
    assert from_axis(value, axis_mode(mode), T0) == pytest.approx(expected)


@pytest.mark.parametrize("value", ["yesterday", None, float("nan"), True, [1]])
def test_unreadable_axis_values_are_none(value) -> None:
    assert from_axis(value, axis_mode("s"), T0) is None
    assert from_axis(value, TIME_OF_DAY, T0) is None


def test_a_zoom_a_reset_and_other_events_are_told_apart() -> None:
    minutes = axis_mode("min")
    assert zoomed_range({"xaxis.range[0]": 10, "xaxis.range[1]": 20}, minutes, T0) == (
        T0 + 600,
        T0 + 1200,
    )
    assert zoomed_range({"xaxis.range": [20, 10]}, minutes, T0) == (T0 + 600, T0 + 1200)
    assert zoomed_range({"xaxis.autorange": True}, minutes, T0) is False
    assert zoomed_range({"yaxis.range[0]": 1, "yaxis.range[1]": 2}, minutes, T0) is None
    assert zoomed_range({"autosize": True}, minutes, T0) is None
    assert zoomed_range(None, minutes, T0) is None
