"""One profile, `/profiles/<id>`: its text as written, its step count and envelope, a
sketch of its set points step by step, its versions, and the experiments that use it;
Edit opens the editor on its text.

C-rates are drawn as written, in C, until a battery is chosen above the sketch: then they
are resolved against that battery's nominal capacity, in amperes, as they will be when an
experiment is queued on it (`domain.profiles.sketch_profile`).
"""

from __future__ import annotations

from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, dcc, html

from components import context
from components.forms import parse_id
from components.not_found import not_found
from components.profile_text import (
    demand_rows,
    envelope_rows,
    steps_text,
    version_label,
)
from components.urls import NEW_PROFILE_URL, PROFILES_URL, experiment_url, profile_edit_url
from components.urls import profile_url as url_of_profile
from datastore import catalog
from datastore.profiles import Choice, ProfileDetail, battery_choices, profile_detail
from domain.formatting import format_utc
from domain.profiles import ProfileError, profile_from_json, resolve_envelope, sketch_profile
from pages.profiles import ids
from pages.profiles.figures import sketch_figure

dash.register_page(
    __name__,
    path_template="/profiles/<profile_id>",
    name="Profile",
    title="Profile",
    # After /profiles/new and /profiles/<id>/edit: Dash matches pages in this order, and
    # "new" must not be taken for a profile id.
    order=995,
)

GRAPH_CONFIG: Any = {"displaylogo": False, "responsive": True}
# The sketch's battery choice that resolves nothing: C-rates as written, in C.
AS_WRITTEN = "as-written"


def layout(profile_id: str | None = None, **_params: str) -> html.Div:
    try:
        number = int(profile_id or "")
    except ValueError:
        return _not_found(f"“{profile_id}” is not a profile number.")
    with context.session() as session:
        detail = profile_detail(session, number)
        if detail is None:
            return _not_found(f"There is no profile {number}.")
        batteries = battery_choices(session)
    return _page(detail, batteries)


def validation_layout() -> html.Div:
    """The page's components without data, for checking the callbacks' ids."""
    return html.Div(
        [
            dbc.Select(id=ids.SKETCH_BATTERY),
            html.Div(id=ids.SKETCH_NOTE),
            dcc.Graph(id=ids.SKETCH),
            dcc.Store(id=ids.PROFILE_ID),
        ]
    )


def _not_found(message: str) -> html.Div:
    return not_found("Profile", message, "See all profiles", PROFILES_URL, ids.NOT_FOUND)


def _page(detail: ProfileDetail, batteries: list[Choice]) -> html.Div:
    return html.Div(
        [
            dcc.Link("Profiles", href=PROFILES_URL, className="text-muted small"),
            html.Div(
                [
                    html.H2(
                        version_label(detail.name, detail.version), id=ids.TITLE, className="mb-0"
                    ),
                    dbc.Button(
                        [html.I(className="bi bi-pencil me-1"), "Edit"],
                        id=ids.EDIT,
                        href=profile_edit_url(detail.id),
                        color="primary",
                        size="sm",
                    ),
                    dbc.Button(
                        "New profile",
                        href=NEW_PROFILE_URL,
                        color="secondary",
                        size="sm",
                        outline=True,
                    ),
                ],
                className="d-flex align-items-center gap-3 flex-wrap",
            ),
            html.P(detail.description, className="mt-2 mb-1") if detail.description else None,
            html.Div(_versions(detail), id=ids.VERSIONS, className="small text-muted mb-3"),
            dbc.Row(
                [
                    dbc.Col(
                        [
                            html.H5("Text"),
                            html.Pre(
                                detail.source,
                                id=ids.SOURCE,
                                className="font-monospace border rounded p-2 bg-light small",
                                style={"maxHeight": "480px", "overflow": "auto"},
                            ),
                        ],
                        lg=6,
                    ),
                    dbc.Col(
                        [
                            html.H5("Steps and envelope"),
                            html.P(
                                f"{steps_text(detail.step_count)} once REPEAT blocks are unrolled.",
                                id=ids.STEP_COUNT,
                            ),
                            _range_table(demand_rows(detail.demand), ids.ENVELOPE),
                            html.P(
                                "The extremes the profile can demand, as written: C-rates in C "
                                "and constant power in W become currents on a given battery.",
                                className="small text-muted",
                            ),
                            html.H5("Experiments using it", className="mt-3"),
                            _experiments(detail),
                        ],
                        lg=6,
                    ),
                ]
            ),
            html.H5("Planned set points", className="mt-3"),
            html.P(
                "Each step at its set point: CC as a current, CV as a voltage, CP as a power, "
                "WAIT at rest (0 A); the step's limit, cycle and line are in the hover. "
                "C-rates are drawn as written, in C; choose a battery to see them in amperes "
                "at its nominal capacity, as an experiment on it will run them.",
                className="small text-muted mb-1",
            ),
            dbc.Select(
                id=ids.SKETCH_BATTERY,
                options=[{"label": "No battery: C-rates as written, in C", "value": AS_WRITTEN}]
                + [{"label": choice.label, "value": str(choice.id)} for choice in batteries],
                value=AS_WRITTEN,
                style={"maxWidth": "40rem"},
            ),
            html.Div(id=ids.SKETCH_NOTE, className="small mt-1"),
            dcc.Graph(id=ids.SKETCH, config=GRAPH_CONFIG),
            dcc.Store(id=ids.PROFILE_ID, data=detail.id),
        ]
    )


