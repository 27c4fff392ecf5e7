"""The alarms a cycler raised, as a table: the monitor and the experiment page show it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dash_bootstrap_components as dbc
from dash import html

from datastore.telemetry import AlarmRecord
from domain.formatting import format_utc


def alarms_table(alarms: Sequence[AlarmRecord], total: int) -> Any:
    """The latest alarms, newest first; a note when there are none."""
    if not alarms:
        return html.Div("No alarms raised.", className="text-muted small")
    rows = [
        html.Tr(
            [
                html.Td(format_utc(alarm.ts, with_date=True), className="text-nowrap"),
                html.Td(alarm.code, className="fw-semibold"),
                html.Td("" if alarm.value is None else f"{alarm.value:g}"),
                html.Td(alarm.message),
            ]
        )
        for alarm in alarms
    ]
    caption = f"The latest {len(alarms)} of {total} alarms." if total > len(alarms) else None
    return html.Div(
        [
            dbc.Table(
                [
                    html.Thead(
                        html.Tr(
                            [
                                html.Th("Time (UTC)"),
                                html.Th("Code"),
                                html.Th("Value"),
                                html.Th("Message"),
                            ]
                        )
                    ),
                    html.Tbody(rows),
                ],
                size="sm",
                striped=True,
                className="mb-1",
            ),
            html.Div(caption, className="text-muted small") if caption else None,
        ]
    )
