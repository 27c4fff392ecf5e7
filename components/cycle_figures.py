"""The cycle analysis figures that the experiment page, the compare page and the report share.

Per cycle: capacity with retention, efficiencies, mean voltages. Per chosen cycle:
voltage against capacity and dQ/dV against voltage. Plain dicts (Plotly's JSON) styled
like `components.vi_figure`. What they show is defined in docs/analysis.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from components.vi_figure import COLORS, EXTRA_COLORS, empty_figure, y_values
from datastore.cycles import CycleSamples, cycle_samples
from datastore.engine import Bind
from domain.curves import CycleCurves, DqDv, dq_dv, voltage_capacity
from domain.cycles import DEFAULT_MAX_GAP_S, CycleCapacities, Retention, detection_threshold
from domain.formatting import plot_text

CYCLE_FIGURE_HEIGHT_PX = 360
CURVE_FIGURE_HEIGHT_PX = 440
CHARGE_COLOR = COLORS["current"]
DISCHARGE_COLOR = COLORS["voltage"]
RETENTION_COLOR = COLORS["power"]
# One colour per chosen cycle in the overlays, charge solid and discharge dashed.
CYCLE_COLORS = ("#1f5fa8", "#c0392b", "#2e8b57", *EXTRA_COLORS)


class CycleStats(CycleCapacities, Protocol):
    """A row of the cycle table as these figures need it (`datastore.cycles.CycleRow`)."""

    @property
    def coulombic_efficiency(self) -> float | None: ...
    @property
    def energy_efficiency(self) -> float | None: ...
    @property
    def mean_charge_voltage(self) -> float | None: ...
    @property
    def mean_discharge_voltage(self) -> float | None: ...


def retention_sentence(retention: Retention | None) -> str:
    """Cycles to 80 % retention in words, with what the percentages are relative to."""
    if retention is None:
        return "Retention: no reference capacity."
    reached = (
        f"cycle {retention.cycles_to_80}" if retention.cycles_to_80 is not None else "not reached"
    )
    return f"Cycles to 80 % retention: {reached}. Retention is relative to {retention.reference}."


def capacity_figure(
    cycles: Sequence[CycleStats], retention: Retention | None, revision: str = ""
) -> dict[str, Any]:
    """Charge and discharge capacity per cycle (Ah, left axis) and the discharge
    retention (%, right axis) with an 80 % line."""
    if not cycles:
        return empty_figure("No cycles yet", CYCLE_FIGURE_HEIGHT_PX)
    x = [c.cycle for c in cycles]
    data = [
        _per_cycle(x, [c.charge_ah for c in cycles], "Charge / Ah", CHARGE_COLOR, "Ah"),
        _per_cycle(x, [c.discharge_ah for c in cycles], "Discharge / Ah", DISCHARGE_COLOR, "Ah"),
    ]
    layout = _cycle_layout("Capacity / Ah", revision)
    if retention is not None:
        data.append(
            {
                **_per_cycle(x, retention.percent, "Retention / %", RETENTION_COLOR, "%"),
                "yaxis": "y2",
                "line": {"color": RETENTION_COLOR, "width": 1.5, "dash": "dot"},
            }
        )
        layout["yaxis2"] = {
            "title": {"text": "Retention / %", "font": {"color": RETENTION_COLOR}},
            "overlaying": "y",
            "side": "right",
            # Its own round ticks, not ones synced to the capacity grid.
            "tickmode": "auto",
            "showgrid": False,
            "rangemode": "tozero",
            "linecolor": "#adb5bd",
        }
        layout["shapes"] = [
            {
                "type": "line",
                "xref": "paper",
                "x0": 0,
                "x1": 1,
                "yref": "y2",
                "y0": 80,
                "y1": 80,
                "line": {"color": RETENTION_COLOR, "width": 1, "dash": "dash"},
            }
        ]
    # The sentence above the legend, which sits just above the plot.
    layout["title"] = {
        "text": retention_sentence(retention),
        "font": {"size": 13},
        "x": 0.01,
        "xanchor": "left",
        "yref": "container",
        "y": 0.98,
        "yanchor": "top",
    }
    layout["margin"] = {**layout["margin"], "t": 80}
    return {"data": data, "layout": layout}


def efficiency_figure(cycles: Sequence[CycleStats], revision: str = "") -> dict[str, Any]:
    """Coulombic and energy efficiency per cycle, in %."""
    if not cycles:
        return empty_figure("No cycles yet", CYCLE_FIGURE_HEIGHT_PX)
    x = [c.cycle for c in cycles]
    data = [
        _per_cycle(x, _percent([c.coulombic_efficiency for c in cycles]), "Coulombic / %",
                   DISCHARGE_COLOR, "%"),
        _per_cycle(x, _percent([c.energy_efficiency for c in cycles]), "Energy / %",
                   RETENTION_COLOR, "%"),
    ]  # fmt: skip
    return {"data": data, "layout": _cycle_layout("Efficiency / %", revision)}


def mean_voltage_figure(cycles: Sequence[CycleStats], revision: str = "") -> dict[str, Any]:
    """Mean charge and discharge voltage per cycle (energy over capacity), in V."""
    if not cycles:
        return empty_figure("No cycles yet", CYCLE_FIGURE_HEIGHT_PX)
    x = [c.cycle for c in cycles]
    data = [
        _per_cycle(x, [c.mean_charge_voltage for c in cycles], "Charge / V", CHARGE_COLOR, "V"),
        _per_cycle(x, [c.mean_discharge_voltage for c in cycles], "Discharge / V",
                   DISCHARGE_COLOR, "V"),
    ]  # fmt: skip
    return {"data": data, "layout": _cycle_layout("Mean voltage / V", revision)}


def voltage_capacity_figure(
    curves: Mapping[int, CycleCurves], revision: str = ""
) -> dict[str, Any]:
    """Voltage against capacity of the chosen cycles: charge solid, discharge dashed."""
    data = []
    for index, (cycle, curve) in enumerate(sorted(curves.items())):
        color = CYCLE_COLORS[index % len(CYCLE_COLORS)]
        for half, name, dash in ((curve.charge, "charge", "solid"),
                                 (curve.discharge, "discharge", "dash")):  # fmt: skip
            if len(half):
                data.append(
                    _curve(half.capacity_ah, half.voltage, f"cycle {cycle} {name}", color, dash,
                           "%{y:.4g} V at %{x:.4g} Ah")
                )  # fmt: skip
    if not data:
        return empty_figure("No charge or discharge in the chosen cycles", CURVE_FIGURE_HEIGHT_PX)
    layout = _curve_layout("Capacity / Ah", "Voltage / V", revision)
    return {"data": data, "layout": layout}


def dq_dv_figure(curves: Mapping[int, tuple[DqDv, DqDv]], revision: str = "") -> dict[str, Any]:
    """dQ/dV against voltage of the chosen cycles (charge, discharge): charge positive and
    solid, discharge negative and dashed."""
    data = []
    for index, (cycle, (charge, discharge)) in enumerate(sorted(curves.items())):
        color = CYCLE_COLORS[index % len(CYCLE_COLORS)]
        for half, name, dash in ((charge, "charge", "solid"), (discharge, "discharge", "dash")):
            if len(half):
                data.append(
                    _curve(half.voltage, half.dq_dv, f"cycle {cycle} {name}", color, dash,
                           "%{y:.4g} Ah/V at %{x:.4g} V")
                )  # fmt: skip
    if not data:
        return empty_figure("Too little voltage change for dQ/dV", CURVE_FIGURE_HEIGHT_PX)
    return {"data": data, "layout": _curve_layout("Voltage / V", "dQ/dV / (Ah/V)", revision)}


# ---------------------------------------------------------------- curves of chosen cycles


def default_cycles(numbers: Sequence[int]) -> list[int]:
    """The first, the middle and the last cycle (fewer when there are fewer)."""
    if not numbers:
        return []
    return sorted({numbers[0], numbers[len(numbers) // 2], numbers[-1]})


@dataclass(frozen=True)
class ChosenCurves:
    """The V–Q and dQ/dV figures of chosen cycles, and a note on how they were read."""

    voltage_capacity: dict[str, Any]
    dq_dv: dict[str, Any]
    note: str


def chosen_cycle_curves(
    bind: Bind,
    experiment_id: int,
    numbers: Sequence[int],
    nominal_capacity_ah: float | None,
    *,
    revision: str = "",
) -> ChosenCurves:
    """Read the chosen cycles' samples and draw their V–Q and dQ/dV curves."""
    read = cycle_samples(bind, experiment_id, list(numbers))
    threshold = detection_threshold(nominal_capacity_ah)
    curves = {number: _curves(samples, threshold) for number, samples in read.items()}
    derivatives = {number: (dq_dv(c.charge), dq_dv(c.discharge)) for number, c in curves.items()}
    return ChosenCurves(
        voltage_capacity_figure(curves, revision),
        dq_dv_figure(derivatives, revision),
        curves_note(read.values()),
    )


