"""Reading what the cyclers report, for the live pages (the overview and the monitor):
station snapshots, samples, channels, alarms, and the steps an experiment runs.

The node writes these (`datastore.ingest`); this module only reads. Every function
takes a Session, Connection or Engine and returns plain data: dataclasses, or numpy
arrays for samples. What each costs, since the monitor runs them every few seconds for
every open page:

- `station_overview`: one query for all stations, their active experiment, its
  battery, alarm count and last sample (found through `last_sample_at`).
- `monitor_header`: the same for one station and the experiment it shows, in one query.
- `samples_after`: new samples of one experiment, a range scan on the primary key
  (experiment_id, seq), with the chosen extra channels joined in the same query.
- `window_series`: what a graph needs for a time window, in one call: a lookup in the
  (experiment_id, ts) index, then the samples, or for windows too long to fetch sample
  by sample, points drawn from the block summaries (`datastore.series.read_series`).
- `samples_in_window`: every sample of a time window, through the (experiment_id, ts)
  index.
- `step_plan`: the experiment's expanded steps, cached in memory (they never change
  once queued, and a long profile is megabytes of JSON).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import aliased

from datastore.engine import Bind, connection_of
from datastore.experiments import in_id_range
from datastore.models import (
    Alarm,
    Battery,
    Channel,
    ComputationalUnit,
    Experiment,
    ExtraValue,
    Measurement,
    Station,
)
from datastore.series import Series, read_series
from domain.profiles.expansion import ExpandedStep
from domain.status import ACTIVE_STATUSES, ExperimentStatus
from domain.step_plan import StepPlan

# Channels joined into one samples query; databases cap the tables of a join (MariaDB 61).
MAX_JOINED_CHANNELS = 40
STEP_PLAN_CACHE_SIZE = 64
# The monitor lists this many of an experiment's latest alarms.
ALARM_LIMIT = 50

_measurements = Measurement.__table__
_extra_values = ExtraValue.__table__


# Read back for display; the same fields as ingest.SampleRow, which is the write path's row.
@dataclass(frozen=True)
class LastSample:
    seq: int
    ts: float
    voltage: float
    current: float
    power: float
    instruction: int | None
    cycle: int | None
    mode: str | None


@dataclass(frozen=True)
class ExperimentSnapshot:
    """An experiment as the monitor shows it, with its last sample and alarm count."""

    id: int
    name: str
    status: ExperimentStatus
    status_message: str
    battery_name: str
    station_id: int | None
    created_at: dt.datetime
    began_at: dt.datetime | None
    finished_at: dt.datetime | None
    sample_count: int
    last_sample_at: float | None
    alarm_count: int
    last_sample: LastSample | None


@dataclass(frozen=True)
class StationSnapshot:
    id: int
    name: str
    location: str
    unit_name: str
    last_heartbeat: dt.datetime | None
    reported_state: str | None
    deprecated: bool
    experiment: ExperimentSnapshot | None  # running or paused, or the one asked for


@dataclass(frozen=True)
class ChannelInfo:
    id: int
    name: str
    unit: str


@dataclass(frozen=True)
class AlarmRecord:
    ts: float
    code: str
    value: float | None
    message: str


# Columns (numpy) for charts, read many at once; ingest.SampleRow is one row for writing.
@dataclass
class SampleBlock:
    """Consecutive samples as arrays; `extras[channel_id]` is NaN where a channel has no value."""

    seq: np.ndarray
    ts: np.ndarray
    voltage: np.ndarray
    current: np.ndarray
    power: np.ndarray
    extras: dict[int, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.seq)

    @classmethod
    def empty(cls, channel_ids: Sequence[int] = ()) -> SampleBlock:
        nothing = np.array([], dtype=float)
        return cls(
            np.array([], dtype=np.int64),
            nothing,
            nothing,
            nothing,
            nothing,
            {channel_id: nothing for channel_id in channel_ids},
        )


# ---------------------------------------------------------------- snapshots


def _last_sample_join(experiment: Any) -> tuple[Any, Any]:
    """The measurements alias holding each experiment's last sample, and its join condition.

    The last sample is the one at `last_sample_at`, which ingest keeps, found through the
    (experiment_id, ts) index. A newest seq correlated to the experiment (MAX(seq), or
    ORDER BY seq DESC LIMIT 1) would make MariaDB read every index entry of the experiment,
    or more. Should two samples share that time, the caller keeps the later one.
    """
    last = aliased(Measurement, name="last_sample")
    return last, and_(last.experiment_id == experiment.id, last.ts == experiment.last_sample_at)


def _alarm_count(experiment: Any) -> Any:
    return (
        select(func.count(Alarm.id))
        .where(Alarm.experiment_id == experiment.id)
        .correlate(experiment)
        .scalar_subquery()
    )


def _snapshot_columns(experiment: Any, last: Any) -> list[Any]:
    return [
        experiment.id.label("e_id"),
        experiment.name.label("e_name"),
        experiment.status.label("e_status"),
        experiment.status_message.label("e_message"),
        experiment.station_id.label("e_station"),
        experiment.created_at.label("e_created"),
        experiment.began_at.label("e_began"),
        experiment.finished_at.label("e_finished"),
        experiment.sample_count.label("e_samples"),
        experiment.last_sample_at.label("e_last_at"),
        Battery.name.label("battery_name"),
        _alarm_count(experiment).label("alarm_count"),
        last.seq.label("m_seq"),
        last.ts.label("m_ts"),
        last.voltage.label("m_voltage"),
        last.current.label("m_current"),
        last.power.label("m_power"),
        last.instruction.label("m_instruction"),
        last.cycle.label("m_cycle"),
        last.mode.label("m_mode"),
    ]


def _station_columns() -> list[Any]:
    return [
        Station.id.label("s_id"),
        Station.name.label("s_name"),
        Station.location.label("s_location"),
        ComputationalUnit.name.label("unit_name"),
        Station.last_heartbeat.label("s_heartbeat"),
        Station.reported_state.label("s_state"),
        Station.deprecated.label("s_deprecated"),
    ]


def _experiment_snapshot(row: Any) -> ExperimentSnapshot | None:
    if row.e_id is None:
        return None
    last = None
    if row.m_seq is not None:
        last = LastSample(
            row.m_seq,
            row.m_ts,
            row.m_voltage,
            row.m_current,
            row.m_power,
            row.m_instruction,
            row.m_cycle,
            row.m_mode,
        )
    return ExperimentSnapshot(
        id=row.e_id,
        name=row.e_name,
        status=ExperimentStatus(row.e_status),
        status_message=row.e_message or "",
        battery_name=row.battery_name or "",
        station_id=row.e_station,
        created_at=row.e_created,
        began_at=row.e_began,
        finished_at=row.e_finished,
        sample_count=row.e_samples or 0,
        last_sample_at=row.e_last_at,
        alarm_count=row.alarm_count or 0,
        last_sample=last,
    )


def _station_snapshot(row: Any) -> StationSnapshot:
    return StationSnapshot(
        id=row.s_id,
        name=row.s_name,
        location=row.s_location or "",
        unit_name=row.unit_name or "",
        last_heartbeat=row.s_heartbeat,
        reported_state=row.s_state,
        deprecated=bool(row.s_deprecated),
        experiment=_experiment_snapshot(row),
    )


def station_overview(bind: Bind) -> list[StationSnapshot]:
    """Every current (not deprecated) station with its running or paused experiment, in one
    query; stations in id order."""
    experiment = aliased(Experiment, name="active")
    last, last_condition = _last_sample_join(experiment)
    query = (
        select(*_station_columns(), *_snapshot_columns(experiment, last))
        .select_from(Station)
        .outerjoin(ComputationalUnit, Station.computational_unit_id == ComputationalUnit.id)
        .outerjoin(
            experiment,
            and_(
                experiment.station_id == Station.id,
                experiment.status.in_(list(ACTIVE_STATUSES)),
            ),
        )
        .outerjoin(Battery, Battery.id == experiment.battery_id)
        .outerjoin(last, last_condition)
        .where(Station.deprecated.is_(False))
        .order_by(Station.id, experiment.id, last.seq)
    )
    with connection_of(bind) as connection:
        rows = connection.execute(query).all()
    stations: dict[int, StationSnapshot] = {}
    for row in rows:
        # Rows come in (station, experiment, seq) order: the last one of a station has its
        # newest experiment (two active ones should not happen) and, should two samples
        # share the last time, the later sample.
        stations[row.s_id] = _station_snapshot(row)
    return list(stations.values())


def monitor_header(
    bind: Bind, station_id: int, experiment_id: int | None = None
) -> StationSnapshot | None:
    """The station and the experiment to show, with its last sample and alarm count, in one
    query; None if there is no such station.

    The experiment shown is the station's running or paused one if it has one (so an
    experiment that ends gives way to the next), else `experiment_id` (the one already
    on screen), else the one that began last.
    """
    if not in_id_range(station_id) or not (experiment_id is None or in_id_range(experiment_id)):
        return None
    shown = aliased(Experiment, name="shown")
    last, last_condition = _last_sample_join(shown)
    if experiment_id is None:
        latest = (
            select(Experiment.id)
            .where(Experiment.station_id == Station.id, Experiment.began_at.is_not(None))
            .order_by(Experiment.began_at.desc(), Experiment.id.desc())
            .limit(1)
            .correlate(Station)
            .scalar_subquery()
        )
        wanted = shown.id == latest
    else:
        wanted = shown.id == experiment_id
    # A row per candidate: the active experiment(s) and the wanted one (each once, or once
    # per sample sharing its last time).
    query = (
        select(*_station_columns(), *_snapshot_columns(shown, last))
        .select_from(Station)
        .outerjoin(ComputationalUnit, Station.computational_unit_id == ComputationalUnit.id)
        .outerjoin(
            shown,
            and_(
                shown.station_id == Station.id,
                or_(shown.status.in_(list(ACTIVE_STATUSES)), wanted),
            ),
        )
        .outerjoin(Battery, Battery.id == shown.battery_id)
        .outerjoin(last, last_condition)
        .where(Station.id == station_id)
    )
    with connection_of(bind) as connection:
        rows = connection.execute(query).all()
    if not rows:
        return None

    def preference(row: Any) -> tuple[bool, int, int]:
        active = row.e_status is not None and ExperimentStatus(row.e_status).is_active
        return active, row.e_id or 0, row.m_seq if row.m_seq is not None else -1

    return _station_snapshot(max(rows, key=preference))


# ---------------------------------------------------------------- samples


def experiment_channels(bind: Bind, experiment_id: int) -> list[ChannelInfo]:
    with connection_of(bind) as connection:
        rows = connection.execute(
            select(Channel.id, Channel.name, Channel.unit)
            .where(Channel.experiment_id == experiment_id)
            .order_by(Channel.id)
        ).all()
    return [ChannelInfo(row.id, row.name, row.unit or "") for row in rows]


def _samples_query(channel_ids: Sequence[int]) -> tuple[Any, list[Any]]:
    """Measurements joined to each channel's value at the same seq (NULL where none)."""
    joined: Any = _measurements
    values = []
    for index, channel_id in enumerate(channel_ids[:MAX_JOINED_CHANNELS]):
        extra = _extra_values.alias(f"extra_{index}")
        joined = joined.outerjoin(
            extra, and_(extra.c.channel_id == channel_id, extra.c.seq == _measurements.c.seq)
        )
        values.append(extra.c.value)
    columns = [
        _measurements.c.seq,
        _measurements.c.ts,
        _measurements.c.voltage,
        _measurements.c.current,
        _measurements.c.power,
        *values,
    ]
    return joined, columns


