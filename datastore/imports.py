"""Storing an imported experiment: one FINISHED experiment, its channels and all its samples.

Everything goes in one transaction, so a failure stores nothing. Samples are
inserted in batches without ORM objects, through `datastore.bulk.insert_rows` (on
MariaDB a Core executemany of 1,000,000 rows took 18 s, over the 15 s budget of
docs/performance.md; multi-row VALUES text takes half of that). The block summaries
that draw long experiments quickly and the cycle table are written in the same
transaction.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from datastore.bulk import insert_rows
from datastore.cycles import store_cycles
from datastore.models import Battery, Channel, Experiment, ExtraValue, Measurement
from datastore.summaries import SummaryWriter
from domain.csvformat import CsvImportError, CsvProblem, ParsedExperiment, parse_csv
from domain.importing import (
    ColumnChoice,
    ImportFileError,
    ImportProgress,
    ProgressCallback,
    format_of,
)
from domain.status import ExperimentStatus

BATCH_ROWS = 10_000
MAX_NAME = 200  # Experiment.name


class ExperimentImportError(ValueError):
    """The parsed experiment cannot be stored (unknown battery, bad name, no samples...)."""


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
    name = name.strip()
    if not name:
        raise ExperimentImportError("the experiment needs a name")
    if len(name) > MAX_NAME:
        raise ExperimentImportError(f"the experiment name is at most {MAX_NAME} characters")
    if len(parsed) == 0:
        raise ExperimentImportError("the file has no samples")
    _check_finite(parsed)
    if isinstance(bind, Engine):
        with Session(bind) as session:
            return _import(session, parsed, name, description, battery_id)
    return _import(bind, parsed, name, description, battery_id)


def _import(
    session: Session, parsed: ParsedExperiment, name: str, description: str, battery_id: int
) -> int:
    try:
        if session.get(Battery, battery_id) is None:
            raise ExperimentImportError(f"battery {battery_id} does not exist")
        experiment = Experiment(
            name=name,
            description=description,
            battery_id=battery_id,
            status=ExperimentStatus.FINISHED,
            imported=True,
            began_at=_utc(parsed.first_ts),
            finished_at=_utc(parsed.last_ts),
            sample_count=len(parsed),
            last_sample_at=parsed.last_ts,
        )
        session.add(experiment)
        channels = [Channel(name=channel, unit=unit) for channel, unit in parsed.extras]
        experiment.channels = channels
        session.flush()
        connection = session.connection()
        summaries = SummaryWriter()
        _insert_measurements(connection, experiment.id, parsed, summaries)
        for channel, values in zip(channels, parsed.extras.values(), strict=True):
            _insert_extra_values(connection, channel.id, values, summaries)
        summaries.write(connection)
        samples = parsed.samples
        store_cycles(
            connection,
            experiment.id,
            samples["seq"].to_numpy(),
            samples["ts"].to_numpy(),
            samples["voltage"].to_numpy(),
            samples["current"].to_numpy(),
            _cycle_column(samples["cycle"]),
        )
        session.commit()
        return experiment.id
    except BaseException:
        session.rollback()
        raise


def _cycle_column(series: pd.Series) -> list[int | None] | None:
    """The file's cycle numbers (None where a row has none), or None for no cycle column."""
    if series.isna().all():
        return None
    return [None if value is pd.NA else int(value) for value in series]


def _utc(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC)


def _check_finite(parsed: ParsedExperiment) -> None:
    # parse_csv guarantees this; a ParsedExperiment built by other code might not, and
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
    connection: Connection, channel_id: int, values: np.ndarray, summaries: SummaryWriter
) -> None:
    # A channel stores only the samples where it has a value.
    present = np.flatnonzero(~np.isnan(values))
    summaries.add_channel(channel_id, present, values[present])
    _insert_rows(
        connection,
        ExtraValue.__tablename__,
        [
            _Values("channel_id", np.full(len(present), channel_id)),
            _Values("seq", present),
            _Values("value", values[present]),
        ],
    )


def _nullable_ints(name: str, series: pd.Series) -> _Values:
    missing = series.isna().to_numpy()
    return _Values(name, series.to_numpy(dtype=np.int64, na_value=0), missing=missing)


@dataclass(frozen=True)
class _Values:
    """A column to insert: its name, its numbers, and which of them are NULL.

    The numbers stay in numpy until a batch is written: Python objects for a million
    rows at once would cost hundreds of MiB.
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


class ImportCancelled(Exception):
    """The import was cancelled before it finished; nothing was stored."""


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
) -> int:
    """Read, check and store the file in one transaction; return the new experiment's id."""
    key = format_of(os.fspath(path), format)
    if key != "csv":
        raise ImportFileError([CsvProblem(f"{key}: not readable yet")])
    total = os.path.getsize(path)

    def report(stage: str, rows: int, done: int) -> None:
        if cancel is not None and cancel.is_set():
            raise ImportCancelled("the import was cancelled")
        if progress is not None:
            progress(ImportProgress(stage, rows, done, total))

    report("reading", 0, 0)
    content = _apply_choices(Path(path).read_bytes(), choices)
    try:
        parsed = parse_csv(content, start_time=start_time)
    except CsvImportError as error:
        raise ImportFileError(error.problems, error.total) from error
    for channel in [channel for channel in parsed.extras if channel[0].startswith(_IGNORED)]:
        del parsed.extras[channel]
    report("checking and storing", len(parsed), total)
    experiment_id = import_experiment(
        engine, parsed, name=name, description=description, battery_id=battery_id
    )
    if profile_id is not None:
        with Session(engine) as session, session.begin():
            experiment = session.get(Experiment, experiment_id)
            assert experiment is not None
            experiment.profile_id = profile_id
    if progress is not None:
        progress(ImportProgress("done", len(parsed), total, total))
    return experiment_id


_IGNORED = "__ignored__ "


def _apply_choices(content: bytes, choices: Sequence[ColumnChoice]) -> bytes:
    if not choices:
        return content
    by_source = {choice.source: choice for choice in choices}
    end = content.find(b"\n")
    header = content[: end if end >= 0 else len(content)].rstrip(b"\r").decode("utf-8")
    delimiter = max((",", ";", "\t"), key=header.count)
    headers = next(csv.reader([header], delimiter=delimiter))
    renamed = []
    for column in headers:
        choice = by_source.get(column.strip())
        if choice is None:
            renamed.append(column)
        elif choice.ignore:
            renamed.append(f"{_IGNORED}{column.strip()}")
        else:
            renamed.append(choice.label or column)
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\n").writerow(renamed)
    return buffer.getvalue().encode("utf-8") + (content[end + 1 :] if end >= 0 else b"")
