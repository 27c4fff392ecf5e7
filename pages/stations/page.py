"""Stations: the computational units and their stations; create, edit, deprecate, remove.

An edit deprecates the station (kept for the history of its experiments) and creates a
new record with the edited values; its queued experiments move to the new record when
they still fit, or are cancelled with the reason (`datastore.stations`). Deprecated
stations are hidden unless the switch shows them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, callback, ctx, dcc, html, no_update

from components import context
from datastore.catalog import CatalogError, get_station
from datastore.stations import deprecate_station, remove_station, station_board, unit_names
from domain.stations import STATION_FIELDS
from pages.stations import ids
from pages.stations.board import board
from pages.stations.form import Outcome, blank_values, form_dialog, submit, values_of

dash.register_page(__name__, path="/stations", name="Stations", order=7)


def layout(**_params: str) -> html.Div:
    return _page(_board(False))


def validation_layout() -> html.Div:
    """The page's components without data, for checking the callbacks' ids."""
    return _page([])


def _page(content: Any) -> html.Div:
    return html.Div(
        [
            html.Div(
                [
                    html.H2("Stations", className="mb-0"),
                    dbc.Button("New station", id=ids.NEW, color="primary", size="sm"),
                    dbc.Switch(
                        id=ids.SHOW_DEPRECATED,
                        label="Show deprecated stations",
                        value=False,
                        className="ms-auto",
                    ),
                ],
                className="d-flex align-items-center gap-3 mb-3 flex-wrap",
            ),
            html.Div(id=ids.MESSAGE),
            html.Div(content, id=ids.BOARD),
            form_dialog(),
            dcc.Store(id=ids.FORM_STATION),
            _confirm_dialog(),
        ]
    )


def _confirm_dialog() -> dbc.Modal:
    return dbc.Modal(
        [
            dbc.ModalHeader(dbc.ModalTitle("Are you sure?")),
            dbc.ModalBody(id=ids.CONFIRM_TEXT),
            dbc.ModalFooter(
                [
                    dbc.Button("Keep it", id=ids.CONFIRM_NO, color="secondary"),
                    dbc.Button("Yes, do it", id=ids.CONFIRM_YES, color="danger"),
                ]
            ),
            dcc.Store(id=ids.CONFIRM_ACTION),
        ],
        id=ids.CONFIRM_DIALOG,
        is_open=False,
    )


def _board(show_deprecated: bool) -> Any:
    timeout_s = context.current().settings.node.heartbeat_timeout_s
    with context.session() as session:
        units = station_board(session, include_deprecated=bool(show_deprecated))
    return board(units, dt.datetime.now(dt.UTC), timeout_s)


def _alert(text: str, color: str) -> dbc.Alert:
    return dbc.Alert(text, color=color, dismissable=True, className="mb-3")


def _clicked() -> bool:
    """Whether the callback runs because a button was pressed (not because a re-drawn
    board brought new, never-pressed buttons)."""
    return any(trigger.get("value") for trigger in ctx.triggered)


# ---------------------------------------------------------------- callbacks


@callback(
    Output(ids.BOARD, "children"),
    Input(ids.SHOW_DEPRECATED, "value"),
    prevent_initial_call=True,
)
def show_deprecated(show: bool) -> Any:
    return _board(show)


FIELD_VALUES = [Output(ids.FIELD[name], "value") for name in STATION_FIELDS]
FIELD_INVALID = [Output(ids.FIELD[name], "invalid") for name in STATION_FIELDS]
FIELD_FEEDBACK = [Output(ids.FEEDBACK[name], "children") for name in STATION_FIELDS]


@callback(
    Output(ids.FORM_DIALOG, "is_open"),
    Output(ids.FORM_TITLE, "children"),
    Output(ids.FORM_STATION, "data"),
    Output(ids.UNIT_CHOICES, "children"),
    Output(ids.FORM_ERROR, "children"),
    Output(ids.FORM_ERROR, "is_open"),
    *FIELD_VALUES,
    *FIELD_INVALID,
    *FIELD_FEEDBACK,
    Input(ids.NEW, "n_clicks"),
    Input({"type": ids.EDIT, "index": ALL}, "n_clicks"),
    Input(ids.FORM_CLOSE, "n_clicks"),
    prevent_initial_call=True,
)
def open_form(_new: int | None, _edits: list[int | None], _close: int | None) -> tuple:
    """Open the form empty (New station) or filled with a station's values (Edit); close it."""
    if not _clicked():
        return (no_update,) * (6 + 3 * len(STATION_FIELDS))
    fresh = [False] * len(STATION_FIELDS), [""] * len(STATION_FIELDS)
    if ctx.triggered_id == ids.FORM_CLOSE:
        return (
            False,
            no_update,
            no_update,
            no_update,
            "",
            False,
            *[no_update] * 7,
            *fresh[0],
            *fresh[1],
        )
    with context.session() as session:
        choices = [html.Option(value=name) for name in unit_names(session)]
        if ctx.triggered_id == ids.NEW:
            title, station_id, values = "New station", None, blank_values()
        else:
            station_id = int(ctx.triggered_id["index"])
            title = f"Edit station {station_id} {get_station(session, station_id).name!r}"
            values = values_of(session, station_id)
    return (
        True,
        title,
        station_id,
        choices,
        "",
        False,
        *[values[name] for name in STATION_FIELDS],
        *fresh[0],
        *fresh[1],
    )


