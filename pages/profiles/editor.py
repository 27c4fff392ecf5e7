"""The profile editor: its layout and callbacks, shared by /profiles/new (`new.py`) and
/profiles/<id>/edit (`edit.py`).

The text is checked as it is typed (once typing pauses): its problems by line, or its
step count and envelope, and whether it fits the battery and station chosen beside it.
A .txt file can be uploaded into it. Save checks everything again on the server
(`form.save_profile`), shows each problem beside its field, and opens the saved
profile's page: the same profile, or its new version when experiments use the one edited.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, dcc, html, no_update

from components import context
from components.forms import parse_id
from components.profile_text import (
    TextCheck,
    check_text,
    demand_summary,
    read_upload,
    steps_text,
    verdict,
)
from components.urls import PROFILES_URL, profile_url
from datastore import catalog
from datastore.profiles import Choice
from domain.profiles import BatteryRating, Window
from pages.profiles import ids
from pages.profiles.form import (
    DESCRIPTION_LENGTH,
    FIELDS,
    NAME_LENGTH,
    FormErrors,
    ProfileForm,
    save_profile,
)

PLACEHOLDER = (
    "# CC-CV charge, then 10 cycles\n"
    "CC, 1.5, VOLTAGE, 4.2\n"
    "CV, 4.2, CURRENT, 0.15\n"
    "REPEAT 10\n"
    "    CC, -1C, VOLTAGE, 2.75\n"
    "    WAIT, 600\n"
    "    CC, 0.5C, VOLTAGE, 4.2\n"
    "END"
)
# Checked this long after the last key press: a check per pause, not per character.
DEBOUNCE_MS = 400


def _options(choices: Sequence[Choice]) -> list[dict[str, str]]:
    return [{"label": choice.label, "value": str(choice.id)} for choice in choices]


def _error(field: str) -> html.Div:
    return html.Div(id=ids.error(field), className="small text-danger mt-1")


def editor(
    *,
    title: str = "New profile",
    editing: int | None = None,
    rule: Any = None,
    text: str = "",
    name: str = "",
    description: str = "",
    batteries: Sequence[Choice] = (),
    stations: Sequence[Choice] = (),
    back: str = PROFILES_URL,
) -> html.Div:
    """The whole editor; `editing` is the id of the profile edited (None: a new one) and
    `rule` says whether saving changes it in place or makes a new version."""
    text_column = dbc.Col(
        [
            dcc.Upload(
                html.Div(
                    [
                        html.I(className="bi bi-upload me-1"),
                        "Drop a .txt file here or click to choose one: "
                        "its text replaces the text below",
                    ]
                ),
                id=ids.UPLOAD,
                # No `accept` or `max_size`: the browser would drop such a file silently;
                # the server reads it and says what is wrong (check.read_upload).
                className="border border-secondary-subtle rounded p-2 text-center small "
                "text-muted mb-1",
            ),
            html.Div(id=ids.UPLOAD_NOTE, className="small text-danger mb-1"),
            dbc.Label("Profile text", html_for=ids.TEXT),
            dbc.Textarea(
                id=ids.TEXT,
                value=text,
                rows=16,
                placeholder=PLACEHOLDER,
                className="font-monospace",
                spellcheck=False,
                debounce=DEBOUNCE_MS,
                submit_on_enter=False,
            ),
            _error("text"),
            html.Div(id=ids.CHECK, className="small mt-2"),
            html.P(
                [
                    "The language: ",
                    html.Code("WAIT"),
                    ", ",
                    html.Code("CC"),
                    ", ",
                    html.Code("CV"),
                    ", ",
                    html.Code("CP"),
                    " steps, each with one limit, and ",
                    html.Code("REPEAT n … END"),
                    " blocks; docs/profiles.md describes it with examples.",
                ],
                className="small text-muted mt-2",
            ),
        ],
        lg=7,
    )
    side_column = dbc.Col(
        [
            html.H5("Does it fit?", className="mt-3 mt-lg-0"),
            dbc.Label("Battery", html_for=ids.BATTERY, className="small"),
            dbc.Select(id=ids.BATTERY, options=_options(batteries), placeholder="Choose a battery"),
            dbc.Label("Station", html_for=ids.STATION, className="small mt-2"),
            dbc.Select(id=ids.STATION, options=_options(stations), placeholder="Choose a station"),
            html.Div(id=ids.VERDICT, className="small mt-2"),
            html.H5("Save", className="mt-4"),
            dbc.Label("Name", html_for=ids.NAME),
            dbc.Input(
                id=ids.NAME, value=name, maxlength=NAME_LENGTH, placeholder="e.g. CC-CV 1.5 A"
            ),
            _error("name"),
            dbc.Label("Description (optional)", html_for=ids.DESCRIPTION, className="mt-2"),
            dbc.Textarea(
                id=ids.DESCRIPTION, value=description, rows=3, maxlength=DESCRIPTION_LENGTH
            ),
            _error("description"),
            dbc.Button(
                [html.I(className="bi bi-save me-1"), "Save profile"],
                id=ids.SAVE,
                color="primary",
                className="mt-3",
            ),
            _error("form"),
        ],
        lg=5,
    )
    return html.Div(
        [
            dcc.Link(
                "Profiles" if back == PROFILES_URL else "Back to the profile",
                href=back,
                className="text-muted small",
            ),
            html.H2(title, id=ids.EDITOR_TITLE),
            html.Div(rule, id=ids.EDIT_RULE),
            dbc.Row([text_column, side_column], className="mt-2"),
            dcc.Store(id=ids.EDITING, data=editing),
            dcc.Location(id=ids.NAVIGATE, refresh="callback-nav"),
        ]
    )


# ---------------------------------------------------------------- what the callbacks show


def check_view(check: TextCheck) -> Any:
    """The live check: the problems by line, or the step count and envelope."""
    if check.problems:
        return html.Div(
            [
                html.Div("The profile has problems:", className="text-danger"),
                html.Ul(
                    [html.Li(problem) for problem in check.problems],
                    id=ids.PROBLEMS,
                    className="text-danger mb-0",
                ),
            ]
        )
    if check.profile is None or check.demand is None:
        return html.Span(
            "Type a profile or upload a .txt file; it is checked as you type.",
            className="text-muted",
        )
    return html.Div(
        f"Valid: {steps_text(check.profile.step_count)} once REPEAT blocks are unrolled. "
        f"Envelope: {demand_summary(check.demand)}.",
        id=ids.SUMMARY,
        className="text-success",
    )


def verdict_view(check: TextCheck, battery: BatteryRating | None, station: Window | None) -> Any:
    """Whether the text fits the chosen battery and station, and if not, every bound it
    exceeds and by how much."""
    if check.profile is None:
        return html.Span("A valid profile is checked here.", className="text-muted")
    result = verdict(check, battery, station)
    if result is None:
        return html.Span(
            "Choose a battery and a station to see whether they can run it.",
            className="text-muted",
        )
    if result.fits:
        return html.Span("Fits this battery and station.", className="text-success")
    return html.Div(
        [
            html.Div("Does not fit this battery and station:"),
            html.Ul([html.Li(problem) for problem in result.problems], className="mb-0"),
        ],
        className="text-danger",
    )


# ---------------------------------------------------------------- callbacks


@callback(
    Output(ids.TEXT, "value"),
    Output(ids.UPLOAD_NOTE, "children"),
    Output(ids.NAME, "value"),
    Input(ids.UPLOAD, "contents"),
    State(ids.UPLOAD, "filename"),
    State(ids.NAME, "value"),
    prevent_initial_call=True,
)
def load_upload(
    contents: str | None, filename: str | None, name: str | None
) -> tuple[Any, str, Any]:
    """An uploaded file replaces the text (checked like typed text); its name, without
    .txt, names the profile unless a name is typed already."""
    text, problem = read_upload(contents, filename)
    if text is None:
        return no_update, problem, no_update
    suggested = (filename or "").rsplit(".", 1)[0].strip()[:NAME_LENGTH]
    return text, "", (name if (name or "").strip() else suggested)


@callback(
    Output(ids.CHECK, "children"),
    Output(ids.VERDICT, "children"),
    Input(ids.TEXT, "value"),
    Input(ids.BATTERY, "value"),
    Input(ids.STATION, "value"),
)
def check(text: str | None, battery: str | None, station: str | None) -> tuple[Any, Any]:
    """The text's problems by line, or its envelope and its fit on the chosen pair."""
    checked = check_text(
        text, max_steps=context.max_steps(), max_start_bytes=context.max_start_bytes()
    )
    rating: BatteryRating | None = None
    window: Window | None = None
    battery_id, station_id = parse_id(battery), parse_id(station)
    if checked.profile is not None and battery_id is not None and station_id is not None:
        with context.session() as session:
            try:
                rating = catalog.battery_rating(catalog.get_battery(session, battery_id))
                window = catalog.station_window(catalog.get_station(session, station_id))
            except catalog.NotFoundError:
                rating = window = None
    return check_view(checked), verdict_view(checked, rating, window)


@callback(
    output={
        "errors": {field: Output(ids.error(field), "children") for field in FIELDS},
        "href": Output(ids.NAVIGATE, "href"),
    },
    inputs={
        "_clicks": Input(ids.SAVE, "n_clicks"),
        "text": State(ids.TEXT, "value"),
        "name": State(ids.NAME, "value"),
        "description": State(ids.DESCRIPTION, "value"),
        "editing": State(ids.EDITING, "data"),
    },
    prevent_initial_call=True,
)
def save(
    _clicks: int | None,
    text: str | None,
    name: str | None,
    description: str | None,
    editing: int | None,
) -> dict[str, Any]:
    """Store the profile and open its page, or say beside each field what is wrong."""
    form = ProfileForm(text=text, name=name, description=description, editing=editing)
    try:
        with context.session() as session:
            profile = save_profile(
                session,
                form,
                max_steps=context.max_steps(),
                max_start_bytes=context.max_start_bytes(),
            )
            saved_id = profile.id
    except FormErrors as errors:
        return {
            "errors": {field: errors.problems.get(field, "") for field in FIELDS},
            "href": no_update,
        }
    return {"errors": {field: "" for field in FIELDS}, "href": profile_url(saved_id)}
