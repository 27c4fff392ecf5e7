"""`bem station add`: a station from a script, its unit created if missing."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from cli import main
from datastore.models import ComputationalUnit, Station

WINDOW = ["--voltage-min", "0", "--voltage-max", "5", "--current-min", "-10", "--current-max", "10"]


@pytest.fixture
def database(monkeypatch: pytest.MonkeyPatch, sqlite_url: str, sqlite_engine: Engine) -> Engine:
    """The per-test SQLite database, for the command (by URL) and for the test's checks."""
    monkeypatch.setenv("BEM_DATABASE_URL", sqlite_url)
    return sqlite_engine


def bem(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def stored(engine: Engine, model: type) -> list:
    with Session(engine) as session:
        return list(session.scalars(select(model).order_by(model.id)))


def test_adding_a_station_prints_only_its_id_and_creates_its_unit(database, capsys):
    status, out, err = bem(
        capsys,
        "station",
        "add",
        "--name",
        "ch1",
        "--unit",
        "cu-lab1",
        "--location",
        "rack A",
        *WINDOW,
    )
    assert (status, out, err) == (0, "1\n", "")
    (station,) = stored(database, Station)
    (unit,) = stored(database, ComputationalUnit)
    assert (station.name, station.location, station.computational_unit_id) == (
        "ch1",
        "rack A",
        unit.id,
    )
    assert (station.voltage_max, station.current_min) == (5.0, -10.0)
    assert unit.name == "cu-lab1"


def test_a_second_station_reuses_the_unit(database, capsys):
    bem(capsys, "station", "add", "--name", "ch1", "--unit", "cu-lab1", *WINDOW)
    status, out, _ = bem(capsys, "station", "add", "--name", "ch2", "--unit", "cu-lab1", *WINDOW)
    assert (status, out) == (0, "2\n")
    assert len(stored(database, ComputationalUnit)) == 1


def test_a_station_needs_no_unit(database, capsys):
    status, out, _ = bem(capsys, "station", "add", "--name", "bench", *WINDOW)
    assert (status, out) == (0, "1\n")
    assert stored(database, Station)[0].computational_unit_id is None


def test_a_unit_cannot_have_two_stations_of_one_name(database, capsys):
    bem(capsys, "station", "add", "--name", "ch1", "--unit", "cu-lab1", *WINDOW)
    status, out, err = bem(capsys, "station", "add", "--name", "ch1", "--unit", "cu-lab1", *WINDOW)
    assert (status, out) == (1, "")
    assert err == "bem station: station 'ch1' on unit 'cu-lab1' exists already with id 1\n"


def test_an_invalid_window_is_refused(database, capsys):
    status, out, err = bem(
        capsys, "station", "add", "--name", "ch1",
        "--voltage-min", "5", "--voltage-max", "1", "--current-min", "-1", "--current-max", "1",
    )  # fmt: skip
    assert (status, out) == (1, "")
    assert err == "bem station: voltage_max: must be above voltage_min (5.0 V), got 1.0\n"
    assert stored(database, Station) == []


def test_a_missing_window_is_a_usage_error(database, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["station", "add", "--name", "ch1"])
    assert exited.value.code == 2
    assert "--voltage-min" in capsys.readouterr().err
