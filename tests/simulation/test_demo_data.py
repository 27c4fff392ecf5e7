"""The demo data: a believable lab, seeded once, with numbers that add up.

Every test runs on SQLite and on MariaDB: the demo is seeded once into each for the module.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections import defaultdict
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from datastore import make_engine, make_session_factory, upgrade
from datastore.catalog import create_battery
from datastore.cycles import experiment_cycles
from datastore.models import (
    Alarm,
    Base,
    Battery,
    Channel,
    ComputationalUnit,
    Experiment,
    ExtraValue,
    Measurement,
    Profile,
    Station,
)
from domain.cycles import Retention, retention
from domain.status import ExperimentStatus
from simulation.demo_data import DEMO_UNIT, LONG_RUN_STEPS, seed_demo_data
from tests.services import scratch_mariadb_database

NOW = dt.datetime(2025, 6, 2, 9, 30, tzinfo=dt.UTC)


@pytest.fixture(scope="module", params=["sqlite", "mariadb"])
def seeded_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """A database with the demo lab, seeded once for this module's tests, which only read
    it (seeding takes many seconds): a SQLite file, and a MariaDB database of its own."""
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.db'}"
        else:
            url = stack.enter_context(scratch_mariadb_database("bem_demo"))
        engine = make_engine(url)
        stack.callback(engine.dispose)
        upgrade(engine)
        assert seed_demo_data(make_session_factory(engine), now=NOW) is True
        yield engine


@pytest.fixture
def seeded(seeded_engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(seeded_engine)


def experiments(sessions: sessionmaker[Session], *statuses: ExperimentStatus) -> list[Experiment]:
    with sessions() as session:
        query = select(Experiment).order_by(Experiment.id)
        if statuses:
            query = query.where(Experiment.status.in_(statuses))
        return list(session.scalars(query))


def row_counts(sessions: sessionmaker[Session]) -> dict[str, int]:
    with sessions() as session:
        return {
            table.name: session.scalar(select(func.count()).select_from(table))
            for table in Base.metadata.sorted_tables
        }


def test_the_demo_lab_has_batteries_of_several_technologies(seeded):
    with seeded() as session:
        batteries = list(session.scalars(select(Battery)))
    assert len({battery.technology for battery in batteries}) >= 3
    for battery in batteries:
        assert battery.voltage_min < battery.voltage_max
        assert battery.current_min < 0 < battery.current_max
        assert battery.nominal_capacity_ah and battery.nominal_capacity_ah > 0
        assert battery.details, f"{battery.name} has no technology details"
        assert battery.manufacturer and battery.serial_number


def test_the_demo_unit_has_stations_whose_windows_cover_their_batteries(seeded):
    with seeded() as session:
        stations = list(
            session.scalars(
                select(Station).join(ComputationalUnit).where(ComputationalUnit.name == DEMO_UNIT)
            )
        )
        assert len(stations) >= 4
        for experiment in session.scalars(
            select(Experiment).where(Experiment.station_id.is_not(None))
        ):
            station, battery = experiment.station, experiment.battery
            assert station.voltage_min <= battery.voltage_min
            assert station.voltage_max >= battery.voltage_max, experiment.name


def test_the_demo_has_profiles_and_experiments_in_every_closed_and_queued_status(seeded):
    with seeded() as session:
        assert session.scalar(select(func.count()).select_from(Profile)) >= 5
    statuses = {experiment.status for experiment in experiments(seeded)}
    assert {
        ExperimentStatus.FINISHED,
        ExperimentStatus.ERROR,
        ExperimentStatus.CANCELLED,
        ExperimentStatus.QUEUED,
    } <= statuses
    imported = [experiment for experiment in experiments(seeded) if experiment.imported]
    assert imported and all(experiment.station_id is None for experiment in imported)


def test_finished_experiments_have_thousands_of_samples_and_a_body_temperature(seeded):
    finished = experiments(seeded, ExperimentStatus.FINISHED)
    assert len(finished) >= 5
    with seeded() as session:
        for experiment in finished:
            assert experiment.sample_count >= 1000, experiment.name
            channels = session.execute(
                select(Channel.id, Channel.name, Channel.unit).where(
                    Channel.experiment_id == experiment.id
                )
            ).all()
            assert [(name, unit) for _, name, unit in channels] == [("temp_body", "°C")]
            low, high, count = session.execute(
                select(func.min(ExtraValue.value), func.max(ExtraValue.value), func.count()).where(
                    ExtraValue.channel_id == channels[0].id
                )
            ).one()
            assert count == experiment.sample_count
            assert 15 < low <= high < 60, experiment.name


def test_sample_count_and_times_agree_with_the_stored_samples(seeded):
    with seeded() as session:
        for experiment in experiments(seeded):
            count, first_ts, last_ts, last_seq = session.execute(
                select(
                    func.count(),
                    func.min(Measurement.ts),
                    func.max(Measurement.ts),
                    func.max(Measurement.seq),
                ).where(Measurement.experiment_id == experiment.id)
            ).one()
            assert experiment.sample_count == count, experiment.name
            if count == 0:
                assert experiment.last_sample_at is None
                assert experiment.began_at is None
                continue
            assert last_seq == count - 1
            assert experiment.last_sample_at == pytest.approx(last_ts, abs=1e-3)
            assert experiment.began_at.timestamp() == pytest.approx(first_ts, abs=1e-3)
            assert experiment.finished_at.timestamp() == pytest.approx(last_ts, abs=1e-3)
            if experiment.imported:  # recorded elsewhere, imported here later
                assert experiment.finished_at <= experiment.created_at
            else:
                assert experiment.created_at <= experiment.began_at
            assert NOW - dt.timedelta(days=90) < experiment.began_at < NOW
            assert experiment.finished_at < NOW


def test_runs_on_one_station_never_overlap(seeded):
    by_station: dict[int, list[Experiment]] = defaultdict(list)
    for experiment in experiments(seeded):
        if experiment.station_id is not None and experiment.began_at is not None:
            by_station[experiment.station_id].append(experiment)
    for runs in by_station.values():
        runs.sort(key=lambda experiment: experiment.began_at)
        for earlier, later in zip(runs, runs[1:], strict=False):
            assert earlier.finished_at <= later.began_at


def test_a_battery_runs_one_experiment_at_a_time(seeded):
    by_battery: dict[int, list[Experiment]] = defaultdict(list)
    for experiment in experiments(seeded):
        if experiment.began_at is not None:  # imported runs too: the cell was elsewhere
            by_battery[experiment.battery_id].append(experiment)
    assert max(len(runs) for runs in by_battery.values()) >= 2
    for runs in by_battery.values():
        runs.sort(key=lambda experiment: experiment.began_at)
        for earlier, later in zip(runs, runs[1:], strict=False):
            assert earlier.finished_at <= later.began_at, (earlier.name, later.name)
    active = experiments(seeded, ExperimentStatus.RUNNING, ExperimentStatus.PAUSED)
    queued = experiments(seeded, ExperimentStatus.QUEUED)
    assert queued
    assert not {e.battery_id for e in active} & {e.battery_id for e in queued}


def test_voltages_and_currents_stay_in_each_battery_window(seeded):
    with seeded() as session:
        rows = session.execute(
            select(
                Experiment.name,
                Experiment.status,
                Battery.voltage_min,
                Battery.voltage_max,
                Battery.current_min,
                Battery.current_max,
                func.min(Measurement.voltage),
                func.max(Measurement.voltage),
                func.min(Measurement.current),
                func.max(Measurement.current),
            )
            .join(Battery, Experiment.battery_id == Battery.id)
            .join(Measurement, Measurement.experiment_id == Experiment.id)
            .group_by(Experiment.id, Battery.id)
        ).all()
    assert rows
    for name, status, v_min, v_max, i_min, i_max, low_v, high_v, low_i, high_i in rows:
        # Measurement noise may cross a limit by a hair; a run stopped by a safety alarm
        # crossed the window by the cycler's 1 % alarm margin.
        margin = 0.001 * v_max if status == ExperimentStatus.FINISHED else 0.011 * v_max
        assert v_min - margin <= low_v <= high_v <= v_max + margin, name
        current_margin = 0.001 * max(-i_min, i_max)
        assert i_min - current_margin <= low_i <= high_i <= i_max + current_margin, name


def test_each_full_discharge_delivers_about_the_nominal_capacity(seeded):
    """Ah of every discharge step that runs down to a VOLTAGE limit, against nominal."""
    checked = 0
    with seeded() as session:
        for experiment in experiments(seeded, ExperimentStatus.FINISHED):
            full_discharges = {
                step["step"]
                for step in experiment.steps
                if step["limit"] == "VOLTAGE" and (step["setpoint"] or 0) < 0
            }
            if not full_discharges or len(experiment.steps) > LONG_RUN_STEPS:
                continue  # the cycle-life tests fade by design (see the test below)
            nominal = session.get(Battery, experiment.battery_id).nominal_capacity_ah
            rows = session.execute(
                select(Measurement.ts, Measurement.current, Measurement.instruction)
                .where(Measurement.experiment_id == experiment.id)
                .order_by(Measurement.seq)
            ).all()
            # The current logged with a sample is the one that flowed since the last sample.
            discharged: dict[int, float] = defaultdict(float)
            for previous, sample in zip(rows, rows[1:], strict=False):
                if sample.instruction in full_discharges:
                    discharged[sample.instruction] -= sample.current * (sample.ts - previous.ts)
            assert set(discharged) == full_discharges, experiment.name
            for step, ampere_seconds in discharged.items():
                share = ampere_seconds / 3600 / nominal
                assert 0.85 < share < 1.05, f"{experiment.name}, step {step}: {share:.1%}"
                checked += 1
    assert checked >= 10


def retention_of(sessions: sessionmaker[Session], name: str) -> Retention:
    """The stored cycle table's retention, against the first full cycle."""
    (experiment,) = [e for e in experiments(sessions) if e.name == name]
    kept = retention(experiment_cycles(sessions.kw["bind"], experiment.id))  # type: ignore[arg-type]
    assert kept is not None
    return kept