def _curves(samples: CycleSamples, threshold_a: float) -> CycleCurves:
    # Reading every k-th sample makes intervals k times longer: the gap that counts as a
    # hole in the data grows with them.
    return voltage_capacity(
        samples.ts,
        samples.voltage,
        samples.current,
        threshold_a=threshold_a,
        max_gap_s=DEFAULT_MAX_GAP_S * samples.stride,
    )


def curves_note(read: Iterable[CycleSamples]) -> str:
    """Which curves were drawn from a part of their samples."""
    thinned = [
        f"cycle {s.cycle}: 1 sample in {s.stride} of {s.total:,}"
        for s in sorted(read, key=_cycle_of)
        if s.stride > 1
    ]
    if not thinned:
        return "Every sample of the chosen cycles is used."
    return "Long cycles are read evenly thinned, " + "; ".join(thinned) + "."


def _cycle_of(samples: CycleSamples) -> int:
    return samples.cycle


# ---------------------------------------------------------------- helpers


def _percent(fractions: Sequence[float | None]) -> list[float | None]:
    return [None if value is None else 100 * value for value in fractions]


def _per_cycle(
    x: Sequence[int], y: Sequence[float | None], name: str, color: str, unit: str
) -> dict[str, Any]:
    values = np.array([np.nan if value is None else value for value in y], dtype=float)
    return {
        "type": "scatter",
        "mode": "lines+markers",
        "name": plot_text(name),
        "x": list(x),
        "y": y_values(values),
        "line": {"color": color, "width": 1.5},
        "marker": {"color": color, "size": 5},
        "hovertemplate": f"cycle %{{x}}: %{{y:.4g}} {unit}<extra>{plot_text(name)}</extra>",
    }


