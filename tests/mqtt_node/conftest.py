"""Fixtures for the node tests: a node on an in-process broker, and a fake cycler on it;
the node's parts (ingest, dispatch) on SQLite, with a recording publisher and a fake clock."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine

from config import default_settings
from mqtt_node import protocol
from mqtt_node.dispatch import Dispatch
from mqtt_node.ingest import Ingest
from mqtt_node.liveness import Liveness
from mqtt_node.node import Node
from mqtt_node.reregister import Reregistration
from mqtt_node.topics import Topics
from mqtt_node.transactions import Transactions
from mqtt_node.transport import MemoryBroker, MemoryTransport, Message, Transport
from tests.mqtt_node.helpers import FakeClock, Inbox, RecordingPublisher

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


# ---------------------------------------------------------------- the node's parts alone


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC))


@pytest.fixture
def published() -> RecordingPublisher:
    """What a part publishes (on the "bem" prefix)."""
    return RecordingPublisher(Topics("bem"))


@pytest.fixture
def inbox() -> Inbox:
    return Inbox()


@pytest.fixture
def transactions(sqlite_engine: Engine) -> Transactions:
    """Transactions on SQLite, retried without a noticeable pause."""
    return Transactions(sqlite_engine, first_delay_s=0.01, max_delay_s=0.01)


@pytest.fixture
def make_ingest(
    transactions: Transactions, published: RecordingPublisher, clock: FakeClock
) -> Callable[..., Ingest]:
    """`make_ingest(max_payload_bytes=..., reregister_interval_s=...)`: ingest alone,
    heartbeats stamped by `clock`, which also times the unprompted `registered` messages."""

    def make(
        max_payload_bytes: int = FAST.max_payload_bytes,
        reregister_interval_s: float = FAST.reregister_interval_s,
    ) -> Ingest:
        liveness = Liveness(FAST.heartbeat_timeout_s, clock)
        return Ingest(
            transactions,
            Topics("bem"),
            published,
            liveness,
            reregistration=Reregistration(reregister_interval_s, lambda: clock.now.timestamp()),
            max_payload_bytes=max_payload_bytes,
        )

    return make


@pytest.fixture
def ingest(make_ingest: Callable[..., Ingest]) -> Ingest:
    return make_ingest()


@pytest.fixture
def make_dispatch(
    transactions: Transactions, published: RecordingPublisher, clock: FakeClock
) -> Callable[..., Dispatch]:
    """`make_dispatch(heartbeat_timeout_s=15, start_timeout_s=20, start_retries=2)`:
    dispatch alone, on `clock`."""

    def make(
        heartbeat_timeout_s: float = 15.0, start_timeout_s: float = 20.0, start_retries: int = 2
    ) -> Dispatch:
        return Dispatch(
            transactions,
            Topics("bem"),
            published,
            Liveness(heartbeat_timeout_s, clock),
            start_timeout_s=start_timeout_s,
            start_retries=start_retries,
            clock=clock,
        )

    return make
