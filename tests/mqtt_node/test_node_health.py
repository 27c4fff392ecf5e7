"""Node.health(): what a container healthcheck learns about a running node."""

from __future__ import annotations

from mqtt_node.transport import MemoryBroker


def test_a_running_connected_node_is_healthy(start_node, sqlite_engine) -> None:
    node = start_node(sqlite_engine)
    assert node.health() is None


def test_a_stopped_node_is_not(start_node, sqlite_engine) -> None:
    node = start_node(sqlite_engine)
    node.stop()
    assert node.health() == "the writer thread is not running"


def test_a_node_off_the_broker_is_not(start_node, sqlite_engine) -> None:
    transport = MemoryBroker().transport("node")
    node = start_node(sqlite_engine, transport)
    transport.stop()
    assert node.health() == "not connected to the broker"


def test_a_writer_stuck_longer_than_allowed_is_not(start_node, sqlite_engine) -> None:
    node = start_node(sqlite_engine)
    assert node.health(max_pass_age_s=3600) is None
    assert "stuck" in (node.health(max_pass_age_s=-1) or "")
