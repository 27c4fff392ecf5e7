"""Fixtures for the node tests: a node on an in-process broker, and a fake cycler on it."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine

from config import default_settings
from mqtt_node import protocol
from mqtt_node.node import Node
from mqtt_node.topics import Topics
from mqtt_node.transport import MemoryBroker, MemoryTransport, Message, Transport

# Short enough that dispatch and retries happen within a test's patience.
FAST = dataclasses.replace(
    default_settings().node,
    batch_interval_s=0.05,
    control_interval_s=0.1,
    start_timeout_s=0.5,
    start_retries=2,
)


def watch_commits(node: Node) -> None:
    """Keep `node.committed_messages`: messages whose batch has committed (and been acked)."""
    node.committed_messages = 0  # type: ignore[attr-defined]

    def on_batch() -> None:
        node.committed_messages = node.stats.messages  # type: ignore[attr-defined]

    node.on_batch = on_batch


class FakeCycler:
    """The cycler side of the in-process broker: sends messages, records the node's."""

    def __init__(self, broker: MemoryBroker, topics: Topics) -> None:
        self.topics = topics
        self.received: list[Message] = []
        self.transport = broker.transport("cycler")
        self.transport.start(
            self.received.append,
            [(topics.filter("registered"), 1), (topics.filter("commands"), 1)],
        )

    def send(self, kind: str, key: str | int, payload: bytes) -> None:
        self.transport.publish(self.topics.topic(kind, key), payload, protocol.QOS[kind])

    def registered(self) -> list[dict]:
        return [
            json.loads(message.payload)
            for message in list(self.received)
            if message.topic.endswith("/registered")
        ]

    def commands(self, command: str | None = None) -> list[tuple[int, dict]]:
        """(station id, command object) of every command received, optionally one kind."""
        found = []
        for message in list(self.received):
            parsed = self.topics.parse(message.topic)
            if parsed.kind != protocol.MessageKind.COMMANDS:
                continue
            body = json.loads(message.payload)
            if command is None or body["command"] == command:
                found.append((parsed.key, body))
        return found

    def started(self) -> list[int]:
        """Experiment ids of the start commands received, in order."""
        return [body["experiment_id"] for _station, body in self.commands("start")]


@pytest.fixture
def memory_broker() -> MemoryBroker:
    return MemoryBroker()


@pytest.fixture
def memory_client(memory_broker: MemoryBroker) -> Iterator[Callable[..., list[Message]]]:
    """`memory_client(*filters)`: subscribe a client of the in-process broker; returns the
    list its messages arrive in (QoS 1). Every client is stopped at the end."""
    clients: list[MemoryTransport] = []

    def subscribe(*filters: str) -> list[Message]:
        received: list[Message] = []
        client = memory_broker.transport(f"client{len(clients)}")
        client.start(received.append, [(topic_filter, 1) for topic_filter in filters])
        clients.append(client)
        return received

    yield subscribe
    for client in clients:
        client.stop()


@pytest.fixture
def cycler(memory_broker: MemoryBroker) -> Iterator[FakeCycler]:
    fake = FakeCycler(memory_broker, Topics("bem"))
    yield fake
    fake.transport.stop()


@pytest.fixture
def start_node(memory_broker: MemoryBroker) -> Iterator[Callable[..., Node]]:
    """`start_node(engine, transport=None, **options)`: a running node, stopped at the end."""
    nodes: list[Node] = []

    def start(engine: Engine, transport: Transport | None = None, **options: object) -> Node:
        node = Node(
            engine,
            transport or memory_broker.transport(f"node{len(nodes)}"),
            dataclasses.replace(FAST, **options),
            Topics("bem"),
        )
        watch_commits(node)
        nodes.append(node)
        node.start()
        return node

    yield start
    for node in nodes:
        node.stop()
