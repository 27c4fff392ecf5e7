"""MQTT over TLS as docs/deployment.md sets it up: a Mosquitto TLS listener with a
certificate from the site's CA, and the node's settings mqtt.tls and mqtt.tls_ca_file."""

from __future__ import annotations

import getpass
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import bootstrap
from config import load_settings
from mqtt_node.transport import PahoTransport, wait_until
from tests.mqtt_node.helpers import MOSQUITTO, free_port, port_open
from tests.services import service_missing

pytestmark = pytest.mark.slow


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _certificates(directory: Path) -> None:
    """ca.crt, and server.crt/server.key naming localhost, signed by that CA."""
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=bem test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        cwd=directory,
    )
    _openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        cwd=directory,
    )
    (directory / "san.ext").write_text("subjectAltName=DNS:localhost\n")
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "2", "-extfile", "san.ext", "-out", "server.crt",
             cwd=directory)  # fmt: skip


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """(port, CA file) of a Mosquitto with only a TLS listener."""
    if not os.access(MOSQUITTO, os.X_OK):
        service_missing(f"{MOSQUITTO} is not installed")
    if shutil.which("openssl") is None:
        service_missing("openssl is not installed")
    _certificates(tmp_path)
    port = free_port()
    config = tmp_path / "mosquitto.conf"
    config.write_text(
        f"listener {port} 127.0.0.1\n"
        f"certfile {tmp_path / 'server.crt'}\n"
        f"keyfile {tmp_path / 'server.key'}\n"
        "allow_anonymous true\n"
        f"user {getpass.getuser()}\n"
        f"log_dest file {tmp_path / 'mosquitto.log'}\n"
    )
    process = subprocess.Popen([MOSQUITTO, "-c", str(config)])
    try:
        assert wait_until(lambda: port_open(port), 10), (tmp_path / "mosquitto.log").read_text()
        yield port, tmp_path / "ca.crt"
    finally:
        process.terminate()
        process.wait(timeout=10)


def _transport(port: int, **tls: str) -> PahoTransport:
    environ = {
        "BEM_MQTT_HOST": "localhost",
        "BEM_MQTT_PORT": str(port),
        "BEM_MQTT_TLS": "true",
        "BEM_MQTT_PERSISTENT": "false",
        "BEM_MQTT_CLIENT_ID": f"bem-tls-{port}",
        **tls,
    }
    settings = load_settings(environ, read_credentials=False)
    return PahoTransport(bootstrap.broker_settings(settings))


def test_the_node_connects_over_tls_with_the_site_ca(tls_broker) -> None:
    port, ca_file = tls_broker
    transport = _transport(port, BEM_MQTT_TLS_CA_FILE=str(ca_file))
    transport.start(lambda _message: None, [("bem/#", 1)])
    try:
        assert transport.wait_connected(15)
    finally:
        transport.stop()


def test_a_broker_certificate_from_an_unknown_ca_is_refused(tls_broker) -> None:
    port, _ca_file = tls_broker
    transport = _transport(port)  # the system's CAs: they never signed the test CA
    transport.start(lambda _message: None, [("bem/#", 1)])
    try:
        assert not transport.wait_connected(5)
    finally:
        transport.stop()
