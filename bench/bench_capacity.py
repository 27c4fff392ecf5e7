"""Capacity: how many stations at what sample rate one node, one broker and one database carry.

Each level is N stations, each running one experiment, sampling at R Hz in real time
for a fixed duration. Publisher processes (two, spawned) act as the stations' cyclers:
per station, one `measures` message per publish interval (1 s, the rhythm
docs/protocol.md asks for; one level uses one message per sample, as `bem simulate`
publishes) carrying the samples taken since the last one, QoS 1, plus a heartbeat every
5 s (QoS 0). The stations' publish times are spread over the interval, as independent
cyclers' would be. Sample k of a station is taken at t0 + k / R, its `ts`.

A real node (mqtt_node.node.Node, PahoTransport, the production `node` settings) runs
in its own process, fresh for each level, against Mosquitto and a scratch MariaDB
database. What is measured, per level:

- offered: samples the publishers published (and the broker acknowledged) per second;
- committed: samples in the database per second while the stations publish (the
  experiments' sample counts, which the node keeps in the same transaction as the rows),
  from a quarter of the level to its end;
- lag: from a sample's `ts` to its commit. Every 0.2 s the benchmark reads MAX(seq) per
  experiment (the primary key's index, so cheap); samples newly visible were committed
  before that read began, so lag = (start of the read) - ts is an upper bound, at most
  one poll interval high. It includes the cycler's own wait for its next publish (up to
  the 1 s interval), as an operator watching the live plot sees it. Once messages are
  lost, a sample missing below the highest seq counts as committed with it, so the lag
  of a level that lost samples is approximate;
- node CPU: the node process's user + system time over the publishing window, in % of
  one core (100 % = one core busy); node peak RSS;
- broker drops: Mosquitto's $SYS/broker/publish/messages/dropped over the level (it
  drops QoS 1 messages for a client with more than max_queued_messages waiting; the
  counter is the broker's, so other clients' drops count too). The broker publishes it
  every sys_interval (10 s) when it changes: when samples are missing the benchmark
  waits for the next publication. "unknown" when no value was seen before the level;
- stored: rows in the database once the publishers are done and the node has drained,
  against samples published.

A level "kept up" when every published sample is stored, the lag did not grow (the
median lag of the samples taken in the last quarter of the level is less than 1 s above
that of the second quarter) and the lag p95 is at most 5 s. The baseline of each figure
is the same figure at the lightest level of the run (200 stations x 1 Hz in the full
run), measured in the same run.
"""

from __future__ import annotations

import dataclasses
import heapq
import math
import multiprocessing
import os
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import bindparam, text

from bench import Benchmark, Result
from bench.support import (
    BROKER_HOST,
    BROKER_PORT,
    add_running_experiments,
    publisher_client,
    scratch_database,
)
from datastore import make_engine

PUBLISH_INTERVAL_S = 1.0
HEARTBEAT_INTERVAL_S = 5.0
POLL_INTERVAL_S = 0.2
PUBLISHERS = 2
MAX_LAG_P95_S = 5.0
MAX_LAG_GROWTH_S = 1.0
# After the stations stop: how long the node may take to store what is still in flight.
DRAIN_TIMEOUT_S = 30.0
DROPPED_TOPIC = "$SYS/broker/publish/messages/dropped"
UPTIME_TOPIC = "$SYS/broker/uptime"


@dataclass(frozen=True)
class Level:
    """N stations at R Hz; `per_sample`: one message per sample instead of per interval."""

    stations: int
    rate_hz: float
    per_sample: bool = False

    @property
    def interval_s(self) -> float:
        return 1.0 / self.rate_hz if self.per_sample else PUBLISH_INTERVAL_S

    def label(self) -> str:
        how = "1 message per sample" if self.per_sample else f"1 message per {self.interval_s:g} s"
        return f"{self.stations} stations x {self.rate_hz:g} Hz ({how})"


