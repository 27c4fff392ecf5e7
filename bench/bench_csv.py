"""CSV export and import of 1,000,000 samples on MariaDB (docs/performance.md).

Export: `datastore.export.write_experiment_csv` to a file, timed, then run again
under tracemalloc for its peak memory; baseline: the obvious way, pandas.read_sql of
the whole experiment then DataFrame.to_csv. Import: `datastore.imports.import_file` of a
BDF file (read, checked and stored in chunks, one transaction); baseline: one INSERT and
COMMIT per row (what the original system did), timed on 5,000 rows and extrapolated.
The import's memory at 10,000,000 rows is `bench_import10m`.

The server comes from BEM_BENCH_DATABASE_URL (default: root on 127.0.0.1:3306); the
benchmark works in a scratch database `bem_bench` that it creates and drops.
"""

from __future__ import annotations

import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, insert, text
from sqlalchemy.orm import Session

from bench import Benchmark, Result
from bench.support import add_bench_battery, scratch_database
from datastore import make_engine
from datastore.export import write_experiment_csv
from datastore.imports import import_file
from datastore.models import Experiment, Measurement
from domain.csvformat import (
    ParsedExperiment,
    export_rows,
    format_csv_rows,
    write_csv_header,
)
from domain.status import ExperimentStatus

FULL_ROWS = 1_000_000
QUICK_ROWS = 50_000
BASELINE_INSERT_ROWS = 5_000
EXPORT_SECONDS_PER_MILLION = 5.0
IMPORT_SECONDS_PER_MILLION = 15.0
EXPORT_MEMORY_LIMIT_MIB = 64.0
WRITE_CHUNK_ROWS = 20_000


def run(quick: bool) -> list[Result]:
    rows = QUICK_ROWS if quick else FULL_ROWS
    with _scratch_database() as engine, tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "source.csv"
        write_sample_file(source, rows)
        battery_id = add_bench_battery(engine)

        import_seconds, experiment_id = _timed(
            lambda: import_file(engine, source, name="bench import", battery_id=battery_id)
        )
        per_row_seconds = _one_insert_per_row_seconds(engine, battery_id, BASELINE_INSERT_ROWS)

        exported = Path(folder) / "export.csv"
        export_seconds, _ = _timed(lambda: _export(engine, experiment_id, exported))
        export_peak = _peak_mib(lambda: _export(engine, experiment_id, exported))
        pandas_seconds, _ = _timed(lambda: _export_with_pandas(engine, experiment_id, exported))
        pandas_peak = _peak_mib(lambda: _export_with_pandas(engine, experiment_id, exported))

    scale = rows / FULL_ROWS
    export_limit = EXPORT_SECONDS_PER_MILLION * scale
    import_limit = IMPORT_SECONDS_PER_MILLION * scale
    return [
        Result(
            what=f"CSV export of {rows:,} samples from MariaDB, streamed to a file",
            figure=export_seconds,
            unit="s",
            baseline=pandas_seconds,
            baseline_what="pandas.read_sql of the experiment, then to_csv",
            target=f"≤ {export_limit:g} s ({EXPORT_SECONDS_PER_MILLION:g} s per 1,000,000)",
            met=export_seconds <= export_limit,
        ),
        Result(
            what=f"CSV export of {rows:,} samples: peak Python memory growth",
            figure=export_peak,
            unit="MiB",
            baseline=pandas_peak,
            baseline_what="pandas.read_sql then to_csv, same samples",
            target=f"bounded: ≤ {EXPORT_MEMORY_LIMIT_MIB:g} MiB whatever the length",
            met=export_peak <= EXPORT_MEMORY_LIMIT_MIB,
        ),
        Result(
            what=f"CSV import of {rows:,} rows into MariaDB (parse, check, store)",
            figure=import_seconds,
            unit="s",
            baseline=per_row_seconds * rows,
            baseline_what=(
                f"one INSERT + COMMIT per row, {BASELINE_INSERT_ROWS:,} rows extrapolated"
            ),
            target=f"≤ {import_limit:g} s ({IMPORT_SECONDS_PER_MILLION:g} s per 1,000,000)",
            met=import_seconds <= import_limit,
        ),
    ]


