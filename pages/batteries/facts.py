"""A battery's facts as its page lists them: each with its unit."""

from __future__ import annotations

from datastore.models import Battery
from domain.batteries import TECHNOLOGIES, technology_label
from domain.formatting import format_quantity, format_utc


def _window(low: float | None, high: float | None, unit: str) -> str:
    if low is None and high is None:
        return "not given"
    return f"{format_quantity(low, unit)} to {format_quantity(high, unit)}"


def fact_rows(battery: Battery) -> list[tuple[str, str]]:
    """What the facts table shows, each with its unit."""
    rows = [
        ("Technology", technology_label(battery.technology)),
    ]
    details = battery.details or {}
    known = TECHNOLOGIES.get(battery.technology)
    for field in known.fields if known else ():
        value = details.get(field.name)
        if value is None or value == "":
            continue
        shown = f"{value:g}" if isinstance(value, float) else str(value)
        rows.append((field.label, f"{shown} {field.unit}".rstrip()))
    rows += [
        ("Manufacturer", battery.manufacturer or "–"),
        ("Model", battery.model or "–"),
        ("Serial number", battery.serial_number or "–"),
        (
            "Fabrication date",
            battery.fabrication_date.isoformat() if battery.fabrication_date else "–",
        ),
        ("Cells in series", str(battery.cells_in_series)),
        ("Safe voltage", _window(battery.voltage_min, battery.voltage_max, "V")),
        ("Safe current", _window(battery.current_min, battery.current_max, "A")),
        ("Cell voltage", _window(battery.cell_voltage_min, battery.cell_voltage_max, "V")),
        (
            "Nominal capacity",
            format_quantity(battery.nominal_capacity_ah, "Ah", 3)
            if battery.nominal_capacity_ah is not None
            else "not given (C-rates cannot be resolved)",
        ),
        ("Registered", format_utc(battery.created_at, with_date=True)),
    ]
    return rows