@dataclass(frozen=True)
class LevelFigures:
    """What one level measured."""

    level: Level
    duration_s: float
    published: int
    messages: int
    stored: int
    offered_per_s: float
    committed_per_s: float
    lag_p50_s: float
    lag_p95_s: float
    lag_max_s: float
    lag_growth_s: float
    drain_s: float | None  # from the last publish; None: not within DRAIN_TIMEOUT_S
    node_cpu_percent: float
    node_peak_rss_mib: float
    broker_dropped: int | None  # None: not known (see BrokerCounters)
    publisher_behind_s: float  # the publishers' worst delay behind their schedule
    machine_cpu_percent: float | None  # all cores, 100 % = every core busy
    broker_cpu_percent: float | None
    database_cpu_percent: float | None
    load_average: tuple[float, float, float]

    @property
    def lost(self) -> int:
        return self.published - self.stored

    @property
    def kept_up(self) -> bool:
        return (
            self.lost == 0
            and self.drain_s is not None
            and self.lag_growth_s < MAX_LAG_GROWTH_S
            and self.lag_p95_s <= MAX_LAG_P95_S
        )

    def why_not(self) -> str:
        """Why the level did not keep up ("" when it did)."""
        reasons = []
        if self.lost:
            dropped = f", broker dropped {self.broker_dropped:,}" if self.broker_dropped else ""
            reasons.append(f"{self.lost:,} samples not stored{dropped}")
        if self.drain_s is None:
            reasons.append(f"not all stored {DRAIN_TIMEOUT_S:g} s after the last publish")
        if self.lag_growth_s >= MAX_LAG_GROWTH_S:
            reasons.append(f"lag grew by {self.lag_growth_s:.1f} s")
        if self.lag_p95_s > MAX_LAG_P95_S:
            reasons.append(f"lag p95 {self.lag_p95_s:.1f} s")
        return "; ".join(reasons)

    def line(self) -> str:
        verdict = "kept up" if self.kept_up else f"DID NOT keep up ({self.why_not()})"
        drain = f"{self.drain_s:.1f} s" if self.drain_s is not None else "not drained"
        others = ", ".join(
            f"{name} {value:.0f} %"
            for name, value in (
                ("machine", self.machine_cpu_percent),
                ("broker", self.broker_cpu_percent),
                ("MariaDB", self.database_cpu_percent),
            )
            if value is not None
        )
        return (
            f"  {self.level.label()}: {verdict}\n"
            f"    offered {self.offered_per_s:,.0f} samples/s in "
            f"{self.messages / self.duration_s:,.0f} messages/s, committed "
            f"{self.committed_per_s:,.0f} samples/s; stored {self.stored:,} of "
            f"{self.published:,}; drain {drain}\n"
            f"    lag p50 {self.lag_p50_s:.2f} s, p95 {self.lag_p95_s:.2f} s, max "
            f"{self.lag_max_s:.2f} s (growth {self.lag_growth_s:+.2f} s)\n"
            f"    node CPU {self.node_cpu_percent:.0f} % of a core, peak RSS "
            f"{self.node_peak_rss_mib:.0f} MiB; broker dropped "
            f"{_or_unknown(self.broker_dropped)}; publishers behind schedule by at most "
            f"{self.publisher_behind_s:.2f} s; CPU: {others or 'not measured'}; load average "
            + " ".join(f"{value:.2f}" for value in self.load_average)
        )


def _or_unknown(value: int | None) -> str:
    return f"{value:,}" if value is not None else "unknown"


# ---------------------------------------------------------------- the node's process


@dataclass(frozen=True)
class NodeUsage:
    cpu_s: float
    peak_rss_mib: float
    samples_written: int
    rejected: int
    database_errors: int


def _usage(node: Any) -> NodeUsage:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    # ru_maxrss is in KiB on Linux, in bytes on macOS.
    rss = usage.ru_maxrss / 1024 if sys.platform != "darwin" else usage.ru_maxrss / 1024**2
    stats = node.stats
    return NodeUsage(
        usage.ru_utime + usage.ru_stime,
        rss,
        stats.samples_written,
        stats.rejected,
        stats.database_errors,
    )


