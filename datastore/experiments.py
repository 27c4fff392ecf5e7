"""One experiment as its page shows it: the experiment, its battery, station and profile.

One query joins them, plus the experiment's first sample time (through the primary key)
and its alarm count; the samples themselves are read by `datastore.series`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from datastore.engine import Bind, connection_of
from datastore.models import Alarm, Battery, Experiment, Measurement, Profile, Station
from domain.status import ExperimentStatus

# Ids are 32-bit integers in the database; anything beyond names no experiment.
MAX_ID = 2**31 - 1


def in_id_range(record_id: int) -> bool:
    """Whether `record_id` could name a row: a number past the column's range (or not
    positive) names none, and would make SQLite's driver fail rather than find nothing."""
    return 0 < record_id <= MAX_ID


@dataclass(frozen=True)
class ExperimentDetail:
    id: int
    name: str
    description: str
    status: ExperimentStatus
    status_message: str
    imported: bool
    created_at: dt.datetime
    began_at: dt.datetime | None
    finished_at: dt.datetime | None
    sample_count: int
    first_sample_at: float | None
    last_sample_at: float | None
    alarm_count: int
    battery_id: int
    battery_name: str
    technology: str
    chemistry: str | None
    manufacturer: str
    model: str
    nominal_capacity_ah: float | None
    station_id: int | None
    station_name: str | None
    profile_id: int | None
    profile_name: str | None
    profile_source: str | None
    # The run conditions stored with the experiment (domain.experiment_details), if any.
    details: dict[str, Any] | None = None

    @property
    def duration_s(self) -> float | None:
        """From the first sample to the last (None before the first sample)."""
        if self.first_sample_at is None or self.last_sample_at is None:
            return None
        return self.last_sample_at - self.first_sample_at


def experiment_detail(bind: Bind, experiment_id: int) -> ExperimentDetail | None:
    """The experiment with this id, or None when there is none."""
    if not in_id_range(experiment_id):
        return None
    first_sample = (
        select(Measurement.ts)
        .where(Measurement.experiment_id == Experiment.id)
        .order_by(Measurement.seq)
        .limit(1)
        .scalar_subquery()
    )
    alarms = (
        select(func.count(Alarm.id)).where(Alarm.experiment_id == Experiment.id).scalar_subquery()
    )
    columns: list[Any] = [
        Experiment.id,
        Experiment.name,
        Experiment.description,
        Experiment.status,
        Experiment.status_message,
        Experiment.imported,
        Experiment.created_at,
        Experiment.began_at,
        Experiment.finished_at,
        Experiment.sample_count,
        first_sample,
        Experiment.last_sample_at,
        alarms,
        Battery.id,
        Battery.name,
        Battery.technology,
        Battery.details,
        Battery.manufacturer,
        Battery.model,
        Battery.nominal_capacity_ah,
        Station.id,
        Station.name,
        Profile.id,
        Profile.name,
        Profile.source,
        Experiment.details,
    ]
    query = (
        select(*columns)
        .join(Battery, Experiment.battery_id == Battery.id)
        .outerjoin(Station, Experiment.station_id == Station.id)
        .outerjoin(Profile, Experiment.profile_id == Profile.id)
        .where(Experiment.id == experiment_id)
    )
    with connection_of(bind) as connection:
        row = connection.execute(query).first()
    if row is None:
        return None
    values = list(row)
    details = values.pop(16) or {}
    values.insert(16, details.get("chemistry"))
    return ExperimentDetail(*values)
