"""Two nodes in one MQTT shared-subscription group, on the real broker and MariaDB: they
split the ingest without storing anything twice, and never start an experiment twice."""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from datastore.models import Experiment
from domain.status import ExperimentStatus
from mqtt_node.node import Node
from mqtt_node.topics import Topics
from mqtt_node.transport import PahoTransport
from simulation.cycler import SimulatedCycler, SimulatorOptions
from tests.mqtt_node.helpers import (
    BemNode,
    Publisher,
    add_experiment,
    announce_and_register,
    bem_node_env,
    broker_settings,
    check_all_samples_landed,
    chunks,
    forget_session,
    measures,
    node_settings,
    rejected,
    sample_rows,
    unique_name,
    wait_for,
)

pytestmark = [pytest.mark.mqtt, pytest.mark.mariadb]

SHORT_PROFILE = "CC, 1, TIME, 10\n"  # ten simulated seconds


@pytest.fixture
def prefix() -> str:
    return f"{unique_name('t')}/bem"


@pytest.fixture
def two_nodes(
    mqtt_broker: tuple[str, int], mariadb_engine: Engine, prefix: str
) -> Iterator[list[Node]]:
    """Two nodes sharing the ingest through one shared-subscription group."""
    host, port = mqtt_broker
    options = node_settings(batch_interval_s=0.05, control_interval_s=0.2)
    group = unique_name("g")
    client_ids = [unique_name(f"bem-node-{letter}-") for letter in "ab"]
    nodes = [
        Node(
            mariadb_engine,
            PahoTransport(broker_settings(host, port, client_id)),
            options,
            Topics(prefix),
            group,
        )
        for client_id in client_ids
    ]
    for node in nodes:
        node.start()
    wait_for(lambda: all(node.transport.connected for node in nodes), 10, "both nodes")
    yield nodes
    for node in nodes:
        node.stop()
    for client_id in client_ids:
        forget_session(host, port, client_id)


@pytest.fixture
def publisher(mqtt_broker: tuple[str, int]) -> Iterator[Publisher]:
    client = Publisher(*mqtt_broker)
    client.wait_connected()
    yield client
    client.close()


def test_two_nodes_split_the_ingest_without_storing_a_sample_twice(
    two_nodes: list[Node], publisher: Publisher, mariadb_engine: Engine, prefix: str
) -> None:
    topics = Topics(prefix)
    stations = announce_and_register(
        publisher, prefix, unique_name("cu-"), ["ch1", "ch2", "ch3", "ch4"]
    )
    experiments = {
        station: add_experiment(mariadb_engine, station, status=ExperimentStatus.RUNNING)
        for station in stations.values()
    }
    total = 1000  # per experiment, in 50 messages of 20
    for seqs in chunks(total, 20):
        for station, experiment_id in experiments.items():
            publisher.publish(topics.measures(station), measures(experiment_id, seqs))

    for experiment_id in experiments.values():
        wait_for(lambda e=experiment_id: sample_rows(mariadb_engine, e) >= total, 30, "samples")
    for experiment_id in experiments.values():
        check_all_samples_landed(mariadb_engine, experiment_id, total)
    assert all(node.stats.samples_written > 0 for node in two_nodes), [
        node.stats for node in two_nodes
    ]
    # Each message went to one node only: none of them saw a sample the other had stored.
    assert sum(node.stats.samples_written for node in two_nodes) == total * len(experiments)
    assert sum(node.stats.samples_duplicate for node in two_nodes) == 0
    assert rejected(mariadb_engine) == []


@pytest.fixture
def two_bem_nodes(
    tmp_path: Path, mqtt_broker: tuple[str, int], mariadb_engine: Engine, prefix: str
) -> Iterator[list[BemNode]]:
    """Two `bem node` processes in one shared-subscription group; both are stopped (and
    their persistent sessions dropped) at the end, whatever happened."""
    host, port = mqtt_broker
    env = bem_node_env(mariadb_engine, host, port, prefix)
    group = unique_name("g")
    client_ids = [unique_name(f"bem-node-proc-{letter}-") for letter in "ab"]
    processes = [
        BemNode(
            tmp_path / f"node-{letter}.log",
            env,
            "--shared-group",
            group,
            "--client-id",
            client_id,
            "--wait-db",
            "10",
        )
        for letter, client_id in zip("ab", client_ids, strict=True)
    ]
    try:
        for process in processes:
            process.start()
        yield processes
    finally:
        for process in processes:
            process.stop()
        for client_id in client_ids:
            forget_session(host, port, client_id)


PROCESS_MESSAGES = 40  # per experiment
PROCESS_SAMPLES_PER_MESSAGE = 50


