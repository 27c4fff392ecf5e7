"""Time windows of a live graph: always real time (the last N seconds up to the newest
sample), never a count of samples."""

from __future__ import annotations

# The time-window selector: (seconds, label); 0 means the whole experiment.
WHOLE_EXPERIMENT = 0
WINDOWS: tuple[tuple[int, str], ...] = (
    (30, "30 s"),
    (60, "1 min"),
    (300, "5 min"),
    (900, "15 min"),
    (1800, "30 min"),
    (3600, "1 h"),
    (21600, "6 h"),
    (WHOLE_EXPERIMENT, "whole experiment"),
)
DEFAULT_WINDOW_S = 300


def window_range(
    last_ts: float, window_s: int, first_ts: float | None = None
) -> tuple[float, float]:
    """The x range of a window in Unix seconds: the last `window_s` seconds of real time
    up to the last sample, or the whole experiment from its first sample."""
    if window_s == WHOLE_EXPERIMENT:
        start = first_ts if first_ts is not None else last_ts
        return start, max(last_ts, start)
    return last_ts - window_s, last_ts
