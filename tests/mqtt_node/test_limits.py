"""The node's limits against hostile or broken cyclers: the queue is bounded by bytes as
well as messages, an experiment's extra channels and a unit's stations are capped, and
refused messages are pruned. Each of the issue's hostile inputs is a regression test
here, with small settings."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import threading
import time
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from datastore.ingest import prune_rejections, record_rejection
from datastore.models import Channel, ExtraValue, RejectedMessage, Station
from domain.stations import StationSpec
from domain.window import Window
from mqtt_node import protocol
from mqtt_node.ingest import Ingest
from mqtt_node.liveness import Liveness
from mqtt_node.node import Node, PayloadQueue
from mqtt_node.reregister import Reregistration
from mqtt_node.topics import Topics
from mqtt_node.transactions import Transactions
from mqtt_node.transport import Message
from tests.mqtt_node.conftest import FAST
from tests.mqtt_node.helpers import (
    ManualTransport,
    add_experiment,
    add_station,
    measures,
    rejected,
    sample_rows,
)

TOPICS = Topics("bem")


@pytest.fixture
def limited_ingest(transactions: Transactions, published, clock) -> Callable[..., Ingest]:
    def make(max_channels: int = 64, max_stations_per_unit: int = 64) -> Ingest:
        return Ingest(
            transactions,
            TOPICS,
            published,
            Liveness(FAST.heartbeat_timeout_s, clock),
            reregistration=Reregistration(0.0, lambda: clock.now.timestamp()),
            max_channels=max_channels,
            max_stations_per_unit=max_stations_per_unit,
        )

    return make


# ---------------------------------------------------------------- the queue


def _message(size: int) -> Message:
    return Message("bem/stations/1/measures", b"x" * size)


def test_the_queue_refuses_a_message_that_would_pass_its_byte_bound():
    queue = PayloadQueue(max_messages=100, max_bytes=10_000)
    assert queue.put(_message(6_000), timeout=0)
    assert not queue.put(_message(6_000), timeout=0.01)
    assert queue.queued_bytes == 6_000
    taken = queue.get(timeout=0)
    assert taken is not None and len(taken.payload) == 6_000
    assert queue.queued_bytes == 0
    assert queue.put(_message(6_000), timeout=0)


def test_a_message_larger_than_the_byte_bound_still_passes_alone():
    queue = PayloadQueue(max_messages=100, max_bytes=1_000)
    assert queue.put(_message(5_000), timeout=0)
    assert not queue.put(_message(1), timeout=0.01)
    assert queue.get(timeout=0) is not None
    assert queue.get(timeout=0.01) is None


def test_the_message_count_bound_still_holds():
    queue = PayloadQueue(max_messages=2, max_bytes=10**9)
    assert queue.put(_message(1), timeout=0)
    assert queue.put(_message(1), timeout=0)
    assert not queue.put(_message(1), timeout=0.01)


def test_large_messages_during_an_outage_hold_the_transport_back_at_the_byte_bound(
    sqlite_engine: Engine,
):
    """Regression: 300 messages of 5 MB during a database outage took the node from 130 MB
    to 1.65 GB, as its queue counted messages only. Scaled down: 300 messages of 50 kB
    against a 200 kB bound, the writer stalled as by an outage."""
    transport = ManualTransport()
    settings = dataclasses.replace(FAST, queue_size=20_000, queue_max_bytes=200_000)
    node = Node(sqlite_engine, transport, settings, TOPICS)
    stall = threading.Event()
    node.ingest.write = lambda batch: stall.wait()  # type: ignore[method-assign]
    node.start()
    delivered = [0]
    peak = [0]

    def cycler() -> None:
        for _ in range(300):
            transport.deliver("bem/stations/1/measures", b"x" * 50_000)
            delivered[0] += 1

    sender = threading.Thread(target=cycler, daemon=True)
    sender.start()
    try:
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            peak[0] = max(peak[0], node._queue.queued_bytes)
            time.sleep(0.01)
        # The writer holds one batch, bounded by bytes too; the rest waits at the broker.
        assert peak[0] <= 200_000
        assert delivered[0] < 20, f"{delivered[0]} messages were taken from the transport"
    finally:
        stall.set()
        node.stop()
        sender.join(2)


# ---------------------------------------------------------------- extra channels


def _channels(engine: Engine, experiment_id: int) -> set[str]:
    with Session(engine) as session:
        return set(
            session.scalars(select(Channel.name).where(Channel.experiment_id == experiment_id))
        )


def test_a_message_with_3000_channel_names_stores_the_samples_and_only_the_capped_channels(
    sqlite_engine, limited_ingest, inbox
):
    """Regression: one message with 3,000 channel names made a 40,000-sample export 122 MB
    and 70 s. Now the experiment keeps its first channels up to the cap; the others are
    recorded as refused, and every sample is stored."""
    ingest = limited_ingest(max_channels=8)
    station_id = add_station(sqlite_engine)
    experiment_id = add_experiment(sqlite_engine, station_id)
    extra = {f"ch{index:04d}": float(index) for index in range(3_000)}
    payload = measures(experiment_id, range(20), extra=extra)
    message = inbox.message(TOPICS.measures(station_id), payload)

    ingest.write([message])

    assert sample_rows(sqlite_engine, experiment_id) == 20
    assert _channels(sqlite_engine, experiment_id) == {f"ch{index:04d}" for index in range(8)}
    with Session(sqlite_engine) as session:
        assert session.scalar(select(func.count()).select_from(ExtraValue)) == 20 * 8
    [refusal] = rejected(sqlite_engine)
    assert refusal.reason.startswith(
        f"extra channels: experiment {experiment_id} may have at most 8 extra channels; "
        "the values of 'ch0008', 'ch0009', 'ch0010', 'ch0011', 'ch0012' and 2987 more "
        "were not stored (the rest of the samples were)"
    )
    assert inbox.acked == [message.topic]


def test_the_channel_cap_counts_the_channels_of_earlier_batches(
    sqlite_engine, limited_ingest, inbox
):
    ingest = limited_ingest(max_channels=2)
    station_id = add_station(sqlite_engine)
    experiment_id = add_experiment(sqlite_engine, station_id)
    topic = TOPICS.measures(station_id)
    ingest.write([inbox.message(topic, measures(experiment_id, [0], extra={"temp": 25.0}))])
    ingest.write(
        [
            inbox.message(
                topic, measures(experiment_id, [1], extra={"temp": 26.0, "flow": 1.0, "pH": 7.0})
            )
        ]
    )
    # A fresh ingest (a restarted node) reads the channels from the database.
    limited_ingest(max_channels=2).write(
        [inbox.message(topic, measures(experiment_id, [2], extra={"temp": 27.0, "ec": 1.0}))]
    )

    assert _channels(sqlite_engine, experiment_id) == {"temp", "flow"}
    assert sample_rows(sqlite_engine, experiment_id) == 3
    reasons = [row.reason for row in rejected(sqlite_engine)]
    assert len(reasons) == 2
    assert "the values of 'pH' were not stored" in reasons[0]
    assert "the values of 'ec' were not stored" in reasons[1]


# ---------------------------------------------------------------- announcements


def _announce(unit: str, count: int, topic_unit: str | None = None) -> tuple[str, bytes]:
    stations = [StationSpec(f"ch{index}", Window(0.0, 5.0, -1.0, 1.0)) for index in range(count)]
    return TOPICS.announce(topic_unit or unit), protocol.encode_announce(unit, stations)


def _stations(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(Station)) or 0)


def test_an_announce_of_2000_stations_is_refused_with_nothing_created(
    sqlite_engine, limited_ingest, inbox, published
):
    """Regression: one 183 KB announce created 2,000 stations."""
    ingest = limited_ingest(max_stations_per_unit=16)
    topic, payload = _announce("cu-flood", 2_000)
    assert len(payload) > 150_000

    ingest.write([inbox.message(topic, payload)])

    assert _stations(sqlite_engine) == 0
    [refusal] = rejected(sqlite_engine)
    assert refusal.reason == (
        "stations: unit 'cu-flood' would have 2000 stations, more than the limit of 16 per unit"
    )
    assert published.sent == []


def test_the_station_cap_counts_the_stations_the_unit_has_already(
    sqlite_engine, limited_ingest, inbox
):
    ingest = limited_ingest(max_stations_per_unit=4)
    topic, payload = _announce("cu-lab", 3)
    ingest.write([inbox.message(topic, payload)])
    # The same three again and one more: within the cap.
    topic, payload = _announce("cu-lab", 4)
    ingest.write([inbox.message(topic, payload)])
    assert _stations(sqlite_engine) == 4
    # Another set of names that would bring the unit to 6.
    stations = [StationSpec(f"other{index}", Window(0.0, 5.0, -1.0, 1.0)) for index in range(2)]
    ingest.write([inbox.message(topic, protocol.encode_announce("cu-lab", stations))])

    assert _stations(sqlite_engine) == 4
    assert rejected(sqlite_engine)[-1].reason.startswith(
        "stations: unit 'cu-lab' would have 6 stations"
    )


def test_a_unit_cannot_announce_under_another_units_name(sqlite_engine, limited_ingest, inbox):
    ingest = limited_ingest()
    topic, payload = _announce("cu-victim", 1, topic_unit="cu-intruder")

    ingest.write([inbox.message(topic, payload)])

    assert _stations(sqlite_engine) == 0
    assert rejected(sqlite_engine)[0].reason == (
        "unit 'cu-victim' in the payload does not match the topic's unit 'cu-intruder'"
    )


# ---------------------------------------------------------------- refused messages


def _fill_rejections(engine: Engine, count: int, received_at: dt.datetime) -> None:
    with engine.begin() as connection:
        for index in range(count):
            record_rejection(connection, "bem/x", b"{}", f"reason {index}")
        connection.execute(update(RejectedMessage).values(received_at=received_at))


def test_pruning_keeps_the_newest_rows_and_drops_old_ones(sqlite_engine):
    now = dt.datetime.now(dt.UTC)
    _fill_rejections(sqlite_engine, 5, now - dt.timedelta(days=40))
    with sqlite_engine.begin() as connection:
        for index in range(12):
            record_rejection(connection, "bem/y", b"{}", f"recent {index}")

    with sqlite_engine.begin() as connection:
        deleted = prune_rejections(connection, older_than=now - dt.timedelta(days=30), keep_rows=10)

    assert deleted == 7
    assert [row.reason for row in rejected(sqlite_engine)] == [
        f"recent {index}" for index in range(2, 12)
    ]


def test_pruning_without_limits_deletes_nothing(sqlite_engine):
    _fill_rejections(sqlite_engine, 3, dt.datetime(2001, 1, 1, tzinfo=dt.UTC))
    with sqlite_engine.begin() as connection:
        assert prune_rejections(connection, older_than=None, keep_rows=None) == 0
    assert len(rejected(sqlite_engine)) == 3


def test_the_node_prunes_refused_messages_by_its_settings(sqlite_engine):
    _fill_rejections(sqlite_engine, 4, dt.datetime.now(dt.UTC) - dt.timedelta(days=3))
    with sqlite_engine.begin() as connection:
        for index in range(6):
            record_rejection(connection, "bem/y", b"{}", f"recent {index}")
    settings = dataclasses.replace(FAST, rejected_retention_days=2.0, rejected_max_rows=5)
    node = Node(sqlite_engine, ManualTransport(), settings, TOPICS)

    assert node.prune_rejections() == 5
    assert [row.reason for row in rejected(sqlite_engine)] == [
        f"recent {index}" for index in range(1, 6)
    ]


def test_a_refused_message_flood_stays_within_the_row_limit(sqlite_engine, start_node):
    """Regression: the refused-messages table grew without limit. A running node prunes
    it at its interval."""
    _fill_rejections(sqlite_engine, 50, dt.datetime.now(dt.UTC))
    node = start_node(sqlite_engine, rejected_max_rows=10, rejected_prune_interval_s=0.1)
    deadline = time.monotonic() + 5
    while len(rejected(sqlite_engine)) > 10 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(rejected(sqlite_engine)) == 10
    assert node.stats.database_errors == 0


def test_refused_payloads_are_json_for_inspection(sqlite_engine, limited_ingest, inbox):
    """The refused announce is kept (cut to the stored length) for an operator to read."""
    ingest = limited_ingest(max_stations_per_unit=1)
    topic, payload = _announce("cu-two", 2)
    ingest.write([inbox.message(topic, payload)])
    assert json.loads(rejected(sqlite_engine)[0].payload)["unit"] == "cu-two"
