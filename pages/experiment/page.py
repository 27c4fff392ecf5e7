"""An experiment's page, `/experiments/<id>`: every experiment, queued, running or done.

The facts (battery, station, profile, dates, duration, status and its reason, sample
count), the graph of voltage and current over the whole experiment with any extra
channel on demand, its time axis in time of day or time from the start, the cycle
analysis (`pages/experiment/cycles.py`), the profile's steps in words, the alarms, the
CSV downloads and the HTML report. A running experiment's page keeps itself current.
The graph, the facts and the cycles refresh in separate callbacks, so one failing never
blanks the others.
"""

from __future__ import annotations

from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import (
    ClientsideFunction,
    Input,
    Output,
    State,
    callback,
    clientside_callback,
    ctx,
    dcc,
    html,
    no_update,
)

from components import context
from components.alarms import alarms_table
from components.not_found import not_found
from components.station_card import status_badge
from components.urls import (
    EXPERIMENTS_URL,
    battery_url,
    experiment_csv_url,
    experiment_report_url,
    monitor_url,
    profile_url,
)
from components.vi_figure import extra_choices, trace_defs
from datastore.cycles import CycleRow, experiment_cycles
from datastore.experiments import ExperimentDetail, experiment_detail
from datastore.telemetry import (
    ALARM_LIMIT,
    ChannelInfo,
    experiment_alarms,
    experiment_channels,
    step_plan,
)
from domain.experiment_details import describe_details
from domain.formatting import format_duration, format_utc
from domain.status import ExperimentStatus
from domain.step_plan import StepPlan, describe_instruction
from domain.time_axis import AXIS_MODES, TIME_OF_DAY, axis_mode, zoomed_range
from pages.experiment import cycles as cycles_section
from pages.experiment import ids
from pages.experiment.graph import GRAPH_HEIGHT_PX, GraphView, figure, read_view, resolution_note

dash.register_page(
    __name__,
    path_template="/experiments/<experiment_id>",
    name="Experiment",
    title="Experiment",
    # After the pages with fixed paths under /experiments (new, import, compare): Dash
    # matches pages in this order, and "new" must not be taken for an experiment id.
    order=1000,
)

REFRESH_MS = 5_000
STEPS_SHOWN = 400
GRAPH_CONFIG: Any = {"displaylogo": False, "responsive": True}


# ---------------------------------------------------------------- layout


def layout(experiment_id: str | None = None, **_params: str) -> html.Div:
    try:
        number = int(experiment_id or "")
    except ValueError:
        return _not_found(f"“{experiment_id}” is not an experiment number.")
    with context.session() as session:
        detail = experiment_detail(session, number)
        if detail is None:
            return _not_found(f"There is no experiment {number}.")
        channels = experiment_channels(session, number)
        plan = step_plan(session, number, detail.created_at)
        alarms = experiment_alarms(session, number, ALARM_LIMIT)
        cycles = experiment_cycles(session, number)
        view = GraphView(number, TIME_OF_DAY.key, detail.first_sample_at)
        traces = trace_defs(channels, [])
        series = read_view(session.connection(), view, traces)
    return _page(
        detail, channels, plan, alarms_table(alarms, detail.alarm_count), view, series, cycles
    )


def validation_layout() -> html.Div:
    """The page's components without data, for checking the callbacks' ids."""
    return html.Div(
        [
            *(html.Div(id=name) for name in (ids.STATUS, ids.REASON, ids.FACTS, ids.ALARMS)),
            _toolbar([]),
            _graph(GraphView(0, TIME_OF_DAY.key, None), None),
            cycles_section.section(None, []),
            _stores(0, False),
        ]
    )


def _not_found(message: str) -> html.Div:
    return not_found("Experiment", message, "See all experiments", EXPERIMENTS_URL, ids.NOT_FOUND)


