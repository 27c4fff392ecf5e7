"""The MQTT node: the process between the cyclers' broker and the database.

Its work is done by three parts, each in its own module: ingest (`mqtt_node.ingest`)
writes what the cyclers send and acknowledges it once committed, liveness
(`mqtt_node.liveness`) records heartbeats and says which stations are online, and
dispatch (`mqtt_node.dispatch`) starts queued experiments and forwards operator
commands; ingest also tells a unit its current station ids when it is still heard on the
old id of a station edited in the web app (`mqtt_node.reregister`). This module puts them together and runs them:

- the transport's callback only enqueues raw messages, in a bounded queue, so a slow
  database pushes back on the broker;
- one writer thread takes messages in batches (by sample count and by time) for ingest
  and, between batches, runs a dispatch pass every `control_interval_s`: one thread, so
  the node's writes never contend with each other;
- `start`, `stop` and `run_forever`, and the counters logged every minute and on stop.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine

from config import NodeSettings
from mqtt_node.dispatch import Dispatch
from mqtt_node.ingest import Ingest
from mqtt_node.liveness import Liveness
from mqtt_node.reregister import Reregistration
from mqtt_node.topics import Topics
from mqtt_node.transactions import Transactions
from mqtt_node.transport import Message, Transport

log = logging.getLogger("bem.node")


@dataclass
class NodeStats:
    """The node's counters at one moment, for logs and tests."""

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


class Node:
    """The node on `engine`, receiving from and publishing to the cyclers over `transport`."""

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
        self.on_batch: Callable[[], None] | None = None  # a hook for tests
        self._queue: queue.Queue[Message] = queue.Queue(maxsize=settings.queue_size)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_control = 0.0
        # Shared by ingest and dispatch: its count of failed attempts is the node's, and it
        # stops retrying when the node stops.
        self._transactions = Transactions(engine, self._stop)
        self.liveness = Liveness(settings.heartbeat_timeout_s)
        self.ingest = Ingest(
            self._transactions,
            topics,
            transport.publish,
            self.liveness,
            reregistration=Reregistration(settings.reregister_interval_s),
            max_payload_bytes=settings.max_payload_bytes,
        )
        self.ingest.on_commit = self._batch_committed
        self.dispatch = Dispatch(
            self._transactions,
            topics,
            transport.publish,
            self.liveness,
            start_timeout_s=settings.start_timeout_s,
            start_retries=settings.start_retries,
        )

    @property
    def stats(self) -> NodeStats:
        ingest, dispatch = self.ingest.stats, self.dispatch.stats
        return NodeStats(
            messages=ingest.messages,
            samples_written=ingest.samples_written,
            samples_duplicate=ingest.samples_duplicate,
            rejected=ingest.rejected,
            batches=ingest.batches,
            database_errors=self._transactions.errors,
            starts_sent=dispatch.starts_sent,
            control_passes=dispatch.passes,
            rejected_reasons=ingest.rejected_reasons.copy(),
        )

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

    def _batch_committed(self) -> None:
        if self.on_batch:
            self.on_batch()

    # ------------------------------------------------------------ writer thread

    def _run(self) -> None:
        while not self._stop.is_set():
            batch = self._take_batch()
            if batch:
                self.ingest.write(batch)
            if time.monotonic() >= self._next_control:
                self._next_control = time.monotonic() + self.settings.control_interval_s
                try:
                    self.dispatch.run_pass()
                except Exception:
                    # A bug or a row the database refuses must not stop ingest: the next
                    # pass tries again.
                    log.exception("dispatch pass failed")

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


def _weight(message: Message) -> int:
    """A rough sample count of a message, for batching without parsing it twice."""
    return max(1, message.payload.count(b'"seq"'))
