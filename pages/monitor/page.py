"""Station monitor: one station's experiment live, with the operator's pause, resume and stop.

`/monitor/<station id>` shows the graph (voltage left, current right, chosen extras
below) over a real-time window, what the cycler is doing, alarms, warnings and the
commands; `/monitor` alone shows a station picker. The graph logic is in
`pages.monitor.chart`, the panels in `pages.monitor.panels`; this module lays out the
page and wires the callbacks.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, ctx, dcc, html, no_update

from components import context
from components.station_card import station_grid
from datastore import catalog
from datastore.dispatch import request_command
from datastore.export import iter_experiment_csv
from datastore.telemetry import (
    current_experiment_id,
    experiment_channels,
    monitor_header,
    station_overview,
    step_plan,
)
from domain.formatting import format_utc
from domain.status import allowed_commands
from domain.time_windows import DEFAULT_WINDOW_S, WHOLE_EXPERIMENT, WINDOWS, window_range
from pages.monitor.chart import View, empty_figure, now_utc
from pages.monitor.panels import extra_options, refresh_outputs

# The refresh selector: (seconds, label); 0 means paused.
PAUSED = 0
REFRESH_PERIODS: tuple[tuple[int, str], ...] = (
    (1, "1 s"),
    (2, "2 s"),
    (5, "5 s"),
    (10, "10 s"),
    (30, "30 s"),
    (PAUSED, "paused"),
)
DEFAULT_REFRESH_S = 5

dash.register_page(
    __name__,
    path="/monitor",
    path_template="/monitor/<station_id>",
    name="Live monitor",
    title="Live monitor",
    order=10,
)

GRAPH_CONFIG = {"displaylogo": False, "scrollZoom": False, "responsive": True}


# ---------------------------------------------------------------- layout


def layout(station_id: str | None = None, **_params: str) -> html.Div:
    if station_id is None:
        return _picker("Pick a station to watch.")
    try:
        station_number = int(station_id)
    except ValueError:
        return _picker(f"“{station_id}” is not a station number. Pick a station:", warn=True)
    with context.session() as session:
        experiment_id = current_experiment_id(session, station_number)
        header = monitor_header(session, station_number, experiment_id)
        channels = experiment_channels(session, experiment_id) if experiment_id else []
    if header is None:
        return _picker(f"There is no station with id {station_number}. Pick a station:", warn=True)
    station = header.station
    subtitle = " · ".join(part for part in (station.unit_name, station.location) if part)
    return html.Div(
        [
            html.Div(
                [
                    html.H2(f"Live monitor · {station.name}", className="mb-0"),
                    html.Span(subtitle, className="text-muted"),
                ],
                className="d-flex align-items-baseline gap-3 flex-wrap mb-2",
            ),
            _now_card(),
            html.Div(id="monitor-warning"),
            html.Div(id="monitor-ended-slot"),
            _controls(channels),
            dcc.Graph(
                id="monitor-graph",
                figure=empty_figure("Loading…"),
                config=GRAPH_CONFIG,
                className="monitor-graph",
            ),
            html.Div(
                [html.H5("Alarms", className="mt-3"), html.Div(id="monitor-alarms")],
            ),
            _stop_dialog(),
            dcc.Store(id="monitor-station", data=station_number),
            dcc.Store(id="monitor-view"),
            dcc.Store(id="monitor-follow", data=True),
            dcc.Interval(id="monitor-interval", interval=DEFAULT_REFRESH_S * 1000),
            dcc.Download(id="monitor-download"),
        ]
    )


def _picker(message: str, warn: bool = False) -> html.Div:
    settings = context.current().settings
    with context.session() as session:
        stations = station_overview(session)

        def plan_of(station: Any) -> Any:
            experiment = station.experiment
            return step_plan(session, experiment.id, experiment.created_at) if experiment else None

        grid = station_grid(
            stations, plan_of, now_utc(), settings.node.heartbeat_timeout_s, "monitor-picker"
        )
    return html.Div(
        [
            html.H2("Live monitor"),
            dbc.Alert(message, color="warning", id="monitor-unknown")
            if warn
            else html.P(message, className="text-muted"),
            grid,
        ]
    )


def _now_card() -> dbc.Card:
    buttons = dbc.ButtonGroup(
        [
            dbc.Button(
                [html.I(className="bi bi-pause-fill me-1"), "Pause"],
                id="monitor-pause",
                color="warning",
                outline=True,
                disabled=True,
            ),
            dbc.Button(
                [html.I(className="bi bi-play-fill me-1"), "Resume"],
                id="monitor-resume",
                color="success",
                outline=True,
                disabled=True,
            ),
            dbc.Button(
                [html.I(className="bi bi-stop-fill me-1"), "Stop…"],
                id="monitor-stop",
                color="danger",
                outline=True,
                disabled=True,
            ),
        ],
        size="sm",
        className="monitor-actions",
    )
    return dbc.Card(
        dbc.CardBody(
            [
                html.Div(
                    [
                        html.Div(
                            [
                                html.Div(
                                    "Now executing",
                                    id="monitor-step-label",
                                    className="text-muted small",
                                ),
                                html.Div("…", id="monitor-step", className="monitor-step"),
                            ],
                            className="flex-grow-1",
                        ),
                        html.Div(buttons, className="ms-3"),
                    ],
                    className="d-flex align-items-start",
                ),
                html.Div(id="monitor-facts", className="small mt-2 d-flex flex-wrap"),
                html.Div(id="monitor-command-feedback", className="small text-muted mt-1"),
            ]
        ),
        className="mb-2",
    )


def _controls(channels: list[Any]) -> dbc.Row:
    def labelled(label: str, control: Any, width: Any = "auto") -> dbc.Col:
        return dbc.Col([dbc.Label(label, className="small text-muted mb-0"), control], width=width)

    return dbc.Row(
        [
            labelled(
                "Window (real time)",
                dbc.Select(
                    id="monitor-window",
                    options=[{"label": label, "value": str(value)} for value, label in WINDOWS],
                    value=str(DEFAULT_WINDOW_S),
                    size="sm",
                ),
            ),
            labelled(
                "Refresh",
                dbc.Select(
                    id="monitor-refresh",
                    options=[
                        {"label": label, "value": str(value)} for value, label in REFRESH_PERIODS
                    ],
                    value=str(DEFAULT_REFRESH_S),
                    size="sm",
                ),
            ),
            labelled(
                "Also show",
                dcc.Dropdown(
                    id="monitor-extras",
                    options=extra_options(channels),
                    value=[],
                    multi=True,
                    placeholder="power, temperatures, cell voltages…",
                    className="monitor-extras",
                ),
                width=True,
            ),
            dbc.Col(
                dbc.ButtonGroup(
                    [
                        dbc.Button(
                            [html.I(className="bi bi-skip-end-fill me-1"), "Follow live"],
                            id="monitor-follow-button",
                            color="secondary",
                            outline=True,
                            size="sm",
                            disabled=True,
                        ),
                        dbc.Button(
                            [html.I(className="bi bi-download me-1"), "Download CSV"],
                            id="monitor-download-button",
                            color="primary",
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


def _stop_dialog() -> dbc.Modal:
    return dbc.Modal(
        [
            dbc.ModalHeader(dbc.ModalTitle("Stop the experiment?")),
            dbc.ModalBody(
                "The cycler ends the experiment now and it is marked finished. "
                "A stopped experiment cannot be resumed."
            ),
            dbc.ModalFooter(
                [
                    dbc.Button("Keep running", id="monitor-stop-cancel", color="secondary"),
                    dbc.Button("Stop the experiment", id="monitor-stop-confirm", color="danger"),
                ]
            ),
        ],
        id="monitor-stop-dialog",
        is_open=False,
    )


# ---------------------------------------------------------------- callbacks


@callback(
    Output("monitor-graph", "figure"),
    Output("monitor-view", "data"),
    Output("monitor-step-label", "children"),
    Output("monitor-step", "children"),
    Output("monitor-facts", "children"),
    Output("monitor-warning", "children"),
    Output("monitor-ended-slot", "children"),
    Output("monitor-pause", "disabled"),
    Output("monitor-resume", "disabled"),
    Output("monitor-stop", "disabled"),
    Output("monitor-alarms", "children"),
    Output("monitor-extras", "options"),
    Input("monitor-interval", "n_intervals"),
    Input("monitor-window", "value"),
    Input("monitor-extras", "value"),
    Input("monitor-follow", "data"),
    State("monitor-view", "data"),
    State("monitor-station", "data"),
)
def refresh_monitor(
    _n_intervals: int | None,
    window: str | None,
    extras: list[str] | None,
    follow: bool | None,
    view_data: dict[str, Any] | None,
    station_id: int,
) -> tuple[Any, ...]:
    """Send what changed since the last refresh: new points, the panels, the buttons."""
    with context.session() as session:
        out = refresh_outputs(
            session,
            station_id,
            view_data,
            window_s=_int(window, DEFAULT_WINDOW_S),
            extra_keys=extras or [],
            follow=bool(follow),
            timeout_s=context.current().settings.node.heartbeat_timeout_s,
            now=now_utc(),
        )
    return (
        out["figure"],
        out["view"],
        out["label"],
        out["step"],
        out["facts"],
        out["warning"],
        out["ended"],
        out["disabled"]["pause"],
        out["disabled"]["resume"],
        out["disabled"]["stop"],
        out["alarms"],
        out["extra_options"],
    )


@callback(
    Output("monitor-follow", "data"),
    Output("monitor-follow-button", "disabled"),
    Input("monitor-graph", "relayoutData"),
    Input("monitor-follow-button", "n_clicks"),
    Input("monitor-window", "value"),
    prevent_initial_call=True,
)
def follow_live_edge(relayout: dict[str, Any] | None, _clicks: int | None, _window: str) -> tuple:
    """Zooming or panning the time axis stops following; the button or a window resumes it."""
    if ctx.triggered_id != "monitor-graph":
        return True, True
    relayout = relayout or {}
    if relayout.get("xaxis.autorange"):
        return True, True
    if any(key.startswith("xaxis.range") for key in relayout):
        return False, False
    return no_update, no_update


@callback(
    Output("monitor-interval", "interval"),
    Output("monitor-interval", "disabled"),
    Input("monitor-refresh", "value"),
)
def set_refresh_period(period: str | None) -> tuple[int, bool]:
    seconds = _int(period, DEFAULT_REFRESH_S)
    if seconds == PAUSED:
        return DEFAULT_REFRESH_S * 1000, True
    return seconds * 1000, False


@callback(
    Output("monitor-stop-dialog", "is_open"),
    Input("monitor-stop", "n_clicks"),
    Input("monitor-stop-cancel", "n_clicks"),
    Input("monitor-stop-confirm", "n_clicks"),
    prevent_initial_call=True,
)
def toggle_stop_dialog(*_clicks: int | None) -> bool:
    return ctx.triggered_id == "monitor-stop"


@callback(
    Output("monitor-command-feedback", "children"),
    Input("monitor-pause", "n_clicks"),
    Input("monitor-resume", "n_clicks"),
    Input("monitor-stop-confirm", "n_clicks"),
    State("monitor-view", "data"),
    prevent_initial_call=True,
)
def send_command(
    _pause: int | None, _resume: int | None, _stop: int | None, view_data: dict[str, Any] | None
) -> str:
    """Queue the operator's command for the node, which forwards it to the cycler."""
    command = {
        "monitor-pause": "pause",
        "monitor-resume": "resume",
        "monitor-stop-confirm": "stop",
    }[ctx.triggered_id]
    view = View.from_store(view_data)
    if view is None or view.experiment_id is None:
        return "There is no experiment to send that to."
    with context.session() as session:
        experiment = catalog.get_experiment(session, view.experiment_id)
        if command not in allowed_commands(experiment.status):
            return f"Not sent: a {experiment.status.value} experiment cannot {command}."
        request_command(session.connection(), experiment.id, command)
    return (
        f"{command.capitalize()} requested at {format_utc(now_utc())}; "
        "the status changes when the cycler confirms."
    )


