"""Overview: every station at a glance, refreshed every few seconds; a card opens its monitor."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import dash
from dash import Input, Output, callback, dcc, html

from components import context
from components.station_card import station_grid, station_liveness
from datastore.queues import QueueSummary, queue_summaries
from datastore.telemetry import StationSnapshot, station_overview, step_plan
from domain.liveness import Liveness
from domain.step_plan import StepPlan

dash.register_page(__name__, path="/", name="Overview", order=0)

REFRESH_MS = 5000


class ids:
    """The ids of this page's components, each written once."""

    SUMMARY = "overview-summary"
    CARDS = "overview-cards"
    CARD_PREFIX = "overview"  # prefix of each station card's id
    INTERVAL = "overview-interval"


def layout(**_params: str) -> html.Div:
    return _page(*_render())


def validation_layout() -> html.Div:
    """The page's components without data, for checking the callbacks' ids."""
    return _page("", None)


def _page(summary: Any, cards: Any) -> html.Div:
    return html.Div(
        [
            html.Div(
                [
                    html.H2("Overview", className="mb-0"),
                    html.Div(summary, id=ids.SUMMARY, className="text-muted"),
                ],
                className="d-flex align-items-baseline gap-3 mb-3 flex-wrap",
            ),
            html.Div(cards, id=ids.CARDS),
            dcc.Interval(id=ids.INTERVAL, interval=REFRESH_MS),
        ]
    )


@callback(
    Output(ids.SUMMARY, "children"),
    Output(ids.CARDS, "children"),
    Input(ids.INTERVAL, "n_intervals"),
    prevent_initial_call=True,
)
def refresh_cards(_n_intervals: int) -> tuple[object, object]:
    return _render()


def _render() -> tuple[object, object]:
    """(summary line, card grid) from one overview query (plus cached step plans)."""
    timeout_s = context.current().settings.node.heartbeat_timeout_s
    now = dt.datetime.now(dt.UTC)
    with context.session() as session:
        stations = station_overview(session)
        queues = queue_summaries(session)

        def plan_of(station: StationSnapshot) -> StepPlan | None:
            experiment = station.experiment
            if experiment is None:
                return None
            return step_plan(session, experiment.id, experiment.created_at)

        grid = station_grid(
            stations, plan_of, now, timeout_s, ids.CARD_PREFIX, lambda s: queues.get(s.id)
        )
    return _summary(stations, now, timeout_s, queues), grid


def _summary(
    stations: list[StationSnapshot],
    now: dt.datetime,
    timeout_s: float,
    queues: dict[int, QueueSummary],
) -> str:
    """Stations by state, then the experiments queued on the stations shown."""
    counts: Counter[str] = Counter()
    for station in stations:
        verdict = station_liveness(station, now, timeout_s)
        if station.experiment is not None:
            counts[station.experiment.status.value.lower()] += 1
        elif verdict in (Liveness.OFFLINE, Liveness.NEVER_SEEN):
            counts["offline"] += 1
        else:
            counts["idle"] += 1
    shown = {station.id for station in stations}
    counts["queued"] = sum(queue.count for key, queue in queues.items() if key in shown)
    parts = [
        f"{counts[key]} {key}"
        for key in ("running", "paused", "idle", "offline", "queued")
        if counts[key]
    ]
    return f"{' · '.join(parts) or 'no stations'} · updated every {REFRESH_MS // 1000} s"
