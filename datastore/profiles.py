"""The stored profiles as the profile pages show them: the list, one profile with its
versions and the experiments that use it, and the batteries and stations to check it on.

Writing goes through `datastore.catalog` (`create_profile`, `save_profile_edit`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from datastore.catalog import PROFILE_LIST_COLUMNS
from datastore.experiments import MAX_ID
from datastore.models import Battery, Experiment, Profile, Station
from domain.profiles import Demand
from domain.status import ExperimentStatus


@dataclass(frozen=True)
class VersionRef:
    """One version of a profile, for links between versions."""

    id: int
    version: int
    name: str


@dataclass(frozen=True)
class ProfileUse:
    """An experiment queued (or imported) with the profile."""

    id: int
    name: str
    status: ExperimentStatus
    battery: str
    station: str | None
    created_at: dt.datetime


@dataclass(frozen=True)
class ProfileDetail:
    """One stored profile with what its page shows besides the text."""

    id: int
    name: str
    description: str
    source: str
    instructions: list[dict[str, Any]]
    step_count: int
    version: int
    created_at: dt.datetime
    demand: Demand
    previous: VersionRef | None  # the version it was made from
    versions: tuple[VersionRef, ...]  # every version of this profile, oldest first
    experiments: tuple[ProfileUse, ...]  # newest first

    @property
    def newer(self) -> tuple[VersionRef, ...]:
        """The versions made after this one."""
        return tuple(v for v in self.versions if v.version > self.version)


@dataclass(frozen=True)
class Choice:
    """A battery or a station offered for the compatibility check."""

    id: int
    label: str


def stored_demand(profile: Profile) -> Demand:
    """The envelope stored with a profile, as the compatibility checks use it."""
    return Demand(
        voltage_min=profile.voltage_min,
        voltage_max=profile.voltage_max,
        current_min=profile.current_min,
        current_max=profile.current_max,
        c_rate_min=profile.c_rate_min,
        c_rate_max=profile.c_rate_max,
        power_min=profile.power_min,
        power_max=profile.power_max,
    )


def profile_table(session: Session) -> list[dict[str, Any]]:
    """Every profile, by id, with its version, envelope and how many experiments use it."""
    uses = (
        select(func.count(Experiment.id))
        .where(Experiment.profile_id == Profile.id)
        .correlate(Profile)
        .scalar_subquery()
    )
    query = select(*PROFILE_LIST_COLUMNS, Profile.version, uses.label("experiments")).order_by(
        Profile.id
    )
    return [dict(row._mapping) for row in session.execute(query)]


def profile_detail(session: Session, profile_id: int) -> ProfileDetail | None:
    """The profile with this id, or None when there is none."""
    if not 0 < profile_id <= MAX_ID:
        return None
    profile = session.get(Profile, profile_id)
    if profile is None:
        return None
    origin_id = profile.origin_id or profile.id
    versions = tuple(
        VersionRef(*row)
        for row in session.execute(
            select(Profile.id, Profile.version, Profile.name)
            .where(or_(Profile.id == origin_id, Profile.origin_id == origin_id))
            .order_by(Profile.version, Profile.id)
        )
    )
    previous = next((v for v in versions if v.id == profile.previous_id), None)
    if previous is None and profile.previous_id is not None:
        made_from = session.get(Profile, profile.previous_id)
        if made_from is not None:
            previous = VersionRef(made_from.id, made_from.version, made_from.name)
    experiments = tuple(
        ProfileUse(*row)
        for row in session.execute(
            select(
                Experiment.id,
                Experiment.name,
                Experiment.status,
                Battery.name,
                Station.name,
                Experiment.created_at,
            )
            .join(Battery, Experiment.battery_id == Battery.id)
            .outerjoin(Station, Experiment.station_id == Station.id)
            .where(Experiment.profile_id == profile.id)
            .order_by(Experiment.id.desc())
        )
    )
    return ProfileDetail(
        id=profile.id,
        name=profile.name,
        description=profile.description,
        source=profile.source,
        instructions=profile.instructions,
        step_count=profile.step_count,
        version=profile.version,
        created_at=profile.created_at,
        demand=stored_demand(profile),
        previous=previous,
        versions=versions,
        experiments=experiments,
    )


def battery_choices(session: Session) -> list[Choice]:
    """Every battery, by name then id, labelled with its capacity and safe window."""
    rows = session.execute(
        select(
            Battery.id,
            Battery.name,
            Battery.nominal_capacity_ah,
            Battery.voltage_min,
            Battery.voltage_max,
            Battery.current_min,
            Battery.current_max,
        ).order_by(Battery.name, Battery.id)
    )
    choices = []
    for row in rows:
        capacity = f"{row.nominal_capacity_ah:g} Ah" if row.nominal_capacity_ah else "no capacity"
        window = (
            f"{row.voltage_min:g} to {row.voltage_max:g} V, "
            f"{row.current_min:g} to {row.current_max:g} A"
        )
        choices.append(Choice(row.id, f"{row.name} · {capacity} · {window} (id {row.id})"))
    return choices


def station_choices(session: Session) -> list[Choice]:
    """The current (not deprecated) stations, by name then id, labelled with their window."""
    rows = session.execute(
        select(
            Station.id,
            Station.name,
            Station.voltage_min,
            Station.voltage_max,
            Station.current_min,
            Station.current_max,
        )
        .where(Station.deprecated.is_(False))
        .order_by(Station.name, Station.id)
    )
    return [
        Choice(
            row.id,
            f"{row.name} · {row.voltage_min:g} to {row.voltage_max:g} V, "
            f"{row.current_min:g} to {row.current_max:g} A (id {row.id})",
        )
        for row in rows
    ]
