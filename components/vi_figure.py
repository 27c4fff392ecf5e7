"""The voltage and current graph that the monitor, the experiment page and the report share.

Voltage on the left axis, current on the right one, and the extras a user picks (power,
temperatures, cell voltages…) in a lower panel sharing the time axis. Figures are plain
dicts (Plotly's JSON), built without validating each property: a refresh sends them
whole, so they must be cheap to build.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from domain.formatting import plot_text

GRAPH_HEIGHT_PX = 560
COLORS = {"voltage": "#1f5fa8", "current": "#c0392b", "power": "#2e8b57"}
EXTRA_COLORS = ("#8e44ad", "#d35400", "#16a085", "#7f8c8d", "#b8860b", "#2c3e50")
# Rounding of the values sent: far below what a graph can show, and it halves the bytes.
Y_DECIMALS = 6
X_DECIMALS_MS = 1


class Channel(Protocol):
    """An extra channel as the figure needs it."""

    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def unit(self) -> str: ...


@dataclass(frozen=True)
class TraceDef:
    key: str  # "voltage", "current", "power" or "ch:<channel id>"
    name: str
    unit: str
    axis: str  # "y" (left), "y2" (right), "y3" (lower panel)

    @property
    def label(self) -> str:
        return f"{self.name} / {self.unit}" if self.unit else self.name

    @property
    def channel_id(self) -> int | None:
        return int(self.key[3:]) if self.key.startswith("ch:") else None

    @property
    def series_key(self) -> str | int:
        """The key of this trace's values in a `datastore.series.Series`."""
        return self.channel_id if self.channel_id is not None else self.key


VOLTAGE = TraceDef("voltage", "Voltage", "V", "y")
CURRENT = TraceDef("current", "Current", "A", "y2")
POWER = TraceDef("power", "Power", "W", "y3")


def extra_choices(channels: Sequence[Channel]) -> list[TraceDef]:
    """What an "also show" selector offers: power, then the experiment's extra channels."""
    return [POWER, *(TraceDef(f"ch:{c.id}", c.name, c.unit, "y3") for c in channels)]


def trace_defs(channels: Sequence[Channel], extra_keys: Sequence[str]) -> list[TraceDef]:
    """Voltage and current, then the chosen extras in the selector's order."""
    wanted = set(extra_keys or ())
    return [VOLTAGE, CURRENT, *(t for t in extra_choices(channels) if t.key in wanted)]


def x_values(ts: np.ndarray) -> list[float]:
    """Unix seconds as the milliseconds a date axis takes."""
    return np.round(np.asarray(ts) * 1000.0, X_DECIMALS_MS).tolist()


def y_values(values: np.ndarray) -> list[float | None]:
    """Values to send, NaN (no value) as a gap."""
    rounded = np.round(np.asarray(values, dtype=float), Y_DECIMALS)
    if np.isnan(rounded).any():
        return [None if value != value else value for value in rounded.tolist()]
    return rounded.tolist()


DATE_AXIS: dict[str, Any] = {"type": "date", "title": {"text": "Time (UTC)"}}


def build_figure(
    traces: Sequence[TraceDef],
    series: dict[str, tuple[np.ndarray, np.ndarray]],
    x_range: list[float] | None,
    revision: int | str,
    *,
    x_axis: dict[str, Any] | None = None,
    line_shape: str = "linear",
    height: int = GRAPH_HEIGHT_PX,
) -> dict[str, Any]:
    """The whole figure: voltage (left axis) and current (right axis) on top, the chosen
    extras in a lower panel sharing the x axis.

    `series` gives each trace's (x, y): x in Unix seconds for the date axis (the default),
    or already in the units of `x_axis` when one is given. `line_shape="hv"` draws each
    value held until the next sample, so a step stays square however far apart samples are.
    """
    lower = [trace for trace in traces if trace.axis == "y3"]
    dated = x_axis is None
    data = []
    extra_index = 0
    for trace in traces:
        x, y = series.get(trace.key, _nothing())
        if trace.key in COLORS:
            color = COLORS[trace.key]
        else:
            color = EXTRA_COLORS[extra_index % len(EXTRA_COLORS)]
            extra_index += 1
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": plot_text(trace.label),
                "x": x_values(x) if dated else np.asarray(x, dtype=float).tolist(),
                "y": y_values(y),
                "yaxis": trace.axis,
                "line": {"color": color, "width": 1.5, "shape": line_shape},
                "hovertemplate": (
                    f"%{{y:.4g}} {plot_text(trace.unit)}<extra>{plot_text(trace.name)}</extra>"
                ),
            }
        )
    upper_domain = [0.36, 1.0] if lower else [0.0, 1.0]
    layout: dict[str, Any] = {
        "height": height,
        # Same revision across refreshes: plotly keeps the user's zoom and legend clicks.
        "uirevision": str(revision),
        "margin": {"l": 70, "r": 70, "t": 40, "b": 50},
        "hovermode": "x unified",
        "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
        "plot_bgcolor": "white",
        "xaxis": {
            **(x_axis if x_axis is not None else DATE_AXIS),
            "anchor": "y3" if lower else "y",
            "showgrid": True,
            "gridcolor": "#eceff1",
            "linecolor": "#adb5bd",
        },
        "yaxis": {
            "title": {"text": VOLTAGE.label, "font": {"color": COLORS["voltage"]}},
            "domain": upper_domain,
            "gridcolor": "#eceff1",
            "zeroline": False,
            "linecolor": "#adb5bd",
        },
        "yaxis2": {
            "title": {"text": CURRENT.label, "font": {"color": COLORS["current"]}},
            "overlaying": "y",
            "side": "right",
            # Its own round ticks, not ones synced to the voltage grid (0.367, 0.092...).
            "tickmode": "auto",
            "showgrid": False,
            "zeroline": True,
            "zerolinecolor": "#f1c0b9",
            "linecolor": "#adb5bd",
        },
    }
    if x_range is not None:
        layout["xaxis"]["range"] = x_range
    if lower:
        units = sorted({trace.unit for trace in lower if trace.unit})
        layout["yaxis3"] = {
            "title": {"text": ", ".join(units) if units else "value"},
            "domain": [0.0, 0.28],
            "anchor": "x",
            "gridcolor": "#eceff1",
            "linecolor": "#adb5bd",
        }
    return {"data": data, "layout": layout}


def empty_figure(message: str = "No samples yet", height: int = GRAPH_HEIGHT_PX) -> dict[str, Any]:
    """A blank graph with a note in the middle."""
    return {
        "data": [],
        "layout": {
            "height": height,
            "xaxis": {"visible": False},
            "yaxis": {"visible": False},
            "annotations": [
                {
                    "text": message,
                    "showarrow": False,
                    "xref": "paper",
                    "yref": "paper",
                    "x": 0.5,
                    "y": 0.5,
                    "font": {"size": 16, "color": "#6c757d"},
                }
            ],
            "plot_bgcolor": "white",
        },
    }


def _nothing() -> tuple[np.ndarray, np.ndarray]:
    return np.array([], dtype=float), np.array([], dtype=float)
