"""The experiments waiting on each station, for the monitor and the overview.

The node starts a station's QUEUED experiments oldest first (`datastore.dispatch`, by
creation time, then id), so that order is each one's place in the queue. Both reads go
through the (station_id, status, created_at) index and never touch the steps column.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from datastore.engine import Bind, connection_of
from datastore.models import Battery, Experiment, Profile
from domain.status import ExperimentStatus


@dataclass(frozen=True)
class QueuedExperiment:
    """One waiting experiment; `position` is 1 for the next to start."""

    id: int
    name: str
    position: int
    battery_name: str
    profile_name: str
    created_at: dt.datetime


@dataclass(frozen=True)
class QueueSummary:
    """How many experiments wait on a station, and the next one."""

    count: int
    next_id: int
    next_name: str


def station_queue(bind: Bind, station_id: int) -> list[QueuedExperiment]:
    """The station's QUEUED experiments, oldest first: the order the node tries them in.
    One whose battery is busy on another station waits, and a later one may start first
    (`datastore.dispatch.startable_experiments`)."""
    query = (
        select(
            Experiment.id,
            Experiment.name,
            Experiment.created_at,
            Battery.name.label("battery_name"),
            Profile.name.label("profile_name"),
        )
        .join(Battery, Experiment.battery_id == Battery.id)
        .outerjoin(Profile, Experiment.profile_id == Profile.id)
        .where(Experiment.station_id == station_id, Experiment.status == ExperimentStatus.QUEUED)
        .order_by(Experiment.created_at, Experiment.id)
    )
    with connection_of(bind) as connection:
        rows = connection.execute(query).all()
    return [
        QueuedExperiment(
            row.id, row.name, position, row.battery_name, row.profile_name or "", row.created_at
        )
        for position, row in enumerate(rows, start=1)
    ]


def queue_summaries(bind: Bind) -> dict[int, QueueSummary]:
    """Station id -> its queue, for every station with at least one QUEUED experiment."""
    query = (
        select(Experiment.station_id, Experiment.id, Experiment.name)
        .where(Experiment.status == ExperimentStatus.QUEUED, Experiment.station_id.is_not(None))
        .order_by(Experiment.station_id, Experiment.created_at, Experiment.id)
    )
    with connection_of(bind) as connection:
        rows = connection.execute(query).all()
    summaries: dict[int, QueueSummary] = {}
    for row in rows:
        station_id = int(row.station_id)
        first = summaries.get(station_id)
        if first is None:
            summaries[station_id] = QueueSummary(1, row.id, row.name)
        else:
            summaries[station_id] = QueueSummary(first.count + 1, first.next_id, first.next_name)
    return summaries