def _block(rows: Sequence[Any], channel_ids: Sequence[int]) -> SampleBlock:
    channel_ids = list(channel_ids[:MAX_JOINED_CHANNELS])
    if not rows:
        return SampleBlock.empty(channel_ids)
    # None (a channel without a value at that sample) becomes NaN.
    table = np.array(rows, dtype=float).reshape(len(rows), 5 + len(channel_ids))
    return SampleBlock(
        seq=table[:, 0].astype(np.int64),
        ts=table[:, 1],
        voltage=table[:, 2],
        current=table[:, 3],
        power=table[:, 4],
        extras={channel_id: table[:, 5 + i] for i, channel_id in enumerate(channel_ids)},
    )


def samples_after(
    bind: Bind,
    experiment_id: int,
    after_seq: int,
    channel_ids: Sequence[int] = (),
    *,
    until_seq: int | None = None,
    limit: int | None = None,
) -> SampleBlock:
    """Samples with seq > `after_seq` (and <= `until_seq`), in seq order: a primary-key
    range scan, extra channels joined in the same query."""
    joined, columns = _samples_query(channel_ids)
    conditions = [_measurements.c.experiment_id == experiment_id, _measurements.c.seq > after_seq]
    if until_seq is not None:
        conditions.append(_measurements.c.seq <= until_seq)
    query = select(*columns).select_from(joined).where(*conditions).order_by(_measurements.c.seq)
    if limit is not None:
        query = query.limit(limit)
    with connection_of(bind) as connection:
        rows = connection.execute(query).all()
    return _block(rows, channel_ids)


