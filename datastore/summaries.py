"""Keeping the per-block summaries of samples current, so long experiments draw quickly.

Samples are grouped in blocks of consecutive sequence numbers: level 1 holds blocks of
64 samples, and each level's blocks are four of the level below (`SUMMARY_BLOCK_SIZES`:
64, 256, ..., 65,536 samples). Each block row keeps, per quantity, its minimum, maximum,
first and last value, and the sequence numbers and times of its first and last sample
(`SampleSummary`, `ChannelSummary` for extra channels). Reading a view of 10,000,000
samples then reads at most a few thousand block rows (datastore/series.py).

Whoever writes samples gives them to a `SummaryWriter` in the same transaction: the node
for each batch, the importer for each chunk of a file. The writer aggregates them in
numpy and merges the result into the stored blocks with one upsert per table: minimum
of minimums, maximum of maximums, the first value of whichever part starts earlier and
the last of whichever ends later. That merge gives the same blocks whatever the order
in which samples arrive, and a sample written twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import Connection, delete, select

from datastore.bulk import values_text
from datastore.models import (
    Channel,
    ChannelSummary,
    Experiment,
    ExtraValue,
    Measurement,
    SampleSummary,
)

# How many blocks of one level make a block of the next, and the block sizes of levels 1...
FAN_OUT = 4
SUMMARY_BLOCK_SIZES: tuple[int, ...] = tuple(64 * FAN_OUT**k for k in range(6))

QUANTITIES = ("voltage", "current", "power")
STATISTICS = ("min", "max", "first", "last")
_SAMPLE_COLUMNS = [c.name for c in SampleSummary.__table__.columns]
_CHANNEL_COLUMNS = [c.name for c in ChannelSummary.__table__.columns]
# Samples read per pass when summarising an experiment from scratch: bounded memory.
_REBUILD_CHUNK = 1_000_000
# Rows per upsert statement on MariaDB (about 1 MB of SQL).
_ROWS_PER_STATEMENT = 5_000


class SummaryWriter:
    """Collects the samples written in one transaction, then merges their summaries.

    The aggregation runs once for everything collected, in `write`: a node's batch holds
    a few hundred samples of each of many experiments, and numpy's cost per call would
    otherwise be paid per experiment.
    """

    def __init__(self) -> None:
        self._samples: list[tuple[np.ndarray, ...]] = []
        self._channels: list[tuple[np.ndarray, ...]] = []

    def add_samples(
        self,
        experiment_id: int,
        seq: Sequence[int] | np.ndarray,
        ts: Sequence[float] | np.ndarray,
        voltage: Sequence[float] | np.ndarray,
        current: Sequence[float] | np.ndarray,
        power: Sequence[float] | np.ndarray,
    ) -> None:
        """Samples of one experiment, in any order (arrays of equal length)."""
        if len(seq) == 0:
            return
        self._samples.append(
            (
                np.full(len(seq), experiment_id, dtype=np.int64),
                np.asarray(seq, dtype=np.int64),
                np.asarray(ts, dtype=np.float64),
                np.asarray(voltage, dtype=np.float64),
                np.asarray(current, dtype=np.float64),
                np.asarray(power, dtype=np.float64),
            )
        )

    def add_channel(
        self,
        channel_id: int,
        seq: Sequence[int] | np.ndarray,
        values: Sequence[float] | np.ndarray,
    ) -> None:
        """Values of one extra channel, in any order."""
        if len(seq) == 0:
            return
        self._channels.append(
            (
                np.full(len(seq), channel_id, dtype=np.int64),
                np.asarray(seq, dtype=np.int64),
                np.asarray(values, dtype=np.float64),
            )
        )

    def write(self, connection: Connection) -> None:
        """Merge what was collected into the stored summaries, then start afresh."""
        if self._samples:
            owner, seq, ts, *columns = (
                np.concatenate(part) for part in zip(*self._samples, strict=True)
            )
            rows = _summary_rows(owner, seq, ts, columns)
            _upsert(connection, SampleSummary.__tablename__, _SAMPLE_COLUMNS, rows,
                    owner="experiment_id", quantities=QUANTITIES, with_times=True)  # fmt: skip
        if self._channels:
            owner, seq, values = (
                np.concatenate(part) for part in zip(*self._channels, strict=True)
            )
            rows = _summary_rows(owner, seq, None, [values])
            _upsert(connection, ChannelSummary.__tablename__, _CHANNEL_COLUMNS, rows,
                    owner="channel_id", quantities=("value",), with_times=False)  # fmt: skip
        self._samples = []
        self._channels = []


# ---------------------------------------------------------------- aggregation in numpy


def _runs(*keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end positions of the runs where all (sorted) keys stay equal."""
    change = np.zeros(len(keys[0]), dtype=bool)
    change[0] = True
    for key in keys:
        change[1:] |= key[1:] != key[:-1]
    starts = np.flatnonzero(change)
    return starts, np.r_[starts[1:], len(keys[0])] - 1