def _range_table(rows: list[tuple[str, str]], table_id: str) -> dbc.Table:
    return dbc.Table(
        html.Tbody([html.Tr([html.Th(name), html.Td(span)]) for name, span in rows]),
        id=table_id,
        size="sm",
        className="w-auto",
    )


def _versions(detail: ProfileDetail) -> list[Any]:
    """Which version this is, the one it was made from and the newer ones, as links."""
    parts: list[Any] = [f"Version {detail.version}"]
    if detail.previous is not None:
        parts += [
            ", made from ",
            dcc.Link(
                version_label(detail.previous.name, detail.previous.version),
                href=url_of_profile(detail.previous.id),
            ),
        ]
    parts.append(f", saved {format_utc(detail.created_at, with_date=True)}.")
    if detail.newer:
        parts.append(" Newer: ")
        for index, newer in enumerate(detail.newer):
            if index:
                parts.append(", ")
            parts.append(
                dcc.Link(version_label(newer.name, newer.version), href=url_of_profile(newer.id))
            )
        parts.append(".")
    return parts


def _experiments(detail: ProfileDetail) -> Any:
    if not detail.experiments:
        return html.P(
            "None yet: an edit changes this profile in place.",
            id=ids.EXPERIMENTS,
            className="small text-muted",
        )
    return html.Div(
        [
            html.P(
                "An edit is saved as a new version: these experiments keep this one.",
                className="small text-muted mb-1",
            ),
            html.Ul(
                [
                    html.Li(
                        [
                            dcc.Link(
                                f"{use.name} (experiment {use.id})", href=experiment_url(use.id)
                            ),
                            f" · {use.status.value} · {use.battery}"
                            + (f" on {use.station}" if use.station else ""),
                        ]
                    )
                    for use in detail.experiments
                ],
                className="small",
            ),
        ],
        id=ids.EXPERIMENTS,
    )


@callback(
    Output(ids.SKETCH, "figure"),
    Output(ids.SKETCH_NOTE, "children"),
    Input(ids.SKETCH_BATTERY, "value"),
    State(ids.PROFILE_ID, "data"),
)
def draw_sketch(battery: str | None, profile_id: int | None) -> tuple[Any, Any]:
    """The set points, C-rates in C or resolved for the chosen battery."""
    if profile_id is None:
        return {"data": [], "layout": {}}, ""
    with context.session() as session:
        try:
            profile = catalog.get_profile(session, int(profile_id))
            battery_id = None if battery == AS_WRITTEN else parse_id(battery)
            chosen = None if battery_id is None else catalog.get_battery(session, battery_id)
        except catalog.NotFoundError as error:
            return {"data": [], "layout": {}}, html.Span(f"{error}.", className="text-danger")
        parsed = profile_from_json(profile.instructions)
        rating = catalog.battery_rating(chosen) if chosen is not None else None
        battery_name = chosen.name if chosen is not None else ""
    capacity = rating.capacity_ah if rating is not None and rating.has_capacity else None
    sketch = sketch_profile(parsed, capacity)
    notes: list[Any] = []
    if sketch.capped:
        notes.append(
            f"The first {len(sketch.steps):,} of {sketch.total:,} steps are drawn; "
            "the rest repeat the blocks shown. "
        )
    if rating is not None:
        if parsed.uses_c_rates and capacity is None:
            notes.append(
                f"Battery {battery_name} has no nominal capacity: C-rates stay in C, and an "
                "experiment with this profile cannot be queued on it. "
            )
        elif parsed.uses_c_rates:
            notes.append(f"C-rates resolved at {capacity:g} Ah ({battery_name}). ")
        try:
            envelope = resolve_envelope(parsed, rating)
            notes.append(
                f"On {battery_name}: "
                + "; ".join(f"{name.lower()} {span}" for name, span in envelope_rows(envelope))
                + "."
            )
        except ProfileError:
            pass
    return sketch_figure(sketch), html.Span(notes, className="text-muted")
