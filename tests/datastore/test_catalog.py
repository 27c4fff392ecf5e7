"""The catalogue: batteries, stations, profiles with their envelope, experiments.

Every test runs on SQLite and on MariaDB (the `session` fixture).
"""

from __future__ import annotations

import random
import time

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from config import default_settings
from datastore.catalog import (
    BatteryDataError,
    CatalogError,
    DuplicateError,
    IncompatibleProfileError,
    NotFoundError,
    battery_rating,
    battery_window,
    cancel_experiment,
    compatible_profiles,
    create_battery,
    create_profile,
    create_station,
    edit_battery,
    get_or_create_computational_unit,
    parsed_profile,
    profile_compatibility,
    queue_experiment,
    station_window,
)
from datastore.models import Battery, ComputationalUnit, Experiment, Profile, Station
from domain.profiles import (
    ProfileError,
    check_compatibility,
    expand_profile,
    parse_profile,
    profile_demand,
)
from domain.status import ExperimentStatus
from domain.window import Window

# The site's cap on expanded profile steps (profiles.max_steps).
MAX_STEPS = default_settings().profiles.max_steps

CELL = {
    "name": "cell 1",
    "technology": "lithium-ion",
    "voltage_min": 2.5,
    "voltage_max": 4.2,
    "current_min": -6.0,
    "current_max": 3.0,
    "nominal_capacity_ah": 3.0,
}
CHANNEL = {
    "name": "ch1",
    "voltage_min": 0.0,
    "voltage_max": 5.0,
    "current_min": -5.0,
    "current_max": 5.0,
}


def battery(session: Session, **changes: object) -> Battery:
    return create_battery(session, **{**CELL, **changes})


def station(session: Session, **changes: object) -> Station:
    return create_station(session, **{**CHANNEL, **changes})


def profile(session: Session, source: str, name: str = "p") -> Profile:
    return create_profile(session, name=name, source=source, max_steps=MAX_STEPS)


# ---------------------------------------------------------------- batteries


def test_a_battery_is_stored_with_its_technology_details(session):
    created = battery(session, details={"chemistry": "NMC"}, serial_number="  SN-1 ")
    session.commit()
    stored = session.get(Battery, created.id)
    assert stored.details == {"chemistry": "NMC"}
    assert stored.serial_number == "SN-1"
    assert battery_rating(stored).capacity_ah == 3.0


def test_a_battery_window_is_read_from_its_record(session):
    assert battery_window(battery(session)) == Window(2.5, 4.2, -6.0, 3.0)


def test_a_duplicate_name_is_refused_whatever_its_letter_case(session):
    first = battery(session, manufacturer="ACME", model="X1", serial_number="42")
    with pytest.raises(DuplicateError) as caught:
        battery(session, name="CELL 1", serial_number="43")
    assert str(caught.value) == (
        f"name: battery {first.id} is called 'cell 1' already; names are unique, "
        "whatever the letter case"
    )
    assert caught.value.problems == {"name": str(caught.value).partition(": ")[2]}


def test_a_duplicate_serial_number_is_refused_whatever_its_letter_case(session):
    first = battery(session, serial_number="sn-42")
    with pytest.raises(DuplicateError) as caught:
        battery(session, name="cell 2", serial_number=" SN-42 ")
    assert str(caught.value) == (
        f"serial: battery {first.id} 'cell 1' has serial number 'sn-42' already"
    )


def test_several_batteries_may_have_no_serial_number(session):
    battery(session, name="cell 1")
    battery(session, name="cell 2")
    assert session.scalar(select(func.count()).select_from(Battery)) == 2


