"""The servers some tests need, and what a test does when one is missing."""

from __future__ import annotations

import os
import socket
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from datastore import make_engine, upgrade

REQUIRE_SERVICES = os.environ.get("BEM_REQUIRE_SERVICES") == "1"
MARIADB_URL = os.environ.get("BEM_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/")
MQTT_HOST = os.environ.get("BEM_TEST_MQTT_HOST", "127.0.0.1")
MQTT_PORT = int(os.environ.get("BEM_TEST_MQTT_PORT", "1883"))


def service_missing(reason: str) -> None:
    """Skip the test, or fail it when services are required."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (BEM_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(reason)


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def stop_process(process: subprocess.Popen[Any] | None, timeout: float) -> None:
    """SIGTERM (a server's clean shutdown), SIGKILL if it lingers past `timeout`."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout)


@contextmanager
def scratch_mariadb_database(stem: str) -> Iterator[str]:
    """A database of its own on the MariaDB server (`stem`_pid_random), migrated; its URL.
    Dropped at the end."""
    server = make_url(MARIADB_URL)
    if not reachable(server.host or "127.0.0.1", server.port or 3306):
        service_missing(f"MariaDB is not reachable at {server.host}:{server.port or 3306}")
    name = f"{stem}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = make_engine(server.set(database="").render_as_string(hide_password=False))
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    url = server.set(database=name).render_as_string(hide_password=False)
    try:
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()