@callback(
    Output("monitor-download", "data"),
    Input("monitor-download-button", "n_clicks"),
    State("monitor-view", "data"),
    prevent_initial_call=True,
)
def download_window(_clicks: int | None, view_data: dict[str, Any] | None) -> Any:
    """The CSV (BDF columns) of exactly the samples in the window shown."""
    view = View.from_store(view_data)
    if view is None or view.experiment_id is None or view.last_ts is None:
        return no_update
    start, end = window_csv_range(view)
    text = "".join(
        iter_experiment_csv(
            context.current().store.engine, view.experiment_id, start_ts=start, end_ts=end
        )
    )
    return dcc.send_string(text, csv_filename(view.experiment_id, start, end), type="text/csv")


def window_csv_range(view: View) -> tuple[float | None, float]:
    """[start, end] in Unix seconds of the window the graph shows (start None: from the start)."""
    assert view.last_ts is not None
    if view.window_s == WHOLE_EXPERIMENT:
        return None, view.last_ts
    return window_range(view.last_ts, view.window_s)


def csv_filename(experiment_id: int, start: float | None, end: float) -> str:
    def stamp(ts: float) -> str:
        return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y%m%dT%H%M%SZ")

    span = f"{stamp(start)}-{stamp(end)}" if start is not None else f"until-{stamp(end)}"
    return f"experiment-{experiment_id}_{span}.csv"


def _int(value: str | int | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except (TypeError, ValueError):
        return default