def _curve(
    x: np.ndarray, y: np.ndarray, name: str, color: str, dash: str, hover: str
) -> dict[str, Any]:
    return {
        "type": "scatter",
        "mode": "lines",
        "name": plot_text(name),
        "x": y_values(x),
        "y": y_values(y),
        "line": {"color": color, "width": 1.5, "dash": dash},
        "hovertemplate": f"{hover}<extra>{plot_text(name)}</extra>",
    }


def _axis(title: str, **more: Any) -> dict[str, Any]:
    return {
        "title": {"text": title},
        "gridcolor": "#eceff1",
        "linecolor": "#adb5bd",
        "zeroline": False,
        **more,
    }


def _cycle_layout(y_title: str, revision: str) -> dict[str, Any]:
    return {
        "height": CYCLE_FIGURE_HEIGHT_PX,
        "uirevision": revision,
        "margin": {"l": 70, "r": 70, "t": 40, "b": 50},
        "hovermode": "x unified",
        "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom", "xanchor": "left"},
        "plot_bgcolor": "white",
        "xaxis": _axis("Cycle", tickformat="d", rangemode="tozero"),
        "yaxis": _axis(y_title),
    }


def _curve_layout(x_title: str, y_title: str, revision: str) -> dict[str, Any]:
    return {
        "height": CURVE_FIGURE_HEIGHT_PX,
        "uirevision": revision,
        "margin": {"l": 70, "r": 30, "t": 40, "b": 50},
        "hovermode": "closest",
        "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
        "plot_bgcolor": "white",
        "xaxis": _axis(x_title),
        "yaxis": _axis(y_title),
    }
