"""Helpers for the node tests: a lab in the database, sample payloads, and the pieces the
integration tests put around the node (a private broker, a database proxy, a publisher,
a node on the real broker, a `bem node` process, the export command)."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import getpass
import itertools
import json
import math
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine, func, update
from sqlalchemy import select as sql_select
from sqlalchemy.orm import Session

from config import MqttSettings, NodeSettings, default_settings
from datastore import catalog
from datastore.ingest import SampleRow
from datastore.models import Experiment, ExtraValue, Measurement, RejectedMessage
from domain.csvformat import ParsedExperiment, channel_identity, parse_csv
from domain.stations import StationSpec
from domain.status import ExperimentStatus
from domain.window import Window
from mqtt_node import protocol
from mqtt_node.node import Node
from mqtt_node.topics import Topics
from mqtt_node.transport import Message, MessageHandler, Outgoing, PahoTransport, wait_until
from tests.services import stop_process

# The site's cap on expanded profile steps (profiles.max_steps).
MAX_STEPS = default_settings().profiles.max_steps

ROOT = Path(__file__).resolve().parents[2]
MOSQUITTO = "/usr/sbin/mosquitto"

# Two cycles of a charge step and a rest, then a discharge that stays in the last cycle.
PROFILE = """\
REPEAT 2
    CC, 1, TIME, 10
    WAIT, 5
