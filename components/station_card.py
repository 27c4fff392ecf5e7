"""Station cards: one station at a glance, linking to its live monitor.

Used by the overview (all stations, refreshed) and by the monitor's station picker.
A card shows a running or paused experiment in full; an online idle station muted; an
offline (or never seen) station marked; a station whose samples stopped, warned.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

import dash_bootstrap_components as dbc
from dash import dcc, html

from components.urls import monitor_url
from datastore.queues import QueueSummary
from datastore.telemetry import StationSnapshot
from domain.formatting import format_age, format_duration, format_quantity
from domain.liveness import Liveness, elapsed_s, heartbeat_age, liveness
from domain.status import ExperimentStatus
from domain.step_plan import StepPlan

STATUS_COLORS = {
    ExperimentStatus.QUEUED: "secondary",
    ExperimentStatus.RUNNING: "success",
    ExperimentStatus.PAUSED: "warning",
    ExperimentStatus.FINISHED: "primary",
    ExperimentStatus.ERROR: "danger",
    ExperimentStatus.CANCELLED: "secondary",
}


def status_badge(status: ExperimentStatus | str, **kwargs: object) -> dbc.Badge:
    status = ExperimentStatus(status)
    return dbc.Badge(status.value, color=STATUS_COLORS[status], **kwargs)


def station_liveness(station: StationSnapshot, now: dt.datetime, timeout_s: float) -> Liveness:
    experiment = station.experiment
    return liveness(
        last_heartbeat=station.last_heartbeat,
        now=now,
        timeout_s=timeout_s,
        status=experiment.status if experiment else None,
        began_at=experiment.began_at if experiment else None,
        last_sample_at=experiment.last_sample_at if experiment else None,
        sample_count=experiment.sample_count if experiment else 0,
    )


def station_card(
    station: StationSnapshot,
    plan: StepPlan | None,
    now: dt.datetime,
    timeout_s: float,
    id_prefix: str,
    queue: QueueSummary | None = None,
) -> html.Div:
    """A clickable card for one station (`plan`: the steps of its experiment, if any;
    `queue`: the experiments waiting on it, if any)."""
    verdict = station_liveness(station, now, timeout_s)
    experiment = station.experiment
    active = experiment is not None and experiment.status.is_active
    title = [html.Span(station.name, className="fw-semibold")]
    if station.unit_name:
        title.append(html.Span(f" · {station.unit_name}", className="text-muted small"))
    badges = []
    if active and experiment is not None:
        badges.append(status_badge(experiment.status, className="ms-1"))
    if verdict in (Liveness.OFFLINE, Liveness.NEVER_SEEN):
        badges.append(dbc.Badge(verdict.value, color="danger", className="ms-1"))
    elif verdict == Liveness.SILENT:
        badges.append(dbc.Badge("no samples", color="warning", text_color="dark", className="ms-1"))
    elif not active:
        badges.append(dbc.Badge("idle", color="light", text_color="secondary", className="ms-1"))
    header = dbc.CardHeader(
        html.Div([html.Div(title), html.Div(badges)], className="d-flex justify-content-between")
    )
    if active and experiment is not None:
        body = _experiment_body(station, plan, now, verdict, id_prefix)
    else:
        body = _idle_body(station, now, verdict)
    if queue is not None:
        body.children.append(_queue_line(queue, station.id, id_prefix))
    modifier = {
        Liveness.OFFLINE: "station-card--offline",
        Liveness.NEVER_SEEN: "station-card--offline",
        Liveness.SILENT: "station-card--silent",
    }.get(verdict, "" if active else "station-card--idle")
    return html.Div(
        dcc.Link(
            dbc.Card([header, body], className=f"station-card h-100 {modifier}".strip()),
            href=monitor_url(station.id),
            className="station-card-link",
        ),
        id=f"{id_prefix}-station-{station.id}",
        className="col",
    )


def _experiment_body(
    station: StationSnapshot,
    plan: StepPlan | None,
    now: dt.datetime,
    verdict: Liveness,
    id_prefix: str,
) -> dbc.CardBody:
    experiment = station.experiment
    assert experiment is not None
    last = experiment.last_sample
    step = plan.describe(last.instruction if last else None) if plan else "–"
    sample_age = now.timestamp() - experiment.last_sample_at if experiment.last_sample_at else None
    rows = [
        html.Div(experiment.name, className="fw-semibold text-truncate", title=experiment.name),
        html.Div(experiment.battery_name, className="text-muted small text-truncate"),
        html.Div(
            [
                html.Span(
                    format_quantity(last.voltage if last else None, "V", 3),
                    className="station-card-value text-voltage",
                ),
                html.Span(
                    format_quantity(last.current if last else None, "A", 3),
                    className="station-card-value text-current",
                ),
            ],
            className="d-flex gap-3 my-2",
        ),
        html.Div(step, className="small station-card-step", id=f"{id_prefix}-step-{station.id}"),
        html.Div(
            [
                html.Span(f"elapsed {format_duration(elapsed_s(experiment.began_at, None, now))}"),
                html.Span(f"last sample {format_age(sample_age)}"),
            ],
            className="d-flex justify-content-between small text-muted mt-2",
        ),
    ]
    if experiment.alarm_count:
        plural = "s" if experiment.alarm_count > 1 else ""
        rows.append(
            html.Div(f"{experiment.alarm_count} alarm{plural}", className="small text-danger mt-1")
        )
    if verdict == Liveness.SILENT:
        rows.append(
            html.Div("Samples have stopped arriving.", className="small text-warning-emphasis mt-1")
        )
    elif verdict in (Liveness.OFFLINE, Liveness.NEVER_SEEN):
        age = heartbeat_age(station.last_heartbeat, now)
        rows.append(
            html.Div(
                f"Station offline: last heartbeat {format_age(age)}.",
                className="small text-danger mt-1",
            )
        )
    return dbc.CardBody(rows)


def _idle_body(station: StationSnapshot, now: dt.datetime, verdict: Liveness) -> dbc.CardBody:
    age = heartbeat_age(station.last_heartbeat, now)
    if verdict == Liveness.NEVER_SEEN:
        text = "Offline: no heartbeat ever received."
    elif verdict == Liveness.OFFLINE:
        text = f"Offline: last heartbeat {format_age(age)}."
    else:
        text = f"Idle, online (heartbeat {format_age(age)})."
    rows = [html.Div(text, className="small")]
    if station.location:
        rows.append(html.Div(station.location, className="small text-muted"))
    return dbc.CardBody(rows)


def _queue_line(queue: QueueSummary, station_id: int, id_prefix: str) -> html.Div:
    return html.Div(
        [
            html.I(className="bi bi-hourglass-split me-1"),
            f"{queue.count} queued · next: ",
            html.Span(queue.next_name, className="fw-semibold"),
        ],
        id=f"{id_prefix}-queue-{station_id}",
        className="small text-muted mt-1 text-truncate",
        title=f"next: {queue.next_name}",
    )


def station_grid(
    stations: Sequence[StationSnapshot],
    plan_of: Callable[[StationSnapshot], StepPlan | None],
    now: dt.datetime,
    timeout_s: float,
    id_prefix: str,
    queue_of: Callable[[StationSnapshot], QueueSummary | None] | None = None,
) -> html.Div:
    """Cards for `stations`: active ones first, then idle online ones, then offline ones."""

    def order(station: StationSnapshot) -> tuple[int, int]:
        verdict = station_liveness(station, now, timeout_s)
        active = station.experiment is not None and station.experiment.status.is_active
        offline = verdict in (Liveness.OFFLINE, Liveness.NEVER_SEEN)
        return (0 if active else 2 if offline else 1), station.id

    if not stations:
        return html.Div(
            dbc.Alert(
                "No stations yet. Cyclers add theirs when they connect; you can also add one "
                "on the Stations page.",
                color="secondary",
            ),
            id=f"{id_prefix}-no-stations",
        )
    return html.Div(
        [
            station_card(
                station,
                plan_of(station),
                now,
                timeout_s,
                id_prefix,
                queue_of(station) if queue_of else None,
            )
            for station in sorted(stations, key=order)
        ],
        className="row row-cols-1 row-cols-md-2 row-cols-xl-4 g-3",
    )
