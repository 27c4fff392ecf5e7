"""Profiles: every stored profile with its version and envelope; a row opens its page,
"New profile" the editor."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, callback, html

from components import context
from components.tables import clicked_row_url, record_list
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
    return record_list(
        title="Profiles",
        new_label="New profile",
        new_id=ids.NEW,
        new_url=NEW_PROFILE_URL,
        intro=(
            "A row opens the profile: its text, envelope, planned set points and the "
            "experiments that use it. An edit of a profile that experiments use is saved "
            "as a new version."
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
def open_profile(clicked: dict[str, Any] | None) -> Any:
    """A click anywhere on a row opens the profile (the name cell is a link of its own)."""
    return clicked_row_url(clicked, profile_url)
