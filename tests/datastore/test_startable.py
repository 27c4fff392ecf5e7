"""Which queued experiments dispatch starts: one per online idle station, and never two at
once on one battery, nor one whose battery is running, paused or being started elsewhere.

Every test runs on SQLite and on MariaDB (the `engine` fixture).
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from config import default_settings
from datastore import catalog, dispatch, ingest
from datastore.models import Experiment
from domain.status import ExperimentStatus

MAX_STEPS = default_settings().profiles.max_steps
NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
ONLINE_SINCE = NOW - dt.timedelta(minutes=1)


class Lab:
    """Batteries "A" and "B", stations "ch1" to "ch3", one profile; ids by name."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        with Session(engine) as session, session.begin():
            self.batteries = {
                name: catalog.create_battery(
                    session, name=name, technology="lithium-ion", voltage_min=2.5,
                    voltage_max=4.2, current_min=-3.0, current_max=3.0, nominal_capacity_ah=2.0,
                ).id
                for name in ("A", "B")
            }  # fmt: skip
            self.stations = {
                name: catalog.create_station(
                    session, name=name, voltage_min=0.0, voltage_max=5.0, current_min=-5.0,
                    current_max=5.0,
                ).id
                for name in ("ch1", "ch2", "ch3")
            }  # fmt: skip
            self.profile = catalog.create_profile(
                session, name="rest", source="WAIT, 60\n", max_steps=MAX_STEPS
            ).id
        self._created = 0

    def queue(self, battery: str, station: str) -> int:
        """Queue an experiment, each one created a minute after the last; its id."""
        with Session(self.engine) as session, session.begin():
            experiment = catalog.queue_experiment(
                session,
                name=f"{battery} on {station}",
                battery_id=self.batteries[battery],
                station_id=self.stations[station],
                profile_id=self.profile,
                max_steps=MAX_STEPS,
            )
            self._created += 1
            experiment.created_at = (
                NOW - dt.timedelta(hours=1) + dt.timedelta(minutes=self._created)
            )
            session.flush()
            return experiment.id

    def heard(self, station: str, state: str = "idle") -> None:
        with self.engine.begin() as connection:
            ingest.record_heartbeat(connection, self.stations[station], NOW, state, None)

    def set_status(self, experiment_id: int, status: ExperimentStatus) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                update(Experiment).where(Experiment.id == experiment_id).values(status=status)
            )

    def startable(self) -> list[tuple[int, int]]:
        """(experiment id, station id) of each start order, by experiment id."""
        with self.engine.begin() as connection:
            orders = dispatch.startable_experiments(connection, ONLINE_SINCE)
        return sorted((order.experiment_id, order.station_id) for order in orders)


@pytest.fixture
def lab(engine: Engine) -> Lab:
    return Lab(engine)


def test_of_two_idle_stations_waiting_for_one_battery_only_the_older_experiment_starts(lab):
    older = lab.queue("A", "ch1")
    lab.queue("A", "ch2")
    lab.heard("ch1")
    lab.heard("ch2")

    assert lab.startable() == [(older, lab.stations["ch1"])]


@pytest.mark.parametrize("status", [ExperimentStatus.RUNNING, ExperimentStatus.PAUSED])
def test_an_experiment_waits_while_its_battery_runs_or_pauses_on_another_station(lab, status):
    active = lab.queue("A", "ch1")
    waiting = lab.queue("A", "ch2")
    lab.set_status(active, status)  # queued behind it before it started, as allowed
    lab.heard("ch1", "running")
    lab.heard("ch2")
    assert lab.startable() == []

    lab.set_status(active, ExperimentStatus.FINISHED)
    lab.heard("ch1")

    assert lab.startable() == [(waiting, lab.stations["ch2"])]


def test_an_experiment_waits_while_its_battery_is_being_started_elsewhere(lab):
    sent = lab.queue("A", "ch1")
    waiting = lab.queue("A", "ch2")
    lab.heard("ch1")
    lab.heard("ch2")
    with lab.engine.begin() as connection:
        assert dispatch.claim_start(connection, sent, NOW, 0)

    assert lab.startable() == []

    lab.set_status(sent, ExperimentStatus.ERROR)  # the cycler refused the start
    assert lab.startable() == [(waiting, lab.stations["ch2"])]


def test_a_station_whose_oldest_experiment_waits_for_its_battery_starts_its_next_one(lab):
    running = lab.queue("A", "ch1")
    lab.queue("A", "ch2")
    other_battery = lab.queue("B", "ch2")
    lab.set_status(running, ExperimentStatus.RUNNING)
    lab.heard("ch1", "running")
    lab.heard("ch2")

    assert lab.startable() == [(other_battery, lab.stations["ch2"])]


def test_in_one_round_a_battery_goes_to_its_oldest_experiment_and_each_station_starts_one(lab):
    first_a = lab.queue("A", "ch1")
    lab.queue("A", "ch2")
    first_b = lab.queue("B", "ch2")
    lab.queue("B", "ch3")
    for station in ("ch1", "ch2", "ch3"):
        lab.heard(station)

    # ch3 waits: battery B goes to ch2, whose own oldest experiment waits for battery A.
    assert lab.startable() == [(first_a, lab.stations["ch1"]), (first_b, lab.stations["ch2"])]


def test_experiments_of_different_batteries_start_on_every_idle_station(lab):
    on_ch1 = lab.queue("A", "ch1")
    on_ch2 = lab.queue("B", "ch2")
    lab.heard("ch1")
    lab.heard("ch2")

    assert lab.startable() == [(on_ch1, lab.stations["ch1"]), (on_ch2, lab.stations["ch2"])]
