"""Battery technologies and the technology-specific fields each one carries.

The datastore keeps these fields in one JSON column, so a new technology is an
entry in `TECHNOLOGIES`, not a schema change.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DetailField:
    """One technology-specific field: a choice from `choices`, a number, or free text."""

    name: str
    label: str
    kind: str = "text"  # "choice", "number" or "text"
    choices: tuple[str, ...] = ()
    unit: str = ""


@dataclass(frozen=True)
class Technology:
    key: str
    label: str
    fields: tuple[DetailField, ...] = ()


TECHNOLOGIES: dict[str, Technology] = {
    t.key: t
    for t in (
        Technology(
            "lithium-ion",
            "Lithium-ion",
            (
                DetailField(
                    "chemistry",
                    "Chemistry",
                    "choice",
                    ("NMC", "NCA", "LMO", "LFP", "LCO", "LTO", "other"),
                ),
                # What the cells were filled with, e.g. "1 M LiPF6 in EC/EMC, 2 % VC".
                DetailField("electrolyte", "Electrolyte"),
            ),
        ),
        Technology(
            "lead-acid",
            "Lead-acid",
            (DetailField("lead_acid_type", "Type", "choice", ("flooded", "gel", "AGM", "other")),),
        ),
        Technology(
            "redox-flow",
            "Redox-flow stack",
            (
                DetailField("electrode_size_cm2", "Electrode size", "number", unit="cm²"),
                DetailField("electrode_composition", "Electrode composition"),
                DetailField("bipolar_plate_type", "Bipolar plate type"),
                DetailField("membrane_type", "Membrane type"),
                DetailField("electrolyte_type", "Electrolyte type"),
            ),
        ),
        Technology(
            "sodium-ion",
            "Sodium-ion",
            (DetailField("cathode", "Cathode material"), DetailField("anode", "Anode material")),
        ),
        Technology("other", "Other", (DetailField("notes", "Technology notes"),)),
    )
}


class BatteryError(ValueError):
    """Battery data that cannot be stored; the message names the field."""


def validate_details(technology: str, details: dict[str, object]) -> dict[str, object]:
    """Check technology-specific fields and return them cleaned (numbers as floats)."""
    if technology not in TECHNOLOGIES:
        raise BatteryError(
            f"technology: expected one of {', '.join(TECHNOLOGIES)}, got {technology!r}"
        )
    fields = {f.name: f for f in TECHNOLOGIES[technology].fields}
    cleaned: dict[str, object] = {}
    for name, value in details.items():
        if name not in fields:
            raise BatteryError(f"{name}: not a field of {technology} batteries")
        if value is None or value == "":
            continue
        field = fields[name]
        if field.kind == "choice" and value not in field.choices:
            raise BatteryError(f"{name}: expected one of {', '.join(field.choices)}, got {value!r}")
        if field.kind == "number":
            try:
                value = float(value)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise BatteryError(f"{name}: expected a number, got {value!r}") from None
            if not value > 0:
                raise BatteryError(f"{name}: expected a positive number, got {value}")
        cleaned[name] = value
    return cleaned


def validate_window(
    voltage_min: float,
    voltage_max: float,
    current_min: float,
    current_max: float,
) -> None:
    """Check a safe window: finite numbers, min below max, currents either side of zero."""
    import math

    for name, value in (
        ("voltage_min", voltage_min),
        ("voltage_max", voltage_max),
        ("current_min", current_min),
        ("current_max", current_max),
    ):
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            raise BatteryError(f"{name}: expected a finite number, got {value!r}")
    if voltage_min < 0:
        raise BatteryError(f"voltage_min: expected 0 V or more, got {voltage_min}")
    if voltage_max <= voltage_min:
        raise BatteryError(
            f"voltage_max: must be above voltage_min ({voltage_min} V), got {voltage_max}"
        )
    if current_min > 0:
        raise BatteryError(
            f"current_min: the discharge limit must be 0 A or negative, got {current_min}"
        )
    if current_max < 0:
        raise BatteryError(
            f"current_max: the charge limit must be 0 A or positive, got {current_max}"
        )
    if current_max == current_min:
        raise BatteryError("current_max: must differ from current_min")
