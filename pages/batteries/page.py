"""Batteries: every registered battery with its technology, safe window and capacity; a
row opens its page, "New battery" the form."""

from __future__ import annotations

from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, callback, dcc, html, no_update

from components import context
from components.tables import record_grid
from components.urls import NEW_BATTERY_URL, battery_url
from datastore.batteries import battery_table
from pages.batteries import ids
from pages.batteries.table import COLUMNS, grid_row

dash.register_page(__name__, path="/batteries", name="Batteries", order=5)


def layout(**_params: str) -> html.Div:
    with context.session() as session:
        rows = [grid_row(battery, uses) for battery, uses in battery_table(session)]
    return _page(rows)


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
                    html.H2("Batteries", className="mb-0"),
                    dbc.Button(
                        [html.I(className="bi bi-plus-lg me-1"), "New battery"],
                        id=ids.NEW,
                        href=NEW_BATTERY_URL,
                        color="primary",
                        size="sm",
                    ),
                ],
                className="d-flex align-items-center gap-3 mb-3",
            ),
            html.P(
                "A row opens the battery: its facts, its experiments and the edit of its "
                "description. Currents: positive charges, negative discharges.",
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
def open_battery(clicked: dict[str, Any] | None) -> Any:
    """A click anywhere on a row opens the battery (the name cell is a link of its own)."""
    if not clicked or clicked.get("colId") in ("name", None) or clicked.get("rowId") is None:
        return no_update
    return battery_url(int(clicked["rowId"]))
