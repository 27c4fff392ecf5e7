"""Keeping the per-block summaries of samples current, so long experiments draw quickly.

Samples are grouped in blocks of consecutive sequence numbers: level 1 holds blocks of
64 samples, level 2 of 1,024, level 3 of 16,384 (`SUMMARY_BLOCK_SIZES`). Each block
row keeps, per quantity, its minimum, maximum, first and last value and the times of
its first and last sample (`SampleSummary`, `ChannelSummary` for extra channels).
Reading a view of 10,000,000 samples then reads a few thousand block rows instead of
the samples (datastore/series.py).

Whoever writes samples calls `refresh_summaries` for the range of sequence numbers it
wrote, in the same transaction: the node after each batch, the importer after a file.
The blocks touched are recomputed from the samples (level 1) or from the level below,
so the result is the same whatever the order or repetition of the writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, and_, delete, func, select

from datastore.bulk import insert_rows
from datastore.models import (
    Channel,
    ChannelSummary,
    Experiment,
    ExtraValue,
    Measurement,
    SampleSummary,
)

# How many blocks of one level make a block of the next.
FAN_OUT = 16
SUMMARY_BLOCK_SIZES: tuple[int, ...] = (64, 64 * FAN_OUT, 64 * FAN_OUT**2)

QUANTITIES = ("voltage", "current", "power")
_SAMPLE_COLUMNS = [c.name for c in SampleSummary.__table__.columns]
_CHANNEL_COLUMNS = [c.name for c in ChannelSummary.__table__.columns]
# Seq values per statement when looking up the first and last sample of blocks.
_LOOKUP_CHUNK = 2_000
# Samples summarised per pass when rebuilding a whole experiment: bounded memory.
_REBUILD_SPAN = SUMMARY_BLOCK_SIZES[-1] * 64


def refresh_summaries(
    connection: Connection,
    experiment_id: int,
    first_seq: int,
    last_seq: int,
    channel_ids: Iterable[int] | None = None,
) -> None:
    """Recompute every summary block that holds a sample with seq in first_seq..last_seq.

    `channel_ids`: the extra channels written in that range (None: all the experiment's).
    """
    if last_seq < first_seq:
        return
    low, high = _block_range(first_seq, last_seq, SUMMARY_BLOCK_SIZES[0])
    _write_level_one(connection, experiment_id, low, high)
    if channel_ids is None:
        channel_ids = connection.scalars(
            select(Channel.id).where(Channel.experiment_id == experiment_id)
        ).all()
    channel_ids = list(channel_ids)
    for channel_id in channel_ids:
        _write_channel_level_one(connection, experiment_id, channel_id, low, high)
    for level in range(2, len(SUMMARY_BLOCK_SIZES) + 1):
        low, high = low // FAN_OUT, high // FAN_OUT
        _write_sample_level(connection, experiment_id, level, low, high)
        for channel_id in channel_ids:
            _write_channel_level(connection, channel_id, level, low, high)


def rebuild_summaries(connection: Connection, experiment_id: int) -> None:
    """Recompute all summaries of one experiment from its samples (after an import)."""
    bounds = connection.execute(
        select(func.min(Measurement.seq), func.max(Measurement.seq)).where(
            Measurement.experiment_id == experiment_id
        )
    ).one()
    connection.execute(delete(SampleSummary).where(SampleSummary.experiment_id == experiment_id))
    channel_ids = connection.scalars(
        select(Channel.id).where(Channel.experiment_id == experiment_id)
    ).all()
    if channel_ids:
        connection.execute(delete(ChannelSummary).where(ChannelSummary.channel_id.in_(channel_ids)))
    if bounds[0] is None:
        return
    for start in range(bounds[0], bounds[1] + 1, _REBUILD_SPAN):
        refresh_summaries(
            connection, experiment_id, start, min(start + _REBUILD_SPAN - 1, bounds[1]), channel_ids
        )


def summarise_unsummarised(connection: Connection) -> list[int]:
    """Summaries for every experiment that has samples but none yet (a database written
    before summaries existed); returns their ids."""
    summarised = select(SampleSummary.experiment_id).where(
        SampleSummary.experiment_id == Experiment.id
    )
    experiment_ids = connection.scalars(
        select(Experiment.id).where(Experiment.sample_count > 0, ~summarised.exists())
    ).all()
    for experiment_id in experiment_ids:
        rebuild_summaries(connection, experiment_id)
    return list(experiment_ids)


# ---------------------------------------------------------------- level 1, from samples


def _block_range(first_seq: int, last_seq: int, size: int) -> tuple[int, int]:
    return first_seq // size, last_seq // size


def _write_level_one(connection: Connection, experiment_id: int, low: int, high: int) -> None:
    size = SUMMARY_BLOCK_SIZES[0]
    m = Measurement.__table__.c
    block = (m.seq // size).label("block")
    aggregates = connection.execute(
        select(
            block,
            func.min(m.seq),
            func.max(m.seq),
            *[func.min(m[q]) for q in QUANTITIES],
            *[func.max(m[q]) for q in QUANTITIES],
        )
        .where(m.experiment_id == experiment_id, m.seq.between(low * size, (high + 1) * size - 1))
        .group_by(block)
        .order_by(block)
    ).all()
    ends = samples_at(connection, experiment_id, _ends(aggregates))
    rows = []
    for number, seq_first, seq_last, *extremes in aggregates:
        first, last = ends[seq_first], ends[seq_last]
        row: list[Any] = [experiment_id, 1, number, seq_first, seq_last, first[0], last[0]]
        for index in range(len(QUANTITIES)):
            row += [extremes[index], extremes[len(QUANTITIES) + index]]
            row += [first[1 + index], last[1 + index]]
        rows.append(row)
    _replace(connection, SampleSummary, experiment_id, 1, low, high, rows)


def _write_channel_level_one(
    connection: Connection, experiment_id: int, channel_id: int, low: int, high: int
) -> None:
    size = SUMMARY_BLOCK_SIZES[0]
    v = ExtraValue.__table__.c
    block = (v.seq // size).label("block")
    aggregates = connection.execute(
        select(block, func.min(v.seq), func.max(v.seq), func.min(v.value), func.max(v.value))
        .where(v.channel_id == channel_id, v.seq.between(low * size, (high + 1) * size - 1))
        .group_by(block)
        .order_by(block)
    ).all()
    values = channel_values_at(connection, channel_id, _ends(aggregates))
    rows = [
        [channel_id, 1, number, seq_first, seq_last, lowest, highest]
        + [values[seq_first], values[seq_last]]
        for number, seq_first, seq_last, lowest, highest in aggregates
    ]
    _replace(connection, ChannelSummary, channel_id, 1, low, high, rows)


def _ends(aggregates: Sequence[Any]) -> list[int]:
    return sorted({seq for row in aggregates for seq in (row[1], row[2])})


def samples_at(
    connection: Connection, experiment_id: int, seqs: list[int]
) -> dict[int, tuple[float, ...]]:
    """(ts, voltage, current, power) of the samples with these seq, by seq."""
    m = Measurement.__table__.c
    found: dict[int, tuple[float, ...]] = {}
    for start in range(0, len(seqs), _LOOKUP_CHUNK):
        for seq, *values in connection.execute(
            select(m.seq, m.ts, *[m[q] for q in QUANTITIES]).where(
                m.experiment_id == experiment_id, m.seq.in_(seqs[start : start + _LOOKUP_CHUNK])
            )
        ):
            found[seq] = tuple(values)
    return found


def channel_values_at(connection: Connection, channel_id: int, seqs: list[int]) -> dict[int, float]:
    v = ExtraValue.__table__.c
    found: dict[int, float] = {}
    for start in range(0, len(seqs), _LOOKUP_CHUNK):
        rows = connection.execute(
            select(v.seq, v.value).where(
                v.channel_id == channel_id, v.seq.in_(seqs[start : start + _LOOKUP_CHUNK])
            )
        )
        found.update((seq, value) for seq, value in rows)
    return found


# ---------------------------------------------------------------- upper levels, from below


def _write_sample_level(
    connection: Connection, experiment_id: int, level: int, low: int, high: int
) -> None:
    s = SampleSummary.__table__.c
    children = connection.execute(
        select(*[s[name] for name in _SAMPLE_COLUMNS[2:]])
        .where(
            s.experiment_id == experiment_id,
            s.level == level - 1,
            s.block.between(low * FAN_OUT, (high + 1) * FAN_OUT - 1),
        )
        .order_by(s.block)
    ).all()
    rows = [
        [experiment_id, level, *merged] for merged in _merge_children(children, len(QUANTITIES))
    ]
    _replace(connection, SampleSummary, experiment_id, level, low, high, rows)


def _write_channel_level(
    connection: Connection, channel_id: int, level: int, low: int, high: int
) -> None:
    c = ChannelSummary.__table__.c
    children = connection.execute(
        select(*[c[name] for name in _CHANNEL_COLUMNS[2:]])
        .where(
            c.channel_id == channel_id,
            c.level == level - 1,
            c.block.between(low * FAN_OUT, (high + 1) * FAN_OUT - 1),
        )
        .order_by(c.block)
    ).all()
    rows = [[channel_id, level, *merged] for merged in _merge_children(children, 1, times=False)]
    _replace(connection, ChannelSummary, channel_id, level, low, high, rows)


def _merge_children(
    children: Sequence[Any], quantities: int, *, times: bool = True
) -> list[list[Any]]:
    """Parent rows (block, seq_first, seq_last, [ts_first, ts_last], per quantity min, max,
    first, last) from child rows in block order (same layout, child block numbers)."""
    parents: list[list[Any]] = []
    offset = 5 if times else 3
    for child in children:
        number = child[0] // FAN_OUT
        if not parents or parents[-1][0] != number:
            parents.append([number, *child[1:]])
            continue
        parent = parents[-1]
        parent[2] = child[2]  # seq_last
        if times:
            parent[4] = child[4]  # ts_last
        for index in range(quantities):
            base = offset + 4 * index
            parent[base] = min(parent[base], child[base])
            parent[base + 1] = max(parent[base + 1], child[base + 1])
            parent[base + 3] = child[base + 3]  # last
    return parents


def _replace(
    connection: Connection,
    model: type[SampleSummary] | type[ChannelSummary],
    owner_id: int,
    level: int,
    low: int,
    high: int,
    rows: list[list[Any]],
) -> None:
    """Make the blocks low..high of `level` exactly `rows` (blocks without samples vanish)."""
    table = model.__table__
    owner = table.c.experiment_id if model is SampleSummary else table.c.channel_id
    connection.execute(
        delete(table).where(
            and_(owner == owner_id, table.c.level == level, table.c.block.between(low, high))
        )
    )
    if rows:
        columns = _SAMPLE_COLUMNS if model is SampleSummary else _CHANNEL_COLUMNS
        insert_rows(connection, table.name, columns, rows)
