"""Bad input through the real broker and database: every refused message is counted,
logged with its topic and reason and kept in rejected_messages, the good messages
around it all land, and the node keeps running."""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from datastore.ingest import MAX_REJECTED_PAYLOAD
from datastore.models import Alarm, Station
from domain.status import ExperimentStatus
from mqtt_node.node import Node
from mqtt_node.topics import Topics
from mqtt_node.transport import PahoTransport
from tests.mqtt_node.helpers import (
    Publisher,
    add_experiment,
    announce_and_register,
    broker_settings,
    check_all_samples_landed,
    chunks,
    measures,
    node_settings,
    rejected,
    sample_rows,
    unique_name,
    wait_for,
)

pytestmark = [pytest.mark.mqtt, pytest.mark.mariadb]

MAX_PAYLOAD = 100_000  # the node's limit in this test, so an oversized payload stays small


@pytest.fixture
def prefix() -> str:
    return f"{unique_name('t')}/bem"


@pytest.fixture
def publisher(mqtt_broker: tuple[str, int]) -> Iterator[Publisher]:
    client = Publisher(*mqtt_broker)
    client.wait_connected()
    yield client
    client.close()


@pytest.fixture
def node(mqtt_broker: tuple[str, int], mariadb_engine: Engine, prefix: str) -> Iterator[Node]:
    host, port = mqtt_broker
    transport = PahoTransport(
        broker_settings(host, port, unique_name("bem-node-corpus-"), session_expiry_s=120)
    )
    running = Node(
        mariadb_engine,
        transport,
        node_settings(batch_interval_s=0.05, control_interval_s=0.2, max_payload_bytes=MAX_PAYLOAD),
        Topics(prefix),
    )
    running.start()
    yield running
    running.stop()


def stored_text(payload: bytes) -> str:
    """How rejected_messages keeps a payload (decoded, long ones cut)."""
    text = payload[:MAX_REJECTED_PAYLOAD].decode("utf-8", errors="replace")
    if len(payload) > MAX_REJECTED_PAYLOAD:
        text += f"... [{len(payload)} bytes in all]"
    return text


def good_sample_json(seq: int = 0) -> dict:
    return {"seq": seq, "ts": 1_795_475_000.0, "voltage": 3.7, "current": 1.0}


