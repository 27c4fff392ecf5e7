"""Experiments: every experiment in a sortable, filterable table."""

from typing import Any

import dash
from dash import html

from components import context
from components.tables import record_grid
from components.urls import experiment_csv_url
from datastore.queries import list_experiments

dash.register_page(__name__, path="/experiments", name="Experiments", order=2)


class ids:
    """The ids of this page's components, each written once."""

    GRID = "experiments-grid"


COLUMNS: list[dict[str, Any]] = [
    {"field": "id", "headerName": "ID", "maxWidth": 90},
    {"field": "name", "headerName": "Name", "minWidth": 200},
    {"field": "status", "headerName": "Status"},
    {"field": "battery", "headerName": "Battery"},
    {"field": "station", "headerName": "Station"},
    {"field": "profile", "headerName": "Profile"},
    {"field": "created_at", "headerName": "Created (UTC)"},
    {"field": "began_at", "headerName": "Began (UTC)"},
    {"field": "finished_at", "headerName": "Finished (UTC)"},
    {"field": "samples", "headerName": "Samples", "type": "numericColumn"},
    {
        "field": "download",
        "headerName": "Data",
        "cellRenderer": "markdown",
        "sortable": False,
        "filter": False,
        "maxWidth": 110,
    },
]


def layout(**_params: str) -> html.Div:
    with context.session() as session:
        rows = list_experiments(session)
    for row in rows:
        if row["samples"]:
            row["download"] = f"[CSV]({experiment_csv_url(row['id'])})"
    return _page(rows)


def validation_layout() -> html.Div:
    """The page's components without data, for checking the callbacks' ids."""
    return _page([])


def _page(rows: list[dict[str, Any]]) -> html.Div:
    return html.Div([html.H2("Experiments"), record_grid(ids.GRID, rows, COLUMNS)])
