"""The import page's form, as plain data: a column's mapping and the experiment's details.

Each column of the file is shown as what it becomes (a quantity, an extra channel, or
ignored), with a name and a unit the user may change. `choices_from_rows` turns the
rows the user edited into the importer's `ColumnChoice`s; `check_details` checks the
experiment's name, battery and start time. Pure logic: no SQL, no Dash.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from domain.csvformat import QUANTITIES, Quantity, extra_header, split_header
from domain.importing import ColumnChoice, PreviewColumn

EXTRA = "extra"
IGNORE = "ignore"
MAX_NAME = 200  # Experiment.name

_QUANTITY = {quantity.key: quantity for quantity in QUANTITIES}


def target_options() -> list[tuple[str, str]]:
    """(value, label) of what a column can become: each quantity, a channel, or nothing."""
    return [
        *((quantity.key, f"{quantity.description} ({quantity.label})") for quantity in QUANTITIES),
        (EXTRA, "extra channel (name / unit)"),
        (IGNORE, "ignore this column"),
    ]


@dataclass(frozen=True)
class MappingRow:
    """One column as the form shows it: what it becomes, a channel's name, the file's unit."""

    target: str  # a quantity key, EXTRA or IGNORE
    name: str = ""  # the channel's name (EXTRA only)
    unit: str = ""


def row_of(column: PreviewColumn) -> MappingRow:
    """How the form shows a column of the preview."""
    if column.role == "ignored":
        return MappingRow(IGNORE)
    name, unit = split_header(column.label)
    if column.role in _QUANTITY:
        return MappingRow(column.role, "", column.unit or unit)
    return MappingRow(EXTRA, name, column.unit or unit)


def choice_of(source: str, row: MappingRow) -> ColumnChoice:
    """The importer's choice for a row; ValueError saying what is wrong with it."""
    if row.target == IGNORE:
        return ColumnChoice(source, ignore=True)
    unit = row.unit.strip()
    if row.target == EXTRA:
        name = row.name.strip()
        if not name:
            raise ValueError("an extra channel needs a name")
        return ColumnChoice(source, label=extra_header(name, unit))
    quantity = _QUANTITY.get(row.target)
    if quantity is None:
        raise ValueError(f"unknown choice {row.target!r}")
    return ColumnChoice(source, label=quantity_label(quantity, unit))


def quantity_label(quantity: Quantity, unit: str) -> str:
    """The header naming `quantity` in `unit` ("Voltage / mV"); a timestamp has no unit."""
    name = split_header(quantity.label)[0]
    if quantity.si_unit is None:
        if unit:
            raise ValueError(f"a {quantity.description} holds ISO 8601 dates: no unit")
        return name
    return f"{name} / {unit or quantity.si_unit}"


def choices_from_rows(
    sources: Sequence[str],
    shown: Sequence[MappingRow],
    edited: Sequence[MappingRow],
    earlier: Mapping[str, ColumnChoice],
) -> tuple[list[ColumnChoice], dict[int, str]]:
    """The choices for the next preview, and the problems by row.

    A row the user left as shown keeps the choice that made it so (if any); an edited
    row gets a new one.
    """
    choices: list[ColumnChoice] = []
    problems: dict[int, str] = {}
    for index, (source, before, after) in enumerate(zip(sources, shown, edited, strict=True)):
        if after == before:
            if source in earlier:
                choices.append(earlier[source])
            continue
        try:
            choices.append(choice_of(source, after))
        except ValueError as error:
            problems[index] = f"column {source!r}: {error}"
    return choices, problems


def needs_start_time(columns: Sequence[PreviewColumn]) -> bool:
    """Whether the file's samples carry only elapsed time (so they need a start)."""
    roles = {column.role for column in columns}
    return "test_time" in roles and not roles & {"unix_time", "timestamp"}


@dataclass(frozen=True)
class ImportDetails:
    name: str
    battery_id: int
    profile_id: int | None
    description: str
    start_time: float | None  # Unix seconds; None: now


START_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M")


def parse_start_time(text: str) -> float | None:
    """'2026-11-25 10:00[:00]' (UTC) -> Unix seconds; '' -> None. ValueError otherwise."""
    text = text.strip().removesuffix("Z").removesuffix("UTC").strip()
    if not text:
        return None
    for pattern in START_FORMATS:
        try:
            moment = dt.datetime.strptime(text, pattern)
        except ValueError:
            continue
        if moment.year < 1970:
            raise ValueError(f"{text} is before 1970; no sample may be dated earlier")
        return moment.replace(tzinfo=dt.UTC).timestamp()
    raise ValueError(f"expected a UTC date and time like 2026-11-25 10:00:00, got {text!r}")


def check_details(
    *,
    name: str | None,
    battery_id: str | int | None,
    profile_id: str | int | None,
    description: str | None,
    start_text: str | None,
    needs_start: bool,
) -> tuple[ImportDetails | None, dict[str, str]]:
    """The details, or None and a message per field ("name", "battery", "start")."""
    problems: dict[str, str] = {}
    name = (name or "").strip()
    if not name:
        problems["name"] = "The experiment needs a name."
    elif len(name) > MAX_NAME:
        problems["name"] = f"At most {MAX_NAME} characters (this one has {len(name)})."
    battery = _whole(battery_id)
    if battery is None:
        problems["battery"] = "Choose the battery the file was measured on."
    start = None
    if needs_start:
        try:
            start = parse_start_time(start_text or "")
        except ValueError as error:
            problems["start"] = f"Start time: {error}."
    if problems or battery is None:
        return None, problems
    details = ImportDetails(name, battery, _whole(profile_id), (description or "").strip(), start)
    return details, {}


def _whole(value: str | int | None) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
