"""What a profile demands of a battery and a station, and whether a pair can run it.

Three layers, so the database can filter without parsing anything:

- `Demand`: the profile's extremes in its own terms (V and A where written as such,
  C-rates in C, CP set points in W). Stored with each profile.
- `Envelope`: the demand resolved for one battery (C-rates through its capacity, CP
  power through its voltage window) into minimum/maximum voltage and current.
- `FitBounds`: for a (battery, station) pair, the bound each stored demand column must
  respect. `demand_fits` and the SQL filter in `datastore.catalog` apply the very same
  comparisons to the very same numbers, so their verdicts agree.

Rules (docs/profiles.md explains them for lab users):
- CC set points are currents; a CC or CP VOLTAGE limit is a voltage the battery reaches.
- CV set points are voltages. A CV step charges or discharges depending on where the
  battery stands, so its CURRENT limit counts in both directions (+L and -L).
- A CP step draws I = P / V. Over the battery's voltage window [Vmin, Vmax] the largest
  charge current is P / Vmin, so a battery whose Vmin is 0 V cannot bound it.
- TIME, CAPACITY and ENERGY limits and WAIT steps demand nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

from domain.profiles.language import (
    Limit,
    Mode,
    Problem,
    Profile,
    ProfileError,
    c_rate_problems,
    iter_steps,
)
from domain.window import Window


def _extend(bounds: tuple[float, float] | None, *values: float) -> tuple[float, float]:
    low = min(values) if bounds is None else min(bounds[0], *values)
    high = max(values) if bounds is None else max(bounds[1], *values)
    return low, high


@dataclass(frozen=True)
class Demand:
    """The extremes a profile asks for, before any battery is known; None = not asked."""

    voltage_min: float | None = None
    voltage_max: float | None = None
    current_min: float | None = None  # A, from absolute CC set points and CV CURRENT limits
    current_max: float | None = None
    c_rate_min: float | None = None  # C, from C-rate CC set points and CV CURRENT limits
    c_rate_max: float | None = None
    power_min: float | None = None  # W, CP set points
    power_max: float | None = None

    def as_columns(self) -> dict[str, float | None]:
        """The demand as the Profile model's column values."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def profile_demand(profile: Profile) -> Demand:
    """The extremes of every step of the profile (REPEAT counts do not change them)."""
    voltage = current = c_rate = power = None
    for step in iter_steps(profile):
        if step.mode is Mode.CC:
            assert step.setpoint is not None
            if step.setpoint_c_rate:
                c_rate = _extend(c_rate, step.setpoint)
            else:
                current = _extend(current, step.setpoint)
        elif step.mode is Mode.CV:
            assert step.setpoint is not None
            voltage = _extend(voltage, step.setpoint)
        elif step.mode is Mode.CP:
            assert step.setpoint is not None
            power = _extend(power, step.setpoint)
        if step.limit is Limit.VOLTAGE:
            voltage = _extend(voltage, step.limit_value)
        elif step.limit is Limit.CURRENT:
            magnitude = abs(step.limit_value)
            if step.limit_c_rate:
                c_rate = _extend(c_rate, -magnitude, magnitude)
            else:
                current = _extend(current, -magnitude, magnitude)
    return Demand(
        *(voltage or (None, None)),
        *(current or (None, None)),
        *(c_rate or (None, None)),
        *(power or (None, None)),
    )


@dataclass(frozen=True)
class BatteryRating:
    """What the profile language needs to know of a battery."""

    window: Window
    capacity_ah: float | None = None

    @property
    def has_capacity(self) -> bool:
        """Whether C-rates can be resolved for this battery."""
        return self.capacity_ah is not None and self.capacity_ah > 0


@dataclass(frozen=True)
class Envelope:
    """The voltage (V) and current (A) extremes a profile reaches on one battery.

    None where the profile asks nothing (e.g. no voltage for a CC-for-TIME profile);
    an infinite current where CP power cannot be bounded (battery minimum of 0 V).
    """

    voltage_min: float | None
    voltage_max: float | None
    current_min: float | None
    current_max: float | None


def cp_current_range(
    power_min: float, power_max: float, battery_window: Window
) -> tuple[float, float]:
    """The current CP set points in [power_min, power_max] W draw over the battery's voltages."""
    low_voltage, high_voltage = battery_window.voltage_min, battery_window.voltage_max

    def divide(power: float, voltage: float) -> float:
        return power / voltage if voltage > 0 else math.copysign(math.inf, power)

    # I = P / V is largest in magnitude at the lowest voltage.
    highest = divide(power_max, low_voltage if power_max > 0 else high_voltage)
    lowest = divide(power_min, low_voltage if power_min < 0 else high_voltage)
    return lowest, highest