def _node_process(url: str, prefix: str, broker: tuple[str, int], pipe: Any) -> None:
    """A node with the production settings, answering "usage" and "stop" on `pipe`."""
    from config import default_settings
    from mqtt_node.node import Node
    from mqtt_node.topics import Topics
    from mqtt_node.transport import PahoTransport

    settings = default_settings()
    engine = make_engine(url)
    transport = PahoTransport(
        dataclasses.replace(
            settings.mqtt,
            host=broker[0],
            port=broker[1],
            client_id=f"bench-node-{prefix}",
            # Persistent as in production; the broker forgets the session soon after.
            session_expiry_s=60,
        )
    )
    node = Node(engine, transport, settings.node, Topics(prefix))
    node.start()
    connected = transport.wait_connected(10)
    time.sleep(0.5)  # the subscriptions settle
    pipe.send(connected)
    while True:
        command = pipe.recv()
        if command == "usage":
            pipe.send(_usage(node))
        elif command == "stop":
            usage = _usage(node)
            node.stop()
            engine.dispose()
            pipe.send(usage)
            return


# ---------------------------------------------------------------- the cyclers' processes


@dataclass(frozen=True)
class PublisherReport:
    samples: int
    messages: int
    behind_s: float
    last_publish: float  # time.time() of the last measures message
    acknowledged: bool


def _publisher_process(
    prefix: str,
    broker: tuple[str, int],
    stations: list[tuple[int, int, float]],
    level: Level,
    duration_s: float,
    ready: Any,
    go: Any,
    start: Any,
    reports: Any,
) -> None:
    """Cyclers for `stations` (station id, experiment id, phase in s): measures every
    interval, heartbeats every HEARTBEAT_INTERVAL_S, from `start.value` for `duration_s`."""

    from mqtt_node import protocol
    from mqtt_node.topics import Topics

    topics = Topics(prefix)
    client = publisher_client("bench-cyclers", inflight=1000)
    acked = 0
    acked_lock = threading.Lock()

    def on_publish(*_args: object) -> None:
        nonlocal acked
        with acked_lock:
            acked += 1

    client.on_publish = on_publish
    client.connect(broker[0], broker[1])
    client.loop_start()
    ready.set()
    go.wait()
    t0 = start.value
    rate = level.rate_hz
    per_station = round(duration_s * rate)
    next_seq = [0] * len(stations)
    # (when, kind, index): kind 0 measures, 1 heartbeat.
    schedule = [(t0 + phase, 0, i) for i, (_s, _e, phase) in enumerate(stations)]
    schedule += [
        (t0 + phase * HEARTBEAT_INTERVAL_S / level.interval_s, 1, i)
        for i, (_s, _e, phase) in enumerate(stations)
    ]
    heapq.heapify(schedule)
    samples = messages = heartbeats = 0
    behind = 0.0
    last_publish = t0
    end = t0 + duration_s
    while schedule:
        when, kind, index = heapq.heappop(schedule)
        if kind == 1 and when >= end:
            continue  # the stations have stopped
        now = time.time()
        if when > now:
            time.sleep(when - now)
        else:
            behind = max(behind, now - when)
        station_id, experiment_id, _phase = stations[index]
        if kind == 1:
            client.publish(
                topics.heartbeat(station_id),
                protocol.encode_heartbeat(time.time(), "running", experiment_id),
                qos=0,
            )
            heartbeats += 1
            heapq.heappush(schedule, (when + HEARTBEAT_INTERVAL_S, 1, index))
            continue
        first = next_seq[index]
        # Every sample taken by now (the 1e-6 absorbs the rounding of when - t0).
        last = min(per_station, math.floor((when - t0) * rate + 1e-6) + 1)
        if last > first:
            batch = [
                protocol.Sample(
                    seq=seq,
                    ts=t0 + seq / rate,
                    voltage=3.7 + (seq % 100) * 1e-3,
                    current=1.5,
                    power=5.55,
                    instruction=1,
                    mode="CC",
                    extra={"temp_body": 25.0 + (seq % 7) * 0.1},
                )
                for seq in range(first, last)
            ]
            client.publish(
                topics.measures(station_id),
                protocol.encode_measures(experiment_id, batch),
                qos=1,
            )
            next_seq[index] = last
            samples += last - first
            messages += 1
            last_publish = time.time()
        if last < per_station:
            heapq.heappush(schedule, (when + level.interval_s, 0, index))
    # on_publish counts a measures message once the broker acknowledged it, a QoS 0
    # heartbeat once it was written to the socket.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with acked_lock:
            if acked >= messages + heartbeats:
                break
        time.sleep(0.05)
    with acked_lock:
        everything = acked >= messages + heartbeats
    client.disconnect()
    client.loop_stop()
    reports.put(PublisherReport(samples, messages, behind, last_publish, everything))


