"""`bem node` and `bem simulate`: refusals that come before any connection is tried."""

from __future__ import annotations

import os
import time

import pytest

from cli import main
from cli.node import health_verdict


@pytest.fixture
def no_broker(monkeypatch: pytest.MonkeyPatch, sqlite_url: str, tmp_path) -> None:
    """A SQLite database and no broker host, whatever the environment says."""
    monkeypatch.setenv("BEM_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("BEM_MQTT_HOST", "")
    monkeypatch.setenv("BEM_CREDENTIALS_FILE", str(tmp_path / "none.yaml"))
    (tmp_path / "none.yaml").write_text("{}\n")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def test_node_without_a_broker_exits_1_with_one_line_naming_mqtt_host(no_broker, capsys):
    status, out, err = run(capsys, "node")

    assert status == 1
    assert out == ""
    assert err.count("\n") == 1 and err.endswith("\n")
    assert err.startswith("bem node: ") and "mqtt.host" in err
    assert "BEM_MQTT_HOST" in err  # how to fix it


@pytest.mark.parametrize("stations", ["0", "-1", "257"])
def test_simulate_refuses_a_station_count_out_of_range(no_broker, capsys, stations):
    status, out, err = run(capsys, "simulate", "--stations", stations)

    assert status == 1
    assert out == ""
    assert err == f"bem simulate: --stations: expected 1 to 256, got {stations}\n"


def test_simulate_without_a_broker_names_mqtt_host(no_broker, capsys):
    status, _out, err = run(capsys, "simulate", "--stations", "2")

    assert status == 1
    assert err.startswith("bem simulate: mqtt.host") and err.count("\n") == 1


# ---------------------------------------------------------------- bem node check


def test_node_check_is_healthy_on_a_fresh_heartbeat(tmp_path, capsys):
    beat = tmp_path / "node.health"
    beat.write_text("ok\n")
    status, out, _err = run(capsys, "node", "check", "--health-file", str(beat))
    assert (status, out) == (0, "healthy\n")


def test_node_check_is_unhealthy_on_an_old_heartbeat(tmp_path, capsys):
    beat = tmp_path / "node.health"
    beat.write_text("ok\n")
    old = time.time() - 120
    os.utime(beat, (old, old))
    status, out, _err = run(capsys, "node", "check", "--health-file", str(beat), "--max-age", "30")
    assert status == 1
    assert out.startswith("unhealthy: ") and "no heartbeat for 12" in out


def test_node_check_is_unhealthy_before_the_first_heartbeat(tmp_path, capsys):
    status, out, _err = run(capsys, "node", "check", "--health-file", str(tmp_path / "none"))
    assert status == 1 and "no heartbeat yet" in out


def test_the_verdict_is_a_plain_function_of_the_file_and_the_time(tmp_path):
    beat = tmp_path / "node.health"
    beat.write_text("ok\n")
    written = beat.stat().st_mtime
    assert health_verdict(beat, written + 29, 30) is None
    assert health_verdict(beat, written + 31, 30) is not None
