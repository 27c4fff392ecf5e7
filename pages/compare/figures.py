"""The compare page's figures, as plain dicts (Plotly's JSON): cheap to build and send.

Each experiment is one line whose colour says its colour-by value and whose dash says
its style-by value; the legend has one entry per value (the lines themselves stay out
of it, their hover names the experiment). Traces carry `meta` saying what they are
("experiment", "legend", "band-mean", "band-upper", "band-lower"), which the tests read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from domain.compare import (
    CompareView,
    CycleCurve,
    ExperimentFacts,
    cycle_curve,
    field_label,
    group_bands,
    merit,
    merit_axis_title,
    numeric_values,
    quantity_axis_title,
)
from domain.cycles import SECONDS_PER_HOUR, CycleTotals
from domain.formatting import plot_text

GRAPH_HEIGHT_PX = 520
SCATTER_HEIGHT_PX = 420
PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip
DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")
LEGEND_GREY = "#555555"
DECIMALS = 6
# Longer lines are drawn with WebGL and without markers, which stay readable and fast.
MARKERS_UP_TO = 300


@dataclass(frozen=True)
class Styles:
    """The colour of each colour-by value and the dash of each style-by value."""

    colors: dict[str, str]
    dashes: dict[str, str]

    @classmethod
    def of(cls, facts: Sequence[ExperimentFacts], view: CompareView) -> Styles:
        colour_values = sorted({f.label(view.color_by) for f in facts})
        style_values = sorted({f.label(view.style_by) for f in facts}) if view.style_by else []
        return cls(
            {value: PALETTE[i % len(PALETTE)] for i, value in enumerate(colour_values)},
            {value: DASHES[i % len(DASHES)] for i, value in enumerate(style_values)},
        )

    def color(self, facts: ExperimentFacts, view: CompareView) -> str:
        return self.colors[facts.label(view.color_by)]

    def dash(self, facts: ExperimentFacts, view: CompareView) -> str:
        return self.dashes[facts.label(view.style_by)] if view.style_by else "solid"


def _layout(x_title: str, y_title: str, height: int) -> dict[str, Any]:
    return {
        "height": height,
        "margin": {"l": 70, "r": 20, "t": 30, "b": 60},
        "xaxis": {"title": {"text": x_title}, "zeroline": False},
        "yaxis": {"title": {"text": y_title}, "zeroline": False},
        # Plotly reverses the legend of figures with filled areas; keep the trace order.
        "legend": {"orientation": "v", "traceorder": "normal"},
        "hovermode": "closest",
        "template": "plotly_white",
    }


def _legend(styles: Styles, view: CompareView) -> list[dict[str, Any]]:
    """One legend entry per colour value and per line-style value."""
    entries = [
        {
            "type": "scatter",
            "x": [None],
            "y": [None],
            "mode": "lines",
            "line": {"color": color, "width": 3},
            "name": plot_text(f"{field_label(view.color_by)}: {value}"),
            "meta": {"role": "legend", "by": "color", "value": value},
        }
        for value, color in styles.colors.items()
    ]
    entries += [
        {
            "type": "scatter",
            "x": [None],
            "y": [None],
            "mode": "lines",
            "line": {"color": LEGEND_GREY, "dash": dash, "width": 2},
            "name": plot_text(f"{field_label(view.style_by)}: {value}"),
            "meta": {"role": "legend", "by": "style", "value": value},
        }
        for value, dash in styles.dashes.items()
    ]
    return entries


def _rounded(values: Sequence[float | None]) -> list[float | None]:
    """Far below what a graph shows, and it keeps the JSON of long runs small."""
    return [None if v is None else round(v, DECIMALS) for v in values]


def _experiment_trace(
    facts: ExperimentFacts, x: Any, y: Any, styles: Styles, view: CompareView
) -> dict[str, Any]:
    """One experiment's line; WebGL and no markers beyond MARKERS_UP_TO points."""
    long = len(x) > MARKERS_UP_TO
    return {
        "type": "scattergl" if long else "scatter",
        "x": x,
        "y": y,
        "mode": "lines" if long else "lines+markers",
        "name": plot_text(f"#{facts.id} {facts.name}"),
        "line": {"color": styles.color(facts, view), "dash": styles.dash(facts, view)},
        "marker": {"size": 4},
        "showlegend": False,
        "connectgaps": False,
        "meta": {"role": "experiment", "id": facts.id, "group": facts.label(view.color_by)},
    }


def _rgba(color: str, alpha: float) -> str:
    red, green, blue = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red},{green},{blue},{alpha})"