# ---------------------------------------------------------------- observing the broker


class BrokerCounters:
    """Mosquitto's dropped-message counter, read from $SYS while the benchmark runs.

    Mosquitto publishes it every sys_interval (10 s by default) when it has changed, and
    a new subscriber does not always get the last value: `dropped` is None until a value
    has come. One instance watches a whole plan, so after the first publication every
    level's start value is known.
    """

    def __init__(self, broker: tuple[str, int]) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self._lock = threading.Lock()
        self.dropped: int | None = None
        self.seen = False  # any $SYS update at all
        self._updates = 0
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"bench-sys-{uuid.uuid4().hex[:8]}"
        )
        self._client.on_message = self._on_message
        self._client.connect(broker[0], broker[1])
        self._client.subscribe([(DROPPED_TOPIC, 0), (UPTIME_TOPIC, 0)])
        self._client.loop_start()
        self.wait_for_update(2)  # the retained values, when the broker has them

    def _on_message(self, _client: object, _userdata: object, message: Any) -> None:
        with self._lock:
            self.seen = True
            self._updates += 1
            if message.topic == DROPPED_TOPIC:
                self.dropped = int(message.payload)

    def dropped_since(self, before: int | None) -> int | None:
        """Messages dropped since the counter read `before`; None when that cannot be
        known (no value before, one since)."""
        if not self.seen:
            return None
        if self.dropped is None:
            return 0  # not published since the subscription: unchanged
        return self.dropped - before if before is not None else None

    def updates(self) -> int:
        with self._lock:
            return self._updates

    def wait_for_update(self, timeout: float) -> bool:
        """Wait for the broker's next $SYS publication (every sys_interval, 10 s by default)."""
        before = self.updates()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.updates() > before:
                time.sleep(0.1)  # the other counters of the same pass
                return True
            time.sleep(0.1)
        return False

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


class _CpuOf:
    """CPU time of the broker, the database server and the whole machine, when psutil is
    installed and they run here (psutil is optional: without it these are not measured).
    The broker and the database server are the longest-running `mosquitto` and
    `mariadbd` (or `mysqld`) processes."""

    def __init__(self) -> None:
        try:
            import psutil
        except ImportError:
            self._psutil = None
            return
        self._psutil = psutil
        # The longest-running of each: tests may start servers of their own meanwhile.
        self._processes: dict[str, Any] = {}
        for process in sorted(
            psutil.process_iter(["name", "create_time"]),
            key=lambda process: process.info["create_time"] or 0.0,
            reverse=True,
        ):
            name = process.info["name"] or ""
            if name == "mosquitto":
                self._processes["broker"] = process
            elif name in ("mariadbd", "mysqld"):
                self._processes["database"] = process

    def snapshot(self) -> dict[str, float]:
        if self._psutil is None:
            return {}
        times = {"machine": _busy(self._psutil.cpu_times())}
        for role, process in self._processes.items():
            try:
                cpu = process.cpu_times()
                times[role] = cpu.user + cpu.system
            except Exception:
                continue
        return times

    @staticmethod
    def percent(
        before: dict[str, float], after: dict[str, float], seconds: float
    ) -> dict[str, float]:
        cores = os.cpu_count() or 1
        return {
            role: 100 * (after[role] - before[role]) / seconds / (cores if role == "machine" else 1)
            for role in before
            if role in after
        }