def samples_in_window(
    bind: Bind,
    experiment_id: int,
    start_ts: float,
    end_ts: float,
    channel_ids: Sequence[int] = (),
) -> SampleBlock:
    """Samples with `start_ts` <= ts <= `end_ts`, in seq order, through the (experiment_id,
    ts) index."""
    joined, columns = _samples_query(channel_ids)
    query = (
        select(*columns)
        .select_from(joined)
        .where(
            _measurements.c.experiment_id == experiment_id,
            _measurements.c.ts >= start_ts,
            _measurements.c.ts <= end_ts,
        )
        .order_by(_measurements.c.seq)
    )
    with connection_of(bind) as connection:
        rows = connection.execute(query).all()
    return _block(rows, channel_ids)


@dataclass
class WindowSeries:
    """What a graph needs to draw a span of an experiment: every sample of the span when
    there are few enough, else points drawn from the block summaries (extremes kept);
    and when the experiment began."""

    first_ts: float | None  # the experiment's first sample (None: it has none)
    samples: SampleBlock | None = None
    points: Series | None = None


def window_series(
    bind: Bind,
    experiment_id: int,
    start_ts: float | None,
    until_seq: int,
    channel_ids: Sequence[int] = (),
    *,
    raw_limit: int,
    max_points: int,
) -> WindowSeries:
    """The samples from `start_ts` (None: the first) up to the sample `until_seq`: all of
    them if the span holds at most `raw_limit`, else at most `max_points` points per
    series from the block summaries (datastore/series.py).

    One lookup finds where the span starts (through the (experiment_id, ts) index) and
    the experiment's first sample time; then one range scan on the primary key, or the
    read of the summaries.
    """
    in_experiment = _measurements.c.experiment_id == experiment_id
    first_ts = (
        select(_measurements.c.ts)
        .where(in_experiment)
        .order_by(_measurements.c.seq)
        .limit(1)
        .scalar_subquery()
    )
    span = [in_experiment]
    if start_ts is not None:
        span.append(_measurements.c.ts >= start_ts)
    first_seq = (
        select(_measurements.c.seq)
        .where(*span)
        .order_by(_measurements.c.ts, _measurements.c.seq)
        .limit(1)
        .scalar_subquery()
    )
    with connection_of(bind) as connection:
        row = connection.execute(select(first_ts.label("ts"), first_seq.label("seq"))).one()
    result = WindowSeries(first_ts=row.ts)
    if row.seq is None or row.seq > until_seq:
        result.samples = SampleBlock.empty(channel_ids[:MAX_JOINED_CHANNELS])
    elif until_seq - row.seq + 1 <= raw_limit:
        result.samples = samples_after(
            bind, experiment_id, row.seq - 1, channel_ids, until_seq=until_seq
        )
    else:
        result.points = read_series(
            bind,
            experiment_id,
            start_ts,
            None,
            channel_ids,
            max_points=max_points,
            until_seq=until_seq,
        )
    return result