@callback(
    Output(ids.FORM_DIALOG, "is_open", allow_duplicate=True),
    Output(ids.FORM_ERROR, "children", allow_duplicate=True),
    Output(ids.FORM_ERROR, "is_open", allow_duplicate=True),
    *[Output(ids.FIELD[name], "invalid", allow_duplicate=True) for name in STATION_FIELDS],
    *[Output(ids.FEEDBACK[name], "children", allow_duplicate=True) for name in STATION_FIELDS],
    Output(ids.MESSAGE, "children", allow_duplicate=True),
    Output(ids.BOARD, "children", allow_duplicate=True),
    Input(ids.SAVE, "n_clicks"),
    State(ids.FORM_STATION, "data"),
    *[State(ids.FIELD[name], "value") for name in STATION_FIELDS],
    State(ids.SHOW_DEPRECATED, "value"),
    prevent_initial_call=True,
)
def save(_clicks: int, station_id: int | None, *state: Any) -> tuple:
    """Check and store the form; messages beside the fields, or the outcome above the board."""
    values = dict(zip(STATION_FIELDS, state[: len(STATION_FIELDS)], strict=True))
    show = state[len(STATION_FIELDS)]
    outcome = _save(station_id, values)
    if not outcome.saved:
        return (
            True,
            outcome.error,
            bool(outcome.error),
            *[name in outcome.problems for name in STATION_FIELDS],
            *[outcome.problems.get(name, "") for name in STATION_FIELDS],
            no_update,
            no_update,
        )
    return (
        False,
        "",
        False,
        *[False] * len(STATION_FIELDS),
        *[""] * len(STATION_FIELDS),
        _alert(outcome.message, "success"),
        _board(show),
    )


class _Refused(Exception):
    """Roll the form's transaction back, keeping the outcome to show."""

    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome


def _save(station_id: int | None, values: dict[str, Any]) -> Outcome:
    """`submit` in one transaction: committed when saved, rolled back when not."""
    try:
        with context.session() as session:
            outcome = submit(session, station_id, values)
            if not outcome.saved:
                raise _Refused(outcome)
    except _Refused as refused:
        return refused.outcome
    return outcome


@callback(
    Output(ids.CONFIRM_DIALOG, "is_open"),
    Output(ids.CONFIRM_TEXT, "children"),
    Output(ids.CONFIRM_ACTION, "data"),
    Input({"type": ids.DEPRECATE, "index": ALL}, "n_clicks"),
    Input({"type": ids.REMOVE, "index": ALL}, "n_clicks"),
    Input(ids.CONFIRM_NO, "n_clicks"),
    prevent_initial_call=True,
)
def ask(_deprecates: list[int | None], _removes: list[int | None], _no: int | None) -> tuple:
    """Ask before deprecating or removing a station, saying what will happen."""
    if not _clicked():
        return no_update, no_update, no_update
    if ctx.triggered_id == ids.CONFIRM_NO:
        return False, no_update, None
    action = "deprecate" if ctx.triggered_id["type"] == ids.DEPRECATE else "remove"
    station_id = int(ctx.triggered_id["index"])
    with context.session() as session:
        name = get_station(session, station_id).name
    if action == "deprecate":
        text = (
            f"Deprecate station {station_id} {name!r}? It keeps the history of its experiments "
            "but takes no new ones, and its queued experiments are cancelled."
        )
    else:
        text = (
            f"Remove station {station_id} {name!r} for good? It never ran an experiment. If "
            "its unit announces it again, the node registers it afresh."
        )
    return True, text, {"action": action, "station": station_id}


@callback(
    Output(ids.CONFIRM_DIALOG, "is_open", allow_duplicate=True),
    Output(ids.MESSAGE, "children", allow_duplicate=True),
    Output(ids.BOARD, "children", allow_duplicate=True),
    Input(ids.CONFIRM_YES, "n_clicks"),
    State(ids.CONFIRM_ACTION, "data"),
    State(ids.SHOW_DEPRECATED, "value"),
    prevent_initial_call=True,
)
def confirmed(_clicks: int, action: dict[str, Any] | None, show: bool) -> tuple:
    """Deprecate or remove the station; the outcome (or the refusal's reason) above the board."""
    if not action:
        return False, no_update, no_update
    station_id = int(action["station"])
    try:
        with context.session() as session:
            if action["action"] == "deprecate":
                message = deprecate_station(session, station_id).describe()
            else:
                name = remove_station(session, station_id)
                message = f"Station {station_id} {name!r} removed."
    except CatalogError as error:
        return False, _alert(f"Not done: {error}.", "danger"), _board(show)
    return False, _alert(message, "success"), _board(show)
