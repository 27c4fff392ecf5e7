"""The sketch of a profile's set points: step number across, one panel per quantity.

A CC step is a current (A, or C while its C-rate is not resolved), a CV step a voltage
(V), a CP step a power (W); a WAIT rests at 0 A, so it is drawn in the current panel.
Each step is a short flat segment at its set point, coloured by mode, with the step,
cycle, source line and limit in the hover. The figure is a plain dict (Plotly's JSON).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from domain.formatting import plot_text
from domain.profiles import C_RATE_UNIT, Mode, PlannedStep, Sketch

MODE_COLORS = {
    Mode.CC: "#c0392b",
    Mode.CV: "#1f5fa8",
    Mode.CP: "#2e8b57",
    Mode.WAIT: "#7f8c8d",
}
PANEL_HEIGHT_PX = 190
# Half the width of a step's segment, in steps: neighbouring steps stay apart.
HALF_WIDTH = 0.4


@dataclass(frozen=True)
class Panel:
    """One quantity's panel: which steps it holds and how its axis is titled."""

    key: str
    title: str


CURRENT = Panel("A", "Current / A")
C_RATE = Panel(C_RATE_UNIT, "C-rate / C")
VOLTAGE = Panel("V", "Voltage / V")
POWER = Panel("W", "Power / W")
PANELS = (CURRENT, C_RATE, VOLTAGE, POWER)


def panel_of(step: PlannedStep) -> Panel:
    """Where a step is drawn: by the unit of its set point (a WAIT rests at 0 A)."""
    if step.mode is Mode.WAIT:
        return CURRENT
    return next(panel for panel in PANELS if panel.key == step.setpoint_unit)


def hover_text(step: PlannedStep) -> str:
    # Only the step's own words are escaped: the line break is Plotly markup.
    return (
        f"step {step.step} · cycle {step.cycle} · line {step.line}<br>{plot_text(step.describe())}"
    )


def sketch_figure(sketch: Sketch) -> dict[str, Any]:
    """The figure of `sketch`: only the panels its steps use, top to bottom in PANELS order."""
    used = [panel for panel in PANELS if any(panel_of(s) is panel for s in sketch.steps)]
    if not used:
        return {"data": [], "layout": {"height": PANEL_HEIGHT_PX}}
    gap = 0.06
    height = (1 - gap * (len(used) - 1)) / len(used)
    layout: dict[str, Any] = {
        "height": PANEL_HEIGHT_PX * len(used) + 80,
        "margin": {"l": 70, "r": 20, "t": 30, "b": 50},
        "hovermode": "closest",
        "legend": {"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
        "xaxis": {"title": {"text": "Step"}, "anchor": f"y{len(used)}", "zeroline": False},
        "plot_bgcolor": "white",
    }
    data: list[dict[str, Any]] = []
    for index, panel in enumerate(used, start=1):
        axis = "y" if index == 1 else f"y{index}"
        top = 1 - (index - 1) * (height + gap)
        layout["yaxis" if index == 1 else f"yaxis{index}"] = {
            "title": {"text": panel.title},
            "domain": [max(top - height, 0.0), top],
            "anchor": "x",
            "zeroline": True,
            "zerolinecolor": "#bbb",
            "gridcolor": "#eee",
        }
        for mode in (Mode.CC, Mode.CV, Mode.CP, Mode.WAIT):
            steps = [s for s in sketch.steps if s.mode is mode and panel_of(s) is panel]
            if steps:
                data.append(
                    _trace(steps, mode, axis, legend=not any(t["name"] == mode for t in data))
                )
    return {"data": data, "layout": layout}


def _trace(steps: list[PlannedStep], mode: Mode, axis: str, *, legend: bool) -> dict[str, Any]:
    x: list[float | None] = []
    y: list[float | None] = []
    text: list[str | None] = []
    for step in steps:
        value = 0.0 if step.setpoint is None else step.setpoint
        hover = hover_text(step)
        x += [step.step - HALF_WIDTH, step.step + HALF_WIDTH, None]
        y += [value, value, None]
        text += [hover, hover, None]
    return {
        "type": "scatter",
        "mode": "lines",
        "name": str(mode),
        "legendgroup": str(mode),
        "showlegend": legend,
        "x": x,
        "y": y,
        "yaxis": axis,
        "xaxis": "x",
        "text": text,
        "hovertemplate": "%{text}<extra></extra>",
        "line": {"color": MODE_COLORS[mode], "width": 4},
    }