def _page(
    detail: ExperimentDetail,
    channels: list[ChannelInfo],
    plan: StepPlan,
    alarms: Any,
    view: GraphView,
    series: Any,
    cycles: list[CycleRow],
) -> html.Div:
    return html.Div(
        [
            html.Div(
                [
                    dcc.Link("Experiments", href=EXPERIMENTS_URL, className="text-muted small"),
                    html.Div(
                        [
                            html.H2(detail.name, id=ids.TITLE, className="mb-0 me-3"),
                            html.Span(_status(detail), id=ids.STATUS),
                        ],
                        className="d-flex align-items-center flex-wrap",
                    ),
                    html.Div(detail.description, className="text-muted")
                    if detail.description
                    else None,
                ],
                className="mb-2",
            ),
            html.Div(_reason(detail), id=ids.REASON),
            html.Div(_facts(detail), id=ids.FACTS, className="mb-3"),
            _toolbar(channels, detail.id),
            _graph(view, series),
            cycles_section.section(detail, cycles),
            dbc.Row(
                [
                    dbc.Col(
                        [
                            html.H5("Profile and steps"),
                            html.Div(_steps(detail, plan), id=ids.STEPS),
                        ],
                        lg=7,
                    ),
                    dbc.Col([html.H5("Alarms"), html.Div(alarms, id=ids.ALARMS)], lg=5),
                ],
                className="mt-3 g-4",
            ),
            _stores(
                detail.id, detail.status.is_active or detail.status == ExperimentStatus.QUEUED, view
            ),
        ]
    )


def _status(detail: ExperimentDetail) -> Any:
    badge = status_badge(detail.status, className="fs-6")
    if detail.imported:
        return [badge, dbc.Badge("imported", color="info", className="ms-2 fs-6")]
    return badge


def _reason(detail: ExperimentDetail) -> Any:
    if (
        detail.status not in (ExperimentStatus.ERROR, ExperimentStatus.CANCELLED)
        or not detail.status_message
    ):
        return None
    color = "danger" if detail.status == ExperimentStatus.ERROR else "secondary"
    return dbc.Alert(
        [html.Strong("Why it ended: "), detail.status_message], color=color, className="py-2"
    )


def _fact(label: str, value: Any) -> dbc.Col:
    return dbc.Col(
        [html.Div(label, className="text-muted small"), html.Div(value, className="fw-semibold")],
        xs=6,
        md=4,
        xl=2,
        className="mb-2",
    )


def _facts(detail: ExperimentDetail) -> dbc.Row:
    battery: list[Any] = [dcc.Link(detail.battery_name, href=battery_url(detail.battery_id))]
    kind = " · ".join(
        part
        for part in (
            detail.technology,
            detail.chemistry,
            f"{detail.nominal_capacity_ah:g} Ah" if detail.nominal_capacity_ah else None,
        )
        if part
    )
    if kind:
        battery.append(html.Div(kind, className="small text-muted fw-normal"))
    station: Any = (
        "–"
        if detail.station_id is None
        else dcc.Link(
            detail.station_name or f"station {detail.station_id}",
            href=monitor_url(detail.station_id),
        )
    )
    return dbc.Row(
        [
            _fact("Battery", battery),
            _fact("Station", station if not detail.imported else "imported from a file"),
            _fact(
                "Profile",
                dcc.Link(detail.profile_name, href=profile_url(detail.profile_id))
                if detail.profile_id is not None and detail.profile_name
                else "–",
            ),
            _fact("Samples", f"{detail.sample_count:,}"),
            _fact("Alarms", f"{detail.alarm_count:,}"),
            _fact("Duration", format_duration(detail.duration_s)),
            _fact("Created", format_utc(detail.created_at, with_date=True)),
            _fact("Began", format_utc(detail.began_at, with_date=True)),
            _fact("Finished", format_utc(detail.finished_at, with_date=True)),
            _fact("First sample", format_utc(detail.first_sample_at, with_date=True)),
            _fact("Last sample", format_utc(detail.last_sample_at, with_date=True)),
            _fact("Experiment id", str(detail.id)),
            *(_fact(label, value) for label, value in describe_details(detail.details)),
        ],
        className="g-2",
    )


