"""The battery form's fields (a new battery, or the edit of one) and what its Save does.

The server checks everything: `datastore.catalog` applies `domain.batteries`' rules and
the uniqueness of the name and serial number, and refuses every problem at once, keyed
by field (`BatteryDataError.problems`); each message goes beside its input. Only what
no field owns shows above the Save button.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import dash_bootstrap_components as dbc
from dash import html
from sqlalchemy.orm import Session

from datastore import catalog
from datastore.models import Battery
from domain.batteries import (
    CELL_VOLTAGE_LIMIT_V,
    CELLS_LIMIT,
    CURRENT_LIMIT_A,
    DESCRIPTION_LENGTH,
    FIELD_UNITS,
    TECHNOLOGIES,
    TEXT_LENGTH,
    VOLTAGE_LIMIT_V,
    DetailField,
)
from pages.batteries import ids

LABELS = {
    "name": "Name",
    "description": "Description",
    "manufacturer": "Manufacturer",
    "model": "Model",
    "serial": "Serial number",
    "fabrication_date": "Fabrication date",
    "technology": "Technology",
    "cells": "Cells in series",
    "voltage_min": "Voltage min (V)",
    "voltage_max": "Voltage max (V)",
    "current_min": "Current min (A, discharge limit ≤ 0)",
    "current_max": "Current max (A, charge limit ≥ 0)",
    "cell_voltage_min": "Cell voltage min (V, optional)",
    "cell_voltage_max": "Cell voltage max (V, optional)",
    "capacity": "Nominal capacity (Ah)",
}
HINTS = {
    "name": "unique, whatever the letter case",
    "serial": "unique when given",
    "voltage_max": f"pack voltages from 0 to {VOLTAGE_LIMIT_V:,.0f} V",
    "current_max": f"currents within ±{CURRENT_LIMIT_A:,.0f} A",
    "cells": f"1 to {CELLS_LIMIT:,}",
    "cell_voltage_max": (
        f"0 to {CELL_VOLTAGE_LIMIT_V:g} V; the pack window must lie within cells × this window"
    ),
}
NUMBER_FIELDS = {*FIELD_UNITS, "cells"}
# Shown side by side, two to a row.
PAIRS = (
    ("manufacturer", "model"),
    ("serial", "fabrication_date"),
    ("technology", "cells"),
    ("voltage_min", "voltage_max"),
    ("current_min", "current_max"),
    ("cell_voltage_min", "cell_voltage_max"),
)
HIDDEN = {"display": "none"}
SHOWN: dict[str, str] = {}


@dataclass
class Outcome:
    """What Save did: problems by input id (and `error` for the rest), or the battery saved."""

    problems: dict[str, str] = field(default_factory=dict)
    error: str = ""
    battery_id: int | None = None
    message: str = ""

    @property
    def saved(self) -> bool:
        return not self.problems and not self.error


# ---------------------------------------------------------------- the layout


def _message(input_id: str) -> html.Div:
    return html.Div(id=ids.message(input_id), className="small text-danger")


def _input(form: str, name: str, value: Any) -> Any:
    input_id = ids.field(form, name)
    if name == "technology":
        return dbc.Select(
            id=input_id,
            options=[{"label": t.label, "value": key} for key, t in TECHNOLOGIES.items()],
            value=value,
            placeholder="Choose a technology",
        )
    if name == "description":
        return dbc.Textarea(id=input_id, value=value, rows=2, maxlength=DESCRIPTION_LENGTH)
    if name == "fabrication_date":
        return dbc.Input(id=input_id, type="date", value=value)
    if name in NUMBER_FIELDS:
        step: Any = 1 if name == "cells" else "any"
        return dbc.Input(id=input_id, type="number", step=step, value=value)
    return dbc.Input(id=input_id, type="text", value=value, maxlength=TEXT_LENGTH)


def _field(form: str, name: str, value: Any) -> html.Div:
    input_id = ids.field(form, name)
    return html.Div(
        [
            dbc.Label(LABELS[name], html_for=input_id),
            _input(form, name, value),
            _message(input_id),
            dbc.FormText(HINTS[name]) if name in HINTS else None,
        ],
        className="mb-2",
    )


def _detail_label(detail: DetailField) -> str:
    return f"{detail.label} ({detail.unit})" if detail.unit else detail.label


def _detail_input(input_id: str, detail: DetailField, value: Any) -> Any:
    if detail.kind == "choice":
        return dbc.Select(
            id=input_id,
            options=[{"label": choice, "value": choice} for choice in detail.choices],
            value=value,
            placeholder="Not given",
        )
    if detail.kind == "number":
        return dbc.Input(id=input_id, type="number", step="any", value=value)
    return dbc.Input(id=input_id, type="text", value=value, maxlength=TEXT_LENGTH)


def _details_box(form: str, technology: str, chosen: str | None, values: Mapping[str, Any]) -> Any:
    fields = TECHNOLOGIES[technology].fields
    return html.Div(
        [
            html.Div(
                [
                    dbc.Label(
                        _detail_label(detail), html_for=ids.detail(form, technology, detail.name)
                    ),
                    _detail_input(
                        ids.detail(form, technology, detail.name),
                        detail,
                        values.get(detail.name) if technology == chosen else None,
                    ),
                    _message(ids.detail(form, technology, detail.name)),
                ],
                className="mb-2",
            )
            for detail in fields
        ],
        id=ids.details_box(form, technology),
        style=SHOWN if technology == chosen else HIDDEN,
    )


def form_fields(form: str, values: Mapping[str, Any] | None = None) -> list[Any]:
    """The inputs of `form` (ids.NEW_FORM or ids.EDIT_FORM), filled with `values` (keyed
    by field, with "details" a dict of the technology's fields); each with its message
    slot. Every technology's own fields are there, only the chosen one's shown."""
    values = values or {}
    names = ids.FORM_FIELDS[form]
    chosen = values.get("technology")
    paired = {name for pair in PAIRS for name in pair}
    rows: list[Any] = []
    for name in names:
        if name not in paired:
            rows.append(_field(form, name, values.get(name)))
            continue
        pair = next(p for p in PAIRS if name in p)
        if name != pair[0] and pair[0] in names:
            continue
        rows.append(
            dbc.Row([dbc.Col(_field(form, n, values.get(n)), md=6) for n in pair if n in names])
        )
    details = values.get("details") or {}
    rows.append(
        html.Div(
            [_details_box(form, technology, chosen, details) for technology in TECHNOLOGIES],
        )
    )
    return rows


def save_button(form: str, label: str) -> list[Any]:
    return [
        dbc.Button(label, id=ids.save(form), color="primary", className="mt-2"),
        html.Div(id=ids.form_error(form), className="small text-danger mt-1"),
    ]


def details_styles(technology: str | None) -> list[dict[str, str]]:
    """Which technology's fields show: those of the chosen one, in `TECHNOLOGIES` order."""
    return [SHOWN if key == technology else HIDDEN for key in TECHNOLOGIES]


# ---------------------------------------------------------------- what Save does


def _number(value: Any) -> float | None:
    """A number input's value: a number, or None when empty (or not a number at all)."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _cells(value: Any) -> Any:
    """Cells in series as a whole number when it is one (6.0 -> 6); otherwise as given,
    for the catalogue to refuse with the value in its message."""
    number = _number(value)
    if number is None:
        return value if value not in (None, "") else 0
    return int(number) if number.is_integer() else number


def _date(value: Any) -> tuple[dt.date | None, str | None]:
    text = str(value or "").strip()
    if not text:
        return None, None
    try:
        return dt.date.fromisoformat(text), None
    except ValueError:
        return None, f"expected a date as YYYY-MM-DD, got {text!r}"


def _text(value: Any) -> str:
    return str(value or "")


def _by_input(
    form: str, technology: str | None, problems: Mapping[str, str]
) -> tuple[dict[str, str], str]:
    """The catalogue's problems keyed by the inputs of `form`; the rest as one sentence."""
    fields = set(ids.FORM_FIELDS[form])
    own = {f.name for f in TECHNOLOGIES[technology].fields} if technology in TECHNOLOGIES else set()
    mapped: dict[str, str] = {}
    rest: list[str] = []
    for key, text in problems.items():
        if key in fields:
            mapped[ids.field(form, key)] = text
        elif key in own and technology is not None:
            mapped[ids.detail(form, technology, key)] = text
        else:
            rest.append(f"{key}: {text}")
    return mapped, "; ".join(rest)


def chosen_details(technology: str | None, details: Mapping[tuple[str, str], Any]) -> dict:
    """The values of the chosen technology's own fields (the hidden ones are ignored)."""
    return {name: value for (tech, name), value in details.items() if tech == technology}


def create(
    session: Session, values: Mapping[str, Any], details: Mapping[tuple[str, str], Any]
) -> Outcome:
    """Create a battery from the new-battery form, in the caller's transaction.

    `values` by field as the browser sends them; `details` by (technology, field). On
    problems nothing may be stored: the caller rolls back when `saved` is false (a date
    that is not one is found here, after the catalogue has checked the rest).
    """
    technology = values.get("technology") or None
    fabrication_date, date_problem = _date(values.get("fabrication_date"))
    problems: dict[str, str] = {}
    if technology is None:
        problems["technology"] = "choose the battery's technology"
    try:
        battery = catalog.create_battery(
            session,
            name=_text(values.get("name")),
            technology=str(technology or ""),
            voltage_min=_number(values.get("voltage_min")),
            voltage_max=_number(values.get("voltage_max")),
            current_min=_number(values.get("current_min")),
            current_max=_number(values.get("current_max")),
            nominal_capacity_ah=_number(values.get("capacity")),
            manufacturer=_text(values.get("manufacturer")),
            model=_text(values.get("model")),
            serial_number=_text(values.get("serial")),
            cells_in_series=_cells(values.get("cells")),
            cell_voltage_min=_number(values.get("cell_voltage_min")),
            cell_voltage_max=_number(values.get("cell_voltage_max")),
            fabrication_date=fabrication_date,
            description=_text(values.get("description")),
            details=chosen_details(technology, details),
        )
    except catalog.BatteryDataError as error:
        problems = {**error.problems, **problems}
        battery = None
    if date_problem:
        problems["fabrication_date"] = date_problem
    if problems or battery is None:
        mapped, rest = _by_input(ids.NEW_FORM, technology, problems)
        return Outcome(problems=mapped, error=rest)
    return Outcome(battery_id=battery.id, message=f"Battery {battery.id} {battery.name!r} created.")


def edit(
    session: Session,
    battery_id: int,
    values: Mapping[str, Any],
    details: Mapping[tuple[str, str], Any],
) -> Outcome:
    """Save the edit of a battery's descriptive fields, in the caller's transaction."""
    fabrication_date, date_problem = _date(values.get("fabrication_date"))
    try:
        battery = catalog.get_battery(session, battery_id)
        technology = battery.technology
        catalog.edit_battery(
            session,
            battery_id,
            name=_text(values.get("name")),
            description=_text(values.get("description")),
            manufacturer=_text(values.get("manufacturer")),
            model=_text(values.get("model")),
            serial_number=_text(values.get("serial")),
            fabrication_date=fabrication_date,
            details=chosen_details(technology, details),
        )
        problems: dict[str, str] = {}
    except catalog.BatteryDataError as error:
        problems = dict(error.problems)
    except catalog.CatalogError as error:
        return Outcome(error=f"Not saved: {error}.")
    if date_problem:
        problems["fabrication_date"] = date_problem
    if problems:
        mapped, rest = _by_input(ids.EDIT_FORM, technology, problems)
        return Outcome(problems=mapped, error=rest)
    return Outcome(battery_id=battery_id, message=f"Saved battery {battery_id} {battery.name!r}.")


def values_of(battery: Battery) -> dict[str, Any]:
    """The form filled with a stored battery's values."""
    return {
        "name": battery.name,
        "description": battery.description,
        "manufacturer": battery.manufacturer,
        "model": battery.model,
        "serial": battery.serial_number,
        "fabrication_date": battery.fabrication_date.isoformat()
        if battery.fabrication_date
        else None,
        "technology": battery.technology,
        "details": dict(battery.details or {}),
    }


def all_inputs(form: str) -> list[str]:
    """Every input of `form`, common fields then each technology's: the order in which
    the callbacks read them and write their messages."""
    return [ids.field(form, name) for name in ids.FORM_FIELDS[form]] + [
        ids.detail(form, technology, name) for technology, name in ids.DETAIL_KEYS
    ]


def split_values(form: str, state: list[Any]) -> tuple[dict[str, Any], dict[tuple[str, str], Any]]:
    """The inputs' values in `all_inputs` order, as (common fields, technology fields)."""
    names = ids.FORM_FIELDS[form]
    common = dict(zip(names, state[: len(names)], strict=True))
    details = dict(zip(ids.DETAIL_KEYS, state[len(names) :], strict=True))
    return common, details
