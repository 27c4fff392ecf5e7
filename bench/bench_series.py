"""The experiment graph at 10,000,000 samples on MariaDB: the whole experiment, and zooms.

Targets: the overview in ≤ 300 ms server time with ≤ 5,000 points and a one-sample spike
visible; any zoom in ≤ 300 ms with at least one point per horizontal pixel (1,600 px),
down to the raw samples.

Set-up: one experiment of 10,000,000 samples at 10 Hz (LOAD DATA LOCAL INFILE when the
server allows it), one sample of them a spike, then its block summaries computed as an
import does. Timed: `datastore.series.read_series` for the whole experiment and for
zooms of 50 % down to 0.001 % of it at random places (and on the spike).

Baseline, same run: what the monitor's "whole experiment" view did before summaries, a
MIN/MAX GROUP BY over the samples in the range cut into 1,250 buckets.
"""

from __future__ import annotations

import random
import shutil
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from sqlalchemy import Engine, func, select, update
from werkzeug.serving import make_server

from bench import Benchmark, Result
from bench.support import load_samples, percentile, queue_bench_experiment, scratch_database
from datastore import make_engine
from datastore.models import Experiment, Measurement
from datastore.series import read_series
from datastore.summaries import rebuild_summaries
from domain.status import ExperimentStatus

FULL_SAMPLES = 10_000_000
QUICK_SAMPLES = 1_000_000
RATE_HZ = 10.0
T0 = 1_760_000_000.0
SPIKE_VOLTS = 9.0
TARGET_MS = 300.0
MAX_POINTS = 5_000
PIXELS = 1_600
ZOOM_FRACTIONS = (0.5, 0.1, 0.01, 0.001, 0.0001, 0.00001)
ZOOMS_PER_FRACTION = 5
CHUNK = 1_000_000


def run(quick: bool) -> list[Result]:
    samples = QUICK_SAMPLES if quick else FULL_SAMPLES
    with scratch_database("series") as url:
        engine = make_engine(url)
        try:
            started = time.perf_counter()
            experiment_id, spike_seq = _load(engine, samples)
            print(f"  loaded {samples:,} samples in {time.perf_counter() - started:.1f} s")
            started = time.perf_counter()
            with engine.begin() as connection:
                rebuild_summaries(connection, experiment_id)
            print(f"  summaries computed in {time.perf_counter() - started:.1f} s", flush=True)
            results = _measure(engine, experiment_id, spike_seq, samples)
            page = _page_load(url, experiment_id, samples)
            return results + ([page] if page is not None else [])
        finally:
            engine.dispose()


BENCHMARK = Benchmark(
    name="series",
    description="experiment graph of 10,000,000 samples on MariaDB: overview and zooms",
    run=run,
)


def _load(engine: Engine, samples: int) -> tuple[int, int]:
    """(experiment id, seq of the spike) of a finished experiment with `samples` samples."""
    experiment_id = queue_bench_experiment(engine, "ten million", "CC, 2.5, TIME, 3600\n")
    spike_seq = samples * 7 // 13
    with tempfile.TemporaryDirectory() as folder, engine.begin() as connection:
        for first in range(0, samples, CHUNK):
            table = _frame(first, min(CHUNK, samples - first), spike_seq)
            load_samples(
                connection, experiment_id, table, ["seq", "ts", "voltage", "current", "power"],
                Path(folder),
            )  # fmt: skip
        connection.execute(
            update(Experiment)
            .where(Experiment.id == experiment_id)
            .values(
                status=ExperimentStatus.FINISHED,
                sample_count=samples,
                last_sample_at=T0 + (samples - 1) / RATE_HZ,
            )
        )
        connection.exec_driver_sql("ANALYZE TABLE measurements")
    return experiment_id, spike_seq


