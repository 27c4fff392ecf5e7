"""Comparing experiments: what the compare page plots, groups and downloads (docs/compare.md).

Pure functions over each experiment's cycle table (`CycleTotals`) and its metadata
(`ExperimentFacts`), so the statistics are tested without a database or a browser.

- **The view** (`CompareView`) is everything the page shows, held in the address:
  `from_query` reads it leniently (an unknown choice falls back to its default; ids that
  are not numbers are kept aside to be named to the user), `to_query` writes it back.
- **Groups** are the experiments sharing the colour-by value. `group_bands` gives their
  mean and sample standard deviation (n - 1) at each cycle number present in at least
  two members; a cycle that only one member reached has no spread and is left out.
- **Figures of merit** per experiment: discharge capacity at cycle N, cycles to 80 %
  retention (`domain.cycles.retention`), mean coulombic efficiency.
- **CSV text** is protected against spreadsheet formula injection by `formula_safe`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from urllib.parse import parse_qs, urlencode

from domain.csvformat import formula_safe
from domain.cycles import CycleTotals, retention

# Metadata fields every experiment has; battery details add "details:<key>" fields.
FIXED_FIELDS = {
    "battery": "Battery",
    "technology": "Technology",
    "manufacturer": "Manufacturer",
    "model": "Model",
    "nominal_capacity_ah": "Nominal capacity (Ah)",
    "profile": "Profile",
    "station": "Station",
}
DETAILS_PREFIX = "details:"
NO_VALUE = "(none)"

PLOTS = {
    "cycle": "against cycle number",
    "throughput": "against charge throughput",
    "time": "voltage against test time",
}
QUANTITIES = {"capacity": "discharge capacity", "retention": "retention"}
MERITS = {
    "capacity": "discharge capacity at cycle N",
    "cycles80": "cycles to 80 % retention",
    "ce": "mean coulombic efficiency",
}
RETENTION_LIMIT = 80.0


def field_label(key: str) -> str:
    """How a metadata field is named on the page."""
    if key.startswith(DETAILS_PREFIX):
        return f"{key[len(DETAILS_PREFIX) :]} (battery details)"
    return FIXED_FIELDS.get(key, key)


@dataclass(frozen=True)
class ExperimentFacts:
    """An experiment's metadata as the comparison groups by it: `fields` maps a field key
    (FIXED_FIELDS, or "details:<key>" for each key of the battery's details) to its value."""

    id: int
    name: str
    nominal_capacity_ah: float | None
    fields: Mapping[str, str | float | None]

    def value(self, key: str) -> str | float | None:
        return self.fields.get(key)

    def label(self, key: str) -> str:
        """The value as text for a legend or a CSV cell; NO_VALUE when the field is empty."""
        return value_text(self.value(key))


def value_text(value: str | float | None) -> str:
    if value is None or value == "":
        return NO_VALUE
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def available_fields(experiments: Iterable[ExperimentFacts]) -> list[str]:
    """The fixed fields, then every battery-details key any of the experiments has."""
    details = sorted(
        {key for facts in experiments for key in facts.fields if key.startswith(DETAILS_PREFIX)}
    )
    return [*FIXED_FIELDS, *details]


# ---------------------------------------------------------------- the view in the address


@dataclass(frozen=True)
class CompareView:
    """The selection and every choice of the compare page."""

    ids: tuple[int, ...] = ()
    plot: str = "cycle"
    quantity: str = "capacity"
    color_by: str = "battery"
    style_by: str = ""  # "": one line style
    normalise: bool = False
    bands: bool = False
    merit: str = "capacity"
    cycle_n: int = 1
    merit_x: str = "battery"
    bad_ids: tuple[str, ...] = field(default=(), compare=False)


def _field_choice(value: str, default: str) -> str:
    return value if value in FIXED_FIELDS or value.startswith(DETAILS_PREFIX) else default


def from_query(query: str | Mapping[str, Sequence[str]]) -> CompareView:
    """The view a query string (or parsed query) asks for; unknown choices take defaults."""
    parsed = parse_qs(query.lstrip("?")) if isinstance(query, str) else query

    def one(name: str) -> str:
        values = parsed.get(name) or [""]
        return values[-1].strip()

    ids: list[int] = []
    bad: list[str] = []
    for token in one("ids").split(","):
        token = token.strip()
        if not token:
            continue
        if token.isdigit() and 0 < int(token) < 2**31:
            if int(token) not in ids:
                ids.append(int(token))
        else:
            bad.append(token)
    default = CompareView()
    cycle_n = one("n")
    style = one("style")
    return CompareView(
        ids=tuple(ids),
        plot=one("plot") if one("plot") in PLOTS else default.plot,
        quantity=one("y") if one("y") in QUANTITIES else default.quantity,
        color_by=_field_choice(one("color"), default.color_by),
        style_by=_field_choice(style, "") if style else "",
        normalise=one("norm") == "1",
        bands=one("bands") == "1",
        merit=one("merit") if one("merit") in MERITS else default.merit,
        cycle_n=int(cycle_n) if cycle_n.isdigit() and 0 < int(cycle_n) < 10**7 else 1,
        merit_x=_field_choice(one("x"), default.merit_x),
        bad_ids=tuple(bad),
    )


def to_query(view: CompareView) -> str:
    """The query string ("?ids=…&…") that `from_query` reads back as `view`."""
    pairs = [
        ("ids", ",".join(map(str, view.ids))),
        ("plot", view.plot),
        ("y", view.quantity),
        ("color", view.color_by),
        ("style", view.style_by),
        ("norm", "1" if view.normalise else ""),
        ("bands", "1" if view.bands else ""),
        ("merit", view.merit),
        ("n", str(view.cycle_n)),
        ("x", view.merit_x),
    ]
    return "?" + urlencode([(name, value) for name, value in pairs if value])


def with_ids(view: CompareView, ids: Iterable[int]) -> CompareView:
    return replace(view, ids=tuple(dict.fromkeys(ids)), bad_ids=())


# ---------------------------------------------------------------- curves per experiment


def capacity_axis_title(normalise: bool) -> str:
    if normalise:
        return "Discharge capacity / nominal capacity (Ah/Ah, C-rate-like fraction)"
    return "Discharge capacity (Ah)"


def quantity_axis_title(view: CompareView) -> str:
    if view.quantity == "retention":
        return "Retention (% of the first full cycle)"
    return capacity_axis_title(view.normalise)


@dataclass(frozen=True)
class CycleCurve:
    """One experiment's points over its cycles: cycle number, cumulative charge throughput
    (|Ah| in and out up to the end of the cycle) and the quantity (None where it has none)."""

    cycles: list[int]
    throughput_ah: list[float]
    values: list[float | None]


def throughput(cycles: Sequence[CycleTotals]) -> list[float]:
    """Cumulative |Ah| (charge plus discharge) at the end of each cycle."""
    total, out = 0.0, []
    for cycle in cycles:
        total += abs(cycle.charge_ah) + abs(cycle.discharge_ah)
        out.append(total)
    return out


def capacities(
    cycles: Sequence[CycleTotals], nominal_ah: float | None, normalise: bool
) -> list[float | None]:
    """Discharge capacity per cycle in Ah, or over the nominal capacity with `normalise`
    (None throughout without a nominal capacity; None for a cycle with no discharge)."""
    if normalise and not (nominal_ah and nominal_ah > 0):
        return [None] * len(cycles)
    scale = 1 / nominal_ah if normalise and nominal_ah else 1.0
    return [c.discharge_ah * scale if c.discharge_ah > 0 else None for c in cycles]


def retention_percent(cycles: Sequence[CycleTotals]) -> list[float | None]:
    """Per cycle, % of the first full cycle's discharge (domain.cycles.retention)."""
    result = retention(cycles)
    return result.percent if result else [None] * len(cycles)


def cycle_curve(
    cycles: Sequence[CycleTotals], nominal_ah: float | None, view: CompareView
) -> CycleCurve:
    values = (
        retention_percent(cycles)
        if view.quantity == "retention"
        else capacities(cycles, nominal_ah, view.normalise)
    )
    return CycleCurve([c.cycle for c in cycles], throughput(cycles), values)


# ---------------------------------------------------------------- group statistics


@dataclass(frozen=True)
class Band:
    """A group's statistics over cycle number: at each cycle in `cycles` (reached by at
    least two members), the mean, the sample standard deviation and how many members."""

    cycles: list[int]
    mean: list[float]
    std: list[float]
    count: list[int]


def mean_and_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (n - 1 in the denominator); needs two values."""
    if len(values) < 2:
        raise ValueError("a standard deviation needs at least two values")
    mean = math.fsum(values) / len(values)
    variance = math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1)
    return mean, math.sqrt(variance)


def group_band(members: Iterable[Mapping[int, float | None]]) -> Band:
    """The band of one group, each member given as {cycle: value}; None and NaN values
    count as missing, and cycles with fewer than two values are left out."""
    by_cycle: dict[int, list[float]] = {}
    for member in members:
        for cycle, value in member.items():
            if value is not None and not math.isnan(value):
                by_cycle.setdefault(cycle, []).append(value)
    band = Band([], [], [], [])
    for cycle in sorted(by_cycle):
        values = by_cycle[cycle]
        if len(values) < 2:
            continue
        mean, std = mean_and_std(values)
        band.cycles.append(cycle)
        band.mean.append(mean)
        band.std.append(std)
        band.count.append(len(values))
    return band


def group_bands(
    members: Mapping[int, Mapping[int, float | None]], group_of: Mapping[int, str]
) -> dict[str, Band]:
    """The band of every group with at least one cycle reached by two members:
    `members` is {experiment id: {cycle: value}}, `group_of` {experiment id: group}."""
    groups: dict[str, list[Mapping[int, float | None]]] = {}
    for experiment_id, values in members.items():
        groups.setdefault(group_of[experiment_id], []).append(values)
    bands = {name: group_band(values) for name, values in groups.items()}
    return {name: band for name, band in bands.items() if band.cycles}


# ---------------------------------------------------------------- figures of merit


def capacity_at_cycle(
    cycles: Sequence[CycleTotals], n: int, nominal_ah: float | None, normalise: bool
) -> float | None:
    """Discharge capacity of cycle `n` (Ah, or over nominal); None when it has none."""
    for cycle, value in zip(cycles, capacities(cycles, nominal_ah, normalise), strict=True):
        if cycle.cycle == n:
            return value
    return None


def cycles_to_retention(cycles: Sequence[CycleTotals]) -> int | None:
    """The first cycle below 80 % of the first full cycle; None when none is (yet)."""
    result = retention(cycles)
    return result.cycles_to_80 if result else None


def mean_coulombic_efficiency(cycles: Sequence[CycleTotals]) -> float | None:
    """Mean discharge/charge over the cycles with both a charge and a discharge."""
    values = [
        c.discharge_ah / c.charge_ah for c in cycles if c.charge_ah > 0 and c.discharge_ah > 0
    ]
    return math.fsum(values) / len(values) if values else None


def merit(
    cycles: Sequence[CycleTotals], nominal_ah: float | None, view: CompareView
) -> float | None:
    """The figure of merit the view asks for."""
    if view.merit == "cycles80":
        reached = cycles_to_retention(cycles)
        return float(reached) if reached is not None else None
    if view.merit == "ce":
        return mean_coulombic_efficiency(cycles)
    return capacity_at_cycle(cycles, view.cycle_n, nominal_ah, view.normalise)


def merit_axis_title(view: CompareView) -> str:
    if view.merit == "cycles80":
        return "Cycles to 80 % retention"
    if view.merit == "ce":
        return "Mean coulombic efficiency"
    return f"{capacity_axis_title(view.normalise)} at cycle {view.cycle_n}"


def numeric_values(values: Sequence[str | float | None]) -> list[float] | None:
    """The values as numbers when every one of them is one (a numeric axis), else None."""
    numbers: list[float] = []
    for value in values:
        if isinstance(value, bool) or value is None or value == "":
            return None
        try:
            numbers.append(float(value))
        except ValueError:
            return None
    return numbers


# ---------------------------------------------------------------- CSV

CSV_COLUMNS = [
    "experiment_id",
    "experiment",
    "group_field",
    "group",
    "cycle",
    "throughput_ah",
    "charge_ah",
    "discharge_ah",
    "discharge_per_nominal",
    "retention_percent",
    "coulombic_efficiency",
]


def _number(value: float | None) -> str:
    return "" if value is None else repr(float(value))


def csv_rows(
    facts: ExperimentFacts, cycles: Sequence[CycleTotals], group_field: str
) -> list[list[str]]:
    """One experiment's rows of the comparison CSV (CSV_COLUMNS), text made formula-safe."""
    per_nominal = capacities(cycles, facts.nominal_capacity_ah, normalise=True)
    kept = retention_percent(cycles)
    rows = []
    for cycle, passed, relative, percent in zip(
        cycles, throughput(cycles), per_nominal, kept, strict=True
    ):
        rows.append(
            [
                str(facts.id),
                formula_safe(facts.name),
                formula_safe(field_label(group_field)),
                formula_safe(facts.label(group_field)),
                str(cycle.cycle),
                _number(passed),
                _number(cycle.charge_ah),
                _number(cycle.discharge_ah),
                _number(relative),
                _number(percent),
                _number(cycle.coulombic_efficiency),
            ]
        )
    return rows