BENCHMARK = Benchmark(
    name="csv",
    description="CSV export and import of 1,000,000 samples on MariaDB (docs/performance.md)",
    run=run,
)


@contextmanager
def _scratch_database() -> Iterator[Engine]:
    """A migrated, empty database on the benchmark server, dropped afterwards."""
    with scratch_database("csv") as url:
        engine = make_engine(url)
        try:
            yield engine
        finally:
            engine.dispose()


def _synthetic_experiment(rows: int, start: int = 0) -> ParsedExperiment:
    """Cycling-like samples `start`... of a long run: 10 Hz, a voltage that drifts with
    the current, 20 steps."""
    rng = np.random.default_rng(2024 + start)
    index = np.arange(start, start + rows)
    current = np.where((index // 36_000) % 2 == 0, 2.5, -2.5)
    current = current + rng.normal(0, 0.01, rows)
    voltage = 3.7 + 0.3 * np.sin(index / 50_000) + rng.normal(0, 0.002, rows)
    samples = pd.DataFrame(
        {
            "seq": index,
            "ts": FIRST_TS + index * 0.1 + rng.uniform(0, 0.001, rows),
            "voltage": voltage,
            "current": current,
            "power": voltage * current,
            "instruction": pd.array((index // 50_000) % 20 + 1, dtype="Int64"),
            "cycle": pd.array(index // 72_000, dtype="Int64"),
        }
    )
    return ParsedExperiment(samples)


FIRST_TS = 1_760_000_000.0
_WRITE_ROWS = 100_000


def write_sample_file(path: Path, rows: int) -> None:
    """A BDF CSV file of `rows` synthetic samples, written 100,000 rows at a time."""
    with path.open("w", encoding="utf-8") as file:
        file.write(write_csv_header())
        for start in range(0, rows, _WRITE_ROWS):
            part = _synthetic_experiment(min(_WRITE_ROWS, rows - start), start)
            file.write(format_csv_rows(export_rows(part), first_ts=FIRST_TS))


def _one_insert_per_row_seconds(engine: Engine, battery_id: int, rows: int) -> float:
    """Seconds per row when each sample is its own INSERT and COMMIT."""
    with Session(engine) as session:
        experiment = Experiment(
            name="bench baseline", battery_id=battery_id, status=ExperimentStatus.FINISHED
        )
        session.add(experiment)
        session.commit()
        experiment_id = experiment.id
    statement = insert(Measurement)
    started = time.perf_counter()
    with engine.connect() as connection:
        for seq in range(rows):
            connection.execute(
                statement,
                {
                    "experiment_id": experiment_id,
                    "seq": seq,
                    "ts": 1_760_000_000.0 + seq * 0.1,
                    "voltage": 3.7,
                    "current": 2.5,
                    "power": 9.25,
                    "instruction": 1,
                },
            )
            connection.commit()
    return (time.perf_counter() - started) / rows


def _export(engine: Engine, experiment_id: int, path: Path) -> None:
    with path.open("w", encoding="utf-8") as file:
        write_experiment_csv(engine, experiment_id, file)


def _export_with_pandas(engine: Engine, experiment_id: int, path: Path) -> None:
    query = text(
        "SELECT ts, voltage, current, power, instruction, cycle FROM measurements"
        " WHERE experiment_id = :experiment_id ORDER BY seq"
    )
    with engine.connect() as connection:
        frame = pd.read_sql(query, connection, params={"experiment_id": experiment_id})
    frame.insert(0, "Test Time / s", frame["ts"] - frame["ts"].iloc[0])
    frame.to_csv(path, index=False)


def _timed(action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    outcome = action()
    return time.perf_counter() - started, outcome


def _peak_mib(action: Callable[[], Any]) -> float:
    """Peak growth of Python-allocated memory (numpy included) while `action` runs."""
    tracemalloc.start()
    try:
        action()
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 2**20
