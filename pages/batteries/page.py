"""Batteries: every registered battery with its technology, safe window and capacity; a
row opens its page, "New battery" the form."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, callback, html

from components import context
from components.tables import clicked_row_url, record_list
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
    return record_list(
        title="Batteries",
        new_label="New battery",
        new_id=ids.NEW,
        new_url=NEW_BATTERY_URL,
        intro=(
            "A row opens the battery: its facts, its experiments and the edit of its "
            "description. Currents: positive charges, negative discharges."
        ),
        grid_id=ids.GRID,
        rows=rows,
        columns=COLUMNS,
        navigate_id=ids.LIST_NAVIGATE,
    )


@callback(
    Output(ids.LIST_NAVIGATE, "href"),
    Input(ids.GRID, "cellClicked"),
    prevent_initial_call=True,
)
def open_battery(clicked: dict[str, Any] | None) -> Any:
    """A click anywhere on a row opens the battery (the name cell is a link of its own)."""
    return clicked_row_url(clicked, battery_url)
