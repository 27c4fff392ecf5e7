"""The "what the cycler is doing" panels of the station monitor, and one refresh's outputs.

`now_panel` turns a refresh's station snapshot into the step line, the facts line, the warning,
the end-of-experiment notice and which operator buttons apply. Times are UTC and say so.
Each part of a refresh has its own callback and function, so a failure in one never
stops another: `graph_outputs` (graph, alarms), `panel_outputs` (the panels) and
`station_actions` (which experiment the Pause, Resume and Stop buttons act on, and which
apply: from the experiment's status only). `refresh_outputs` is the three together, as
plain functions so the benchmark can time exactly that.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from components.alarms import alarms_table
from components.station_card import status_badge
from components.urls import experiment_url
from components.vi_figure import extra_choices
from datastore.telemetry import (
    ALARM_LIMIT,
    Bind,
    StationSnapshot,
    experiment_alarms,
    monitor_header,
    step_plan,
)
from domain.formatting import format_age, format_duration, format_quantity, format_utc
from domain.liveness import Liveness, elapsed_s, heartbeat_age, liveness
from domain.status import ExperimentStatus, allowed_commands
from domain.step_plan import StepPlan
from pages.monitor import ids
from pages.monitor.chart import View, refresh

COMMANDS = ("pause", "resume", "stop")


@dataclass
class NowPanel:
    label: str
    step: object
    facts: object
    warning: object
    ended: object
    disabled: dict[str, bool]  # command -> whether its button is disabled


def now_panel(
    station: StationSnapshot, plan: StepPlan | None, now: dt.datetime, timeout_s: float
) -> NowPanel:
    experiment = station.experiment
    nobody = {command: True for command in COMMANDS}
    if experiment is None:
        age = heartbeat_age(station.last_heartbeat, now)
        state = "online" if age is not None and age <= timeout_s else "offline"
        return NowPanel(
            label="Nothing to show yet",
            step="No experiment has run on this station yet.",
            facts=f"Station {state}; last heartbeat {format_age(age)}.",
            warning=None,
            ended=None,
            disabled=nobody,
        )
    last = experiment.last_sample
    verdict = liveness(
        last_heartbeat=station.last_heartbeat,
        now=now,
        timeout_s=timeout_s,
        status=experiment.status,
        began_at=experiment.began_at,
        last_sample_at=experiment.last_sample_at,
        sample_count=experiment.sample_count,
    )
    step = plan.describe(last.instruction if last else None) if plan else "–"
    if experiment.status.is_active:
        label = "Now executing"
    elif experiment.status == ExperimentStatus.QUEUED:
        label = "Waiting to start"
    else:
        label = "Last step executed"
    sample_age = now.timestamp() - experiment.last_sample_at if experiment.last_sample_at else None
    elapsed = elapsed_s(experiment.began_at, experiment.finished_at, now)
    facts = [
        status_badge(experiment.status, id=ids.STATUS, className="me-2"),
        html.Span(experiment.name, className="fw-semibold me-2"),
        html.Span(f"on {experiment.battery_name}", className="text-muted me-3"),
        _fact("elapsed", format_duration(elapsed)),
        _fact(
            "last sample",
            f"{format_utc(experiment.last_sample_at)} ({format_age(sample_age)})"
            if experiment.last_sample_at
            else "none yet",
            id=ids.LAST_SAMPLE,
        ),
        _fact(
            "now" if experiment.status.is_active else "last",
            f"{format_quantity(last.voltage, 'V', 3)} · {format_quantity(last.current, 'A', 3)}"
            if last
            else "–",
        ),
        _fact("samples", f"{experiment.sample_count:,}"),
    ]
    return NowPanel(
        label=label,
        step=step,
        facts=facts,
        warning=_warning(verdict, experiment.status, station.last_heartbeat, sample_age, now),
        ended=_ended(
            experiment.id, experiment.status, experiment.finished_at, experiment.status_message
        ),
        disabled={
            command: command not in allowed_commands(experiment.status) for command in COMMANDS
        },
    )


def _fact(label: str, value: str, **kwargs: Any) -> html.Span:
    return html.Span(
        [html.Span(f"{label} ", className="text-muted"), html.Span(value, **kwargs)],
        className="me-3 text-nowrap",
    )


def _warning(
    verdict: Liveness,
    status: ExperimentStatus,
    last_heartbeat: dt.datetime | None,
    sample_age: float | None,
    now: dt.datetime,
) -> object:
    if not status.is_active:
        return None
    if verdict in (Liveness.OFFLINE, Liveness.NEVER_SEEN):
        age = heartbeat_age(last_heartbeat, now)
        return dbc.Alert(
            [
                html.I(className="bi bi-wifi-off me-2"),
                html.Strong("Station offline. "),
                f"No heartbeat for {format_duration(age)}; the cycler may have stopped or lost "
                "its connection. The experiment's status cannot be confirmed.",
            ],
            color="danger",
            className="mb-2 py-2",
            id=ids.OFFLINE,
        )
    if verdict == Liveness.SILENT:
        return dbc.Alert(
            [
                html.I(className="bi bi-exclamation-triangle me-2"),
                html.Strong("Samples have stopped arriving. "),
                f"The last one came {format_age(sample_age)} while the experiment is running.",
            ],
            color="warning",
            className="mb-2 py-2",
            id=ids.SILENT,
        )
    return None


def _ended(
    experiment_id: int,
    status: ExperimentStatus,
    finished_at: dt.datetime | None,
    message: str,
) -> object:
    if not status.is_closed:
        return None
    words = {
        ExperimentStatus.FINISHED: ("finished", "primary"),
        ExperimentStatus.ERROR: ("failed", "danger"),
        ExperimentStatus.CANCELLED: ("was cancelled", "secondary"),
    }
    verb, color = words[status]
    when = f" at {format_utc(finished_at, with_date=True)}" if finished_at else ""
    return dbc.Alert(
        [
            html.Strong(f"The experiment {verb}{when}. "),
            f"{message[:1].upper()}{message[1:].rstrip('.')}. " if message else "",
            dcc.Link(
                "Open its preview",
                href=experiment_url(experiment_id),
                className="alert-link",
            ),
        ],
        color=color,
        className="mb-2 py-2",
        id=ids.ENDED,
    )


def graph_outputs(
    bind: Bind,
    station_id: int,
    view_data: dict[str, Any] | None,
    *,
    window_s: int,
    extra_keys: Sequence[str],
    follow: bool,
) -> dict[str, Any]:
    """What one refresh of the graph sends, by output name (figure, view, alarms, extra
    options); `dash.no_update` where nothing changed. Datastore calls: the header and one
    read of samples (plus the channels on a rebuild, the alarms when they changed)."""
    update = refresh(
        bind,
        station_id,
        View.from_store(view_data),
        window_s=window_s,
        extra_keys=extra_keys,
        follow=follow,
    )
    station = update.station
    if station is None:
        return {
            "figure": dash.no_update,
            "view": None,
            "alarms": dash.no_update,
            "extra_options": dash.no_update,
        }
    experiment = station.experiment
    alarms: Any = dash.no_update
    if experiment is None:
        alarms = alarms_table([], 0)
    elif update.alarms_changed or update.rebuilt:
        alarms = alarms_table(
            experiment_alarms(bind, experiment.id, ALARM_LIMIT), experiment.alarm_count
        )
    return {
        "figure": update.figure if update.figure is not None else dash.no_update,
        "view": update.view.to_store(),
        "alarms": alarms,
        "extra_options": extra_options(update.channels)
        if update.channels is not None
        else dash.no_update,
    }


@dataclass(frozen=True)
class Actions:
    """The experiment the operator's buttons act on, and which buttons apply to it."""

    experiment_id: int | None
    status: ExperimentStatus | None

    @property
    def disabled(self) -> dict[str, bool]:
        """Command -> whether its button is disabled: from the experiment's status only."""
        allowed = allowed_commands(self.status)
        return {command: command not in allowed for command in COMMANDS}

    def to_store(self) -> dict[str, Any]:
        return {
            "experiment_id": self.experiment_id,
            "status": self.status.value if self.status else None,
        }

    @classmethod
    def from_store(cls, data: dict[str, Any] | None) -> Actions:
        """The store's content, or no experiment when it holds nothing valid."""
        try:
            experiment_id = data["experiment_id"] if data else None
            status = ExperimentStatus(data["status"]) if data and data["status"] else None
        except (KeyError, TypeError, ValueError):
            return cls(None, None)
        if not isinstance(experiment_id, int):
            return cls(None, None)
        return cls(experiment_id, status)