def _busy(times: Any) -> float:
    idle = times.idle + getattr(times, "iowait", 0.0)
    return sum(times) - idle


# ---------------------------------------------------------------- one level


_COUNTED = text("SELECT SUM(sample_count) FROM experiments WHERE id IN :ids").bindparams(
    bindparam("ids", expanding=True)
)
_MAX_SEQ = text(
    "SELECT experiment_id, MAX(seq) FROM measurements WHERE experiment_id IN :ids "
    "GROUP BY experiment_id"
).bindparams(bindparam("ids", expanding=True))


def measure_level(
    url: str,
    level: Level,
    duration_s: float,
    broker: tuple[str, int] | None = None,
    counters: BrokerCounters | None = None,
) -> LevelFigures:
    """Run one level against the database at `url` and the broker; its figures."""
    broker = broker or (BROKER_HOST, BROKER_PORT)
    own_counters = counters is None
    context = multiprocessing.get_context("spawn")
    prefix = f"cap{uuid.uuid4().hex[:8]}"
    pairs = add_running_experiments(url, level.stations, label=prefix)
    experiment_ids = [experiment for _station, experiment in pairs]
    row = {experiment: index for index, experiment in enumerate(experiment_ids)}
    engine = make_engine(url)
    counters = counters or BrokerCounters(broker)
    node_pipe, child_pipe = context.Pipe()
    node = context.Process(target=_node_process, args=(url, prefix, broker, child_pipe))
    node.start()
    publishers: list[Any] = []
    try:
        # The publishers start while the node does: they connect, then wait for `go`.
        ready = [context.Event() for _ in range(PUBLISHERS)]
        go = context.Event()
        start = context.Value("d", 0.0)
        reports = context.Queue()
        spread = [
            (station, experiment, level.interval_s * index / level.stations)
            for index, (station, experiment) in enumerate(pairs)
        ]
        for number in range(PUBLISHERS):
            share = spread[number::PUBLISHERS]
            if not share:
                ready[number].set()
                continue
            process = context.Process(
                target=_publisher_process,
                args=(prefix, broker, share, level, duration_s, ready[number], go, start, reports),
            )
            process.start()
            publishers.append(process)
        deadline = time.monotonic() + 60
        while node.is_alive() and time.monotonic() < deadline and not node_pipe.poll(0.2):
            pass
        if not node_pipe.poll(0) or not node_pipe.recv():
            raise RuntimeError(
                f"the node could not connect to the broker at {broker[0]}:{broker[1]}"
            )
        for event in ready:
            if not event.wait(60):
                raise RuntimeError("a publisher did not connect to the broker")
        dropped_before = counters.dropped
        cpu_of = _CpuOf()
        t0 = time.time() + 0.5
        start.value = t0
        go.set()
        time.sleep(max(0.0, t0 - time.time()))
        node_pipe.send("usage")
        usage_before: NodeUsage = node_pipe.recv()
        cpu_before = cpu_of.snapshot()
        wall_before = time.time()

        committed = np.full(len(experiment_ids), -1, dtype=np.int64)
        lags: list[np.ndarray] = []
        taken: list[np.ndarray] = []  # when each sample was taken, s after t0
        publishing_end = t0 + duration_s
        usage_end: NodeUsage | None = None
        cpu_end: dict[str, float] = {}
        wall_end = 0.0
        # (time of the poll, samples committed by then), for the rate in the steady state.
        progress: list[tuple[float, int]] = []
        published_reports: list[PublisherReport] = []
        with engine.connect() as connection:
            while True:
                polled_at = time.time()
                found = connection.execute(_MAX_SEQ, {"ids": experiment_ids}).all()
                connection.commit()
                for experiment, max_seq in found:
                    index = row[experiment]
                    if max_seq > committed[index]:
                        seqs = np.arange(committed[index] + 1, max_seq + 1)
                        ts = seqs / level.rate_hz
                        taken.append(ts)
                        lags.append(polled_at - (t0 + ts))
                        committed[index] = max_seq
                # Rows, as the node counts them in the same transaction as the samples: the
                # highest seq overstates them once the broker drops messages.
                counted = connection.execute(_COUNTED, {"ids": experiment_ids}).scalar_one()
                progress.append((polled_at, int(counted or 0)))
                if usage_end is None and polled_at >= publishing_end:
                    node_pipe.send("usage")
                    usage_end = node_pipe.recv()
                    cpu_end = cpu_of.snapshot()
                    wall_end = time.time()
                while len(published_reports) < len(publishers) and not reports.empty():
                    published_reports.append(reports.get())
                if usage_end is not None and len(published_reports) == len(publishers):
                    expected = sum(report.samples for report in published_reports)
                    if int(counted or 0) >= expected:
                        break
                    last_publish = max(report.last_publish for report in published_reports)
                    if time.time() - last_publish > DRAIN_TIMEOUT_S:
                        break
                if polled_at > publishing_end + 120 + DRAIN_TIMEOUT_S:
                    break  # a publisher never reported
                time.sleep(max(0.0, POLL_INTERVAL_S - (time.time() - polled_at)))
        drained_at = time.time()
        for process in publishers:
            process.join(30)
        while len(published_reports) < len(publishers):
            published_reports.append(reports.get(timeout=30))
        node_pipe.send("stop")
        usage_final: NodeUsage = node_pipe.recv()
        node.join(30)
        with engine.connect() as connection:
            stored = connection.execute(
                text("SELECT COUNT(*) FROM measurements WHERE experiment_id IN :ids").bindparams(
                    bindparam("ids", expanding=True)
                ),
                {"ids": experiment_ids},
            ).scalar_one()
        if stored < sum(report.samples for report in published_reports):
            # The broker publishes its counters every sys_interval (10 s by default): wait
            # for the next, which says whether it dropped what is missing.
            counters.wait_for_update(12)
        broker_dropped = counters.dropped_since(dropped_before)
    finally:
        for process in [node, *publishers]:
            if process.is_alive():
                process.terminate()
                process.join(10)
        if own_counters:
            counters.close()
        engine.dispose()

    assert usage_end is not None
    published = sum(report.samples for report in published_reports)
    messages = sum(report.messages for report in published_reports)
    last_publish = max(report.last_publish for report in published_reports)
    all_lags = np.concatenate(lags) if lags else np.array([math.nan])
    all_taken = np.concatenate(taken) if taken else np.array([math.nan])
    drained = int(stored) >= published and all(r.acknowledged for r in published_reports)
    if usage_final.database_errors:
        print(f"    node: {usage_final.database_errors} database errors", flush=True)
    cpu = _CpuOf.percent(cpu_before, cpu_end, wall_end - wall_before)
    return LevelFigures(
        level=level,
        duration_s=duration_s,
        published=published,
        messages=messages,
        stored=int(stored),
        offered_per_s=published / duration_s,
        committed_per_s=_steady_rate(progress, t0 + duration_s / 4, publishing_end),
        lag_p50_s=float(np.percentile(all_lags, 50)),
        lag_p95_s=float(np.percentile(all_lags, 95)),
        lag_max_s=float(np.max(all_lags)),
        lag_growth_s=_lag_growth(all_taken, all_lags, duration_s),
        drain_s=max(0.0, drained_at - last_publish) if drained else None,
        node_cpu_percent=100
        * (usage_end.cpu_s - usage_before.cpu_s)
        / max(1e-9, wall_end - wall_before),
        node_peak_rss_mib=usage_final.peak_rss_mib,
        broker_dropped=broker_dropped,
        publisher_behind_s=max(report.behind_s for report in published_reports),
        machine_cpu_percent=cpu.get("machine"),
        broker_cpu_percent=cpu.get("broker"),
        database_cpu_percent=cpu.get("database"),
        load_average=os.getloadavg(),
    )