def test_two_node_processes_split_the_ingest_without_storing_a_sample_twice(
    two_bem_nodes: list[BemNode], publisher: Publisher, mariadb_engine: Engine, prefix: str
) -> None:
    # Both processes connected (and so subscribing), and one of them answers an announce.
    for process in two_bem_nodes:
        wait_for(
            lambda p=process: "connected to" in p.log() or not p.running(),
            20,
            f"{process.log_path.name} to connect",
        )
        assert process.running(), process.log()[-2000:]
    stations = announce_and_register(
        publisher, prefix, unique_name("cu-"), ["ch1", "ch2", "ch3", "ch4"]
    )
    experiments = {
        station: add_experiment(mariadb_engine, station, status=ExperimentStatus.RUNNING)
        for station in stations.values()
    }
    topics = Topics(prefix)
    total = PROCESS_MESSAGES * PROCESS_SAMPLES_PER_MESSAGE
    for seqs in chunks(total, PROCESS_SAMPLES_PER_MESSAGE):
        for station, experiment_id in experiments.items():
            publisher.publish(topics.measures(station), measures(experiment_id, seqs))

    wait_for(publisher.all_acknowledged, 20, "the broker to acknowledge every message")
    for experiment_id in experiments.values():
        wait_for(lambda e=experiment_id: sample_rows(mariadb_engine, e) >= total, 20, "samples")
    # Every (experiment, seq) once, value by value, and sample_count equal to the rows.
    for experiment_id in experiments.values():
        check_all_samples_landed(mariadb_engine, experiment_id, total)
    assert rejected(mariadb_engine) == []
    for process in two_bem_nodes:
        assert process.running(), process.log()[-2000:]

    # Each process logs its totals when it stops: both took a share, and together they
    # wrote each sample once (the broker gave each message to one of them).
    written = []
    for process in two_bem_nodes:
        process.stop()
        totals = re.findall(r"samples written (\d+)", process.log())
        assert totals, process.log()[-2000:]
        written.append(int(totals[-1]))
    assert all(count > 0 for count in written), written
    assert sum(written) == total * len(experiments)


@pytest.fixture
def simulated_unit(mqtt_broker: tuple[str, int], prefix: str) -> Iterator[SimulatedCycler]:
    host, port = mqtt_broker
    transport = PahoTransport(
        broker_settings(host, port, unique_name("bem-sim-"), persistent=False)
    )
    cycler = SimulatedCycler(
        transport,
        SimulatorOptions(
            unit=unique_name("sim-"), stations=3, rate_hz=20, speed=20, topic_prefix=prefix
        ),
    )
    cycler.start()
    yield cycler
    cycler.stop()


def test_two_nodes_start_each_queued_experiment_exactly_once(
    two_nodes: list[Node],
    simulated_unit: SimulatedCycler,
    publisher: Publisher,
    mariadb_engine: Engine,
    prefix: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="bem.simulator")
    topics = Topics(prefix)
    publisher.subscribe(topics.filter("commands"))
    wait_for(simulated_unit.registered.is_set, 20, "the simulated unit to register")
    station_ids = list(simulated_unit.station_ids().values())
    queued = [
        add_experiment(mariadb_engine, station, name=f"run {turn}", profile_source=SHORT_PROFILE)
        for turn in range(2)
        for station in station_ids
    ]

    def statuses() -> list[ExperimentStatus]:
        with Session(mariadb_engine) as session:
            rows = session.execute(
                select(Experiment.id, Experiment.status).where(Experiment.id.in_(queued))
            ).all()
        return [status for _id, status in rows]

    wait_for(
        lambda: statuses() == [ExperimentStatus.FINISHED] * len(queued),
        60,
        "every experiment to run to its end",
    )

    starts = Counter(
        json.loads(payload)["experiment_id"]
        for _topic, payload in publisher.messages_on(lambda topic: topic.endswith("/commands"))
        if json.loads(payload)["command"] == "start"
    )
    assert starts == Counter(queued), "each experiment started once, by one of the nodes"
    assert sum(node.stats.starts_sent for node in two_nodes) == len(queued)
    # No station was ever asked to start while busy (it would have ignored the start and
    # the experiment would have been started again, then failed).
    busy = [r.getMessage() for r in caplog.records if "is busy with experiment" in r.getMessage()]
    assert busy == []
    for experiment_id in queued:
        assert sample_rows(mariadb_engine, experiment_id) > 0
    assert [row.reason for row in rejected(mariadb_engine)] == []
    assert all(node.stats.messages > 0 for node in two_nodes)  # both took a share