def _toolbar(channels: list[ChannelInfo], experiment_id: int = 0) -> dbc.Row:
    return dbc.Row(
        [
            dbc.Col(
                [
                    dbc.Label("Time axis", className="small text-muted mb-0"),
                    dbc.Select(
                        id=ids.AXIS,
                        options=[{"label": mode.label, "value": mode.key} for mode in AXIS_MODES],
                        value=TIME_OF_DAY.key,
                        size="sm",
                    ),
                ],
                width="auto",
            ),
            dbc.Col(
                [
                    dbc.Label("Also show", className="small text-muted mb-0"),
                    dcc.Dropdown(
                        id=ids.EXTRAS,
                        options=[
                            {"label": trace.label, "value": trace.key}
                            for trace in extra_choices(channels)
                        ],
                        value=[],
                        multi=True,
                        placeholder="power, temperatures, cell voltages…",
                    ),
                ]
            ),
            dbc.Col(
                dbc.ButtonGroup(
                    [
                        dbc.Button(
                            [html.I(className="bi bi-download me-1"), "CSV, whole experiment"],
                            id=ids.CSV_ALL,
                            href=experiment_csv_url(experiment_id),
                            external_link=True,
                            color="primary",
                            outline=True,
                            size="sm",
                        ),
                        dbc.Button(
                            [html.I(className="bi bi-download me-1"), "CSV, range shown"],
                            id=ids.CSV_VIEW,
                            href=experiment_csv_url(experiment_id),
                            external_link=True,
                            color="secondary",
                            outline=True,
                            size="sm",
                        ),
                        dbc.Button(
                            [html.I(className="bi bi-file-earmark-richtext me-1"), "Report"],
                            id=ids.REPORT,
                            href=experiment_report_url(experiment_id),
                            external_link=True,
                            target="_blank",
                            color="secondary",
                            outline=True,
                            size="sm",
                        ),
                    ]
                ),
                width="auto",
                className="align-self-end",
            ),
        ],
        className="g-2 mb-1 align-items-end",
    )


def _graph(view: GraphView, series: Any) -> html.Div:
    traces = trace_defs([], [])
    shown = figure(view, traces, series) if series is not None else {}
    return html.Div(
        [
            dcc.Graph(
                id=ids.GRAPH,
                figure=shown,
                config=GRAPH_CONFIG,
                style={"height": f"{GRAPH_HEIGHT_PX}px"},
            ),
            html.Div(
                resolution_note(series) if series is not None else "",
                id=ids.RESOLUTION,
                className="text-muted small",
            ),
        ]
    )


def _steps(detail: ExperimentDetail, plan: StepPlan) -> Any:
    if detail.imported and not plan.total:
        return html.Div("Imported from a file: no profile was run here.", className="text-muted")
    parts: list[Any] = []
    if detail.profile_source:
        parts.append(
            html.Pre(detail.profile_source, className="bg-light p-2 small border rounded mb-2")
        )
    if plan.total:
        rows = [
            html.Tr(
                [
                    html.Td(step.step, className="text-muted"),
                    html.Td(step.cycle or 1),
                    html.Td(describe_instruction(step)),
                ]
            )
            for step in plan.steps[:STEPS_SHOWN]
        ]
        parts.append(
            html.Div(
                f"{plan.total:,} steps once expanded, in {plan.cycles:,} cycles"
                + (f"; the first {STEPS_SHOWN} are listed." if plan.total > STEPS_SHOWN else "."),
                className="small text-muted mb-1",
            )
        )
        parts.append(
            html.Div(
                dbc.Table(
                    [
                        html.Thead(html.Tr([html.Th("Step"), html.Th("Cycle"), html.Th("Does")])),
                        html.Tbody(rows),
                    ],
                    size="sm",
                    striped=True,
                    className="mb-0",
                ),
                style={"maxHeight": "360px", "overflowY": "auto"},
            )
        )
    return parts or html.Div("No profile.", className="text-muted")