def bad_corpus(
    topics: Topics, station: int, other_station: int, ids: dict[str, int]
) -> list[tuple[str, bytes, int, str]]:
    """(topic, payload, qos, a fragment of the reason) of every kind of bad message."""
    running = ids["running"]
    on_station = topics.measures(station)

    def samples_with(**fields: object) -> bytes:
        sample = {**good_sample_json(), **fields}
        return json.dumps({"experiment_id": running, "samples": [sample]}).encode()

    def raw(text: str) -> bytes:
        return text.encode()

    nan_sample = '{"seq":0,"ts":1.0,"voltage":NaN,"current":1.0}'
    unknown_station = other_station + 100_000
    head = topics.prefix
    corpus: list[tuple[str, bytes, int, str]] = [
        # malformed
        (on_station, b'{"experiment_id": 1, "samples": [', 1, "not valid JSON"),
        (on_station, b"", 1, "payload: empty"),
        (on_station, b"\xff\xfe\x00garbage", 1, "not valid UTF-8"),
        (on_station, b'["not", "an", "object"]', 1, "expected a JSON object, got a list"),
        (on_station, raw("[" * 40_000 + "]" * 40_000), 1, "nested too deeply"),
        (on_station, raw('{"experiment_id": 1' + "0" * 5000 + "}"), 1, "not valid JSON"),
        # wrong types
        (on_station, samples_with(voltage="3.7"), 1, "samples[0].voltage: expected a finite"),
        (on_station, samples_with(current=True), 1, "samples[0].current: expected a finite"),
        (on_station, samples_with(seq=-1), 1, "samples[0].seq: expected an integer"),
        (on_station, samples_with(seq=1.5), 1, "samples[0].seq: expected an integer"),
        (on_station, samples_with(mode="CCCCCCCCC"), 1, "samples[0].mode: 9 characters"),
        (on_station, samples_with(extra={"temp": "hot"}), 1, "samples[0].extra.temp"),
        (
            on_station,
            json.dumps({"experiment_id": str(running), "samples": [good_sample_json()]}).encode(),
            1,
            "experiment_id: expected an integer",
        ),
        # missing fields
        (on_station, json.dumps({"experiment_id": running}).encode(), 1, "samples: required"),
        (
            on_station,
            json.dumps(
                {"experiment_id": running, "samples": [{"seq": 0, "voltage": 3.7}]}
            ).encode(),
            1,
            "samples[0].ts: required field is missing",
        ),
        (
            topics.status(station),
            json.dumps({"experiment_id": running, "ts": 1.0}).encode(),
            1,
            "status: required field is missing",
        ),
        (
            topics.alarms(station),
            json.dumps({"experiment_id": running, "ts": 1.0}).encode(),
            1,
            "code: required field is missing",
        ),
        (topics.heartbeat(station), b'{"state": "idle"}', 0, "ts: required field is missing"),
        # NaN and infinities
        (
            on_station,
            raw(f'{{"experiment_id":{running},"samples":[{nan_sample}]}}'),
            1,
            "samples[0].voltage: expected a finite number, got NaN",
        ),
        (
            on_station,
            raw(
                f'{{"experiment_id":{running},"samples":'
                '[{"seq":0,"ts":1.0,"voltage":3.7,"current":Infinity}]}'
            ),
            1,
            "got Infinity",
        ),
        (
            on_station,
            raw(
                f'{{"experiment_id":{running},"samples":'
                '[{"seq":0,"ts":1.0,"voltage":3.7,"current":1.0,"power":-Infinity}]}'
            ),
            1,
            "got -Infinity",
        ),
        (
            on_station,
            raw(
                f'{{"experiment_id":{running},"samples":'
                '[{"seq":0,"ts":1e999,"voltage":3.7,"current":1.0}]}'
            ),
            1,
            "beyond the range of a 64-bit float",
        ),
        (
            topics.alarms(station),
            raw(f'{{"experiment_id":{running},"ts":1.0,"code":"X","value":NaN}}'),
            1,
            "value: expected a finite number, got NaN",
        ),
        # oversized
        (
            on_station,
            raw('{"pad": "' + "x" * (MAX_PAYLOAD + 50_000) + '"}'),
            1,
            f"more than the limit of {MAX_PAYLOAD}",
        ),
        # a seq twice in one message
        (
            on_station,
            json.dumps(
                {"experiment_id": running, "samples": [good_sample_json(0), good_sample_json(0)]}
            ).encode(),
            1,
            "appears twice",
        ),
        # unknown stations and experiments
        (topics.measures(unknown_station), measures(running, [0]), 1, "unknown station"),
        (topics.heartbeat(unknown_station), b'{"ts":1.0,"state":"idle"}', 0, "unknown station"),
        (on_station, measures(999_999_999, [0]), 1, "unknown experiment 999999999"),
        (
            topics.status(station),
            json.dumps({"experiment_id": 999_999_998, "status": "RUNNING", "ts": 1.0}).encode(),
            1,
            "unknown experiment 999999998",
        ),
        # an experiment of another station
        (on_station, measures(ids["elsewhere"], [0]), 1, f"is not on station {station}"),
        # closed experiments
        (on_station, measures(ids["finished"], [0]), 1, "is FINISHED: samples are no longer"),
        (on_station, measures(ids["error"], [0]), 1, "is ERROR: samples are no longer"),
        (on_station, measures(ids["cancelled"], [0]), 1, "is CANCELLED: samples are no longer"),
        # status changes outside the lifecycle, and words outside the protocol
        (
            topics.status(station),
            json.dumps({"experiment_id": ids["finished"], "status": "RUNNING", "ts": 1.0}).encode(),
            1,
            "cannot go from FINISHED to RUNNING",
        ),
        (
            topics.status(station),
            json.dumps({"experiment_id": running, "status": "DONE", "ts": 1.0}).encode(),
            1,
            "status: expected one of RUNNING",
        ),
        (topics.heartbeat(station), b'{"ts":1.0,"state":"sleeping"}', 0, "state: expected one of"),
        # announces that do not hold together
        (
            topics.announce("cu-a"),
            json.dumps({"unit": "cu-b", "stations": []}).encode(),
            1,
            "does not match the topic's unit 'cu-a'",
        ),
        (
            f"{head}/units/{'u' * 101}/announce",
            json.dumps({"unit": "u" * 101, "stations": []}).encode(),
            1,
            "101 characters, more than the limit of 100",
        ),
        # topics outside the protocol that still match the node's subscriptions
        (f"{head}/stations/abc/measures", measures(running, [0]), 1, "is not a positive integer"),
        (f"{head}/stations/007/measures", measures(running, [0]), 1, "is not a positive integer"),
        (f"{head}/stations/0/measures", measures(running, [0]), 1, "is not a positive integer"),
        (f"{head}/stations//measures", measures(running, [0]), 1, "is not a positive integer"),
        (f"{head}/stations/9999999999/measures", measures(running, [0]), 1, "above 2147483647"),
        (f"{head}/stations/{'9x' * 20_000}/alarms", b"{}", 1, "is not a positive integer"),
    ]
    return corpus


