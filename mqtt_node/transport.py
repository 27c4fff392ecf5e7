"""Transports: how messages reach the node and the simulated cyclers.

`PahoTransport` talks to a real MQTT broker (paho-mqtt 2): QoS 1, a fixed client id,
a persistent session, manual acknowledgement and reconnection with back-off.
`MemoryBroker` is an in-process broker with the same topic semantics (wildcards and
shared subscriptions), so the demo and unit tests need no server.

Both hand incoming messages to a callback as `Message` objects; the receiver calls
`message.ack()` only once the message's effects are committed.
"""

from __future__ import annotations

import itertools
import logging
import queue
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple, Protocol, TypeAlias

from paho.mqtt.client import topic_matches_sub

if TYPE_CHECKING:  # only the type: a cycler using this module needs no settings machinery
    from config import MqttSettings

log = logging.getLogger("bem.mqtt")

MessageHandler = Callable[["Message"], None]
# How a part of the node sends a message, given a transport's `publish` (or a test's stand-in).
Publish: TypeAlias = Callable[[str, bytes, int], None]


@dataclass
class Message:
    topic: str
    payload: bytes
    qos: int = 1
    # Acknowledges the message to the broker; a no-op for QoS 0 and in-memory messages.
    ack: Callable[[], None] = field(default=lambda: None, repr=False)


class Outgoing(NamedTuple):
    """A message to publish: topic, payload and QoS."""

    topic: str
    payload: bytes
    qos: int


class TransportError(Exception):
    """A transport that cannot be set up as configured (one line naming the setting)."""


class Transport(Protocol):
    """What the node and the simulator need from a message transport."""

    def start(self, on_message: MessageHandler, subscriptions: Sequence[tuple[str, int]]) -> None:
        """Connect, subscribe and start delivering messages to `on_message`."""

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        """Send a message (queued while disconnected; QoS 1 is resent after a reconnect)."""

    def stop(self) -> None:
        """Disconnect and stop delivering."""

    @property
    def connected(self) -> bool: ...


# ---------------------------------------------------------------- in-process broker


def _shared(topic_filter: str) -> tuple[str | None, str]:
    """The group and plain filter of `$share/{group}/{filter}`; no group for other filters."""
    if topic_filter.startswith("$share/"):
        _share, group, plain = topic_filter.split("/", 2)
        return group, plain
    return None, topic_filter


