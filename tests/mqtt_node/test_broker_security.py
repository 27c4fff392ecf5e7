"""The broker as deployed keeps every client to its own topics: a private Mosquitto with a
password file written by `bem broker passwd` and an ACL written by `bem broker acl` from
the database (the regression test of "an anonymous client on the broker can publish a
`start` to a cycler").

A message a client may not publish is dropped by the broker, so a refusal is seen as
absence: a watcher logged in as the node receives everything, and each check ends with a
message the client may send; once that one has arrived, anything refused before it
would have arrived too (one publisher, one subscriber: the broker keeps their order).
"""

from __future__ import annotations

import dataclasses
import io
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

import bootstrap
from cli import main
from config import default_settings
from mqtt_node import protocol
from mqtt_node.node import Node
from mqtt_node.topics import Topics
from mqtt_node.transport import PahoTransport, wait_until
from tests.mqtt_node.helpers import (
    MOSQUITTO,
    REAL_BROKER_NODE,
    PrivateMosquitto,
    Publisher,
    announce_and_register,
    broker_settings,
    unique_name,
)
from tests.services import service_missing

pytestmark = pytest.mark.mqtt

PREFIX = "bem"
TOPICS = Topics(PREFIX)
NODE_USER, NODE_PASSWORD = "bem-node", "node-secret-1"
PASSWORDS = {"cu-a": "a-secret-1", "cu-b": "b-secret-1", "sim-a": "sim-secret-1"}


def passwd(capsys: pytest.CaptureFixture[str], monkeypatch, path: Path, user: str, pw: str):
    """`bem broker passwd FILE USER` with the password on standard input."""
    monkeypatch.setattr("sys.stdin", io.StringIO(pw + "\n"))
    status = main(["broker", "passwd", str(path), user])
    out, err = capsys.readouterr()
    assert status == 0, err
    assert pw not in out + err
    return status


@dataclasses.dataclass
class SecuredBroker:
    broker: PrivateMosquitto
    acl: Path

    @property
    def port(self) -> int:
        return self.broker.port

    def client(self, user: str | None, password: str | None = None) -> Publisher:
        publisher = Publisher("127.0.0.1", self.port, username=user, password=password)
        publisher.wait_connected()
        return publisher

    def write_acl(self, capsys: pytest.CaptureFixture[str]) -> None:
        """`bem broker acl` from the database, then a reload of the broker."""
        assert main(["broker", "acl", "--output", str(self.acl)]) == 0
        capsys.readouterr()
        self.broker.reload()


