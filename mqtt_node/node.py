"""The MQTT node: the process between the cyclers' broker and the database.

Its work is done by three parts, each in its own module: ingest (`mqtt_node.ingest`)
writes what the cyclers send and acknowledges it once committed, liveness
(`mqtt_node.liveness`) records heartbeats and says which stations are online, and
dispatch (`mqtt_node.dispatch`) starts queued experiments and forwards operator
commands; ingest also tells a unit its current station ids when it is still heard on the
old id of a station edited in the web app (`mqtt_node.reregister`). With `mqtt.acl_file`
set, the node also keeps the broker's ACL current (`mqtt_node.broker_acl`): at start-up,
before each batch's `registered` messages go out, and every `mqtt.acl_check_interval_s`.
This module puts them together and runs them:

- the transport's callback only enqueues raw messages, in a queue bounded by message
  count and by payload bytes (`PayloadQueue`), so a slow database pushes back on the
  broker and large messages cannot fill the node's memory while it waits;
- one writer thread takes messages in batches (by sample count and by time) for ingest
  and, between batches, runs a dispatch pass every `control_interval_s`: one thread, so
  the node's writes never contend with each other;
- `start`, `stop` and `run_forever`, and the counters logged every minute and on stop.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine

from config import NodeSettings
from datastore.ingest import prune_rejections
from datastore.types import utcnow
from mqtt_node.broker_acl import BrokerAcl
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


class PayloadQueue:
    """Messages waiting for the writer, bounded by count and by the bytes of their payloads.

    A count alone does not bound memory: during a database outage a few hundred messages
    of several megabytes each would be held. `put` waits while either bound would be
    passed; a message larger than the byte bound alone still enters an empty queue, so it
    is refused by ingest (a payload over `max_payload_bytes`) rather than block forever.
    """

    def __init__(self, max_messages: int, max_bytes: int) -> None:
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self._items: deque[Message] = deque()
        self._bytes = 0
        self._changed = threading.Condition()

    @property
    def queued_bytes(self) -> int:
        with self._changed:
            return self._bytes

    def __len__(self) -> int:
        with self._changed:
            return len(self._items)

    def _has_room(self, size: int) -> bool:
        if not self._items:
            return True
        return len(self._items) < self.max_messages and self._bytes + size <= self.max_bytes

    def put(self, message: Message, timeout: float) -> bool:
        """Add the message, waiting at most `timeout` seconds for room; False if none came."""
        size = len(message.payload)
        with self._changed:
            if not self._changed.wait_for(lambda: self._has_room(size), timeout):
                return False
            self._items.append(message)
            self._bytes += size
            self._changed.notify_all()
            return True

    def get(self, timeout: float) -> Message | None:
        """The oldest message, waiting at most `timeout` seconds; None if none came."""
        with self._changed:
            if not self._changed.wait_for(lambda: bool(self._items), max(0.0, timeout)):
                return None
            message = self._items.popleft()
            self._bytes -= len(message.payload)
            self._changed.notify_all()
            return message


class Node:
    """The node on `engine`, receiving from and publishing to the cyclers over `transport`."""

    def __init__(
        self,
        engine: Engine,
        transport: Transport,
        settings: NodeSettings,
        topics: Topics,
        shared_group: str = "",
        acl: BrokerAcl | None = None,
    ) -> None:
        self.engine = engine
        self.transport = transport
        self.settings = settings
        self.topics = topics
        self.shared_group = shared_group
        # The broker's ACL, kept current from the database (None: not this node's job).
        self.acl = acl
        self.on_batch: Callable[[], None] | None = None  # a hook for tests
        self._queue = PayloadQueue(settings.queue_size, settings.queue_max_bytes)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_control = 0.0
        self._next_prune = 0.0
        self._next_acl_check = 0.0
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
            max_channels=settings.max_channels_per_experiment,
            max_stations_per_unit=settings.max_stations_per_unit,
        )
        self.ingest.on_commit = self._batch_committed
        if acl is not None:
            self.ingest.before_replies = lambda: self.refresh_acl("a unit is sent station ids")
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
        # Before connecting: the node's own user, and the stations known, are in the ACL
        # the broker applies when the node subscribes and units resume.
        self.refresh_acl("start-up")
        self._next_acl_check = time.monotonic() + (self.acl.check_interval_s if self.acl else 0)
        self._thread = threading.Thread(target=self._run, name="bem-node-writer", daemon=True)
        self._thread.start()
        subscriptions = self.topics.node_subscriptions(self.shared_group)
        self.transport.start(self._enqueue, [(topic_filter, 1) for topic_filter in subscriptions])

    def stop(self, timeout: float = 10.0) -> None:
        # The writer first: it commits and acknowledges the batch in hand, or leaves it
        # unacknowledged for the broker to deliver again, and a transport callback blocked
        # on a full queue gives up. Disconnecting first would hang on that callback.
        self._stop.set()
        if self.acl is not None:
            self.acl.stopping.set()
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
            if self._queue.put(message, timeout=0.5):
                return

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
            if time.monotonic() >= self._next_prune:
                self._next_prune = time.monotonic() + self.settings.rejected_prune_interval_s
                self.prune_rejections()
            if self.acl is not None and time.monotonic() >= self._next_acl_check:
                self._next_acl_check = time.monotonic() + self.acl.check_interval_s
                # Stations edited, deprecated or removed in the web app or the CLI.
                self.refresh_acl("periodic check")

    def refresh_acl(self, why: str) -> bool:
        """Bring the broker's ACL up to date (when this node keeps it); whether it was
        rewritten. Never raises: a failure is logged and ingest goes on."""
        if self.acl is None:
            return False
        try:
            return self.acl.refresh(why)
        except Exception:
            log.exception("broker ACL %s: the update failed", self.acl.path)
            return False

    def prune_rejections(self) -> int:
        """Apply the retention of refused messages (node.rejected_retention_days,
        node.rejected_max_rows); returns how many were deleted (0 when it failed)."""
        days, rows = self.settings.rejected_retention_days, self.settings.rejected_max_rows
        older_than = utcnow() - dt.timedelta(days=days) if days > 0 else None
        try:
            deleted = self._transactions.commit(
                lambda connection: prune_rejections(
                    connection, older_than=older_than, keep_rows=rows or None
                )
            )
        except Exception:
            # A later pass tries again; ingest goes on meanwhile.
            log.exception("pruning the refused messages failed")
            return 0
        if deleted:
            log.info("deleted %d old refused messages", deleted)
        return deleted or 0

    def _take_batch(self) -> list[Message]:
        """Messages until the batch holds `batch_size` samples' worth or `queue_max_bytes` of
        payload, or the interval passes: the batch in hand counts against memory too."""
        first = self._queue.get(timeout=min(0.2, self.settings.control_interval_s))
        if first is None:
            return []
        batch = [first]
        weight = _weight(first)
        size = len(first.payload)
        deadline = time.monotonic() + self.settings.batch_interval_s
        while weight < self.settings.batch_size and size < self.settings.queue_max_bytes:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            message = self._queue.get(timeout=remaining)
            if message is None:
                break
            batch.append(message)
            weight += _weight(message)
            size += len(message.payload)
        return batch


def _weight(message: Message) -> int:
    """A rough sample count of a message, for batching without parsing it twice."""
    return max(1, message.payload.count(b'"seq"'))
