"""The containers' start commands, run here as they are written in docker/, against the
local MariaDB and Mosquitto: migrate, then web and node, each reaching its healthcheck;
and the broker's healthcheck against a Mosquitto secured as compose runs it.

No Docker engine runs here; the image's environment (the Dockerfile's ENV) is given to the
processes, except that the web app listens on 127.0.0.1 and a free port, not on every
interface, and the database and broker are this machine's.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from sqlalchemy import text
from sqlalchemy.engine import make_url

from cli import main
from datastore import make_engine
from tests.mqtt_node.helpers import MOSQUITTO, PrivateMosquitto
from tests.services import MARIADB_URL, reachable, service_missing

DOCKER = Path(__file__).resolve().parents[2] / "docker"
BIN = Path(sys.executable).parent
START_S = 90
NODE_PASSWORD = "node-secret-1"

pytestmark = pytest.mark.slow


def _compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text(encoding="utf-8"))


def _image_environment() -> dict[str, str]:
    """The ENV of the Dockerfile (one `ENV A=1 \\ B=2` instruction, comments allowed)."""
    dockerfile = (DOCKER / "Dockerfile").read_text(encoding="utf-8")
    block = dockerfile.split("\nENV ", 1)[1].split("\n\n", 1)[0]
    return dict(re.findall(r"(\w+)=(\S+)", re.sub(r"#.*", "", block)))


def _image_cmd() -> list[str]:
    dockerfile = (DOCKER / "Dockerfile").read_text(encoding="utf-8")
    (line,) = [line for line in dockerfile.splitlines() if line.startswith("CMD ")]
    return json.loads(line.removeprefix("CMD "))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def empty_database() -> Iterator[str]:
    """A new, empty database on the MariaDB server (as the mariadb container starts)."""
    server = make_url(MARIADB_URL)
    if not reachable(server.host or "127.0.0.1", server.port or 3306):
        service_missing(f"MariaDB is not reachable at {server.host}:{server.port or 3306}")
    name = f"bem_start_{uuid.uuid4().hex[:8]}"
    admin = make_engine(server.set(database="").render_as_string(hide_password=False))
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    yield server.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
    admin.dispose()


@pytest.fixture
def container_env(empty_database: str, mqtt_broker: tuple[str, int], tmp_path: Path) -> dict:
    """What a container of the image gets, pointed at this machine's services."""
    host, port = mqtt_broker
    tag = uuid.uuid4().hex[:8]
    env = {k: v for k, v in os.environ.items() if not k.startswith("BEM_")}
    env |= _image_environment()
    env |= {
        "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        "BEM_DATABASE_URL": empty_database,
        "BEM_MQTT_HOST": host,
        "BEM_MQTT_PORT": str(port),
        "BEM_MQTT_TOPIC_PREFIX": f"bemstart{tag}",
        "BEM_MQTT_CLIENT_ID": f"bem-start-{tag}",
        # A test leaves no session behind on the shared broker.
        "BEM_MQTT_PERSISTENT": "false",
        "BEM_SECRET_KEY": "s" * 64,
        "BEM_WEB_HOST": "127.0.0.1",
        "BEM_WEB_PORT": str(_free_port()),
        "BEM_WEB_WORKERS": "2",
    }
    return env


def _wait_for(command: list[str], env: dict, cwd: Path, what: str, process) -> None:
    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline:
        assert process.poll() is None, f"{what}: the process ended ({process.returncode})"
        if (
            subprocess.run(command, env=env, cwd=cwd, capture_output=True, timeout=30).returncode
            == 0
        ):
            return
        time.sleep(0.5)
    pytest.fail(f"{what}: its healthcheck did not pass within {START_S} s")


