"""Live monitor refresh with 10 stations running, 1,000,000 samples each, on MariaDB
(target: ≤ 50 ms server time p95, only new points sent).

Set-up: a scratch database with 10 running experiments (a 400-step profile each) of
1,000,000 samples at 10 Hz, loaded with LOAD DATA LOCAL INFILE when the server allows
it (executemany batches otherwise). Then, for ~100 refresh rounds, each experiment
gets 5 s worth of new samples through the ingest code, as the node writes them, and
each station's monitor refreshes: `pages.monitor.panels.refresh_outputs`, the
whole body of the page's refresh callback, plus the JSON encoding Dash does. Timed:
the server time per refresh (p50, p95) and the bytes of each JSON response.

Baseline, same run: the obvious monitor, which re-reads the whole 5-minute window on
every refresh and sends a new figure. Also reported: a first page load (5 minutes and
whole experiment), and the overview's refresh over the 10 stations.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from plotly.io.json import to_json_plotly
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from bench import Benchmark, Result
from components.station_card import station_grid
from components.vi_figure import TraceDef, build_figure
from config import default_settings
from datastore import catalog, ingest, make_engine, upgrade
from datastore import telemetry as store
from datastore.summaries import rebuild_summaries
from domain.status import ExperimentStatus
from pages.monitor.panels import refresh_outputs

# The site's caps on a profile's expanded steps and its start command's bytes.
MAX_STEPS = default_settings().profiles.max_steps
MAX_START_BYTES = default_settings().node.max_payload_bytes

SERVER_URL = os.environ.get("BEM_BENCH_DATABASE_URL", "mysql+pymysql://root@127.0.0.1:3306/")
STATIONS = 10
FULL_SAMPLES = 1_000_000
QUICK_SAMPLES = 100_000
ROUNDS = 100
QUICK_ROUNDS = 30
RATE_HZ = 10.0
REFRESH_S = 5.0  # the default refresh period: 50 new samples per station per round
WINDOW_S = 300
TARGET_P95_MS = 50.0
TIMEOUT_S = 15.0
T0 = 1_760_000_000.0
PROFILE = """\
REPEAT 100
    CC, 2.5, VOLTAGE, 4.2
    CV, 4.2, CURRENT, 0.1
    WAIT, 600
    CC, -2.5, VOLTAGE, 3.0
