"""Stations: cycler channels, their computational units and windows."""

from typing import Any

import dash
from dash import html

from components import context
from components.tables import record_grid
from datastore.queries import list_stations

dash.register_page(__name__, path="/stations", name="Stations", order=7)


class ids:
    """The ids of this page's components, each written once."""

    GRID = "stations-grid"


COLUMNS: list[dict[str, Any]] = [
    {"field": "id", "headerName": "ID", "maxWidth": 90},
    {"field": "name", "headerName": "Name"},
    {"field": "unit", "headerName": "Computational unit"},
    {"field": "location", "headerName": "Location"},
    {"field": "voltage_min", "headerName": "V min / V", "type": "numericColumn"},
    {"field": "voltage_max", "headerName": "V max / V", "type": "numericColumn"},
    {"field": "current_min", "headerName": "I min / A", "type": "numericColumn"},
    {"field": "current_max", "headerName": "I max / A", "type": "numericColumn"},
    {"field": "last_heartbeat", "headerName": "Last heartbeat (UTC)"},
]


def layout(**_params: str) -> html.Div:
    with context.session() as session:
        rows = list_stations(session)
    return _page(rows)


def validation_layout() -> html.Div:
    """The page's components without data, for checking the callbacks' ids."""
    return _page([])


def _page(rows: list[dict[str, Any]]) -> html.Div:
    return html.Div([html.H2("Stations"), record_grid(ids.GRID, rows, COLUMNS)])
