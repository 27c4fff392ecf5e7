"""A cycler station as its computational unit describes it: name, location and window.

The same description is announced over MQTT, registered in the datastore and played by
simulated cyclers, so it lives here, below all of them.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.window import Window


@dataclass(frozen=True, slots=True)
class StationSpec:
    """One station of a unit: its name within the unit, the window it can apply, where it is."""

    name: str
    window: Window
    location: str = ""

    # Deprecated: read `window` instead. Kept while the node's announce handler still
    # copies the bounds one by one (it can pass the stations to register_unit as they are).
    @property
    def voltage_min(self) -> float:
        return self.window.voltage_min

    @property
    def voltage_max(self) -> float:
        return self.window.voltage_max

    @property
    def current_min(self) -> float:
        return self.window.current_min

    @property
    def current_max(self) -> float:
        return self.window.current_max