def station_actions(bind: Bind, station_id: int, shown_id: int | None) -> Actions:
    """The experiment the station's monitor shows (as the graph picks it: the running or
    paused one first) and its status. Reads only the header: nothing about samples or
    times, so bad data in a sample cannot keep the buttons off."""
    station = monitor_header(bind, station_id, shown_id)
    experiment = station.experiment if station else None
    if experiment is None:
        return Actions(None, None)
    return Actions(experiment.id, experiment.status)


def panel_outputs(
    bind: Bind, station_id: int, shown_id: int | None, *, now: dt.datetime, timeout_s: float
) -> dict[str, Any]:
    """What one refresh of the "now executing" panels sends, by output name (label, step,
    facts, warning, ended)."""
    station = monitor_header(bind, station_id, shown_id)
    if station is None:
        return {
            "label": "",
            "step": "–",
            "facts": "",
            "warning": dbc.Alert("This station no longer exists.", color="warning"),
            "ended": None,
        }
    experiment = station.experiment
    plan = step_plan(bind, experiment.id, experiment.created_at) if experiment else None
    panel = now_panel(station, plan, now, timeout_s)
    return {
        "label": panel.label,
        "step": panel.step,
        "facts": panel.facts,
        "warning": panel.warning,
        "ended": panel.ended,
    }


def refresh_outputs(
    bind: Bind,
    station_id: int,
    view_data: dict[str, Any] | None,
    *,
    window_s: int,
    extra_keys: Sequence[str],
    follow: bool,
    timeout_s: float,
    now: dt.datetime,
) -> dict[str, Any]:
    """Everything one refresh of the monitor sends, by output name, as its three callbacks
    compute it (graph, panels, buttons), in one function so the benchmark can time
    exactly that."""
    out = graph_outputs(
        bind, station_id, view_data, window_s=window_s, extra_keys=extra_keys, follow=follow
    )
    shown = View.from_store(out["view"])
    shown_id = shown.experiment_id if shown else None
    out |= panel_outputs(bind, station_id, shown_id, now=now, timeout_s=timeout_s)
    out["disabled"] = station_actions(bind, station_id, shown_id).disabled
    return out


def extra_options(channels: Sequence[Any]) -> list[dict[str, str]]:
    """Options of the "also show" selector: power and the experiment's extra channels."""
    return [{"label": trace.label, "value": trace.key} for trace in extra_choices(channels)]
