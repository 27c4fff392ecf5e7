"""What the battery pages read (`datastore.batteries`); every test runs on SQLite and on
MariaDB (the `session` fixture)."""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.orm import Session

from config import default_settings
from datastore.batteries import battery_experiments
from datastore.catalog import create_battery, create_profile, create_station, queue_experiment
from domain.status import ExperimentStatus

MAX_STEPS = default_settings().profiles.max_steps


def test_a_batterys_experiments_are_listed_newest_first_without_their_steps(
    session: Session,
) -> None:
    battery = create_battery(
        session, name="cell", technology="lithium-ion", voltage_min=2.5, voltage_max=4.2,
        current_min=-5, current_max=5, nominal_capacity_ah=2.0,
    )  # fmt: skip
    station = create_station(
        session, name="ch", voltage_min=0, voltage_max=5, current_min=-10, current_max=10
    )
    # A long profile: each experiment's expanded steps are large, and the list needs none.
    profile = create_profile(
        session, name="long", source="REPEAT 500\nCC, 1, TIME, 5\nWAIT, 5\nEND\n",
        max_steps=MAX_STEPS,
    )  # fmt: skip
    made = [
        queue_experiment(
            session, name=f"run {n}", battery_id=battery.id, station_id=station.id,
            profile_id=profile.id, max_steps=MAX_STEPS,
        ).id
        for n in range(3)
    ]  # fmt: skip
    session.commit()
    session.expunge_all()

    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    bind = session.get_bind()
    event.listen(bind, "before_cursor_execute", seen)
    try:
        listed = battery_experiments(session, battery.id)
    finally:
        event.remove(bind, "before_cursor_execute", seen)

    assert [e.id for e in listed] == made[::-1]
    assert [(e.name, e.status, e.station) for e in listed][0] == (
        "run 2",
        ExperimentStatus.QUEUED,
        "ch",
    )
    assert statements and not any("steps" in statement for statement in statements)