def _frame(first: int, count: int, spike_seq: int) -> np.ndarray:
    seq = np.arange(first, first + count)
    rng = np.random.default_rng(first)
    charging = (seq // 36_000) % 2 == 0
    current = np.where(charging, 2.5, -2.5)
    voltage = 3.7 + 0.3 * np.sin(seq / 36_000 * np.pi) + rng.normal(0, 0.002, count)
    voltage[seq == spike_seq] = SPIKE_VOLTS
    return np.column_stack([seq, T0 + seq / RATE_HZ, voltage, current, voltage * current])


def _measure(engine: Engine, experiment_id: int, spike_seq: int, samples: int) -> list[Result]:
    end_ts = T0 + (samples - 1) / RATE_HZ
    with engine.connect() as connection:
        overview_ms, overview = _timed(lambda: read_series(connection, experiment_id))
        baseline_ms, _ = _timed(
            lambda: _group_by(connection, experiment_id, 0, samples - 1, MAX_POINTS // 4)
        )
        spike_seen = bool(np.nanmax(overview.values["voltage"]) == SPIKE_VOLTS)
        rng = random.Random(3)
        zoom_ms: list[float] = []
        zoom_baseline_ms: list[float] = []
        too_few: list[str] = []
        for fraction in ZOOM_FRACTIONS:
            width = (end_ts - T0) * fraction
            starts = [rng.uniform(T0, end_ts - width) for _ in range(ZOOMS_PER_FRACTION)]
            starts.append(T0 + spike_seq / RATE_HZ - width / 2)
            for start in starts:
                elapsed, series = _timed(
                    lambda start=start, width=width: read_series(
                        connection, experiment_id, start, start + width
                    )
                )
                zoom_ms.append(elapsed)
                first = int((start - T0) * RATE_HZ)
                last = min(samples - 1, int((start + width - T0) * RATE_HZ))
                base, _ = _timed(
                    lambda first=first, last=last: _group_by(
                        connection, experiment_id, first, last, MAX_POINTS // 4
                    )
                )
                zoom_baseline_ms.append(base)
                enough = len(series.ts) >= min(PIXELS, series.samples)
                if not enough or len(series.ts) > MAX_POINTS:
                    too_few.append(f"{fraction:g}: {len(series.ts)} points")
    worst = max(zoom_ms)
    return [
        Result(
            what=(
                f"overview of {samples:,} samples: server time ({len(overview.ts):,} points, "
                f"{overview.source}, spike {'visible' if spike_seen else 'LOST'})"
            ),
            figure=overview_ms,
            unit="ms",
            baseline=baseline_ms,
            baseline_what="MIN/MAX GROUP BY over the samples",
            target=f"≤ {TARGET_MS:g} ms, ≤ {MAX_POINTS:,} points, spike visible",
            met=overview_ms <= TARGET_MS and len(overview.ts) <= MAX_POINTS and spike_seen,
        ),
        Result(
            what=(
                f"zoom, worst of {len(zoom_ms)} ({', '.join(f'{f:g}' for f in ZOOM_FRACTIONS)}"
                f" of the experiment; p50 {percentile(zoom_ms, 0.5):.1f} ms)"
            ),
            figure=worst,
            unit="ms",
            baseline=max(zoom_baseline_ms),
            baseline_what=f"GROUP BY over the range, worst (p50 {percentile(zoom_baseline_ms, 0.5):.1f} ms)",
            target=f"≤ {TARGET_MS:g} ms, ≥ 1 point per pixel ({PIXELS} px) or every sample",
            met=worst <= TARGET_MS and not too_few,
        ),
    ]


def _timed(work):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = work()
    return (time.perf_counter() - started) * 1000, result


def _group_by(connection, experiment_id: int, first: int, last: int, buckets: int) -> list:  # type: ignore[no-untyped-def]
    m = Measurement.__table__.c
    width = max(1, -(-(last - first + 1) // buckets))
    bucket = ((m.seq - first) // width).label("bucket")
    return connection.execute(
        select(bucket, func.min(m.ts), func.max(m.ts), func.min(m.voltage), func.max(m.voltage),
               func.min(m.current), func.max(m.current))
        .where(m.experiment_id == experiment_id, m.seq.between(first, last))
        .group_by(bucket)
    ).all()  # fmt: skip


PAGE_TARGET_MS = 1_000.0
PAGE_LOADS = 5
# Chromium compiles Dash's and Plotly's scripts on the first loads and keeps the code
# from the third on, as it does for a user moving between experiments: not counted.
PAGE_WARM_UP = 3


def _page_load(url: str, experiment_id: int, samples: int) -> Result | None:
    """Navigation to the experiment's page until its graph is drawn, in headless Chromium
    against the app served here (skipped when Chromium or Selenium is missing)."""
    try:
        from selenium import webdriver
        from selenium.webdriver.support.wait import WebDriverWait
    except ImportError:
        print("  Selenium is not installed: the page load is not measured")
        return None
    if shutil.which("chromedriver") is None:
        print("  chromedriver is not installed: the page load is not measured")
        return None
    import bootstrap
    from config import load_settings
    from pages.experiment import ids

    # Measures drawing, not signing in.
    settings = load_settings({"BEM_DATABASE_URL": url, "BEM_AUTH_ENABLED": "false"})
    app = bootstrap.web_app(settings, bootstrap.open_store(settings))
    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1600,1000"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options)
    drawn = (
        f"const g = document.querySelector('#{ids.GRAPH} .js-plotly-plot');"
        "return !!(g && g.data && g.data.length && g.data[0].x.length"
        " && g.querySelector('.scatterlayer .trace'));"
    )
    page = f"http://127.0.0.1:{server.server_port}/experiments/{experiment_id}"
    loads_ms: list[float] = []
    try:
        for _ in range(PAGE_WARM_UP + PAGE_LOADS):
            driver.get("about:blank")
            started = time.perf_counter()
            driver.get(page)
            WebDriverWait(driver, 30, poll_frequency=0.01).until(lambda d: d.execute_script(drawn))
            loads_ms.append((time.perf_counter() - started) * 1000)
    finally:
        driver.quit()
        server.shutdown()
    counted = loads_ms[PAGE_WARM_UP:]
    return Result(
        what=(
            f"experiment page of {samples:,} samples: navigation to the graph drawn in "
            f"headless Chromium, worst of {len(counted)} (p50 {percentile(counted, 0.5):,.0f}"
            f" ms; the first, cold loads: {', '.join(f'{t:,.0f}' for t in loads_ms[:PAGE_WARM_UP])} ms)"
        ),
        figure=max(counted),
        unit="ms",
        baseline=None,
        baseline_what="",
        target=f"≤ {PAGE_TARGET_MS:,.0f} ms",
        met=max(counted) <= PAGE_TARGET_MS,
    )
