"""The MQTT node: ingest of cycler telemetry, station liveness, and dispatch.

Data flow: the transport's callback only enqueues raw messages (a bounded queue, so a
slow database pushes back on the broker). One writer thread takes messages in batches
(by sample count and by time), parses and checks them, writes the whole batch in one
transaction and only then acknowledges the messages to the broker. A failed
transaction is retried with back-off and nothing is acknowledged until it commits, so
nothing acknowledged is ever lost and a redelivered sample is ignored by its key.

The same thread runs the dispatch duties between batches: it forwards operator
commands, starts the oldest queued experiment of each online idle station, and retries
or fails starts that a station does not confirm.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    InterfaceError,
    OperationalError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from config import NodeSettings
from datastore import dispatch as dispatch_store
from datastore import ingest as store
from datastore.models import utcnow
from domain.csvformat import channel_identity
from domain.status import ExperimentStatus, can_transition
from mqtt_node import protocol
from mqtt_node.topics import Topics
from mqtt_node.transport import Message, Transport

log = logging.getLogger("bem.node")


@dataclass
class NodeStats:
    """Counters for logs and tests."""

    messages: int = 0
    samples_written: int = 0
    samples_duplicate: int = 0
    rejected: int = 0
    batches: int = 0
    database_errors: int = 0
    starts_sent: int = 0
    # Dispatch passes completed: lets a test wait for "the node has looked again".
    control_passes: int = 0
    rejected_reasons: Counter[str] = field(default_factory=Counter)


class Rejected(Exception):
    """A message the node refuses; it is recorded with this reason and acknowledged."""


class Node:
    def __init__(
        self,
        engine: Engine,
        transport: Transport,
        settings: NodeSettings,
        topics: Topics,
        shared_group: str = "",
    ) -> None:
        self.engine = engine
        self.transport = transport
        self.settings = settings
        self.topics = topics
        self.shared_group = shared_group
        self.stats = NodeStats()
        self._queue: queue.Queue[Message] = queue.Queue(maxsize=settings.queue_size)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_control = 0.0
        # Replies (registered) and commands go out only after the batch that made them commits.
        self._outbox: list[tuple[str, bytes, int]] = []
        # Cycle number of each step, per experiment: steps never change once queued.
        self._step_cycles: dict[int, list[int]] = {}
        self.on_batch: Callable[[], None] | None = None  # a hook for tests

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="bem-node-writer", daemon=True)
        self._thread.start()
        subscriptions = self.topics.node_subscriptions(self.shared_group)
        self.transport.start(self._enqueue, [(topic_filter, 1) for topic_filter in subscriptions])

    def stop(self, timeout: float = 10.0) -> None:
        # The writer first: it commits and acknowledges the batch in hand, or leaves it
        # unacknowledged for the broker to deliver again, and a transport callback blocked
        # on a full queue gives up. Disconnecting first would hang on that callback.
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.transport.stop()

    def run_forever(self) -> None:
        self.start()
        try:
            while not self._stop.wait(60):
                self._log_stats()
        finally:
            self.stop()
            self._log_stats()  # the totals of this run, for the operator's log

    def _log_stats(self) -> None:
        s = self.stats
        log.info(
            "messages %d, samples written %d (duplicates %d), rejected %d, batches %d, db errors %d",
            s.messages,
            s.samples_written,
            s.samples_duplicate,
            s.rejected,
            s.batches,
            s.database_errors,
        )

    def _enqueue(self, message: Message) -> None:
        # Blocks the transport when the writer is behind: back-pressure on the broker.
        while not self._stop.is_set():
            try:
                self._queue.put(message, timeout=0.5)
                return
            except queue.Full:
                continue

    # ------------------------------------------------------------ writer thread

    def _run(self) -> None:
        while not self._stop.is_set():
            batch = self._take_batch()
            if batch:
                self._ingest(batch)
            if time.monotonic() >= self._next_control:
                self._next_control = time.monotonic() + self.settings.control_interval_s
                try:
                    if self._with_retry(self._control):
                        self.stats.control_passes += 1
                except Exception:
                    # A bug or a row the database refuses must not stop ingest: the next
                    # pass tries again.
                    log.exception("dispatch pass failed")
                self._flush_outbox()

    def _ingest(self, batch: list[Message]) -> None:
        """Write a batch in one transaction, then acknowledge its messages.

        A batch the database refuses for good (not a lost connection) is written again
        message by message, so that one message it cannot store is recorded as rejected
        instead of blocking every message after it.
        """
        try:
            committed = self._with_retry(lambda connection: self._apply_batch(connection, batch))
        except Exception as error:
            if len(batch) > 1:
                log.warning(
                    "a batch of %d messages failed (%s); writing them one by one",
                    len(batch),
                    _short(error),
                )
                for message in batch:
                    self._ingest([message])
                return
            committed = self._reject_unstorable(batch[0], error)
        if not committed:
            return  # stopping: unacknowledged, so the broker delivers it again
        for message in batch:
            message.ack()
        log.debug(
            "batch of %d messages committed; %d samples written so far",
            len(batch),
            self.stats.samples_written,
        )
        self._flush_outbox()
        if self.on_batch:
            self.on_batch()

    def _reject_unstorable(self, message: Message, error: Exception) -> bool:
        log.error("cannot store the message on %s", message.topic, exc_info=error)
        reason = f"could not be stored: {_short(error)}"

        def record(connection: Connection) -> None:
            self.stats.messages += 1  # the failed attempt was rolled back, counters too
            self._reject(connection, message, reason)

        try:
            return self._with_retry(record)
        except Exception:
            # Not even the dead-letter row can be written: drop it (loudly) rather than
            # let it come back forever and stall the node.
            log.exception("cannot record the rejected message on %s; dropped", message.topic)
            return True

    def _take_batch(self) -> list[Message]:
        """Messages until the batch holds `batch_size` samples' worth or the interval passes."""
        try:
            first = self._queue.get(timeout=min(0.2, self.settings.control_interval_s))
        except queue.Empty:
            return []
        batch = [first]
        weight = _weight(first)
        deadline = time.monotonic() + self.settings.batch_interval_s
        while weight < self.settings.batch_size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                message = self._queue.get(timeout=remaining)
            except queue.Empty:
                break
            batch.append(message)
            weight += _weight(message)
        return batch

    def _with_retry(self, work: Callable[[Connection], None]) -> bool:
        """Run `work` in one transaction until it commits; False if the node stops first.

        Lost connections, timeouts and deadlocks are retried with back-off. Any other
        error (a constraint, a value the database refuses, a bug) is raised at once:
        retrying would not help. Either way the counters and the outbox are put back as
        they were, since the transaction left nothing behind.
        """
        delay = 0.5
        while True:
            saved_stats = copy.deepcopy(self.stats)
            outbox_size = len(self._outbox)
            try:
                with self.engine.begin() as connection:
                    work(connection)
                return True
            except Exception as error:
                for stat in dataclasses.fields(NodeStats):
                    setattr(self.stats, stat.name, getattr(saved_stats, stat.name))
                del self._outbox[outbox_size:]
                if not _is_transient(error):
                    raise
                self.stats.database_errors += 1
                log.warning("database write failed (%s); retrying in %.1f s", _short(error), delay)
                if self._stop.wait(delay):
                    return False
                delay = min(delay * 2, 5.0)

    # ------------------------------------------------------------ ingest

    def _apply_batch(self, connection: Connection, batch: list[Message]) -> None:
        parsed: list[tuple[Message, str, int | str, object]] = []
        for message in batch:
            self.stats.messages += 1
            try:
                kind, key = self.topics.parse(message.topic)
                payload = self._parse(kind, message.payload)
            except protocol.ProtocolError as error:
                self._reject(connection, message, str(error))
                continue
            parsed.append((message, kind, key, payload))

        experiment_ids = {
            payload.experiment_id
            for _m, kind, _k, payload in parsed
            if kind in ("measures", "status", "alarms")
        }
        experiments = store.experiment_states(connection, experiment_ids)
        stations = store.known_stations(
            connection, (key for _m, kind, key, _p in parsed if kind != "announce")
        )
        pending: dict[int, _PendingSamples] = {}
        heartbeats: dict[int, tuple[str, int | None]] = {}

        for message, kind, key, payload in parsed:
            try:
                if kind == "announce":
                    self._announce(connection, key, payload)
                    continue
                if key not in stations:
                    raise Rejected(f"unknown station {key}")
                if kind == "heartbeat":
                    heartbeats[key] = (payload.state, payload.experiment_id)
                    continue
                experiment = experiments.get(payload.experiment_id)
                if experiment is None:
                    raise Rejected(f"unknown experiment {payload.experiment_id}")
                if experiment.station_id != key:
                    raise Rejected(
                        f"experiment {experiment.id} is not on station {key} "
                        f"(it is on station {experiment.station_id})"
                    )
                if kind == "measures":
                    if experiment.status.is_closed:
                        raise Rejected(
                            f"experiment {experiment.id} is {experiment.status.value}: "
                            "samples are no longer accepted"
                        )
                    cycles = self._cycles(connection, experiment.id)
                    pending.setdefault(experiment.id, _PendingSamples()).add(
                        payload.samples, cycles
                    )
                elif kind == "status":
                    experiments[experiment.id] = self._status(connection, experiment, payload)
                elif kind == "alarms":
                    store.insert_alarm(
                        connection,
                        experiment.id,
                        payload.ts,
                        payload.code,
                        payload.value,
                        payload.message or "",
                    )
            except Rejected as error:
                self._reject(connection, message, str(error))

        # In id order: two nodes writing samples of the same experiments then lock their
        # rows in the same order, and wait for each other rather than deadlock.
        for experiment_id, samples in sorted(pending.items()):
            channel_ids = (
                store.channel_ids(connection, experiment_id, samples.channels)
                if samples.channels
                else {}
            )
            extras = [
                store.ExtraValueRow(channel_ids[name], seq, value)
                for seq, name, value in samples.extra_values
            ]
            inserted = store.insert_samples(connection, experiment_id, samples.rows, extras)
            self.stats.samples_written += inserted
            self.stats.samples_duplicate += len(samples.rows) - inserted
        store.record_heartbeats(connection, utcnow(), heartbeats)
        self.stats.batches += 1

    def _cycles(self, connection: Connection, experiment_id: int) -> list[int]:
        if experiment_id not in self._step_cycles:
            self._step_cycles[experiment_id] = store.step_cycles(connection, experiment_id)
        return self._step_cycles[experiment_id]

    def _parse(self, kind: str, payload: bytes) -> object:
        parser = {
            "announce": protocol.parse_announce,
            "heartbeat": protocol.parse_heartbeat,
            "status": protocol.parse_status,
            "measures": protocol.parse_measures,
            "alarms": protocol.parse_alarm,
        }.get(kind)
        if parser is None:
            raise protocol.ProtocolError(f"the node does not accept {kind!r} messages")
        return parser(payload, max_bytes=self.settings.max_payload_bytes)

    def _reject(self, connection: Connection, message: Message, reason: str) -> None:
        self.stats.rejected += 1
        self.stats.rejected_reasons[reason.split(":")[0]] += 1
        # Both may quote a topic of up to 64 KiB: the log gets the start of each.
        log.warning("rejected message on %.300s: %.1000s", message.topic, reason)
        store.record_rejection(connection, message.topic, message.payload, reason)

    def _status(
        self,
        connection: Connection,
        experiment: store.ExperimentState,
        report: protocol.StatusReport,
    ) -> store.ExperimentState:
        new = report.status
        if not can_transition(experiment.status, new):
            raise Rejected(
                f"experiment {experiment.id} cannot go from {experiment.status.value} to {new.value}"
            )
        if new == experiment.status:
            return experiment  # a redelivered report
        at = dt.datetime.fromtimestamp(report.ts, dt.UTC)
        set_began = new == ExperimentStatus.RUNNING and experiment.began_at is None
        store.set_status(
            connection, experiment.id, new, at, report.message or "", set_began=set_began
        )
        return store.ExperimentState(
            experiment.id, experiment.station_id, new, at if set_began else experiment.began_at
        )

    def _announce(self, connection: Connection, unit: str, announce: protocol.Announce) -> None:
        if announce.unit != unit:
            # The reply goes to the payload's unit: a mismatch would register one unit
            # from another's topic.
            raise Rejected(
                f"unit {announce.unit!r} in the payload does not match the topic's unit {unit!r}"
            )
        ids = store.register_unit(
            connection,
            announce.unit,
            announce.host,
            [
                store.AnnouncedStation(
                    s.name, s.location, s.voltage_min, s.voltage_max, s.current_min, s.current_max
                )
                for s in announce.stations
            ],
        )
        self._outbox.append(
            (
                self.topics.registered(announce.unit),
                protocol.encode_registered(announce.unit, ids),
                protocol.QOS["registered"],
            )
        )

    # ------------------------------------------------------------ dispatch

    def _control(self, connection: Connection) -> None:
        now = utcnow()
        for command in dispatch_store.claim_pending_commands(connection, now):
            self._outbox.append(
                (
                    self.topics.commands(command.station_id),
                    protocol.encode_control(command.command, command.experiment_id),
                    protocol.QOS["commands"],
                )
            )
        timeout = dt.timedelta(seconds=self.settings.start_timeout_s)
        for start in dispatch_store.expired_starts(connection, now - timeout):
            if start.attempts > self.settings.start_retries:
                dispatch_store.fail_start(
                    connection,
                    start.experiment_id,
                    now,
                    f"station {start.station_id} did not confirm the start within "
                    f"{self.settings.start_timeout_s:g} s ({start.attempts} attempts)",
                )
                log.error("experiment %d: start not confirmed, marked ERROR", start.experiment_id)
            elif dispatch_store.claim_start(connection, start.experiment_id, now, start.attempts):
                self._send_start(start)
        online_since = now - dt.timedelta(seconds=self.settings.heartbeat_timeout_s)
        for start in dispatch_store.startable_experiments(connection, online_since):
            if dispatch_store.claim_start(connection, start.experiment_id, now, 0):
                self._send_start(start)

    def _send_start(self, start: dispatch_store.StartOrder) -> None:
        self.stats.starts_sent += 1
        log.info("starting experiment %d on station %d", start.experiment_id, start.station_id)
        self._outbox.append(
            (
                self.topics.commands(start.station_id),
                protocol.encode_start(
                    start.experiment_id,
                    start.profile_name,
                    start.steps,
                    start.limits,
                    start.battery,
                ),
                protocol.QOS["commands"],
            )
        )

    def _flush_outbox(self) -> None:
        for topic, payload, qos in self._outbox:
            self.transport.publish(topic, payload, qos)
        self._outbox.clear()


