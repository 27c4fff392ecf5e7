"""CSV export of an experiment's samples, streamed in chunks so memory stays flat.

The file layout (BDF labels, column order, number format) is `domain.csvformat`'s;
this module only reads. It pages through the samples by key, seq > the last one
seen (never OFFSET), holds one page at a time, and joins each extra channel's
values as a column.

On MariaDB/MySQL the server writes the CSV text: CONCAT_WS makes each line and
GROUP_CONCAT packs a block of lines into one result row. The server writes doubles
in their shortest round-trip form, as repr does, and PyMySQL, pure Python, spends
about 3 µs on every result row: a million one-row-per-sample results cost more CPU
than the whole 5 s budget of docs/performance.md on a loaded 2-core machine, a
thousand blocks cost nothing. Elsewhere (SQLite) rows come back as values and
`domain.csvformat.format_csv_rows` writes them.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import IO, Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    and_,
    func,
    literal,
    literal_column,
    select,
)
from sqlalchemy.orm import Session

from datastore.experiments import in_id_range
from datastore.models import Channel, Experiment, ExtraValue, Measurement
from datastore.packed import Lines, lift_group_concat_limit
from domain.csvformat import EXPORT_QUANTITIES, format_csv_rows, write_csv_header

DEFAULT_CHUNK_ROWS = 50_000
# Databases cap the tables in one join (MariaDB 61, SQLite 64): channels beyond this
# many are read by further queries over the same page of samples.
MAX_JOINED_CHANNELS = 40
# Lines per GROUP_CONCAT block; fewer when rows are wide, so a block stays well below
# the server's packet size.
MAX_BLOCK_LINES = 1_000

_measurements = Measurement.__table__
_extra_values = ExtraValue.__table__


def iter_experiment_csv(
    bind: Engine | Connection | Session,
    experiment_id: int,
    *,
    start_ts: float | None = None,
    end_ts: float | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> Iterator[str]:
    """CSV text of an experiment's samples: the header, then one chunk per `chunk_rows` samples.

    With `start_ts`/`end_ts` (Unix seconds, inclusive) only samples in that window are
    written; `Test Time / s` still counts from the experiment's first sample.
    Raises LookupError if the experiment does not exist.
    """
    if not in_id_range(experiment_id):
        raise LookupError(f"there is no experiment {experiment_id}")
    for chunk, _rows in _iter_chunks(bind, experiment_id, start_ts, end_ts, chunk_rows):
        yield chunk


def write_experiment_csv(
    bind: Engine | Connection | Session,
    experiment_id: int,
    file: IO[str] | IO[bytes],
    *,
    start_ts: float | None = None,
    end_ts: float | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> int:
    """Write the experiment's CSV to an open text or binary (UTF-8) file; return the sample count."""
    binary = not isinstance(file, io.TextIOBase) and "b" in getattr(file, "mode", "b")
    written = 0
    for chunk, rows in _iter_chunks(bind, experiment_id, start_ts, end_ts, chunk_rows):
        file.write(chunk.encode("utf-8") if binary else chunk)  # type: ignore[arg-type]
        written += rows
    return written


def _connection(bind: Engine | Connection | Session) -> AbstractContextManager[Connection]:
    if isinstance(bind, Engine):
        return bind.connect()
    if isinstance(bind, Session):
        return nullcontext(bind.connection())
    return nullcontext(bind)


def _iter_chunks(
    bind: Engine | Connection | Session,
    experiment_id: int,
    start_ts: float | None,
    end_ts: float | None,
    chunk_rows: int,
) -> Iterator[tuple[str, int]]:
    """(CSV text, samples in it): the header first, then a page of samples at a time."""
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be at least 1")
    with _connection(bind) as connection:
        if connection.scalar(select(Experiment.id).where(Experiment.id == experiment_id)) is None:
            raise LookupError(f"experiment {experiment_id} does not exist")
        channels = connection.execute(
            select(Channel.id, Channel.name, Channel.unit)
            .where(Channel.experiment_id == experiment_id)
            .order_by(Channel.id)
        ).all()
        yield write_csv_header([(channel.name, channel.unit) for channel in channels]), 0

        first_ts = connection.scalar(
            select(_measurements.c.ts)
            .where(_measurements.c.experiment_id == experiment_id)
            .order_by(_measurements.c.seq)
            .limit(1)
        )
        if first_ts is None:
            return
        in_window = _window_conditions(connection, experiment_id, start_ts, end_ts)
        if in_window is None:
            return
        reader = _PageReader(connection, [channel.id for channel in channels], first_ts)
        after_seq: int | None = None
        while True:
            in_page = list(in_window)
            if after_seq is not None:
                in_page.append(_measurements.c.seq > after_seq)
            count, last_seq = _page_bounds(connection, in_page, chunk_rows)
            if not count:
                return
            in_page.append(_measurements.c.seq <= last_seq)
            yield reader.read(in_page)
            if count < chunk_rows:
                return
            after_seq = last_seq


def _window_conditions(
    connection: Connection, experiment_id: int, start_ts: float | None, end_ts: float | None
) -> list[ColumnElement[bool]] | None:
    """WHERE conditions picking the window's samples, or None when the window has none.

    The window's seq range comes first, through the (experiment_id, ts) index, so that
    paging neither scans the samples before the window nor runs on to the end of the
    experiment after it; ts is still checked on every row, in case time went back.
    """
    conditions = [_measurements.c.experiment_id == experiment_id]
    if start_ts is None and end_ts is None:
        return conditions
    if start_ts is not None:
        conditions.append(_measurements.c.ts >= start_ts)
    if end_ts is not None:
        conditions.append(_measurements.c.ts <= end_ts)
    first_seq, last_seq = connection.execute(
        select(func.min(_measurements.c.seq), func.max(_measurements.c.seq)).where(*conditions)
    ).one()
    if first_seq is None:
        return None
    return [*conditions, _measurements.c.seq.between(first_seq, last_seq)]


