"""The experiments table with 10,000 experiments on MariaDB: filter, sort and one page.

Target: ≤ 100 ms per query. Set-up: 10,000 experiments over 40 batteries, 12 stations and
8 profiles, each with the expanded steps of a 400-step profile stored (about 44 KB, as a
real cycling profile has), in every status. Timed: `experiment_page` (the page's rows
and the count of all matches) for a set of views: the default (newest first), a text
search, filters by status, technology, station and date range, and sorts by each
column, on the first and on a far page.

Baseline, same run: what the table did before, reading every experiment with all its
columns (steps included) and sending them all to the browser.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import time
from typing import Any

from sqlalchemy import Engine, insert, select
from sqlalchemy.orm import Session

from bench import Benchmark, Result
from bench.support import percentile, scratch_database
from config import default_settings
from datastore import catalog, make_engine
from datastore.experiment_table import experiment_page
from datastore.models import Battery, Experiment, Profile, Station
from domain.experiment_filter import SORT_COLUMNS, ExperimentFilter, TableView
from domain.status import ExperimentStatus

FULL = 10_000
QUICK = 1_000
TARGET_MS = 100.0
MAX_STEPS = default_settings().profiles.max_steps
MAX_START_BYTES = default_settings().node.max_payload_bytes
PROFILE = """\
REPEAT 100
    CC, 2.5, VOLTAGE, 4.2
    CV, 4.2, CURRENT, 0.1
    WAIT, 600
    CC, -2.5, VOLTAGE, 3.0
