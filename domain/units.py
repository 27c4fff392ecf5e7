"""Unit conversion to SI: the one table of the units the application understands.

Everything is stored, sent and shown in SI units (V, A, W, s, Ah, Wh, °C; see
docs/formats.md). Files and forms may declare other units (`mV`, `mAh`, `kW`, `min`...);
`to_si` turns such values into SI and names the SI unit they are now in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import pandas as pd

Numeric = TypeVar("Numeric", float, np.ndarray, pd.Series)


@dataclass(frozen=True)
class Unit:
    """A unit and how to bring its values to `si_unit`: `value * multiplier / divisor + offset`.

    Sub-units divide (rather than multiply by 0.001) so that 3710 mV becomes exactly
    the double nearest to 3.71 V.
    """

    symbol: str
    si_unit: str
    multiplier: float = 1.0
    divisor: float = 1.0
    offset: float = 0.0

    @property
    def is_si(self) -> bool:
        return self.multiplier == 1.0 and self.divisor == 1.0 and self.offset == 0.0


class UnknownUnitError(ValueError):
    """A unit symbol that is not in the table (or matches several units when case is ignored)."""


def _units() -> tuple[Unit, ...]:
    micro = "µ"  # MICRO SIGN; GREEK SMALL LETTER MU and a plain "u" are accepted as aliases
    units: list[Unit] = []
    for si_unit in ("V", "A", "W"):
        units += [
            Unit(si_unit, si_unit),
            Unit(f"m{si_unit}", si_unit, divisor=1e3),
            Unit(f"{micro}{si_unit}", si_unit, divisor=1e6),
            Unit(f"k{si_unit}", si_unit, multiplier=1e3),
        ]
    units += [
        Unit("s", "s"),
        Unit("ms", "s", divisor=1e3),
        Unit(f"{micro}s", "s", divisor=1e6),
        Unit("min", "s", multiplier=60.0),
        Unit("h", "s", multiplier=3600.0),
        Unit("Ah", "Ah"),
        Unit("mAh", "Ah", divisor=1e3),
        Unit("kAh", "Ah", multiplier=1e3),
        Unit("As", "Ah", divisor=3600.0),
        Unit("Wh", "Wh"),
        Unit("mWh", "Wh", divisor=1e3),
        Unit("kWh", "Wh", multiplier=1e3),
        Unit("J", "Wh", divisor=3600.0),
        Unit("kJ", "Wh", divisor=3.6),
        Unit("°C", "°C"),
        Unit("K", "°C", offset=-273.15),
        Unit("1", "1"),  # dimensionless counts (BDF writes `Step Count / 1`)
    ]
    return tuple(units)


UNITS: dict[str, Unit] = {unit.symbol: unit for unit in _units()}

# Other spellings of the same units, as they appear in instrument software exports.
_ALIASES: dict[str, str] = {
    **{f"u{base}": f"µ{base}" for base in ("V", "A", "W", "s")},
    **{f"\u03bc{base}": f"µ{base}" for base in ("V", "A", "W", "s")},
    "sec": "s",
    "degC": "°C",
    "deg C": "°C",
    "\u2103": "°C",  # DEGREE CELSIUS as one character
    "Celsius": "°C",
}

# Case-insensitive fallback ("MV", "mah", "KW"), only where exactly one unit matches.
_BY_FOLDED_SYMBOL: dict[str, list[Unit]] = {}
for _symbol, _unit in [*UNITS.items(), *((a, UNITS[s]) for a, s in _ALIASES.items())]:
    _matches = _BY_FOLDED_SYMBOL.setdefault(_symbol.casefold(), [])
    if _unit not in _matches:
        _matches.append(_unit)


def lookup_unit(symbol: str) -> Unit | None:
    """The unit written as `symbol` (surrounding spaces ignored), or None if unknown."""
    symbol = symbol.strip()
    if symbol in UNITS:
        return UNITS[symbol]
    if symbol in _ALIASES:
        return UNITS[_ALIASES[symbol]]
    matches = _BY_FOLDED_SYMBOL.get(symbol.casefold(), [])
    return matches[0] if len(matches) == 1 else None


def units_of(si_unit: str) -> list[str]:
    """The symbols that convert to `si_unit`, SI first, e.g. for "V": V, mV, µV, kV."""
    return [unit.symbol for unit in UNITS.values() if unit.si_unit == si_unit]


def to_si(value: Numeric, unit: str) -> tuple[Numeric, str]:
    """`value` (a number or an array) expressed in `unit`, converted to SI, and the SI unit.

    An empty unit means "no unit": the value is returned as is with unit "".
    Raises UnknownUnitError for a unit not in the table.
    """
    if not unit.strip():
        return value, ""
    found = lookup_unit(unit)
    if found is None:
        raise UnknownUnitError(f"unknown unit {unit.strip()!r}")
    if found.is_si:
        return value, found.si_unit
    scaled = value
    if found.multiplier != 1.0:
        scaled = scaled * found.multiplier
    if found.divisor != 1.0:
        scaled = scaled / found.divisor
    if found.offset != 0.0:
        scaled = scaled + found.offset
    return scaled, found.si_unit