def resolve_envelope(source: Profile | Demand, battery: BatteryRating) -> Envelope:
    """The envelope on `battery`; ProfileError when C-rates meet a battery without capacity."""
    demand = profile_demand(source) if isinstance(source, Profile) else source
    capacity = battery.capacity_ah
    if demand.c_rate_min is not None and not battery.has_capacity:
        if isinstance(source, Profile):
            raise ProfileError(c_rate_problems(source))
        raise ProfileError(
            [Problem(None, "the profile uses C-rates but the battery has no nominal capacity")]
        )
    currents: list[float] = []
    if demand.current_min is not None and demand.current_max is not None:
        currents += [demand.current_min, demand.current_max]
    if demand.c_rate_min is not None and demand.c_rate_max is not None and capacity:
        currents += [demand.c_rate_min * capacity, demand.c_rate_max * capacity]
    if demand.power_min is not None and demand.power_max is not None:
        currents += cp_current_range(demand.power_min, demand.power_max, battery.window)
    return Envelope(
        demand.voltage_min,
        demand.voltage_max,
        min(currents) if currents else None,
        max(currents) if currents else None,
    )


# ---------------------------------------------------------------- compatibility


@dataclass(frozen=True)
class FitBounds:
    """The bounds a stored demand must respect to run on one (battery, station) pair.

    A demand fits when every non-null column passes its comparison (see `demand_fits`).
    CP power is compared in W so no division happens at query time: P / Vmin <= Imax is
    P <= Imax * Vmin for Vmin > 0, and with Vmin = 0 no charging power fits at all.
    """

    window: Window
    window_empty: bool
    c_rate_min: float | None  # None: the battery has no capacity, so no C-rate fits
    c_rate_max: float | None
    charge_power_max: float  # upper bound of power_max when power_max > 0
    discharge_power_max: float  # ... when power_max <= 0
    discharge_power_min: float  # lower bound of power_min when power_min < 0
    charge_power_min: float  # ... when power_min >= 0


def fit_bounds(battery: BatteryRating, station: Window) -> FitBounds:
    """The bounds of `FitBounds` for one battery on one station."""
    window = battery.window.intersect(station)
    capacity = battery.capacity_ah if battery.has_capacity else None
    low_voltage, high_voltage = battery.window.voltage_min, battery.window.voltage_max
    return FitBounds(
        window=window,
        window_empty=window.is_empty,
        c_rate_min=window.current_min / capacity if capacity is not None else None,
        c_rate_max=window.current_max / capacity if capacity is not None else None,
        charge_power_max=window.current_max * low_voltage,
        discharge_power_max=window.current_max * high_voltage,
        discharge_power_min=window.current_min * low_voltage,
        charge_power_min=window.current_min * high_voltage,
    )


@dataclass(frozen=True)
class FitChecks:
    """Which parts of a demand pass; each field mirrors one clause of the SQL filter."""

    window: bool
    voltage_min: bool
    voltage_max: bool
    current_min: bool
    current_max: bool
    c_rate_min: bool
    c_rate_max: bool
    power_min: bool
    power_max: bool

    @property
    def all_pass(self) -> bool:
        return all(getattr(self, f.name) for f in fields(self))


def demand_fits(demand: Demand, bounds: FitBounds) -> FitChecks:
    """The comparisons that decide compatibility (datastore.catalog writes them in SQL)."""
    window = bounds.window

    def at_least(value: float | None, bound: float | None) -> bool:
        return value is None or (bound is not None and value >= bound)

    def at_most(value: float | None, bound: float | None) -> bool:
        return value is None or (bound is not None and value <= bound)

    power_max_ok = demand.power_max is None or (
        demand.power_max <= bounds.charge_power_max
        if demand.power_max > 0
        else demand.power_max <= bounds.discharge_power_max
    )
    power_min_ok = demand.power_min is None or (
        demand.power_min >= bounds.discharge_power_min
        if demand.power_min < 0
        else demand.power_min >= bounds.charge_power_min
    )
    return FitChecks(
        window=not bounds.window_empty,
        voltage_min=at_least(demand.voltage_min, window.voltage_min),
        voltage_max=at_most(demand.voltage_max, window.voltage_max),
        current_min=at_least(demand.current_min, window.current_min),
        current_max=at_most(demand.current_max, window.current_max),
        c_rate_min=at_least(demand.c_rate_min, bounds.c_rate_min),
        c_rate_max=at_most(demand.c_rate_max, bounds.c_rate_max),
        power_min=power_min_ok,
        power_max=power_max_ok,
    )


