"""A new profile, `/profiles/new`: the editor on an empty text (`editor.py`)."""

from __future__ import annotations

import dash
from dash import html

from components import context
from datastore.profiles import battery_choices, station_choices
from pages.profiles.editor import editor

dash.register_page(
    __name__,
    path="/profiles/new",
    name="New profile",
    title="New profile",
    nav=False,  # opened from the profile list's "New profile"
    order=990,
)


def layout(**_params: str) -> html.Div:
    with context.session() as session:
        batteries = battery_choices(session)
        stations = station_choices(session)
    return editor(batteries=batteries, stations=stations)


def validation_layout() -> html.Div:
    """The editor's components without data, for checking the callbacks' ids (the edit
    page shows the same editor and gives nothing more)."""
    return editor()
