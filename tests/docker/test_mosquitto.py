"""The broker files of docker/ with a real Mosquitto (no Docker engine needed).

docker/mosquitto.conf, its paths moved into a temporary folder and its listener onto a
spare port, accepts the password file and the ACL that `bem broker passwd` and `bem broker
acl` write, and the node connects with them. docker/mosquitto-run.sh, run with this
machine's `sh` and Mosquitto, installs the ACL the node writes and reloads the broker, so a
unit's new station is usable as soon as the unit hears its id.
"""

from __future__ import annotations

import getpass
import io
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

import bootstrap
from cli import main
from config import Settings
from datastore.models import Station
from mqtt_node import protocol
from mqtt_node.node import Node
from mqtt_node.topics import Topics
from tests.mqtt_node.helpers import (
    MOSQUITTO,
    Publisher,
    announce_and_register,
    free_port,
    port_open,
    unique_name,
    wait_for,
)
from tests.mqtt_node.test_broker_security import connect_result
from tests.services import service_missing

pytestmark = pytest.mark.mqtt

DOCKER = Path(__file__).resolve().parents[2] / "docker"
WRAPPER = DOCKER / "mosquitto-run.sh"
TOPICS = Topics("bem")
NODE_USER, NODE_PASSWORD = "bem-node", "node-secret-1"
UNIT, UNIT_PASSWORD = "cu-a", "unit-secret-1"


@dataclass
class Site:
    """A temporary stand-in for the broker container's folders."""

    root: Path
    port: int

    @property
    def config(self) -> Path:
        return self.root / "config" / "mosquitto.conf"

    @property
    def auth(self) -> Path:  # docker/broker, mounted at /mosquitto/auth
        return self.root / "auth"

    @property
    def live_acl(self) -> Path:  # acl_file in mosquitto.conf
        return self.root / "acl" / "acl"

    @property
    def node_acl(self) -> Path:  # the volume shared with the node
        return self.root / "bem-acl" / "acl"

    def log(self) -> str:
        path = self.root / "mosquitto.log"
        return path.read_text(errors="replace") if path.exists() else ""


def shipped_config(site: Site) -> str:
    """docker/mosquitto.conf with its paths under `site.root` and its listener on a spare
    port; run as this user, logging to a file. Nothing else changed."""
    text = (DOCKER / "mosquitto.conf").read_text(encoding="utf-8")
    assert "listener 1883\n" in text
    text = text.replace("listener 1883\n", f"listener {site.port} 127.0.0.1\n")
    for folder in ("data", "auth", "acl"):
        text = text.replace(f"/mosquitto/{folder}/", f"{site.root}/{folder}/")
    assert "/mosquitto/" not in text, "a path of the container was left"
    return text + f"user {getpass.getuser()}\nlog_dest file {site.root}/mosquitto.log\n"


def bem(capsys: pytest.CaptureFixture[str], *argv: str) -> None:
    assert main(list(argv)) == 0, capsys.readouterr().err
    capsys.readouterr()


@pytest.fixture
def site(tmp_path: Path, settings: Settings, capsys, monkeypatch: pytest.MonkeyPatch) -> Site:
    """The folders, the shipped config, and docker/broker/passwd and acl as the deployment
    guide has them written: `bem broker passwd` for the node and a unit, `bem broker acl`."""
    if not os.access(MOSQUITTO, os.X_OK):
        service_missing(f"{MOSQUITTO} is not installed")
    site = Site(tmp_path / "broker", free_port())
    for folder in ("config", "data", "auth"):
        (site.root / folder).mkdir(parents=True)
    site.config.write_text(shipped_config(site), encoding="utf-8")
    monkeypatch.setenv("BEM_DATABASE_URL", settings.database.url)
    monkeypatch.setenv("BEM_MQTT_USERNAME", NODE_USER)
    for user, password in {NODE_USER: NODE_PASSWORD, UNIT: UNIT_PASSWORD}.items():
        monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
        bem(capsys, "broker", "passwd", str(site.auth / "passwd"), user)
    bootstrap.open_store(settings)
    bem(capsys, "broker", "acl", "--output", str(site.auth / "acl"))
    return site


def stop(process: subprocess.Popen[bytes]) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait(15)


# The commands the wrapper runs, which the image's busybox provides.
APPLETS = ("chmod", "chown", "cmp", "cp", "dirname", "id", "mkdir", "mv", "sleep")


