"""The voltage and current window: what a battery, a station or a running experiment allows.

One type for all of them. A battery's window and a station's are intersected to get the
window a cycler must keep, which travels in the MQTT start command as its "limits"
object (`to_json`/`from_json`). Currents are in A, negative = discharge.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

# The keys of the window's JSON object, in the order they are written.
WINDOW_KEYS: Final = ("voltage_min", "voltage_max", "current_min", "current_max")


@dataclass(frozen=True, slots=True)
class Window:
    """A voltage window in V and a current window in A (negative = discharge)."""

    voltage_min: float
    voltage_max: float
    current_min: float
    current_max: float

    def intersect(self, other: Window) -> Window:
        """What both windows allow (possibly empty: see `is_empty`)."""
        return Window(
            max(self.voltage_min, other.voltage_min),
            min(self.voltage_max, other.voltage_max),
            max(self.current_min, other.current_min),
            min(self.current_max, other.current_max),
        )

    @property
    def is_empty(self) -> bool:
        """Whether no voltage or no current lies within the window."""
        return self.voltage_min > self.voltage_max or self.current_min > self.current_max

    def checked(self) -> Window:
        """This window if an experiment can run in it; ValueError naming the bound if not.

        Running needs room to move the voltage (min below max) and a current of zero in
        the window, since every run starts and rests at 0 A.
        """
        if not self.voltage_min < self.voltage_max:
            raise ValueError(
                f"voltage_max: must be above voltage_min ({self.voltage_min} V), "
                f"got {self.voltage_max}"
            )
        if not self.current_min <= 0 <= self.current_max:
            raise ValueError(
                "current_min, current_max: expected current_min <= 0 <= current_max, "
                f"got {self.current_min} and {self.current_max}"
            )
        return self

    def to_json(self) -> dict[str, float]:
        """The window as the start command's "limits" object."""
        return {
            "voltage_min": self.voltage_min,
            "voltage_max": self.voltage_max,
            "current_min": self.current_min,
            "current_max": self.current_max,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Window:
        """The window from a "limits" object (or any mapping with its four keys).

        Values become floats, as the protocol reads them; other keys are ignored. A
        missing key or a value that is not a number is a ValueError.
        """
        try:
            return cls(*(float(data[key]) for key in WINDOW_KEYS))
        except KeyError as error:
            raise ValueError(f"{error.args[0]}: required field is missing") from None
        except (TypeError, ValueError) as error:
            raise ValueError(f"not a window: {error}") from None
