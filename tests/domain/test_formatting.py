"""Numbers, durations and times as people read them."""

from __future__ import annotations

import datetime as dt

import pytest

from domain.formatting import format_age, format_duration, format_quantity, format_utc

NOW = dt.datetime(2025, 6, 1, 12, 0, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("seconds", "text", "compact"),
    [
        (0, "0 s", "0 s"),
        (42.4, "42 s", "42 s"),
        (725, "12 min 05 s", "12 min 5 s"),
        (3600, "1 h 00 min 00 s", "1 h"),
        (11_112, "3 h 05 min 12 s", "3 h 5 min 12 s"),
        (2 * 86_400 + 3 * 3600 + 300, "2 d 03 h 05 min", "2 d 3 h 5 min"),
    ],
)
def test_durations_read_naturally(seconds, text, compact):
    assert format_duration(seconds) == text
    assert format_duration(seconds, compact=True) == compact


def test_quantities_use_a_real_minus_sign_and_no_negative_zero():
    assert format_quantity(-2.5, "A") == "−2.50 A"
    assert format_quantity(-0.001, "A") == "0.00 A"
    assert format_quantity(None, "V") == "–"
    assert format_quantity(float("nan"), "V") == "–"


def test_clock_times_are_shown_in_utc_and_say_so():
    assert format_utc(NOW) == "12:00:00 UTC"
    assert format_utc(NOW.timestamp(), with_date=True) == "2025-06-01 12:00:00 UTC"
    assert format_age(None) == "never" and format_age(-3) == "0 s ago"


@pytest.mark.parametrize(
    "moment", [1e300, float("inf"), float("-inf"), float("nan"), 1e20, -1e20, 1.78e12]
)
def test_a_time_no_calendar_holds_reads_invalid_time_instead_of_raising(moment):
    # Samples stored before the node refused such times must not break the pages.
    assert format_utc(moment) == "invalid time"
    assert format_utc(moment, with_date=True) == "invalid time"


def test_the_last_representable_times_still_format():
    assert format_utc(dt.datetime(9999, 12, 31, 23, 59, 59), with_date=True) == (
        "9999-12-31 23:59:59 UTC"
    )
