"""The profile list's grid: its columns, and a stored profile as a row of it."""

from __future__ import annotations

from typing import Any

from components.tables import markdown_link
from components.urls import profile_url

COLUMNS: list[dict[str, Any]] = [
    {"field": "id", "headerName": "ID", "maxWidth": 90, "type": "numericColumn"},
    {
        "field": "name",
        "headerName": "Name",
        "minWidth": 200,
        "cellRenderer": "markdown",
        "linkTarget": "_self",
    },
    {"field": "version", "headerName": "Version", "maxWidth": 110, "type": "numericColumn"},
    {"field": "description", "headerName": "Description", "minWidth": 220},
    {"field": "step_count", "headerName": "Steps", "type": "numericColumn"},
    {"field": "voltage", "headerName": "Voltage / V", "minWidth": 130},
    {"field": "current", "headerName": "Current / A", "minWidth": 130},
    {"field": "c_rate", "headerName": "C-rate / C", "minWidth": 120},
    {"field": "power", "headerName": "Power / W", "minWidth": 120},
    {"field": "experiments", "headerName": "Experiments", "type": "numericColumn"},
]


def _span(low: float | None, high: float | None) -> str:
    return "" if low is None or high is None else f"{low:g} to {high:g}"


def grid_row(row: dict[str, Any]) -> dict[str, Any]:
    """A row of `datastore.profiles.profile_table` as the grid shows it: the name links to
    the profile's page, the envelope's ranges in their columns' units."""
    return {
        "id": row["id"],
        "name": markdown_link(str(row["name"]), profile_url(row["id"])),
        "version": row["version"],
        "description": row["description"],
        "step_count": row["step_count"],
        "voltage": _span(row["voltage_min"], row["voltage_max"]),
        "current": _span(row["current_min"], row["current_max"]),
        "c_rate": _span(row["c_rate_min"], row["c_rate_max"]),
        "power": _span(row["power_min"], row["power_max"]),
        "experiments": row["experiments"],
    }