END
"""


def run(quick: bool) -> list[Result]:
    count = QUICK if quick else FULL
    with scratch_database("experiments") as url:
        engine = make_engine(url)
        try:
            started = time.perf_counter()
            stations = _load(engine, count)
            print(f"  stored {count:,} experiments in {time.perf_counter() - started:.1f} s")
            return _measure(engine, count, stations)
        finally:
            engine.dispose()


BENCHMARK = Benchmark(
    name="experiments",
    description="experiments table of 10,000 experiments on MariaDB: filter, sort, page",
    run=run,
)


def _load(engine: Engine, count: int) -> list[int]:
    rng = random.Random(5)
    with Session(engine) as session, session.begin():
        batteries = [
            catalog.create_battery(
                session, name=f"cell {n}", technology=("lithium-ion", "lead-acid")[n % 2],
                voltage_min=2.0, voltage_max=4.2, current_min=-5, current_max=5,
                nominal_capacity_ah=2.5,
            ).id
            for n in range(40)
        ]  # fmt: skip
        stations = [
            catalog.create_station(
                session, name=f"ch{n}", voltage_min=0, voltage_max=5, current_min=-10,
                current_max=10,
            ).id
            for n in range(12)
        ]  # fmt: skip
        profiles = [
            catalog.create_profile(
                session,
                name=f"profile {n}",
                source=PROFILE,
                max_steps=MAX_STEPS,
                max_start_bytes=MAX_START_BYTES,
            ).id  # fmt: skip
            for n in range(8)
        ]
        template = catalog.queue_experiment(
            session, name="template", battery_id=batteries[0], station_id=stations[0],
            profile_id=profiles[0], max_steps=MAX_STEPS, max_start_bytes=MAX_START_BYTES,
        )  # fmt: skip
        steps = template.steps
        print(f"  expanded steps per experiment: {len(json.dumps(steps)) / 1000:.0f} KB")
        session.delete(template)
    statuses = list(ExperimentStatus)
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    words = ("ageing", "rate test", "formation", "calendar", "pulse", "EIS")
    rows = []
    for number in range(count):
        created = start + dt.timedelta(minutes=number * 90 + rng.randint(0, 60))
        status = statuses[rng.randrange(len(statuses))]
        rows.append(
            {
                "name": f"{words[number % len(words)]} {number:05d}",
                "description": f"batch {number // 100}, {rng.choice(words)} at {rng.randint(0, 45)} °C",
                "battery_id": batteries[number % len(batteries)],
                "station_id": stations[number % len(stations)],
                "profile_id": profiles[number % len(profiles)],
                "status": status,
                "status_message": "stopped by the operator" if status.is_closed else "",
                "steps": steps,
                "imported": False,
                "created_at": created,
                "began_at": created + dt.timedelta(minutes=5) if status != "QUEUED" else None,
                "finished_at": created + dt.timedelta(days=2) if status.is_closed else None,
                "sample_count": rng.randint(0, 2_000_000),
                "start_attempts": 0,
            }
        )
    with engine.begin() as connection:
        for first in range(0, len(rows), 200):
            connection.execute(insert(Experiment), rows[first : first + 200])
        connection.exec_driver_sql("ANALYZE TABLE experiments")
    return stations


def _views(count: int, stations: list[int]) -> list[tuple[str, TableView]]:
    far_page = max(1, count // 50 - 3)
    views = [
        ("default view", TableView()),
        ("far page", TableView(page=far_page)),
        ("text search", TableView(ExperimentFilter(text="ageing"))),
        ("text in descriptions", TableView(ExperimentFilter(text="45 °C"))),
        ("status", TableView(ExperimentFilter(statuses=(ExperimentStatus.RUNNING,)))),
        (
            "technology + station",
            TableView(ExperimentFilter(technology="lead-acid", station_id=stations[3])),
        ),
        (
            "date range + status",
            TableView(
                ExperimentFilter(
                    created_from=dt.date(2024, 3, 1),
                    created_to=dt.date(2024, 6, 30),
                    statuses=(ExperimentStatus.FINISHED, ExperimentStatus.ERROR),
                )
            ),
        ),
    ]
    for column in SORT_COLUMNS:
        views.append((f"sort by {column}", TableView(sort=((column, True),), page=far_page)))
    return views


def _measure(engine: Engine, count: int, stations: list[int]) -> list[Result]:
    timings: dict[str, float] = {}
    with Session(engine) as session:
        experiment_page(session, TableView())  # warm the connection
        for label, view in _views(count, stations):
            samples = []
            for _ in range(5):
                started = time.perf_counter()
                page = experiment_page(session, view)
                samples.append((time.perf_counter() - started) * 1000)
            timings[label] = percentile(samples, 0.5)
            assert page.rows or label.startswith(("technology", "date")), label
        started = time.perf_counter()
        everything = _every_experiment(session)
        baseline_ms = (time.perf_counter() - started) * 1000
        baseline_bytes = len(json.dumps(everything, default=str))
    worst_label, worst = max(timings.items(), key=lambda item: item[1])
    return [
        Result(
            what=(
                f"one page of 50 with its total, {count:,} experiments: worst of {len(timings)} "
                f"views ({worst_label}); median {percentile(list(timings.values()), 0.5):.1f} ms"
            ),
            figure=worst,
            unit="ms",
            baseline=baseline_ms,
            baseline_what=f"read every experiment with its steps ({baseline_bytes / 1e6:.1f} MB as JSON)",
            target=f"≤ {TARGET_MS:g} ms",
            met=worst <= TARGET_MS,
        )
    ]


def _every_experiment(session: Session) -> list[dict[str, Any]]:
    """The old table's read: every experiment as an ORM object (steps included), joined to
    its battery, station and profile names, all of them sent to the browser."""
    query = (
        select(Experiment, Battery.name, Station.name, Profile.name)
        .join(Battery, Experiment.battery_id == Battery.id)
        .outerjoin(Station, Experiment.station_id == Station.id)
        .outerjoin(Profile, Experiment.profile_id == Profile.id)
        .order_by(Experiment.id.desc())
    )
    return [
        {"id": e.id, "name": e.name, "status": e.status.value, "battery": battery,
         "station": station, "profile": profile, "created_at": e.created_at,
         "samples": e.sample_count}
        for e, battery, station, profile in session.execute(query).all()
    ]  # fmt: skip
