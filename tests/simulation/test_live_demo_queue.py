"""What the live demo queues on the stations left idle: a pulse test of its own cell on
each, since a battery runs one experiment at a time. No cyclers, no node: the queueing only.
"""

from __future__ import annotations

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from datastore import catalog, make_session_factory
from datastore.models import Battery, Experiment, Station
from domain.status import ExperimentStatus
from simulation.live_demo import queue_live_experiments


def add_stations(engine: Engine, *names: str, current_max: float = 10.0) -> list[int]:
    with Session(engine) as session, session.begin():
        return [
            catalog.create_station(
                session, name=name, unit_name="demo-unit", voltage_min=0.0, voltage_max=5.0,
                current_min=-current_max, current_max=current_max,
            ).id
            for name in names
        ]  # fmt: skip


def queued(engine: Engine) -> list[tuple[str, str, str, ExperimentStatus]]:
    """(experiment, station, battery, status) of every experiment, by id."""
    with Session(engine) as session:
        rows = session.execute(
            select(Experiment.name, Station.name, Battery.name, Experiment.status)
            .join(Station, Experiment.station_id == Station.id)
            .join(Battery, Experiment.battery_id == Battery.id)
            .order_by(Experiment.id)
        ).all()
    return [tuple(row) for row in rows]


def test_each_idle_station_gets_a_pulse_test_of_its_own_cell(sqlite_engine: Engine) -> None:
    ch1, ch2, ch3 = add_stations(sqlite_engine, "ch1", "ch2", "ch3")
    coarse = add_stations(sqlite_engine, "module", current_max=0.5)

    ids = queue_live_experiments(make_session_factory(sqlite_engine), [ch1, ch2, ch3, *coarse])

    assert len(ids) == 3
    assert queued(sqlite_engine) == [
        (f"Live pulse test on station {ch1}", "ch1", "Live demo NMC cell on ch1", "QUEUED"),
        (f"Live pulse test on station {ch2}", "ch2", "Live demo NMC cell on ch2", "QUEUED"),
        (f"Live pulse test on station {ch3}", "ch3", "Live demo NMC cell on ch3", "QUEUED"),
    ]


def test_a_station_with_an_experiment_gets_none_and_cells_are_reused(sqlite_engine: Engine) -> None:
    ch1, ch2 = add_stations(sqlite_engine, "ch1", "ch2")
    sessions = make_session_factory(sqlite_engine)
    first = queue_live_experiments(sessions, [ch1])
    with sessions.begin() as session:
        session.get(Experiment, first[0]).status = ExperimentStatus.FINISHED

    second = queue_live_experiments(sessions, [ch1, ch2])

    assert len(second) == 2
    assert queue_live_experiments(sessions, [ch1, ch2]) == []
    assert [
        (station, battery, status) for _, station, battery, status in queued(sqlite_engine)
    ] == [
        ("ch1", "Live demo NMC cell on ch1", "FINISHED"),
        ("ch1", "Live demo NMC cell on ch1", "QUEUED"),
        ("ch2", "Live demo NMC cell on ch2", "QUEUED"),
    ]
    with Session(sqlite_engine) as session:
        assert session.scalars(select(Battery.name).order_by(Battery.id)).all() == [
            "Live demo NMC cell on ch1",
            "Live demo NMC cell on ch2",
        ]


def test_a_cell_still_running_on_a_replaced_station_gets_no_second_experiment(
    sqlite_engine: Engine,
) -> None:
    sessions = make_session_factory(sqlite_engine)
    (old,) = add_stations(sqlite_engine, "ch1")
    (running,) = queue_live_experiments(sessions, [old])
    with sessions.begin() as session:
        session.get(Experiment, running).status = ExperimentStatus.RUNNING
        session.get(Station, old).deprecated = True  # its window changed: a new ch1 replaces it
    (new,) = add_stations(sqlite_engine, "ch1")

    assert queue_live_experiments(sessions, [new]) == []
    assert [(station, status) for _, station, _, status in queued(sqlite_engine)] == [
        ("ch1", "RUNNING")
    ]