def _stop(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise


def test_the_image_and_compose_start_the_web_app_alike() -> None:
    assert _compose()["services"]["web"]["command"] == _image_cmd()


@pytest.mark.mariadb
def test_migrate_then_web_and_node_come_up_healthy_and_stop_cleanly(
    container_env: dict, tmp_path: Path
) -> None:
    services = _compose()["services"]

    migrate = subprocess.run(
        services["migrate"]["command"], env=container_env, cwd=tmp_path,
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert migrate.returncode == 0, migrate.stderr
    assert "upgraded from empty to revision" in migrate.stdout

    node_check = services["node"]["healthcheck"]["test"][1:]
    web_check = services["web"]["healthcheck"]["test"][1:]
    assert subprocess.run(node_check, env=container_env, cwd=tmp_path).returncode == 1

    logs = {name: (tmp_path / f"{name}.log").open("w") for name in ("web", "node")}
    processes = {
        name: subprocess.Popen(
            services[name]["command"],
            env=container_env,
            cwd=tmp_path,
            stdout=logs[name],
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        for name in ("web", "node")
    }
    try:
        _wait_for(web_check, container_env, tmp_path, "web", processes["web"])
        _wait_for(node_check, container_env, tmp_path, "node", processes["node"])
    finally:
        codes = {name: _stop(process) for name, process in processes.items()}
        for log in logs.values():
            log.close()
    web_log = (tmp_path / "web.log").read_text()
    node_log = (tmp_path / "node.log").read_text()
    assert codes == {"web": 0, "node": 0}, web_log + node_log
    assert "Starting gunicorn" in web_log and web_log.count("Booting worker") == 2
    assert f"connected to {container_env['BEM_MQTT_HOST']}" in node_log


@pytest.fixture(params=["shipped ACL", "ACL allowing nothing"])
def deployed_broker(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[int]:
    """A private Mosquitto as compose runs it: no anonymous clients, a password file
    written by `bem broker passwd`, and the shipped ACL or, as before the node has written
    one, an ACL that allows nothing. Its port."""
    if not os.access(MOSQUITTO, os.X_OK):
        service_missing(f"{MOSQUITTO} is not installed")
    directory = tmp_path / "broker"
    directory.mkdir()
    password_file, acl = directory / "passwd", directory / "acl"
    monkeypatch.setattr("sys.stdin", io.StringIO(NODE_PASSWORD + "\n"))
    assert main(["broker", "passwd", str(password_file), "bem-node"]) == 0
    if request.param == "shipped ACL":
        shutil.copy(DOCKER / "mosquitto.acl", acl)
    else:
        acl.write_text("")
    broker = PrivateMosquitto(directory, password_file=password_file, acl_file=acl)
    broker.start()
    yield broker.port
    broker.stop()


def _broker_healthcheck(port: int, username: str, password: str) -> int:
    command = _compose()["services"]["mosquitto"]["healthcheck"]["test"]
    assert command[0] == "CMD-SHELL" and "-p 1883" in command[1]
    # compose's $$ is a literal $; the broker listens on its own port here, not 1883.
    shell = command[1].replace("$$", "$").replace("-p 1883", f"-p {port}")
    env = os.environ | {
        "BEM_MQTT_USERNAME": username,
        "BEM_MQTT_PASSWORD": password,
        "BEM_MQTT_TOPIC_PREFIX": "bem",
    }
    return subprocess.run(["sh", "-c", shell], env=env, capture_output=True, timeout=30).returncode


@pytest.mark.mqtt
def test_the_broker_healthcheck_passes_with_the_node_s_login_whatever_the_acl(
    deployed_broker: int,
) -> None:
    # Before the node writes the ACL, the broker allows nothing; it must be healthy
    # all the same, since the node starts only once it is.
    assert _broker_healthcheck(deployed_broker, "bem-node", NODE_PASSWORD) == 0


@pytest.mark.mqtt
def test_the_broker_healthcheck_fails_with_a_wrong_password(deployed_broker: int) -> None:
    assert _broker_healthcheck(deployed_broker, "bem-node", "not-the-password") != 0
