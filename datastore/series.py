"""Reading an experiment's voltage, current, power and extra channels for a graph.

`read_series(bind, experiment_id, start_ts, end_ts)` returns at most `max_points` points
per series for the samples in [start_ts, end_ts], whatever their number:

- up to `max_points` samples: the samples themselves;
- more: consecutive samples are cut into buckets, and each bucket is drawn as four
  points, its first value, its two extremes and its last value, so every spike stays
  visible and steps keep their edges. Buckets come from the stored block summaries
  (datastore/summaries.py) when a level has enough blocks for the range, and from one
  GROUP BY over the samples otherwise (a range small enough for that to be quick).

Blocks that straddle the ends of the range are summarised from the samples inside it,
so a view never shows an extreme from outside its range.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import Connection, and_, func, select

from datastore.engine import Bind, connection_of
from datastore.models import ChannelSummary, ExtraValue, Measurement, SampleSummary
from datastore.summaries import QUANTITIES, STATISTICS, SUMMARY_BLOCK_SIZES

DEFAULT_MAX_POINTS = 5_000
POINTS_PER_BUCKET = 4
# A summary level is used when the range spans at least this many of its blocks; with
# four points each that is at least 2,000 points, more than a screen has pixels across.
MIN_BUCKETS = 500

_m = Measurement.__table__.c
_x = ExtraValue.__table__.c
_s = SampleSummary.__table__.c
_c = ChannelSummary.__table__.c


@dataclass
class Series:
    """Points to draw: `ts` (Unix seconds, ascending) shared by every series in `values`
    ("voltage", "current", "power", and extra channel ids), NaN where a channel has no
    value. `bucket` is how many samples one group of points stands for (1: raw samples)."""

    ts: np.ndarray
    values: dict[str | int, np.ndarray]
    bucket: int
    samples: int
    first_seq: int | None = None
    last_seq: int | None = None
    source: str = "samples"  # "samples", "group by" or "level N"
    notes: list[str] = field(default_factory=list)

    @property
    def raw(self) -> bool:
        return self.bucket == 1

    @classmethod
    def empty(cls, keys: Sequence[str | int]) -> Series:
        nothing = np.array([], dtype=float)
        return cls(nothing, {key: nothing for key in keys}, 1, 0)


def seq_range(
    connection: Connection, experiment_id: int, start_ts: float | None, end_ts: float | None
) -> tuple[int, int] | None:
    """(first seq, last seq) of the samples with start_ts <= ts <= end_ts (None: open end).

    Two lookups at the ends of the (experiment_id, ts) index; both sort keys go the same
    way, which lets the database read the index instead of sorting the samples."""
    conditions = [_m.experiment_id == experiment_id]
    if start_ts is not None:
        conditions.append(_m.ts >= start_ts)
    if end_ts is not None:
        conditions.append(_m.ts <= end_ts)
    first = connection.scalar(
        select(_m.seq).where(*conditions).order_by(_m.ts.asc(), _m.seq.asc()).limit(1)
    )
    last = connection.scalar(
        select(_m.seq).where(*conditions).order_by(_m.ts.desc(), _m.seq.desc()).limit(1)
    )
    if first is None or last is None:
        return None
    return min(first, last), max(first, last)


def read_series(
    bind: Bind,
    experiment_id: int,
    start_ts: float | None = None,
    end_ts: float | None = None,
    channel_ids: Sequence[int] = (),
    *,
    quantities: Sequence[str] = QUANTITIES,
    max_points: int = DEFAULT_MAX_POINTS,
    until_seq: int | None = None,
) -> Series:
    """The points to draw for [start_ts, end_ts] (None: from the start / to the end), for
    `quantities` (of "voltage", "current", "power") and the extra channels `channel_ids`;
    with `until_seq`, no sample after that one (what a live graph has already read)."""
    keys = _Keys(tuple(quantities), tuple(channel_ids))
    with connection_of(bind) as connection:
        bounds = seq_range(connection, experiment_id, start_ts, end_ts)
        if bounds is None:
            return Series.empty(keys.all)
        first, last = bounds
        if until_seq is not None:
            last = min(last, until_seq)
            if last < first:
                return Series.empty(keys.all)
        count = last - first + 1
        if count <= max_points:
            series = _raw(connection, experiment_id, first, last, keys)
        else:
            buckets = max(1, max_points // POINTS_PER_BUCKET)
            level = _level_for(count)
            if level is None:
                width = math.ceil(count / buckets)
                parts = _group_samples(connection, experiment_id, first, last, width, keys)
                series = parts.points(width, "group by")
            else:
                parts = _from_level(connection, experiment_id, first, last, level, keys)
                series = _thin(
                    parts.points(SUMMARY_BLOCK_SIZES[level - 1], f"level {level}"), buckets
                )
        series.first_seq, series.last_seq, series.samples = first, last, count
        return series


@dataclass(frozen=True)
class _Keys:
    quantities: tuple[str, ...]
    channel_ids: tuple[int, ...]

    @property
    def all(self) -> list[str | int]:
        return [*self.quantities, *self.channel_ids]


def _level_for(count: int) -> int | None:
    """The coarsest summary level with at least MIN_BUCKETS blocks in `count` samples."""
    for level in range(len(SUMMARY_BLOCK_SIZES), 0, -1):
        if count // SUMMARY_BLOCK_SIZES[level - 1] >= MIN_BUCKETS:
            return level
    return None


# ---------------------------------------------------------------- raw samples


def _raw(connection: Connection, experiment_id: int, first: int, last: int, keys: _Keys) -> Series:
    joined: Any = Measurement.__table__
    extra_columns = []
    for index, channel_id in enumerate(keys.channel_ids):
        extra = ExtraValue.__table__.alias(f"extra_{index}")
        joined = joined.outerjoin(
            extra, and_(extra.c.channel_id == channel_id, extra.c.seq == _m.seq)
        )
        extra_columns.append(extra.c.value)
    rows = connection.execute(
        select(_m.ts, *[_m[q] for q in keys.quantities], *extra_columns)
        .select_from(joined)
        .where(_m.experiment_id == experiment_id, _m.seq.between(first, last))
        .order_by(_m.seq)
    ).all()
    table = np.array(rows, dtype=float).reshape(len(rows), 1 + len(keys.all))
    return Series(
        table[:, 0], {key: table[:, 1 + i] for i, key in enumerate(keys.all)}, 1, len(rows)
    )


# ---------------------------------------------------------------- buckets


@dataclass
class _Buckets:
    """Per bucket: times of the first and last sample, and per series min, max, first, last."""

    ts_first: np.ndarray
    ts_last: np.ndarray
    stats: dict[str | int, np.ndarray]  # key -> (buckets, 4) array: min, max, first, last

    @classmethod
    def join(cls, parts: Sequence[_Buckets], keys: _Keys) -> _Buckets:
        parts = [part for part in parts if len(part.ts_first)]
        if not parts:
            nothing = np.array([], dtype=float)
            return cls(nothing, nothing, {key: np.empty((0, 4)) for key in keys.all})
        return cls(
            np.concatenate([part.ts_first for part in parts]),
            np.concatenate([part.ts_last for part in parts]),
            {key: np.concatenate([part.stats[key] for part in parts]) for key in keys.all},
        )

    def points(self, bucket: int, source: str) -> Series:
        """Four points per bucket: first, the extreme met first, the other extreme, last."""
        span = self.ts_last - self.ts_first
        ts = np.column_stack(
            [self.ts_first, self.ts_first + span / 3, self.ts_first + 2 * span / 3, self.ts_last]
        ).ravel()
        values: dict[str | int, np.ndarray] = {}
        for key, stat in self.stats.items():
            low, high, first, last = stat[:, 0], stat[:, 1], stat[:, 2], stat[:, 3]
            # A falling bucket meets its maximum before its minimum.
            falling = last < first
            middle_a = np.where(falling, high, low)
            middle_b = np.where(falling, low, high)
            values[key] = np.column_stack([first, middle_a, middle_b, last]).ravel()
        return Series(ts, values, bucket, 0, source=source)


def _group_samples(
    connection: Connection,
    experiment_id: int,
    first: int,
    last: int,
    width: int,
    keys: _Keys,
) -> _Buckets:
    """Buckets of `width` samples from one GROUP BY over the samples first..last."""
    number = ((_m.seq - first) // width).label("bucket")
    rows = connection.execute(
        select(
            number,
            func.min(_m.seq),
            func.max(_m.seq),
            *[func.min(_m[q]) for q in keys.quantities],
            *[func.max(_m[q]) for q in keys.quantities],
        )
        .where(_m.experiment_id == experiment_id, _m.seq.between(first, last))
        .group_by(number)
        .order_by(number)
    ).all()
    if not rows:
        return _Buckets.join([], keys)
    table = np.array(rows, dtype=float)
    ends = _samples_at(
        connection, experiment_id, sorted({int(s) for row in rows for s in row[1:3]}), keys
    )
    firsts = np.array([ends[int(seq)] for seq in table[:, 1]]).reshape(len(rows), -1)
    lasts = np.array([ends[int(seq)] for seq in table[:, 2]]).reshape(len(rows), -1)
    count = len(keys.quantities)
    stats: dict[str | int, np.ndarray] = {
        key: np.column_stack(
            [
                table[:, 3 + index],
                table[:, 3 + count + index],
                firsts[:, 1 + index],
                lasts[:, 1 + index],
            ]
        )
        for index, key in enumerate(keys.quantities)
    }
    position = {int(n): i for i, n in enumerate(table[:, 0])}
    for channel_id in keys.channel_ids:
        stats[channel_id] = _group_channel(connection, channel_id, first, last, width, position)
    return _Buckets(firsts[:, 0], lasts[:, 0], stats)


def _group_channel(
    connection: Connection,
    channel_id: int,
    first: int,
    last: int,
    width: int,
    position: dict[int, int],
) -> np.ndarray:
    number = ((_x.seq - first) // width).label("bucket")
    stat = np.full((len(position), 4), np.nan)
    rows = connection.execute(
        select(number, func.min(_x.seq), func.max(_x.seq), func.min(_x.value), func.max(_x.value))
        .where(_x.channel_id == channel_id, _x.seq.between(first, last))
        .group_by(number)
    ).all()
    seqs = sorted({int(seq) for row in rows for seq in (row[1], row[2])})
    values = _channel_values_at(connection, channel_id, seqs)
    for bucket, seq_first, seq_last, low, high in rows:
        index = position.get(int(bucket))
        if index is not None:
            stat[index] = (low, high, values[seq_first], values[seq_last])
    return stat


def _from_level(
    connection: Connection,
    experiment_id: int,
    first: int,
    last: int,
    level: int,
    keys: _Keys,
) -> _Buckets:
    """Buckets for first..last: the stored blocks of `level` that lie wholly inside, and
    for the pieces before and after them the finer levels (the samples below level 1),
    so that no block reaches outside the range."""
    if level == 0:
        return _group_samples(connection, experiment_id, first, last, last - first + 1, keys)
    size = SUMMARY_BLOCK_SIZES[level - 1]
    low = -(-first // size)  # the first block starting at or after `first`
    high = (last + 1) // size - 1  # the last block ending at or before `last`
    if low > high:
        return _from_level(connection, experiment_id, first, last, level - 1, keys)
    parts = []
    if low * size > first:
        parts.append(_from_level(connection, experiment_id, first, low * size - 1, level - 1, keys))
    parts.append(_stored_blocks(connection, experiment_id, level, low, high, keys))
    if (high + 1) * size <= last:
        parts.append(
            _from_level(connection, experiment_id, (high + 1) * size, last, level - 1, keys)
        )
    return _Buckets.join(parts, keys)


def _stored_blocks(
    connection: Connection,
    experiment_id: int,
    level: int,
    low: int,
    high: int,
    keys: _Keys,
) -> _Buckets:
    columns = [_s.block, _s.ts_first, _s.ts_last]
    for quantity in keys.quantities:
        columns += [_s[f"{quantity}_{stat}"] for stat in STATISTICS]
    rows = connection.execute(
        select(*columns)
        .where(_s.experiment_id == experiment_id, _s.level == level, _s.block.between(low, high))
        .order_by(_s.block)
    ).all()
    table = np.array(rows, dtype=float).reshape(len(rows), len(columns))
    stats: dict[str | int, np.ndarray] = {
        quantity: table[:, 3 + 4 * index : 7 + 4 * index]
        for index, quantity in enumerate(keys.quantities)
    }
    position = {int(block): index for index, block in enumerate(table[:, 0])}
    for channel_id in keys.channel_ids:
        stat = np.full((len(rows), 4), np.nan)
        for block, *values in connection.execute(
            select(_c.block, _c.value_min, _c.value_max, _c.value_first, _c.value_last).where(
                _c.channel_id == channel_id, _c.level == level, _c.block.between(low, high)
            )
        ):
            index = position.get(int(block))
            if index is not None:
                stat[index] = values
        stats[channel_id] = stat
    return _Buckets(table[:, 1], table[:, 2], stats)


def _thin(series: Series, buckets: int) -> Series:
    """Merge neighbouring buckets until at most `buckets` remain (extremes kept)."""
    have = len(series.ts) // POINTS_PER_BUCKET
    if have <= buckets:
        return series
    factor = math.ceil(have / buckets)
    starts = np.arange(0, have, factor)
    ends = np.r_[starts[1:], have] - 1
    ts = series.ts.reshape(have, POINTS_PER_BUCKET)
    merged = _Buckets(ts[starts, 0], ts[ends, 3], {})
    for key, values in series.values.items():
        points = values.reshape(have, POINTS_PER_BUCKET)
        # fmin/fmax skip NaN (a bucket where a channel had no value).
        low = np.fmin.reduceat(np.fmin(points[:, 1], points[:, 2]), starts)
        high = np.fmax.reduceat(np.fmax(points[:, 1], points[:, 2]), starts)
        merged.stats[key] = np.column_stack([low, high, points[starts, 0], points[ends, 3]])
    return merged.points(series.bucket * factor, series.source)


# Seq values per statement when looking up the first and last sample of buckets.
_LOOKUP_CHUNK = 2_000


def _samples_at(
    connection: Connection, experiment_id: int, seqs: list[int], keys: _Keys
) -> dict[int, tuple[float, ...]]:
    """(ts, *quantities) of the samples with these seq, by seq."""
    found: dict[int, tuple[float, ...]] = {}
    for start in range(0, len(seqs), _LOOKUP_CHUNK):
        for seq, *values in connection.execute(
            select(_m.seq, _m.ts, *[_m[q] for q in keys.quantities]).where(
                _m.experiment_id == experiment_id, _m.seq.in_(seqs[start : start + _LOOKUP_CHUNK])
            )
        ):
            found[seq] = tuple(values)
    return found


def _channel_values_at(
    connection: Connection, channel_id: int, seqs: list[int]
) -> dict[int, float]:
    found: dict[int, float] = {}
    for start in range(0, len(seqs), _LOOKUP_CHUNK):
        rows = connection.execute(
            select(_x.seq, _x.value).where(
                _x.channel_id == channel_id, _x.seq.in_(seqs[start : start + _LOOKUP_CHUNK])
            )
        )
        found.update((seq, value) for seq, value in rows)
    return found
