"""The node keeps the broker's ACL current (`mqtt_node.broker_acl`): the file is rewritten
when the stations change, before a unit hears new station ids, and the broker reloaded;
a failure is logged and never stops ingest.

The keeper alone, then the node on SQLite over a transport the test drives by hand. The
same path against a real Mosquitto is in test_broker_acl_live.py.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

import bootstrap
from config import default_settings
from datastore.stations import edit_station
from domain.stations import StationSpec
from domain.window import Window
from mqtt_node import protocol
from mqtt_node.broker_acl import (
    BrokerAcl,
    acl_node_users,
    broker_reload,
    keeper,
    run_command,
    signal_pid_file,
    stations_in,
)
from mqtt_node.broker_auth import render_acl
from mqtt_node.node import Node
from mqtt_node.topics import Topics
from tests.mqtt_node.conftest import FAST
from tests.mqtt_node.helpers import ManualTransport, add_station, wait_for

TOPICS = Topics("bem")
CH1 = StationSpec("ch1", Window(0.0, 5.0, -10.0, 10.0), location="rack A")


class Reloads:
    """A stand-in for the broker's reload: counts calls, answers as told."""

    def __init__(self, *answers: bool) -> None:
        self.answers = list(answers)
        self.calls = 0

    def __call__(self) -> bool:
        self.calls += 1
        return self.answers.pop(0) if self.answers else True


def make_acl(
    path: Path, stations: dict[str, list[int]], reload: Callable[[], bool] | None = None
) -> BrokerAcl:
    return BrokerAcl(path, "bem", ["bem-node"], lambda: stations, reload=reload)


def granted(text: str, station_id: int) -> bool:
    return f"topic write {TOPICS.heartbeat(station_id)}" in text


# ---------------------------------------------------------------- the keeper alone


def test_the_acl_is_written_from_the_stations_then_the_broker_reloaded(tmp_path: Path) -> None:
    path, reload = tmp_path / "broker" / "acl", Reloads()
    acl = make_acl(path, {"cu-a": [3, 4]}, reload)

    assert acl.refresh("test") is True

    assert path.read_text(encoding="utf-8") == render_acl("bem", ["bem-node"], {"cu-a": [3, 4]})[0]
    assert path.stat().st_mode & 0o777 == 0o640
    assert reload.calls == 1
    assert [p.name for p in path.parent.iterdir()] == ["acl"]  # no temporary file left


def test_an_unchanged_acl_is_neither_written_again_nor_reloaded(tmp_path: Path) -> None:
    path, reload = tmp_path / "acl", Reloads()
    path.write_text(render_acl("bem", ["bem-node"], {"cu-a": [3]})[0], encoding="utf-8")
    before = path.stat().st_mtime_ns
    acl = make_acl(path, {"cu-a": [3]}, reload)

    assert acl.refresh("start-up") is False
    assert acl.refresh("periodic check") is False

    assert path.stat().st_mtime_ns == before
    assert reload.calls == 0


def test_a_new_station_rewrites_the_acl(tmp_path: Path) -> None:
    stations: dict[str, list[int]] = {"cu-a": [3]}
    path, reload = tmp_path / "acl", Reloads()
    acl = make_acl(path, stations, reload)
    acl.refresh("start-up")

    stations["cu-a"].append(7)

    assert acl.refresh("announce") is True
    assert granted(path.read_text(encoding="utf-8"), 7)
    assert reload.calls == 2


def test_a_failed_reload_is_tried_again_at_the_next_refresh(tmp_path: Path) -> None:
    reload = Reloads(False, True)
    acl = make_acl(tmp_path / "acl", {"cu-a": [3]}, reload)

    acl.refresh("start-up")
    assert (reload.calls, acl.reloads) == (1, 0)
    acl.refresh("periodic check")  # nothing changed, but the broker still has the old ACL
    assert (reload.calls, acl.reloads) == (2, 1)
    acl.refresh("periodic check")
    assert reload.calls == 2


