"""Editing a stored profile: in place while no experiment uses it, else as a new version
that leaves the used one (and its experiments) as they were; and what the profile pages
read. Every test runs on SQLite and on MariaDB (the `session` fixture).
"""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from config import default_settings
from datastore.catalog import (
    CatalogError,
    NotFoundError,
    create_battery,
    create_profile,
    create_station,
    experiments_using_profile,
    queue_experiment,
    save_profile_edit,
)
from datastore.models import Experiment, Profile
from datastore.profiles import profile_detail, profile_table, station_choices
from domain.profiles import ProfileError

MAX_STEPS = default_settings().profiles.max_steps
CHARGE = "CC, 1, VOLTAGE, 4.1\nCV, 4.1, CURRENT, 0.1\n"
STRONGER = "CC, 2, VOLTAGE, 4.2\nCV, 4.2, CURRENT, 0.1\nWAIT, 60\n"


def _profile(session: Session, source: str = CHARGE, name: str = "charge") -> Profile:
    profile = create_profile(
        session, name=name, source=source, description="first", max_steps=MAX_STEPS
    )
    session.flush()
    return profile


def _use(session: Session, profile: Profile, name: str = "run") -> Experiment:
    battery = create_battery(
        session, name=f"cell for {name}", technology="lithium-ion", voltage_min=2.5,
        voltage_max=4.2, current_min=-5, current_max=5, nominal_capacity_ah=2.0,
    )  # fmt: skip
    station = create_station(
        session, name=f"ch for {name}", voltage_min=0, voltage_max=5, current_min=-10,
        current_max=10,
    )  # fmt: skip
    experiment = queue_experiment(
        session, name=name, battery_id=battery.id, station_id=station.id,
        profile_id=profile.id, max_steps=MAX_STEPS,
    )  # fmt: skip
    session.flush()
    return experiment


def _edit(session: Session, profile_id: int, source: str, name: str = "charge") -> Profile:
    return save_profile_edit(
        session, profile_id, name=name, source=source, description="edited", max_steps=MAX_STEPS
    )


def _count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Profile)) or 0)


def test_a_profile_no_experiment_uses_is_edited_in_place(session) -> None:
    profile = _profile(session)
    saved = _edit(session, profile.id, STRONGER, name="charge 2 A")
    session.commit()
    assert saved.id == profile.id and _count(session) == 1
    stored = session.get(Profile, profile.id, populate_existing=True)
    assert stored is not None
    assert (stored.name, stored.description, stored.source) == ("charge 2 A", "edited", STRONGER)
    # The parsed structure and the envelope follow the text.
    assert (stored.step_count, stored.version, stored.previous_id) == (3, 1, None)
    assert (stored.current_max, stored.voltage_max) == (2.0, 4.2)
    assert [item["mode"] for item in stored.instructions] == ["CC", "CV", "WAIT"]


def test_a_used_profile_is_kept_and_the_edit_becomes_its_next_version(session) -> None:
    profile = _profile(session)
    experiment = _use(session, profile)
    steps_before = list(experiment.steps)
    saved = _edit(session, profile.id, STRONGER)
    session.commit()

    assert saved.id != profile.id and _count(session) == 2
    assert (saved.version, saved.previous_id, saved.origin_id) == (2, profile.id, profile.id)
    assert (saved.source, saved.step_count, saved.current_max) == (STRONGER, 3, 2.0)
    assert experiments_using_profile(session, saved.id) == 0
    old = session.get(Profile, profile.id, populate_existing=True)
    assert old is not None
    assert (old.source, old.description, old.version, old.step_count) == (CHARGE, "first", 1, 2)
    assert old.current_max == 1.0
    # The experiment keeps its profile and the steps it was queued with.
    kept = session.get(Experiment, experiment.id, populate_existing=True)
    assert kept is not None
    assert kept.profile_id == profile.id and kept.steps == steps_before


def test_versions_are_numbered_across_the_profile_and_unused_versions_change_in_place(
    session,
) -> None:
    first = _profile(session)
    _use(session, first)
    second = _edit(session, first.id, STRONGER)
    # v2 is not used yet: editing it changes it in place.
    again = _edit(session, second.id, STRONGER + "WAIT, 30\n")
    assert again.id == second.id and again.version == 2
    # v1 is still used: another edit of it is v3, made from v1.
    third = _edit(session, first.id, "CC, 0.5, TIME, 60\n")
    assert (third.version, third.previous_id, third.origin_id) == (3, first.id, first.id)
    # Once v3 is used, its edit is v4, made from v3, of the same profile.
    _use(session, third, name="second run")
    fourth = _edit(session, third.id, "CC, 0.4, TIME, 60\n")
    assert (fourth.version, fourth.previous_id, fourth.origin_id) == (4, third.id, first.id)
    session.commit()
    assert _count(session) == 4


