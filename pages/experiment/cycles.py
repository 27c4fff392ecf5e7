"""The experiment page's "Cycles" section: the cycle table, its plots and the curves of
chosen cycles (docs/analysis.md).

Capacity with retention (of the first full cycle or of the nominal capacity, a toggle),
efficiencies and mean voltages per cycle come from the stored cycle table, a small read
that a running experiment repeats at each refresh. V–Q and dQ/dV of the picked cycles
read those cycles' samples (`datastore.cycles.cycle_samples`) when the pick changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, dcc, html, no_update

from components import context
from components.cycle_figures import (
    CURVE_FIGURE_HEIGHT_PX,
    CYCLE_FIGURE_HEIGHT_PX,
    capacity_figure,
    chosen_cycle_curves,
    default_cycles,
    efficiency_figure,
    mean_voltage_figure,
)
from components.tables import record_grid
from components.urls import cycle_csv_url
from components.vi_figure import empty_figure
from datastore.cycles import CycleRow, experiment_cycles
from datastore.experiments import ExperimentDetail, experiment_detail
from domain.cycles import retention
from domain.formatting import format_utc
from pages.experiment import ids
from pages.experiment.graph import GraphView

FIRST_CYCLE = "first"
NOMINAL = "nominal"
GRAPH_CONFIG: Any = {"displaylogo": False, "responsive": True}
HIDDEN = {"display": "none"}
SHOWN: dict[str, str] = {}


def section(detail: ExperimentDetail | None, cycles: Sequence[CycleRow]) -> html.Div:
    """The section with its data (`detail` None: no data, for the validation layout).
    Hidden, with a sentence saying why, while the experiment has no cycles."""
    experiment_id = detail.id if detail else 0
    numbers = [c.cycle for c in cycles]
    nominal = detail.nominal_capacity_ah if detail else None
    return html.Div(
        [
            html.H4("Cycles", className="mt-4"),
            html.Div(_why_empty(detail, cycles), id=ids.CYCLES_EMPTY, className="text-muted"),
            html.Div(
                [
                    dbc.Row(
                        [
                            dbc.Col(
                                [
                                    dbc.Label("Retention relative to", className="small mb-0 me-2"),
                                    dbc.RadioItems(
                                        id=ids.CYCLE_BASIS,
                                        options=[
                                            {"label": "the first full cycle", "value": FIRST_CYCLE},
                                            {
                                                "label": "the nominal capacity",
                                                "value": NOMINAL,
                                                "disabled": not nominal,
                                            },
                                        ],  # fmt: skip
                                        value=FIRST_CYCLE,
                                        inline=True,
                                    ),
                                ],
                                className="d-flex align-items-center",
                            ),
                            dbc.Col(
                                dbc.Button(
                                    [
                                        html.I(className="bi bi-download me-1"),
                                        "Download cycle table (CSV)",
                                    ],
                                    id=ids.CYCLE_CSV,
                                    href=cycle_csv_url(experiment_id),
                                    external_link=True,
                                    color="primary",
                                    outline=True,
                                    size="sm",
                                ),  # fmt: skip
                                width="auto",
                            ),
                        ],
                        className="g-2 mb-1 align-items-center",
                    ),
                    _graph(ids.CYCLE_CAPACITY, CYCLE_FIGURE_HEIGHT_PX),
                    dbc.Row(
                        [
                            dbc.Col(_graph(ids.CYCLE_EFFICIENCY, CYCLE_FIGURE_HEIGHT_PX), lg=6),
                            dbc.Col(_graph(ids.CYCLE_VOLTAGE, CYCLE_FIGURE_HEIGHT_PX), lg=6),
                        ],
                        className="g-2",
                    ),
                    html.H5("Curves of chosen cycles", className="mt-3"),
                    dcc.Dropdown(
                        id=ids.CYCLE_PICKER,
                        options=_picker_options(numbers),
                        value=default_cycles(numbers),
                        multi=True,
                        placeholder="Choose cycles…",
                    ),
                    dbc.Row(
                        [
                            dbc.Col(_graph(ids.CYCLE_VQ, CURVE_FIGURE_HEIGHT_PX), lg=6),
                            dbc.Col(_graph(ids.CYCLE_DQDV, CURVE_FIGURE_HEIGHT_PX), lg=6),
                        ],
                        className="g-2",
                    ),
                    html.Div(id=ids.CYCLE_CURVES_NOTE, className="text-muted small"),
                    html.H5("Cycle table", className="mt-3"),
                    record_grid(ids.CYCLE_TABLE, table_rows(cycles), TABLE_COLUMNS, height=420),
                ],
                id=ids.CYCLES,
                style=SHOWN if cycles else HIDDEN,
            ),
        ]
    )


def _why_empty(detail: ExperimentDetail | None, cycles: Sequence[CycleRow]) -> str:
    if detail is None or cycles:
        return ""
    if not detail.sample_count:
        return "No samples yet, so there are no cycles to analyse."
    return "The samples are not yet counted into cycles; this section appears when they are."


def _graph(graph_id: str, height: int) -> dcc.Graph:
    return dcc.Graph(id=graph_id, config=GRAPH_CONFIG, style={"height": f"{height}px"})


def _picker_options(numbers: Sequence[int]) -> list[dict[str, Any]]:
    return [{"label": f"cycle {number}", "value": number} for number in numbers]


# ---------------------------------------------------------------- the cycle table


def _number(field: str, header: str, width: int = 110) -> dict[str, Any]:
    return {"field": field, "headerName": header, "type": "numericColumn", "minWidth": width}


TABLE_COLUMNS = [
    _number("cycle", "Cycle", 80),
    {"field": "start", "headerName": "Start (UTC)", "minWidth": 170},
    _number("duration_h", "Duration / h"),
    _number("charge_ah", "Charge / Ah"),
    _number("discharge_ah", "Discharge / Ah"),
    _number("charge_wh", "Charge / Wh"),
    _number("discharge_wh", "Discharge / Wh"),
    _number("coulombic_pct", "Coulombic eff. / %"),
    _number("energy_pct", "Energy eff. / %"),
    _number("mean_charge_v", "Mean charge / V"),
    _number("mean_discharge_v", "Mean discharge / V"),
]


def _round(value: float | None, decimals: int, scale: float = 1.0) -> float | None:
    return None if value is None else round(value * scale, decimals)


def table_rows(cycles: Sequence[CycleRow]) -> list[dict[str, Any]]:
    """The cycle table as the grid shows it: numbers rounded to what they mean (0.1 mAh,
    0.01 %, 0.1 mV), so they still sort as numbers."""
    return [
        {
            "cycle": c.cycle,
            "start": format_utc(c.start_ts, with_date=True),
            "duration_h": round(c.duration_s / 3600, 3),
            "charge_ah": round(c.charge_ah, 4),
            "discharge_ah": round(c.discharge_ah, 4),
            "charge_wh": round(c.charge_wh, 4),
            "discharge_wh": round(c.discharge_wh, 4),
            "coulombic_pct": _round(c.coulombic_efficiency, 2, 100),
            "energy_pct": _round(c.energy_efficiency, 2, 100),
            "mean_charge_v": _round(c.mean_charge_voltage, 4),
            "mean_discharge_v": _round(c.mean_discharge_voltage, 4),
        }
        for c in cycles
    ]


# ---------------------------------------------------------------- callbacks


@callback(
    Output(ids.CYCLE_CAPACITY, "figure"),
    Output(ids.CYCLE_EFFICIENCY, "figure"),
    Output(ids.CYCLE_VOLTAGE, "figure"),
    Output(ids.CYCLE_TABLE, "rowData"),
    Output(ids.CYCLE_PICKER, "options"),
    Output(ids.CYCLES, "style"),
    Output(ids.CYCLES_EMPTY, "children"),
    Input(ids.CYCLE_BASIS, "value"),
    Input(ids.INTERVAL, "n_intervals"),
    State(ids.VIEW, "data"),
)
def refresh_cycles(
    basis: str | None, _n_intervals: int | None, stored: dict[str, Any] | None
) -> tuple[Any, ...]:
    """Per-cycle plots and table from the stored cycle table: on load, on a new basis
    for retention, and at each refresh of a running experiment. The picked cycles stay
    as they are (the layout picks the defaults): setting them here would hold back the
    curves' first drawing, which waits on this callback."""
    view = GraphView.from_store(stored)
    if view is None:
        return (no_update,) * 7
    with context.session() as session:
        detail = experiment_detail(session, view.experiment_id)
        cycles = experiment_cycles(session, view.experiment_id)
    if detail is None:
        return (no_update,) * 7
    of_nominal = basis == NOMINAL
    kept = retention(cycles, detail.nominal_capacity_ah, of_nominal=of_nominal)
    revision = f"{view.experiment_id}-cycles"
    return (
        capacity_figure(cycles, kept, f"{revision}-{basis}"),
        efficiency_figure(cycles, revision),
        mean_voltage_figure(cycles, revision),
        table_rows(cycles),
        _picker_options([c.cycle for c in cycles]),
        SHOWN if cycles else HIDDEN,
        _why_empty(detail, cycles),
    )


@callback(
    Output(ids.CYCLE_VQ, "figure"),
    Output(ids.CYCLE_DQDV, "figure"),
    Output(ids.CYCLE_CURVES_NOTE, "children"),
    Input(ids.CYCLE_PICKER, "value"),
    State(ids.VIEW, "data"),
)
def draw_curves(picked: list[int] | None, stored: dict[str, Any] | None) -> tuple[Any, ...]:
    """V–Q and dQ/dV of the chosen cycles, from their samples."""
    view = GraphView.from_store(stored)
    if view is None:
        return no_update, no_update, no_update
    numbers = [int(number) for number in picked or []]
    if not numbers:
        nothing = empty_figure("Choose cycles to draw their curves", CURVE_FIGURE_HEIGHT_PX)
        return nothing, nothing, ""
    with context.session() as session:
        detail = experiment_detail(session, view.experiment_id)
        drawn = chosen_cycle_curves(
            session,
            view.experiment_id,
            numbers,
            detail.nominal_capacity_ah if detail else None,
            revision=f"{view.experiment_id}-curves",
        )
    return drawn.voltage_capacity, drawn.dq_dv, drawn.note
