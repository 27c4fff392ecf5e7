"""The experiment page's graph: the points for what is on screen, and the figure.

The whole experiment is drawn from the stored block summaries in at most 5,000 points
(`datastore.series.read_series`); each zoom or pan reads the range on screen again, at
a finer level, down to the samples themselves. Lines are drawn as steps ("hv": each
value held until the next point), so rests and current steps stay square.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from sqlalchemy import Connection

from components.vi_figure import TraceDef, build_figure, empty_figure
from datastore.series import DEFAULT_MAX_POINTS, Series, read_series
from domain.time_axis import AxisMode, axis_mode, to_axis

GRAPH_HEIGHT_PX = 600


@dataclass
class GraphView:
    """What the browser shows, kept in a dcc.Store: the experiment, the axis mode, the
    first sample time (the zero of elapsed axes) and the zoomed range (None: all of it)."""

    experiment_id: int
    mode: str
    start_ts: float | None
    range: tuple[float, float] | None = None

    def to_store(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_store(cls, data: dict[str, Any] | None) -> GraphView | None:
        if not data:
            return None
        try:
            view = cls(**data)
        except TypeError:  # a store written by another version of the page
            return None
        if view.range is not None:
            view.range = (float(view.range[0]), float(view.range[1]))
        return view


def read_view(connection: Connection, view: GraphView, traces: Sequence[TraceDef]) -> Series:
    """The points of the traces for the view's range."""
    start, end = view.range if view.range is not None else (None, None)
    return read_series(
        connection,
        view.experiment_id,
        start,
        end,
        [t.channel_id for t in traces if t.channel_id is not None],
        quantities=[t.key for t in traces if t.channel_id is None],
        max_points=DEFAULT_MAX_POINTS,
    )


def figure(view: GraphView, traces: Sequence[TraceDef], series: Series) -> dict[str, Any]:
    """The figure of `series` on the view's axis; the zoom range set when there is one."""
    if view.start_ts is None or not len(series.ts):
        return empty_figure("No samples yet", GRAPH_HEIGHT_PX)
    mode = axis_mode(view.mode)
    # A date axis takes Unix seconds (the figure turns them into milliseconds); an elapsed
    # axis takes its own units.
    x = series.ts if mode.seconds == 0 else to_axis(series.ts, mode, view.start_ts)
    lines = {trace.key: (x, series.values[trace.series_key]) for trace in traces}
    x_range = None
    if view.range is not None:
        ends = to_axis(np.asarray(view.range, dtype=float), mode, view.start_ts)
        x_range = [float(end) for end in ends]
    return build_figure(
        traces,
        lines,
        x_range,
        f"{view.experiment_id}-{mode.key}",
        x_axis=None if mode.seconds == 0 else _elapsed_axis(mode),
        line_shape="hv",
        height=GRAPH_HEIGHT_PX,
    )


def resolution_note(series: Series) -> str:
    """In words, what the graph shows: every sample, or summaries of how many each."""
    if not series.samples:
        return "No samples in this range."
    if series.raw:
        return f"Every sample of this range is drawn ({series.samples:,})."
    return (
        f"{series.samples:,} samples drawn as {len(series.ts):,} points, each group of "
        f"about {series.bucket:,} samples by its first, lowest, highest and last value; "
        "zoom in for detail, down to every sample."
    )


def _elapsed_axis(mode: AxisMode) -> dict[str, Any]:
    return {"type": "linear", "title": {"text": mode.title}, "rangemode": "tozero"}