def _steady_rate(progress: list[tuple[float, int]], since: float, until: float) -> float:
    """Samples committed per second between the first polls at or after `since` and
    `until`: the warm-up (the first publish interval and the first batches) left out."""
    start = next((point for point in progress if point[0] >= since), None)
    end = next((point for point in progress if point[0] >= until), None)
    if start is None or end is None or end[0] <= start[0]:
        return math.nan
    return (end[1] - start[1]) / (end[0] - start[0])


def _lag_growth(taken: np.ndarray, lags: np.ndarray, duration_s: float) -> float:
    """Median lag of the samples taken in the last quarter minus that of the second quarter."""
    second = lags[(taken >= duration_s / 4) & (taken < duration_s / 2)]
    last = lags[taken >= 3 * duration_s / 4]
    if not len(second) or not len(last):
        return math.inf
    return float(np.median(last) - np.median(second))


# ---------------------------------------------------------------- the run


@dataclass(frozen=True)
class Plan:
    """Levels measured in order; each series stops at its first level that does not keep up."""

    series: tuple[tuple[Level, ...], ...]
    duration_s: float


FULL = Plan(
    series=(
        (Level(200, 1), Level(200, 10), Level(200, 20), Level(200, 35), Level(200, 50),
         Level(200, 100), Level(200, 200)),
        (Level(300, 1), Level(400, 1), Level(500, 1), Level(1000, 1), Level(2000, 1)),
        (Level(200, 10, per_sample=True),),
    ),
    duration_s=60.0,
)  # fmt: skip
QUICK = Plan(series=((Level(200, 1), Level(200, 10)),), duration_s=6.0)