@dataclass(frozen=True)
class Compatibility:
    """The verdict for one profile on one (battery, station) pair, with the reasons."""

    fits: bool
    problems: tuple[str, ...]
    window: Window
    envelope: Envelope  # C-rates left out when the battery has no capacity

    @property
    def message(self) -> str:
        if self.fits:
            return "compatible"
        return "incompatible: " + "; and ".join(self.problems)


def format_value(value: float) -> str:
    """A measured-looking number for messages: 6 significant digits, always a decimal point."""
    if math.isinf(value):
        return "unbounded"
    rounded = float(f"{value:.6g}")
    return repr(rounded) if rounded != 0 else "0.0"


def _who(battery_value: float, station_value: float, tighter_is_lower: bool) -> str:
    """Which side sets a bound of the shared window."""
    if battery_value == station_value:
        return "the battery and the station allow"
    battery_tighter = (
        battery_value < station_value if tighter_is_lower else battery_value > station_value
    )
    return "the battery allows" if battery_tighter else "the station allows"


def check_compatibility(
    source: Profile | Demand, battery: BatteryRating, station: Window
) -> Compatibility:
    """Whether the profile fits battery ∩ station; otherwise each bound exceeded, by how much."""
    demand = profile_demand(source) if isinstance(source, Profile) else source
    bounds = fit_bounds(battery, station)
    checks = demand_fits(demand, bounds)
    window = bounds.window
    problems: list[str] = []
    if not checks.window:
        problems.append(
            f"the battery's window ({_describe_window(battery.window)}) and the station's "
            f"({_describe_window(station)}) do not overlap"
        )
    c_rates_unresolved = demand.c_rate_min is not None and bounds.c_rate_min is None
    if c_rates_unresolved:
        problems.append("the profile uses C-rates but the battery has no nominal capacity")
        # The rest of the demand is still checked, so every problem shows at once.
        envelope = resolve_envelope(replace(demand, c_rate_min=None, c_rate_max=None), battery)
    else:
        envelope = resolve_envelope(demand, battery)

    if checks.window and not checks.voltage_max and envelope.voltage_max is not None:
        who = _who(battery.window.voltage_max, station.voltage_max, tighter_is_lower=True)
        over = envelope.voltage_max - window.voltage_max
        problems.append(
            f"needs {format_value(envelope.voltage_max)} V; {who} at most "
            f"{format_value(window.voltage_max)} V ({format_value(over)} V over)"
        )
    if checks.window and not checks.voltage_min and envelope.voltage_min is not None:
        who = _who(battery.window.voltage_min, station.voltage_min, tighter_is_lower=False)
        under = window.voltage_min - envelope.voltage_min
        problems.append(
            f"needs {format_value(envelope.voltage_min)} V; {who} at least "
            f"{format_value(window.voltage_min)} V ({format_value(under)} V under)"
        )
    charge_ok = (
        checks.current_max and checks.power_max and (checks.c_rate_max or c_rates_unresolved)
    )
    if checks.window and not charge_ok and envelope.current_max is not None:
        who = _who(battery.window.current_max, station.current_max, tighter_is_lower=True)
        problems.append(
            _current_problem(envelope.current_max, window.current_max, who, "charge", demand)
        )
    discharge_ok = (
        checks.current_min and checks.power_min and (checks.c_rate_min or c_rates_unresolved)
    )
    if checks.window and not discharge_ok and envelope.current_min is not None:
        who = _who(battery.window.current_min, station.current_min, tighter_is_lower=False)
        problems.append(
            _current_problem(-envelope.current_min, -window.current_min, who, "discharge", demand)
        )
    return Compatibility(checks.all_pass, tuple(problems), window, envelope)


def _current_problem(
    needed: float, allowed: float, who: str, direction: str, demand: Demand
) -> str:
    if math.isinf(needed):
        return (
            f"CP steps ({format_value(demand.power_min or 0)} W to "
            f"{format_value(demand.power_max or 0)} W) need an unbounded {direction} current "
            "because the battery's minimum voltage is 0 V"
        )
    return (
        f"needs {format_value(needed)} A {direction}; {who} {format_value(allowed)} A "
        f"({format_value(needed - allowed)} A over)"
    )


def _describe_window(window: Window) -> str:
    return (
        f"{format_value(window.voltage_min)} to {format_value(window.voltage_max)} V, "
        f"{format_value(window.current_min)} to {format_value(window.current_max)} A"
    )
