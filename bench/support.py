"""What the benchmarks share: a scratch MariaDB database and timing helpers."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from config import default_settings
from datastore import catalog, make_engine, make_session_factory, upgrade
from datastore.bulk import insert_rows
from datastore.models import Battery, Experiment, Station
from domain.status import ExperimentStatus

# The broker the MQTT benchmarks publish through.
BROKER_HOST = os.environ.get("BEM_BENCH_MQTT_HOST", "127.0.0.1")
BROKER_PORT = int(os.environ.get("BEM_BENCH_MQTT_PORT", "1883"))

BENCH_SERVER_URL = os.environ.get("BEM_BENCH_DATABASE_URL", "mysql+pymysql://root@127.0.0.1:3306/")


@contextmanager
def scratch_database(label: str) -> Iterator[str]:
    """A migrated database on the benchmark server, dropped afterwards; yields its URL
    (with `local_infile=1`, so LOAD DATA LOCAL INFILE works where the server allows it)."""
    server = make_url(BENCH_SERVER_URL)
    name = f"bem_bench_{label}_{uuid.uuid4().hex[:6]}"
    admin = make_engine(server.set(database="").render_as_string(hide_password=False))
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    url = (
        server.set(database=name)
        .update_query_dict({"local_infile": "1"})
        .render_as_string(hide_password=False)
    )
    try:
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


class Stopwatch:
    def __enter__(self) -> Stopwatch:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.seconds = time.perf_counter() - self.start


def local_infile_allowed(connection: Any) -> bool:
    """Whether the server accepts LOAD DATA LOCAL INFILE (the fastest way to load samples)."""
    value = connection.exec_driver_sql("SELECT @@local_infile").scalar()
    return str(value) in ("1", "ON")


def load_samples(
    connection: Any, experiment_id: int, table: np.ndarray, columns: Sequence[str], folder: Path
) -> None:
    """Store the rows of `table` (one column per name in `columns`) as samples of the
    experiment: with LOAD DATA LOCAL INFILE when the server allows it, else multi-row
    INSERTs. Integer columns (seq, instruction, cycle) are written without a fraction."""
    if local_infile_allowed(connection):
        path = folder / "samples.csv"
        formats = ["%d" if name in _INTEGER_COLUMNS else "%.17g" for name in columns]
        np.savetxt(path, table, delimiter=",", fmt=formats)
        connection.exec_driver_sql(
            f"LOAD DATA LOCAL INFILE '{path}' INTO TABLE measurements "
            "FIELDS TERMINATED BY ',' LINES TERMINATED BY '\\n' "
            f"({', '.join(columns)}) SET experiment_id = {int(experiment_id)}"
        )
        return
    rows = [
        (
            experiment_id,
            *(
                int(v) if n in _INTEGER_COLUMNS else float(v)
                for n, v in zip(columns, row, strict=True)
            ),
        )
        for row in table
    ]
    insert_rows(connection, "measurements", ["experiment_id", *columns], rows)


_INTEGER_COLUMNS = frozenset({"seq", "instruction", "cycle"})


def add_bench_battery(engine: Any) -> int:
    """A 2.5 to 4.2 V, ±5 A lithium-ion cell for imported experiments; its id."""
    with Session(engine) as session, session.begin():
        return catalog.create_battery(
            session, name="bench cell", technology="lithium-ion", voltage_min=2.5,
            voltage_max=4.2, current_min=-5.0, current_max=5.0,
        ).id  # fmt: skip


def queue_bench_experiment(engine: Any, name: str, profile_source: str) -> int:
    """A queued experiment of a 2.5 Ah cell on station "ch1" running this profile; its id."""
    with Session(engine) as session, session.begin():
        battery = catalog.create_battery(
            session, name=f"cell for {name}", technology="lithium-ion", voltage_min=2.5,
            voltage_max=4.2, current_min=-5.0, current_max=5.0, nominal_capacity_ah=2.5,
        )  # fmt: skip
        station = catalog.create_station(
            session, name="ch1", voltage_min=0, voltage_max=5, current_min=-10, current_max=10
        )
        settings = default_settings()
        max_steps = settings.profiles.max_steps
        max_start_bytes = settings.node.max_payload_bytes
        profile = catalog.create_profile(
            session, name=f"profile of {name}", source=profile_source, max_steps=max_steps,
            max_start_bytes=max_start_bytes,
        )  # fmt: skip
        return catalog.queue_experiment(
            session, name=name, battery_id=battery.id, station_id=station.id,
            profile_id=profile.id, max_steps=max_steps, max_start_bytes=max_start_bytes,
        ).id  # fmt: skip


def add_running_experiments(url: str, stations: int, label: str = "bench") -> list[tuple[int, int]]:
    """`stations` stations named "{label}-{i}", each running one experiment (RUNNING, no
    steps) of one shared 2.5 Ah cell, as a node receiving their samples expects them;
    returns (station id, experiment id) per station, in order."""
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    with sessions.begin() as session:
        battery = Battery(
            name=f"{label} cell", technology="lithium-ion", voltage_min=2.5, voltage_max=4.2,
            current_min=-5, current_max=5, nominal_capacity_ah=2.5, details={},
        )  # fmt: skip
        session.add(battery)
        rows = [
            Station(
                name=f"{label}-{index}",
                voltage_min=0,
                voltage_max=5,
                current_min=-10,
                current_max=10,
                devices=[],
            )  # fmt: skip
            for index in range(stations)
        ]
        session.add_all(rows)
        session.flush()
        experiments = [
            Experiment(
                name=f"{label} {index}",
                battery=battery,
                station_id=station.id,
                status=ExperimentStatus.RUNNING,
                steps=[],
            )  # fmt: skip
            for index, station in enumerate(rows)
        ]
        session.add_all(experiments)
        session.flush()
        pairs = [
            (station.id, experiment.id)
            for station, experiment in zip(rows, experiments, strict=True)
        ]
    engine.dispose()
    return pairs


def publisher_client(stem: str, inflight: int) -> Any:
    """A paho MQTT 5 client, as a cycler publishes: `inflight` QoS 1 messages unacknowledged
    at most, no limit on its own queue. Not yet connected."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"{stem}-{uuid.uuid4().hex[:8]}",
        protocol=mqtt.MQTTv5,
    )
    client.max_inflight_messages_set(inflight)
    client.max_queued_messages_set(0)
    return client
