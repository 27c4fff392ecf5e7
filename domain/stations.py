"""A cycler station as its computational unit describes it: name, location and window.

The same description is announced over MQTT, registered in the datastore and played by
simulated cyclers, so it lives here, below all of them.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.batteries import BatteryError, validate_window
from domain.window import Window


@dataclass(frozen=True, slots=True)
class StationSpec:
    """One station of a unit: its name within the unit, the window it can apply, where it is."""

    name: str
    window: Window
    location: str = ""


# The fields of a station form, in the order they are shown; messages are keyed by them.
STATION_FIELDS: tuple[str, ...] = (
    "name",
    "location",
    "unit",
    "voltage_min",
    "voltage_max",
    "current_min",
    "current_max",
)
WINDOW_UNITS: dict[str, str] = {
    "voltage_min": "V",
    "voltage_max": "V",
    "current_min": "A",
    "current_max": "A",
}


def field_of_message(message: str) -> str | None:
    """The form field a refusal names ("voltage_max: must be above ..." -> "voltage_max").

    The catalogue and `domain.batteries.validate_window` start each message with the
    field it is about, so a form can show it beside that field.
    """
    head, separator, _rest = message.partition(": ")
    return head if separator and head in STATION_FIELDS else None


def window_problems(values: dict[str, float | None]) -> dict[str, str]:
    """What is wrong with a station's window, keyed by field: each missing number, else
    the first broken rule of `validate_window` (the same rules as the catalogue's)."""
    numbers = {field: values.get(field) for field in WINDOW_UNITS}
    problems = {
        field: f"required: a number of {WINDOW_UNITS[field]}"
        for field, value in numbers.items()
        if value is None
    }
    if problems:
        return problems
    try:
        validate_window(*(float(value or 0.0) for value in numbers.values()))
    except BatteryError as error:
        text = str(error)
        field = field_of_message(text) or "voltage_min"
        return {field: text.partition(": ")[2] or text}
    return {}
