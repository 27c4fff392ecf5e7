"""Telemetry reads: station overview, headers, new samples, windows, buckets, alarms, steps.

Every test runs on SQLite and on MariaDB (the `engine` fixture).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pytest
from sqlalchemy import Engine, event, update
from sqlalchemy.orm import Session

from config import default_settings
from datastore import catalog, ingest
from datastore import telemetry as store
from datastore.models import Experiment, Station
from domain.status import ExperimentStatus

# The site's cap on expanded profile steps (profiles.max_steps).
MAX_STEPS = default_settings().profiles.max_steps

T0 = 1_750_000_000.0
PROFILE = "REPEAT 3\n CC, 1, TIME, 10\n WAIT, 5\nEND\n"


@dataclass
class Lab:
    stations: list[int]
    experiments: list[int]
    channel: int


@pytest.fixture
def lab(engine: Engine) -> Lab:
    """Three stations: the first runs an experiment with 1,000 samples (10 Hz) and a
    temperature every other sample; the second is idle; the third is deprecated."""
    with Session(engine) as session, session.begin():
        battery = catalog.create_battery(
            session,
            name="cell",
            technology="lithium-ion",
            voltage_min=2.5,
            voltage_max=4.2,
            current_min=-5.0,
            current_max=5.0,
            nominal_capacity_ah=2.0,
        )
        stations = [
            catalog.create_station(
                session,
                name=f"ch{i}",
                voltage_min=0,
                voltage_max=5,
                current_min=-10,
                current_max=10,
                unit_name="unit",
            )
            for i in (1, 2, 3)
        ]
        profile = catalog.create_profile(session, name="p", source=PROFILE, max_steps=MAX_STEPS)
        experiments = [
            catalog.queue_experiment(
                session,
                name=f"run {i}",
                battery_id=battery.id,
                station_id=stations[0].id,
                profile_id=profile.id,
                max_steps=MAX_STEPS,
            )
            for i in (1, 2)
        ]
        stations[2].deprecated = True
        station_ids = [s.id for s in stations]
        experiment_ids = [e.id for e in experiments]
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as connection:
        ingest.set_status(
            connection, experiment_ids[0], ExperimentStatus.RUNNING, now, set_began=True
        )
        channel = ingest.channel_ids(connection, experiment_ids[0], {"temp": "°C"})["temp"]
        samples = [
            ingest.SampleRow(
                seq, T0 + seq * 0.1, 3.5 + seq * 1e-4, 1.0, 3.5, 1 + seq // 100 % 6, 1, "CC"
            )
            for seq in range(1000)
        ]
        extras = [
            ingest.ExtraValueRow(channel, seq, 25.0 + seq * 0.01) for seq in range(0, 1000, 2)
        ]
        ingest.insert_samples(connection, experiment_ids[0], samples, extras)
        for station_id in station_ids[:2]:
            ingest.record_heartbeat(connection, station_id, now, "idle", None)
        ingest.insert_alarm(connection, experiment_ids[0], T0 + 5, "OVER_CURRENT", 3.0, "too much")
        ingest.insert_alarm(connection, experiment_ids[0], T0 + 50, "OVER_VOLTAGE", 4.3, "")
    return Lab(station_ids, experiment_ids, channel)


@contextmanager
def counted_queries(engine: Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


# ---------------------------------------------------------------- snapshots


def test_the_overview_lists_current_stations_with_their_active_experiment_in_one_query(engine, lab):
    with counted_queries(engine) as statements, engine.connect() as connection:
        stations = store.station_overview(connection)
    assert len(statements) == 1
    assert [s.id for s in stations] == lab.stations[:2]  # the deprecated one is left out
    running, idle = stations
    assert running.unit_name == "unit" and running.last_heartbeat is not None
    experiment = running.experiment
    assert experiment.id == lab.experiments[0] and experiment.status == ExperimentStatus.RUNNING
    assert experiment.battery_name == "cell" and experiment.alarm_count == 2
    assert experiment.sample_count == 1000
    assert experiment.last_sample.seq == 999
    assert experiment.last_sample.voltage == pytest.approx(3.5999)
    assert experiment.last_sample.instruction == 4
    assert idle.experiment is None


def test_the_monitor_header_is_one_query_and_moves_on_to_a_newly_active_experiment(engine, lab):
    with counted_queries(engine) as statements, engine.connect() as connection:
        station = store.monitor_header(connection, lab.stations[0], lab.experiments[0])
    assert len(statements) == 1
    assert station.experiment.id == lab.experiments[0]
    assert station.experiment.last_sample.seq == 999 and station.experiment.alarm_count == 2

    with engine.begin() as connection:
        now = dt.datetime.now(dt.UTC)
        ingest.set_status(connection, lab.experiments[0], ExperimentStatus.FINISHED, now)
    with engine.connect() as connection:
        station = store.monitor_header(connection, lab.stations[0], lab.experiments[0])
    assert station.experiment.status == ExperimentStatus.FINISHED  # nothing else runs

    with engine.begin() as connection:
        ingest.set_status(
            connection, lab.experiments[1], ExperimentStatus.RUNNING, now, set_began=True
        )
    with counted_queries(engine) as statements, engine.connect() as connection:
        station = store.monitor_header(connection, lab.stations[0], lab.experiments[0])
    assert len(statements) == 1
    assert station.experiment.id == lab.experiments[1]
    assert station.experiment.status == ExperimentStatus.RUNNING
    assert station.experiment.last_sample is None and station.experiment.alarm_count == 0


def test_without_an_experiment_on_screen_the_header_shows_the_active_one(engine, lab):
    with engine.connect() as connection:
        station = store.monitor_header(connection, lab.stations[0])
    assert station.experiment.id == lab.experiments[0]


def test_a_station_that_ran_nothing_has_no_experiment_and_an_unknown_one_no_header(engine, lab):
    with engine.connect() as connection:
        station = store.monitor_header(connection, lab.stations[1])
        assert station.name == "ch2" and station.experiment is None
        assert store.monitor_header(connection, 987_654) is None


def test_the_last_finished_experiment_is_shown_when_nothing_runs(engine, lab):
    with engine.begin() as connection:
        connection.execute(
            update(Experiment)
            .where(Experiment.id == lab.experiments[0])
            .values(status=ExperimentStatus.FINISHED)
        )
        station = store.monitor_header(connection, lab.stations[0])
    assert station.experiment.id == lab.experiments[0]
    assert station.experiment.status == ExperimentStatus.FINISHED


# ---------------------------------------------------------------- samples


def test_new_samples_come_after_the_last_seq_with_extra_channels_joined(engine, lab):
    with counted_queries(engine) as statements, engine.connect() as connection:
        block = store.samples_after(connection, lab.experiments[0], 994, [lab.channel])
    assert len(statements) == 1
    assert block.seq.tolist() == [995, 996, 997, 998, 999]
    assert block.ts[0] == pytest.approx(T0 + 99.5)
    assert np.isnan(block.extras[lab.channel][0])  # odd seqs have no temperature
    assert block.extras[lab.channel][1] == pytest.approx(34.96)


def test_new_samples_stop_at_until_seq_and_are_empty_when_none_are_new(engine, lab):
    with engine.connect() as connection:
        assert len(store.samples_after(connection, lab.experiments[0], 10, until_seq=20)) == 10
        nothing = store.samples_after(connection, lab.experiments[0], 999, [lab.channel])
    assert len(nothing) == 0 and lab.channel in nothing.extras


def test_a_time_window_is_selected_by_time_not_by_sample_count(engine, lab):
    with engine.connect() as connection:
        block = store.samples_in_window(connection, lab.experiments[0], T0 + 90, T0 + 95)
    assert block.seq[0] == 900 and block.seq[-1] == 950


def test_a_window_series_is_every_sample_of_the_window_when_few_in_two_queries(engine, lab):
    with counted_queries(engine) as statements, engine.connect() as connection:
        read = store.window_series(
            connection,
            lab.experiments[0],
            T0 + 90,
            950,
            [lab.channel],
            raw_limit=100,
            max_points=40,
        )
    assert len(statements) == 2
    assert read.first_ts == T0 and read.points is None
    assert read.samples.seq[0] == 900 and read.samples.seq[-1] == 950
    assert read.samples.extras[lab.channel][0] == pytest.approx(34.0)


def test_a_window_series_is_points_with_the_extremes_when_the_window_holds_too_many(engine, lab):
    with engine.begin() as connection:  # one sample far above the others
        ingest.insert_samples(
            connection,
            lab.experiments[0],
            [ingest.SampleRow(1000, T0 + 100.0, 9.9, -7.0, -69.3, 4, 1, "CC")],
        )
    with engine.connect() as connection:
        read = store.window_series(
            connection, lab.experiments[0], None, 1000, [lab.channel], raw_limit=100, max_points=40
        )
    assert read.first_ts == T0 and read.samples is None and read.points is not None
    points = read.points
    assert len(points.ts) <= 40 and points.ts[0] == T0 and points.ts[-1] == T0 + 100.0
    assert points.values["voltage"].max() == 9.9 and points.values["current"].min() == -7.0
    assert np.nanmax(points.values[lab.channel]) == pytest.approx(34.98)


def test_a_window_series_stops_at_the_last_sample_read(engine, lab):
    with engine.connect() as connection:
        read = store.window_series(
            connection, lab.experiments[0], None, 499, [lab.channel], raw_limit=100, max_points=40
        )
    assert read.points is not None and read.points.ts[-1] == pytest.approx(T0 + 49.9)


def test_a_window_series_after_the_last_sample_is_empty(engine, lab):
    with engine.connect() as connection:
        read = store.window_series(
            connection,
            lab.experiments[0],
            T0 + 500,
            999,
            [lab.channel],
            raw_limit=100,
            max_points=40,
        )
        nothing = store.window_series(
            connection, lab.experiments[1], None, 0, raw_limit=100, max_points=40
        )
    assert read.first_ts == T0 and len(read.samples) == 0 and lab.channel in read.samples.extras
    assert nothing.first_ts is None and len(nothing.samples) == 0


# ---------------------------------------------------------------- alarms, channels, steps


def test_alarms_come_newest_first_and_channels_with_their_unit(engine, lab):
    with engine.connect() as connection:
        alarms = store.experiment_alarms(connection, lab.experiments[0])
        channels = store.experiment_channels(connection, lab.experiments[0])
    assert [alarm.code for alarm in alarms] == ["OVER_VOLTAGE", "OVER_CURRENT"]
    assert alarms[1].value == 3.0 and alarms[1].message == "too much"
    assert [(c.name, c.unit) for c in channels] == [("temp", "°C")]


def test_the_step_plan_is_read_once_per_experiment(engine, lab):
    with engine.connect() as connection:
        station = store.monitor_header(connection, lab.stations[0], lab.experiments[0])
        created_at = station.experiment.created_at
        plan = store.step_plan(connection, lab.experiments[0], created_at)
        with counted_queries(engine) as statements:
            again = store.step_plan(connection, lab.experiments[0], created_at)
    assert statements == [] and again is plan
    assert plan.total == 6 and plan.cycles == 3
    assert plan.describe(4) == "step 4 of 6 · cycle 2 of 3 · WAIT for 5 s"


def test_deprecated_stations_stay_out_of_the_overview_but_keep_their_header(engine, lab):
    with Session(engine) as session:
        assert session.get(Station, lab.stations[2]).deprecated
        assert store.monitor_header(session, lab.stations[2]) is not None
        assert lab.stations[2] not in [s.id for s in store.station_overview(session)]
