"""Reading batteries for their pages: the list with counts, and one battery with its
experiments. Writing them is the catalogue's (`datastore.catalog`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from datastore.models import Battery, Experiment, Station
from domain.status import ExperimentStatus


@dataclass(frozen=True)
class BatteryExperiment:
    """An experiment run (or queued, or imported) on the battery."""

    id: int
    name: str
    status: ExperimentStatus
    station: str | None
    created_at: dt.datetime
    began_at: dt.datetime | None
    finished_at: dt.datetime | None


def battery_table(session: Session) -> list[tuple[Battery, int]]:
    """Every battery by id, with how many experiments use it."""
    counts = (
        select(Experiment.battery_id, func.count().label("uses"))
        .group_by(Experiment.battery_id)
        .subquery()
    )
    rows = session.execute(
        select(Battery, func.coalesce(counts.c.uses, 0))
        .outerjoin(counts, counts.c.battery_id == Battery.id)
        .order_by(Battery.id)
    ).all()
    return [(battery, int(uses)) for battery, uses in rows]


def battery_experiments(session: Session, battery_id: int) -> list[BatteryExperiment]:
    """The battery's experiments, newest first; only the listed columns are read (never
    an experiment's steps, megabytes each for a long profile)."""
    rows = session.execute(
        select(
            Experiment.id,
            Experiment.name,
            Experiment.status,
            Station.name,
            Experiment.created_at,
            Experiment.began_at,
            Experiment.finished_at,
        )
        .outerjoin(Station, Experiment.station_id == Station.id)
        .where(Experiment.battery_id == battery_id)
        .order_by(Experiment.created_at.desc(), Experiment.id.desc())
    ).all()
    return [BatteryExperiment(*row) for row in rows]