def test_an_edit_that_changes_nothing_makes_no_version(session) -> None:
    profile = _profile(session)
    _use(session, profile)
    saved = save_profile_edit(
        session, profile.id, name=" charge ", source=CHARGE, description="first",
        max_steps=MAX_STEPS,
    )  # fmt: skip
    assert saved.id == profile.id and _count(session) == 1


def test_an_invalid_edit_changes_nothing(session) -> None:
    profile = _profile(session)
    with pytest.raises(ProfileError) as error:
        _edit(session, profile.id, "CC, 1, VOLTAGE, 4.1\nCV, -4.2, CURRENT, 0.1\n")
    assert str(error.value.problems[0]) == "line 2: CV needs a positive voltage, got -4.2"
    with pytest.raises(CatalogError, match="name: must not be empty"):
        _edit(session, profile.id, STRONGER, name="  ")
    with pytest.raises(NotFoundError, match="there is no profile with id 999"):
        _edit(session, 999, STRONGER)
    session.commit()
    stored = session.get(Profile, profile.id, populate_existing=True)
    assert stored is not None and stored.source == CHARGE and _count(session) == 1


def test_the_profile_pages_read_versions_and_the_experiments_that_use_them(session) -> None:
    first = _profile(session)
    experiment = _use(session, first)
    second = _edit(session, first.id, STRONGER, name="charge 2 A")
    session.commit()

    detail = profile_detail(session, first.id)
    assert detail is not None
    assert [(v.id, v.version) for v in detail.versions] == [(first.id, 1), (second.id, 2)]
    assert detail.previous is None and [v.id for v in detail.newer] == [second.id]
    assert [(use.id, use.name, use.battery, use.station) for use in detail.experiments] == [
        (experiment.id, "run", "cell for run", "ch for run")
    ]
    assert (detail.demand.current_min, detail.demand.current_max) == (-0.1, 1.0)

    newer = profile_detail(session, second.id)
    assert newer is not None and newer.previous is not None
    assert (newer.previous.id, newer.previous.version, newer.experiments) == (first.id, 1, ())
    assert newer.newer == ()
    assert profile_detail(session, 12345) is None and profile_detail(session, 0) is None

    rows = {row["id"]: row for row in profile_table(session)}
    assert (rows[first.id]["version"], rows[first.id]["experiments"]) == (1, 1)
    assert (rows[second.id]["version"], rows[second.id]["experiments"]) == (2, 0)
    assert [choice.label for choice in station_choices(session)] == [
        "ch for run · 0 to 5 V, -10 to 10 A (id 1)"
    ]


def _waiting_for_a_lock(engine: Engine) -> bool:
    """Whether another connection is at the profile's row: reading it, or inserting an
    experiment that refers to it (both wait for the edit's lock)."""
    with engine.connect() as connection:
        waiting = connection.scalar(
            text(
                "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID()"
                " AND (INFO LIKE 'INSERT INTO experiments%' OR INFO LIKE '%FROM profiles%')"
            )
        )
    return bool(waiting)


def test_an_experiment_queued_during_an_edit_gets_the_steps_of_the_saved_text(
    mariadb_engine: Engine,
) -> None:
    # The edit changes the unused profile in place; an experiment queued at that moment
    # must not keep steps of the text the edit replaces while pointing at the new one.
    with Session(mariadb_engine) as setup:
        profile = _profile(setup)
        battery = create_battery(
            setup, name="cell", technology="lithium-ion", voltage_min=2.5, voltage_max=4.2,
            current_min=-5, current_max=5, nominal_capacity_ah=2.0,
        )  # fmt: skip
        station = create_station(
            setup, name="ch", voltage_min=0, voltage_max=5, current_min=-10, current_max=10
        )
        setup.commit()
        profile_id, battery_id, station_id = profile.id, battery.id, station.id
    queued: list[int] = []

    def queue() -> None:
        with Session(mariadb_engine) as other:
            experiment = queue_experiment(
                other, name="run", battery_id=battery_id, station_id=station_id,
                profile_id=profile_id, max_steps=MAX_STEPS,
            )  # fmt: skip
            other.commit()
            queued.append(experiment.id)

    with Session(mariadb_engine) as editing:
        _edit(editing, profile_id, STRONGER)  # in place, not committed yet
        worker = threading.Thread(target=queue)
        worker.start()
        deadline = time.monotonic() + 20
        while not _waiting_for_a_lock(mariadb_engine):
            assert worker.is_alive() and time.monotonic() < deadline, "the queue never waited"
            time.sleep(0.05)
        editing.commit()
    worker.join(timeout=20)
    assert queued, "the experiment was not queued"

    with Session(mariadb_engine) as check:
        experiment = check.get(Experiment, queued[0])
        stored = check.get(Profile, profile_id)
        assert experiment is not None and stored is not None
        assert stored.source == STRONGER
        assert [step["mode"] for step in experiment.steps] == ["CC", "CV", "WAIT"]