def _band_traces(
    facts: Sequence[ExperimentFacts],
    curves: Mapping[int, CycleCurve],
    styles: Styles,
    view: CompareView,
) -> list[dict[str, Any]]:
    """Each group's mean line and its ± one standard deviation shading, over cycle number."""
    members = {
        f.id: dict(zip(curves[f.id].cycles, curves[f.id].values, strict=True)) for f in facts
    }
    bands = group_bands(members, {f.id: f.label(view.color_by) for f in facts})
    traces: list[dict[str, Any]] = []
    for group, band in sorted(bands.items()):
        color = styles.colors[group]
        mean, std = np.array(band.mean), np.array(band.std)
        common = {"type": "scatter", "x": band.cycles, "mode": "lines", "showlegend": False}
        traces += [
            {
                **common,
                "y": (mean + std).tolist(),
                "line": {"width": 0, "color": color},
                "hoverinfo": "skip",
                "meta": {"role": "band-upper", "group": group},
            },
            {
                **common,
                "y": (mean - std).tolist(),
                "line": {"width": 0, "color": color},
                "fill": "tonexty",
                "fillcolor": _rgba(color, 0.2),
                "hoverinfo": "skip",
                "meta": {"role": "band-lower", "group": group},
            },
            {
                **common,
                "y": band.mean,
                "customdata": [[s, n] for s, n in zip(band.std, band.count, strict=True)],
                "line": {"width": 3, "color": color},
                "name": plot_text(f"{group}: mean ± std"),
                "showlegend": True,
                "hovertemplate": "cycle %{x}<br>mean %{y:.4g} ± %{customdata[0]:.3g}"
                " (%{customdata[1]} experiments)<extra>%{fullData.name}</extra>",
                "meta": {"role": "band-mean", "group": group},
            },
        ]
    return traces


def cycle_figure(
    facts: Sequence[ExperimentFacts],
    tables: Mapping[int, Sequence[CycleTotals]],
    view: CompareView,
) -> dict[str, Any]:
    """Capacity or retention against cycle number or charge throughput, one line each."""
    styles = Styles.of(facts, view)
    curves = {f.id: cycle_curve(tables[f.id], f.nominal_capacity_ah, view) for f in facts}
    traces: list[dict[str, Any]] = []
    for f in facts:
        curve = curves[f.id]
        x = curve.cycles if view.plot == "cycle" else curve.throughput_ah
        traces.append(_experiment_trace(f, _rounded(x), _rounded(curve.values), styles, view))
    if view.bands and view.plot == "cycle":
        traces += _band_traces(facts, curves, styles, view)
    x_title = "Cycle" if view.plot == "cycle" else "Charge throughput (cumulative |Ah|)"
    return {
        "data": traces + _legend(styles, view),
        "layout": _layout(x_title, quantity_axis_title(view), GRAPH_HEIGHT_PX),
    }


def time_figure(
    facts: Sequence[ExperimentFacts],
    series: Mapping[int, tuple[np.ndarray, np.ndarray]],
    view: CompareView,
) -> dict[str, Any]:
    """Voltage against hours from each experiment's first sample; `series` is
    {experiment id: (ts, voltage)} from `datastore.series.read_series`."""
    styles = Styles.of(facts, view)
    traces = []
    for f in facts:
        ts, voltage = series[f.id]
        hours = (ts - ts[0]) / SECONDS_PER_HOUR if len(ts) else ts
        x, y = np.round(hours, DECIMALS).tolist(), np.round(voltage, DECIMALS).tolist()
        traces.append(_experiment_trace(f, x, y, styles, view))
    title = "Test time (h from each experiment's first sample)"
    return {
        "data": traces + _legend(styles, view),
        "layout": _layout(title, "Voltage (V)", GRAPH_HEIGHT_PX),
    }


def merit_figure(
    facts: Sequence[ExperimentFacts],
    tables: Mapping[int, Sequence[CycleTotals]],
    view: CompareView,
) -> tuple[dict[str, Any], list[str]]:
    """The figure of merit against a metadata field, one marker per experiment coloured
    by its group, and the experiments left out (no value) in words."""
    styles = Styles.of(facts, view)
    shown, missing = [], []
    for f in facts:
        value = merit(tables[f.id], f.nominal_capacity_ah, view)
        if value is None:
            missing.append(f"#{f.id} {f.name}")
        else:
            shown.append((f, value))
    numbers = numeric_values([f.value(view.merit_x) for f, _ in shown])
    xs: list[Any] = (
        numbers if numbers is not None else [plot_text(f.label(view.merit_x)) for f, _ in shown]
    )
    traces = []
    for group, color in styles.colors.items():
        points = [
            (x, f, v)
            for x, (f, v) in zip(xs, shown, strict=True)
            if f.label(view.color_by) == group
        ]
        if not points:
            continue
        traces.append(
            {
                "type": "scatter",
                "mode": "markers",
                "x": [x for x, _, _ in points],
                "y": [v for _, _, v in points],
                "text": [plot_text(f"#{f.id} {f.name}") for _, f, _ in points],
                "marker": {"color": color, "size": 11},
                "name": plot_text(f"{field_label(view.color_by)}: {group}"),
                "hovertemplate": "%{text}<br>%{x}: %{y:.4g}<extra></extra>",
                "meta": {"role": "merit", "group": group},
            }
        )
    layout = _layout(field_label(view.merit_x), merit_axis_title(view), SCATTER_HEIGHT_PX)
    if numbers is None:
        layout["xaxis"]["type"] = "category"
    return {"data": traces, "layout": layout}, missing
