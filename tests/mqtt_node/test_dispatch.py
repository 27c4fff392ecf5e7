"""Dispatch alone: which experiment is started where and when, unconfirmed starts sent
again then failed, operator commands forwarded, and nothing sent before its pass commits.

On SQLite with queued experiments, a recording publisher and a fake clock that moves
only when a test says so: no broker, no node thread, no waiting.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, func, select, update
from sqlalchemy.exc import OperationalError

from datastore import dispatch as dispatch_store
from datastore.models import Station, StationCommand
from domain.status import ExperimentStatus
from tests.mqtt_node.helpers import add_experiment, add_station, experiment, force_status


def heard(engine: Engine, station_id: int, at: dt.datetime, state: str = "idle") -> None:
    """The station's last heartbeat came at `at`, reporting `state`."""
    with engine.begin() as connection:
        connection.execute(
            update(Station)
            .where(Station.id == station_id)
            .values(last_heartbeat=at, reported_state=state)
        )


# ---------------------------------------------------------------- starting


def test_the_oldest_queued_experiment_of_an_online_idle_station_is_started(
    sqlite_engine, make_dispatch, published, clock
):
    station_id = add_station(sqlite_engine)
    oldest = add_experiment(sqlite_engine, station_id, name="first")
    add_experiment(sqlite_engine, station_id, name="second")
    heard(sqlite_engine, station_id, clock.now)

    make_dispatch().run_pass()

    assert published.started() == [oldest]
    ((station, _body),) = published.commands()
    assert station == station_id
    assert experiment(sqlite_engine, oldest).start_attempts == 1


def test_a_station_heard_exactly_the_heartbeat_timeout_ago_is_still_online(
    sqlite_engine, make_dispatch, published, clock
):
    station_id = add_station(sqlite_engine)
    experiment_id = add_experiment(sqlite_engine, station_id)
    heard(sqlite_engine, station_id, clock.now)
    clock.advance(15.0)

    make_dispatch(heartbeat_timeout_s=15.0).run_pass()

    assert published.started() == [experiment_id]


def test_a_station_silent_for_longer_than_the_heartbeat_timeout_gets_no_start(
    sqlite_engine, make_dispatch, published, clock
):
    station_id = add_station(sqlite_engine)
    add_experiment(sqlite_engine, station_id)
    heard(sqlite_engine, station_id, clock.now)
    clock.advance(15.001)

    make_dispatch(heartbeat_timeout_s=15.0).run_pass()

    assert published.sent == []


def test_a_station_that_reports_it_is_busy_gets_no_start(
    sqlite_engine, make_dispatch, published, clock
):
    station_id = add_station(sqlite_engine)
    add_experiment(sqlite_engine, station_id)
    heard(sqlite_engine, station_id, clock.now, state="running")

    make_dispatch().run_pass()

    assert published.sent == []


def test_an_unconfirmed_start_is_sent_again_once_the_start_timeout_has_passed(
    sqlite_engine, make_dispatch, published, clock
):
    station_id = add_station(sqlite_engine)
    experiment_id = add_experiment(sqlite_engine, station_id)
    dispatch = make_dispatch(start_timeout_s=20.0)
    heard(sqlite_engine, station_id, clock.now)
    dispatch.run_pass()
    clock.advance(19.0)
    dispatch.run_pass()
    assert published.started() == [experiment_id]

    clock.advance(2.0)
    dispatch.run_pass()

    assert published.started() == [experiment_id, experiment_id]
    assert experiment(sqlite_engine, experiment_id).start_attempts == 2


def test_a_start_unconfirmed_after_its_retries_fails_the_experiment_naming_the_station(
    sqlite_engine, make_dispatch, published, clock
):
    station_id = add_station(sqlite_engine)
    experiment_id = add_experiment(sqlite_engine, station_id)
    dispatch = make_dispatch(start_timeout_s=20.0, start_retries=1)
    heard(sqlite_engine, station_id, clock.now)
    for _attempt in range(3):
        dispatch.run_pass()
        clock.advance(21.0)

    row = experiment(sqlite_engine, experiment_id)
    assert published.started() == [experiment_id] * 2  # the first start and one retry
    assert row.status == ExperimentStatus.ERROR
    assert row.status_message == (
        f"station {station_id} did not confirm the start within 20 s (2 attempts)"
    )
    assert row.finished_at == clock.now - dt.timedelta(seconds=21.0)


def test_a_confirmed_start_is_not_sent_again(sqlite_engine, make_dispatch, published, clock):
    station_id = add_station(sqlite_engine)
    experiment_id = add_experiment(sqlite_engine, station_id)
    dispatch = make_dispatch(start_timeout_s=20.0)
    heard(sqlite_engine, station_id, clock.now)
    dispatch.run_pass()
    force_status(sqlite_engine, experiment_id, ExperimentStatus.RUNNING)
    clock.advance(60.0)
    heard(sqlite_engine, station_id, clock.now, state="running")

    dispatch.run_pass()

    assert published.started() == [experiment_id]


def test_of_two_dispatchers_on_one_database_only_one_sends_a_start(
    sqlite_engine, make_dispatch, published, clock
):
    station_id = add_station(sqlite_engine)
    experiment_id = add_experiment(sqlite_engine, station_id)
    heard(sqlite_engine, station_id, clock.now)
    first, second = make_dispatch(), make_dispatch()

    first.run_pass()
    second.run_pass()

    assert published.started() == [experiment_id]
    assert (first.stats.starts_sent, second.stats.starts_sent) == (1, 0)


