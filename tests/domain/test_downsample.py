"""Downsampling keeps every bucket's extremes, so nothing a user should see disappears."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from domain.downsample import downsample, minmax_indices


def test_a_short_series_is_left_alone():
    y = np.array([3.0, 1.0, 2.0])
    assert minmax_indices(y, 10).tolist() == [0, 1, 2]


def test_a_one_sample_spike_survives_a_thousandfold_reduction():
    y = np.full(1_000_000, 3.7)
    y[654_321] = 4.5
    y[123_456] = 2.1
    x = np.arange(len(y), dtype=float)
    small_x, small_y = downsample(x, y, 1000)
    assert len(small_x) <= 1000
    assert small_y.max() == 4.5 and small_y.min() == 2.1
    assert 654_321.0 in small_x and 123_456.0 in small_x


def test_the_first_and_last_samples_are_kept_in_time_order():
    y = np.sin(np.linspace(0, 20, 50_000))
    keep = minmax_indices(y, 400)
    assert keep[0] == 0 and keep[-1] == len(y) - 1
    assert np.all(np.diff(keep) > 0)


def test_missing_values_are_never_chosen_as_extremes():
    y = np.array([np.nan, 1.0, np.nan, 5.0, 2.0, np.nan, -1.0, np.nan] * 100)
    keep = minmax_indices(y, 40)
    values = y[keep]
    assert np.nanmax(values) == 5.0 and np.nanmin(values) == -1.0


@given(
    arrays(np.float64, st.integers(1, 3000), elements=st.floats(-1e6, 1e6)),
    st.integers(4, 500),
)
def test_the_result_is_bounded_and_keeps_the_global_extremes(y, max_points):
    keep = minmax_indices(y, max_points)
    assert len(keep) <= max_points
    assert y[keep].max() == y.max() and y[keep].min() == y.min()
