"""The time axis of an experiment's graph: time of day, or time from the start in a unit.

The graph's data is in Unix seconds (UTC). In "time of day" mode the axis is a date axis
fed with Unix milliseconds; in the elapsed modes it is a number axis of seconds, minutes,
hours or days since the experiment's first sample. These functions convert both ways, so
a zoom on the axis becomes a time range to read, whatever the mode.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np


@dataclass(frozen=True)
class AxisMode:
    key: str
    label: str  # for the selector
    title: str  # the axis title
    seconds: float  # seconds per axis unit; 0 for time of day


TIME_OF_DAY = AxisMode("time", "Time of day (UTC)", "Time (UTC)", 0.0)
AXIS_MODES: tuple[AxisMode, ...] = (
    TIME_OF_DAY,
    AxisMode("s", "Time from start / s", "Time from start / s", 1.0),
    AxisMode("min", "Time from start / min", "Time from start / min", 60.0),
    AxisMode("h", "Time from start / h", "Time from start / h", 3600.0),
    AxisMode("d", "Time from start / days", "Time from start / days", 86400.0),
)
_BY_KEY = {mode.key: mode for mode in AXIS_MODES}


def axis_mode(key: str | None) -> AxisMode:
    """The mode named `key` (time of day when unknown)."""
    return _BY_KEY.get(key or "", TIME_OF_DAY)


def to_axis(ts: np.ndarray, mode: AxisMode, start_ts: float) -> np.ndarray:
    """Axis values of Unix times: milliseconds (time of day) or elapsed units."""
    if mode.seconds == 0:
        return np.round(ts * 1000.0, 1)
    return (ts - start_ts) / mode.seconds


def from_axis(value: Any, mode: AxisMode, start_ts: float) -> float | None:
    """The Unix time of an axis value as Plotly reports it: a number, or on a date axis a
    date string ("2026-12-01 10:23:45.123"), or None when it cannot be read."""
    if mode.seconds == 0:
        if isinstance(value, str):
            try:
                moment = dt.datetime.fromisoformat(value.strip().replace(" ", "T"))
            except ValueError:
                return None
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=dt.UTC)
            return moment.timestamp()
        number = _finite(value)
        return None if number is None else number / 1000.0
    number = _finite(value)
    return None if number is None else start_ts + number * mode.seconds


def _finite(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def zoomed_range(
    relayout: Mapping[str, Any] | None, mode: AxisMode, start_ts: float
) -> tuple[float, float] | Literal[False] | None:
    """What a Plotly relayout event says about the x axis: (start, end) in Unix seconds
    after a zoom or pan, False after a reset to the whole range (autorange), None when
    the event is about something else."""
    if not relayout:
        return None
    if relayout.get("xaxis.autorange"):
        return False
    if "xaxis.range[0]" in relayout and "xaxis.range[1]" in relayout:
        ends = relayout["xaxis.range[0]"], relayout["xaxis.range[1]"]
    elif (
        isinstance(relayout.get("xaxis.range"), list | tuple) and len(relayout["xaxis.range"]) == 2
    ):
        ends = tuple(relayout["xaxis.range"])
    else:
        return None
    start, end = (from_axis(end, mode, start_ts) for end in ends)
    if start is None or end is None:
        return None
    return (min(start, end), max(start, end))
