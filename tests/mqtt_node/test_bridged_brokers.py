"""A lab of several buildings: each has its own Mosquitto, bridged to a central one where
the node is connected (docs/deployment.md, "A broker cluster with shared subscriptions").

The cycler unit talks only to its building's broker; the bridge forwards the topic prefix
both ways. The unit registers through the bridge, the node's start commands reach it, and
its samples land in MariaDB, as on one broker.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from domain.status import ExperimentStatus
from mqtt_node.transport import PahoTransport
from simulation.cycler import SimulatedCycler, SimulatorOptions
from tests.mqtt_node.helpers import (
    MOSQUITTO,
    PrivateMosquitto,
    add_experiment,
    broker_settings,
    experiment,
    paho_node,
    rejected,
    sample_rows,
    unique_name,
    wait_for,
)
from tests.services import service_missing

pytestmark = [pytest.mark.mqtt, pytest.mark.mariadb]

PROFILE = "CC, 1, TIME, 10\nWAIT, TIME, 5\n"  # fifteen simulated seconds


@pytest.fixture
def prefix() -> str:
    return f"{unique_name('t')}/bem"


@pytest.fixture
def brokers(tmp_path: Path, prefix: str) -> Iterator[tuple[PrivateMosquitto, PrivateMosquitto]]:
    """(central, building): the building's broker bridges `prefix/#` to the central one."""
    if not os.access(MOSQUITTO, os.X_OK):
        service_missing(f"{MOSQUITTO} is not installed")
    (tmp_path / "central").mkdir()
    (tmp_path / "building").mkdir()
    central = PrivateMosquitto(tmp_path / "central")
    central.start()
    bridge = (
        "connection building-to-central\n"
        f"address 127.0.0.1:{central.port}\n"
        f"topic {prefix}/# both 1\n"
        "cleansession false\n"
        "restart_timeout 1\n"
    )
    building = PrivateMosquitto(tmp_path / "building", listener_options=bridge)
    building.start()
    try:
        yield central, building
    finally:
        building.stop()
        central.stop()


def test_a_unit_on_a_bridged_broker_registers_runs_and_stores_its_samples(
    brokers: tuple[PrivateMosquitto, PrivateMosquitto], mariadb_engine: Engine, prefix: str
) -> None:
    central, building = brokers
    with paho_node(mariadb_engine, "127.0.0.1", central.port, prefix) as node:
        unit = SimulatedCycler(
            PahoTransport(
                broker_settings("127.0.0.1", building.port, unique_name("sim-"), persistent=False)
            ),
            SimulatorOptions(
                unit=unique_name("wing-"), stations=2, rate_hz=20, speed=20, topic_prefix=prefix
            ),
        )
        unit.start()
        try:
            wait_for(unit.registered.is_set, 30, "the unit to register through the bridge")
            queued = [
                add_experiment(mariadb_engine, station, name=f"bridged {station}",
                               profile_source=PROFILE)
                for station in unit.station_ids().values()
            ]  # fmt: skip
            wait_for(
                lambda: all(
                    experiment(mariadb_engine, e).status is ExperimentStatus.FINISHED
                    for e in queued
                ),
                60,
                "both experiments to run to their end through the bridge",
            )
        finally:
            unit.stop()
        assert node.stats.starts_sent == len(queued)
    for experiment_id in queued:
        assert sample_rows(mariadb_engine, experiment_id) > 0
    assert [row.reason for row in rejected(mariadb_engine)] == []
    assert "building-to-central" in building.log()
