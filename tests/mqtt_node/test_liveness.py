"""Liveness alone: when a station counts as online, and how heartbeats are recorded.

Clocks are explicit: the instant "now" is given, or a fake clock stamps the heartbeats.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from datastore.models import ComputationalUnit, Station
from domain.status import ExperimentStatus
from mqtt_node import protocol
from mqtt_node.liveness import Liveness
from tests.mqtt_node.helpers import add_experiment, add_station

NOON = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)


def test_a_station_is_online_while_its_last_heartbeat_is_at_most_the_timeout_old():
    liveness = Liveness(heartbeat_timeout_s=15.0)

    assert liveness.online_since(NOON) == NOON - dt.timedelta(seconds=15)


def test_a_heartbeat_is_stamped_with_the_clock_not_with_the_cyclers_time(sqlite_engine, clock):
    station_id = add_station(sqlite_engine)
    liveness = Liveness(heartbeat_timeout_s=15.0, clock=clock)

    with sqlite_engine.begin() as connection:
        liveness.record(
            connection, {station_id: protocol.Heartbeat(1.0, protocol.StationState.IDLE)}
        )

    with Session(sqlite_engine) as session:
        assert session.get(Station, station_id).last_heartbeat == clock.now


def test_a_heartbeat_records_the_state_and_experiment_the_station_reported(sqlite_engine, clock):
    station_id = add_station(sqlite_engine)
    experiment_id = add_experiment(sqlite_engine, station_id, status=ExperimentStatus.RUNNING)
    liveness = Liveness(heartbeat_timeout_s=15.0, clock=clock)

    with sqlite_engine.begin() as connection:
        liveness.record(
            connection,
            {station_id: protocol.Heartbeat(1.0, protocol.StationState.RUNNING, experiment_id)},
        )

    with Session(sqlite_engine) as session:
        station = session.get(Station, station_id)
        assert (station.reported_state, station.reported_experiment_id) == (
            "running",
            experiment_id,
        )


def test_a_heartbeat_marks_the_stations_unit_as_heard_too(sqlite_engine, clock):
    station_id = add_station(sqlite_engine, unit="cu-lab1")
    liveness = Liveness(heartbeat_timeout_s=15.0, clock=clock)

    with sqlite_engine.begin() as connection:
        liveness.record(
            connection, {station_id: protocol.Heartbeat(1.0, protocol.StationState.IDLE)}
        )

    with Session(sqlite_engine) as session:
        unit = session.get(
            ComputationalUnit, session.get(Station, station_id).computational_unit_id
        )
        assert unit.last_heartbeat == clock.now


def test_recording_no_heartbeats_leaves_every_station_as_it_was(sqlite_engine, clock):
    station_id = add_station(sqlite_engine)
    liveness = Liveness(heartbeat_timeout_s=15.0, clock=clock)

    with sqlite_engine.begin() as connection:
        liveness.record(connection, {})

    with Session(sqlite_engine) as session:
        assert session.get(Station, station_id).last_heartbeat is None