def test_two_idle_stations_never_start_two_experiments_of_one_battery(
    sqlite_engine, make_dispatch, published, clock
):
    first_station = add_station(sqlite_engine, "ch1")
    second_station = add_station(sqlite_engine, "ch2")
    first = add_experiment(sqlite_engine, first_station, name="first")
    battery_id = experiment(sqlite_engine, first).battery_id
    second = add_experiment(sqlite_engine, second_station, name="second", battery_id=battery_id)
    heard(sqlite_engine, first_station, clock.now)
    heard(sqlite_engine, second_station, clock.now)
    dispatch = make_dispatch()

    dispatch.run_pass()
    force_status(sqlite_engine, first, ExperimentStatus.RUNNING)
    heard(sqlite_engine, first_station, clock.now, state="running")
    dispatch.run_pass()
    assert published.started() == [first]

    force_status(sqlite_engine, first, ExperimentStatus.FINISHED)
    heard(sqlite_engine, first_station, clock.now)
    dispatch.run_pass()

    assert published.started() == [first, second]
    assert experiment(sqlite_engine, second).start_attempts == 1


# ---------------------------------------------------------------- operator commands


@pytest.mark.parametrize("command", ["pause", "resume", "stop"])
def test_an_operator_command_is_forwarded_once(sqlite_engine, make_dispatch, published, command):
    station_id = add_station(sqlite_engine)
    experiment_id = add_experiment(
        sqlite_engine,
        station_id,
        status=ExperimentStatus.PAUSED if command == "resume" else ExperimentStatus.RUNNING,
    )
    with sqlite_engine.begin() as connection:
        dispatch_store.request_command(connection, experiment_id, command)
    dispatch = make_dispatch()

    dispatch.run_pass()
    dispatch.run_pass()

    assert published.commands() == [
        (station_id, {"command": command, "experiment_id": experiment_id})
    ]


# ---------------------------------------------------------------- passes


def test_nothing_decided_in_a_failed_pass_is_sent_and_the_next_pass_sends_it(
    sqlite_engine, make_dispatch, published, monkeypatch
):
    station_id = add_station(sqlite_engine)
    experiment_id = add_experiment(sqlite_engine, station_id, status=ExperimentStatus.RUNNING)
    with sqlite_engine.begin() as connection:
        dispatch_store.request_command(connection, experiment_id, "pause")
    real = dispatch_store.startable_experiments

    def broken(*args):  # called after the command was claimed, in the same pass
        raise RuntimeError("a bug in dispatch")

    monkeypatch.setattr(dispatch_store, "startable_experiments", broken)
    dispatch = make_dispatch()

    with pytest.raises(RuntimeError, match="a bug in dispatch"):
        dispatch.run_pass()
    assert published.sent == []

    monkeypatch.setattr(dispatch_store, "startable_experiments", real)
    dispatch.run_pass()
    assert published.commands("pause") == [
        (station_id, {"command": "pause", "experiment_id": experiment_id})
    ]


def test_a_pass_the_node_stops_during_sends_nothing(
    sqlite_engine, make_dispatch, published, transactions, monkeypatch
):
    station_id = add_station(sqlite_engine)
    experiment_id = add_experiment(sqlite_engine, station_id, status=ExperimentStatus.RUNNING)
    with sqlite_engine.begin() as connection:
        dispatch_store.request_command(connection, experiment_id, "stop")

    def database_away(*args):
        raise OperationalError("SELECT", {}, ConnectionError("server has gone away"))

    monkeypatch.setattr(dispatch_store, "expired_starts", database_away)
    transactions.stopping.set()
    dispatch = make_dispatch()

    assert dispatch.run_pass() is False
    assert published.sent == []
    assert dispatch.stats.passes == 0


def test_completed_passes_and_the_starts_they_sent_are_counted(sqlite_engine, make_dispatch, clock):
    for name in ("ch1", "ch2"):
        station_id = add_station(sqlite_engine, name)
        add_experiment(sqlite_engine, station_id)
        heard(sqlite_engine, station_id, clock.now)
    dispatch = make_dispatch()

    dispatch.run_pass()
    dispatch.run_pass()

    assert (dispatch.stats.passes, dispatch.stats.starts_sent) == (2, 2)


@pytest.mark.parametrize(
    ("status", "command", "message"),
    [
        (None, "stop", "there is no experiment"),
        (ExperimentStatus.QUEUED, "stop", "is QUEUED: it cannot stop"),
        (ExperimentStatus.FINISHED, "pause", "is FINISHED: it cannot pause"),
        (ExperimentStatus.RUNNING, "resume", "is RUNNING: it cannot resume"),
    ],
)
def test_a_command_the_experiment_cannot_take_is_refused_with_nothing_written(
    sqlite_engine, status, command, message
):
    """Whoever asks (a page fed a hand-made store, a script), the datastore checks the id."""
    station_id = add_station(sqlite_engine)
    experiment_id = 999_999
    if status is not None:
        experiment_id = add_experiment(sqlite_engine, station_id, status=status)
    with (
        sqlite_engine.begin() as connection,
        pytest.raises(dispatch_store.CommandRefused, match=message),
    ):
        dispatch_store.request_command(connection, experiment_id, command)
    with sqlite_engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(StationCommand)).scalar() == 0