def test_the_ageing_test_fades_past_80_percent_over_hundreds_of_cycles(seeded):
    ageing = retention_of(seeded, "NMC18650-04 ageing, 400 cycles")
    kept = [percent / 100 for percent in ageing.percent if percent is not None]
    assert len(kept) == 400
    assert 0.70 < kept[-1] < 0.80
    assert ageing.cycles_to_80 is not None and 250 < ageing.cycles_to_80 < 400
    # Fading steadily: each block of 50 cycles holds less than the one before.
    blocks = [sum(kept[i : i + 50]) / 50 for i in range(0, 400, 50)]
    assert blocks == sorted(blocks, reverse=True)


def test_the_electrolyte_study_has_two_groups_of_three_with_their_own_spread(seeded):
    with seeded() as session:
        cells = list(session.scalars(select(Battery).where(Battery.name.like("NMC18650-E%"))))
    groups: dict[str, list[float]] = defaultdict(list)
    for cell in cells:
        assert cell.model == "VC18650-25P"
        kept = retention_of(seeded, f"{cell.name} electrolyte study, 120 cycles").percent
        assert len(kept) == 120 and kept[-1] is not None
        groups[cell.details["electrolyte"]].append(kept[-1])
    assert sorted(len(group) for group in groups.values()) == [3, 3]
    standard, with_vc = (groups[key] for key in sorted(groups))
    assert max(standard) < min(with_vc)  # the additive slows the fade
    assert len(set(standard)) == 3 and len(set(with_vc)) == 3  # each cell its own


def test_a_run_stopped_by_a_safety_alarm_keeps_the_alarm(seeded):
    (failed,) = experiments(seeded, ExperimentStatus.ERROR)
    with seeded() as session:
        alarms = list(session.scalars(select(Alarm).where(Alarm.experiment_id == failed.id)))
    assert [alarm.code for alarm in alarms] == ["UNDER_VOLTAGE"]
    assert failed.status_message == alarms[0].message
    assert alarms[0].ts == pytest.approx(failed.last_sample_at, abs=1e-3)


def test_seeding_again_changes_nothing(seeded):
    before = row_counts(seeded)
    assert seed_demo_data(seeded) is False
    assert row_counts(seeded) == before


def test_a_database_already_in_use_gets_no_demo_data(sessions):
    with sessions.begin() as session:
        create_battery(
            session,
            name="our cell",
            technology="lithium-ion",
            voltage_min=2.5,
            voltage_max=4.2,
            current_min=-5,
            current_max=5,
        )
    assert seed_demo_data(sessions) is False
    counts = row_counts(sessions)
    assert counts["batteries"] == 1
    assert counts["stations"] == counts["profiles"] == counts["experiments"] == 0
