"""The servers some tests need, and what a test does when one is missing."""

from __future__ import annotations

import os
import socket
import subprocess
from typing import Any

import pytest

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