def test_every_problem_is_refused_at_once_each_under_its_field(session):
    battery(session, serial_number="42")
    with pytest.raises(BatteryDataError) as caught:
        battery(
            session,
            name="Cell 1",
            serial_number="42",
            voltage_max=2.0,
            current_min=1.0,
            nominal_capacity_ah=200_000.0,
            details={"chemistry": "XYZ"},
        )
    assert list(caught.value.problems) == [
        "name", "serial", "voltage_max", "current_min", "capacity", "chemistry",
    ]  # fmt: skip
    # One line for the command line, led by the first field.
    assert str(caught.value).startswith("name: battery 1 is called 'cell 1' already")
    assert "; capacity: at most 100,000 Ah, got 200,000" in str(caught.value)
    assert session.scalar(select(func.count()).select_from(Battery)) == 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": "  "}, "name: must not be empty"),
        ({"name": "x" * 101}, "name: at most 100 characters, got 101"),
        ({"technology": "steam"}, "technology: expected one of"),
        ({"details": {"chemistry": "XYZ"}}, "chemistry: expected one of NMC"),
        ({"voltage_max": 2.0}, "voltage_max: must be above voltage_min"),
        ({"current_min": 1.0}, "current_min: the discharge limit must be 0 A or negative"),
        ({"voltage_min": float("nan")}, "voltage_min: expected a finite number"),
        ({"nominal_capacity_ah": 0.0}, "capacity: expected a positive number of Ah, got 0.0"),
        ({"nominal_capacity_ah": float("inf")}, "capacity: expected a positive number of Ah"),
        ({"cells_in_series": 0}, "cells: expected a whole number of at least 1, got 0"),
        (
            {"cell_voltage_min": 3.0, "cell_voltage_max": 2.0},
            "cell_voltage_max: must be above cell_voltage_min",
        ),
        ({"voltage_max": 2500.0}, "voltage_max: at most 2,000 V, got 2,500"),
        ({"current_min": -20_000.0}, "current_min: within ±10,000 A, got -20,000"),
        ({"nominal_capacity_ah": 1e6}, "capacity: at most 100,000 Ah, got 1,000,000"),
        ({"cells_in_series": 1001}, "cells: at most 1,000 cells in series, got 1,001"),
        ({"cell_voltage_max": 12.0}, "cell_voltage_max: at most 10 V, got 12"),
        (
            {"cell_voltage_min": 2.6},
            "cell_voltage_min: 1 × 2.6 V = 2.6 V is above the pack's voltage_min (2.5 V)",
        ),
        (
            {"cells_in_series": 6, "voltage_max": 26.0, "cell_voltage_max": 4.2},
            "cell_voltage_max: 6 × 4.2 V = 25.2 V is below the pack's voltage_max (26 V)",
        ),
        ({"description": "x" * 2001}, "description: at most 2,000 characters, got 2,001"),
    ],
)
def test_invalid_battery_data_is_refused_naming_the_field(session, changes, message):
    with pytest.raises(CatalogError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        battery(session, **changes)
    assert session.scalar(select(func.count()).select_from(Battery)) == 0


def test_a_pack_window_within_its_cells_window_is_accepted(session):
    pack = battery(
        session, name="AGM", technology="lead-acid", cells_in_series=6, voltage_min=10.5,
        voltage_max=14.7, cell_voltage_min=1.75, cell_voltage_max=2.45,
    )  # fmt: skip
    assert (pack.cell_voltage_min, pack.cell_voltage_max) == (1.75, 2.45)


def test_an_edit_changes_the_descriptive_fields_and_keeps_the_ratings(session):
    cell = battery(session, serial_number="42", details={"chemistry": "NMC"})
    edited = edit_battery(
        session, cell.id, name=" Cell One ", description="spare", manufacturer="ACME",
        model="X1", serial_number="42", details={"chemistry": "LFP", "electrolyte": "1 M LiPF6"},
    )  # fmt: skip
    session.commit()
    stored = session.get(Battery, cell.id)
    assert (stored.name, stored.description, stored.manufacturer, stored.serial_number) == (
        "Cell One", "spare", "ACME", "42",
    )  # fmt: skip
    assert stored.details == {"chemistry": "LFP", "electrolyte": "1 M LiPF6"}
    assert battery_window(edited) == Window(2.5, 4.2, -6.0, 3.0)


def test_an_edit_may_not_take_another_batterys_name_or_serial(session):
    battery(session, name="first", serial_number="A1")
    second = battery(session, name="second", serial_number="B2")
    session.commit()
    with pytest.raises(DuplicateError) as caught:
        edit_battery(session, second.id, name="FIRST", serial_number="a1", details={"x": 1})
    assert caught.value.problems == {
        "name": "battery 1 is called 'first' already; names are unique, whatever the letter case",
        "serial": "battery 1 'first' has serial number 'A1' already",
        "x": "not a field of lithium-ion batteries",
    }
    session.rollback()
    assert session.get(Battery, second.id).name == "second"


def test_editing_an_unknown_battery_is_refused(session):
    with pytest.raises(NotFoundError, match="there is no battery with id 7"):
        edit_battery(session, 7, name="x")


# ---------------------------------------------------------------- units and stations


def test_a_station_names_its_unit_which_is_created_once(session):
    first = station(session, name="ch1", unit_name="cu-lab1", location="rack A")
    second = station(session, name="ch2", unit_name="cu-lab1")
    assert first.computational_unit_id == second.computational_unit_id is not None
    assert session.scalar(select(func.count()).select_from(ComputationalUnit)) == 1
    assert get_or_create_computational_unit(session, "cu-lab1").id == first.computational_unit_id
    assert station_window(first).current_max == 5.0


def test_a_unit_cannot_have_two_current_stations_of_one_name(session):
    first = station(session, unit_name="cu-lab1")
    with pytest.raises(
        DuplicateError, match=f"station 'ch1' on unit 'cu-lab1' exists already with id {first.id}"
    ):
        station(session, unit_name="cu-lab1")
    station(session, unit_name="cu-lab2")  # another unit is fine


def test_a_deprecated_station_does_not_block_its_name(session):
    old = station(session, unit_name="cu-lab1")
    old.deprecated = True
    session.flush()
    station(session, unit_name="cu-lab1")


def test_an_invalid_station_window_is_refused(session):
    with pytest.raises(CatalogError, match="current_max: the charge limit must be 0 A or positive"):
        station(session, current_max=-1.0)


# ---------------------------------------------------------------- profiles


def test_a_profile_is_stored_with_its_structure_and_envelope(session):
    source = "# cycle\nCC, 0.5C, VOLTAGE, 4.2\nREPEAT 3\nCV, 4.2, CURRENT, 0.1\nCP, -6, VOLTAGE, 3\nEND\n"
    created = create_profile(
        session, name="cycle", source=source, description="three cycles", max_steps=MAX_STEPS
    )
    session.commit()
    stored = session.get(Profile, created.id)
    assert stored.source == source
    assert stored.step_count == 7
    assert parsed_profile(stored) == parse_profile(source)
    assert (stored.voltage_min, stored.voltage_max) == (3.0, 4.2)
    assert (stored.current_min, stored.current_max) == (-0.1, 0.1)
    assert (stored.c_rate_min, stored.c_rate_max) == (0.5, 0.5)
    assert (stored.power_min, stored.power_max) == (-6.0, -6.0)


def test_an_invalid_profile_is_not_stored(session):
    with pytest.raises(ProfileError):
        profile(session, "CV, -4.2, TIME, 1")
    assert session.scalar(select(func.count()).select_from(Profile)) == 0


def test_the_step_cap_applies_when_storing(session):
    with pytest.raises(ProfileError, match="at most 10 are allowed"):
        create_profile(session, name="long", source="REPEAT 11\nWAIT, 1\nEND", max_steps=10)


# ---------------------------------------------------------------- compatible profiles


def test_compatible_profiles_are_exactly_those_that_fit(session):
    cell = battery(session)
    channel = station(session)
    fits = [
        profile(session, "WAIT, 60", "rest"),
        profile(session, "CC, 3, VOLTAGE, 4.2\nCC, -5, VOLTAGE, 2.5", "on the bounds"),
        profile(session, "CC, 1C, VOLTAGE, 4.2\nCV, 4.2, CURRENT, 0.05C", "c-rate"),
        profile(session, "CP, 7.5, TIME, 1\nCP, -12.5, TIME, 1", "power on the bounds"),
    ]
    profile(session, "CC, 3.5, TIME, 1", "charge over the battery")
    profile(session, "CC, -5.5, TIME, 1", "discharge over the station")
    profile(session, "CV, 4.3, TIME, 1", "voltage over")
    profile(session, "CC, -1, VOLTAGE, 2.4", "voltage under")
    profile(session, "CC, 1.1C, TIME, 1", "c-rate over")
    profile(session, "CP, 7.6, TIME, 1", "power over")
    profile(session, "CP, -12.6, TIME, 1", "discharge power over")
    found = compatible_profiles(session, cell.id, channel.id)
    assert [row["name"] for row in found] == [p.name for p in fits]
    assert set(found[0]) >= {"id", "name", "description", "step_count", "voltage_min"}


def test_c_rate_profiles_do_not_fit_a_battery_without_capacity(session):
    cell = battery(session, nominal_capacity_ah=None)
    channel = station(session)
    profile(session, "CC, 0.1C, TIME, 1", "c-rate")
    kept = profile(session, "CC, 0.1, TIME, 1", "absolute")
    assert [row["id"] for row in compatible_profiles(session, cell.id, channel.id)] == [kept.id]


def test_cp_profiles_do_not_fit_a_battery_that_may_reach_zero_volts(session):
    cell = battery(session, voltage_min=0.0)
    channel = station(session)
    profile(session, "CP, 0.01, TIME, 1", "charge power")
    profile(session, "CP, -0.01, TIME, 1", "discharge power")
    kept = profile(session, "CC, 1, TIME, 1", "current")
    assert [row["id"] for row in compatible_profiles(session, cell.id, channel.id)] == [kept.id]


def test_no_profile_fits_a_battery_and_station_that_do_not_overlap(session):
    cell = battery(session)
    channel = station(session, voltage_max=2.0)
    profile(session, "WAIT, 1")
    assert compatible_profiles(session, cell.id, channel.id) == []


def test_compatible_profiles_for_unknown_ids_say_which_is_missing(session):
    cell = battery(session)
    with pytest.raises(NotFoundError, match="there is no station with id 999"):
        compatible_profiles(session, cell.id, 999)
    with pytest.raises(NotFoundError, match="there is no battery with id 999"):
        compatible_profiles(session, 999, 1)


def _random_profile_text(rng: random.Random) -> str:
    # Values on and around the bounds of the windows below, where rounding would show.
    currents = [-12.0, -6.0, -5.0, -4.0, -3.0, -1.0, 0.3, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 0.1 + 0.2]
    voltages = [0.5, 2.0, 2.5, 2.7, 3.0, 4.2, 4.25, 5.0, 0.1 + 0.2]
    c_rates = [-3.0, -2.0, -1.0, -1 / 3, 0.05, 0.5, 1.0, 5 / 3, 2.0]
    powers = [-30.0, -12.5, -10.0, -1.0, 1.0, 7.5, 10.0, 12.6]
    lines = []
    for _ in range(rng.randint(1, 4)):
        kind = rng.choice(["CC", "CCC", "CV", "CVC", "CP", "WAIT"])
        if kind == "CC":
            lines.append(f"CC, {rng.choice(currents)!r}, VOLTAGE, {rng.choice(voltages)!r}")
        elif kind == "CCC":
            lines.append(f"CC, {rng.choice(c_rates)!r}C, TIME, 1")
        elif kind == "CV":
            lines.append(f"CV, {rng.choice(voltages)!r}, CURRENT, {abs(rng.choice(currents))!r}")
        elif kind == "CVC":
            lines.append(f"CV, {rng.choice(voltages)!r}, CURRENT, {abs(rng.choice(c_rates))!r}C")
        elif kind == "CP":
            lines.append(f"CP, {rng.choice(powers)!r}, VOLTAGE, {rng.choice(voltages)!r}")
        else:
            lines.append("WAIT, 1")
    return "\n".join(lines)


def test_the_database_and_python_verdicts_agree(session):
    rng = random.Random(20240611)
    for number in range(250):
        profile(session, _random_profile_text(rng), name=f"random {number}")
    batteries = [
        battery(session),
        battery(session, name="no capacity", nominal_capacity_ah=None),
        battery(session, name="zero volts", voltage_min=0.0, current_min=-12.0, current_max=6.0),
        battery(session, name="third", nominal_capacity_ah=3.0, current_max=5.0, current_min=-5.0),
        battery(session, name="tenth", nominal_capacity_ah=0.1 + 0.2, voltage_max=4.25),
        battery(
            session,
            name="big",
            voltage_min=2.0,
            voltage_max=5.0,
            current_min=-12.0,
            current_max=12.0,
        ),
    ]
    stations = [
        station(session),
        station(session, name="wide", voltage_max=10.0, current_min=-20.0, current_max=20.0),
        station(
            session,
            name="narrow",
            voltage_min=3.0,
            voltage_max=4.2,
            current_min=-1.0,
            current_max=0.1 + 0.2,
        ),
        station(session, name="charge only", current_min=0.0, current_max=4.0),
        station(session, name="low", voltage_max=2.0),
    ]
    session.commit()
    stored = session.scalars(select(Profile)).all()
    agreeing = 0
    for cell in batteries:
        for channel in stations:
            from_sql = {row["id"] for row in compatible_profiles(session, cell.id, channel.id)}
            from_python = {
                p.id
                for p in stored
                if check_compatibility(
                    parsed_profile(p), battery_rating(cell), station_window(channel)
                ).fits
            }
            assert from_sql == from_python, (cell.name, channel.name)
            agreeing += len(from_sql)
    assert agreeing > 50  # the data really exercises both verdicts


def test_compatible_profiles_is_fast_with_thousands_of_profiles(session):
    rng = random.Random(7)
    rows = []
    for number in range(5000):
        demand = profile_demand(parse_profile(_random_profile_text(rng)))
        rows.append(
            {
                "name": f"bulk {number}",
                "description": "",
                "source": "WAIT, 1",
                "instructions": [],
                "step_count": 1,
                **demand.as_columns(),
            }
        )
    session.execute(insert(Profile), rows)
    cell = battery(session)
    channel = station(session)
    session.commit()
    started = time.perf_counter()
    found = compatible_profiles(session, cell.id, channel.id)
    elapsed = time.perf_counter() - started
    assert 0 < len(found) < 5000
    assert elapsed < 0.5, f"{elapsed:.3f} s for 5000 profiles"


def test_profile_compatibility_gives_the_reasons(session):
    cell = battery(session)
    channel = station(session, current_max=2.0)
    stored = profile(session, "CC, 1C, TIME, 1")
    verdict = profile_compatibility(session, stored.id, cell.id, channel.id)
    assert verdict.problems == ("needs 3.0 A charge; the station allows 2.0 A (1.0 A over)",)


# ---------------------------------------------------------------- experiments


def test_queueing_expands_the_steps_against_the_battery_capacity(session):
    cell = battery(session, nominal_capacity_ah=2.0)
    channel = station(session)
    stored = profile(session, "REPEAT 2\nCC, 1C, VOLTAGE, 4.2\nCV, 4.2, CURRENT, 0.05C\nEND")
    experiment = queue_experiment(
        session,
        name="first",
        battery_id=cell.id,
        station_id=channel.id,
        profile_id=stored.id,
        description="why",
        max_steps=MAX_STEPS,
    )
    session.commit()
    queued = session.get(Experiment, experiment.id)
    assert queued.status is ExperimentStatus.QUEUED
    assert (queued.battery_id, queued.station_id, queued.profile_id) == (
        cell.id,
        channel.id,
        stored.id,
    )
    assert queued.created_at is not None and queued.finished_at is None
    assert [(s["step"], s["cycle"], s["mode"], s["setpoint"]) for s in queued.steps] == [
        (1, 1, "CC", 2.0),
        (2, 1, "CV", 4.2),
        (3, 2, "CC", 2.0),
        (4, 2, "CV", 4.2),
    ]
    assert queued.steps[1]["limit_value"] == pytest.approx(0.1)


def test_queued_steps_are_stored_as_the_json_of_the_expanded_steps(session):
    source = "REPEAT 2\nCC, 1C, VOLTAGE, 4.2\nWAIT, 60\nEND"
    experiment = queue_experiment(
        session,
        name="stored",
        battery_id=battery(session).id,
        station_id=station(session).id,
        profile_id=profile(session, source).id,
        max_steps=MAX_STEPS,
    )
    session.commit()
    expected = [step.to_json() for step in expand_profile(parse_profile(source), 3.0)]
    assert session.get(Experiment, experiment.id).steps == expected


def test_an_incompatible_profile_is_not_queued(session):
    cell = battery(session)
    channel = station(session, current_max=2.0)
    stored = profile(session, "CC, 1C, TIME, 1", name="fast")
    with pytest.raises(IncompatibleProfileError) as caught:
        queue_experiment(
            session,
            name="e",
            battery_id=cell.id,
            station_id=channel.id,
            profile_id=stored.id,
            max_steps=MAX_STEPS,
        )
    assert str(caught.value) == (
        "profile 'fast' does not fit: needs 3.0 A charge; the station allows 2.0 A (1.0 A over)"
    )
    assert session.scalar(select(func.count()).select_from(Experiment)) == 0


def test_a_c_rate_profile_is_not_queued_on_a_battery_without_capacity(session):
    cell = battery(session, nominal_capacity_ah=None)
    channel = station(session)
    stored = profile(session, "CC, 0.1C, TIME, 1")
    with pytest.raises(IncompatibleProfileError, match="no nominal capacity"):
        queue_experiment(
            session,
            name="e",
            battery_id=cell.id,
            station_id=channel.id,
            profile_id=stored.id,
            max_steps=MAX_STEPS,
        )


def test_a_deprecated_station_takes_no_experiment(session):
    cell = battery(session)
    channel = station(session)
    channel.deprecated = True
    stored = profile(session, "WAIT, 1")
    with pytest.raises(CatalogError, match=f"station {channel.id} is deprecated"):
        queue_experiment(
            session,
            name="e",
            battery_id=cell.id,
            station_id=channel.id,
            profile_id=stored.id,
            max_steps=MAX_STEPS,
        )


def test_queueing_with_unknown_ids_says_which_is_missing(session):
    cell = battery(session)
    channel = station(session)
    with pytest.raises(NotFoundError, match="there is no profile with id 404"):
        queue_experiment(
            session,
            name="e",
            battery_id=cell.id,
            station_id=channel.id,
            profile_id=404,
            max_steps=MAX_STEPS,
        )


def test_an_experiment_needs_a_name(session):
    with pytest.raises(CatalogError, match="name: must not be empty"):
        queue_experiment(
            session, name=" ", battery_id=1, station_id=1, profile_id=1, max_steps=MAX_STEPS
        )


def _queued(session: Session) -> Experiment:
    cell = battery(session)
    channel = station(session)
    stored = profile(session, "WAIT, 1")
    return queue_experiment(
        session,
        name="e",
        battery_id=cell.id,
        station_id=channel.id,
        profile_id=stored.id,
        max_steps=MAX_STEPS,
    )


def test_a_queued_experiment_can_be_cancelled(session):
    experiment = _queued(session)
    session.commit()
    cancelled = cancel_experiment(session, experiment.id)
    session.commit()
    assert cancelled.status is ExperimentStatus.CANCELLED
    assert cancelled.finished_at is not None
    session.expire_all()
    assert session.get(Experiment, experiment.id).status is ExperimentStatus.CANCELLED


@pytest.mark.parametrize(
    "status", [s for s in ExperimentStatus if s is not ExperimentStatus.QUEUED]
)
def test_only_queued_experiments_can_be_cancelled(session, status):
    experiment = _queued(session)
    experiment.status = status
    session.commit()
    with pytest.raises(
        CatalogError,
        match=f"experiment {experiment.id} is {status}; only QUEUED experiments can be cancelled",
    ):
        cancel_experiment(session, experiment.id)
    session.rollback()
    assert session.get(Experiment, experiment.id).status is status


def test_cancelling_an_unknown_experiment_says_so(session):
    with pytest.raises(NotFoundError, match="there is no experiment with id 5"):
        cancel_experiment(session, 5)


# ---------------------------------------------------------------- one battery, one experiment


def _queue_on(session: Session, cell: Battery, channel: Station, name: str) -> Experiment:
    stored = session.scalar(select(Profile).where(Profile.name == "p")) or profile(
        session, "WAIT, 1"
    )
    return queue_experiment(
        session,
        name=name,
        battery_id=cell.id,
        station_id=channel.id,
        profile_id=stored.id,
        max_steps=MAX_STEPS,
    )


@pytest.mark.parametrize("status", [ExperimentStatus.RUNNING, ExperimentStatus.PAUSED])
def test_a_battery_that_is_running_or_paused_takes_no_new_experiment(session, status):
    cell = battery(session)
    first, second = station(session, name="ch1"), station(session, name="ch2")
    running = _queue_on(session, cell, first, "ageing")
    running.status = status
    session.commit()
    with pytest.raises(
        CatalogError,
        match=(
            f"^battery 'cell 1' is busy: experiment {running.id} 'ageing' is {status} on "
            "station 'ch1'; queue this one after it ends$"
        ),
    ):
        _queue_on(session, cell, second, "check-up")
    session.rollback()
    assert [(e.name, e.status) for e in session.scalars(select(Experiment))] == [("ageing", status)]


def test_an_experiment_may_wait_behind_a_queued_one_of_its_battery(session):
    cell = battery(session)
    first, second = station(session, name="ch1"), station(session, name="ch2")
    _queue_on(session, cell, first, "ageing")
    _queue_on(session, cell, second, "check-up")
    session.commit()
    rows = session.execute(select(Experiment.name, Experiment.status).order_by(Experiment.id))
    assert [tuple(row) for row in rows] == [
        ("ageing", ExperimentStatus.QUEUED),
        ("check-up", ExperimentStatus.QUEUED),
    ]


@pytest.mark.parametrize(
    "status", [ExperimentStatus.FINISHED, ExperimentStatus.ERROR, ExperimentStatus.CANCELLED]
)
def test_a_battery_whose_experiments_ended_takes_a_new_one(session, status):
    cell = battery(session)
    channel = station(session)
    ended = _queue_on(session, cell, channel, "ageing")
    ended.status = status
    session.commit()
    again = _queue_on(session, cell, channel, "ageing, part 2")
    session.commit()
    assert again.status is ExperimentStatus.QUEUED


def test_another_battery_is_not_busy_because_one_is(session):
    busy, free = battery(session), battery(session, name="cell 2")
    first, second = station(session, name="ch1"), station(session, name="ch2")
    _queue_on(session, busy, first, "ageing").status = ExperimentStatus.RUNNING
    session.commit()
    queued = _queue_on(session, free, second, "check-up")
    session.commit()
    assert (queued.battery_id, queued.status) == (free.id, ExperimentStatus.QUEUED)


# ---------------------------------------------------------------- start command size


def test_a_profile_whose_start_command_is_too_large_is_refused_on_create_and_edit(session):
    from datastore.catalog import save_profile_edit as _save_edit
    from domain.profiles import ProfileError

    big = "REPEAT 15000\nCC, 0.5C, TIME, 1\nWAIT, 1\nEND\n"
    with pytest.raises(ProfileError, match="a cycler accepts at most 4.0 MB"):
        create_profile(session, name="big", source=big, max_steps=100_000)
    small = create_profile(session, name="small", source="WAIT, 1\n", max_steps=100_000)
    with pytest.raises(ProfileError, match="this profile expands to 30,000 steps"):
        _save_edit(session, small.id, name="small", source=big, max_steps=100_000)
    # A site whose cyclers accept more may allow it.
    create_profile(session, name="big", source=big, max_steps=100_000, max_start_bytes=10_000_000)
