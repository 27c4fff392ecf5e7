"""Storing an imported experiment: one FINISHED experiment, its channels and all its samples.

`import_file` reads a file in chunks (`domain.importing.ImportReader`), checks each and
stores it, all in one transaction: memory follows the chunk size, not the file's
length, and a problem anywhere (or a cancel) rolls everything back. Once a problem is
found nothing more is stored, but the rest of the file is still checked, so the user
sees every problem at once. `import_experiment` stores a file already parsed whole
(`domain.csvformat.parse_csv`) the same way, as one chunk.

Samples are inserted in batches without ORM objects, through `datastore.bulk.insert_rows`
(on MariaDB a Core executemany of 1,000,000 rows took 18 s, over the 15 s budget of
docs/performance.md; multi-row VALUES text takes half of that). Each chunk's block
summaries are merged as it is stored (`SummaryWriter`, as the node does per batch); the
cycle table is integrated chunk by chunk (`ImportedCycles`) and written at the end.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, delete
from sqlalchemy.orm import Session

from datastore.bulk import insert_rows
from datastore.catalog import CatalogError, NotFoundError
from datastore.cycles import ImportedCycles
from datastore.models import Battery, Channel, Experiment, ExtraValue, Measurement, Profile
from datastore.summaries import SummaryWriter
from domain.csvformat import CHUNK_ROWS, ImportFileError, ParsedExperiment
from domain.importing import (
    ColumnChoice,
    ImportProgress,
    ImportReader,
    ProgressCallback,
)
from domain.status import ExperimentStatus

BATCH_ROWS = 10_000
MAX_NAME = 200  # Experiment.name


class ExperimentImportError(ValueError):
    """The parsed experiment cannot be stored (unknown battery, bad name, no samples...)."""


# What import_file raises when the file or the choices are at fault: each message is
# written for the person importing. Any other error is a defect, not theirs to read.
IMPORT_PROBLEMS: tuple[type[ValueError], ...] = (
    ImportFileError,
    CatalogError,
    ExperimentImportError,
)


class ImportCancelled(Exception):
    """The import was cancelled: nothing was stored."""


def import_file(
    engine: Engine,
    path: str | os.PathLike[str],
    *,
    name: str,
    battery_id: int,
    profile_id: int | None = None,
    description: str = "",
    format: str | None = None,
    choices: Sequence[ColumnChoice] = (),
    start_time: float | None = None,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    chunk_rows: int = CHUNK_ROWS,
    max_member_bytes: int | None = None,
) -> int:
    """Read, check and store the file in chunks in ONE transaction; return the new
    experiment id (FINISHED, imported, with summaries and cycle table). Any problem ->
    ImportFileError (or CatalogError for an unknown battery/profile/bad name) and
    nothing stored. Memory bounded by the chunk size, not the file size.

    `progress` is called at least once per chunk; when `cancel` is set the import
    stops before the next chunk, rolls back and raises ImportCancelled. `start_time`
    (Unix s) places files with elapsed time only; default now. A ZIP member larger than
    `max_member_bytes` unpacked is refused (None: no limit).
    """
    name = _experiment_name(name, CatalogError)
    reader = ImportReader(
        path,
        format=format,
        choices=choices,
        start_time=start_time,
        chunk_rows=chunk_rows,
        max_member_bytes=max_member_bytes,
    )

    def report(stage: str) -> None:
        if progress is not None:
            progress(ImportProgress(stage, reader.rows_done, reader.bytes_done, reader.bytes_total))

    def check_cancel() -> None:
        if cancel is not None and cancel.is_set():
            raise ImportCancelled("the import was cancelled: nothing was stored")

    with Session(engine) as session:
        try:
            if session.get(Battery, battery_id) is None:
                raise NotFoundError(f"there is no battery with id {battery_id}")
            if profile_id is not None and session.get(Profile, profile_id) is None:
                raise NotFoundError(f"there is no profile with id {profile_id}")
            experiment = _new_experiment(session, name, description, battery_id, profile_id)
            store = _ChunkStore(session, experiment)
            report("reading")
            for chunk in reader.chunks():
                check_cancel()
                if not reader.problems.total:
                    store.add(chunk)
                report("checking and storing")
            check_cancel()
            reader.finish()
            report("cycle table")
            store.finish(drop_channels=reader.text_channels)
            report("committing")
            session.commit()
            report("done")
            return experiment.id
        except BaseException:
            session.rollback()
            raise


def import_experiment(
    bind: Session | Engine,
    parsed: ParsedExperiment,
    *,
    name: str,
    description: str = "",
    battery_id: int,
) -> int:
    """Store `parsed` as a new FINISHED, imported experiment of `battery_id`; return its id.

    With an Engine the import runs in its own transaction. With a Session it runs in
    the session's transaction and commits it; on failure the session is rolled back.
    """
    name = _experiment_name(name, ExperimentImportError)
    if len(parsed) == 0:
        raise ExperimentImportError("the file has no samples")
    _check_finite(parsed)
    if isinstance(bind, Engine):
        with Session(bind) as session:
            return _import(session, parsed, name, description, battery_id)
    return _import(bind, parsed, name, description, battery_id)


def _experiment_name(name: str, error: type[Exception]) -> str:
    name = name.strip()
    if not name:
        raise error("the experiment needs a name")
    if len(name) > MAX_NAME:
        raise error(f"the experiment name is at most {MAX_NAME} characters")
    return name


def _import(
    session: Session, parsed: ParsedExperiment, name: str, description: str, battery_id: int
) -> int:
    try:
        if session.get(Battery, battery_id) is None:
            raise ExperimentImportError(f"battery {battery_id} does not exist")
        experiment = _new_experiment(session, name, description, battery_id, None)
        store = _ChunkStore(session, experiment)
        store.add(parsed)
        store.finish()
        session.commit()
        return experiment.id
    except BaseException:
        session.rollback()
        raise


def _new_experiment(
    session: Session, name: str, description: str, battery_id: int, profile_id: int | None
) -> Experiment:
    experiment = Experiment(
        name=name,
        description=description,
        battery_id=battery_id,
        profile_id=profile_id,
        status=ExperimentStatus.FINISHED,
        imported=True,
        sample_count=0,
    )
    session.add(experiment)
    session.flush()
    return experiment


class _ChunkStore:
    """Writes the checked chunks of one new experiment, in seq order, in the session's
    transaction: samples, extra values and block summaries per chunk; the cycle table,
    the times and the sample count at the end."""

    def __init__(self, session: Session, experiment: Experiment) -> None:
        self.session = session
        self.experiment = experiment
        self.connection = session.connection()
        self.channels: dict[tuple[str, str], int] = {}
        self.cycles = ImportedCycles(self.connection, experiment.id)
        self.count = 0
        self.first_ts = self.last_ts = float("nan")

    def add(self, chunk: ParsedExperiment) -> None:
        if not len(chunk):
            return
        _check_finite(chunk)
        experiment_id = self.experiment.id
        new = [key for key in chunk.extras if key not in self.channels]
        if new:
            # Channels in the order the file first gives them: the export keeps that order.
            added = [Channel(experiment_id=experiment_id, name=n, unit=u) for n, u in new]
            self.session.add_all(added)
            self.session.flush()
            self.channels.update({key: channel.id for key, channel in zip(new, added, strict=True)})
        samples = chunk.samples
        seq = samples["seq"].to_numpy()
        summaries = SummaryWriter()
        _insert_measurements(self.connection, experiment_id, chunk, summaries)
        for key, values in chunk.extras.items():
            _insert_extra_values(self.connection, self.channels[key], seq, values, summaries)
        summaries.write(self.connection)
        self.cycles.add(
            seq,
            samples["ts"].to_numpy(),
            samples["voltage"].to_numpy(),
            samples["current"].to_numpy(),
            samples["cycle"].to_numpy(dtype=np.int64, na_value=-1),
        )
        if not self.count:
            self.first_ts = chunk.first_ts
        self.count += len(chunk)
        self.last_ts = chunk.last_ts

    def finish(
        self, drop_channels: set[tuple[str, str]] | frozenset[tuple[str, str]] = frozenset()
    ) -> None:
        """The cycle table, and the experiment's times and count. `drop_channels` were
        taken for channels but turned out to be text columns: they hold no values."""
        if not self.count:
            raise ExperimentImportError("the file has no samples")
        self.cycles.store(self.connection)
        dropped = [self.channels[key] for key in drop_channels if key in self.channels]
        if dropped:
            self.connection.execute(delete(Channel).where(Channel.id.in_(dropped)))
            self.session.expire(self.experiment, ["channels"])
        experiment = self.experiment
        experiment.began_at = _utc(self.first_ts)
        experiment.finished_at = _utc(self.last_ts)
        experiment.sample_count = self.count
        experiment.last_sample_at = self.last_ts
        self.session.flush()


def _utc(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC)


def _check_finite(parsed: ParsedExperiment) -> None:
    # The checks guarantee this; a ParsedExperiment built by other code might not, and
    # the fast path writes numbers into SQL text, where only finite numbers are valid.
    for column in ("ts", "voltage", "current", "power"):
        if not np.isfinite(parsed.samples[column].to_numpy(dtype=np.float64)).all():
            raise ExperimentImportError(f"{column} has values that are not finite numbers")
    for (channel, _unit), values in parsed.extras.items():
        if np.isinf(values).any():
            raise ExperimentImportError(f"channel {channel!r} has infinite values")


def _insert_measurements(
    connection: Connection, experiment_id: int, parsed: ParsedExperiment, summaries: SummaryWriter
) -> None:
    samples = parsed.samples
    summaries.add_samples(
        experiment_id,
        samples["seq"].to_numpy(),
        *(samples[name].to_numpy() for name in _FLOAT_FIELDS),
    )
    _insert_rows(
        connection,
        Measurement.__tablename__,
        [
            _Values("experiment_id", np.full(len(samples), experiment_id)),
            _Values("seq", samples["seq"].to_numpy()),
            *(_Values(name, samples[name].to_numpy()) for name in _FLOAT_FIELDS),
            _nullable_ints("instruction", samples["instruction"]),
            _nullable_ints("cycle", samples["cycle"]),
        ],
    )


_FLOAT_FIELDS = ("ts", "voltage", "current", "power")


def _insert_extra_values(
    connection: Connection,
    channel_id: int,
    seq: np.ndarray,
    values: np.ndarray,
    summaries: SummaryWriter,
) -> None:
    # A channel stores only the samples where it has a value.
    present = ~np.isnan(values)
    seq, values = seq[present], values[present]
    summaries.add_channel(channel_id, seq, values)
    _insert_rows(
        connection,
        ExtraValue.__tablename__,
        [
            _Values("channel_id", np.full(len(seq), channel_id)),
            _Values("seq", seq),
            _Values("value", values),
        ],
    )


def _nullable_ints(name: str, series: pd.Series) -> _Values:
    missing = series.isna().to_numpy()
    return _Values(name, series.to_numpy(dtype=np.int64, na_value=0), missing=missing)


@dataclass(frozen=True)
class _Values:
    """A column to insert: its name, its numbers, and which of them are NULL.

    The numbers stay in numpy until a batch is written: Python objects for a whole
    chunk at once would cost far more memory.
    """

    name: str
    numbers: np.ndarray
    missing: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.numbers)

    def python_values(self, start: int, stop: int) -> list[Any]:
        """The values start:stop as Python floats or ints, None where missing."""
        values = self.numbers[start:stop].tolist()
        if self.missing is None or not self.missing[start:stop].any():
            return values
        gaps = self.missing[start:stop].tolist()
        return [None if gap else value for value, gap in zip(values, gaps, strict=True)]


def _insert_rows(connection: Connection, table: str, columns: list[_Values]) -> None:
    names = [column.name for column in columns]
    for start in range(0, len(columns[0]), BATCH_ROWS):
        batch = [column.python_values(start, start + BATCH_ROWS) for column in columns]
        insert_rows(connection, table, names, zip(*batch, strict=True))
