"""Writes for the ingest path: samples, statuses, alarms, heartbeats, announcements.

Each function takes an open `Connection` inside the caller's transaction, so a whole
batch of messages commits (or rolls back) together. Inserts of samples and alarms
ignore rows that exist already: a redelivered message never makes a second row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, NamedTuple

from sqlalchemy import Connection, case, delete, insert, select, update
from sqlalchemy.orm import Session, aliased

from datastore.bulk import insert_rows, inserted_id
from datastore.models import (
    Channel,
    ComputationalUnit,
    Experiment,
    RejectedMessage,
    Station,
    utcnow,
)
from datastore.stations import ANNOUNCED, StationChange, move_or_cancel_queued
from datastore.summaries import SummaryWriter
from domain.stations import StationSpec
from domain.status import ExperimentStatus
from domain.window import Window

MAX_REJECTED_PAYLOAD = 64_000
# A reason quotes the topic, which may be up to 65,535 bytes: kept well inside a TEXT column.
MAX_REJECTED_REASON = 2_000


class SampleRow(NamedTuple):
    """One sample of an experiment as the measurements table stores it.

    A named tuple, light to build and to unpack (but see `insert_samples` on holding
    thousands). `cycle` is the experiment's cycle of the step `instruction`; the
    experiment is given apart.
    """

    seq: int
    ts: float
    voltage: float
    current: float
    power: float
    instruction: int | None = None
    cycle: int | None = None
    mode: str | None = None


class ExtraValueRow(NamedTuple):
    """One value of an extra channel (temperature...) at the sample `seq`."""

    channel_id: int
    seq: int
    value: float


@dataclass(frozen=True)
class ExperimentState:
    id: int
    station_id: int | None
    status: ExperimentStatus
    began_at: dt.datetime | None


def _insert_ignore(connection: Connection) -> str:
    return (
        "INSERT IGNORE" if connection.dialect.name in ("mysql", "mariadb") else "INSERT OR IGNORE"
    )


def _placeholders(connection: Connection, count: int) -> str:
    mark = "%s" if connection.dialect.paramstyle in ("format", "pyformat") else "?"
    return ", ".join([mark] * count)


def experiment_states(connection: Connection, ids: Iterable[int]) -> dict[int, ExperimentState]:
    """Station and status of the given experiments (missing ids are absent from the result)."""
    ids = sorted(set(ids))
    if not ids:
        return {}
    rows = connection.execute(
        select(Experiment.id, Experiment.station_id, Experiment.status, Experiment.began_at).where(
            Experiment.id.in_(ids)
        )
    )
    return {
        row.id: ExperimentState(row.id, row.station_id, row.status, row.began_at) for row in rows
    }


def step_cycles(connection: Connection, experiment_id: int) -> list[int]:
    """The cycle number of each expanded step of an experiment (index = step number - 1)."""
    steps = connection.scalar(select(Experiment.steps).where(Experiment.id == experiment_id))
    return [int(step.get("cycle", 1)) for step in steps or []]


def known_stations(connection: Connection, ids: Iterable[int]) -> set[int]:
    ids = sorted(set(ids))
    if not ids:
        return set()
    return set(connection.scalars(select(Station.id).where(Station.id.in_(ids))))


def channel_ids(
    connection: Connection, experiment_id: int, channels: dict[str, str]
) -> dict[str, int]:
    """Ids of the experiment's extra channels by name, creating the missing ones (name -> unit)."""
    existing = _channels_of(connection, experiment_id)
    missing = [name for name in channels if name not in existing]
    if missing:
        connection.exec_driver_sql(
            f"{_insert_ignore(connection)} INTO channels (experiment_id, name, unit) "
            f"VALUES ({_placeholders(connection, 3)})",
            [(experiment_id, name, channels[name]) for name in missing],
        )
        # Another node may have added some of them since this transaction began: the
        # insert then ignored them, and only a locking read sees them (a plain read
        # keeps to the transaction's snapshot on MariaDB).
        existing = _channels_of(connection, experiment_id, latest=True)
        # Under a case- and trailing-space-insensitive collation (MariaDB's default),
        # "Temp" is refused as a duplicate of "temp": it is that channel, so ask the
        # database which row it compares equal to.
        for name in channels:
            if name not in existing:
                existing[name] = connection.execute(
                    select(Channel.id)
                    .where(Channel.experiment_id == experiment_id, Channel.name == name)
                    .with_for_update(read=True)
                ).scalar_one()
    return existing


