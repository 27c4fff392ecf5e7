"""Delivery guarantees against the real Mosquitto and MariaDB: nothing published is lost
and nothing is stored twice when, mid-stream,

(a) the broker is restarted (a private Mosquitto with persistence, so it can be),
(b) the database is unreachable for a while (a TCP proxy in front of MariaDB is cut),
(c) the node is killed with SIGKILL and started again (`bem node` as a process).

Each test publishes 200 measures messages of 50 samples with QoS 1 from a publisher with
a persistent session, and checks every sample is stored exactly once, value by value;
after the node's restart, `bem experiment export` must also write exactly what was sent.
The node connects (and so creates its persistent session) before anything is published:
the broker keeps messages only for a session that exists.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from datastore import make_engine
from domain.status import ExperimentStatus
from mqtt_node.node import Node
from mqtt_node.topics import Topics
from tests.mqtt_node.helpers import (
    MOSQUITTO,
    BemNode,
    PrivateMosquitto,
    Publisher,
    TcpProxy,
    add_experiment,
    announce_and_register,
    check_all_samples_landed,
    check_export_matches,
    chunks,
    export_with_command,
    forget_session,
    measures,
    paho_node,
    publish_in_background,
    sample,
    sample_rows,
    unique_name,
    wait_for,
)
from tests.services import service_missing

pytestmark = [pytest.mark.mqtt, pytest.mark.mariadb]

MESSAGES = 200
SAMPLES_PER_MESSAGE = 50
TOTAL = MESSAGES * SAMPLES_PER_MESSAGE
PAUSE_S = 0.01  # between messages: the stream lasts a couple of seconds


@dataclasses.dataclass
class Stream:
    """What a test publishes: one experiment's samples, in MESSAGES messages."""

    topic: str
    experiment_id: int
    payloads: list[bytes]


def prepare_stream(engine: Engine, publisher: Publisher, prefix: str) -> Stream:
    """Announce a station through the node (which proves the node is subscribed), and
    queue a running experiment on it."""
    station = announce_and_register(publisher, prefix, unique_name("cu-"), ["ch1"])["ch1"]
    experiment_id = add_experiment(engine, station, status=ExperimentStatus.RUNNING)
    payloads = [measures(experiment_id, seqs) for seqs in chunks(TOTAL, SAMPLES_PER_MESSAGE)]
    return Stream(Topics(prefix).measures(station), experiment_id, payloads)


def stream_with_a_fault(engine: Engine, publisher: Publisher, stream: Stream, fault) -> None:
    """Publish the stream; once a fifth of it is stored, `fault()`; then check the result."""
    thread = publish_in_background(publisher, stream.topic, stream.payloads, PAUSE_S)
    wait_for(lambda: sample_rows(engine, stream.experiment_id) >= TOTAL // 5, 30, "a fifth stored")
    assert thread.is_alive(), "the stream ended before the fault: make it longer"
    fault()
    thread.join(30)
    wait_for(publisher.all_acknowledged, 60, "the broker to acknowledge every message")
    wait_for(lambda: sample_rows(engine, stream.experiment_id) >= TOTAL, 60, "every sample")
    check_all_samples_landed(engine, stream.experiment_id, TOTAL)


@pytest.fixture
def prefix() -> str:
    return f"{unique_name('t')}/bem"


@pytest.fixture
def in_process_node() -> Iterator:
    """`start(engine, host, port, prefix)`: a node with a PahoTransport; stopped, session
    dropped at the end."""
    with contextlib.ExitStack() as nodes:

        def start(engine: Engine, host: str, port: int, prefix: str) -> Node:
            return nodes.enter_context(paho_node(engine, host, port, prefix))

        yield start


# ---------------------------------------------------------------- (a) broker restart


@pytest.fixture
def private_broker(tmp_path: Path) -> Iterator[PrivateMosquitto]:
    if not os.access(MOSQUITTO, os.X_OK):
        service_missing(f"{MOSQUITTO} is not installed")
    directory = tmp_path / "mosquitto"
    directory.mkdir()
    broker = PrivateMosquitto(directory)
    broker.start()
    yield broker
    broker.stop()


def test_nothing_is_lost_or_doubled_when_the_broker_restarts_mid_stream(
    private_broker: PrivateMosquitto, mariadb_engine: Engine, in_process_node, prefix: str
) -> None:
    node = in_process_node(mariadb_engine, "127.0.0.1", private_broker.port, prefix)
    publisher = Publisher("127.0.0.1", private_broker.port)
    try:
        publisher.wait_connected()
        stream = prepare_stream(mariadb_engine, publisher, prefix)

        def restart_broker() -> None:
            private_broker.stop()  # SIGTERM: Mosquitto saves sessions and queued messages
            private_broker.start()

        stream_with_a_fault(mariadb_engine, publisher, stream, restart_broker)
        assert node.transport.connected
    finally:
        publisher.close()


# ---------------------------------------------------------------- (b) database outage


@pytest.fixture
def database_proxy(mariadb_engine: Engine) -> Iterator[TcpProxy]:
    url = mariadb_engine.url
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 3306)
    yield proxy
    proxy.close()