class _PendingSamples:
    """Rows of one experiment gathered from the messages of a batch."""

    def __init__(self) -> None:
        self.rows: list[store.SampleRow] = []
        self.channels: dict[str, str] = {}
        self.extra_values: list[tuple[int, str, float]] = []
        # A cycler's extra key ("temp_body", "Flow / L/min") -> the channel's name.
        self._channel_names: dict[str, str] = {}

    def add(self, samples: list[protocol.Sample], cycles: list[int]) -> None:
        for sample in samples:
            step = sample.instruction
            cycle = cycles[step - 1] if step is not None and 0 < step <= len(cycles) else None
            self.rows.append(
                store.SampleRow(
                    sample.seq,
                    sample.ts,
                    sample.voltage,
                    sample.current,
                    sample.power,
                    sample.instruction,
                    cycle,
                    sample.mode,
                )
            )
            for key, value in sample.extra.items():
                name = self._channel_names.get(key)
                if name is None:
                    name, unit = channel_identity(key)
                    self._channel_names[key] = name
                    self.channels.setdefault(name, unit)
                self.extra_values.append((sample.seq, name, value))


def _weight(message: Message) -> int:
    """A rough sample count of a message, for batching without parsing it twice."""
    return max(1, message.payload.count(b'"seq"'))


def _is_transient(error: Exception) -> bool:
    """Whether the database may accept the same transaction later (it was unreachable)."""
    if isinstance(error, (OperationalError, InterfaceError, DisconnectionError, PoolTimeoutError)):
        return True
    return isinstance(error, DBAPIError) and error.connection_invalidated


def _short(error: Exception) -> str:
    original = getattr(error, "orig", None) or error
    first_line = (str(original).splitlines() or [""])[0]  # some errors have no text
    return f"{type(original).__name__}: {first_line[:200]}"
