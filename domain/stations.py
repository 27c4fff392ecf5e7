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
