"""The cycle table of a 10,000,000-sample experiment on MariaDB: read, and kept current.

Target: reading the cycle table of a 10,000,000-sample experiment in ≤ 100 ms, the table
kept current by ingest and import.

Set-up: one experiment of 10,000,000 samples at 1 Hz cycling 2.5 A for half an hour each
way, its cycle numbers from the profile (2,778 cycles: a long cycle-life test), loaded
with LOAD DATA LOCAL INFILE when the server allows it. Its cycle table is then computed
from the samples, as an upgrade does for data stored before the table existed.

Timed: `datastore.cycles.experiment_cycles`, 20 reads of the whole table, and how long
the table takes to follow a batch of 2,000 new samples (what ingest adds to each batch).
Baseline, same run: computing the table from the samples (`rebuild_cycles`), which is
what a page would have to do without the stored table.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
from sqlalchemy import Engine, update

from bench import Benchmark, Result
from bench.support import load_samples, percentile, queue_bench_experiment, scratch_database
from datastore import make_engine
from datastore.cycles import NewSamples, advance_cycles_of, experiment_cycles, rebuild_cycles
from datastore.models import Experiment
from domain.status import ExperimentStatus

FULL_SAMPLES = 10_000_000
QUICK_SAMPLES = 1_000_000
HALF_CYCLE = 1_800  # samples (seconds) each way
T0 = 1_760_000_000.0
TARGET_MS = 100.0
READS = 20
BATCH = 2_000
BATCHES = 10
CHUNK = 1_000_000
COLUMNS = ["seq", "ts", "voltage", "current", "power", "cycle"]


def run(quick: bool) -> list[Result]:
    samples = QUICK_SAMPLES if quick else FULL_SAMPLES
    with scratch_database("cycles") as url:
        engine = make_engine(url)
        try:
            started = time.perf_counter()
            experiment_id = _load(engine, samples)
            print(f"  loaded {samples:,} samples in {time.perf_counter() - started:.1f} s")
            started = time.perf_counter()
            with engine.begin() as connection:
                rebuild_cycles(connection, experiment_id)
            rebuild_ms = (time.perf_counter() - started) * 1000
            print(f"  cycle table computed in {rebuild_ms / 1000:.1f} s", flush=True)
            return _measure(engine, experiment_id, samples, rebuild_ms)
        finally:
            engine.dispose()


BENCHMARK = Benchmark(
    name="cycles",
    description="cycle table of a 10,000,000-sample experiment on MariaDB: read and kept current",
    run=run,
)


def _load(engine: Engine, samples: int) -> int:
    experiment_id = queue_bench_experiment(
        engine, "ten million", "REPEAT 3\n  CC, 2.5, TIME, 1800\n  CC, -2.5, TIME, 1800\nEND\n"
    )
    with tempfile.TemporaryDirectory() as folder, engine.begin() as connection:
        for first in range(0, samples, CHUNK):
            table = _frame(first, min(CHUNK, samples - first))
            load_samples(connection, experiment_id, table, COLUMNS, Path(folder))
        connection.execute(
            update(Experiment)
            .where(Experiment.id == experiment_id)
            .values(
                status=ExperimentStatus.RUNNING,
                sample_count=samples,
                last_sample_at=T0 + samples - 1,
            )
        )
        connection.exec_driver_sql("ANALYZE TABLE measurements")
    return experiment_id


def _frame(first: int, count: int) -> np.ndarray:
    seq = np.arange(first, first + count)
    rng = np.random.default_rng(first)
    charging = (seq // HALF_CYCLE) % 2 == 0
    current = np.where(charging, 2.5, -2.5) + rng.normal(0, 0.005, count)
    phase = (seq % HALF_CYCLE) / HALF_CYCLE
    voltage = np.where(charging, 3.5 + 0.6 * phase, 4.1 - 0.6 * phase) + rng.normal(0, 0.001, count)
    cycle = seq // (2 * HALF_CYCLE) + 1
    return np.column_stack([seq, T0 + seq, voltage, current, voltage * current, cycle])


def _measure(engine: Engine, experiment_id: int, samples: int, rebuild_ms: float) -> list[Result]:
    read_ms: list[float] = []
    for _ in range(READS):
        started = time.perf_counter()
        cycles = experiment_cycles(engine, experiment_id)
        read_ms.append((time.perf_counter() - started) * 1000)
    follow_ms: list[float] = []
    for batch in range(BATCHES):
        table = _frame(samples + batch * BATCH, BATCH)
        with tempfile.TemporaryDirectory() as folder, engine.begin() as connection:
            load_samples(connection, experiment_id, table, COLUMNS, Path(folder))
            new = NewSamples(
                seq=table[:, 0].astype(int).tolist(),
                ts=table[:, 1].tolist(),
                voltage=table[:, 2].tolist(),
                current=table[:, 3].tolist(),
                cycle=table[:, 5].astype(int).tolist(),
            )
            started = time.perf_counter()
            advance_cycles_of(connection, {experiment_id: new})
            follow_ms.append((time.perf_counter() - started) * 1000)
    after = experiment_cycles(engine, experiment_id)
    complete = len(cycles) == _cycles_in(samples) and len(after) == _cycles_in(
        samples + BATCHES * BATCH
    )
    worst = max(read_ms)
    return [
        Result(
            what=(
                f"cycle table of {samples:,} samples ({len(cycles):,} cycles): read, worst of "
                f"{READS} (p50 {percentile(read_ms, 0.5):.1f} ms)"
            ),
            figure=worst,
            unit="ms",
            baseline=rebuild_ms,
            baseline_what="computing the table from the samples",
            target=f"≤ {TARGET_MS:g} ms, every cycle there",
            met=worst <= TARGET_MS and complete,
        ),
        Result(
            what=f"keeping it current: one batch of {BATCH:,} new samples, worst of {BATCHES}",
            figure=max(follow_ms),
            unit="ms",
            baseline=None,
            baseline_what="",
            target="kept current by ingest (no target of its own)",
            met=None,
        ),
    ]


def _cycles_in(samples: int) -> int:
    return (samples - 1) // (2 * HALF_CYCLE) + 1