def _page_bounds(
    connection: Connection, conditions: Sequence[ColumnElement[bool]], limit: int
) -> tuple[int, int | None]:
    """How many samples the next page has (at most `limit`) and the seq of its last one."""
    page = (
        select(_measurements.c.seq)
        .where(*conditions)
        .order_by(_measurements.c.seq)
        .limit(limit)
        .subquery()
    )
    count, last_seq = connection.execute(select(func.count(), func.max(page.c.seq))).one()
    return count, last_seq


class _PageReader:
    """Reads the samples of a page (with their extra channels) as CSV lines."""

    def __init__(self, connection: Connection, channel_ids: Sequence[int], first_ts: float) -> None:
        self.connection = connection
        self.first_ts = first_ts
        self.channel_groups = [
            list(channel_ids[start : start + MAX_JOINED_CHANNELS])
            for start in range(0, len(channel_ids), MAX_JOINED_CHANNELS)
        ] or [[]]
        self.server_writes = connection.dialect.name in ("mysql", "mariadb")
        if self.server_writes:
            self.block_lines = self._prepare_server(len(channel_ids))

    def read(self, conditions: Sequence[ColumnElement[bool]]) -> tuple[str, int]:
        """The CSV lines of the samples matching `conditions`, and how many there are."""
        if self.server_writes:
            return self._read_server_written(conditions)
        groups = []
        for index, channel_ids in enumerate(self.channel_groups):
            joined, cells = self._joined_cells(channel_ids, with_samples=index == 0)
            query = select(*cells).select_from(joined).where(*conditions)
            groups.append(self.connection.execute(query.order_by(_measurements.c.seq)).all())
        rows: list[tuple[Any, ...]] = [tuple(row) for row in groups[0]]
        for more in groups[1:]:
            rows = [(*row, *extra) for row, extra in zip(rows, more, strict=True)]
        return format_csv_rows(rows, first_ts=self.first_ts), len(rows)

    def _read_server_written(self, conditions: Sequence[ColumnElement[bool]]) -> tuple[str, int]:
        block = _measurements.c.seq.op("DIV")(literal_column(str(self.block_lines)))
        texts = []
        count = 0
        for index, channel_ids in enumerate(self.channel_groups):
            joined, cells = self._joined_cells(channel_ids, with_samples=index == 0)
            line = func.concat_ws(",", *cells)
            query = (
                select(func.count(), Lines(line, _measurements.c.seq))
                .select_from(joined)
                .where(*conditions)
                .group_by(block)
                .order_by(block)
            )
            blocks = self.connection.execute(query).all()
            for lines, block_text in blocks:
                if block_text.count("\n") + 1 != lines:
                    # GROUP_CONCAT cuts a block silently at group_concat_max_len: never ship that.
                    raise RuntimeError(f"the server cut a block of {lines} CSV lines short")
            texts.append("\n".join(block_text for _lines, block_text in blocks))
            if index == 0:
                count = sum(lines for lines, _text in blocks)
        if len(texts) > 1:
            # Wide experiments: glue each line of the later channel groups to the first.
            parts = [chunk.split("\n") for chunk in texts]
            texts = ["\n".join(map(",".join, zip(*parts, strict=True)))]
        return texts[0] + "\n", count

    def _prepare_server(self, channel_count: int) -> int:
        """Lift GROUP_CONCAT's 1 MiB default to the packet size; return lines per block."""
        packet = lift_group_concat_limit(self.connection)
        # A line is at most ~25 bytes a number; aim for blocks a quarter of the packet.
        line_bytes = 25 * (len(EXPORT_QUANTITIES) + min(channel_count, MAX_JOINED_CHANNELS))
        return max(1, min(MAX_BLOCK_LINES, packet // (4 * line_bytes)))

    def _joined_cells(
        self, channel_ids: Sequence[int], *, with_samples: bool
    ) -> tuple[Any, list[Any]]:
        """The samples joined to these channels' values, and the cells of a row: the
        sample's quantities (if asked), then one value per channel (NULL where none)."""
        joined: Any = _measurements
        extras: list[Any] = []
        for index, channel_id in enumerate(channel_ids):
            extra = _extra_values.alias(f"extra_{index}")
            joined = joined.outerjoin(
                extra, and_(extra.c.channel_id == channel_id, extra.c.seq == _measurements.c.seq)
            )
            extras.append(extra.c.value)
        if self.server_writes:
            # CONCAT_WS skips NULLs, which would shift the columns: a missing value is ''.
            extras = [func.coalesce(value, literal("")) for value in extras]
        if not with_samples:
            return joined, extras
        if not self.server_writes:
            # format_csv_rows derives both time columns from ts.
            stored = [_measurements.c[key] for key in _STORED_FIELDS]
            return joined, [_measurements.c.ts, *stored, *extras]
        times = {
            "test_time": _measurements.c.ts - literal(self.first_ts),
            "unix_time": _measurements.c.ts,
        }
        samples = [
            times[quantity.key] if quantity.key in times else _empty_if_null(quantity.key)
            for quantity in EXPORT_QUANTITIES
        ]
        return joined, [*samples, *extras]


# The Measurement fields written after the two time columns, in export order.
_STORED_FIELDS = tuple(
    quantity.key for quantity in EXPORT_QUANTITIES if quantity.key not in ("test_time", "unix_time")
)


def _empty_if_null(field: str) -> Any:
    # CONCAT_WS skips NULLs, which would shift the columns: an empty cell must be ''.
    column = _measurements.c[field]
    return func.coalesce(column, literal("")) if column.nullable else column