# ---------------------------------------------------------------- alarms and steps


def experiment_alarms(
    bind: Bind, experiment_id: int, limit: int = ALARM_LIMIT
) -> list[AlarmRecord]:
    """The experiment's latest alarms, newest first."""
    with connection_of(bind) as connection:
        rows = connection.execute(
            select(Alarm.ts, Alarm.code, Alarm.value, Alarm.message)
            .where(Alarm.experiment_id == experiment_id)
            .order_by(Alarm.ts.desc(), Alarm.id.desc())
            .limit(limit)
        ).all()
    return [AlarmRecord(row.ts, row.code, row.value, row.message or "") for row in rows]


_plans: OrderedDict[tuple[str, int, str], StepPlan] = OrderedDict()
_plans_lock = threading.Lock()


def step_plan(bind: Bind, experiment_id: int, created_at: dt.datetime | None) -> StepPlan:
    """The experiment's expanded steps, read once per process and experiment.

    The key includes the database and the experiment's creation time, so an id reused
    by another database (or a recreated one) never gets a stale plan.
    """
    with connection_of(bind) as connection:
        key = (
            connection.engine.url.render_as_string(hide_password=True),
            experiment_id,
            str(created_at),
        )
        with _plans_lock:
            plan = _plans.get(key)
            if plan is not None:
                _plans.move_to_end(key)
                return plan
        steps = connection.scalar(select(Experiment.steps).where(Experiment.id == experiment_id))
    plan = StepPlan.from_steps([ExpandedStep.from_json(step) for step in steps or []])
    with _plans_lock:
        _plans[key] = plan
        while len(_plans) > STEP_PLAN_CACHE_SIZE:
            _plans.popitem(last=False)
    return plan
