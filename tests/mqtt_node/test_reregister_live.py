"""An edited station, end to end: a simulated cycler on Mosquitto, a node on MariaDB.

Staff edit a station in the web app (`datastore.stations.edit_station`) while an
experiment waits for it; the cycler still uses the old id, learns the new one from the
node's unprompted `registered`, and the moved experiment runs on the new record.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from datastore.models import Station
from datastore.stations import AffectedExperiment, edit_station
from domain.status import ExperimentStatus
from mqtt_node.topics import Topics
from mqtt_node.transport import PahoTransport
from simulation import cycler as simulator
from simulation.cycler import SimulatedCycler, SimulatorOptions
from tests.mqtt_node.helpers import (
    Publisher,
    add_experiment,
    broker_settings,
    experiment,
    paho_node,
    sample_rows,
    unique_name,
    wait_for,
)

pytestmark = [pytest.mark.mqtt, pytest.mark.mariadb, pytest.mark.slow]

SHORT_PROFILE = "CC, 1, TIME, 10\n"  # ten simulated seconds


@pytest.fixture
def prefix() -> str:
    return f"{unique_name('t')}/bem"


@pytest.fixture
def publisher(mqtt_broker: tuple[str, int]) -> Iterator[Publisher]:
    client = Publisher(*mqtt_broker)
    client.wait_connected()
    yield client
    client.close()


@pytest.fixture
def unit(
    mqtt_broker: tuple[str, int], prefix: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SimulatedCycler]:
    """A two-station simulated unit (not started), heartbeats every half second."""
    monkeypatch.setattr(simulator, "HEARTBEAT_PERIOD_S", 0.5)
    host, port = mqtt_broker
    transport = PahoTransport(
        broker_settings(host, port, unique_name("bem-sim-"), persistent=False)
    )
    cycler = SimulatedCycler(
        transport,
        SimulatorOptions(
            unit=unique_name("cu-"),
            stations=2,
            rate_hz=20,
            speed=20,
            topic_prefix=prefix,
            voltage_min=0.0,
            voltage_max=5.0,
            current_min=-10.0,
            current_max=10.0,
        ),
    )
    yield cycler
    cycler.stop()


def heard(engine: Engine, station_id: int) -> str | None:
    """The state a station's last heartbeat reported (None if never heard)."""
    with Session(engine) as session:
        station = session.get(Station, station_id)
        return station.reported_state if station is not None else None


def test_after_an_edit_the_cycler_moves_to_the_new_id_and_the_moved_experiment_runs(
    mqtt_broker: tuple[str, int],
    mariadb_engine: Engine,
    prefix: str,
    publisher: Publisher,
    unit: SimulatedCycler,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="bem.node")
    topics = Topics(prefix)
    name = unit.options.unit
    host, port = mqtt_broker
    with paho_node(mariadb_engine, host, port, prefix) as node:
        # ch1 says nothing for now, so the experiment queued on it waits.
        unit.station("ch1").silent = True
        unit.start()
        wait_for(unit.registered.is_set, 20, "the unit to register")
        old, ch2 = unit.station_ids()["ch1"], unit.station_ids()["ch2"]
        waiting = add_experiment(mariadb_engine, old, name="waits", profile_source=SHORT_PROFILE)
        publisher.subscribe(topics.registered(name))
        publisher.subscribe(topics.filter("commands"))

        with Session(mariadb_engine) as session:
            change = edit_station(
                session,
                old,
                name="ch1",
                location=f"{name} rack",
                unit_name=name,
                voltage_min=0.0,
                voltage_max=4.5,
                current_min=-5.0,
                current_max=5.0,
            )
            session.commit()
        new = change.new_id
        assert change.moved == [AffectedExperiment(waiting, "waits")]
        assert new is not None and new != old

        # ch1 speaks again, still on the old id: the node tells the unit its current ids.
        unit.station("ch1").silent = False
        wait_for(lambda: unit.station_ids()["ch1"] == new, 20, "the cycler to take the new id")
        wait_for(
            lambda: experiment(mariadb_engine, waiting).status == ExperimentStatus.FINISHED,
            30,
            "the moved experiment to run to its end",
        )
        wait_for(lambda: heard(mariadb_engine, new) == "idle", 10, "the new record idle again")
        assert node.stats.rejected == 0

    row = experiment(mariadb_engine, waiting)
    assert row.station_id == new
    assert sample_rows(mariadb_engine, waiting) > 0
    (registered,) = [
        json.loads(payload) for topic, payload in publisher.received if "/registered" in topic
    ]
    assert registered == {
        "unit": name,
        "stations": [{"name": "ch1", "station": new}, {"name": "ch2", "station": ch2}],
    }
    starts = [
        (topics.parse(topic).key, json.loads(payload)["experiment_id"])
        for topic, payload in publisher.received
        if topic.endswith("/commands") and json.loads(payload)["command"] == "start"
    ]
    assert starts == [(new, waiting)]  # never a start on the deprecated record
    with Session(mariadb_engine) as session:
        old_row, new_row = session.get(Station, old), session.get(Station, new)
        assert old_row is not None and new_row is not None
        assert old_row.deprecated and not new_row.deprecated
        assert new_row.last_heartbeat is not None
    assert f"unit {name} still uses station {old} (now {new})" in caplog.text
