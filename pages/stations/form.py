"""The station form (create or edit) and what its Save does.

The server checks everything: the window with the catalogue's own rules
(`domain.stations.window_problems`), then the catalogue refuses what only the database
can tell (a duplicate name, a station that runs an experiment). Each message goes
beside the field it names; the others above the Save button.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import dash_bootstrap_components as dbc
from dash import html
from sqlalchemy.orm import Session

from datastore.catalog import CatalogError, DuplicateError, create_station, get_station
from datastore.stations import edit_station
from domain.stations import STATION_FIELDS, WINDOW_UNITS, field_of_message, window_problems
from pages.stations import ids

LABELS = {
    "name": "Name",
    "location": "Location",
    "unit": "Computational unit",
    "voltage_min": "Voltage min (V)",
    "voltage_max": "Voltage max (V)",
    "current_min": "Current min (A, discharge ≤ 0)",
    "current_max": "Current max (A, charge ≥ 0)",
}
HINTS = {
    "unit": "an existing unit, or a new name to create one; empty: no unit",
    "location": "e.g. rack A, shelf 2",
}


@dataclass
class Outcome:
    """What Save did: problems by field (and `error` for the rest), or the message to show."""

    problems: dict[str, str] = field(default_factory=dict)
    error: str = ""
    message: str = ""

    @property
    def saved(self) -> bool:
        return not self.problems and not self.error


def form_dialog() -> dbc.Modal:
    """The modal with the form; empty until opened for creating or editing a station."""
    return dbc.Modal(
        [
            dbc.ModalHeader(dbc.ModalTitle("New station", id=ids.FORM_TITLE)),
            dbc.ModalBody(
                [
                    *[_field(name) for name in STATION_FIELDS],
                    html.Datalist(id=ids.UNIT_CHOICES, children=[]),
                    dbc.Alert(id=ids.FORM_ERROR, color="danger", is_open=False),
                ]
            ),
            dbc.ModalFooter(
                [
                    dbc.Button("Close", id=ids.FORM_CLOSE, color="secondary"),
                    dbc.Button("Save", id=ids.SAVE, color="primary"),
                ]
            ),
        ],
        id=ids.FORM_DIALOG,
        is_open=False,
    )


def _field(name: str) -> html.Div:
    number = name in WINDOW_UNITS
    extra: dict[str, Any] = {"type": "number", "step": "any"} if number else {"type": "text"}
    if name == "unit":
        extra["list"] = ids.UNIT_CHOICES
    return html.Div(
        [
            dbc.Label(LABELS[name], html_for=ids.FIELD[name]),
            dbc.Input(id=ids.FIELD[name], **extra),
            dbc.FormFeedback(id=ids.FEEDBACK[name], type="invalid"),
            dbc.FormText(HINTS[name]) if name in HINTS else None,
        ],
        className="mb-2",
    )


def blank_values() -> dict[str, Any]:
    return {name: None for name in STATION_FIELDS}


def values_of(session: Session, station_id: int) -> dict[str, Any]:
    """The form filled with a station's values, for editing it."""
    station = get_station(session, station_id)
    unit = station.computational_unit
    return {
        "name": station.name,
        "location": station.location,
        "unit": unit.name if unit else "",
        "voltage_min": station.voltage_min,
        "voltage_max": station.voltage_max,
        "current_min": station.current_min,
        "current_max": station.current_max,
    }


def _number(value: Any) -> float | None:
    """A number input's value: a number, or None when empty (or not a number at all)."""
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def submit(session: Session, station_id: int | None, values: dict[str, Any]) -> Outcome:
    """Create a station (station_id None) or edit one, in the caller's transaction.

    On problems nothing is stored: the caller rolls back when `saved` is false.
    """
    numbers = {name: _number(values.get(name)) for name in WINDOW_UNITS}
    problems = window_problems(numbers)
    if not str(values.get("name") or "").strip():
        problems["name"] = "required: the station's name"
    if problems:
        return Outcome(problems=problems)
    arguments: dict[str, Any] = {
        "name": str(values.get("name") or ""),
        "location": str(values.get("location") or ""),
        "unit_name": str(values.get("unit") or "").strip() or None,
        **numbers,
    }
    try:
        if station_id is None:
            station = create_station(session, **arguments)
            unit = arguments["unit_name"]
            where = f" on unit {unit!r}" if unit else ""
            return Outcome(message=f"Station {station.id} {station.name!r} created{where}.")
        return Outcome(message=edit_station(session, station_id, **arguments).describe())
    except DuplicateError as error:
        return Outcome(problems={"name": str(error)})
    except CatalogError as error:
        text = str(error)
        name = field_of_message(text)
        if name is None:
            return Outcome(error=text)
        return Outcome(problems={name: text.partition(": ")[2]})
