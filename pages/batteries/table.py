"""The battery list's grid: its columns, and a stored battery as a row of it."""

from __future__ import annotations

from typing import Any

from components.tables import markdown_link
from components.urls import battery_url
from datastore.models import Battery
from domain.batteries import details_summary, technology_label

COLUMNS: list[dict[str, Any]] = [
    {"field": "id", "headerName": "ID", "maxWidth": 90, "type": "numericColumn"},
    {
        "field": "name",
        "headerName": "Name",
        "minWidth": 160,
        "cellRenderer": "markdown",
        "linkTarget": "_self",
    },
    {"field": "technology", "headerName": "Technology", "minWidth": 130},
    {"field": "details", "headerName": "Technology details", "minWidth": 240},
    {"field": "manufacturer", "headerName": "Manufacturer"},
    {"field": "model", "headerName": "Model"},
    {"field": "serial_number", "headerName": "Serial"},
    {"field": "nominal_capacity_ah", "headerName": "Capacity / Ah", "type": "numericColumn"},
    {"field": "voltage_min", "headerName": "V min / V", "type": "numericColumn"},
    {"field": "voltage_max", "headerName": "V max / V", "type": "numericColumn"},
    {"field": "current_min", "headerName": "I min / A", "type": "numericColumn"},
    {"field": "current_max", "headerName": "I max / A", "type": "numericColumn"},
    {"field": "experiments", "headerName": "Experiments", "type": "numericColumn"},
]


def grid_row(battery: Battery, experiments: int) -> dict[str, Any]:
    """A battery as the grid shows it: the name links to its page; the technology by its
    label and its own fields in one readable line."""
    return {
        "id": battery.id,
        "name": markdown_link(battery.name, battery_url(battery.id)),
        "technology": technology_label(battery.technology),
        "details": details_summary(battery.technology, dict(battery.details or {})),
        "manufacturer": battery.manufacturer,
        "model": battery.model,
        "serial_number": battery.serial_number,
        "nominal_capacity_ah": battery.nominal_capacity_ah,
        "voltage_min": battery.voltage_min,
        "voltage_max": battery.voltage_max,
        "current_min": battery.current_min,
        "current_max": battery.current_max,
        "experiments": experiments,
    }