END
"""


def run(quick: bool) -> list[Result]:
    samples = QUICK_SAMPLES if quick else FULL_SAMPLES
    rounds = QUICK_ROUNDS if quick else ROUNDS
    with _scratch_database() as engine:
        load_started = time.perf_counter()
        stations = _load_lab(engine, samples)
        load_s = time.perf_counter() - load_started
        print(f"  loaded {STATIONS} × {samples:,} samples in {load_s:.1f} s", flush=True)
        measured = _measure(engine, stations, samples, rounds)

    per_round_samples = int(RATE_HZ * REFRESH_S)
    p50, p95 = np.percentile(measured["refresh_ms"], [50, 95])
    base_p50, base_p95 = np.percentile(measured["baseline_ms"], [50, 95])
    bytes_p50 = float(np.percentile(measured["refresh_bytes"], 50))
    base_bytes = float(np.percentile(measured["baseline_bytes"], 50))
    only_new = all(points == 2 * per_round_samples for points in measured["points_sent"])
    overview_p50, overview_p95 = np.percentile(measured["overview_ms"], [50, 95])
    scale = f"{STATIONS} stations × {samples:,} samples, {len(measured['refresh_ms'])} refreshes"
    return [
        Result(
            what=f"monitor refresh, server time p95 ({scale}; p50 {p50:.1f} ms)",
            figure=float(p95),
            unit="ms",
            baseline=float(base_p95),
            baseline_what=f"re-read the 5-minute window each refresh, p95 (p50 {base_p50:.1f} ms)",
            target=f"≤ {TARGET_P95_MS:g} ms p95",
            met=bool(p95 <= TARGET_P95_MS),
        ),
        Result(
            what=(
                f"bytes sent per refresh, p50 ({per_round_samples} new samples × 2 traces; "
                f"max {max(measured['refresh_bytes']):,})"
            ),
            figure=bytes_p50,
            unit="B",
            baseline=base_bytes,
            baseline_what="a new figure with the 5-minute window each refresh",
            target="only new points sent",
            met=only_new,
        ),
        Result(
            what="first page load, 5-minute window (median of the 10 stations)",
            figure=measured["open_window_ms"],
            unit="ms",
            baseline=None,
            baseline_what="",
            target="-",
            met=None,
        ),
        Result(
            what=f"first page load, whole experiment ({samples:,} samples → ≤ 5,000 points)",
            figure=measured["open_whole_ms"],
            unit="ms",
            baseline=None,
            baseline_what="",
            target="-",
            met=None,
        ),
        Result(
            what=f"overview refresh ({STATIONS} station cards), p95 (p50 {overview_p50:.1f} ms)",
            figure=float(overview_p95),
            unit="ms",
            baseline=None,
            baseline_what="",
            target="-",
            met=None,
        ),
    ]


BENCHMARK = Benchmark(
    name="monitor",
    description=(
        "live monitor refresh, 10 stations running with 1,000,000 samples each, on MariaDB"
    ),
    run=run,
)


# ---------------------------------------------------------------- set-up


@contextmanager
def _scratch_database() -> Iterator[Engine]:
    """A migrated scratch database on the benchmark server, dropped afterwards."""
    server = make_url(SERVER_URL)
    name = f"bem_bench_monitor_{uuid.uuid4().hex[:6]}"
    admin = make_engine(server.set(database="").render_as_string(hide_password=False))
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    engine = make_engine(
        server.set(database=name).render_as_string(hide_password=False),
        connect_args={"local_infile": True},
    )
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()


def _load_lab(engine: Engine, samples: int) -> list[tuple[int, int]]:
    """(station id, experiment id) of 10 running experiments with `samples` samples each."""
    began = dt.datetime.fromtimestamp(T0, dt.UTC)
    pairs = []
    with Session(engine) as session, session.begin():
        battery = catalog.create_battery(
            session,
            name="bench cell",
            technology="lithium-ion",
            voltage_min=2.5,
            voltage_max=4.2,
            current_min=-5.0,
            current_max=5.0,
            nominal_capacity_ah=2.5,
        )
        profile = catalog.create_profile(
            session,
            name="bench cycling",
            source=PROFILE,
            max_steps=MAX_STEPS,
            max_start_bytes=MAX_START_BYTES,
        )
        for index in range(STATIONS):
            station = catalog.create_station(
                session,
                name=f"ch{index + 1}",
                voltage_min=0,
                voltage_max=5,
                current_min=-10,
                current_max=10,
                unit_name="bench unit",
            )
            experiment = catalog.queue_experiment(
                session,
                name=f"bench run {index + 1}",
                battery_id=battery.id,
                station_id=station.id,
                profile_id=profile.id,
                max_steps=MAX_STEPS,
                max_start_bytes=MAX_START_BYTES,
            )
            pairs.append((station.id, experiment))
        session.flush()
        pairs = [(station_id, experiment.id) for station_id, experiment in pairs]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "samples.csv"
        _samples_frame(0, samples).to_csv(path, header=False, index=False)
        with engine.begin() as connection:
            local_infile = _local_infile_allowed(connection)
            for station_id, experiment_id in pairs:
                if local_infile:
                    connection.exec_driver_sql(
                        f"LOAD DATA LOCAL INFILE '{path}' INTO TABLE measurements "
                        "FIELDS TERMINATED BY ',' LINES TERMINATED BY '\\n' "
                        "(seq, ts, voltage, current, power, instruction, cycle, mode) "
                        f"SET experiment_id = {int(experiment_id)}"
                    )
                else:
                    _insert_in_batches(connection, experiment_id, samples)
                ingest.set_status(
                    connection, experiment_id, ExperimentStatus.RUNNING, began, set_began=True
                )
                connection.exec_driver_sql(
                    "UPDATE experiments SET sample_count = %s, last_sample_at = %s WHERE id = %s",
                    (samples, T0 + (samples - 1) / RATE_HZ, experiment_id),
                )
                ingest.record_heartbeat(
                    connection, station_id, dt.datetime.now(dt.UTC), "running", experiment_id
                )
        with engine.begin() as connection:
            # As the node keeps them while samples arrive (LOAD DATA bypasses it).
            for _station_id, experiment_id in pairs:
                rebuild_summaries(connection, experiment_id)
            connection.exec_driver_sql("ANALYZE TABLE measurements")
    return pairs


def _local_infile_allowed(connection: Any) -> bool:
    value = connection.exec_driver_sql("SELECT @@local_infile").scalar()
    return str(value) in ("1", "ON")


def _samples_frame(first_seq: int, count: int) -> pd.DataFrame:
    """Cycling-like samples at 10 Hz: hour-long charge and discharge, noise, steps 1..400."""
    seq = np.arange(first_seq, first_seq + count)
    rng = np.random.default_rng(first_seq)
    charging = (seq // 36_000) % 2 == 0
    current = np.where(charging, 2.5, -2.5) + rng.normal(0, 0.01, count)
    voltage = 3.7 + 0.3 * np.sin(seq / 36_000 * np.pi) + rng.normal(0, 0.002, count)
    step = (seq // 2_500) % 400 + 1
    return pd.DataFrame(
        {
            "seq": seq,
            "ts": T0 + seq / RATE_HZ,
            "voltage": voltage,
            "current": current,
            "power": voltage * current,
            "instruction": step,
            "cycle": (step - 1) // 4 + 1,
            "mode": "CC",
        }
    )


def _sample_rows(frame: pd.DataFrame) -> list[ingest.SampleRow]:
    # The frame's columns are SampleRow's fields, in order.
    return list(map(ingest.SampleRow._make, frame.itertuples(index=False, name=None)))


def _insert_in_batches(connection: Any, experiment_id: int, samples: int) -> None:
    for start in range(0, samples, 100_000):
        frame = _samples_frame(start, min(100_000, samples - start))
        rows = _sample_rows(frame)
        for batch in range(0, len(rows), 2_000):
            ingest.insert_samples(connection, experiment_id, rows[batch : batch + 2_000])


# ---------------------------------------------------------------- measurement


def _measure(
    engine: Engine, stations: list[tuple[int, int]], samples: int, rounds: int
) -> dict[str, Any]:
    views: dict[int, Any] = {}
    measured: dict[str, Any] = {
        "refresh_ms": [],
        "refresh_bytes": [],
        "points_sent": [],
        "baseline_ms": [],
        "baseline_bytes": [],
        "overview_ms": [],
    }
    with engine.connect() as connection:
        # First page loads (views kept for the live rounds).
        opening = []
        for station_id, _experiment_id in stations:
            started = time.perf_counter()
            out, _body = _callback(connection, station_id, None, WINDOW_S)
            opening.append((time.perf_counter() - started) * 1000)
            views[station_id] = out["view"]
        measured["open_window_ms"] = float(np.median(opening))
        started = time.perf_counter()
        _callback(connection, stations[0][0], None, 0)
        measured["open_whole_ms"] = (time.perf_counter() - started) * 1000
        connection.commit()

    next_seq = samples
    per_round = int(RATE_HZ * REFRESH_S)
    for _round in range(rounds):
        # The node's writes: 5 s worth of samples for every running experiment.
        with engine.begin() as connection:
            rows = _sample_rows(_samples_frame(next_seq, per_round))
            for _station_id, experiment_id in stations:
                ingest.insert_samples(connection, experiment_id, rows)
        next_seq += per_round
        with engine.connect() as connection:
            for station_id, experiment_id in stations:
                started = time.perf_counter()
                out, body = _callback(connection, station_id, views[station_id], WINDOW_S)
                measured["refresh_ms"].append((time.perf_counter() - started) * 1000)
                measured["refresh_bytes"].append(len(body))
                measured["points_sent"].append(_points_in(out["figure"]))
                views[station_id] = out["view"]

                started = time.perf_counter()
                body = _baseline(connection, experiment_id)
                measured["baseline_ms"].append((time.perf_counter() - started) * 1000)
                measured["baseline_bytes"].append(len(body))
            started = time.perf_counter()
            _overview(connection)
            measured["overview_ms"].append((time.perf_counter() - started) * 1000)
            connection.commit()  # a new snapshot for the next round (REPEATABLE READ)
    return measured


def _callback(
    connection: Any, station_id: int, view: Any, window_s: int
) -> tuple[dict[str, Any], str]:
    """The refresh callback's work and its JSON response."""
    out = refresh_outputs(
        connection,
        station_id,
        view,
        window_s=window_s,
        extra_keys=[],
        follow=True,
        timeout_s=TIMEOUT_S,
        now=dt.datetime.now(dt.UTC),
    )
    return out, _encode(out)