def _summary_rows(
    owner: np.ndarray, seq: np.ndarray, ts: np.ndarray | None, columns: list[np.ndarray]
) -> list[tuple[Any, ...]]:
    """Rows (owner, level, block, seq_first, seq_last, [ts_first, ts_last], then per column
    min, max, first, last) of every level's blocks that the samples fall in."""
    order = np.lexsort((seq, owner))
    owner, seq = owner[order], seq[order]
    ts = None if ts is None else ts[order]
    columns = [column[order] for column in columns]

    number = seq // SUMMARY_BLOCK_SIZES[0]
    starts, ends = _runs(owner, number)
    block_owner, number = owner[starts], number[starts]
    seq_first, seq_last = seq[starts], seq[ends]
    ts_first = None if ts is None else ts[starts]
    ts_last = None if ts is None else ts[ends]
    stats = [
        (
            np.minimum.reduceat(column, starts),
            np.maximum.reduceat(column, starts),
            column[starts],
            column[ends],
        )
        for column in columns
    ]
    rows: list[tuple[Any, ...]] = []
    for level in range(1, len(SUMMARY_BLOCK_SIZES) + 1):
        if level > 1:
            parent = number // FAN_OUT
            starts, ends = _runs(block_owner, parent)
            block_owner, number = block_owner[starts], parent[starts]
            seq_first, seq_last = seq_first[starts], seq_last[ends]
            if ts_first is not None and ts_last is not None:
                ts_first, ts_last = ts_first[starts], ts_last[ends]
            stats = [
                (
                    np.minimum.reduceat(low, starts),
                    np.maximum.reduceat(high, starts),
                    first[starts],
                    last[ends],
                )
                for low, high, first, last in stats
            ]
        parts: list[Any] = [block_owner, np.full(len(number), level), number, seq_first, seq_last]
        if ts_first is not None and ts_last is not None:
            parts += [ts_first, ts_last]
        for statistics in stats:
            parts += list(statistics)
        rows.extend(zip(*(part.tolist() for part in parts), strict=True))
    return rows


def _merge_assignments(
    dialect: str, quantities: Sequence[str], with_times: bool
) -> list[tuple[str, str]]:
    """(column, expression) pairs that merge a new row into a stored one.

    On MariaDB the assignments run left to right and see the values already changed, so
    everything that compares seq_first/seq_last comes before they change. SQLite reads
    the stored values throughout; the same order is right for both.
    """
    if dialect == "sqlite":
        new = "excluded.{}".format
        least, greatest = "min({}, {})", "max({}, {})"
        choose = "CASE WHEN {} THEN {} ELSE {} END"
    else:
        new = "VALUES({})".format
        least, greatest = "LEAST({}, {})", "GREATEST({}, {})"
        choose = "IF({}, {}, {})"
    earlier = f"{new('seq_first')} < seq_first"
    later = f"{new('seq_last')} > seq_last"
    pairs: list[tuple[str, str]] = []
    for quantity in quantities:
        low, high, first, last = (f"{quantity}_{s}" for s in STATISTICS)
        pairs += [
            (low, least.format(low, new(low))),
            (high, greatest.format(high, new(high))),
            (first, choose.format(earlier, new(first), first)),
            (last, choose.format(later, new(last), last)),
        ]
    if with_times:
        pairs += [
            ("ts_first", choose.format(earlier, new("ts_first"), "ts_first")),
            ("ts_last", choose.format(later, new("ts_last"), "ts_last")),
        ]
    pairs += [
        ("seq_first", least.format("seq_first", new("seq_first"))),
        ("seq_last", greatest.format("seq_last", new("seq_last"))),
    ]
    return pairs


def _upsert(
    connection: Connection,
    table: str,
    columns: list[str],
    rows: list[tuple[Any, ...]],
    *,
    owner: str,
    quantities: Sequence[str],
    with_times: bool,
) -> None:
    dialect = connection.dialect.name
    assignments = _merge_assignments(dialect, quantities, with_times)
    names = ", ".join(columns)
    if dialect == "sqlite":
        marks = ", ".join("?" * len(columns))
        updates = ", ".join(f"{column} = {expression}" for column, expression in assignments)
        connection.exec_driver_sql(
            f"INSERT INTO {table} ({names}) VALUES ({marks}) "
            f"ON CONFLICT ({owner}, level, block) DO UPDATE SET {updates}",
            rows,
        )
        return
    updates = ", ".join(f"{column} = {expression}" for column, expression in assignments)
    for start in range(0, len(rows), _ROWS_PER_STATEMENT):
        values = values_text(rows[start : start + _ROWS_PER_STATEMENT])
        statement = (
            f"INSERT INTO {table} ({names}) VALUES ({values}) ON DUPLICATE KEY UPDATE {updates}"
        )
        connection.exec_driver_sql(statement.replace("%", "%%"))


# ---------------------------------------------------------------- summarising stored samples


def rebuild_summaries(connection: Connection, experiment_id: int) -> None:
    """Recompute all summaries of one experiment from its stored samples."""
    connection.execute(delete(SampleSummary).where(SampleSummary.experiment_id == experiment_id))
    channel_ids = connection.scalars(
        select(Channel.id).where(Channel.experiment_id == experiment_id)
    ).all()
    if channel_ids:
        connection.execute(delete(ChannelSummary).where(ChannelSummary.channel_id.in_(channel_ids)))
    m = Measurement.__table__.c
    after = -1
    while True:
        rows = connection.execute(
            select(m.seq, m.ts, m.voltage, m.current, m.power)
            .where(m.experiment_id == experiment_id, m.seq > after)
            .order_by(m.seq)
            .limit(_REBUILD_CHUNK)
        ).all()
        if not rows:
            break
        writer = SummaryWriter()
        table = np.array(rows, dtype=np.float64)
        writer.add_samples(experiment_id, table[:, 0].astype(np.int64), *table[:, 1:].T)
        writer.write(connection)
        after = int(table[-1, 0])
    x = ExtraValue.__table__.c
    for channel_id in channel_ids:
        after = -1
        while True:
            values = connection.execute(
                select(x.seq, x.value)
                .where(x.channel_id == channel_id, x.seq > after)
                .order_by(x.seq)
                .limit(_REBUILD_CHUNK)
            ).all()
            if not values:
                break
            writer = SummaryWriter()
            table = np.array(values, dtype=np.float64)
            writer.add_channel(channel_id, table[:, 0].astype(np.int64), table[:, 1])
            writer.write(connection)
            after = int(table[-1, 0])


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
