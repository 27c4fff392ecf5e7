"""Queries for dispatch: which experiment to start where, and operator commands to send.

Every "claim" is a conditional UPDATE checked by its row count, so when several nodes
run at once exactly one of them sends a given start or command.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Exists, and_, exists, insert, select, update
from sqlalchemy.orm import Session, aliased

from datastore.bulk import inserted_id
from datastore.catalog import battery_window, station_window
from datastore.models import Battery, Experiment, Profile, Station, StationCommand, utcnow
from domain.profiles.expansion import ExpandedStep
from domain.status import ACTIVE_STATUSES, ExperimentStatus, allowed_commands
from domain.window import Window


@dataclass(frozen=True)
class StartOrder:
    """An experiment to start: what the start command carries, and where it goes."""

    experiment_id: int
    station_id: int
    profile_name: str
    steps: list[ExpandedStep]
    limits: Window  # battery window ∩ station window: what the cycler must keep
    attempts: int
    battery: dict[str, Any]
    # The station was deprecated (edited or replaced) after the start was sent: the start
    # is never sent to it again (see `expired_starts`).
    station_deprecated: bool = False


@dataclass(frozen=True)
class PendingCommand:
    id: int
    experiment_id: int
    station_id: int
    command: str


def _orders(connection: Connection, where: Any) -> list[StartOrder]:
    query = (
        select(Experiment, Battery, Station, Profile.name)
        .join(Battery, Experiment.battery_id == Battery.id)
        .join(Station, Experiment.station_id == Station.id)
        .outerjoin(Profile, Experiment.profile_id == Profile.id)
        .where(where)
        .order_by(Experiment.created_at, Experiment.id)
    )
    with Session(bind=connection) as session:
        rows = session.execute(query).all()
        return [
            StartOrder(
                experiment.id,
                station.id,
                profile_name or experiment.name,
                [ExpandedStep.from_json(step) for step in experiment.steps or []],
                battery_window(battery).intersect(station_window(station)),
                experiment.start_attempts,
                {
                    "technology": battery.technology,
                    "chemistry": (battery.details or {}).get("chemistry"),
                    "nominal_capacity_ah": battery.nominal_capacity_ah,
                    "cells_in_series": battery.cells_in_series,
                },
                station.deprecated,
            )
            for experiment, battery, station, profile_name in rows
        ]


def _occupies(other: Any, shared: ColumnElement[bool]) -> Exists:
    """Some experiment `other`, sharing with the candidate what `shared` says (its station
    or its battery), is running, paused, or being started: QUEUED with its start sent and
    not confirmed yet."""
    return exists().where(
        shared,
        other.status.in_(list(ACTIVE_STATUSES))
        | ((other.status == ExperimentStatus.QUEUED) & other.start_sent_at.is_not(None)),
    )


def startable_experiments(connection: Connection, online_since: dt.datetime) -> list[StartOrder]:
    """What to start now: on every online, idle station with nothing running, its oldest
    queued experiment whose battery is free.

    A battery is free when none of its experiments is running, paused or being started
    (start sent, not confirmed yet), and it is not chosen for another station in this same
    round: oldest experiment first, so of two idle stations waiting for one battery the
    older experiment gets it and the other station starts its next experiment, if any.
    The choice depends only on the rows, so nodes looking at the same data choose alike
    and `claim_start` lets one of them send each start.
    """
    same_station = aliased(Experiment)
    same_battery = aliased(Experiment)
    rows = connection.execute(
        select(Experiment.id, Experiment.station_id, Experiment.battery_id)
        .join(Station, Experiment.station_id == Station.id)
        .where(
            Experiment.status == ExperimentStatus.QUEUED,
            Experiment.start_sent_at.is_(None),
            Station.deprecated.is_(False),
            Station.last_heartbeat >= online_since,
            Station.reported_state == "idle",
            ~_occupies(same_station, same_station.station_id == Experiment.station_id),
            ~_occupies(same_battery, same_battery.battery_id == Experiment.battery_id),
        )
        .order_by(Experiment.created_at, Experiment.id)
    ).all()
    chosen: list[int] = []
    stations: set[int] = set()
    batteries: set[int] = set()
    for row in rows:
        if row.station_id in stations or row.battery_id in batteries:
            continue
        chosen.append(row.id)
        stations.add(row.station_id)
        batteries.add(row.battery_id)
    if not chosen:
        return []
    return _orders(connection, Experiment.id.in_(chosen))


def claim_start(
    connection: Connection, experiment_id: int, now: dt.datetime, attempts_seen: int
) -> bool:
    """Record that a start is being sent; False when another node got there first."""
    result = connection.execute(
        update(Experiment)
        .where(
            Experiment.id == experiment_id,
            Experiment.status == ExperimentStatus.QUEUED,
            Experiment.start_attempts == attempts_seen,
        )
        .values(start_sent_at=now, start_attempts=attempts_seen + 1)
    )
    return result.rowcount == 1


def expired_starts(connection: Connection, sent_before: dt.datetime) -> list[StartOrder]:
    """Queued experiments whose start was sent before `sent_before` and not confirmed.

    An order whose station has been deprecated since says so (`station_deprecated`): a
    deprecated station never gets a start, not even a repeated one. (The stations page
    refuses to edit a station while a start is unconfirmed, but an announce with another
    window replaces a station whatever it is doing.)
    """
    return _orders(
        connection,
        and_(
            Experiment.status == ExperimentStatus.QUEUED,
            Experiment.start_sent_at.is_not(None),
            Experiment.start_sent_at < sent_before,
        ),
    )


def fail_start(connection: Connection, experiment_id: int, now: dt.datetime, message: str) -> None:
    connection.execute(
        update(Experiment)
        .where(Experiment.id == experiment_id, Experiment.status == ExperimentStatus.QUEUED)
        .values(status=ExperimentStatus.ERROR, status_message=message, finished_at=now)
    )


def claim_pending_commands(connection: Connection, now: dt.datetime) -> list[PendingCommand]:
    """Operator commands not sent yet, each claimed so it goes out once."""
    rows = connection.execute(
        select(
            StationCommand.id,
            StationCommand.experiment_id,
            Experiment.station_id,
            StationCommand.command,
        )
        .join(Experiment, StationCommand.experiment_id == Experiment.id)
        .where(StationCommand.sent_at.is_(None))
        .order_by(StationCommand.id)
    ).all()
    claimed = []
    for row in rows:
        result = connection.execute(
            update(StationCommand)
            .where(StationCommand.id == row.id, StationCommand.sent_at.is_(None))
            .values(sent_at=now)
        )
        if result.rowcount == 1 and row.station_id is not None:
            claimed.append(PendingCommand(row.id, row.experiment_id, row.station_id, row.command))
    return claimed


class CommandRefused(ValueError):
    """An operator command for an experiment that does not exist or cannot take it."""


def request_command(connection: Connection, experiment_id: int, command: str) -> int:
    """Queue an operator's stop, pause or resume for the node to send.

    Checked here, whoever asks (a page, the command line): the experiment exists and its
    status allows the command (`domain.status.allowed_commands`); CommandRefused says
    why not, and nothing is written."""
    if command not in ("stop", "pause", "resume"):
        raise ValueError(f"unknown command {command!r}: expected stop, pause or resume")
    status = connection.execute(
        select(Experiment.status).where(Experiment.id == experiment_id)
    ).scalar_one_or_none()
    if status is None:
        raise CommandRefused(f"there is no experiment {experiment_id}")
    if command not in allowed_commands(status):
        raise CommandRefused(
            f"experiment {experiment_id} is {ExperimentStatus(status).value}: it cannot {command}"
        )
    return inserted_id(
        connection.execute(
            insert(StationCommand).values(
                experiment_id=experiment_id, command=command, requested_at=utcnow()
            )
        )
    )