END
CC, -1, VOLTAGE, 3.0
"""
STEP_CYCLES = [1, 1, 2, 2, 2]
T0 = 1_795_475_000.0

_serials = itertools.count(1)


def unique_name(stem: str) -> str:
    """A name no other test (or earlier run against the same server) uses."""
    return f"{stem}{uuid.uuid4().hex[:8]}"


# ---------------------------------------------------------------- the lab in the database


def add_station(
    engine: Engine,
    name: str = "ch1",
    unit: str = "cu-test",
    window: tuple[float, float, float, float] = (0.0, 5.0, -10.0, 10.0),
) -> int:
    with Session(engine) as session:
        station = catalog.create_station(
            session,
            name=name,
            unit_name=unit,
            voltage_min=window[0],
            voltage_max=window[1],
            current_min=window[2],
            current_max=window[3],
        )
        session.commit()
        return station.id


def add_experiment(
    engine: Engine,
    station_id: int,
    name: str = "experiment",
    status: ExperimentStatus | None = None,
    profile_source: str = PROFILE,
    battery_id: int | None = None,
) -> int:
    """Queue an experiment (a new profile, and a new battery unless `battery_id` is given),
    then force `status`."""
    with Session(engine) as session:
        if battery_id is None:
            serial = f"SN-{next(_serials)}-{uuid.uuid4().hex[:6]}"
            battery_id = catalog.create_battery(
                session,
                name=f"cell {serial}",  # battery names are unique
                serial_number=serial,
                technology="lithium-ion",
                details={"chemistry": "NMC"},
                voltage_min=2.5,
                voltage_max=4.2,
                current_min=-3.0,
                current_max=3.0,
                nominal_capacity_ah=2.5,
            ).id
        profile = catalog.create_profile(
            session, name=f"profile of {name}", source=profile_source, max_steps=MAX_STEPS
        )
        experiment = catalog.queue_experiment(
            session,
            name=name,
            battery_id=battery_id,
            station_id=station_id,
            profile_id=profile.id,
            max_steps=MAX_STEPS,
        )
        session.commit()
        experiment_id = experiment.id
    if status is not None:
        force_status(engine, experiment_id, status)
    return experiment_id


def force_status(engine: Engine, experiment_id: int, status: ExperimentStatus) -> None:
    """Put an experiment in a status directly, as if its story had happened already."""
    with engine.begin() as connection:
        connection.execute(
            update(Experiment).where(Experiment.id == experiment_id).values(status=status)
        )


def experiment(engine: Engine, experiment_id: int) -> Experiment:
    with Session(engine) as session:
        row = session.get(Experiment, experiment_id)
        assert row is not None
        session.expunge(row)
        return row


def stored_samples(engine: Engine, experiment_id: int) -> dict[int, SampleRow]:
    """seq -> the sample as stored."""
    with Session(engine) as session:
        rows = session.execute(
            sql_select(
                Measurement.seq,
                Measurement.ts,
                Measurement.voltage,
                Measurement.current,
                Measurement.power,
                Measurement.instruction,
                Measurement.cycle,
                Measurement.mode,
            ).where(Measurement.experiment_id == experiment_id)
        ).all()
    return {row.seq: SampleRow(*row) for row in rows}


def sample_rows(engine: Engine, experiment_id: int | None = None) -> int:
    query = sql_select(func.count()).select_from(Measurement)
    if experiment_id is not None:
        query = query.where(Measurement.experiment_id == experiment_id)
    with Session(engine) as session:
        return session.scalar(query) or 0


def extra_value_rows(engine: Engine) -> int:
    with Session(engine) as session:
        return session.scalar(sql_select(func.count()).select_from(ExtraValue)) or 0


def rejected(engine: Engine) -> list[RejectedMessage]:
    with Session(engine) as session:
        rows = list(session.scalars(sql_select(RejectedMessage).order_by(RejectedMessage.id)))
        session.expunge_all()
        return rows


# ---------------------------------------------------------------- payloads


def sample(
    seq: int,
    *,
    power: bool = True,
    instruction: int | None = 1,
    extra: dict[str, float] | None = None,
) -> dict[str, object]:
    """A deterministic sample as JSON: every value follows from `seq`, so a test can check
    it. Without `power` the field is left out (the node then stores voltage × current)."""
    voltage = round(3.0 + (seq % 1000) * 0.001, 6)
    current = 1.5 if (seq // 100) % 2 == 0 else -1.5
    obj: dict[str, object] = {"seq": seq, "ts": T0 + seq * 0.25, "voltage": voltage}
    obj["current"] = current
    if power:
        obj["power"] = round(voltage * current + 0.001, 9)
    if instruction is not None:
        obj["instruction"] = instruction
        obj["mode"] = "CC"
    if extra:
        obj["extra"] = extra
    return obj


def expected_row(seq: int, cycle: int | None = 1, **options: object) -> SampleRow:
    """The row `sample(seq, **options)` must become; `cycle` comes from the experiment."""
    made = sample(seq, **options)  # type: ignore[arg-type]
    voltage, current = made["voltage"], made["current"]
    return SampleRow._make(
        (
            seq,
            made["ts"],
            voltage,
            current,
            made.get("power", voltage * current),  # type: ignore[operator]
            made.get("instruction"),
            cycle if made.get("instruction") else None,
            made.get("mode"),
        )
    )


def measures(experiment_id: int, seqs: Iterable[int], **options: object) -> bytes:
    """A measures payload with `sample(seq, **options)` for each seq."""
    samples = [sample(seq, **options) for seq in seqs]  # type: ignore[arg-type]
    return json.dumps({"experiment_id": experiment_id, "samples": samples}).encode()


def chunks(total: int, size: int) -> list[range]:
    return [range(start, min(start + size, total)) for start in range(0, total, size)]


def check_all_samples_landed(engine: Engine, experiment_id: int, total: int) -> None:
    """Every seq 0..total-1 exactly once, value by value, and the cached count agrees."""
    stored = stored_samples(engine, experiment_id)
    assert sorted(stored) == list(range(total)), (
        f"missing {sorted(set(range(total)) - set(stored))[:20]}, "
        f"unexpected {sorted(set(stored) - set(range(total)))[:20]}"
    )
    for seq, row in stored.items():
        assert row == expected_row(seq), f"seq {seq}: stored {row}, sent {expected_row(seq)}"
    assert sample_rows(engine, experiment_id) == total  # the key allows no second row
    assert experiment(engine, experiment_id).sample_count == total


# ---------------------------------------------------------------- a fake transport


class ManualTransport:
    """A transport the test drives by hand: it hands messages to the node and sees acks."""

    def __init__(self) -> None:
        self.handler: MessageHandler | None = None
        self.published: list[tuple[str, bytes, int]] = []
        self.acked: list[str] = []
        self._lock = threading.Lock()

    @property
    def connected(self) -> bool:
        return self.handler is not None

    def start(self, on_message: MessageHandler, subscriptions: Sequence[tuple[str, int]]) -> None:
        self.handler = on_message

    def deliver(self, topic: str, payload: bytes, label: str | None = None) -> None:
        """Hand a message to the node; its ack is recorded under `label` (or the topic)."""
        assert self.handler is not None

        def ack() -> None:
            with self._lock:
                self.acked.append(label or topic)

        self.handler(Message(topic, payload, 1, ack))

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        self.published.append((topic, payload, qos))

    def stop(self) -> None:
        self.handler = None


# ---------------------------------------------------------------- stand-ins for the node's parts


class RecordingPublisher:
    """Stands in for a transport's `publish`: keeps what the part would have sent."""

    def __init__(self, topics: Topics) -> None:
        self.topics = topics
        self.sent: list[Outgoing] = []

    def __call__(self, topic: str, payload: bytes, qos: int) -> None:
        self.sent.append(Outgoing(topic, payload, qos))

    def commands(self, command: str | None = None) -> list[tuple[int | str, dict]]:
        """(station id, command object) of every command sent, optionally of one kind."""
        found = []
        for topic, payload, _qos in self.sent:
            parsed = self.topics.parse(topic)
            body = json.loads(payload)
            if parsed.kind == protocol.MessageKind.COMMANDS and command in (None, body["command"]):
                found.append((parsed.key, body))
        return found

    def started(self) -> list[int]:
        """Experiment ids of the start commands sent, in order."""
        return [body["experiment_id"] for _station, body in self.commands("start")]


