"""Profiles: every stored profile with its version and envelope; a row opens its page,
"New profile" the editor."""

from __future__ import annotations

from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, callback, dcc, html, no_update

from components import context
from components.tables import record_grid
from components.urls import NEW_PROFILE_URL, profile_url
from datastore.profiles import profile_table
from pages.profiles import ids
from pages.profiles.table import COLUMNS, grid_row

dash.register_page(__name__, path="/profiles", name="Profiles", order=6)


def layout(**_params: str) -> html.Div:
    with context.session() as session:
        rows = profile_table(session)
    return _page([grid_row(row) for row in rows])


def validation_layout() -> html.Div:
    """The page's components without data, for checking the callbacks' ids."""
    return _page([])


def _page(rows: list[dict[str, Any]]) -> html.Div:
    grid = record_grid(ids.GRID, rows, COLUMNS)
    grid.getRowId = "params.data.id"
    return html.Div(
        [
            html.Div(
                [
                    html.H2("Profiles", className="mb-0"),
                    dbc.Button(
                        [html.I(className="bi bi-plus-lg me-1"), "New profile"],
                        id=ids.NEW,
                        href=NEW_PROFILE_URL,
                        color="primary",
                        size="sm",
                    ),
                ],
                className="d-flex align-items-center gap-3 mb-3",
            ),
            html.P(
                "A row opens the profile: its text, envelope, planned set points and the "
                "experiments that use it. An edit of a profile that experiments use is saved "
                "as a new version.",
                className="small text-muted",
            ),
            grid,
            dcc.Location(id=ids.LIST_NAVIGATE, refresh="callback-nav"),
        ]
    )


@callback(
    Output(ids.LIST_NAVIGATE, "href"),
    Input(ids.GRID, "cellClicked"),
    prevent_initial_call=True,
)
def open_profile(clicked: dict[str, Any] | None) -> Any:
    """A click anywhere on a row opens the profile (the name cell is a link of its own)."""
    if not clicked or clicked.get("colId") in ("name", None) or clicked.get("rowId") is None:
        return no_update
    return profile_url(int(clicked["rowId"]))
