"""What goes in comes out: samples published over MQTT to a running node, then written by
`bem experiment export`, read back with the importer's parser, equal what was published,
value by value (real Mosquitto and MariaDB, where the server itself writes the CSV text).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from domain.status import ExperimentStatus
from mqtt_node.node import Node
from mqtt_node.topics import Topics
from mqtt_node.transport import PahoTransport
from simulation.cycler import SimulatedCycler, SimulatorOptions
from tests.mqtt_node.helpers import (
    STEP_CYCLES,
    T0,
    Publisher,
    add_experiment,
    announce_and_register,
    broker_settings,
    check_export_matches,
    experiment,
    export_with_command,
    exported_column,
    paho_node,
    rejected,
    sample_rows,
    unique_name,
    wait_for,
)

pytestmark = [pytest.mark.mqtt, pytest.mark.mariadb]

# Doubles whose shortest text is long, tiny or huge: a lossy step anywhere (JSON, the
# DOUBLE column, the server's number-to-text conversion, the CSV parser) changes them.
AWKWARD = [0.1 + 0.2, 1 / 3, -2.5e-7, 123456789.12345679, 1e-300, 6.02214076e23, -0.0]


def published_samples(count: int) -> list[dict[str, object]]:
    """Samples as a cycler would send them, with every optional field left out somewhere."""
    rng = random.Random(7)
    samples: list[dict[str, object]] = []
    for seq in range(count):
        sample: dict[str, object] = {
            "seq": seq,
            "ts": T0 + seq * 0.5 + rng.random() * 1e-3,
            "voltage": rng.uniform(2.5, 4.2),
            "current": rng.uniform(-3.0, 3.0),
        }
        if seq % 3:
            sample["power"] = rng.uniform(-12.0, 12.0)  # else the node stores V × I
        if seq % 5:
            sample["instruction"] = 1 + (seq // 20) % len(STEP_CYCLES)
            sample["mode"] = "CC"
            sample["cycle"] = 99  # not stored: the cycle comes from the experiment's steps
        extra = {"temp_body": rng.uniform(20.0, 45.0)}  # °C, assumed from the name
        if seq % 4 == 0:
            extra["cell_1 / V"] = rng.uniform(3.0, 4.2)  # declared; only some samples have it
        if seq < len(AWKWARD):
            extra["awkward"] = AWKWARD[seq]  # no unit
        sample["extra"] = extra
        samples.append(sample)
    return samples


def measures_payload(experiment_id: int, samples: list[dict[str, object]]) -> bytes:
    return json.dumps({"experiment_id": experiment_id, "samples": samples}).encode()


@pytest.fixture
def prefix() -> str:
    return f"{unique_name('t')}/bem"


@pytest.fixture
def node(mqtt_broker: tuple[str, int], mariadb_engine: Engine, prefix: str) -> Iterator[Node]:
    with paho_node(mariadb_engine, *mqtt_broker, prefix) as running:
        yield running


@pytest.fixture
def publisher(mqtt_broker: tuple[str, int]) -> Iterator[Publisher]:
    client = Publisher(*mqtt_broker)
    client.wait_connected()
    yield client
    client.close()


def test_the_export_writes_exactly_the_samples_published_over_mqtt(
    node: Node,
    publisher: Publisher,
    mariadb_engine: Engine,
    prefix: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    station = announce_and_register(publisher, prefix, unique_name("cu-"), ["ch1"])["ch1"]
    experiment_id = add_experiment(mariadb_engine, station, status=ExperimentStatus.RUNNING)
    samples = published_samples(600)
    messages = [samples[start : start + 40] for start in range(0, len(samples), 40)]
    # Out of order, and one message twice (as QoS 1 may deliver it): the file is in seq
    # order with each sample once.
    random.Random(3).shuffle(messages)
    messages.append(messages[0])
    topic = Topics(prefix).measures(station)
    for message in messages:
        publisher.publish(topic, measures_payload(experiment_id, message))
    wait_for(publisher.all_acknowledged, 20, "the broker to acknowledge every message")
    wait_for(
        lambda: (
            sample_rows(mariadb_engine, experiment_id) == len(samples)
            and node.stats.samples_duplicate == len(messages[0])
        ),
        20,
        "the node to store every message",
    )
    assert rejected(mariadb_engine) == []

    target = tmp_path / "export.csv"
    exported = export_with_command(monkeypatch, mariadb_engine, experiment_id, target)

    check_export_matches(exported, samples)
    first_ts = samples[0]["ts"]
    assert exported_column(target, "Test Time / s") == [
        sample["ts"] - first_ts  # type: ignore[operator]
        for sample in samples
    ]


@pytest.fixture
def spy(publisher: Publisher, prefix: str) -> Publisher:
    """A client that records every measures message on the broker, as the node gets them."""
    publisher.subscribe(Topics(prefix).filter("measures"))
    return publisher


@pytest.fixture
def simulated_unit(
    mqtt_broker: tuple[str, int], prefix: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SimulatedCycler]:
    from simulation import cycler as simulator

    monkeypatch.setattr(simulator, "HEARTBEAT_PERIOD_S", 0.2)  # the start comes sooner
    host, port = mqtt_broker
    cycler = SimulatedCycler(
        PahoTransport(broker_settings(host, port, unique_name("bem-sim-"), persistent=False)),
        SimulatorOptions(
            unit=unique_name("sim-"),
            stations=1,
            rate_hz=20,
            speed=40,
            topic_prefix=prefix,
            final_status_delay_s=0.3,
        ),
    )
    cycler.start()
    yield cycler
    cycler.stop()


def test_a_simulated_run_exports_exactly_what_the_cycler_published(
    node: Node,
    spy: Publisher,
    simulated_unit: SimulatedCycler,
    mariadb_engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    wait_for(simulated_unit.registered.is_set, 20, "the simulated unit to register")
    (station,) = simulated_unit.station_ids().values()
    profile = "CC, 1, TIME, 30\nWAIT, 20\nCC, -1, TIME, 30\n"  # 80 simulated seconds
    experiment_id = add_experiment(mariadb_engine, station, profile_source=profile)
    wait_for(
        lambda: experiment(mariadb_engine, experiment_id).status == ExperimentStatus.FINISHED,
        30,
        "the simulated run to finish",
    )

    published = [
        sample
        for _topic, payload in spy.messages_on(lambda topic: topic.endswith("/measures"))
        for sample in json.loads(payload)["samples"]
    ]
    assert {sample["instruction"] for sample in published} == {1, 2, 3}
    exported = export_with_command(monkeypatch, mariadb_engine, experiment_id, tmp_path / "run.csv")
    check_export_matches(exported, published, step_cycles=[1, 1, 1])
    assert list(exported.extras) == [("temp_body", "°C")]
