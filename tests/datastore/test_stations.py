"""Managing stations: the board, editing (deprecate and replace), deprecating, removing.

Every test runs on SQLite and on MariaDB (the `session` fixture).
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Connection, func, select, update
from sqlalchemy.orm import Session

from config import default_settings
from datastore import ingest
from datastore.catalog import (
    CatalogError,
    DuplicateError,
    NotFoundError,
    create_battery,
    create_profile,
    create_station,
    queue_experiment,
)
from datastore.models import Experiment, Station
from datastore.stations import (
    deprecate_station,
    edit_station,
    remove_station,
    station_board,
    unit_names,
)
from domain.stations import StationSpec
from domain.status import ExperimentStatus
from domain.window import Window

MAX_STEPS = default_settings().profiles.max_steps
WINDOW = {"voltage_min": 0.0, "voltage_max": 5.0, "current_min": -5.0, "current_max": 5.0}
# 2 A charge and discharge: fits a ±5 A station, not a ±1 A one.
TWO_AMPS = "CC, 2, VOLTAGE, 4.1\nCC, -2, VOLTAGE, 3.0\n"
ONE_AMP = "CC, 0.5, VOLTAGE, 4.1\nCC, -0.5, VOLTAGE, 3.0\n"


def lab(session: Session, *, unit: str | None = "cu-lab1") -> int:
    """A station ch1 (on `unit`) and a battery; returns the station's id."""
    create_battery(
        session, name="cell", technology="lithium-ion", voltage_min=2.5, voltage_max=4.2,
        current_min=-5.0, current_max=5.0, nominal_capacity_ah=2.0,
    )  # fmt: skip
    station = create_station(
        session, name="ch1", unit_name=unit, location="rack A", devices=[{"kind": "source"}],
        **WINDOW,
    )  # fmt: skip
    session.flush()
    return station.id


def queue(session: Session, station_id: int, name: str, source: str = ONE_AMP) -> int:
    profile = create_profile(session, name=f"p {name}", source=source, max_steps=MAX_STEPS)
    experiment = queue_experiment(
        session, name=name, battery_id=1, station_id=station_id, profile_id=profile.id,
        max_steps=MAX_STEPS,
    )  # fmt: skip
    session.flush()
    return experiment.id


def set_status(session: Session, experiment_id: int, status: ExperimentStatus, **values) -> None:
    session.execute(
        update(Experiment)
        .where(Experiment.id == experiment_id)
        .values(status=status, **values)
        .execution_options(synchronize_session=False)
    )


def experiment(session: Session, experiment_id: int) -> Experiment:
    return session.get(Experiment, experiment_id, populate_existing=True)


def edit(session: Session, station_id: int, **changes: object):
    values = {"name": "ch1", "location": "rack A", "unit_name": "cu-lab1", **WINDOW, **changes}
    return edit_station(session, station_id, **values)


# ---------------------------------------------------------------- the board


def test_the_board_groups_stations_under_their_unit_with_what_they_run(session):
    station_id = lab(session)
    other = create_station(session, name="bench", **WINDOW)
    session.flush()
    running = queue(session, station_id, "running one")
    queue(session, station_id, "waiting 1")
    queue(session, station_id, "waiting 2")
    set_status(session, running, ExperimentStatus.RUNNING)
    gone = create_station(session, name="ch0", unit_name="cu-lab1", **WINDOW)
    session.flush()
    deprecate_station(session, gone.id)

    board = station_board(session)
    assert [(u.name, [s.name for s in u.stations]) for u in board] == [
        ("cu-lab1", ["ch1"]),
        ("", ["bench"]),  # the stations without a unit come last
    ]
    ch1 = board[0].stations[0]
    assert (ch1.current, ch1.queued, ch1.experiments) == (
        (running, "running one", "RUNNING"),
        2,
        3,
    )
    assert board[1].stations[0].id == other.id
    with_deprecated = station_board(session, include_deprecated=True)
    assert [s.name for s in with_deprecated[0].stations] == ["ch0", "ch1"]
    assert with_deprecated[0].stations[0].deprecated
    assert unit_names(session) == ["cu-lab1"]


# ---------------------------------------------------------------- edit


def test_an_edit_deprecates_the_record_and_creates_one_with_the_edited_values(session):
    station_id = lab(session)
    done = queue(session, station_id, "done")
    set_status(session, done, ExperimentStatus.FINISHED)

    change = edit(session, station_id, location="rack B", voltage_max=4.5)

    old = session.get(Station, station_id)
    new = session.get(Station, change.new_id)
    assert old.deprecated and not new.deprecated
    assert (old.location, old.voltage_max) == ("rack A", 5.0)  # history keeps the old values
    assert (new.name, new.location, new.voltage_max) == ("ch1", "rack B", 4.5)
    assert new.computational_unit_id == old.computational_unit_id
    assert new.devices == [{"kind": "source"}]
    assert experiment(session, done).station_id == station_id  # finished: stays with the old
    assert change.describe() == (
        f"Station {station_id} is deprecated and kept for its history; station {new.id} takes "
        "the edited values. It had no queued experiments."
    )


def test_queued_experiments_that_fit_move_and_the_others_are_cancelled_with_the_reason(session):
    station_id = lab(session)
    small = queue(session, station_id, "gentle", ONE_AMP)
    large = queue(session, station_id, "brisk", TWO_AMPS)

    change = edit(session, station_id, current_min=-1.0, current_max=1.0)

    assert experiment(session, small).station_id == change.new_id
    assert experiment(session, small).status is ExperimentStatus.QUEUED
    cancelled = experiment(session, large)
    assert (cancelled.status, cancelled.station_id) == (ExperimentStatus.CANCELLED, station_id)
    assert cancelled.status_message.startswith("cancelled: does not fit the edited station: ")
    assert cancelled.finished_at is not None
    message = change.describe()
    assert f"Moved to station {change.new_id}: #{small} 'gentle'." in message
    assert f"Cancelled: #{large} 'brisk' (does not fit the edited station: " in message


