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
from dash import Input, Output, State, callback, ctx, dcc, html, no_update

from components import context
from components.station_card import station_grid
from datastore import catalog
from datastore.dispatch import request_command
from datastore.export import iter_experiment_csv
from datastore.telemetry import (
    experiment_channels,
    monitor_header,
    station_overview,
    step_plan,
)
from domain.formatting import format_utc
from domain.status import allowed_commands
from domain.time_windows import DEFAULT_WINDOW_S, WHOLE_EXPERIMENT, window_range
from pages.monitor import ids
from pages.monitor.chart import View, now_utc
from pages.monitor.panels import extra_options, refresh_outputs
from pages.monitor.station_view import DEFAULT_REFRESH_S, PAUSED, picker, station_view

dash.register_page(
    __name__,
    path="/monitor",
    path_template="/monitor/<station_id>",
    name="Monitor",
    title="Live monitor",
    order=1,
)

# ---------------------------------------------------------------- layout


def layout(station_id: str | None = None, **_params: str) -> html.Div:
    if station_id is None:
        return _picker("Pick a station to watch.")
    try:
        station_number = int(station_id)
    except ValueError:
        return _picker(f"“{station_id}” is not a station number. Pick a station:", warn=True)
    with context.session() as session:
        station = monitor_header(session, station_number)
        experiment = station.experiment if station else None
        channels = experiment_channels(session, experiment.id) if experiment else []
    if station is None:
        return _picker(f"There is no station with id {station_number}. Pick a station:", warn=True)
    subtitle = " · ".join(part for part in (station.unit_name, station.location) if part)
    return station_view(station_number, station.name, subtitle, extra_options(channels))


def validation_layout() -> html.Div:
    """The page's components without data (a station's monitor and the picker), for
    checking the callbacks' ids."""
    return html.Div([station_view(0, "", "", []), picker("", None, warn=True)])


def _picker(message: str, warn: bool = False) -> html.Div:
    settings = context.current().settings
    with context.session() as session:
        stations = station_overview(session)

        def plan_of(station: Any) -> Any:
            experiment = station.experiment
            return step_plan(session, experiment.id, experiment.created_at) if experiment else None

        grid = station_grid(
            stations, plan_of, now_utc(), settings.node.heartbeat_timeout_s, ids.PICKER
        )
    return picker(message, grid, warn=warn)


# ---------------------------------------------------------------- callbacks


@callback(
    Output(ids.GRAPH, "figure"),
    Output(ids.VIEW, "data"),
    Output(ids.STEP_LABEL, "children"),
    Output(ids.STEP, "children"),
    Output(ids.FACTS, "children"),
    Output(ids.WARNING, "children"),
    Output(ids.ENDED_SLOT, "children"),
    Output(ids.PAUSE, "disabled"),
    Output(ids.RESUME, "disabled"),
    Output(ids.STOP, "disabled"),
    Output(ids.ALARMS, "children"),
    Output(ids.EXTRAS, "options"),
    Input(ids.INTERVAL, "n_intervals"),
    Input(ids.WINDOW, "value"),
    Input(ids.EXTRAS, "value"),
    Input(ids.FOLLOW, "data"),
    State(ids.VIEW, "data"),
    State(ids.STATION, "data"),
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
    Output(ids.FOLLOW, "data"),
    Output(ids.FOLLOW_BUTTON, "disabled"),
    Input(ids.GRAPH, "relayoutData"),
    Input(ids.FOLLOW_BUTTON, "n_clicks"),
    Input(ids.WINDOW, "value"),
    prevent_initial_call=True,
)
def follow_live_edge(relayout: dict[str, Any] | None, _clicks: int | None, _window: str) -> tuple:
    """Zooming or panning the time axis stops following; the button or a window resumes it."""
    if ctx.triggered_id != ids.GRAPH:
        return True, True
    relayout = relayout or {}
    if relayout.get("xaxis.autorange"):
        return True, True
    if any(key.startswith("xaxis.range") for key in relayout):
        return False, False
    return no_update, no_update


@callback(
    Output(ids.INTERVAL, "interval"),
    Output(ids.INTERVAL, "disabled"),
    Input(ids.REFRESH, "value"),
)
def set_refresh_period(period: str | None) -> tuple[int, bool]:
    seconds = _int(period, DEFAULT_REFRESH_S)
    if seconds == PAUSED:
        return DEFAULT_REFRESH_S * 1000, True
    return seconds * 1000, False


@callback(
    Output(ids.STOP_DIALOG, "is_open"),
    Input(ids.STOP, "n_clicks"),
    Input(ids.STOP_CANCEL, "n_clicks"),
    Input(ids.STOP_CONFIRM, "n_clicks"),
    prevent_initial_call=True,
)
def toggle_stop_dialog(*_clicks: int | None) -> bool:
    return ctx.triggered_id == ids.STOP


@callback(
    Output(ids.COMMAND_FEEDBACK, "children"),
    Input(ids.PAUSE, "n_clicks"),
    Input(ids.RESUME, "n_clicks"),
    Input(ids.STOP_CONFIRM, "n_clicks"),
    State(ids.VIEW, "data"),
    prevent_initial_call=True,
)
def send_command(
    _pause: int | None, _resume: int | None, _stop: int | None, view_data: dict[str, Any] | None
) -> str:
    """Queue the operator's command for the node, which forwards it to the cycler."""
    command = {
        ids.PAUSE: "pause",
        ids.RESUME: "resume",
        ids.STOP_CONFIRM: "stop",
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
    Output(ids.DOWNLOAD, "data"),
    Input(ids.DOWNLOAD_BUTTON, "n_clicks"),
    State(ids.VIEW, "data"),
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
