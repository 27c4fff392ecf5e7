"""The live graph of a station monitor: what the browser holds, and what each refresh sends.

The browser keeps a figure whose traces hold the samples since `held_from`; a dcc.Store
keeps the bookkeeping (`View`). Each refresh asks the database for the samples after
the last seq sent and sends only those, as a `dash.Patch` that extends the traces (and
moves the x range while the view follows the live edge). The figure is rebuilt or its
traces replaced ("rebased") only when something calls for it:

- another experiment, another set of traces, or a window that needs data not held;
- a trace would pass `MAX_POINTS_PER_TRACE`: the held span is reloaded downsampled
  (`BASE_POINTS`, extremes kept), so the browser's memory stays bounded;
- while following a time window, the held span grew past `HOLD_WINDOWS` windows: the
  old part is dropped, so the y axes' autorange keeps to recent data.

The x axis is a date axis fed with Unix milliseconds (UTC); time windows are real
time, never sample counts.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
from dash import Patch
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from components.vi_figure import (
    CURRENT,
    POWER,
    VOLTAGE,
    X_DECIMALS_MS,
    TraceDef,
    build_figure,
    empty_figure,
    trace_defs,
    x_values,
    y_values,
)
from datastore import telemetry as store
from datastore.telemetry import ChannelInfo, SampleBlock, StationSnapshot
from domain.downsample import downsample
from domain.time_windows import WHOLE_EXPERIMENT, window_range

MAX_POINTS_PER_TRACE = 20_000
BASE_POINTS = 5_000
# Up to this many samples a reload fetches them one by one (then downsamples in numpy);
# beyond, the database computes per-bucket extremes.
RAW_FETCH_LIMIT = 20_000
HOLD_WINDOWS = 4

Bind = Session | Connection | Engine


@dataclass
class View:
    """What the browser holds; kept in a dcc.Store between refreshes."""

    station_id: int
    experiment_id: int | None = None
    keys: list[str] = field(default_factory=list)  # trace keys, in figure order
    requested: list[str] = field(default_factory=list)  # the "also show" selection
    labels: dict[str, str] = field(default_factory=dict)
    window_s: int = 300
    last_seq: int = -1
    last_ts: float | None = None
    first_ts: float | None = None
    held_from: float | None = None  # the oldest time the traces cover
    raw_from: float | None = None  # from here on the traces hold every sample
    points: int = 0  # the most points any trace holds
    alarm_count: int = -1
    following: bool = True  # whether the x range follows the live edge

    def to_store(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_store(cls, data: dict[str, Any] | None) -> View | None:
        if not data:
            return None
        try:
            return cls(**data)
        except TypeError:  # a store written by another version of the page
            return None


@dataclass
class Refresh:
    """The result of one refresh, for the page callback to send."""

    view: View
    station: StationSnapshot | None  # with the experiment shown; None: no such station
    figure: dict[str, Any] | Patch | None = None  # None: leave the graph as it is
    channels: list[ChannelInfo] | None = None  # set when the experiment was (re)loaded
    alarms_changed: bool = False
    points_sent: int = 0
    rebuilt: bool = False


def refresh(
    bind: Bind,
    station_id: int,
    previous: View | None,
    *,
    window_s: int,
    extra_keys: Sequence[str],
    follow: bool,
) -> Refresh:
    """Bring the browser's graph up to date: one header query, then one read of samples
    (the new ones, or a whole window when the traces are rebuilt or rebased)."""
    shown = previous.experiment_id if previous and previous.station_id == station_id else None
    station = store.monitor_header(bind, station_id, shown)
    view = View(station_id, window_s=window_s)
    if station is None or station.experiment is None:
        figure = None if previous and previous.experiment_id is None else empty_figure()
        return Refresh(view, station, figure, channels=[], rebuilt=figure is not None)

    experiment = station.experiment
    requested = list(dict.fromkeys(extra_keys or ()))
    same_experiment = previous is not None and previous.experiment_id == experiment.id
    rebuild = previous is None or not same_experiment or requested != previous.requested
    window_changed = previous is not None and window_s != previous.window_s
    if not rebuild and window_changed and previous is not None:
        rebuild = not _window_is_held(previous, window_s)
    if rebuild or previous is None:
        channels = store.experiment_channels(bind, experiment.id)
        traces = trace_defs(channels, requested)
        return _rebuild(bind, station, traces, window_s, requested, channels)
    traces = [_trace_from_key(key, previous.labels) for key in previous.keys]

    result = Refresh(
        replace(previous, window_s=window_s),
        station,
        alarms_changed=experiment.alarm_count != previous.alarm_count,
    )
    result.view.alarm_count = experiment.alarm_count
    last = experiment.last_sample
    patch = Patch()
    changed = False
    if last is not None and last.seq > previous.last_seq:
        new_count = last.seq - previous.last_seq
        start = previous.held_from
        if follow and window_s != WHOLE_EXPERIMENT:
            start = last.ts - window_s
        too_many = previous.points + new_count > MAX_POINTS_PER_TRACE
        too_long = (
            follow
            and window_s != WHOLE_EXPERIMENT
            and previous.held_from is not None
            and last.ts - previous.held_from > HOLD_WINDOWS * window_s
        )
        if too_many or too_long:
            _rebase(bind, result, traces, experiment.id, start, last.seq, patch)
        else:
            _extend(bind, result, traces, experiment.id, last.seq, patch)
        result.view.last_seq = last.seq
        result.view.last_ts = last.ts
        changed = True
    result.view.following = follow
    if follow and (changed or window_changed or not previous.following) and result.view.last_ts:
        patch["layout"]["xaxis"]["range"] = _x_range(result.view)
        changed = True
    result.figure = patch if changed else None
    return result


def _trace_from_key(key: str, labels: dict[str, str]) -> TraceDef:
    if key in ("voltage", "current", "power"):
        return {"voltage": VOLTAGE, "current": CURRENT, "power": POWER}[key]
    name, _, unit = labels.get(key, key).partition(" / ")
    return TraceDef(key, name, unit, "y3")


def _window_is_held(view: View, window_s: int) -> bool:
    """Whether the browser already holds every sample of the new window."""
    if view.last_ts is None:
        return window_s != WHOLE_EXPERIMENT
    if window_s == WHOLE_EXPERIMENT:
        return (
            view.raw_from is not None
            and view.first_ts is not None
            and (view.raw_from <= view.first_ts)
        )
    return view.raw_from is not None and view.raw_from <= view.last_ts - window_s


# ---------------------------------------------------------------- loading


def _rebuild(
    bind: Bind,
    station: StationSnapshot,
    traces: list[TraceDef],
    window_s: int,
    requested: list[str],
    channels: list[ChannelInfo],
) -> Refresh:
    experiment = station.experiment
    assert experiment is not None
    view = View(
        station.id,
        experiment.id,
        keys=[trace.key for trace in traces],
        requested=requested,
        labels={trace.key: trace.label for trace in traces if trace.channel_id is not None},
        window_s=window_s,
        alarm_count=experiment.alarm_count,
    )
    last = experiment.last_sample
    series: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    if last is not None:
        start = None if window_s == WHOLE_EXPERIMENT else last.ts - window_s
        view.first_ts, series, view.raw_from, view.points = _load(
            bind, experiment.id, traces, start, last.seq
        )
        view.held_from = start if start is not None else view.first_ts
        view.last_seq, view.last_ts = last.seq, last.ts
    figure = build_figure(traces, series, _x_range(view) if last else None, experiment.id)
    points = sum(len(x) for x, _y in series.values())
    return Refresh(view, station, figure, channels, True, points, True)


def _load(
    bind: Bind,
    experiment_id: int,
    traces: Sequence[TraceDef],
    start_ts: float | None,
    until_seq: int,
) -> tuple[float | None, dict[str, tuple[np.ndarray, np.ndarray]], float | None, int]:
    """The traces over [start_ts, the sample until_seq], at most BASE_POINTS each, from one
    datastore call.

    Returns (the experiment's first sample time, series by trace key, the time from which
    they hold every sample, the most points in a trace).
    """
    channel_ids = [t.channel_id for t in traces if t.channel_id is not None]
    read = store.window_series(
        bind,
        experiment_id,
        start_ts,
        until_seq,
        channel_ids,
        raw_limit=RAW_FETCH_LIMIT,
        max_points=BASE_POINTS,
    )
    series: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    raw = read.samples is not None
    if read.samples is not None:
        block = read.samples
        for trace in traces:
            x, y = _columns(block, trace)
            if len(x) > BASE_POINTS:
                raw = False
                x, y = downsample(x, y, BASE_POINTS)
            series[trace.key] = (x, y)
        last_ts = float(block.ts[-1]) if len(block) else start_ts
    else:
        assert read.points is not None
        drawn = read.points
        for trace in traces:
            key: str | int = trace.channel_id if trace.channel_id is not None else trace.key
            values = drawn.values[key]
            present = ~np.isnan(values)  # a channel without a value in a bucket
            series[trace.key] = (drawn.ts[present], values[present])
        last_ts = float(drawn.ts[-1]) if len(drawn.ts) else start_ts
    raw_from = start_ts if raw else last_ts
    points = max((len(x) for x, _y in series.values()), default=0)
    return read.first_ts, series, raw_from, points


def _columns(block: SampleBlock, trace: TraceDef) -> tuple[np.ndarray, np.ndarray]:
    """(ts, values) of one trace; samples where an extra channel has no value are left out."""
    if trace.channel_id is None:
        return block.ts, getattr(block, trace.key)
    values = block.extras.get(trace.channel_id)
    if values is None:
        return _nothing()
    present = ~np.isnan(values)
    return block.ts[present], values[present]


def _nothing() -> tuple[np.ndarray, np.ndarray]:
    return np.array([], dtype=float), np.array([], dtype=float)


def _extend(
    bind: Bind,
    result: Refresh,
    traces: Sequence[TraceDef],
    experiment_id: int,
    until_seq: int,
    patch: Patch,
) -> None:
    """Append the samples after the last one sent."""
    view = result.view
    channel_ids = [t.channel_id for t in traces if t.channel_id is not None]
    block = store.samples_after(
        bind, experiment_id, view.last_seq, channel_ids, until_seq=until_seq
    )
    added = 0
    for index, trace in enumerate(traces):
        x, y = _columns(block, trace)
        if len(x):
            patch["data"][index]["x"].extend(x_values(x))
            patch["data"][index]["y"].extend(y_values(y))
            added = max(added, len(x))
            result.points_sent += len(x)
    view.points += added
    if view.first_ts is None and len(block):
        view.first_ts = float(block.ts[0])
    if view.held_from is None and len(block):
        view.held_from = float(block.ts[0])
    if view.raw_from is None and len(block):
        view.raw_from = float(block.ts[0])


def _rebase(
    bind: Bind,
    result: Refresh,
    traces: Sequence[TraceDef],
    experiment_id: int,
    start_ts: float | None,
    until_seq: int,
    patch: Patch,
) -> None:
    """Replace every trace by the span from `start_ts`, downsampled if long."""
    _first_ts, series, raw_from, points = _load(bind, experiment_id, traces, start_ts, until_seq)
    for index, trace in enumerate(traces):
        x, y = series[trace.key]
        patch["data"][index]["x"] = x_values(x)
        patch["data"][index]["y"] = y_values(y)
        result.points_sent += len(x)
    view = result.view
    view.held_from = start_ts if start_ts is not None else view.first_ts
    view.raw_from = raw_from
    view.points = points


# ---------------------------------------------------------------- figure


def _x_range(view: View) -> list[float] | None:
    if view.last_ts is None:
        return None
    start, end = window_range(view.last_ts, view.window_s, view.first_ts)
    if end - start < 1.0:  # a lone sample: give the axis a second of room
        start, end = start - 0.5, end + 0.5
    return [round(start * 1000.0, X_DECIMALS_MS), round(end * 1000.0, X_DECIMALS_MS)]


def x_range_of(relayout: dict[str, Any] | None) -> list[float] | None:
    """The time axis range (Unix ms) a zoom or pan set, from the graph's relayoutData;
    None when it set none. Plotly gives date strings ("2026-11-25 10:00:01.2345", UTC)
    after a drag and whatever was passed to Plotly.relayout (here ms) otherwise."""
    relayout = relayout or {}
    ends = relayout.get("xaxis.range")
    if ends is None and "xaxis.range[0]" in relayout and "xaxis.range[1]" in relayout:
        ends = [relayout["xaxis.range[0]"], relayout["xaxis.range[1]"]]
    if not isinstance(ends, list | tuple) or len(ends) != 2:
        return None
    try:
        start, end = sorted(_axis_ms(value) for value in ends)
    except (TypeError, ValueError):
        return None
    return [start, end]


def _axis_ms(value: Any) -> float:
    if isinstance(value, int | float):
        return float(value)
    moment = dt.datetime.fromisoformat(str(value).strip().replace(" ", "T"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    # Whole microseconds, so the milliseconds are exact to the digit plotly gave.
    return ((moment - _EPOCH) // dt.timedelta(microseconds=1)) / 1000.0


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def shown_range_ms(view: View, zoom_ms: Sequence[float] | None) -> list[float] | None:
    """The time axis range on screen (Unix ms): the user's zoom, else the window."""
    if zoom_ms is not None and len(zoom_ms) == 2:
        return [float(zoom_ms[0]), float(zoom_ms[1])]
    return _x_range(view)


def samples_shown_s(range_ms: Sequence[float]) -> tuple[float, float]:
    """[start, end] in Unix seconds holding exactly the samples whose point lies in the time
    axis range `range_ms`.

    A point sits at the sample's time rounded to X_DECIMALS_MS: it is inside the range when
    that rounded time is, so each bound moves to the first (last) rounded time inside the
    range and then half a rounding step outwards, where no sample's point can sit. (The
    range itself, in float ms, may be off the rounding grid by a few ulps: a microsecond of
    slack absorbs that.)
    """
    steps_per_ms = 10**X_DECIMALS_MS
    first = math.ceil(range_ms[0] * steps_per_ms - 0.01)
    last = math.floor(range_ms[1] * steps_per_ms + 0.01)
    scale = 1000.0 * steps_per_ms
    return (first - 0.5) / scale, (last + 0.5) / scale


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