def _channels_of(
    connection: Connection, experiment_id: int, latest: bool = False
) -> dict[str, int]:
    query = select(Channel.id, Channel.name).where(Channel.experiment_id == experiment_id)
    if latest:
        query = query.with_for_update(read=True)
    return {name: channel_id for channel_id, name in connection.execute(query)}


# SampleRow's fields are named as the measurements columns; the experiment comes first.
_MEASUREMENT_COLUMNS = ("experiment_id", *SampleRow._fields)
_ts_of = itemgetter(_MEASUREMENT_COLUMNS.index("ts"))


def insert_samples(
    connection: Connection,
    experiment_id: int,
    samples: Iterable[SampleRow],
    extra_values: Iterable[ExtraValueRow] = (),
) -> int:
    """Insert samples and extra values of one experiment, with everything kept from them
    (the block summaries, the experiment's sample count and last sample time); returns
    how many samples were new.

    The node does the same in parts, for all the experiments of a batch at once:
    `write_samples`, a `SummaryWriter`, then `count_samples`.
    """
    rows = [(experiment_id, *sample) for sample in samples]
    extras = [(*value,) for value in extra_values]
    inserted = write_samples(connection, experiment_id, rows, extras)
    if rows:
        writer = SummaryWriter()
        _summarise(writer, experiment_id, rows, extras)
        writer.write(connection)
        count_samples(connection, {experiment_id: (inserted, max(map(_ts_of, rows)))})
    return inserted


def write_samples(
    connection: Connection,
    experiment_id: int,
    samples: Iterable[SampleRow | tuple[Any, ...]],
    extra_values: Iterable[ExtraValueRow | tuple[Any, ...]] = (),
) -> int:
    """Insert the rows of samples and extra values only; returns how many samples were new.

    `samples` may be rows with the experiment id first already. Both are read once, so they
    may come from generators, as the node's are: then only one typed row exists at a time.
    Thousands held at once cost the garbage collector dearly (it never untracks a tuple
    subclass, as it does a plain tuple of numbers): about a tenth more CPU per sample on
    the node's write path.
    """
    # Plain tuples from here on, for the same reason.
    rows = [
        row if len(row) == len(_MEASUREMENT_COLUMNS) else (experiment_id, *row) for row in samples
    ]
    if not rows:
        return 0
    inserted = insert_rows(
        connection, "measurements", _MEASUREMENT_COLUMNS, rows, ignore_existing=True
    )
    extras = [(*value,) for value in extra_values]
    if extras:
        insert_rows(connection, "extra_values", ExtraValueRow._fields, extras, ignore_existing=True)
    return inserted


def count_samples(connection: Connection, counts: Mapping[int, tuple[int, float]]) -> None:
    """Add to each experiment's sample count and move its last sample time on, in one
    statement: {experiment id: (samples added, latest sample time written)}."""
    if not counts:
        return
    ids = sorted(counts)
    added = case(
        {experiment_id: counts[experiment_id][0] for experiment_id in ids}, value=Experiment.id
    )
    latest = case(
        {experiment_id: counts[experiment_id][1] for experiment_id in ids}, value=Experiment.id
    )
    connection.execute(
        update(Experiment)
        .where(Experiment.id.in_(ids))
        .values(
            sample_count=Experiment.sample_count + added,
            last_sample_at=case(
                (Experiment.last_sample_at.is_(None), latest),
                (Experiment.last_sample_at < latest, latest),
                else_=Experiment.last_sample_at,
            ),
        )
    )


def _summarise(
    writer: SummaryWriter,
    experiment_id: int,
    rows: list[tuple[Any, ...]],
    extras: list[tuple[Any, ...]],
) -> None:
    # Rows are (experiment_id, seq, ts, voltage, current, power, ...).
    columns = list(zip(*rows, strict=False))
    writer.add_samples(experiment_id, *columns[1:6])
    by_channel: dict[int, tuple[list[int], list[float]]] = {}
    for channel_id, seq, value in extras:
        seqs, values = by_channel.setdefault(channel_id, ([], []))
        seqs.append(seq)
        values.append(value)
    for channel_id, (seqs, values) in by_channel.items():
        writer.add_channel(channel_id, seqs, values)


def set_status(
    connection: Connection,
    experiment_id: int,
    status: ExperimentStatus,
    at: dt.datetime,
    message: str = "",
    *,
    set_began: bool = False,
) -> None:
    values: dict[str, Any] = {"status": status}
    if message:
        values["status_message"] = message
    if set_began:
        values["began_at"] = at
    if status.is_closed:
        values["finished_at"] = at
    connection.execute(update(Experiment).where(Experiment.id == experiment_id).values(**values))


