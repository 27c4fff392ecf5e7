"""Station monitor: one station's experiment live, with the operator's pause, resume and stop.

`/monitor/<station id>` shows the graph (voltage left, current right, chosen extras
below) over a real-time window, what the cycler is doing, alarms, warnings and the
commands; `/monitor` alone shows a station picker. "Download CSV" links to the streamed
export of exactly the time range on screen, zoom included.

The components are laid out in `station_view`, filled in on each refresh by `panels`,
and the graph is kept up to date by `chart`; this module registers the page, reads what
its first view needs and wires the callbacks.
"""

from __future__ import annotations

import logging
from typing import Any

import dash
from dash import (
    ClientsideFunction,
    Input,
    Output,
    State,
    callback,
    clientside_callback,
    ctx,
    html,
    no_update,
)

from components import context
from components.station_card import station_grid
from components.urls import experiment_csv_url
from config.logs import for_experiment
from datastore import catalog
from datastore.dispatch import CommandRefused, request_command
from datastore.queues import station_queue
from datastore.telemetry import (
    experiment_channels,
    monitor_header,
    station_overview,
    step_plan,
)
from domain.formatting import format_utc
from domain.status import allowed_commands
from domain.time_windows import DEFAULT_WINDOW_S
from pages.monitor import ids
from pages.monitor.chart import View, now_utc, samples_shown_s, shown_range_ms, x_range_of
from pages.monitor.panels import (
    Actions,
    extra_options,
    graph_outputs,
    panel_outputs,
    station_actions,
)
from pages.monitor.queue import queue_panel
from pages.monitor.station_view import DEFAULT_REFRESH_S, PAUSED, picker, station_view

log = logging.getLogger("bem.web")

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
        queued = station_queue(session, station_number) if station else []
    if station is None:
        return _picker(f"There is no station with id {station_number}. Pick a station:", warn=True)
    subtitle = " · ".join(part for part in (station.unit_name, station.location) if part)
    return station_view(
        station_number, station.name, subtitle, extra_options(channels), queue_panel(queued)
    )


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


# Three callbacks on the same refresh, each on its own reads, so that a failure in one
# (bad data under the graph, a panel) never disables another: the operator's buttons
# above all depend on nothing but the experiment's status.


@callback(
    Output(ids.EXPERIMENT, "data"),
    Output(ids.PAUSE, "disabled"),
    Output(ids.RESUME, "disabled"),
    Output(ids.STOP, "disabled"),
    Input(ids.INTERVAL, "n_intervals"),
    State(ids.EXPERIMENT, "data"),
    State(ids.STATION, "data"),
)
def refresh_actions(
    _n_intervals: int | None, shown: dict[str, Any] | None, station_id: int
) -> tuple[Any, ...]:
    """The experiment Pause, Resume and Stop act on, and which of them its status allows."""
    with context.session() as session:
        actions = station_actions(session, station_id, Actions.from_store(shown).experiment_id)
    disabled = actions.disabled
    return actions.to_store(), disabled["pause"], disabled["resume"], disabled["stop"]


@callback(
    Output(ids.STEP_LABEL, "children"),
    Output(ids.STEP, "children"),
    Output(ids.FACTS, "children"),
    Output(ids.WARNING, "children"),
    Output(ids.ENDED_SLOT, "children"),
    Input(ids.INTERVAL, "n_intervals"),
    State(ids.EXPERIMENT, "data"),
    State(ids.STATION, "data"),
)
def refresh_panels(
    _n_intervals: int | None, shown: dict[str, Any] | None, station_id: int
) -> tuple[Any, ...]:
    """What the cycler is doing: the step, the facts, the warnings, the end notice."""
    with context.session() as session:
        out = panel_outputs(
            session,
            station_id,
            Actions.from_store(shown).experiment_id,
            now=now_utc(),
            timeout_s=context.current().settings.node.heartbeat_timeout_s,
        )
    return out["label"], out["step"], out["facts"], out["warning"], out["ended"]


