"""The page a record's address shows when there is no such record (batteries, profiles,
experiments): the kind as the title, the reason, and a link back to the list."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html


def not_found(title: str, message: str, list_label: str, list_url: str, alert_id: str) -> html.Div:
    """`message` (why nothing is shown) under `title`, with a link to `list_url`."""
    return html.Div(
        [
            html.H2(title),
            dbc.Alert(
                [message, " ", dcc.Link(list_label, href=list_url)],
                color="warning",
                id=alert_id,
            ),
        ]
    )
