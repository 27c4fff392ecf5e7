"""Run conditions an experiment records beside its profile, for the technologies that have them.

A redox-flow stack's result depends on how much electrolyte circulates, how charged it
starts and how fast the pumps move it, so those are stored with each experiment (in one
JSON column, like a battery's technology fields): a new condition is an entry in
`EXPERIMENT_FIELDS`, not a schema change. Other technologies record none.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from domain.batteries import TECHNOLOGIES


@dataclass(frozen=True)
class ConditionField:
    """One run condition: a number in `unit`, between `minimum` and `maximum`."""

    name: str
    label: str
    unit: str
    minimum: float = 0.0
    maximum: float = math.inf
    # Whether `minimum` itself is allowed (a state of charge of 0 % is; a volume of 0 L is not).
    minimum_allowed: bool = False


ELECTROLYTE_VOLUME = ConditionField("electrolyte_volume_l", "Electrolyte volume", "L")
INITIAL_SOC = ConditionField(
    "initial_soc_percent", "Initial state of charge", "%", maximum=100.0, minimum_allowed=True
)
FLOW_RATE_MIN = ConditionField("flow_rate_min_l_per_min", "Flow rate, minimum", "L/min")
FLOW_RATE_MAX = ConditionField("flow_rate_max_l_per_min", "Flow rate, maximum", "L/min")

EXPERIMENT_FIELDS: dict[str, tuple[ConditionField, ...]] = {
    "redox-flow": (ELECTROLYTE_VOLUME, INITIAL_SOC, FLOW_RATE_MIN, FLOW_RATE_MAX),
}
# Every condition of every technology (their names are distinct), in the order they are shown.
ALL_FIELDS: dict[str, ConditionField] = {
    field.name: field for fields in EXPERIMENT_FIELDS.values() for field in fields
}


class DetailsError(ValueError):
    """Run conditions that cannot be stored; `problems` maps each field's name to what is wrong."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        self.problems = dict(problems)
        super().__init__("; ".join(f"{name}: {message}" for name, message in problems.items()))


def experiment_fields(technology: str | None) -> tuple[ConditionField, ...]:
    """The run conditions an experiment on a battery of `technology` records (often none)."""
    return EXPERIMENT_FIELDS.get(technology or "", ())


def _number(field: ConditionField, value: object) -> tuple[float | None, str | None]:
    """(the value, None) or (None, what is wrong), the message naming the unit."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, f"required: a number of {field.unit}"
    if isinstance(value, bool):
        return None, f"expected a number of {field.unit}, got {value!r}"
    try:
        number = float(value.strip() if isinstance(value, str) else value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None, f"expected a number of {field.unit}, got {value!r}"
    if not math.isfinite(number):
        return None, f"expected a finite number of {field.unit}, got {value!r}"
    too_low = number < field.minimum or (number == field.minimum and not field.minimum_allowed)
    if too_low or number > field.maximum:
        if math.isinf(field.maximum):
            wanted = f"a positive number of {field.unit}"
        else:
            wanted = f"{field.minimum:g} to {field.maximum:g} {field.unit}"
        return None, f"expected {wanted}, got {number:g}"
    return number, None


def validate_experiment_details(technology: str, values: Mapping[str, object]) -> dict[str, float]:
    """The run conditions cleaned (numbers as floats); DetailsError lists every problem.

    Every condition of the technology is required; a value for a condition the technology
    does not record is refused (a typo must not vanish silently). A technology without
    conditions takes an empty mapping, or one whose values are all empty.
    """
    if technology not in TECHNOLOGIES:
        raise DetailsError(
            {"technology": f"expected one of {', '.join(TECHNOLOGIES)}, got {technology!r}"}
        )
    fields = experiment_fields(technology)
    known = {field.name for field in fields}
    problems: dict[str, str] = {}
    for name, value in values.items():
        if name not in known and value not in (None, ""):
            label = TECHNOLOGIES[technology].label.lower()
            problems[name] = f"not recorded for {label} experiments"
    cleaned: dict[str, float] = {}
    for field in fields:
        number, problem = _number(field, values.get(field.name))
        if problem is not None:
            problems[field.name] = problem
        elif number is not None:
            cleaned[field.name] = number
    low, high = cleaned.get(FLOW_RATE_MIN.name), cleaned.get(FLOW_RATE_MAX.name)
    if low is not None and high is not None and high < low:
        problems[FLOW_RATE_MAX.name] = (
            f"must be at least the minimum ({low:g} L/min), got {high:g} L/min"
        )
    if problems:
        raise DetailsError(problems)
    return cleaned


def describe_details(details: Mapping[str, object] | None) -> list[tuple[str, str]]:
    """(label, value with its unit) of each stored condition, in the fields' order; a key this
    version does not know is shown under its own name, so nothing stored is hidden."""
    if not details:
        return []
    ordered = [field for field in ALL_FIELDS.values() if field.name in details]
    shown = [(field.label, f"{details[field.name]:g} {field.unit}") for field in ordered]
    shown += [(name, str(value)) for name, value in details.items() if name not in ALL_FIELDS]
    return shown