def measure_plan(
    url: str, plan: Plan, broker: tuple[str, int] | None = None, echo: bool = True
) -> list[LevelFigures]:
    """Every level of the plan that is reached, in order."""
    figures = []
    counters = BrokerCounters(broker or (BROKER_HOST, BROKER_PORT))
    try:
        for series in plan.series:
            for level in series:
                if echo:
                    print(f"  measuring {level.label()} for {plan.duration_s:g} s ...", flush=True)
                measured = measure_level(url, level, plan.duration_s, broker, counters)
                figures.append(measured)
                if echo:
                    print(measured.line(), flush=True)
                if not measured.kept_up:
                    break
    finally:
        counters.close()
    return figures


def results(figures: Sequence[LevelFigures]) -> list[Result]:
    """Three results per level: committed rate, lag p95 and node CPU, each against the
    same figure at the first level."""
    base = figures[0]
    base_what = f"at {base.level.label()}"
    out = []
    for measured in figures:
        verdict = measured.kept_up
        name = measured.level.label()
        out += [
            Result(
                f"{name}: samples committed/s ({measured.offered_per_s:,.0f} offered; "
                f"stored {measured.stored:,} of {measured.published:,})",
                measured.committed_per_s,
                "samples/s",
                base.committed_per_s,
                base_what,
                "keeps up: all stored, lag bounded (p95 ≤ 5 s, not growing)",
                verdict,
            ),
            Result(
                f"{name}: lag sample → committed, p95 (p50 {measured.lag_p50_s:.2f} s, "
                f"max {measured.lag_max_s:.2f} s)",
                measured.lag_p95_s,
                "s",
                base.lag_p95_s,
                base_what,
                f"≤ {MAX_LAG_P95_S:g} s",
                measured.lag_p95_s <= MAX_LAG_P95_S,
            ),
            Result(
                f"{name}: node CPU, % of one core (peak RSS {measured.node_peak_rss_mib:.0f} MiB)",
                measured.node_cpu_percent,
                "%",
                base.node_cpu_percent,
                base_what,
                "context: where the limit lies",
                None,
            ),
        ]
    return out


def run(quick: bool) -> list[Result]:
    print(f"  load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}", flush=True)
    with scratch_database("capacity") as url:
        figures = measure_plan(url, QUICK if quick else FULL)
    return results(figures)


BENCHMARK = Benchmark(
    "capacity",
    "stations x sample rate one node, broker and database sustain, in real time",
    run,
)