@callback(
    Output(ids.GRAPH, "figure"),
    Output(ids.VIEW, "data"),
    Output(ids.ALARMS, "children"),
    Output(ids.EXTRAS, "options"),
    Output(ids.DOWNLOAD_BUTTON, "href"),
    Output(ids.DOWNLOAD_BUTTON, "disabled"),
    Input(ids.INTERVAL, "n_intervals"),
    Input(ids.WINDOW, "value"),
    Input(ids.EXTRAS, "value"),
    Input(ids.FOLLOW, "data"),
    Input(ids.ZOOM, "data"),
    State(ids.VIEW, "data"),
    State(ids.STATION, "data"),
)
def refresh_monitor(
    _n_intervals: int | None,
    window: str | None,
    extras: list[str] | None,
    follow: bool | None,
    zoom: list[float] | None,
    view_data: dict[str, Any] | None,
    station_id: int,
) -> tuple[Any, ...]:
    """Send what changed since the last refresh: new points, the alarms, and where
    "Download CSV" gets the samples on screen."""
    with context.session() as session:
        out = graph_outputs(
            session,
            station_id,
            view_data,
            window_s=_int(window, DEFAULT_WINDOW_S),
            extra_keys=extras or [],
            follow=bool(follow),
        )
    return (
        out["figure"],
        out["view"],
        out["alarms"],
        out["extra_options"],
        *_download(out["view"], None if follow else zoom),
    )


@callback(
    Output(ids.QUEUE, "children"),
    Input(ids.INTERVAL, "n_intervals"),
    State(ids.STATION, "data"),
    prevent_initial_call=True,
)
def refresh_queue(_n_intervals: int | None, station_id: int) -> Any:
    """The experiments waiting on the station: one started, cancelled or added elsewhere
    shows at the next refresh."""
    with context.session() as session:
        return queue_panel(station_queue(session, station_id))


def _download(view_data: dict[str, Any] | None, zoom: list[float] | None) -> tuple[Any, bool]:
    """(href, disabled) of "Download CSV": the streamed export of exactly the samples in
    the time range on screen."""
    view = View.from_store(view_data)
    if view is None or view.experiment_id is None:
        return None, True
    shown = shown_range_ms(view, zoom)
    if shown is None:
        return None, True
    return experiment_csv_url(view.experiment_id, *samples_shown_s(shown)), False


# Only the graph's events about its x axis go on to `follow_live_edge`
# (assets/clientside.js).
clientside_callback(
    ClientsideFunction("bem", "xAxisEvents"),
    Output(ids.AXIS_EVENT, "data"),
    Input(ids.GRAPH, "relayoutData"),
    prevent_initial_call=True,
)


@callback(
    Output(ids.FOLLOW, "data"),
    Output(ids.FOLLOW_BUTTON, "disabled"),
    Output(ids.ZOOM, "data"),
    Input(ids.AXIS_EVENT, "data"),
    Input(ids.FOLLOW_BUTTON, "n_clicks"),
    Input(ids.WINDOW, "value"),
    prevent_initial_call=True,
)
def follow_live_edge(relayout: dict[str, Any] | None, _clicks: int | None, _window: str) -> tuple:
    """Zooming or panning the time axis stops following (and the zoom is kept for the
    download); the button, a window or an autoscale resumes it."""
    if ctx.triggered_id != ids.AXIS_EVENT:
        return True, True, None
    relayout = relayout or {}
    if relayout.get("xaxis.autorange"):
        return True, True, None
    zoom = x_range_of(relayout)
    if zoom is not None:
        return False, False, zoom
    return no_update, no_update, no_update


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
    State(ids.EXPERIMENT, "data"),
    prevent_initial_call=True,
)
def send_command(
    _pause: int | None, _resume: int | None, _stop: int | None, shown: dict[str, Any] | None
) -> str:
    """Queue the operator's command for the node, which forwards it to the cycler. The
    experiment is the one the buttons show (not the graph's), and its status is checked
    again here."""
    command = {
        ids.PAUSE: "pause",
        ids.RESUME: "resume",
        ids.STOP_CONFIRM: "stop",
    }[ctx.triggered_id]
    experiment_id = Actions.from_store(shown).experiment_id
    if experiment_id is None:
        return "There is no experiment to send that to."
    # The id comes from the browser: only what the server finds for it counts (the role
    # was checked before this ran, components/auth.py).
    with context.session() as session:
        try:
            experiment = catalog.get_experiment(session, int(experiment_id))
        except (catalog.NotFoundError, TypeError, ValueError):
            return "Not sent: there is no such experiment."
        if command not in allowed_commands(experiment.status):
            return f"Not sent: a {experiment.status.value} experiment cannot {command}."
        try:
            request_command(session.connection(), experiment.id, command)
        except CommandRefused as refused:
            return f"Not sent: {refused}."
    log.info("%s requested", command, extra=for_experiment(experiment.id))
    return (
        f"{command.capitalize()} requested at {format_utc(now_utc())}; "
        "the status changes when the cycler confirms."
    )


def _int(value: str | int | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except (TypeError, ValueError):
        return default