@pytest.mark.parametrize(
    ("status", "sent", "doing"),
    [
        (ExperimentStatus.RUNNING, False, "RUNNING"),
        (ExperimentStatus.PAUSED, False, "PAUSED"),
        (ExperimentStatus.QUEUED, True, "being started"),
    ],
)
def test_an_edit_is_refused_while_the_station_runs_an_experiment(session, status, sent, doing):
    station_id = lab(session)
    busy = queue(session, station_id, "busy")
    set_status(session, busy, status, start_sent_at=dt.datetime.now(dt.UTC) if sent else None)
    session.commit()
    with pytest.raises(CatalogError) as caught:
        edit(session, station_id, location="rack B")
    assert str(caught.value) == (
        f"station {station_id} 'ch1' runs experiment #{busy} 'busy' ({doing}); "
        "you cannot edit it until that experiment ends"
    )
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Station)) == 1
    assert not session.get(Station, station_id).deprecated


def test_an_edit_with_bad_values_changes_nothing(session):
    station_id = lab(session)
    session.commit()
    with pytest.raises(CatalogError, match="^voltage_max: must be above voltage_min"):
        edit(session, station_id, voltage_max=0.0)
    session.rollback()
    assert not session.get(Station, station_id).deprecated
    assert session.scalar(select(func.count()).select_from(Station)) == 1


def test_an_edit_cannot_take_the_name_of_another_current_station(session):
    station_id = lab(session)
    other = create_station(session, name="ch2", unit_name="cu-lab1", **WINDOW)
    session.flush()
    with pytest.raises(DuplicateError, match=f"station 'ch2' on unit 'cu-lab1' .* id {other.id}"):
        edit(session, station_id, name="ch2")


def test_an_edit_that_changes_nothing_and_an_edit_of_a_deprecated_station_are_refused(session):
    station_id = lab(session)
    with pytest.raises(CatalogError, match="nothing to change"):
        edit(session, station_id)
    change = edit(session, station_id, location="rack B")
    with pytest.raises(CatalogError, match="deprecated already; edit its replacement"):
        edit(session, station_id, location="rack C")
    assert change.new_id != station_id


def test_after_an_edit_the_units_announcement_maps_to_the_new_record(session):
    station_id = lab(session)
    change = edit(session, station_id, location="rack B", voltage_max=4.5)
    session.commit()
    connection: Connection = session.connection()
    registration = ingest.register_unit(
        connection, "cu-lab1", "10.0.0.7", [StationSpec("ch1", Window(0.0, 4.5, -5.0, 5.0))]
    )
    assert (registration.ids, registration.replaced) == ({"ch1": change.new_id}, {})


# ---------------------------------------------------------------- deprecate


def test_deprecating_cancels_the_queued_experiments_and_names_them(session):
    station_id = lab(session)
    first = queue(session, station_id, "first")
    second = queue(session, station_id, "second")
    done = queue(session, station_id, "done")
    set_status(session, done, ExperimentStatus.FINISHED)

    change = deprecate_station(session, station_id)

    assert session.get(Station, station_id).deprecated
    for experiment_id in (first, second):
        row = experiment(session, experiment_id)
        assert row.status is ExperimentStatus.CANCELLED
        assert row.status_message == f"cancelled: station {station_id} 'ch1' was deprecated"
    assert experiment(session, done).status is ExperimentStatus.FINISHED
    assert change.describe() == (
        f"Station {station_id} is deprecated. Cancelled: #{first} 'first' (station "
        f"{station_id} 'ch1' was deprecated); #{second} 'second' (station {station_id} 'ch1' "
        "was deprecated)."
    )


def test_deprecating_is_refused_while_the_station_runs_an_experiment(session):
    station_id = lab(session)
    busy = queue(session, station_id, "busy")
    waiting = queue(session, station_id, "waiting")
    set_status(session, busy, ExperimentStatus.RUNNING)
    with pytest.raises(CatalogError, match=f"runs experiment #{busy} 'busy' \\(RUNNING\\)"):
        deprecate_station(session, station_id)
    assert experiment(session, waiting).status is ExperimentStatus.QUEUED


def test_after_a_deprecation_an_announcement_creates_the_station_afresh(session):
    station_id = lab(session)
    deprecate_station(session, station_id)
    session.commit()
    registration = ingest.register_unit(
        session.connection(), "cu-lab1", "", [StationSpec("ch1", Window(0.0, 5.0, -5.0, 5.0))]
    )
    assert registration.ids["ch1"] != station_id


# ---------------------------------------------------------------- remove


def test_a_station_without_experiments_is_removed_for_good(session):
    station_id = lab(session)
    session.commit()
    assert remove_station(session, station_id) == "ch1"
    session.commit()
    assert session.scalar(select(func.count()).select_from(Station)) == 0


@pytest.mark.parametrize("status", [ExperimentStatus.QUEUED, ExperimentStatus.CANCELLED])
def test_a_station_with_any_experiment_is_not_removed(session, status):
    station_id = lab(session)
    used = queue(session, station_id, "used")
    set_status(session, used, status)
    session.commit()
    with pytest.raises(CatalogError) as caught:
        remove_station(session, station_id)
    assert str(caught.value) == (
        f"station {station_id} 'ch1' has experiments (#{used}), so it stays for their "
        "history; deprecate it instead"
    )
    assert session.get(Station, station_id) is not None


def test_removing_an_unknown_station_says_so(session):
    with pytest.raises(NotFoundError, match="there is no station with id 9"):
        remove_station(session, 9)
