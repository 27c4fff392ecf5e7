"""The options of the new-experiment form, as pure functions of what the database gave.

Kept apart from the callbacks so the filtering (batteries of a technology, current
stations with their state, a choice kept only while it is still offered) is tested
without a browser.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from components.station_card import station_liveness
from datastore.experiment_choices import BatteryChoice, ProfileChoice
from datastore.telemetry import StationSnapshot
from domain.batteries import TECHNOLOGIES
from domain.formatting import format_age
from domain.liveness import Liveness, heartbeat_age

Option = dict[str, Any]


def keep_choice(value: object, options: Sequence[Option]) -> str | None:
    """The current choice if it is still offered, else none: a battery of another
    technology, or a profile that no longer fits, is never kept out of sight."""
    offered = {str(option["value"]) for option in options if not option.get("disabled")}
    return str(value) if value is not None and str(value) in offered else None


def technology_options() -> list[Option]:
    return [{"label": tech.label, "value": key} for key, tech in TECHNOLOGIES.items()]


def technology_of(batteries: Sequence[BatteryChoice], battery_id: int | None) -> str | None:
    """The technology of the battery with this id, None if there is none."""
    return next((b.technology for b in batteries if b.id == battery_id), None)


def battery_label(battery: BatteryChoice) -> str:
    parts = [battery.name]
    if battery.serial_number:
        parts.append(f"serial {battery.serial_number}")
    if battery.nominal_capacity_ah:
        parts.append(f"{battery.nominal_capacity_ah:g} Ah")
    return " · ".join(parts) + f" (id {battery.id})"


def battery_options(batteries: Sequence[BatteryChoice], technology: str | None) -> list[Option]:
    """The batteries of `technology` (none until a technology is chosen)."""
    return [
        {"label": battery_label(battery), "value": str(battery.id)}
        for battery in batteries
        if technology and battery.technology == technology
    ]


def station_state(station: StationSnapshot, now: dt.datetime, timeout_s: float) -> str:
    """What the station is doing, in a few words: its liveness and its experiment."""
    verdict = station_liveness(station, now, timeout_s)
    if verdict == Liveness.NEVER_SEEN:
        state = "never seen online"
    elif verdict == Liveness.OFFLINE:
        state = f"offline (last heartbeat {format_age(heartbeat_age(station.last_heartbeat, now))})"
    else:
        state = "online"
    experiment = station.experiment
    if experiment is not None and experiment.status.is_active:
        state += f", {experiment.status.value.lower()} “{experiment.name}”"
    elif verdict in (Liveness.ONLINE, Liveness.SILENT):
        state += ", idle"
    return state


def station_options(
    stations: Sequence[StationSnapshot], now: dt.datetime, timeout_s: float
) -> list[Option]:
    """Current stations (deprecated ones are replaced, so never offered), each with its state."""
    options = []
    for station in stations:
        if station.deprecated:
            continue
        name = f"{station.name} · {station.unit_name}" if station.unit_name else station.name
        options.append(
            {
                "label": f"{name} — {station_state(station, now, timeout_s)}",
                "value": str(station.id),
            }
        )
    return options


def station_note(
    station: StationSnapshot | None, now: dt.datetime, timeout_s: float
) -> tuple[str, bool]:
    """(what to say under the chosen station, whether it is a warning)."""
    if station is None:
        return "", False
    verdict = station_liveness(station, now, timeout_s)
    if verdict == Liveness.NEVER_SEEN:
        return (
            f"Station {station.name} has never been seen online: no cycler has connected for "
            "it yet. The experiment waits in its queue until one does.",
            True,
        )
    if verdict == Liveness.OFFLINE:
        age = format_age(heartbeat_age(station.last_heartbeat, now))
        return (
            f"Station {station.name} is offline (last heartbeat {age}). The experiment waits "
            "in its queue until the station is back.",
            True,
        )
    experiment = station.experiment
    if experiment is not None and experiment.status.is_active:
        return (
            f"Station {station.name} is busy with “{experiment.name}”; the new experiment "
            "starts after it.",
            False,
        )
    return f"Station {station.name} is online and idle.", False


def profile_options(compatible: Sequence[ProfileChoice]) -> list[Option]:
    return [
        {
            "label": f"{profile.name} · {profile.step_count} steps (id {profile.id})",
            "value": str(profile.id),
        }
        for profile in compatible
    ]