@pytest.fixture
def secured(
    tmp_path: Path, sqlite_url: str, sqlite_engine: Engine, capsys, monkeypatch
) -> Iterator[SecuredBroker]:
    if not os.access(MOSQUITTO, os.X_OK):
        service_missing(f"{MOSQUITTO} is not installed")
    monkeypatch.setenv("BEM_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("BEM_MQTT_USERNAME", NODE_USER)
    monkeypatch.setenv("BEM_MQTT_TOPIC_PREFIX", PREFIX)
    directory = tmp_path / "mosquitto"
    directory.mkdir()
    password_file, acl = directory / "passwd", directory / "acl"
    for user, password in {NODE_USER: NODE_PASSWORD, **PASSWORDS}.items():
        passwd(capsys, monkeypatch, password_file, user, password)
    # The ACL of an empty database: the node, and the units' announce and registered only.
    assert main(["broker", "acl", "--output", str(acl)]) == 0
    broker = PrivateMosquitto(directory, password_file=password_file, acl_file=acl)
    broker.start()
    try:
        yield SecuredBroker(broker, acl)
    finally:
        broker.stop()


@pytest.fixture
def node(secured: SecuredBroker, sqlite_engine: Engine) -> Iterator[Node]:
    settings = broker_settings(
        "127.0.0.1",
        secured.port,
        unique_name("bem-node-"),
        username=NODE_USER,
        password=NODE_PASSWORD,
    )
    running = Node(sqlite_engine, PahoTransport(settings), REAL_BROKER_NODE, TOPICS)
    running.start()
    try:
        yield running
    finally:
        running.stop()


def connect_result(port: int, user: str | None = None, password: str | None = None) -> str:
    """How the broker answers a connection: "accepted" or its reason for refusing."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    if user is not None:
        client.username_pw_set(user, password)
    answers: list[str] = []
    answered = threading.Event()

    def on_connect(_client, _userdata, _flags, reason_code, _properties) -> None:
        answers.append("refused: " + str(reason_code) if reason_code.is_failure else "accepted")
        answered.set()

    client.on_connect = on_connect
    client.connect_async("127.0.0.1", port)
    client.loop_start()
    try:
        assert answered.wait(10), "no CONNACK"
        return answers[0]
    finally:
        client.disconnect()
        client.loop_stop()


def delivered(receiver: Publisher, topic: str, payload: bytes | None = None) -> bool:
    return any(
        received == (topic, payload) if payload is not None else received[0] == topic
        for received in list(receiver.received)
    )


def publish_once(port: int, user: str, password: str, topic: str, payload: bytes) -> bool:
    """Publish one QoS 0 message from a fresh connection of `user`; whether the broker then
    dropped the connection (Mosquitto does so to an MQTT 5 client publishing where its ACL
    forbids: the message goes nowhere)."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.username_pw_set(user, password)
    connected, dropped = threading.Event(), threading.Event()
    client.on_connect = lambda *_args: connected.set()
    client.on_disconnect = lambda *_args: dropped.set()
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        assert connected.wait(10), f"{user} did not connect"
        client.publish(topic, payload, qos=0)
        return dropped.wait(3)
    finally:
        client.disconnect()
        client.loop_stop()


def send_then_mark(
    secured: SecuredBroker, unit: str, watcher: Publisher, refused: list[str], mark: str
) -> None:
    """Publish as `unit` on each `refused` topic, then on `mark`, which must arrive; the
    refused ones must not have. A payload of its own tells each message from legitimate
    traffic on the same topic."""
    token = unique_name("probe-").encode()
    kicked = [
        topic
        for topic in refused
        if publish_once(secured.port, unit, PASSWORDS[unit], topic, token)
    ]
    assert kicked == refused, "the broker kept a client that published where it may not"
    assert not publish_once(secured.port, unit, PASSWORDS[unit], mark, token)
    assert wait_until(lambda: delivered(watcher, mark, token), 10.0), f"{mark} never arrived"
    arrived = [topic for topic in refused if delivered(watcher, topic, token)]
    assert arrived == [], f"the broker let these through: {arrived}"


def test_anonymous_clients_and_wrong_passwords_are_refused(secured: SecuredBroker) -> None:
    assert connect_result(secured.port).startswith("refused: Not authorized")
    assert connect_result(secured.port, "cu-a", "wrong").startswith("refused: Not authorized")
    assert connect_result(secured.port, "nobody", "x").startswith("refused: Not authorized")
    assert connect_result(secured.port, "cu-a", PASSWORDS["cu-a"]) == "accepted"
    assert connect_result(secured.port, NODE_USER, NODE_PASSWORD) == "accepted"


def test_each_unit_is_kept_to_its_own_topics(
    secured: SecuredBroker, node: Node, capsys: pytest.CaptureFixture[str]
) -> None:
    watcher = secured.client(NODE_USER, NODE_PASSWORD)
    unit_a = secured.client("cu-a", PASSWORDS["cu-a"])
    unit_b = secured.client("cu-b", PASSWORDS["cu-b"])
    try:
        watcher.subscribe(f"{PREFIX}/#")
        # The node, with its credentials, answers each unit's announce on its own topic.
        ids_a = announce_and_register(unit_a, PREFIX, "cu-a", ["ch1"])
        ids_b = announce_and_register(unit_b, PREFIX, "cu-b", ["ch1"])
        own, other = ids_a["ch1"], ids_b["ch1"]
        assert own != other

        # A unit may not announce under another unit's name, nor answer for the node.
        send_then_mark(
            secured,
            "cu-a",
            watcher,
            [TOPICS.announce("cu-b"), TOPICS.registered("cu-a")],
            mark=TOPICS.announce("cu-a"),
        )

        # Before the ACL names its new station, even the unit's own telemetry is refused.
        send_then_mark(
            secured, "cu-a", watcher, [TOPICS.heartbeat(own)], mark=TOPICS.announce("cu-a")
        )

        secured.write_acl(capsys)
        acl_text = secured.acl.read_text(encoding="utf-8")
        assert f"topic write {TOPICS.measures(own)}" in acl_text

        # Its own stations' telemetry now passes (polled: the reload takes a moment)...
        def own_heartbeat_passes() -> bool:
            unit_a.publish(TOPICS.heartbeat(own), b"{}", qos=0)
            return wait_until(lambda: delivered(watcher, TOPICS.heartbeat(own)), 0.5)

        assert wait_until(own_heartbeat_passes, 10.0), secured.broker.log()[-2000:]

        # ...but never another unit's telemetry, and no unit may send a command.
        refused = [TOPICS.topic(kind, other) for kind in ("heartbeat", "status", "measures")]
        refused += [TOPICS.alarms(other), TOPICS.commands(other), TOPICS.commands(own)]
        refused += [TOPICS.announce("cu-b")]
        send_then_mark(secured, "cu-a", watcher, refused, mark=TOPICS.status(own))

        # A unit hears its own stations' commands only, even subscribed to all of them.
        unit_a.subscribe(TOPICS.filter("commands"))
        unit_a.subscribe(TOPICS.filter("registered"))
        start = b'{"command":"stop","experiment_id":1}'
        watcher.publish(TOPICS.commands(other), start)
        watcher.publish(TOPICS.registered("cu-b"), b"{}")
        watcher.publish(TOPICS.commands(own), start)
        assert wait_until(lambda: delivered(unit_a, TOPICS.commands(own)), 10.0)
        assert not delivered(unit_a, TOPICS.commands(other))
        assert not delivered(unit_a, TOPICS.registered("cu-b"))
    finally:
        for client in (watcher, unit_a, unit_b):
            client.close()


def test_the_simulated_cycler_logs_in_as_its_unit(secured: SecuredBroker, node: Node) -> None:
    settings = default_settings().replace(
        mqtt={"host": "127.0.0.1", "port": secured.port, "username": NODE_USER},
        simulator={"password": PASSWORDS["sim-a"]},
    )
    unit_settings = bootstrap.unit_broker_settings(settings, "sim-a")
    assert (unit_settings.username, unit_settings.password) == ("sim-a", PASSWORDS["sim-a"])
    assert "sim-secret" not in repr(unit_settings)
    cycler = bootstrap.simulated_cycler(settings, unit="sim-a", stations=1)
    cycler.start()
    try:
        assert cycler.registered.wait(15), "the simulated unit was not registered"
        assert set(cycler.station_ids()) == {"ch1"}
    finally:
        cycler.stop()
    # Without its password it connects anonymously, and the broker refuses it.
    anonymous = bootstrap.unit_broker_settings(settings.replace(simulator={"password": ""}), "x")
    assert (anonymous.username, anonymous.password) == ("", "")


def test_protocol_names_used_here_are_the_protocols() -> None:
    # The ACL grants telemetry by kind name: they must be the protocol's own.
    from mqtt_node.broker_auth import TELEMETRY_KINDS

    assert set(TELEMETRY_KINDS) == {"heartbeat", "status", "measures", "alarms"}
    assert set(TELEMETRY_KINDS) < set(protocol.QOS)
