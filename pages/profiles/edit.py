"""Editing a profile, `/profiles/<id>/edit`: the editor on its text (`editor.py`).

A profile no experiment uses is saved in place; one that experiments use is never
changed, and saving makes its next version (`catalog.save_profile_edit`). The page says
which before anything is typed.
"""

from __future__ import annotations

from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from components import context
from components.profile_text import version_label
from components.urls import PROFILES_URL, profile_url
from datastore.profiles import ProfileDetail, battery_choices, profile_detail, station_choices
from pages.profiles.editor import editor

dash.register_page(
    __name__,
    path_template="/profiles/<profile_id>/edit",
    name="Edit profile",
    title="Edit profile",
    # Before /profiles/<id>, whose template would take "5/edit" for an id.
    order=992,
)


def layout(profile_id: str | None = None, **_params: str) -> html.Div:
    try:
        number = int(profile_id or "")
    except ValueError:
        number = 0
    with context.session() as session:
        detail = profile_detail(session, number)
        if detail is None:
            return html.Div(
                [
                    html.H2("Edit profile"),
                    dbc.Alert(
                        [
                            f"There is no profile “{profile_id}” to edit. ",
                            dcc.Link("See all profiles", href=PROFILES_URL),
                        ],
                        color="warning",
                    ),
                ]
            )
        batteries = battery_choices(session)
        stations = station_choices(session)
    return editor(
        title=f"Edit {version_label(detail.name, detail.version)}",
        editing=detail.id,
        rule=edit_rule(detail),
        text=detail.source,
        name=detail.name,
        description=detail.description,
        batteries=batteries,
        stations=stations,
        back=profile_url(detail.id),
    )


def validation_layout() -> html.Div:
    """Nothing of its own: the editor's components come from the new-profile page."""
    return html.Div()


def next_version(detail: ProfileDetail) -> int:
    """The version number an edit of a used profile gets: one more than the highest."""
    return max((v.version for v in detail.versions), default=detail.version) + 1


def edit_rule(detail: ProfileDetail) -> Any:
    """What Save will do with this profile, and why."""
    used = len(detail.experiments)
    if not used:
        return dbc.Alert(
            "No experiment uses this profile: saving changes it in place.",
            color="light",
            className="small py-2",
        )
    experiments = f"{used} experiment{'' if used == 1 else 's'}"
    return dbc.Alert(
        f"{experiments} use{'s' if used == 1 else ''} this profile, so it is never changed: "
        f"saving makes version {next_version(detail)}, and version {detail.version} stays "
        "as it is for them.",
        color="info",
        className="small py-2",
    )