class Inbox:
    """Messages as a transport hands them over, each recording its acknowledgement."""

    def __init__(self) -> None:
        self.acked: list[str] = []

    def message(self, topic: str, payload: bytes, label: str | None = None) -> Message:
        """A received message; its ack is recorded under `label` (or the topic)."""
        return Message(topic, payload, 1, lambda: self.acked.append(label or topic))


class FakeClock:
    """A clock that moves only when told to (UTC, aware)."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


# ---------------------------------------------------------------- sockets and processes


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


class PrivateMosquitto:
    """A Mosquitto of the test's own, with persistence, so it can be stopped and restarted."""

    def __init__(
        self,
        directory: Path,
        password_file: Path | None = None,
        acl_file: Path | None = None,
        listener_options: str = "",
    ) -> None:
        """`listener_options`: lines for the listener, e.g. its TLS files."""
        self.directory = directory
        self.port = free_port()
        self.config = directory / "mosquitto.conf"
        # With a password file the broker is as deployed: no anonymous clients.
        auth = (
            f"allow_anonymous false\npassword_file {password_file}\n"
            if password_file
            else "allow_anonymous true\n"
        )
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "persistence true\n"
            f"persistence_location {directory}/\n"
            + auth
            + (f"acl_file {acl_file}\n" if acl_file else "")
            +
            # Started as root, Mosquitto would switch to user "mosquitto" and could not
            # write its persistence file here: sessions would then not survive a restart.
            f"user {getpass.getuser()}\n"
            # Keep every queued message of an absent session (the default keeps 1000).
            "max_queued_messages 0\n"
            f"log_dest file {directory}/mosquitto.log\n"
            # Options after a listener line are that listener's.
             + listener_options
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> None:
        self.process = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if not wait_until(lambda: port_open(self.port), timeout):
            self.stop()
            raise RuntimeError(f"mosquitto did not listen on port {self.port}; see {self.config}")

    def write_pid_file(self) -> Path:
        """The broker's pid in a file, as a service manager keeps it."""
        assert self.process is not None
        path = self.directory / "mosquitto.pid"
        path.write_text(f"{self.process.pid}\n", encoding="ascii")
        return path

    def reload(self) -> None:
        """SIGHUP: Mosquitto reads its password and ACL files again."""
        assert self.process is not None
        self.process.send_signal(signal.SIGHUP)

    def log(self) -> str:
        path = self.directory / "mosquitto.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (Mosquitto then writes its persistence file), SIGKILL if it lingers."""
        process, self.process = self.process, None
        stop_process(process, timeout)


