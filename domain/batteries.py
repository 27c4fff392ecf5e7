"""Battery technologies and the technology-specific fields each one carries.

The datastore keeps these fields in one JSON column, so a new technology is an
entry in `TECHNOLOGIES`, not a schema change.
"""

from __future__ import annotations

import math
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


# Plausible magnitudes, documented once: beyond them a number is a slip (mV typed as V,
# mA as A), not a battery a lab cycles. Pack voltages 0 to 2,000 V, currents within
# ±10,000 A, capacities up to 100,000 Ah, 1 to 1,000 cells in series, cells 0 to 10 V.
VOLTAGE_LIMIT_V = 2_000.0
CURRENT_LIMIT_A = 10_000.0
CAPACITY_LIMIT_AH = 100_000.0
CELLS_LIMIT = 1_000
CELL_VOLTAGE_LIMIT_V = 10.0
# Text lengths, kept in step with the batteries table's columns.
TEXT_LENGTH = 100
DESCRIPTION_LENGTH = 2_000
# Rounding slack when the cell window is compared with the pack window (6 x 1.75 V).
_SLACK_V = 1e-6

# The common fields, by the key that messages and forms use, in the order a form shows
# them; technology-specific fields are keyed by their `DetailField.name`.
DESCRIPTIVE_FIELDS: tuple[str, ...] = (
    "name",
    "description",
    "manufacturer",
    "model",
    "serial",
    "fabrication_date",
    "technology",
)
RATING_FIELDS: tuple[str, ...] = (
    "cells",
    "voltage_min",
    "voltage_max",
    "current_min",
    "current_max",
    "cell_voltage_min",
    "cell_voltage_max",
    "capacity",
)
BATTERY_FIELDS: tuple[str, ...] = DESCRIPTIVE_FIELDS + RATING_FIELDS
# The unit of each numeric field, for labels and messages.
FIELD_UNITS: dict[str, str] = {
    "voltage_min": "V",
    "voltage_max": "V",
    "current_min": "A",
    "current_max": "A",
    "cell_voltage_min": "V",
    "cell_voltage_max": "V",
    "capacity": "Ah",
}


class BatteryProblems(BatteryError):
    """Every problem of one battery's data at once: `problems` maps a field key to what is
    wrong with it, so a form shows each beside its field; the message lists them all in
    one line for the command line ("voltage_max: must be above ...; name: ...")."""

    def __init__(self, problems: dict[str, str]) -> None:
        self.problems = dict(problems)
        super().__init__(describe_problems(self.problems))


def describe_problems(problems: dict[str, str]) -> str:
    """The problems as one line, each led by its field: "capacity: ...; cells: ..."."""
    return "; ".join(f"{field}: {text}" for field, text in problems.items())


def detail_problems(
    technology: str, details: dict[str, object]
) -> tuple[dict[str, object], dict[str, str]]:
    """The technology-specific fields cleaned (numbers as floats, empty ones left out), and
    what is wrong with each of the others, keyed by field."""
    if technology not in TECHNOLOGIES:
        return {}, {"technology": f"expected one of {', '.join(TECHNOLOGIES)}, got {technology!r}"}
    fields = {f.name: f for f in TECHNOLOGIES[technology].fields}
    cleaned: dict[str, object] = {}
    problems: dict[str, str] = {}
    for name, value in details.items():
        if name not in fields:
            problems[name] = f"not a field of {technology} batteries"
            continue
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        field = fields[name]
        if isinstance(value, str):
            value = value.strip()
            if len(value) > TEXT_LENGTH and field.kind == "text":
                problems[name] = f"at most {TEXT_LENGTH} characters, got {len(value)}"
                continue
        if field.kind == "choice" and value not in field.choices:
            problems[name] = f"expected one of {', '.join(field.choices)}, got {value!r}"
            continue
        if field.kind == "number":
            try:
                number = float(value)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                problems[name] = f"expected a number, got {value!r}"
                continue
            if not (math.isfinite(number) and number > 0):
                problems[name] = f"expected a positive number, got {number}"
                continue
            value = number
        cleaned[name] = value
    return cleaned, problems


def validate_details(technology: str, details: dict[str, object]) -> dict[str, object]:
    """Check technology-specific fields and return them cleaned (numbers as floats)."""
    cleaned, problems = detail_problems(technology, details)
    if problems:
        field, text = next(iter(problems.items()))
        raise BatteryError(f"{field}: {text}")
    return cleaned


