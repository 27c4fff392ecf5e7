"""What the new-experiment form offers: the batteries, and the stored profiles that fit a
battery and a station with, for the others, why not.

The compatible profiles are filtered in the database (`catalog.compatible_profiles`);
the reasons for the others come from `domain.profiles.check_compatibility` on their
stored demand columns, so no profile's instructions are parsed to explain a refusal.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from sqlalchemy import select
from sqlalchemy.orm import Session

from datastore.catalog import (
    battery_rating,
    compatible_profiles,
    get_battery,
    get_station,
    station_window,
)
from datastore.models import Battery, Profile
from domain.profiles import Demand, check_compatibility


@dataclass(frozen=True)
class BatteryChoice:
    id: int
    name: str
    technology: str
    serial_number: str
    nominal_capacity_ah: float | None


@dataclass(frozen=True)
class ProfileChoice:
    """A stored profile offered for a (battery, station) pair; `problems` is empty when it
    fits, else each bound it exceeds and by how much."""

    id: int
    name: str
    step_count: int
    problems: tuple[str, ...] = ()


def battery_choices(session: Session) -> list[BatteryChoice]:
    """Every battery, by name then id."""
    rows = session.execute(
        select(
            Battery.id,
            Battery.name,
            Battery.technology,
            Battery.serial_number,
            Battery.nominal_capacity_ah,
        ).order_by(Battery.name, Battery.id)
    ).all()
    return [BatteryChoice(*row) for row in rows]


_DEMAND_COLUMNS = [getattr(Profile, f.name) for f in fields(Demand)]


def profile_choices(
    session: Session, battery_id: int, station_id: int
) -> tuple[list[ProfileChoice], list[ProfileChoice]]:
    """(the profiles that fit, the others with their reasons), each in id order.

    NotFoundError when the battery or the station does not exist.
    """
    fitting = {row["id"]: row for row in compatible_profiles(session, battery_id, station_id)}
    rating = battery_rating(get_battery(session, battery_id))
    window = station_window(get_station(session, station_id))
    others: list[ProfileChoice] = []
    rows = session.execute(
        select(Profile.id, Profile.name, Profile.step_count, *_DEMAND_COLUMNS)
        .where(Profile.id.not_in(list(fitting)))
        .order_by(Profile.id)
    ).all()
    for row in rows:
        demand = Demand(*row[3:])
        verdict = check_compatibility(demand, rating, window)
        others.append(ProfileChoice(row.id, row.name, row.step_count, verdict.problems))
    compatible = [
        ProfileChoice(row["id"], row["name"], row["step_count"]) for row in fitting.values()
    ]
    return compatible, others
