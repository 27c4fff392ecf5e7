"""Registering an announced unit: its stations, as `StationSpec`s, become station rows;
a station announced with another window is replaced, and its queued experiments move to
the new record or are cancelled, by the same rule as an edit on the stations page.

Every test runs on SQLite and on MariaDB (the `engine` fixture).
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from config import default_settings
from datastore import ingest
from datastore.catalog import create_battery, create_profile, queue_experiment
from datastore.models import Experiment, Station
from domain.stations import StationSpec
from domain.status import ExperimentStatus
from domain.window import Window

MAX_STEPS = default_settings().profiles.max_steps

CH1 = StationSpec("ch1", Window(0.0, 5.0, -10.0, 10.0), location="rack A")


def register(engine: Engine, *stations: StationSpec) -> dict[str, int]:
    with engine.begin() as connection:
        return ingest.register_unit(connection, "cu-lab1", "10.0.0.7", stations).ids


def station_row(engine: Engine, station_id: int) -> Station:
    with Session(engine) as session:
        return session.scalars(select(Station).where(Station.id == station_id)).one()


def test_an_announced_station_is_stored_with_its_location_and_window(engine):
    row = station_row(engine, register(engine, CH1)["ch1"])
    assert (row.name, row.location, row.deprecated) == ("ch1", "rack A", False)
    window = Window(row.voltage_min, row.voltage_max, row.current_min, row.current_max)
    assert window == CH1.window


def test_the_same_window_announced_again_keeps_the_station(engine):
    first = register(engine, CH1)
    assert register(engine, StationSpec("ch1", CH1.window, location="rack B")) == first
    assert station_row(engine, first["ch1"]).location == "rack B"


def test_a_changed_window_replaces_the_station(engine):
    first = register(engine, CH1)["ch1"]
    wider = register(engine, StationSpec("ch1", Window(0.0, 6.0, -10.0, 10.0)))["ch1"]
    assert wider != first and station_row(engine, first).deprecated


# ---------------------------------------------------------------- the replaced station's queue

# The announced window narrowed to ±1 A: ONE_AMP still fits the battery and it, TWO_AMPS not.
NARROW = StationSpec("ch1", Window(0.0, 5.0, -1.0, 1.0), location="rack A")
ONE_AMP = "CC, 0.5, VOLTAGE, 4.1\nCC, -0.5, VOLTAGE, 3.0\n"
TWO_AMPS = "CC, 2, VOLTAGE, 4.1\nCC, -2, VOLTAGE, 3.0\n"
MISFIT = "cancelled: the station's unit announced a new window that the profile does not fit: "


def queue(engine: Engine, station_id: int, name: str, source: str = ONE_AMP, **values) -> int:
    """Queue an experiment on the station (a new battery and profile), then set `values`."""
    with Session(engine) as session:
        battery = create_battery(
            session, name=f"cell {name}", technology="lithium-ion", voltage_min=2.5,
            voltage_max=4.2, current_min=-5.0, current_max=5.0, nominal_capacity_ah=2.0,
        )  # fmt: skip
        profile = create_profile(session, name=f"p {name}", source=source, max_steps=MAX_STEPS)
        experiment_id = queue_experiment(
            session, name=name, battery_id=battery.id, station_id=station_id,
            profile_id=profile.id, max_steps=MAX_STEPS,
        ).id  # fmt: skip
        if values:
            session.execute(update(Experiment).where(Experiment.id == experiment_id).values(values))
        session.commit()
        return experiment_id


def experiment(engine: Engine, experiment_id: int) -> Experiment:
    with Session(engine) as session:
        return session.scalars(select(Experiment).where(Experiment.id == experiment_id)).one()


def announce(engine: Engine, *stations: StationSpec) -> ingest.Registration:
    with engine.begin() as connection:
        return ingest.register_unit(connection, "cu-lab1", "10.0.0.7", stations)


def test_queued_experiments_that_fit_the_announced_window_move_to_the_new_record(engine):
    old = register(engine, CH1)["ch1"]
    gentle = queue(engine, old, "gentle")
    brisk = queue(engine, old, "brisk", TWO_AMPS)
    done = queue(engine, old, "done", status=ExperimentStatus.FINISHED)

    registration = announce(engine, NARROW)

    new = registration.ids["ch1"]
    assert new != old and station_row(engine, old).deprecated
    moved = experiment(engine, gentle)
    assert (moved.station_id, moved.status) == (new, ExperimentStatus.QUEUED)
    cancelled = experiment(engine, brisk)
    assert (cancelled.station_id, cancelled.status) == (old, ExperimentStatus.CANCELLED)
    assert cancelled.status_message.startswith(MISFIT)
    # What does not fit, as the compatibility check words it.
    assert "needs 2.0 A charge; the station allows 1.0 A" in cancelled.status_message
    assert cancelled.finished_at is not None
    assert experiment(engine, done).station_id == old  # history stays with the old record
    change = registration.replaced["ch1"]
    assert (change.old_id, change.new_id) == (old, new)
    assert [e.id for e in change.moved] == [gentle]
    assert [(e.id, e.name) for e in change.cancelled] == [(brisk, "brisk")]
    assert cancelled.status_message == f"cancelled: {change.cancelled[0].reason}"


def test_a_queued_experiment_whose_profile_was_deleted_is_cancelled_saying_so(engine):
    old = register(engine, CH1)["ch1"]
    orphan = queue(engine, old, "orphan", profile_id=None)

    announce(engine, NARROW)

    row = experiment(engine, orphan)
    assert (row.station_id, row.status) == (old, ExperimentStatus.CANCELLED)
    assert row.status_message == (
        "cancelled: its profile was deleted, so its fit to the new window the station's unit "
        "announced cannot be checked"
    )


@pytest.mark.parametrize(
    ("status", "sent"),
    [
        (ExperimentStatus.RUNNING, False),
        (ExperimentStatus.PAUSED, False),
        (ExperimentStatus.QUEUED, True),
    ],
)
def test_a_run_stays_on_the_old_record_and_the_queue_behind_it_moves(engine, status, sent):
    old = register(engine, CH1)["ch1"]
    started = dt.datetime(2026, 1, 1, tzinfo=dt.UTC) if sent else None
    busy = queue(engine, old, "busy", status=status, start_sent_at=started)
    waiting = queue(engine, old, "waiting")

    registration = announce(engine, NARROW)

    # Not refused, unlike an edit: the unit knows what its hardware can apply. What runs
    # (or is being started) belongs to the record it was started on.
    row = experiment(engine, busy)
    assert (row.station_id, row.status) == (old, status)
    assert experiment(engine, waiting).station_id == registration.ids["ch1"]
    assert [e.id for e in registration.replaced["ch1"].moved] == [waiting]


def test_the_same_window_again_moves_nothing(engine):
    old = register(engine, CH1)["ch1"]
    waiting = queue(engine, old, "waiting")
    registration = announce(engine, CH1)
    assert (registration.ids, registration.replaced) == ({"ch1": old}, {})
    assert experiment(engine, waiting).station_id == old


def test_a_station_left_out_of_the_announcement_keeps_its_record_and_queue(engine):
    ids = register(engine, CH1, StationSpec("ch2", CH1.window))
    waiting = queue(engine, ids["ch2"], "waiting on ch2")

    registration = announce(engine, NARROW)

    assert set(registration.ids) == {"ch1"} and set(registration.replaced) == {"ch1"}
    assert not station_row(engine, ids["ch2"]).deprecated
    row = experiment(engine, waiting)
    assert (row.station_id, row.status) == (ids["ch2"], ExperimentStatus.QUEUED)


def test_a_rolled_back_announcement_moves_and_cancels_nothing(engine):
    old = register(engine, CH1)["ch1"]
    gentle = queue(engine, old, "gentle")
    brisk = queue(engine, old, "brisk", TWO_AMPS)

    with engine.connect() as connection, connection.begin() as transaction:
        registration = ingest.register_unit(connection, "cu-lab1", "", [NARROW])
        assert registration.replaced["ch1"].moved  # done in this transaction...
        transaction.rollback()

    # ...and undone with it, station and experiments alike.
    assert not station_row(engine, old).deprecated
    for experiment_id in (gentle, brisk):
        row = experiment(engine, experiment_id)
        assert (row.station_id, row.status) == (old, ExperimentStatus.QUEUED)