def insert_alarm(
    connection: Connection,
    experiment_id: int,
    ts: float,
    code: str,
    value: float | None,
    message: str,
) -> None:
    connection.exec_driver_sql(
        f"{_insert_ignore(connection)} INTO alarms (experiment_id, ts, code, value, message) "
        f"VALUES ({_placeholders(connection, 5)})",
        [(experiment_id, ts, code, value, message)],
    )


def record_heartbeat(
    connection: Connection,
    station_id: int,
    at: dt.datetime,
    state: str,
    experiment_id: int | None,
) -> None:
    record_heartbeats(connection, at, {station_id: (state, experiment_id)})


def record_heartbeats(
    connection: Connection, at: dt.datetime, reports: dict[int, tuple[str, int | None]]
) -> None:
    """Mark stations (station id -> (state, experiment id)) and their units as heard at `at`.

    Rows are locked in one order, stations then units, each by id, so two nodes writing
    heartbeats of the same unit at once wait for each other instead of deadlocking.
    """
    for station_id in sorted(reports):
        state, experiment_id = reports[station_id]
        connection.execute(
            update(Station)
            .where(Station.id == station_id)
            .values(last_heartbeat=at, reported_state=state, reported_experiment_id=experiment_id)
        )
    if not reports:
        return
    unit_ids = [
        unit_id
        for unit_id in connection.scalars(
            select(Station.computational_unit_id)
            .where(Station.id.in_(sorted(reports)), Station.computational_unit_id.is_not(None))
            .distinct()
        )
        if unit_id is not None
    ]
    for unit_id in sorted(unit_ids):
        connection.execute(
            update(ComputationalUnit)
            .where(ComputationalUnit.id == unit_id)
            .values(last_heartbeat=at)
        )


@dataclass(frozen=True)
class Registration:
    """What registering an announcement did: the id of each announced station by name, and,
    by name, the stations replaced because their window changed, with what became of their
    queued experiments."""

    ids: dict[str, int]
    replaced: dict[str, StationChange]


def register_unit(
    connection: Connection, unit_name: str, host: str, stations: Sequence[StationSpec]
) -> Registration:
    """Create or update a computational unit and its announced stations.

    A station whose window changed is deprecated and replaced by a new one, so the
    experiments it ran keep the window they ran with; its queued experiments move to the
    new record or are cancelled by the same rule as an edit on the stations page
    (`datastore.stations.move_or_cancel_queued`), in this transaction. Unlike an edit this
    is not refused while the station is busy: the unit knows what its hardware can apply.
    An experiment running, paused or being started stays on the old record, which keeps
    taking its messages (the cycler finishes a run on the id it started on). A station of
    the unit that the announcement leaves out is left as it is.
    """
    unit_id = connection.scalar(
        select(ComputationalUnit.id).where(ComputationalUnit.name == unit_name)
    )
    now = utcnow()
    if unit_id is None:
        unit_id = inserted_id(
            connection.execute(
                insert(ComputationalUnit).values(name=unit_name, host=host, last_heartbeat=now)
            )
        )
    else:
        connection.execute(
            update(ComputationalUnit)
            .where(ComputationalUnit.id == unit_id)
            .values(host=host, last_heartbeat=now)
        )
    registration = Registration({}, {})
    for announced in stations:
        window = announced.window
        current = connection.execute(
            select(
                Station.id,
                Station.voltage_min,
                Station.voltage_max,
                Station.current_min,
                Station.current_max,
            ).where(
                Station.computational_unit_id == unit_id,
                Station.name == announced.name,
                Station.deprecated.is_(False),
            )
        ).first()
        if current is not None:
            stored = Window(
                current.voltage_min, current.voltage_max, current.current_min, current.current_max
            )
            if stored == window:
                connection.execute(
                    update(Station)
                    .where(Station.id == current.id)
                    .values(location=announced.location)
                )
                registration.ids[announced.name] = current.id
                continue
            connection.execute(
                update(Station).where(Station.id == current.id).values(deprecated=True)
            )
        new_id = inserted_id(
            connection.execute(
                insert(Station).values(
                    name=announced.name,
                    location=announced.location,
                    computational_unit_id=unit_id,
                    devices=[],
                    deprecated=False,
                    created_at=now,
                    voltage_min=window.voltage_min,
                    voltage_max=window.voltage_max,
                    current_min=window.current_min,
                    current_max=window.current_max,
                )
            )
        )
        registration.ids[announced.name] = new_id
        if current is not None:
            with Session(bind=connection) as session:
                registration.replaced[announced.name] = move_or_cancel_queued(
                    session, current.id, new_id, window, ANNOUNCED
                )
    return registration


