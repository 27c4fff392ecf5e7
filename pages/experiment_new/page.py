"""New experiment: technology, battery, station, a profile that fits (stored, or written or
uploaded here and saved), name and description, and the technology's run conditions.

`/experiments/new?battery=<id>` preselects that battery and its technology. Submitting
checks everything on the server (`submit.queue_new_experiment`); each problem shows
beside its field and nothing is stored, or the experiment is queued and the station's
monitor opens, where it waits in the queue.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import dash
from dash import Input, Output, State, callback, ctx, html, no_update

from components import context
from components.forms import parse_id
from components.profile_text import check_text as check_profile_text
from components.profile_text import read_upload
from components.profile_text import verdict as fit_verdict
from components.urls import monitor_url
from config.logs import for_experiment
from datastore import catalog
from datastore.experiment_choices import battery_choices, profile_choices
from datastore.telemetry import StationSnapshot, station_overview
from domain.experiment_details import ALL_FIELDS, EXPERIMENT_FIELDS
from domain.profiles import ProfileError
from pages.experiment_new import ids
from pages.experiment_new.choices import (
    battery_options,
    keep_choice,
    profile_options,
    station_note,
    station_options,
    technology_of,
)
from pages.experiment_new.form import FIELDS, form, text_check, why_list
from pages.experiment_new.submit import (
    STORED,
    WRITTEN,
    FormErrors,
    NewExperiment,
    queue_new_experiment,
)

log = logging.getLogger("bem.web")

dash.register_page(__name__, path="/experiments/new", name="New experiment", order=3)

HIDDEN = {"display": "none"}
SHOWN: dict[str, str] = {}


def layout(battery: str | None = None, station: str | None = None, **_params: str) -> html.Div:
    settings = context.current().settings
    with context.session() as session:
        batteries = battery_choices(session)
        stations = station_overview(session)
    now = _now()
    chosen = parse_id(battery)
    technology = technology_of(batteries, chosen)
    offered_stations = station_options(stations, now, settings.node.heartbeat_timeout_s)
    return form(
        technology=technology,
        battery=str(chosen) if technology else None,
        battery_options=battery_options(batteries, technology),
        station=keep_choice(parse_id(station), offered_stations),
        station_options=offered_stations,
    )


def validation_layout() -> html.Div:
    """The page's components without data, for checking the callbacks' ids."""
    return form()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# ---------------------------------------------------------------- choices


@callback(
    Output(ids.BATTERY, "options"),
    Output(ids.BATTERY, "value"),
    Input(ids.TECHNOLOGY, "value"),
    State(ids.BATTERY, "value"),
    prevent_initial_call=True,
)
def offer_batteries(technology: str | None, battery: str | None) -> tuple[Any, Any]:
    """The batteries of the chosen technology; a battery of another one is dropped."""
    with context.session() as session:
        options = battery_options(battery_choices(session), technology)
    return options, keep_choice(battery, options)


@callback(
    [Output(ids.conditions(technology), "style") for technology in EXPERIMENT_FIELDS],
    Input(ids.TECHNOLOGY, "value"),
)
def show_conditions(technology: str | None) -> list[dict[str, str]]:
    """Only the chosen technology's run conditions are asked for."""
    return [SHOWN if key == technology else HIDDEN for key in EXPERIMENT_FIELDS]


@callback(
    Output(ids.STATION_NOTE, "children"),
    Output(ids.STATION_NOTE, "className"),
    Input(ids.STATION, "value"),
)
def describe_station(station: str | None) -> tuple[str, str]:
    """The chosen station's state, as a warning when it has never been (or is not) online."""
    station_id = parse_id(station)
    snapshot: StationSnapshot | None = None
    if station_id is not None:
        with context.session() as session:
            snapshot = next((s for s in station_overview(session) if s.id == station_id), None)
    text, warn = station_note(snapshot, _now(), context.current().settings.node.heartbeat_timeout_s)
    return text, "small mt-1 " + ("text-warning-emphasis fw-semibold" if warn else "text-muted")


@callback(
    Output(ids.PROFILE, "options"),
    Output(ids.PROFILE, "value"),
    Output(ids.PROFILE_HINT, "children"),
    Output(ids.WHY_LIST, "children"),
    Input(ids.BATTERY, "value"),
    Input(ids.STATION, "value"),
    Input(ids.SAVED_PROFILE, "data"),
    State(ids.PROFILE, "value"),
)
def offer_profiles(
    battery: str | None, station: str | None, saved: int | None, profile: str | None
) -> tuple[Any, ...]:
    """The stored profiles that fit the battery and the station, reloaded when either
    changes; a profile just saved is selected if it fits."""
    battery_id, station_id = parse_id(battery), parse_id(station)
    if battery_id is None or station_id is None:
        return [], None, "Choose a battery and a station to see the profiles that fit both.", None
    try:
        with context.session() as session:
            compatible, others = profile_choices(session, battery_id, station_id)
    except catalog.NotFoundError as error:
        return [], None, f"{str(error).capitalize()}.", None
    options = profile_options(compatible)
    wanted = saved if ctx.triggered_id == ids.SAVED_PROFILE else profile
    count = len(compatible)
    hint = (
        f"{count} of {count + len(others)} stored profiles fit this battery and station."
        if count
        else "No stored profile fits this battery and station; write one below."
    )
    return options, keep_choice(wanted, options), hint, why_list(others)


@callback(
    Output(ids.WHY_COLLAPSE, "is_open"),
    Input(ids.WHY_TOGGLE, "n_clicks"),
    State(ids.WHY_COLLAPSE, "is_open"),
    prevent_initial_call=True,
)
def toggle_why(_clicks: int | None, is_open: bool | None) -> bool:
    return not is_open