def _shown(value: float) -> str:
    """A number in a message as typed, with thousands separators: 2500.0 -> "2,500"."""
    return format(value, ",.10g")


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _window_problems(
    voltage_min: float, voltage_max: float, current_min: float, current_max: float
) -> dict[str, str]:
    """The safe window's rules, each broken one keyed by its field."""
    problems: dict[str, str] = {}
    values = {
        "voltage_min": voltage_min,
        "voltage_max": voltage_max,
        "current_min": current_min,
        "current_max": current_max,
    }
    for name, value in values.items():
        if not _is_number(value):
            problems[name] = f"expected a finite number, got {value!r}"
    if problems:
        return problems
    if voltage_min < 0:
        problems["voltage_min"] = f"expected 0 V or more, got {voltage_min}"
    if voltage_max <= voltage_min:
        problems["voltage_max"] = f"must be above voltage_min ({voltage_min} V), got {voltage_max}"
    if current_min > 0:
        problems["current_min"] = f"the discharge limit must be 0 A or negative, got {current_min}"
    if current_max < 0:
        problems["current_max"] = f"the charge limit must be 0 A or positive, got {current_max}"
    if current_max == current_min and "current_min" not in problems:
        problems["current_max"] = "must differ from current_min"
    return problems


def validate_window(
    voltage_min: float,
    voltage_max: float,
    current_min: float,
    current_max: float,
) -> None:
    """Check a safe window: finite numbers, min below max, currents either side of zero.

    Raises on the first broken rule (in the order voltage_min, voltage_max, current_min,
    current_max), as stations and the command line want one sentence.
    """
    problems = _window_problems(voltage_min, voltage_max, current_min, current_max)
    if problems:
        field, text = next(iter(problems.items()))
        raise BatteryError(f"{field}: {text}")


def _text_problem(value: str, limit: int) -> str | None:
    length = len(value.strip())
    return f"at most {limit:,} characters, got {length:,}" if length > limit else None


def descriptive_problems(
    *,
    name: str,
    technology: str,
    details: dict[str, object],
    manufacturer: str = "",
    model: str = "",
    serial: str = "",
    description: str = "",
) -> tuple[dict[str, object], dict[str, str]]:
    """What is wrong with a battery's descriptive fields (those an edit may change), and
    its technology fields cleaned. Uniqueness needs the stored batteries: the catalogue
    checks it."""
    problems: dict[str, str] = {}
    if not (name or "").strip():
        problems["name"] = "must not be empty"
    for key, value, limit in (
        ("name", name, TEXT_LENGTH),
        ("description", description, DESCRIPTION_LENGTH),
        ("manufacturer", manufacturer, TEXT_LENGTH),
        ("model", model, TEXT_LENGTH),
        ("serial", serial, TEXT_LENGTH),
    ):
        problem = _text_problem(value or "", limit)
        if problem and key not in problems:
            problems[key] = problem
    cleaned, detail = detail_problems(technology, details)
    problems.update(detail)
    return cleaned, problems


def _cells_problem(cells: object) -> str | None:
    if not isinstance(cells, int) or isinstance(cells, bool) or cells < 1:
        return f"expected a whole number of at least 1, got {cells!r}"
    if cells > CELLS_LIMIT:
        return f"at most {CELLS_LIMIT:,} cells in series, got {cells:,}"
    return None


def _optional_positive(value: float | None, unit: str, limit: float) -> str | None:
    if value is None:
        return None
    if not _is_number(value) or value <= 0:
        return f"expected a positive number of {unit}, got {value!r}"
    if value > limit:
        return f"at most {_shown(limit)} {unit}, got {_shown(value)}"
    return None