@dataclass(frozen=True)
class Replaced:
    """A deprecated station and its unit's current station of the same name: the record
    an edit on the stations page put in its place (see `datastore.stations.edit_station`)."""

    old_id: int
    new_id: int
    unit: str


def replaced_stations(connection: Connection, ids: Iterable[int]) -> list[Replaced]:
    """Of the given stations, the deprecated ones whose unit has a current station of the
    same name, with that station: a cycler still using such an id has not learnt the new
    one yet. A deprecated station with no successor (deprecated outright, renamed, moved to
    another unit) is not listed: there is nothing to point the cycler to."""
    ids = sorted(set(ids))
    if not ids:
        return []
    current = aliased(Station)
    rows = connection.execute(
        select(Station.id, current.id.label("new_id"), ComputationalUnit.name)
        .join(ComputationalUnit, Station.computational_unit_id == ComputationalUnit.id)
        .join(
            current,
            (current.computational_unit_id == Station.computational_unit_id)
            & (current.name == Station.name)
            & current.deprecated.is_(False),
        )
        .where(Station.id.in_(ids), Station.deprecated.is_(True))
        .order_by(Station.id)
    ).all()
    return [Replaced(row.id, row.new_id, row.name) for row in rows]


def current_station_ids(connection: Connection, unit_name: str) -> dict[str, int]:
    """The unit's current (not deprecated) stations: station id by name, as `register_unit`
    returns them."""
    rows = connection.execute(
        select(Station.name, Station.id)
        .join(ComputationalUnit, Station.computational_unit_id == ComputationalUnit.id)
        .where(ComputationalUnit.name == unit_name, Station.deprecated.is_(False))
        .order_by(Station.name, Station.id)
    ).all()
    return {row.name: row.id for row in rows}


def _shorten(text: str, limit: int) -> str:
    """At most `limit` characters, keeping both ends (a reason ends with what is wrong)."""
    if len(text) <= limit:
        return text
    marker = f" [... {len(text) - limit} characters left out ...] "
    head = (limit - len(marker)) // 2
    return text[:head] + marker + text[len(text) - (limit - len(marker) - head) :]


def record_rejection(connection: Connection, topic: str, payload: bytes, reason: str) -> None:
    """Keep a refused message for inspection (the dead-letter table)."""
    text = payload[:MAX_REJECTED_PAYLOAD].decode("utf-8", errors="replace")
    if len(payload) > MAX_REJECTED_PAYLOAD:
        text += f"... [{len(payload)} bytes in all]"
    connection.execute(
        insert(RejectedMessage).values(
            received_at=utcnow(),
            topic=topic[:255],
            reason=_shorten(reason, MAX_REJECTED_REASON),
            payload=text,
        )
    )


def prune_rejections(
    connection: Connection, *, older_than: dt.datetime | None, keep_rows: int | None
) -> int:
    """Delete refused messages received before `older_than` and all but the `keep_rows`
    newest (None: no such limit); returns how many went. Without it a cycler that keeps
    sending something the node refuses fills the database."""
    deleted = 0
    if older_than is not None:
        deleted += connection.execute(
            delete(RejectedMessage).where(RejectedMessage.received_at < older_than)
        ).rowcount
    if keep_rows is not None:
        # The oldest id kept, read first: MariaDB cannot delete from a table that the
        # same statement's subquery reads.
        threshold = connection.scalar(
            select(RejectedMessage.id)
            .order_by(RejectedMessage.id.desc())
            .offset(keep_rows)
            .limit(1)
        )
        if threshold is not None:
            deleted += connection.execute(
                delete(RejectedMessage).where(RejectedMessage.id <= threshold)
            ).rowcount
    return deleted


__all__ = [
    "ExperimentState",
    "ExtraValueRow",
    "SampleRow",
    "channel_ids",
    "count_samples",
    "experiment_states",
    "insert_alarm",
    "insert_samples",
    "known_stations",
    "step_cycles",
    "record_heartbeat",
    "record_heartbeats",
    "record_rejection",
    "prune_rejections",
    "Registration",
    "register_unit",
    "set_status",
    "write_samples",
]