class TcpProxy:
    """A threaded TCP relay to (host, port) that a test can cut and restore.

    While cut, every relayed connection is closed and new ones are closed as soon as
    they are accepted: to its client the server looks unreachable.
    """

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._cut = threading.Event()
        self._closed = threading.Event()
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, name="tcp-proxy", daemon=True)
        self._thread.start()

    def cut(self) -> None:
        self._cut.set()
        self._close_all()

    def restore(self) -> None:
        self._cut.clear()

    def close(self) -> None:
        self._closed.set()
        self._close_all()
        self._thread.join(5)
        self._listener.close()

    def _close_all(self) -> None:
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _address = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self._cut.is_set():
                client.close()
                continue
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets |= {client, server}
            threading.Thread(target=self._relay, args=(client, server), daemon=True).start()

    def _relay(self, client: socket.socket, server: socket.socket) -> None:
        pair = {client: server, server: client}
        try:
            while not self._closed.is_set():
                readable, _, _ = select.select(list(pair), [], [], 0.2)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    pair[sock].sendall(data)
        except (OSError, ValueError):
            return  # cut: the sockets were closed under us
        finally:
            with self._lock:
                self._sockets -= {client, server}
            for sock in (client, server):
                sock.close()


@dataclass
class Publisher:
    """A cycler-like paho client: QoS 1, persistent session, remembers every publish."""

    host: str
    port: int
    client_id: str = field(default_factory=lambda: unique_name("pub-"))
    received: list[tuple[str, bytes]] = field(default_factory=list)
    username: str | None = None
    password: str | None = None
    # Over TLS, trusting this CA certificate (None: plain TCP).
    tls_ca: str | None = None

    def __post_init__(self) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=mqtt.MQTTv5
        )
        self._client.reconnect_delay_set(min_delay=1, max_delay=2)
        self._client.max_queued_messages_set(0)
        if self.username is not None:
            self._client.username_pw_set(self.username, self.password)
        if self.tls_ca is not None:
            self._client.tls_set(ca_certs=self.tls_ca)
        self._subscriptions: list[str] = []
        self._subscribed = threading.Event()
        self._published: list[int] = []  # mids of the QoS 1 messages
        self._acknowledged: set[int] = set()
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = lambda *_args: self._subscribed.set()
        self._client.on_publish = lambda _c, _u, mid, _rc, _p: self._acknowledged.add(mid)
        self._client.on_message = lambda _c, _u, m: self.received.append((m.topic, m.payload))
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = 600
        self._client.connect_async(
            self.host, self.port, clean_start=False, properties=properties, keepalive=10
        )
        self._client.loop_start()

    def _on_connect(self, client, _userdata, _flags, reason_code, _properties) -> None:
        if not reason_code.is_failure and self._subscriptions:
            client.subscribe([(topic, 1) for topic in self._subscriptions])

    def subscribe(self, topic_filter: str, timeout: float = 10.0) -> None:
        self._subscribed.clear()
        self._subscriptions.append(topic_filter)
        if self._client.is_connected():
            self._client.subscribe(topic_filter, 1)
        assert self._subscribed.wait(timeout), f"no SUBACK for {topic_filter}"

    def wait_connected(self, timeout: float = 10.0) -> None:
        assert wait_until(self._client.is_connected, timeout), "publisher did not connect"

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        # While disconnected paho keeps the message and sends it after reconnecting (its
        # MessageInfo then reports "not connected", hence on_publish to learn the PUBACK).
        info = self._client.publish(topic, payload, qos=qos)
        if qos:
            self._published.append(info.mid)

    def all_acknowledged(self) -> bool:
        """Whether the broker has acknowledged (PUBACK) every QoS 1 message published."""
        return set(self._published) <= self._acknowledged

    def messages_on(self, predicate: Callable[[str], bool]) -> list[tuple[str, bytes]]:
        return [(topic, payload) for topic, payload in list(self.received) if predicate(topic)]

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


