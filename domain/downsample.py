"""Downsampling that keeps extremes, so a one-sample spike stays visible in a small graph.

The series is cut into equal buckets of consecutive samples and each bucket keeps its
first, minimum, maximum and last sample, in time order (`minmax_indices`, `downsample`).
Long experiments are drawn from stored block summaries instead (datastore/series.py),
which keep the same four values per block.

Pure numpy, no I/O. NaN values (a channel with no value at a sample) are ignored for
the extremes and never chosen as one.
"""

from __future__ import annotations

import numpy as np

POINTS_PER_BUCKET = 4  # first, min, max, last


def minmax_indices(y: np.ndarray, max_points: int) -> np.ndarray:
    """Sorted indices of at most `max_points` samples of `y` that keep every bucket's extremes."""
    count = len(y)
    if count <= max_points:
        return np.arange(count)
    buckets = max(1, max_points // POINTS_PER_BUCKET)
    edges = np.linspace(0, count, buckets + 1).astype(np.int64)
    starts, ends = edges[:-1], edges[1:]
    values = np.asarray(y, dtype=float)
    finite = np.isfinite(values)
    chosen = [starts, ends - 1]
    if finite.any():
        bucket_of = np.repeat(np.arange(buckets), ends - starts)
        # Extremes per bucket (fmin/fmax skip NaN), then the first sample equal to each.
        lows = np.fmin.reduceat(values, starts)
        highs = np.fmax.reduceat(values, starts)
        for extreme in (lows, highs):
            hits = np.flatnonzero(finite & (values == extreme[bucket_of]))
            _, first_hit = np.unique(bucket_of[hits], return_index=True)
            chosen.append(hits[first_hit])
    return np.unique(np.concatenate(chosen))


def downsample(x: np.ndarray, y: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) reduced to at most `max_points` points, each bucket's extremes kept."""
    keep = minmax_indices(y, max_points)
    return np.asarray(x)[keep], np.asarray(y)[keep]
