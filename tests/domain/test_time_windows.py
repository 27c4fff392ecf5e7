"""Time windows of the live graph: real time, ending at the last sample."""

from __future__ import annotations

from domain.time_windows import window_range


def test_windows_are_real_time_ending_at_the_last_sample():
    assert window_range(1000.0, 30) == (970.0, 1000.0)
    assert window_range(1000.0, 0, first_ts=10.0) == (10.0, 1000.0)