def announce_and_register(
    publisher: Publisher, prefix: str, unit: str, names: Sequence[str], timeout: float = 20.0
) -> dict[str, int]:
    """Announce a unit through the node and return the station ids from its answer.

    The announce is repeated (it is idempotent) until the answer comes: a node that is
    still starting has no session yet, and the broker keeps nothing for it. The answer
    proves the node is connected and subscribed, so from then on its persistent session
    holds every message published for it.
    """

    topics = Topics(prefix)
    publisher.subscribe(topics.registered(unit))
    payload = protocol.encode_announce(
        unit,
        [StationSpec(name, Window(0.0, 5.0, -10.0, 10.0), location="rack") for name in names],
    )

    def answers() -> list[tuple[str, bytes]]:
        return publisher.messages_on(lambda topic: topic == topics.registered(unit))

    deadline = time.monotonic() + timeout
    while not answers() and time.monotonic() < deadline:
        publisher.publish(topics.announce(unit), payload)
        wait_until(lambda: bool(answers()), 1.0, 0.05)
    assert answers(), f"no registered answer for {unit} within {timeout:g} s"
    _topic, answer = answers()[-1]
    return {entry["name"]: entry["station"] for entry in json.loads(answer)["stations"]}


def node_settings(**changes: Any) -> NodeSettings:
    """The default node settings with some changed."""
    return replace(default_settings().node, **changes)


def broker_settings(host: str, port: int, client_id: str, **changes: Any) -> MqttSettings:
    """The default MQTT settings for a client of the broker at host:port."""
    return replace(default_settings().mqtt, host=host, port=port, client_id=client_id, **changes)


# Short enough that batches and dispatch passes happen within a test's patience.
REAL_BROKER_NODE = node_settings(batch_interval_s=0.05, control_interval_s=0.2)


@contextlib.contextmanager
def paho_node(
    engine: Engine, host: str, port: int, prefix: str, **options: object
) -> Iterator[Node]:
    """A node on the real broker, under a client id of its own; at the end it is stopped
    and its persistent session dropped, so the broker keeps nothing for it."""
    settings = broker_settings(host, port, unique_name("bem-node-test-"))
    node = Node(
        engine,
        PahoTransport(settings),
        replace(REAL_BROKER_NODE, **options),  # type: ignore[arg-type]
        Topics(prefix),
    )
    node.start()
    try:
        yield node
    finally:
        node.stop()
        forget_session(settings.host, settings.port, settings.client_id)


class BemNode:
    """`python -m cli node` as a child process, with its output in a file."""

    def __init__(self, log_path: Path, env: dict[str, str], *args: str) -> None:
        self.log_path = log_path
        self.env = {**os.environ, **env}
        self.args = args
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log_file:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "cli", "node", *self.args],
                cwd=ROOT,
                env=self.env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no clean-up, no last acknowledgement, no goodbye to the broker."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self, timeout: float = 15.0) -> None:
        process, self.process = self.process, None
        stop_process(process, timeout)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def bem_node_env(engine: Engine, host: str, port: int, prefix: str) -> dict[str, str]:
    """The environment for a `bem node` process on this database, broker and prefix."""
    return {
        "BEM_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "BEM_MQTT_HOST": host,
        "BEM_MQTT_PORT": str(port),
        "BEM_MQTT_TOPIC_PREFIX": prefix,
        "BEM_NODE_BATCH_INTERVAL_S": "0.05",
    }


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """wait_until, failing the test with `what` when the time runs out."""
    started = time.monotonic()
    assert wait_until(condition, timeout, 0.05), (
        f"timed out after {time.monotonic() - started:.1f} s waiting for {what}"
    )