def _encode(out: dict[str, Any]) -> str:
    """The JSON Dash would send: every output that changed."""
    changed = {key: value for key, value in out.items() if not _is_no_update(value)}
    return to_json_plotly({"multi": True, "response": changed})


def _is_no_update(value: Any) -> bool:
    return type(value).__name__ == "NoUpdate"


def _points_in(figure: Any) -> int:
    """How many y values a patch adds (or a figure holds)."""
    if isinstance(figure, dict):
        return sum(len(trace["y"]) for trace in figure["data"])
    operations = figure.to_plotly_json()["operations"]
    return sum(
        len(op["params"]["value"])
        for op in operations
        if op["location"][-1] == "y" and op["location"][0] == "data"
    )


def _baseline(connection: Any, experiment_id: int) -> str:
    """The naive refresh: read the whole window again and send a whole new figure."""
    last = connection.exec_driver_sql(
        "SELECT MAX(ts) FROM measurements WHERE experiment_id = %s", (experiment_id,)
    ).scalar()
    block = store.samples_in_window(connection, experiment_id, last - WINDOW_S, last)
    traces = [TraceDef("voltage", "Voltage", "V", "y"), TraceDef("current", "Current", "A", "y2")]
    series = {"voltage": (block.ts, block.voltage), "current": (block.ts, block.current)}
    figure = build_figure(traces, series, [(last - WINDOW_S) * 1000, last * 1000], experiment_id)
    return to_json_plotly({"multi": True, "response": {"figure": figure}})


def _overview(connection: Any) -> str:
    stations = store.station_overview(connection)

    def plan_of(station: Any) -> Any:
        experiment = station.experiment
        return store.step_plan(connection, experiment.id, experiment.created_at)

    grid = station_grid(stations, plan_of, dt.datetime.now(dt.UTC), TIMEOUT_S, "overview")
    return to_json_plotly(grid)