def _stores(experiment_id: int, live: bool, view: GraphView | None = None) -> html.Div:
    view = view or GraphView(experiment_id, TIME_OF_DAY.key, None)
    return html.Div(
        [
            dcc.Store(id=ids.VIEW, data=view.to_store()),
            dcc.Store(id=ids.ZOOM),
            dcc.Interval(id=ids.INTERVAL, interval=REFRESH_MS, disabled=not live),
        ]
    )


# ---------------------------------------------------------------- callbacks


# Only the graph's events about its x axis go on to `redraw` (assets/clientside.js).
clientside_callback(
    ClientsideFunction("bem", "xAxisEvents"),
    Output(ids.ZOOM, "data"),
    Input(ids.GRAPH, "relayoutData"),
    prevent_initial_call=True,
)


@callback(
    Output(ids.GRAPH, "figure"),
    Output(ids.VIEW, "data"),
    Output(ids.RESOLUTION, "children"),
    Output(ids.CSV_VIEW, "href"),
    Input(ids.ZOOM, "data"),
    Input(ids.AXIS, "value"),
    Input(ids.EXTRAS, "value"),
    Input(ids.INTERVAL, "n_intervals"),
    State(ids.VIEW, "data"),
    prevent_initial_call=True,
)
def redraw(
    relayout: dict[str, Any] | None,
    mode_key: str | None,
    extras: list[str] | None,
    _n_intervals: int | None,
    stored: dict[str, Any] | None,
) -> tuple[Any, ...]:
    """Read the points for what is on screen: after a zoom or pan, a new axis, other
    extras, or (while the experiment runs and the whole of it is shown) new samples."""
    view = GraphView.from_store(stored)
    if view is None:
        return no_update, no_update, no_update, no_update
    trigger = ctx.triggered_id
    mode = axis_mode(mode_key)
    if trigger == ids.ZOOM:
        zoom = zoomed_range(relayout, axis_mode(view.mode), view.start_ts or 0.0)
        if zoom is None:
            return no_update, no_update, no_update, no_update
        view.range = None if zoom is False else zoom
    elif trigger == ids.AXIS:
        view.mode, view.range = mode.key, None
    elif trigger == ids.INTERVAL and view.range is not None:
        return no_update, no_update, no_update, no_update  # the user looks at a fixed range
    with context.session() as session:
        if view.start_ts is None:  # the first samples may have arrived since the page opened
            detail = experiment_detail(session, view.experiment_id)
            view.start_ts = detail.first_sample_at if detail else None
        traces = trace_defs(experiment_channels(session, view.experiment_id), extras or [])
        series = read_view(session.connection(), view, traces)
    start, end = view.range if view.range is not None else (None, None)
    return (
        figure(view, traces, series),
        view.to_store(),
        resolution_note(series),
        experiment_csv_url(view.experiment_id, start, end),
    )


@callback(
    Output(ids.STATUS, "children"),
    Output(ids.REASON, "children"),
    Output(ids.FACTS, "children"),
    Output(ids.ALARMS, "children"),
    Output(ids.INTERVAL, "disabled"),
    Input(ids.INTERVAL, "n_intervals"),
    State(ids.VIEW, "data"),
    prevent_initial_call=True,
)
def refresh_facts(_n_intervals: int | None, stored: dict[str, Any] | None) -> tuple[Any, ...]:
    """A running experiment's facts move on: status, counts, duration, alarms."""
    view = GraphView.from_store(stored)
    if view is None:
        return no_update, no_update, no_update, no_update, True
    with context.session() as session:
        detail = experiment_detail(session, view.experiment_id)
        if detail is None:
            return no_update, no_update, no_update, no_update, True
        alarms = experiment_alarms(session, view.experiment_id, ALARM_LIMIT)
    live = detail.status.is_active or detail.status == ExperimentStatus.QUEUED
    return (
        _status(detail),
        _reason(detail),
        _facts(detail),
        alarms_table(alarms, detail.alarm_count),
        not live,
    )