@callback(
    Output(ids.STORED_SECTION, "style"),
    Output(ids.WRITE_SECTION, "style"),
    Input(ids.PROFILE_SOURCE, "value"),
)
def show_profile_source(source: str | None) -> tuple[dict[str, str], dict[str, str]]:
    written = source == WRITTEN
    return (HIDDEN if written else SHOWN), (SHOWN if written else HIDDEN)


# ---------------------------------------------------------------- a profile written here


@callback(
    Output(ids.PROFILE_TEXT, "value"),
    Output(ids.UPLOAD_NOTE, "children"),
    Output(ids.NEW_PROFILE_NAME, "value"),
    Input(ids.UPLOAD, "contents"),
    State(ids.UPLOAD, "filename"),
    State(ids.NEW_PROFILE_NAME, "value"),
    prevent_initial_call=True,
)
def load_upload(
    contents: str | None, filename: str | None, name: str | None
) -> tuple[Any, str, Any]:
    """An uploaded file fills the text area (checked like typed text); its name, without
    .txt, becomes the new profile's name unless one is typed already."""
    text, problem = read_upload(contents, filename)
    if text is None:
        return no_update, problem, no_update
    suggested = (filename or "").rsplit(".", 1)[0].strip()
    return text, "", (name if (name or "").strip() else suggested)


@callback(
    Output(ids.PROFILE_CHECK, "children"),
    Input(ids.PROFILE_TEXT, "value"),
    Input(ids.BATTERY, "value"),
    Input(ids.STATION, "value"),
)
def check_text(text: str | None, battery: str | None, station: str | None) -> Any:
    """Errors by line, else the envelope and, for the chosen pair, the verdict."""
    battery_id, station_id = parse_id(battery), parse_id(station)
    rating = window = None
    if (text or "").strip() and battery_id is not None and station_id is not None:
        with context.session() as session:
            try:
                rating = catalog.battery_rating(catalog.get_battery(session, battery_id))
                window = catalog.station_window(catalog.get_station(session, station_id))
            except catalog.NotFoundError:
                rating = window = None
    check = check_profile_text(
        text, max_steps=context.max_steps(), max_start_bytes=context.max_start_bytes()
    )
    return text_check(check, fit_verdict(check, rating, window))


@callback(
    Output(ids.SAVE_FEEDBACK, "children"),
    Output(ids.SAVED_PROFILE, "data"),
    Output(ids.PROFILE_SOURCE, "value"),
    Input(ids.SAVE_PROFILE, "n_clicks"),
    State(ids.PROFILE_TEXT, "value"),
    State(ids.NEW_PROFILE_NAME, "value"),
    prevent_initial_call=True,
)
def save_profile(_clicks: int | None, text: str | None, name: str | None) -> tuple[Any, ...]:
    """Store the written profile under its name; it is then selected in the stored list
    (if it fits the chosen battery and station)."""
    if not (text or "").strip():
        return _problem("Write or upload the profile's text first."), no_update, no_update
    if not (name or "").strip():
        return _problem("Name the profile to save it."), no_update, no_update
    try:
        with context.session() as session:
            profile = catalog.create_profile(
                session,
                name=name or "",
                source=text or "",
                max_steps=context.max_steps(),
                max_start_bytes=context.max_start_bytes(),
            )
            saved = (profile.id, profile.name)
    except ProfileError as error:
        return (
            _problem(f"Not saved: {error.problems[0]} (see the check above)."),
            no_update,
            no_update,
        )
    except catalog.CatalogError as error:
        return _problem(f"Not saved: {error}."), no_update, no_update
    message = html.Span(
        f"Saved as profile {saved[0]} “{saved[1]}” and chosen above when it fits.",
        className="text-success",
    )
    return message, saved[0], STORED


def _problem(text: str) -> html.Span:
    return html.Span(text, className="text-danger")


# ---------------------------------------------------------------- submitting


@callback(
    output={
        "errors": {field: Output(ids.error(field), "children") for field in (*FIELDS, *ALL_FIELDS)},
        "href": Output(ids.NAVIGATE, "href"),
    },
    inputs={
        "_clicks": Input(ids.SUBMIT, "n_clicks"),
        "battery": State(ids.BATTERY, "value"),
        "station": State(ids.STATION, "value"),
        "source": State(ids.PROFILE_SOURCE, "value"),
        "profile": State(ids.PROFILE, "value"),
        "name": State(ids.NAME, "value"),
        "description": State(ids.DESCRIPTION, "value"),
        "conditions": {name: State(ids.condition(name), "value") for name in ALL_FIELDS},
    },
    prevent_initial_call=True,
)
def submit(
    _clicks: int | None,
    battery: str | None,
    station: str | None,
    source: str | None,
    profile: str | None,
    name: str | None,
    description: str | None,
    conditions: dict[str, Any],
) -> dict[str, Any]:
    """Queue the experiment and open the station's monitor, or say beside each field what
    is wrong (nothing is stored then)."""
    entered = NewExperiment(
        battery=battery,
        station=station,
        profile_source=source or STORED,
        profile=profile,
        name=name,
        description=description,
        conditions=conditions,
    )
    try:
        with context.session() as session:
            experiment = queue_new_experiment(
                session,
                entered,
                max_steps=context.max_steps(),
                max_start_bytes=context.max_start_bytes(),
            )
            station_id, experiment_id = experiment.station_id, experiment.id
    except FormErrors as errors:
        return {
            "errors": {f: errors.problems.get(f, "") for f in (*FIELDS, *ALL_FIELDS)},
            "href": no_update,
        }
    assert station_id is not None
    log.info("queued on station %d", station_id, extra=for_experiment(experiment_id))
    return {
        "errors": {f: "" for f in (*FIELDS, *ALL_FIELDS)},
        "href": monitor_url(station_id),
    }