def forget_session(host: str, port: int, client_id: str) -> None:
    """Have the broker drop a test client's persistent session (clean start, no expiry)."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    with contextlib.suppress(OSError):
        client.connect(host, port, clean_start=True)  # Session Expiry Interval absent: 0
        client.loop_start()
        wait_until(client.is_connected, 5)
        client.disconnect()
        client.loop_stop()


def publish_in_background(
    publisher: Publisher, topic: str, payloads: Sequence[bytes], pause_s: float
) -> threading.Thread:
    """Publish the payloads one by one with a pause between them, from a thread."""

    def run() -> None:
        for payload in payloads:
            publisher.publish(topic, payload)
            time.sleep(pause_s)  # a steady stream, so the fault lands mid-stream

    thread = threading.Thread(target=run, name="publisher", daemon=True)
    thread.start()
    return thread


# ---------------------------------------------------------------- the export command


def export_with_command(
    monkeypatch: pytest.MonkeyPatch, engine: Engine, experiment_id: int, target: Path
) -> ParsedExperiment:
    """Run `bem experiment export ID -o target` on the engine's database; parse the file."""
    from cli import main

    monkeypatch.setenv("BEM_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    assert main(["experiment", "export", str(experiment_id), "-o", str(target)]) == 0
    return parse_csv(target)


def exported_column(target: Path, header: str) -> list[float]:
    """One column of an exported file, as written (for the columns import does not keep)."""
    with target.open(encoding="utf-8", newline="") as file:
        return [float(row[header]) for row in csv.DictReader(file)]


def _cell(value: object) -> object:
    """A parsed cell for comparison: NaN and NA (an empty cell) become None."""
    if value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


def check_export_matches(
    parsed: ParsedExperiment,
    published: Iterable[Mapping[str, object]],
    step_cycles: Sequence[int] = STEP_CYCLES,
) -> None:
    """The exported samples are the published ones (JSON sample objects), value by value.

    Each seq once, in seq order, whatever the order and repetitions of publishing; power
    is voltage × current where none was sent; the cycle is the experiment's own for the
    step (a sample's `cycle` is not stored); each extra channel is a column, with its
    unit, empty where a sample lacked it.
    """
    samples = sorted({sample["seq"]: sample for sample in published}.values(), key=_seq)
    frame = parsed.samples
    assert len(frame) == len(samples), f"exported {len(frame)} samples, published {len(samples)}"

    def column(name: str) -> list[object]:
        return [_cell(value) for value in frame[name].tolist()]

    def expected(key: str) -> list[object]:
        return [sample.get(key) for sample in samples]

    for key in ("ts", "voltage", "current"):
        assert column(key) == expected(key), f"{key} differs"
    assert column("power") == [
        sample.get("power", sample["voltage"] * sample["current"])  # type: ignore[operator]
        for sample in samples
    ], "power differs"
    steps = expected("instruction")
    assert column("instruction") == steps, "instruction differs"
    assert column("cycle") == [
        None if step is None else step_cycles[step - 1]  # type: ignore[index,operator]
        for step in steps
    ], "cycle differs"
    extras = [sample.get("extra") or {} for sample in samples]
    keys = {key for extra in extras for key in extra}  # type: ignore[attr-defined]
    # A key names the channel and may give its unit ("flow / L/min"), or the node assumes
    # one from the name ("temp_body": °C); export writes it in the header, import reads
    # it back. (Units outside SI would come back converted: the callers send SI.)
    channels = {key: channel_identity(key) for key in keys}
    assert set(parsed.extras) == set(channels.values())
    for key, channel in channels.items():
        values = [_cell(value) for value in parsed.extras[channel].tolist()]
        assert values == [extra.get(key) for extra in extras], f"channel {key} differs"


def _seq(sample: Mapping[str, object]) -> int:
    return int(sample["seq"])  # type: ignore[call-overload]
