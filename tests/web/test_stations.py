"""The stations page: units and their stations; create (messages beside the fields), edit,
deprecate and remove. The form's Save is tested directly; a few flows in the browser."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from dash.testing.wait import until
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from config import default_settings
from datastore import catalog
from datastore.models import ComputationalUnit, Experiment, Station
from datastore.stations import StationRow, station_board
from domain.liveness import Liveness
from domain.status import ExperimentStatus
from pages.stations import ids
from pages.stations.board import board, window_text
from pages.stations.form import submit
from tests.web.lab_data import engine_of

MAX_STEPS = default_settings().profiles.max_steps
FORM = {
    "name": "ch1",
    "location": "rack A",
    "unit": "cu-lab1",
    "voltage_min": 0,
    "voltage_max": 5,
    "current_min": -5,
    "current_max": 5,
}


def add_station(engine: Engine, name: str = "ch1", unit: str | None = "cu-lab1") -> int:
    with Session(engine) as session, session.begin():
        station = catalog.create_station(
            session, name=name, unit_name=unit, location="rack A", voltage_min=0,
            voltage_max=5, current_min=-5, current_max=5,
        )  # fmt: skip
        session.flush()
        return station.id


def add_queued(engine: Engine, station_id: int, name: str) -> int:
    with Session(engine) as session, session.begin():
        battery = catalog.create_battery(
            session, name=f"cell for {name}", technology="lithium-ion", voltage_min=2.5,
            voltage_max=4.2, current_min=-5, current_max=5, nominal_capacity_ah=2.0,
        )  # fmt: skip
        profile = catalog.create_profile(
            session, name="gentle", source="CC, 0.5, VOLTAGE, 4.1\n", max_steps=MAX_STEPS
        )
        experiment = catalog.queue_experiment(
            session, name=name, battery_id=battery.id, station_id=station_id,
            profile_id=profile.id, max_steps=MAX_STEPS,
        )  # fmt: skip
        session.flush()
        return experiment.id


# ---------------------------------------------------------------- Save, called directly


def test_save_puts_each_problem_beside_its_field_and_stores_nothing(sqlite_engine):
    with Session(sqlite_engine) as session:
        outcome = submit(session, None, {**FORM, "name": " ", "voltage_max": None})
        assert outcome.problems == {
            "voltage_max": "required: a number of V",
            "name": "required: the station's name",
        }
        outcome = submit(session, None, {**FORM, "current_min": 2})
        assert list(outcome.problems) == ["current_min"]
        assert "discharge limit must be 0 A or negative" in outcome.problems["current_min"]
        assert not outcome.saved
        assert session.scalars(select(Station)).all() == []


def test_save_creates_a_station_on_a_new_unit_and_refuses_a_duplicate_beside_the_name(
    sqlite_engine,
):
    with Session(sqlite_engine) as session:
        outcome = submit(session, None, FORM)
        assert outcome.message == "Station 1 'ch1' created on unit 'cu-lab1'."
        assert session.scalars(select(ComputationalUnit.name)).all() == ["cu-lab1"]
        again = submit(session, None, FORM)
        assert again.problems == {
            "name": "station 'ch1' on unit 'cu-lab1' exists already with id 1"
        }
        too_long = submit(session, None, {**FORM, "name": "ch2", "unit": "u" * 101})
        assert too_long.problems == {"unit": "at most 100 characters, got 101"}


def test_save_of_an_edit_says_what_became_of_the_queue(sqlite_engine):
    station_id = add_station(sqlite_engine)
    queued = add_queued(sqlite_engine, station_id, "waiting")
    with Session(sqlite_engine) as session, session.begin():
        outcome = submit(session, station_id, {**FORM, "location": "rack B"})
    assert outcome.saved
    assert outcome.message == (
        f"Station {station_id} is deprecated and kept for its history; station 2 takes the "
        f"edited values. Moved to station 2: #{queued} 'waiting'."
    )


def test_save_of_an_edit_while_the_station_runs_gives_the_reason(sqlite_engine):
    station_id = add_station(sqlite_engine)
    running = add_queued(sqlite_engine, station_id, "busy")
    with Session(sqlite_engine) as session, session.begin():
        session.execute(update(Experiment).values(status=ExperimentStatus.RUNNING))
    with Session(sqlite_engine) as session:
        outcome = submit(session, station_id, {**FORM, "location": "rack B"})
    assert outcome.problems == {}
    assert outcome.error == (
        f"station {station_id} 'ch1' runs experiment #{running} 'busy' (RUNNING); you "
        "cannot edit it until that experiment ends"
    )


def test_the_board_shows_the_window_with_units_and_the_unit_heartbeat_in_utc(sqlite_engine):
    station_id = add_station(sqlite_engine)
    heard = dt.datetime(2026, 3, 4, 5, 6, 7, tzinfo=dt.UTC)
    with Session(sqlite_engine) as session, session.begin():
        session.execute(update(ComputationalUnit).values(last_heartbeat=heard, host="10.0.0.7"))
        units = station_board(session)
    text = str(board(units, heard + dt.timedelta(seconds=5), 15.0))
    assert "last heartbeat 2026-03-04 05:06:07 UTC" in text
    assert "host 10.0.0.7" in text
    assert Liveness.ONLINE.value in text
    row: StationRow = units[0].stations[0]
    assert row.id == station_id
    assert window_text(row) == "0.00 V – 5.00 V, −5.00 A – 5.00 A"


# ---------------------------------------------------------------- in the browser


def open_page(browser: Any, app: Any) -> None:
    browser.start_server(app)
    browser.wait_for_page(f"{browser.server_url}/stations", timeout=10)
    browser.wait_for_text_to_equal("h2", "Stations", timeout=10)


def type_into(browser: Any, field: str, value: str) -> None:
    element = browser.find_element(f"#{ids.FIELD[field]}")
    element.clear()
    element.send_keys(value)


@pytest.mark.browser
def test_creating_a_station_shows_the_error_beside_the_field_then_saves(browser, app_factory):
    app = app_factory()
    open_page(browser, app)
    browser.find_element(f"#{ids.NEW}").click()
    browser.wait_for_element(f"#{ids.FIELD['name']}", timeout=10)
    for field, value in {**FORM, "voltage_max": "-1"}.items():
        type_into(browser, field, str(value))
    browser.find_element(f"#{ids.SAVE}").click()
    browser.wait_for_contains_text(
        f"#{ids.FEEDBACK['voltage_max']}", "must be above voltage_min (0.0 V)", timeout=10
    )
    assert "is-invalid" in browser.find_element(f"#{ids.FIELD['voltage_max']}").get_attribute(
        "class"
    )
    with Session(engine_of(app)) as session:
        assert session.scalars(select(Station)).all() == []

    type_into(browser, "voltage_max", "4.5")
    browser.find_element(f"#{ids.SAVE}").click()
    browser.wait_for_contains_text(
        f"#{ids.MESSAGE}", "Station 1 'ch1' created on unit 'cu-lab1'.", timeout=10
    )
    browser.wait_for_contains_text("#stations-row-1", "0.00 V – 4.50 V", timeout=10)
    assert "cu-lab1" in browser.find_element(f"#{ids.BOARD}").text


@pytest.mark.browser
def test_deprecating_names_the_cancelled_experiment_and_hides_the_station(browser, app_factory):
    app = app_factory()
    station_id = add_station(engine_of(app))
    queued = add_queued(engine_of(app), station_id, "overnight run")
    open_page(browser, app)
    browser.wait_for_element(f"#stations-row-{station_id}", timeout=10)
    browser.find_element(f"#stations-row-{station_id} button.btn-outline-warning").click()
    browser.wait_for_contains_text(f"#{ids.CONFIRM_TEXT}", "Deprecate station", timeout=10)
    browser.find_element(f"#{ids.CONFIRM_YES}").click()
    browser.wait_for_contains_text(
        f"#{ids.MESSAGE}", f"Cancelled: #{queued} 'overnight run'", timeout=10
    )
    until(lambda: not browser.find_elements(f"#stations-row-{station_id}"), timeout=10)
    with Session(engine_of(app)) as session:
        assert session.get(Experiment, queued).status is ExperimentStatus.CANCELLED
    # The switch shows it again, marked deprecated.
    browser.find_element(f"#{ids.SHOW_DEPRECATED}").click()
    browser.wait_for_contains_text(f"#stations-row-{station_id}", "deprecated", timeout=10)


@pytest.mark.browser
def test_a_mistaken_station_is_removed_after_confirmation(browser, app_factory):
    app = app_factory()
    keep = add_station(engine_of(app), "ch1")
    mistake = add_station(engine_of(app), "ch9-typo")
    add_queued(engine_of(app), keep, "used")
    open_page(browser, app)
    browser.wait_for_element(f"#stations-row-{mistake}", timeout=10)
    # A station with an experiment offers no Remove.
    assert not browser.find_elements(f"#stations-row-{keep} button.btn-outline-danger")
    browser.find_element(f"#stations-row-{mistake} button.btn-outline-danger").click()
    browser.wait_for_contains_text(f"#{ids.CONFIRM_TEXT}", "for good", timeout=10)
    browser.find_element(f"#{ids.CONFIRM_YES}").click()
    browser.wait_for_contains_text(
        f"#{ids.MESSAGE}", f"Station {mistake} 'ch9-typo' removed.", timeout=10
    )
    until(lambda: not browser.find_elements(f"#stations-row-{mistake}"), timeout=10)
    with Session(engine_of(app)) as session:
        assert [s.id for s in session.scalars(select(Station))] == [keep]


@pytest.mark.browser
def test_editing_fills_the_form_and_replaces_the_station_moving_its_queue(browser, app_factory):
    app = app_factory()
    station_id = add_station(engine_of(app))
    queued = add_queued(engine_of(app), station_id, "waiting run")
    open_page(browser, app)
    browser.wait_for_element(f"#stations-row-{station_id}", timeout=10)
    browser.find_element(f"#stations-row-{station_id} button.btn-outline-primary").click()
    browser.wait_for_text_to_equal(f"#{ids.FORM_TITLE}", f"Edit station {station_id} 'ch1'")
    until(
        lambda: browser.find_element(f"#{ids.FIELD['unit']}").get_attribute("value") == "cu-lab1",
        timeout=10,
    )
    type_into(browser, "location", "rack B")
    browser.find_element(f"#{ids.SAVE}").click()
    new_id = station_id + 1
    browser.wait_for_contains_text(
        f"#{ids.MESSAGE}", f"Moved to station {new_id}: #{queued} 'waiting run'.", timeout=10
    )
    browser.wait_for_contains_text(f"#stations-row-{new_id}", "rack B", timeout=10)
    assert not browser.find_elements(f"#stations-row-{station_id}")
    with Session(engine_of(app)) as session:
        assert session.get(Experiment, queued).station_id == new_id