def test_nothing_is_lost_or_doubled_when_the_database_is_unreachable_for_a_while(
    mqtt_broker: tuple[str, int],
    mariadb_engine: Engine,
    database_proxy: TcpProxy,
    in_process_node,
    prefix: str,
) -> None:
    through_proxy = mariadb_engine.url.set(host="127.0.0.1", port=database_proxy.port)
    node_engine = make_engine(through_proxy.render_as_string(hide_password=False))
    publisher = Publisher(*mqtt_broker)
    try:
        node = in_process_node(node_engine, *mqtt_broker, prefix)
        publisher.wait_connected()
        stream = prepare_stream(mariadb_engine, publisher, prefix)

        def cut_the_database_off() -> None:
            database_proxy.cut()
            # Long enough for several failed attempts, each retried with back-off.
            errors = node.stats.database_errors
            wait_for(lambda: node.stats.database_errors >= errors + 3, 30, "failed writes")
            database_proxy.restore()

        stream_with_a_fault(mariadb_engine, publisher, stream, cut_the_database_off)
        assert node.stats.database_errors >= 3
        assert node.stats.rejected == 0
    finally:
        publisher.close()
        node_engine.dispose()


# ---------------------------------------------------------------- (c) node killed


@pytest.fixture
def bem_node(
    tmp_path: Path, mqtt_broker: tuple[str, int], mariadb_engine: Engine, prefix: str
) -> Iterator[BemNode]:
    host, port = mqtt_broker
    client_id = unique_name("bem-node-kill-")
    process = BemNode(
        tmp_path / "node.log",
        {
            "BEM_DATABASE_URL": mariadb_engine.url.render_as_string(hide_password=False),
            "BEM_MQTT_HOST": host,
            "BEM_MQTT_PORT": str(port),
            "BEM_MQTT_CLIENT_ID": client_id,
            "BEM_MQTT_TOPIC_PREFIX": prefix,
            "BEM_NODE_BATCH_INTERVAL_S": "0.05",
        },
        "--wait-db",
        "10",
    )
    yield process
    process.stop()
    forget_session(host, port, client_id)


def test_nothing_is_lost_or_doubled_when_the_node_is_killed_and_restarted(
    mqtt_broker: tuple[str, int],
    mariadb_engine: Engine,
    bem_node: BemNode,
    prefix: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    bem_node.start()
    publisher = Publisher(*mqtt_broker)
    try:
        publisher.wait_connected()
        stream = prepare_stream(mariadb_engine, publisher, prefix)

        def kill_and_restart() -> None:
            bem_node.kill()
            stored_when_killed = sample_rows(mariadb_engine, stream.experiment_id)
            assert stored_when_killed < TOTAL
            bem_node.start()

        stream_with_a_fault(mariadb_engine, publisher, stream, kill_and_restart)
        assert bem_node.running(), bem_node.log()[-2000:]
    finally:
        publisher.close()
    exported = export_with_command(
        monkeypatch, mariadb_engine, stream.experiment_id, tmp_path / "export.csv"
    )
    check_export_matches(exported, [sample(seq) for seq in range(TOTAL)])