@pytest.fixture(params=["sh", "busybox"])
def shell(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[list[str], dict[str, str]]:
    """How the wrapper is run: this machine's sh, and busybox's sh with busybox's own
    commands first on the PATH, as in the eclipse-mosquitto image (when installed)."""
    if request.param == "sh":
        return ["sh"], {}
    busybox = shutil.which("busybox")
    if busybox is None:
        pytest.skip("busybox is not installed: the wrapper ran with sh only")
    applets = tmp_path / "busybox-bin"
    applets.mkdir()
    for name in APPLETS:
        (applets / name).symlink_to(busybox)
    return [busybox, "sh"], {"PATH": f"{applets}{os.pathsep}{os.environ['PATH']}"}


@pytest.fixture
def wrapper(site: Site, shell) -> Iterator[subprocess.Popen[bytes]]:
    """docker/mosquitto-run.sh running the broker, as the compose file starts it."""
    command, extra_env = shell
    env = {
        **os.environ,
        **extra_env,
        "BEM_ACL_SOURCE": str(site.node_acl),
        "BEM_ACL_FILE": str(site.live_acl),
        "BEM_ACL_SEED": str(site.auth / "acl"),
        "BEM_ACL_POLL_S": "0.2",
        "BEM_ACL_WRITER_UID": str(os.getuid()),
    }
    with (site.root / "wrapper.log").open("wb") as output:
        process = subprocess.Popen(
            [*command, str(WRAPPER), MOSQUITTO, "-c", str(site.config)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(lambda: port_open(site.port), 15, "the broker to listen")
        yield process
    finally:
        stop(process)


def node_on(site: Site, settings: Settings, **mqtt: object) -> Node:
    configured = settings.replace(
        mqtt={
            "host": "127.0.0.1",
            "port": site.port,
            "username": NODE_USER,
            "password": NODE_PASSWORD,
            "client_id": unique_name("bem-node-"),
            **mqtt,
        },
        node={"batch_interval_s": 0.05, "control_interval_s": 0.2},
    )
    return bootstrap.node(configured, bootstrap.open_store(configured))


def wrapper_log(site: Site) -> str:
    return (site.root / "wrapper.log").read_text(errors="replace")


def test_the_shipped_config_accepts_the_files_bem_writes_and_the_node_connects(
    site: Site, settings: Settings
) -> None:
    (site.root / "acl").mkdir()
    (site.auth / "acl").rename(site.live_acl)  # what the wrapper would install
    process = subprocess.Popen([MOSQUITTO, "-c", str(site.config)])
    node = node_on(site, settings)
    unit = None
    try:
        wait_for(lambda: port_open(site.port), 15, "the broker to listen")
        assert connect_result(site.port).startswith("refused: Not authorized")
        node.start()
        unit = Publisher("127.0.0.1", site.port, username=UNIT, password=UNIT_PASSWORD)
        unit.wait_connected()
        # The node, logged in with its password and granted by the ACL, answers the unit.
        assert announce_and_register(unit, "bem", UNIT, ["ch1"])["ch1"] > 0
    finally:
        if unit is not None:
            unit.close()
        node.stop()
        stop(process)
    assert "Error" not in site.log(), site.log()


def test_the_wrapper_reloads_the_broker_when_the_node_rewrites_the_acl(
    site: Site, settings: Settings, wrapper: subprocess.Popen[bytes]
) -> None:
    # It starts with the site's ACL until the node has written one.
    assert site.live_acl.read_text() == (site.auth / "acl").read_text()
    assert "starting with" in wrapper_log(site)
    node = node_on(site, settings, acl_file=str(site.node_acl), acl_reload_wait_s=1.0)
    node.start()
    unit = Publisher("127.0.0.1", site.port, username=UNIT, password=UNIT_PASSWORD)
    try:
        unit.wait_connected()
        station = announce_and_register(unit, "bem", UNIT, ["ch1"])["ch1"]
        # The new station's first heartbeat passes: the wrapper reloaded the broker.
        unit.publish(TOPICS.heartbeat(station), protocol.encode_heartbeat(time.time(), "idle"))

        def heard() -> bool:
            with Session(node.engine) as session:
                query = select(Station.last_heartbeat).where(Station.id == station)
                return session.scalar(query) is not None

        wait_for(heard, 15, "the station heard")
    finally:
        unit.close()
        node.stop()
    assert site.live_acl.read_text() == site.node_acl.read_text()
    assert "ACL changed: broker reloaded" in wrapper_log(site)
    assert "Reloading config" in site.log()


def test_the_wrapper_reloads_on_a_changed_file_and_stops_the_broker_on_sigterm(
    site: Site, wrapper: subprocess.Popen[bytes]
) -> None:
    site.node_acl.write_text((site.auth / "acl").read_text() + "\n# changed\n")
    wait_for(lambda: "Reloading config" in site.log(), 15, "the broker's reload")
    assert site.live_acl.read_text().endswith("# changed\n")
    assert site.live_acl.stat().st_mode & 0o777 == 0o640

    assert stop(wrapper) == 0
    assert not port_open(site.port)
    assert "broker exited with status 0" in wrapper_log(site)


def test_without_any_acl_the_wrapper_starts_a_broker_that_allows_nothing(
    site: Site, settings: Settings
) -> None:
    (site.auth / "acl").unlink()
    env = {
        **os.environ,
        "BEM_ACL_SOURCE": str(site.node_acl),
        "BEM_ACL_FILE": str(site.live_acl),
        "BEM_ACL_SEED": str(site.auth / "acl"),
        "BEM_ACL_WRITER_UID": str(os.getuid()),
    }
    process = subprocess.Popen(
        ["sh", str(WRAPPER), MOSQUITTO, "-c", str(site.config)],
        env=env,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for(lambda: port_open(site.port), 15, "the broker to listen")
        assert site.live_acl.read_text() == ""
    finally:
        stop(process)
    assert process.stderr is not None
    assert b"allows nothing until the node writes" in process.stderr.read()
