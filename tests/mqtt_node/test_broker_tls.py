"""MQTT over TLS with a real broker: a private Mosquitto with a TLS listener, a password
file from `bem broker passwd`, and a throw-away CA and server certificate made with the
openssl command for the test.

The node, built by bootstrap from `mqtt.tls` and `mqtt.tls_ca_file`, connects and ingests;
a plain-TCP client gets nothing from the TLS port; a client trusting another CA is refused
and says why in one line, with no traceback, in process and as `bem node`.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

import bootstrap
from cli import main
from config import Settings, default_settings
from datastore.models import Station
from mqtt_node.node import Node
from mqtt_node.transport import describe_connect_error
from tests.mqtt_node.helpers import (
    MOSQUITTO,
    BemNode,
    PrivateMosquitto,
    Publisher,
    announce_and_register,
    unique_name,
    wait_for,
)
from tests.services import service_missing

pytestmark = pytest.mark.mqtt

NODE_USER, NODE_PASSWORD = "bem-node", "node-secret-1"
UNIT, UNIT_PASSWORD = "cu-tls", "unit-secret-1"


@dataclass(frozen=True)
class Pki:
    ca: Path  # the CA that signed the broker's certificate
    other_ca: Path  # a CA that signed nothing of the broker's
    server_cert: Path
    server_key: Path


def openssl(folder: Path, *args: str) -> None:
    done = subprocess.run(["openssl", *args], cwd=folder, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def make_ca(folder: Path, name: str) -> tuple[Path, Path]:
    openssl(
        folder,
        *("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"),
        *("-nodes", "-days", "2", "-subj", f"/CN={name}"),
        *("-keyout", f"{name}.key", "-out", f"{name}.crt"),
    )
    return folder / f"{name}.crt", folder / f"{name}.key"


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    """A throw-away CA, the broker's certificate (for 127.0.0.1 and localhost) signed by
    it, and a second CA."""
    if shutil.which("openssl") is None:
        service_missing("the openssl command is not installed")
    folder = tmp_path / "pki"
    folder.mkdir()
    ca, ca_key = make_ca(folder, "test-ca")
    other_ca, _ = make_ca(folder, "other-ca")
    openssl(
        folder,
        *("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"),
        *("-subj", "/CN=localhost", "-keyout", "server.key", "-out", "server.csr"),
    )
    (folder / "san.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl(
        folder,
        *("x509", "-req", "-in", "server.csr", "-CA", str(ca), "-CAkey", str(ca_key)),
        *("-CAcreateserial", "-days", "2", "-extfile", "san.cnf", "-out", "server.crt"),
    )
    return Pki(ca, other_ca, folder / "server.crt", folder / "server.key")


@pytest.fixture
def tls_broker(tmp_path: Path, pki: Pki, capsys, monkeypatch) -> Iterator[PrivateMosquitto]:
    """Mosquitto with only a TLS listener, and no anonymous clients."""
    if not os.access(MOSQUITTO, os.X_OK):
        service_missing(f"{MOSQUITTO} is not installed")
    directory = tmp_path / "mosquitto"
    directory.mkdir()
    for user, password in {NODE_USER: NODE_PASSWORD, UNIT: UNIT_PASSWORD}.items():
        monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
        assert main(["broker", "passwd", str(directory / "passwd"), user]) == 0
    capsys.readouterr()
    broker = PrivateMosquitto(
        directory,
        password_file=directory / "passwd",
        listener_options=(
            f"cafile {pki.ca}\ncertfile {pki.server_cert}\nkeyfile {pki.server_key}\n"
        ),
    )
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def tls_settings(settings: Settings, broker: PrivateMosquitto, ca: Path) -> Settings:
    return settings.replace(
        mqtt={
            "host": "127.0.0.1",
            "port": broker.port,
            "username": NODE_USER,
            "password": NODE_PASSWORD,
            "client_id": unique_name("bem-node-"),
            "tls": True,
            "tls_ca_file": str(ca),
        },
        node={"batch_interval_s": 0.05, "control_interval_s": 0.2},
    )


@pytest.fixture
def start_node(settings: Settings) -> Iterator:
    nodes: list[Node] = []

    def start(configured: Settings) -> Node:
        node = bootstrap.node(configured, bootstrap.open_store(configured))
        nodes.append(node)
        node.start()
        return node

    yield start
    for node in nodes:
        node.stop()


def test_the_node_connects_over_tls_and_ingests(
    tls_broker: PrivateMosquitto, pki: Pki, settings: Settings, start_node
) -> None:
    node = start_node(tls_settings(settings, tls_broker, pki.ca))
    unit = Publisher(
        "127.0.0.1", tls_broker.port, username=UNIT, password=UNIT_PASSWORD, tls_ca=str(pki.ca)
    )
    try:
        unit.wait_connected()
        station = announce_and_register(unit, "bem", UNIT, ["ch1"])["ch1"]
    finally:
        unit.close()
    assert node.transport.connected
    with Session(node.engine) as session:
        assert session.scalar(select(Station.name).where(Station.id == station)) == "ch1"


def test_a_plain_tcp_client_gets_no_answer_from_the_tls_port(
    tls_broker: PrivateMosquitto,
) -> None:
    # An MQTT 3.1.1 CONNECT with a clean session and no credentials, in clear.
    connect = bytes([0x10, 0x10, 0, 4]) + b"MQTT" + bytes([4, 2, 0, 60, 0, 4]) + b"test"
    received = b""
    with socket.create_connection(("127.0.0.1", tls_broker.port), timeout=10) as client:
        client.sendall(connect)
        try:
            while chunk := client.recv(1024):
                received += chunk
        except ConnectionResetError:
            pass
    # The broker hung up; no CONNACK (0x20) came, or anything an MQTT client could read.
    assert not received.startswith(b"\x20")


def test_a_client_trusting_another_ca_is_refused_with_a_clear_message(
    tls_broker: PrivateMosquitto,
    pki: Pki,
    settings: Settings,
    start_node,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.DEBUG, "bem.mqtt"):
        node = start_node(tls_settings(settings, tls_broker, pki.other_ca))
        wait_for(lambda: any(r.levelno == logging.ERROR for r in caplog.records), 15, "the error")
    assert not node.transport.connected
    [error] = [r for r in caplog.records if r.levelno == logging.ERROR]
    message = error.getMessage()
    assert message.startswith(f"cannot connect to the broker at 127.0.0.1:{tls_broker.port}: ")
    assert "the broker's TLS certificate was not accepted" in message
    assert "check mqtt.tls_ca_file" in message
    assert error.exc_info is None and "Traceback" not in caplog.text


def test_bem_node_trusting_another_ca_says_why_without_a_traceback(
    tls_broker: PrivateMosquitto, pki: Pki, settings: Settings, tmp_path: Path
) -> None:
    bootstrap.open_store(settings)
    node = BemNode(
        tmp_path / "node.log",
        {
            "BEM_DATABASE_URL": settings.database.url,
            "BEM_MQTT_HOST": "127.0.0.1",
            "BEM_MQTT_PORT": str(tls_broker.port),
            "BEM_MQTT_USERNAME": NODE_USER,
            "BEM_MQTT_PASSWORD": NODE_PASSWORD,
            "BEM_MQTT_CLIENT_ID": unique_name("bem-node-"),
            "BEM_MQTT_TLS": "true",
            "BEM_MQTT_TLS_CA_FILE": str(pki.other_ca),
        },
    )
    node.start()
    try:
        wait_for(lambda: "cannot connect to the broker" in node.log(), 30, "the error")
        assert node.running()
    finally:
        node.stop()
    assert "the broker's TLS certificate was not accepted" in node.log()
    assert "Traceback" not in node.log()
    assert NODE_PASSWORD not in node.log()


def test_a_ca_file_that_is_not_a_certificate_stops_the_start_in_one_line(
    settings: Settings, tmp_path: Path, capsys, monkeypatch
) -> None:
    not_pem = tmp_path / "ca.crt"
    not_pem.write_text("this is not a certificate\n")
    configured = settings.replace(
        mqtt={"host": "127.0.0.1", "tls": True, "tls_ca_file": str(not_pem)}
    )
    with pytest.raises(bootstrap.StartupError) as refused:
        bootstrap.node(configured, bootstrap.open_store(configured))
    assert str(refused.value).startswith(f"mqtt.tls_ca_file ({not_pem}): cannot be loaded")

    monkeypatch.setenv("BEM_DATABASE_URL", settings.database.url)
    monkeypatch.setenv("BEM_MQTT_HOST", "127.0.0.1")
    monkeypatch.setenv("BEM_MQTT_TLS", "true")
    monkeypatch.setenv("BEM_MQTT_TLS_CA_FILE", str(not_pem))
    assert main(["node", "--wait-db", "0"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("bem node: mqtt.tls_ca_file (")
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_other_connection_failures_name_the_setting_to_check() -> None:
    mqtt = dataclasses.replace(default_settings().mqtt, host="broker.lab", port=8883)
    assert describe_connect_error(ConnectionRefusedError(111, "refused"), mqtt) == (
        "connection refused: is the broker running, and is mqtt.port right?"
    )
    assert describe_connect_error(socket.gaierror(-2, "Name or service not known"), mqtt) == (
        "host 'broker.lab' not found: check mqtt.host"
    )
    assert "mqtt.host, mqtt.port and the firewall" in describe_connect_error(TimeoutError(), mqtt)
    assert describe_connect_error(None, mqtt) == "unknown reason"
