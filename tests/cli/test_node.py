"""`bem node` and `bem simulate`: refusals that come before any connection is tried."""

from __future__ import annotations

import pytest

from cli import main


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
