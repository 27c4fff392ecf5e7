"""The ACL kept current against a real Mosquitto: a unit that announces new stations may
use them as soon as it hears their ids, with no `bem broker acl` by hand.

A private Mosquitto on a spare port with a password file from `bem broker passwd` and the
ACL of an empty database from `bem broker acl`; the node, built by bootstrap with
`mqtt.acl_file` on that ACL and `mqtt.acl_reload_pid_file` on the broker's pid, rewrites
it and reloads the broker before it answers the announce.
"""

from __future__ import annotations

import io
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

import bootstrap
from cli import main
from config import Settings
from datastore.models import RejectedMessage, Station
from domain.status import ExperimentStatus
from mqtt_node import protocol
from mqtt_node.node import Node
from mqtt_node.topics import Topics
from tests.mqtt_node.helpers import (
    MOSQUITTO,
    PrivateMosquitto,
    Publisher,
    add_experiment,
    announce_and_register,
    measures,
    sample_rows,
    unique_name,
    wait_for,
)
from tests.mqtt_node.test_broker_security import publish_once
from tests.services import service_missing

pytestmark = pytest.mark.mqtt

TOPICS = Topics("bem")
NODE_USER, NODE_PASSWORD = "bem-node", "node-secret-1"
PASSWORDS = {"cu-a": "a-secret-1", "cu-b": "b-secret-1"}


def bem(capsys: pytest.CaptureFixture[str], *argv: str) -> None:
    assert main(list(argv)) == 0, capsys.readouterr().err
    capsys.readouterr()


@pytest.fixture
def broker(
    tmp_path: Path, settings: Settings, capsys, monkeypatch: pytest.MonkeyPatch
) -> Iterator[PrivateMosquitto]:
    """The broker as deployed, with the users' passwords and the ACL of no stations."""
    if not os.access(MOSQUITTO, os.X_OK):
        service_missing(f"{MOSQUITTO} is not installed")
    monkeypatch.setenv("BEM_DATABASE_URL", settings.database.url)
    monkeypatch.setenv("BEM_MQTT_USERNAME", NODE_USER)
    directory = tmp_path / "mosquitto"
    directory.mkdir()
    for user, password in {NODE_USER: NODE_PASSWORD, **PASSWORDS}.items():
        monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
        bem(capsys, "broker", "passwd", str(directory / "passwd"), user)
    bootstrap.open_store(settings)  # the tables, before `bem broker acl` reads them
    bem(capsys, "broker", "acl", "--output", str(directory / "acl"))
    mosquitto = PrivateMosquitto(
        directory, password_file=directory / "passwd", acl_file=directory / "acl"
    )
    mosquitto.start()
    try:
        yield mosquitto
    finally:
        mosquitto.stop()


@pytest.fixture
def node(broker: PrivateMosquitto, settings: Settings) -> Iterator[Node]:
    """`bem node` as built by bootstrap, keeping the broker's ACL and reloading it."""
    configured = settings.replace(
        mqtt={
            "host": "127.0.0.1",
            "port": broker.port,
            "username": NODE_USER,
            "password": NODE_PASSWORD,
            "client_id": unique_name("bem-node-"),
            "acl_file": str(broker.directory / "acl"),
            "acl_reload_pid_file": str(broker.write_pid_file()),
            "acl_reload_wait_s": 1.0,
        },
        node={"batch_interval_s": 0.05, "control_interval_s": 0.2},
    )
    running = bootstrap.node(configured, bootstrap.open_store(configured))
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def unit_a(broker: PrivateMosquitto) -> Iterator[Publisher]:
    client = Publisher("127.0.0.1", broker.port, username="cu-a", password=PASSWORDS["cu-a"])
    client.wait_connected()
    yield client
    client.close()


def last_heartbeat(engine, station_id: int):
    with Session(engine) as session:
        return session.scalar(select(Station.last_heartbeat).where(Station.id == station_id))


def rejections(engine) -> list[str]:
    with Session(engine) as session:
        return list(session.scalars(select(RejectedMessage.reason)))


def test_a_new_units_telemetry_passes_as_soon_as_it_hears_its_station_id(
    broker: PrivateMosquitto, node: Node, unit_a: Publisher
) -> None:
    engine = node.engine
    station = announce_and_register(unit_a, "bem", "cu-a", ["ch1"])["ch1"]

    # Straight after the answer, with no one running `bem broker acl`: the first heartbeat
    # on the new station is accepted and the station is heard.
    unit_a.publish(TOPICS.heartbeat(station), protocol.encode_heartbeat(time.time(), "idle"))
    wait_for(lambda: last_heartbeat(engine, station) is not None, 15, "the station heard")
    assert unit_a.all_acknowledged()
    acl = (broker.directory / "acl").read_text(encoding="utf-8")
    assert f"topic write {TOPICS.measures(station)}" in acl
    assert node.acl is not None and node.acl.reloads >= 1

    # Its samples are stored.
    experiment_id = add_experiment(engine, station, status=ExperimentStatus.RUNNING)
    unit_a.publish(TOPICS.measures(station), measures(experiment_id, range(10)))
    wait_for(lambda: sample_rows(engine, experiment_id) == 10, 15, "the samples stored")

    # Another unit may not publish on that station's topics: the broker drops it.
    for topic, payload in [
        (TOPICS.heartbeat(station), protocol.encode_heartbeat(time.time(), "idle")),
        (TOPICS.measures(station), measures(experiment_id, range(100, 110))),
        (TOPICS.status(station), protocol.encode_status(experiment_id, "finished", time.time())),
    ]:
        assert publish_once(broker.port, "cu-b", PASSWORDS["cu-b"], topic, payload), topic

    # The owner's next samples are the only ones after the first: nothing of cu-b's landed.
    unit_a.publish(TOPICS.measures(station), measures(experiment_id, range(10, 20)))
    wait_for(lambda: sample_rows(engine, experiment_id) == 20, 15, "the next samples stored")
    assert rejections(engine) == []


def test_the_broker_log_shows_the_reload(broker: PrivateMosquitto, node: Node, unit_a) -> None:
    announce_and_register(unit_a, "bem", "cu-a", ["ch1", "ch2"])
    wait_for(lambda: "Reloading config" in broker.log(), 10, "the broker's reload")
    answers = unit_a.messages_on(lambda topic: topic == TOPICS.registered("cu-a"))
    ids = [entry["station"] for entry in json.loads(answers[-1][1])["stations"]]
    acl = (broker.directory / "acl").read_text(encoding="utf-8")
    assert all(f"topic read {TOPICS.commands(i)}" in acl for i in ids)
