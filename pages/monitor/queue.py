"""The monitor's queue panel: the experiments waiting on the station, oldest first as the
node tries them (`datastore.queues.station_queue`), each with its place in the queue; one
whose battery is busy elsewhere waits while a later one starts.

A new experiment lands here from the new-experiment form, so it shows at once; the
panel is refreshed with the rest of the monitor.
"""

from __future__ import annotations

from collections.abc import Sequence

import dash_bootstrap_components as dbc
from dash import dcc, html

from components.station_card import status_badge
from components.urls import experiment_url
from datastore.queues import QueuedExperiment
from domain.formatting import format_utc
from pages.monitor import ids


def queue_panel(queued: Sequence[QueuedExperiment]) -> html.Div:
    """A heading with the count, then one line per waiting experiment."""
    if not queued:
        return html.Div(
            [
                html.H5("Queue", className="mt-3"),
                html.Div("No experiment is waiting on this station.", className="text-muted small"),
            ]
        )
    items = [
        dbc.ListGroupItem(
            [
                html.Span(f"{item.position}.", className="fw-semibold me-2"),
                status_badge("QUEUED", className="me-2"),
                dcc.Link(item.name, href=experiment_url(item.id), className="fw-semibold me-2"),
                html.Span(
                    " · ".join(
                        part
                        for part in (
                            f"on {item.battery_name}",
                            f"profile {item.profile_name}" if item.profile_name else "",
                            f"queued {format_utc(item.created_at, with_date=True)}",
                        )
                        if part
                    ),
                    className="text-muted small",
                ),
            ],
            id=ids.queue_item(item.id),
            className="py-1",
        )
        for item in queued
    ]
    waiting = (
        f"{len(queued)} waiting, oldest first; each starts when the station is idle and its "
        "battery is free, so one whose battery is busy elsewhere lets the next go first"
    )
    return html.Div(
        [
            html.Div(
                [
                    html.H5("Queue", className="mt-3 mb-1"),
                    html.Span(waiting, className="text-muted small"),
                ],
                className="d-flex align-items-baseline gap-2",
            ),
            dbc.ListGroup(items, flush=True),
        ]
    )
