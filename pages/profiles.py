"""Profiles: the stored cycling profiles and their envelopes."""

from typing import Any

import dash
from dash import html

from components import context
from components.tables import record_grid
from datastore.queries import list_profiles

dash.register_page(__name__, path="/profiles", name="Profiles", order=6)


class ids:
    """The ids of this page's components, each written once."""

    GRID = "profiles-grid"


COLUMNS: list[dict[str, Any]] = [
    {"field": "id", "headerName": "ID", "maxWidth": 90},
    {"field": "name", "headerName": "Name", "minWidth": 160},
    {"field": "description", "headerName": "Description", "minWidth": 220},
    {"field": "step_count", "headerName": "Steps", "type": "numericColumn"},
    {"field": "voltage_min", "headerName": "V min / V", "type": "numericColumn"},
    {"field": "voltage_max", "headerName": "V max / V", "type": "numericColumn"},
    {"field": "current_min", "headerName": "I min / A", "type": "numericColumn"},
    {"field": "current_max", "headerName": "I max / A", "type": "numericColumn"},
]


def layout(**_params: str) -> html.Div:
    with context.session() as session:
        rows = list_profiles(session)
    return _page(rows)


def validation_layout() -> html.Div:
    """The page's components without data, for checking the callbacks' ids."""
    return _page([])


def _page(rows: list[dict[str, Any]]) -> html.Div:
    return html.Div([html.H2("Profiles"), record_grid(ids.GRID, rows, COLUMNS)])