def rating_problems(
    *,
    voltage_min: float | None,
    voltage_max: float | None,
    current_min: float | None,
    current_max: float | None,
    capacity: float | None = None,
    cells: object = 1,
    cell_voltage_min: float | None = None,
    cell_voltage_max: float | None = None,
) -> dict[str, str]:
    """What is wrong with a battery's ratings, every broken rule keyed by its field: the
    safe window (`validate_window`'s rules, within the plausible magnitudes above), the
    nominal capacity, cells in series, and the optional cell window, which must hold the
    pack window: n cells at the cell limits span at least the pack's limits."""
    window = {
        "voltage_min": voltage_min,
        "voltage_max": voltage_max,
        "current_min": current_min,
        "current_max": current_max,
    }
    problems = {
        name: f"required: a number of {FIELD_UNITS[name]}"
        for name, value in window.items()
        if value is None
    }
    if not problems:
        problems = _window_problems(*(value or 0.0 for value in window.values()))
    for name, value in window.items():
        if name in problems or not _is_number(value):
            continue
        number = float(value or 0.0)
        if name.startswith("voltage") and number > VOLTAGE_LIMIT_V:
            problems[name] = f"at most {_shown(VOLTAGE_LIMIT_V)} V, got {_shown(number)}"
        if name.startswith("current") and abs(number) > CURRENT_LIMIT_A:
            problems[name] = f"within ±{_shown(CURRENT_LIMIT_A)} A, got {_shown(number)}"
    capacity_problem = _optional_positive(capacity, "Ah", CAPACITY_LIMIT_AH)
    if capacity_problem:
        problems["capacity"] = capacity_problem
    cells_problem = _cells_problem(cells)
    if cells_problem:
        problems["cells"] = cells_problem
    for name, value in (
        ("cell_voltage_min", cell_voltage_min),
        ("cell_voltage_max", cell_voltage_max),
    ):
        problem = _optional_positive(value, "V", CELL_VOLTAGE_LIMIT_V)
        if problem:
            problems[name] = problem
    if problems.keys() & {"cell_voltage_min", "cell_voltage_max"}:
        return problems
    if (
        cell_voltage_min is not None
        and cell_voltage_max is not None
        and cell_voltage_max <= cell_voltage_min
    ):
        problems["cell_voltage_max"] = (
            f"must be above cell_voltage_min ({cell_voltage_min} V), got {cell_voltage_max}"
        )
        return problems
    if problems.keys() & {"cells", "voltage_min", "voltage_max"}:
        return problems
    count = int(cells)  # type: ignore[call-overload]
    if (
        cell_voltage_min is not None
        and count * cell_voltage_min > float(voltage_min or 0) + _SLACK_V
    ):
        problems["cell_voltage_min"] = (
            f"{count} × {cell_voltage_min:g} V = {count * cell_voltage_min:g} V is above the "
            f"pack's voltage_min ({voltage_min:g} V): the pack window must lie within the "
            "cells' window"
        )
    if (
        cell_voltage_max is not None
        and count * cell_voltage_max < float(voltage_max or 0) - _SLACK_V
    ):
        problems["cell_voltage_max"] = (
            f"{count} × {cell_voltage_max:g} V = {count * cell_voltage_max:g} V is below the "
            f"pack's voltage_max ({voltage_max:g} V): the pack window must lie within the "
            "cells' window"
        )
    return problems


def ordered(problems: dict[str, str], technology: str) -> dict[str, str]:
    """The problems in the order a form shows the fields: common ones, then details."""
    order = list(BATTERY_FIELDS)
    if technology in TECHNOLOGIES:
        order += [f.name for f in TECHNOLOGIES[technology].fields]
    rank = {name: index for index, name in enumerate(order)}
    return dict(sorted(problems.items(), key=lambda item: rank.get(item[0], len(rank))))


def technology_label(technology: str) -> str:
    """ "lithium-ion" -> "Lithium-ion"; an unknown key as it is."""
    known = TECHNOLOGIES.get(technology)
    return known.label if known else technology


def details_summary(technology: str, details: dict[str, object]) -> str:
    """The technology fields in one readable line, in their order: a choice by its value,
    the others by their label ("NMC; electrolyte: 1 M LiPF6 in EC/EMC";
    "electrode size: 100 cm²"). Empty when none is given."""
    known = TECHNOLOGIES.get(technology)
    if known is None:
        return "; ".join(f"{name}: {value}" for name, value in details.items())
    parts = []
    for field in known.fields:
        value = details.get(field.name)
        if value is None or value == "":
            continue
        shown = f"{value:g}" if isinstance(value, float) else str(value)
        if field.kind == "choice":
            parts.append(shown)
        else:
            unit = f" {field.unit}" if field.unit else ""
            parts.append(f"{field.label.lower()}: {shown}{unit}")
    return "; ".join(parts)
