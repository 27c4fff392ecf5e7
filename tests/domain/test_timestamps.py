"""The rule for a sample's or alarm's time: finite, from 2000 on, at most a day ahead."""

from __future__ import annotations

import datetime as dt

import pytest

from domain.timestamps import EARLIEST_TS, timestamp_problem

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC).timestamp()


@pytest.mark.parametrize(
    ("ts", "words"),
    [
        (1e300, "ahead of the node's clock"),
        (float("inf"), "not a finite number"),
        (float("-inf"), "not a finite number"),
        (float("nan"), "not a finite number"),
        (1e20, "ahead of the node's clock"),
        (NOW * 1000, "looks like a clock in milliseconds"),
        (dt.datetime(1999, 12, 31, 23, 59, 59, tzinfo=dt.UTC).timestamp(), "before 2000-01-01"),
        (0.0, "before 2000-01-01"),
        (-1e20, "before 2000-01-01"),
        (NOW + 2 * 86_400, "2.0 days ahead of the node's clock"),
    ],
)
def test_a_hostile_time_is_refused_with_a_reason(ts, words):
    problem = timestamp_problem(ts, NOW)
    assert problem is not None and words in problem


def test_a_millisecond_clock_is_named_as_such_with_the_date_it_meant():
    problem = timestamp_problem(NOW * 1000 + 250, NOW)
    assert problem == (
        "1772366400250 looks like a clock in milliseconds (2026-03-01 12:00:00 UTC if "
        "divided by 1000); the protocol's times are Unix seconds"
    )


def test_a_time_far_ahead_says_how_far_in_years():
    problem = timestamp_problem(1e20, NOW)
    assert problem is not None and "3.17e+12 years ahead" in problem


@pytest.mark.parametrize(
    "ts",
    [
        NOW,
        NOW + 3600,  # an hour ahead: a clock in another time zone's offset, accepted
        NOW + 86_400,  # exactly a day ahead
        NOW - 365 * 86_400,  # a year-old sample replayed from a cycler's buffer
        EARLIEST_TS,  # 2000-01-01T00:00:00Z itself
    ],
)
def test_a_believable_time_is_accepted(ts):
    assert timestamp_problem(ts, NOW) is None
