"""A notice for a page whose full version is still being built."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html


def coming_soon(title: str, what: str) -> html.Div:
    return html.Div(
        [
            html.H2(title),
            dbc.Alert([html.Strong("Not built yet. "), what], color="secondary"),
        ]
    )