def test_a_corpus_of_bad_messages_is_recorded_while_every_good_sample_lands(
    node: Node, publisher: Publisher, mariadb_engine: Engine, prefix: str, caplog
) -> None:
    caplog.set_level(logging.WARNING, logger="bem.node")
    topics = Topics(prefix)
    stations = announce_and_register(publisher, prefix, unique_name("cu-"), ["ch1", "ch2"])
    station, other_station = stations["ch1"], stations["ch2"]
    ids = {
        "running": add_experiment(mariadb_engine, station, status=ExperimentStatus.RUNNING),
        "elsewhere": add_experiment(mariadb_engine, other_station, status=ExperimentStatus.RUNNING),
        "finished": add_experiment(mariadb_engine, station, status=ExperimentStatus.FINISHED),
        "error": add_experiment(mariadb_engine, station, status=ExperimentStatus.ERROR),
        "cancelled": add_experiment(mariadb_engine, station, status=ExperimentStatus.CANCELLED),
    }
    corpus = bad_corpus(topics, station, other_station, ids)
    good_chunks = chunks(20 * (len(corpus) + 1), 20)
    rejected_before = len(rejected(mariadb_engine))
    assert rejected_before == 0

    # Good and bad interleaved, so bad messages share batches with good ones.
    for index, good in enumerate(good_chunks):
        publisher.publish(topics.measures(station), measures(ids["running"], good))
        publisher.publish(topics.measures(other_station), measures(ids["elsewhere"], good))
        if index < len(corpus):
            topic, payload, qos, _reason = corpus[index]
            publisher.publish(topic, payload, qos)
    publisher.publish(
        topics.alarms(station),
        json.dumps(
            {"experiment_id": ids["running"], "ts": time.time(), "code": "OVER_VOLTAGE"}
        ).encode(),
    )
    total = good_chunks[-1].stop

    wait_for(lambda: len(rejected(mariadb_engine)) >= len(corpus), 30, "every bad message")
    for experiment_id in (ids["running"], ids["elsewhere"]):
        wait_for(
            lambda e=experiment_id: sample_rows(mariadb_engine, e) >= total, 30, "good samples"
        )
    wait_for(lambda: _alarm_codes(mariadb_engine) == ["OVER_VOLTAGE"], 10, "the good alarm")

    check_all_samples_landed(mariadb_engine, ids["running"], total)
    check_all_samples_landed(mariadb_engine, ids["elsewhere"], total)
    rows = rejected(mariadb_engine)
    assert Counter((row.topic, row.payload) for row in rows) == Counter(
        (topic[:255], stored_text(payload)) for topic, payload, _qos, _reason in corpus
    )
    by_message = {(row.topic, row.payload): row.reason for row in rows}
    for topic, payload, _qos, fragment in corpus:
        reason = by_message[(topic[:255], stored_text(payload))]
        assert fragment in reason, f"{topic[:80]}: {reason[:300]!r} lacks {fragment!r}"
    assert node.stats.rejected == len(corpus)
    logged = [r.getMessage() for r in caplog.records if "rejected message on" in r.getMessage()]
    assert len(logged) == len(corpus)
    assert all(fragment[:40] in " ".join(logged) for *_rest, fragment in corpus)

    # Still running: a message sent after all that is stored like any other.
    publisher.publish(topics.measures(station), measures(ids["running"], [total]))
    wait_for(
        lambda: sample_rows(mariadb_engine, ids["running"]) == total + 1,
        15,
        "a sample after the corpus",
    )
    assert node.stats.samples_written == 2 * total + 1
    with Session(mariadb_engine) as session:
        assert session.scalar(select(func.count()).select_from(Station)) == 2


def _alarm_codes(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return list(session.scalars(select(Alarm.code)))
