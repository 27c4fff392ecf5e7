"""Ingest: samples per second from a publisher, through Mosquitto and the node, into MariaDB.

The publisher runs in its own process (as a cycler would), publishing measures messages
with QoS 1; the node runs here with its production transport. The figure is samples
committed per second over the whole run, from the first publish to the last row. Two
baselines are measured on the same server in the same run: one INSERT and COMMIT per
sample (what a naive ingest does), and PyMySQL's executemany in batches of 2,000 (the
ceiling for any ingest through the driver).
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import time
import uuid

from sqlalchemy import func, select, text

from bench import Benchmark, Result
from bench.support import (
    BROKER_HOST,
    BROKER_PORT,
    add_running_experiments,
    publisher_client,
    scratch_database,
)
from datastore import make_engine
from datastore.models import Experiment, Measurement

TARGET_RATE = 30_000
SAMPLES_PER_MESSAGE = 500
STATIONS = 10


def _payloads(pairs: list[tuple[int, int]], total: int) -> list[tuple[int, bytes]]:
    """Measures messages for every station, interleaved as ten cyclers publishing at once."""
    from mqtt_node import protocol

    per_station = total // len(pairs)
    start = time.time()
    by_station = []
    for station_id, experiment_id in pairs:
        messages = []
        for first in range(0, per_station, SAMPLES_PER_MESSAGE):
            samples = [
                protocol.Sample(
                    seq=seq,
                    ts=start + seq * 0.25,
                    voltage=3.7 + (seq % 100) * 1e-3,
                    current=1.5,
                    power=5.55,
                    instruction=1,
                    mode="CC",
                    extra={"temp_body": 25.0 + (seq % 7) * 0.1},
                )
                for seq in range(first, min(first + SAMPLES_PER_MESSAGE, per_station))
            ]
            messages.append((station_id, protocol.encode_measures(experiment_id, samples)))
        by_station.append(messages)
    return [message for round_ in zip(*by_station, strict=True) for message in round_]


def _publish(prefix: str, messages: list[tuple[int, bytes]], ready: multiprocessing.Event) -> None:

    from mqtt_node.topics import Topics

    topics = Topics(prefix)
    client = publisher_client("bench-pub", inflight=100)
    client.connect(BROKER_HOST, BROKER_PORT)
    client.loop_start()
    ready.wait()
    infos = [
        client.publish(topics.measures(station), payload, qos=1) for station, payload in messages
    ]
    for info in infos:
        info.wait_for_publish(timeout=120)
    client.disconnect()
    client.loop_stop()


def _row_count(engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(Measurement))


def _measure_node(url: str, total: int) -> float:
    from config import default_settings
    from mqtt_node.node import Node
    from mqtt_node.topics import Topics
    from mqtt_node.transport import PahoTransport

    pairs = add_running_experiments(url, STATIONS)
    prefix = f"bench{uuid.uuid4().hex[:6]}"
    messages = _payloads(pairs, total)
    expected = sum(payload.count(b'"seq"') for _station, payload in messages)
    engine = make_engine(url)
    transport = PahoTransport(
        dataclasses.replace(
            default_settings().mqtt,
            host=BROKER_HOST,
            port=BROKER_PORT,
            client_id=f"bench-node-{prefix}",
            persistent=False,
        )
    )
    node = Node(
        engine,
        transport,
        dataclasses.replace(default_settings().node, batch_size=5000),
        Topics(prefix),
    )
    node.start()
    if not transport.wait_connected(10):
        raise RuntimeError(f"no broker at {BROKER_HOST}:{BROKER_PORT}")
    time.sleep(0.5)  # let the subscriptions settle
    ready = multiprocessing.get_context("spawn").Event()
    publisher = multiprocessing.get_context("spawn").Process(
        target=_publish, args=(prefix, messages, ready)
    )
    publisher.start()
    time.sleep(1.0)  # publisher connected and idle
    started = time.perf_counter()
    ready.set()
    deadline = started + 300
    while node.stats.samples_written < expected and time.perf_counter() < deadline:
        time.sleep(0.02)
    elapsed = time.perf_counter() - started
    publisher.join(30)
    node.stop()
    written = _row_count(engine)
    engine.dispose()
    if written != expected:
        raise RuntimeError(f"ingest lost samples: {written} rows for {expected} published")
    return expected / elapsed


def _measure_row_by_row(url: str, count: int) -> float:
    engine = make_engine(url)
    with engine.begin() as connection:
        experiment_id = connection.scalar(select(func.min(Experiment.id)))
    raw = engine.raw_connection()
    cursor = raw.cursor()
    started = time.perf_counter()
    for seq in range(10_000_000, 10_000_000 + count):
        cursor.execute(
            "INSERT INTO measurements (experiment_id, seq, ts, voltage, current, power) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            (experiment_id, seq, time.time(), 3.7, 1.5, 5.55),
        )
        raw.commit()
    elapsed = time.perf_counter() - started
    raw.close()
    engine.dispose()
    return count / elapsed


def _measure_executemany(url: str, count: int, batch: int = 2000) -> float:
    engine = make_engine(url)
    with engine.begin() as connection:
        experiment_id = connection.scalar(select(func.min(Experiment.id)))
    raw = engine.raw_connection()
    cursor = raw.cursor()
    first = 20_000_000
    started = time.perf_counter()
    for offset in range(0, count, batch):
        cursor.executemany(
            "INSERT INTO measurements (experiment_id, seq, ts, voltage, current, power, "
            "instruction, cycle, mode) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (experiment_id, first + seq, 1.7e9 + seq, 3.7, 1.5, 5.55, 1, 1, "CC")
                for seq in range(offset, min(offset + batch, count))
            ],
        )
        raw.commit()
    elapsed = time.perf_counter() - started
    raw.close()
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM measurements WHERE seq >= 10000000"))
    engine.dispose()
    return count / elapsed


def run(quick: bool) -> list[Result]:
    total = 50_000 if quick else 400_000
    with scratch_database("ingest") as url:
        node_rate = _measure_node(url, total)
        row_rate = _measure_row_by_row(url, 500 if quick else 2000)
        ceiling = _measure_executemany(url, 50_000 if quick else 200_000)
    return [
        Result(
            f"broker → node → MariaDB, {total:,} samples from {STATIONS} stations "
            f"({SAMPLES_PER_MESSAGE} per message, QoS 1)",
            node_rate,
            "samples/s",
            row_rate,
            "one INSERT + COMMIT per sample",
            f"≥ {TARGET_RATE:,} samples/s sustained",
            node_rate >= TARGET_RATE,
        ),
        Result(
            "ceiling: PyMySQL executemany, batches of 2,000, no broker",
            ceiling,
            "samples/s",
            row_rate,
            "one INSERT + COMMIT per sample",
            "context for the figure above",
            None,
        ),
    ]


BENCHMARK = Benchmark("ingest", "MQTT ingest into MariaDB, samples per second", run)
