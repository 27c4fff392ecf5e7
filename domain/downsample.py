"""Downsampling that keeps extremes, so a one-sample spike stays visible in a small graph.

Two shapes of input:
- raw samples (`minmax_indices`, `downsample`): the series is cut into equal buckets
  of consecutive samples and each bucket keeps its first, minimum, maximum and last
  sample, in time order;
- per-bucket extremes computed elsewhere, e.g. by a database GROUP BY
  (`envelope_points`): each bucket becomes two points, its low and its high, ordered
  to follow the trend, so the line stays a continuous envelope.

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


def envelope_points(
    first_x: np.ndarray, last_x: np.ndarray, lows: np.ndarray, highs: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Two points per bucket from its x span and its extremes: (first_x, a), (last_x, b).

    Where the series rises through a bucket (judged from its neighbours' middles) the
    low comes first, where it falls the high does, so the line does not zig-zag.
    Buckets without a finite extreme are dropped.
    """
    lows = np.asarray(lows, dtype=float)
    highs = np.asarray(highs, dtype=float)
    keep = np.isfinite(lows) & np.isfinite(highs)
    first_x, last_x = np.asarray(first_x)[keep], np.asarray(last_x)[keep]
    lows, highs = lows[keep], highs[keep]
    if not len(lows):
        return np.array([], dtype=float), np.array([], dtype=float)
    middles = (lows + highs) / 2
    before = np.concatenate(([middles[0]], middles[:-1]))
    after = np.concatenate((middles[1:], [middles[-1]]))
    falling = after < before
    first_y = np.where(falling, highs, lows)
    last_y = np.where(falling, lows, highs)
    x = np.column_stack((first_x, last_x)).ravel()
    y = np.column_stack((first_y, last_y)).ravel()
    return x, y