class MemoryBroker:
    """An in-process broker: each subscriber gets its own delivery thread, in publish order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: list[MemoryTransport] = []
        self._round_robin = itertools.count()

    def transport(self, name: str = "") -> MemoryTransport:
        return MemoryTransport(self, name)

    def _attach(self, transport: MemoryTransport) -> None:
        with self._lock:
            self._subscribers.append(transport)

    def _detach(self, transport: MemoryTransport) -> None:
        with self._lock:
            if transport in self._subscribers:
                self._subscribers.remove(transport)

    def publish(self, topic: str, payload: bytes, qos: int) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        shared: dict[tuple[str, str], list[MemoryTransport]] = {}
        for subscriber in subscribers:
            for topic_filter, _qos in subscriber.subscriptions:
                group, plain = _shared(topic_filter)
                # paho's matcher knows nothing of `$share/`: it matches the plain filter.
                if not topic_matches_sub(plain, topic):
                    continue
                if group is not None:
                    shared.setdefault((group, topic_filter), []).append(subscriber)
                else:
                    subscriber._deliver(Message(topic, payload, qos))
                break
        for members in shared.values():
            members[next(self._round_robin) % len(members)]._deliver(Message(topic, payload, qos))


class MemoryTransport:
    """One client of a `MemoryBroker`."""

    def __init__(self, broker: MemoryBroker, name: str = "") -> None:
        self._broker = broker
        self.name = name
        self.subscriptions: list[tuple[str, int]] = []
        self._inbox: queue.Queue[Message | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._on_message: MessageHandler | None = None

    @property
    def connected(self) -> bool:
        return self._thread is not None

    def start(self, on_message: MessageHandler, subscriptions: Sequence[tuple[str, int]]) -> None:
        self._on_message = on_message
        self.subscriptions = list(subscriptions)
        self._thread = threading.Thread(target=self._run, name=f"memory-{self.name}", daemon=True)
        self._thread.start()
        self._broker._attach(self)

    def _deliver(self, message: Message) -> None:
        self._inbox.put(message)

    def _run(self) -> None:
        while (message := self._inbox.get()) is not None:
            assert self._on_message is not None
            try:
                self._on_message(message)
            except Exception:  # a receiver's bug must not kill delivery
                log.exception("handler failed on %s", message.topic)

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        self._broker.publish(topic, payload, qos)

    def stop(self) -> None:
        self._broker._detach(self)
        if self._thread is not None:
            self._inbox.put(None)
            self._thread.join(timeout=5)
            self._thread = None


# ---------------------------------------------------------------- paho-mqtt


class PahoTransport:
    """A paho-mqtt 2 client with manual acknowledgement and automatic reconnection."""

    def __init__(self, settings: MqttSettings) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        self._settings = settings
        self._mqtt = mqtt
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=settings.client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        if settings.username:
            self._client.username_pw_set(settings.username, settings.password or None)
        if settings.tls:
            # Verifies the broker's certificate against the CA (the system's when none is
            # given) and, unless tls_insecure, that it names the host we connect to.
            try:
                self._client.tls_set(
                    ca_certs=settings.tls_ca_file or None,
                    certfile=settings.tls_cert_file or None,
                    keyfile=settings.tls_key_file or None,
                )
            except (ssl.SSLError, OSError, ValueError) as error:
                raise TransportError(_tls_files_problem(settings, error)) from None
            if settings.tls_insecure:
                log.warning("mqtt.tls_insecure: the broker's host name is not checked")
                self._client.tls_insecure_set(True)
        self._client.reconnect_delay_set(min_delay=1, max_delay=30)
        self._client.max_queued_messages_set(0)
        self._client.max_inflight_messages_set(1000)
        self._connect_properties = Properties(PacketTypes.CONNECT)
        if settings.persistent:
            self._connect_properties.SessionExpiryInterval = settings.session_expiry_s
        self._connect_properties.ReceiveMaximum = settings.receive_maximum
        self._client.on_connect = self._on_connect
        self._client.on_connect_fail = self._on_connect_fail
        self._client.on_disconnect = self._on_disconnect
        # The last reason a connection attempt failed: logged once as an error, then
        # quietly while it stays the same (attempts repeat every few seconds).
        self._last_failure = ""
        self._client.on_message = self._on_paho_message
        self._subscriptions: list[tuple[str, int]] = []
        self._on_message: MessageHandler | None = None
        self._connected = threading.Event()
        # Acknowledgements carry packet ids that are only valid on the connection the
        # message came in on: after a reconnect the broker redelivers, so old acks are dropped.
        # The generation moves on as soon as the connection is lost (not only at the next
        # CONNACK), and under a lock, so an ack can never slip out after the new CONNECT
        # with a packet id the broker may have given to another message.
        self._generation = 0
        self._ack_lock = threading.Lock()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def start(self, on_message: MessageHandler, subscriptions: Sequence[tuple[str, int]]) -> None:
        self._on_message = on_message
        self._subscriptions = list(subscriptions)
        self._client.connect_async(
            self._settings.host,
            self._settings.port,
            keepalive=self._settings.keepalive,
            clean_start=not self._settings.persistent,
            properties=self._connect_properties,
        )
        self._client.loop_start()

    def _on_connect(self, client, _userdata, _flags, reason_code, _properties) -> None:
        if reason_code.is_failure:
            log.error("broker refused the connection: %s", reason_code)
            return
        with self._ack_lock:
            self._generation += 1
        self._last_failure = ""
        self._connected.set()
        log.info(
            "connected to %s:%s as %r%s%s",
            self._settings.host,
            self._settings.port,
            self._settings.client_id,
            f", user {self._settings.username!r}" if self._settings.username else "",
            " over TLS" if self._settings.tls else "",
        )
        if self._subscriptions:
            client.subscribe([(topic, qos) for topic, qos in self._subscriptions])

    def _on_connect_fail(self, _client, _userdata) -> None:
        # paho calls this from its `except OSError` around the attempt: the error in hand
        # says why (paho itself only retries, silently).
        reason = describe_connect_error(sys.exc_info()[1], self._settings)
        level = logging.DEBUG if reason == self._last_failure else logging.ERROR
        self._last_failure = reason
        log.log(
            level,
            "cannot connect to the broker at %s:%s: %s; retrying",
            self._settings.host,
            self._settings.port,
            reason,
        )

    def _on_disconnect(self, _client, _userdata, _flags, reason_code, _properties) -> None:
        with self._ack_lock:
            self._generation += 1
        self._connected.clear()
        log.warning("disconnected from the broker (%s); reconnecting", reason_code)

    def _on_paho_message(self, client, _userdata, paho_message) -> None:
        generation = self._generation
        mid, qos = paho_message.mid, paho_message.qos

        def ack() -> None:
            if qos == 0:
                return
            with self._ack_lock:
                if generation == self._generation:
                    client.ack(mid, qos)

        assert self._on_message is not None
        self._on_message(Message(paho_message.topic, paho_message.payload, qos, ack))

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        self._client.publish(topic, payload, qos=qos)

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
        self._connected.clear()


def describe_connect_error(error: BaseException | None, settings: MqttSettings) -> str:
    """Why a connection attempt failed, in a sentence that points at the setting to check."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return (
            f"the broker's TLS certificate was not accepted ({error.verify_message}); "
            f"check mqtt.tls_ca_file (the CA that signed it) and that the certificate names "
            f"{settings.host!r}"
        )
    if isinstance(error, ssl.SSLError):
        return (
            f"the TLS handshake failed ({error.reason or error}); check that "
            f"port {settings.port} is the broker's TLS listener"
        )
    if isinstance(error, ConnectionRefusedError):
        return "connection refused: is the broker running, and is mqtt.port right?"
    if isinstance(error, socket.gaierror):
        return f"host {settings.host!r} not found: check mqtt.host"
    if isinstance(error, (TimeoutError, socket.timeout)):
        return "no answer (timed out): check mqtt.host, mqtt.port and the firewall"
    if isinstance(error, OSError):
        return error.strerror or type(error).__name__
    return str(error) if error is not None else "unknown reason"


def _tls_files_problem(settings: MqttSettings, error: BaseException) -> str:
    """Which TLS file could not be loaded, and why, in one line."""
    reason = getattr(error, "reason", None) or getattr(error, "strerror", None) or str(error)
    files = [
        f"mqtt.{key} ({getattr(settings, key)})"
        for key in ("tls_ca_file", "tls_cert_file", "tls_key_file")
        if getattr(settings, key)
    ]
    which = ", ".join(files) if files else "the system's CA certificates"
    return f"{which}: cannot be loaded as PEM certificates and key ({reason})"


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Poll `condition` until it holds or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()