def test_a_file_that_cannot_be_written_is_logged_and_written_later(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("", encoding="utf-8")
    reload = Reloads()
    acl = make_acl(blocker / "acl", {"cu-a": [3]}, reload)

    with caplog.at_level(logging.ERROR, "bem.node"):
        assert acl.refresh("start-up") is False
    assert f"broker ACL {blocker / 'acl'}: cannot be written" in caplog.text
    assert "refused by the broker until it is" in caplog.text
    assert reload.calls == 0

    blocker.unlink()
    assert acl.refresh("periodic check") is True
    assert granted((blocker / "acl").read_text(encoding="utf-8"), 3)


def test_stations_that_cannot_be_read_leave_the_file_alone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def unreachable() -> dict[str, list[int]]:
        raise ConnectionError("database away")

    acl = BrokerAcl(tmp_path / "acl", "bem", ["bem-node"], unreachable, reload=Reloads())

    with caplog.at_level(logging.ERROR, "bem.node"):
        assert acl.refresh("periodic check") is False
    assert "the stations could not be read (database away)" in caplog.text
    assert not (tmp_path / "acl").exists()


def test_without_a_node_user_nothing_is_written(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    acl = BrokerAcl(tmp_path / "acl", "bem", [], lambda: {})
    with caplog.at_level(logging.ERROR, "bem.node"):
        assert acl.refresh("start-up") is False
    assert "node user: at least one is needed" in caplog.text
    assert not (tmp_path / "acl").exists()


# ---------------------------------------------------------------- reloading the broker


def test_a_reload_command_is_run_without_a_shell(tmp_path: Path) -> None:
    marker = tmp_path / "reloaded"
    reload = run_command(f"{sys.executable} -c \"open('{marker}', 'a').write('once')\"")
    assert reload() is True
    assert marker.read_text(encoding="utf-8") == "once"


def test_a_failing_reload_command_is_logged_with_its_last_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    failing = f"{sys.executable} -c \"import sys; sys.exit('Unit mosquitto.service not found.')\""
    with caplog.at_level(logging.ERROR, "bem.node"):
        assert run_command(failing)() is False
        assert run_command("/nonexistent/reload-broker")() is False
    assert "exited with status 1: Unit mosquitto.service not found." in caplog.text
    assert "'/nonexistent/reload-broker' could not run (No such file or directory)" in caplog.text


def test_a_pid_file_reload_sends_sighup(tmp_path: Path) -> None:
    heard = tmp_path / "heard"
    script = (
        "import signal, sys, time\n"
        f"signal.signal(signal.SIGHUP, lambda *a: open({str(heard)!r}, 'w').write('HUP'))\n"
        "print('ready', flush=True)\n"
        "time.sleep(30)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    try:
        assert process.stdout is not None and process.stdout.readline() == b"ready\n"
        pid_file = tmp_path / "mosquitto.pid"
        pid_file.write_text(f"{process.pid}\n", encoding="ascii")
        assert signal_pid_file(pid_file)() is True
        wait_for(heard.exists, 10, "the SIGHUP")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(10)


def test_a_missing_pid_file_is_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, "bem.node"):
        assert signal_pid_file(tmp_path / "none.pid")() is False
    assert "cannot send SIGHUP to the pid in" in caplog.text
    assert "the broker still uses its old ACL" in caplog.text


# ---------------------------------------------------------------- settings


def test_the_node_users_are_the_listed_ones_or_else_the_nodes_own() -> None:
    mqtt = default_settings().mqtt
    assert acl_node_users(dataclasses.replace(mqtt, username="bem-node")) == ["bem-node"]
    listed = dataclasses.replace(mqtt, username="bem-node", acl_node_users=" node-a, node-b ,")
    assert acl_node_users(listed) == ["node-a", "node-b"]
    assert acl_node_users(dataclasses.replace(mqtt, username="")) == []


def test_the_settings_choose_the_keeper_and_its_reload(tmp_path: Path, sqlite_engine) -> None:
    mqtt = default_settings().mqtt
    assert mqtt.acl_file == ""
    assert keeper(mqtt, sqlite_engine) is None
    assert broker_reload(mqtt) is None

    configured = dataclasses.replace(
        mqtt, acl_file=str(tmp_path / "acl"), username="bem-node", acl_reload_wait_s=0.0
    )
    acl = keeper(configured, sqlite_engine)
    assert acl is not None and acl.node_users == ["bem-node"]
    assert acl.refresh("test") is True  # no reload configured: the file alone
    assert acl.reloads == 0


def test_bootstrap_gives_the_node_its_acl_keeper(tmp_path: Path, settings) -> None:
    store = bootstrap.open_store(settings)
    configured = settings.replace(
        mqtt={"acl_file": str(tmp_path / "acl"), "username": "bem-node", "host": "broker"}
    )
    node = bootstrap.node(configured, store, ManualTransport())
    assert node.acl is not None and node.acl.path == tmp_path / "acl"
    assert bootstrap.node(settings, store, ManualTransport()).acl is None


# ---------------------------------------------------------------- the node


class WatchedTransport(ManualTransport):
    """Records, with each message published, the ACL file's text at that moment."""

    def __init__(self, acl_path: Path) -> None:
        super().__init__()
        self.acl_path = acl_path
        self.acl_at_publish: list[tuple[str, str]] = []
        self.acl_at_start: str | None = None

    def _acl(self) -> str:
        return self.acl_path.read_text(encoding="utf-8") if self.acl_path.exists() else ""

    def start(self, on_message, subscriptions) -> None:
        self.acl_at_start = self._acl()
        super().start(on_message, subscriptions)

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        self.acl_at_publish.append((topic, self._acl()))
        super().publish(topic, payload, qos)

    def registered(self) -> list[tuple[dict, str]]:
        """Each `registered` published, with the ACL as it was when it went out."""
        return [
            (json.loads(payload), acl)
            for (topic, payload, _qos), (_t, acl) in zip(
                self.published, self.acl_at_publish, strict=True
            )
            if topic.endswith("/registered")
        ]


@pytest.fixture
def acl_path(tmp_path: Path) -> Path:
    return tmp_path / "broker" / "acl"


@pytest.fixture
def node_with_acl(
    sqlite_engine: Engine, acl_path: Path
) -> Iterator[Callable[..., tuple[Node, WatchedTransport]]]:
    """`node_with_acl(check_interval_s=3600)`: a running node keeping `acl_path` current."""
    nodes: list[Node] = []

    def start(check_interval_s: float = 3600.0) -> tuple[Node, WatchedTransport]:
        transport = WatchedTransport(acl_path)
        acl = BrokerAcl(
            acl_path,
            "bem",
            ["bem-node"],
            stations_in(sqlite_engine),
            reload=Reloads(),
            check_interval_s=check_interval_s,
        )
        node = Node(sqlite_engine, transport, FAST, TOPICS, acl=acl)
        nodes.append(node)
        node.start()
        return node, transport

    yield start
    for node in nodes:
        node.stop()


def test_the_node_writes_the_acl_before_it_connects(node_with_acl, sqlite_engine) -> None:
    station = add_station(sqlite_engine, unit="cu-a")
    node, transport = node_with_acl()
    assert transport.acl_at_start is not None
    assert "user bem-node" in transport.acl_at_start
    assert granted(transport.acl_at_start, station)


def test_a_unit_hears_its_new_station_ids_only_once_the_acl_grants_them(
    node_with_acl, sqlite_engine
) -> None:
    node, transport = node_with_acl()
    transport.deliver(TOPICS.announce("cu-a"), protocol.encode_announce("cu-a", [CH1]))
    wait_for(lambda: transport.registered(), 10, "the registered answer")

    [(answer, acl_then)] = transport.registered()
    station = answer["stations"][0]["station"]
    assert granted(acl_then, station)
    assert node.acl is not None and node.acl.reloads == 2  # start-up, then the announce


def widen_window(engine: Any, station_id: int) -> int:
    """Edit the station as the stations page does (a wider voltage window); the new id."""
    with Session(engine) as session, session.begin():
        return edit_station(
            session, station_id, name="ch1", voltage_min=0.0, voltage_max=4.5,
            current_min=-10.0, current_max=10.0, unit_name="cu-a",
        ).new_id  # fmt: skip


def test_a_station_edited_in_the_web_app_reaches_the_acl_at_the_next_check(
    node_with_acl, sqlite_engine, acl_path: Path
) -> None:
    old = add_station(sqlite_engine, unit="cu-a")
    node_with_acl(check_interval_s=0.05)
    new = widen_window(sqlite_engine, old)

    wait_for(lambda: granted(acl_path.read_text(encoding="utf-8"), new), 10, "the new id")
    assert granted(acl_path.read_text(encoding="utf-8"), old)  # its runs may end on it


def test_the_unprompted_registered_after_an_edit_waits_for_the_acl(
    node_with_acl, sqlite_engine
) -> None:
    old = add_station(sqlite_engine, unit="cu-a")
    # No periodic check during the test: only the path before `registered` can grant it.
    node, transport = node_with_acl(check_interval_s=3600)
    new = widen_window(sqlite_engine, old)

    transport.deliver(TOPICS.heartbeat(old), protocol.encode_heartbeat(1.0, "idle"))
    wait_for(lambda: transport.registered(), 10, "the unprompted registered")

    [(answer, acl_then)] = transport.registered()
    assert answer["stations"] == [{"name": "ch1", "station": new}]
    assert granted(acl_then, new)


def test_an_acl_that_cannot_be_written_never_stops_ingest(
    sqlite_engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("", encoding="utf-8")
    transport = ManualTransport()
    acl = BrokerAcl(blocker / "acl", "bem", ["bem-node"], stations_in(sqlite_engine))
    node = Node(sqlite_engine, transport, FAST, TOPICS, acl=acl)
    with caplog.at_level(logging.ERROR, "bem.node"):
        node.start()
        try:
            transport.deliver(TOPICS.announce("cu-a"), protocol.encode_announce("cu-a", [CH1]))
            wait_for(lambda: transport.acked == [TOPICS.announce("cu-a")], 10, "the ack")
            wait_for(lambda: len(transport.published) == 1, 10, "the registered answer")
        finally:
            node.stop()
    assert "cannot be written" in caplog.text
    assert transport.published[0][0] == TOPICS.registered("cu-a")
