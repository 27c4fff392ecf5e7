"""`bem station add|list|deprecate|remove`: a station from a script, its unit created if
missing; the stations listed with whether they are online; deprecated (its queue
cancelled) or removed."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from cli import main
from datastore.ingest import record_heartbeat
from datastore.models import ComputationalUnit, Experiment, Station
from datastore.types import utcnow
from domain.status import ExperimentStatus

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


# ---------------------------------------------------------------- list


def test_list_shows_whether_each_station_is_online_and_which_are_deprecated(database, capsys):
    for name in ("ch1", "ch2", "ch3"):
        bem(capsys, "station", "add", "--name", name, "--unit", "cu-lab1", *WINDOW)
    now = utcnow().replace(microsecond=0)
    long_ago = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    with database.begin() as connection:
        record_heartbeat(connection, 1, now, "running", None)
        record_heartbeat(connection, 2, long_ago, "idle", None)
        connection.execute(update(Station).where(Station.id == 3).values(deprecated=True))

    status, out, err = bem(capsys, "station", "list")

    assert (status, err) == (0, "")
    assert out.splitlines() == [
        "id\tname\tunit\tlocation\tonline\tstate\tlast_heartbeat\tdeprecated\t"
        "voltage_min\tvoltage_max\tcurrent_min\tcurrent_max",
        f"1\tch1\tcu-lab1\t\tonline\trunning\t{now.isoformat()}\tno\t0.0\t5.0\t-10.0\t10.0",
        "2\tch2\tcu-lab1\t\toffline\tidle\t2026-01-02T03:04:05+00:00\tno\t0.0\t5.0\t-10.0\t10.0",
        "3\tch3\tcu-lab1\t\tnever seen\t\t\tyes\t0.0\t5.0\t-10.0\t10.0",
    ]


def test_a_station_is_offline_once_the_heartbeat_timeout_has_passed(database, capsys, monkeypatch):
    bem(capsys, "station", "add", "--name", "ch1", *WINDOW)
    with database.begin() as connection:
        record_heartbeat(connection, 1, utcnow() - dt.timedelta(seconds=30), "idle", None)

    _, out, _ = bem(capsys, "station", "list")
    assert out.splitlines()[1].split("\t")[4] == "offline"
    monkeypatch.setenv("BEM_NODE_HEARTBEAT_TIMEOUT_S", "60")
    _, out, _ = bem(capsys, "station", "list")
    assert out.splitlines()[1].split("\t")[4] == "online"


# ---------------------------------------------------------------- deprecate and remove

BATTERY = [
    "battery", "add", "--name", "cell", "--technology", "lithium-ion", "--capacity", "2",
    "--voltage-min", "2.5", "--voltage-max", "4.2", "--current-min", "-5", "--current-max", "5",
]  # fmt: skip


def queue_on_station_1(capsys, tmp_path, name: str) -> int:
    profile = tmp_path / "charge.txt"
    profile.write_text("CC, 0.5, VOLTAGE, 4.1\n", encoding="utf-8")
    status, out, err = bem(
        capsys, "experiment", "add", "--name", name, "--battery", "1", "--station", "1",
        "--profile-file", str(profile),
    )  # fmt: skip
    assert (status, err) == (0, "")
    return int(out)


def test_deprecate_cancels_the_queued_experiments_and_prints_them(database, capsys, tmp_path):
    bem(capsys, "station", "add", "--name", "ch1", "--unit", "cu-lab1", *WINDOW)
    bem(capsys, *BATTERY)
    first = queue_on_station_1(capsys, tmp_path, "first")
    second = queue_on_station_1(capsys, tmp_path, "second run")

    status, out, err = bem(capsys, "station", "deprecate", "1")

    assert (status, err) == (0, "")
    assert out.splitlines() == ["cancelled_id\tname", f"{first}\tfirst", f"{second}\tsecond run"]
    (station,) = stored(database, Station)
    assert station.deprecated
    assert {e.status for e in stored(database, Experiment)} == {ExperimentStatus.CANCELLED}


def test_deprecate_is_refused_while_the_station_runs_an_experiment(database, capsys, tmp_path):
    bem(capsys, "station", "add", "--name", "ch1", *WINDOW)
    bem(capsys, *BATTERY)
    running = queue_on_station_1(capsys, tmp_path, "busy")
    with database.begin() as connection:
        connection.execute(
            update(Experiment).where(Experiment.id == running).values(status="RUNNING")
        )
    status, out, err = bem(capsys, "station", "deprecate", "1")
    assert (status, out) == (1, "")
    assert err == (
        f"bem station: station 1 'ch1' runs experiment #{running} 'busy' (RUNNING); "
        "you cannot deprecate it until that experiment ends\n"
    )
    assert not stored(database, Station)[0].deprecated


def test_remove_deletes_a_station_that_never_had_an_experiment(database, capsys):
    bem(capsys, "station", "add", "--name", "mistake", "--unit", "cu-lab1", *WINDOW)
    status, out, err = bem(capsys, "station", "remove", "1")
    assert (status, out, err) == (0, "", "")
    assert stored(database, Station) == []


def test_remove_is_refused_for_a_station_with_experiments(database, capsys, tmp_path):
    bem(capsys, "station", "add", "--name", "ch1", *WINDOW)
    bem(capsys, *BATTERY)
    used = queue_on_station_1(capsys, tmp_path, "used")
    status, out, err = bem(capsys, "station", "remove", "1")
    assert (status, out) == (1, "")
    assert err == (
        f"bem station: station 1 'ch1' has experiments (#{used}), so it stays for their "
        "history; deprecate it instead\n"
    )
    assert len(stored(database, Station)) == 1


def test_deprecate_or_remove_an_unknown_station_says_so(database, capsys):
    for action in ("deprecate", "remove"):
        assert bem(capsys, "station", action, "7") == (
            1, "", "bem station: there is no station with id 7\n"
        )  # fmt: skip
