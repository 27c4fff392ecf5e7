"""The battery pages: the list links each battery, the new-battery form puts each problem
beside its field and opens the new-experiment form after saving, a battery's page shows
its facts and experiments and edits its description. Save is tested directly; a few
flows in the browser."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from datastore import catalog
from datastore.models import Battery
from pages.batteries import ids
from pages.batteries.facts import fact_rows
from pages.batteries.form import create, edit
from pages.batteries.table import grid_row
from tests.web.browser_helpers import click, type_into
from tests.web.lab_data import add_experiment, engine_of

NEW = ids.NEW_FORM
EDIT = ids.EDIT_FORM
FORM: dict[str, Any] = {
    "name": "NMC cell 7",
    "description": "",
    "manufacturer": "ACME",
    "model": "X1",
    "serial": "SN-7",
    "fabrication_date": "2024-03-01",
    "technology": "lithium-ion",
    "cells": 1,
    "voltage_min": 2.5,
    "voltage_max": 4.2,
    "current_min": -6,
    "current_max": 3,
    "cell_voltage_min": None,
    "cell_voltage_max": None,
    "capacity": 3,
}
LI_ION = {("lithium-ion", "chemistry"): "NMC", ("lithium-ion", "electrolyte"): "1 M LiPF6"}


def count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Battery)) or 0)


def test_create_stores_the_battery_with_its_chosen_technologys_fields(sqlite_engine):
    hidden = {("lead-acid", "lead_acid_type"): "AGM"}  # another technology's: ignored
    with Session(sqlite_engine) as session:
        outcome = create(session, FORM, {**LI_ION, **hidden})
        assert outcome.saved
        stored = session.get(Battery, outcome.battery_id)
        assert stored is not None
        assert stored.details == {"chemistry": "NMC", "electrolyte": "1 M LiPF6"}
        assert (stored.cells_in_series, str(stored.fabrication_date)) == (1, "2024-03-01")


def test_create_puts_every_problem_beside_its_own_field(sqlite_engine):
    with Session(sqlite_engine) as session:
        create(session, FORM, LI_ION)
        session.commit()
        outcome = create(
            session,
            {
                **FORM,
                "name": "nmc CELL 7",
                "serial": "sn-7",
                "voltage_max": 2.0,
                "current_min": None,
                "cells": 2.5,
                "fabrication_date": "1st March",
            },
            {("lithium-ion", "electrolyte"): "x" * 101},
        )
        session.rollback()
        assert not outcome.saved
        assert outcome.problems == {
            ids.field(NEW, "name"): (
                "battery 1 is called 'NMC cell 7' already; names are unique, whatever the "
                "letter case"
            ),
            ids.field(NEW, "serial"): "battery 1 'NMC cell 7' has serial number 'SN-7' already",
            ids.field(NEW, "cells"): "expected a whole number of at least 1, got 2.5",
            ids.field(NEW, "current_min"): "required: a number of A",
            ids.field(NEW, "fabrication_date"): "expected a date as YYYY-MM-DD, got '1st March'",
            ids.detail(NEW, "lithium-ion", "electrolyte"): "at most 100 characters, got 101",
        }
        assert outcome.error == ""
        assert count(session) == 1


def test_create_without_a_technology_asks_for_one_beside_it(sqlite_engine):
    with Session(sqlite_engine) as session:
        outcome = create(session, {**FORM, "technology": None}, {})
        assert outcome.problems == {ids.field(NEW, "technology"): "choose the battery's technology"}


def test_create_checks_the_cell_window_against_the_pack(sqlite_engine):
    lead = {**FORM, "technology": "lead-acid", "cells": 6, "voltage_min": 10.5}
    with Session(sqlite_engine) as session:
        outcome = create(session, {**lead, "voltage_max": 14.7, "cell_voltage_min": 1.9}, {})
    assert outcome.problems == {
        ids.field(NEW, "cell_voltage_min"): (
            "6 × 1.9 V = 11.4 V is above the pack's voltage_min (10.5 V): the pack window "
            "must lie within the cells' window"
        )
    }


def test_edit_changes_the_description_and_refuses_another_batterys_name(sqlite_engine):
    with Session(sqlite_engine) as session, session.begin():
        first = create(session, FORM, LI_ION).battery_id
        second = create(session, {**FORM, "name": "other", "serial": ""}, {}).battery_id
    assert first is not None and second is not None
    with Session(sqlite_engine) as session:
        refused = edit(session, second, {"name": "nmc cell 7"}, {})
        session.rollback()
        assert list(refused.problems) == [ids.field(EDIT, "name")]
        saved = edit(session, second, {"name": "renamed", "description": "spare"}, LI_ION)
        session.commit()
        assert saved.saved and saved.message == f"Saved battery {second} 'renamed'."
        stored = session.get(Battery, second)
        assert stored is not None and stored.details == {
            "chemistry": "NMC",
            "electrolyte": "1 M LiPF6",
        }
        assert edit(session, 99, {"name": "x"}, {}).error == (
            "Not saved: there is no battery with id 99."
        )


def test_the_list_row_and_the_facts_read_with_their_units(sqlite_engine):
    with Session(sqlite_engine) as session, session.begin():
        battery = catalog.create_battery(
            session, name="VRFB [5]", technology="redox-flow", voltage_min=5, voltage_max=8.5,
            current_min=-30, current_max=30, nominal_capacity_ah=20, cells_in_series=5,
            details={"electrode_size_cm2": 100, "membrane_type": "Nafion 117"},
        )  # fmt: skip
        row = grid_row(battery, 2)
        facts = dict(fact_rows(battery))
    assert row["name"] == "[VRFB \\[5\\]](/batteries/1)"
    assert (row["technology"], row["details"], row["experiments"]) == (
        "Redox-flow stack",
        "electrode size: 100 cm²; membrane type: Nafion 117",
        2,
    )
    assert facts["Electrode size"] == "100 cm²"
    assert facts["Safe voltage"] == "5.00 V to 8.50 V"
    assert facts["Safe current"] == "−30.00 A to 30.00 A"
    assert facts["Nominal capacity"] == "20.000 Ah"
    assert facts["Cell voltage"] == "not given"


# ---------------------------------------------------------------- in the browser


@pytest.mark.browser
def test_creating_a_battery_shows_the_error_beside_its_field_then_opens_a_new_experiment(
    browser, app_factory
):
    app = app_factory()
    browser.start_server(app)
    browser.wait_for_page(f"{browser.server_url}/batteries", timeout=10)
    browser.wait_for_element(f"#{ids.NEW}", timeout=10).click()
    browser.wait_for_text_to_equal("h2", "New battery", timeout=10)
    from selenium.webdriver.support.ui import Select

    Select(browser.find_element(f"#{ids.field(NEW, 'technology')}")).select_by_value("lithium-ion")
    chemistry = f"#{ids.detail(NEW, 'lithium-ion', 'chemistry')}"
    browser.wait_for_element(chemistry, timeout=10)
    assert browser.find_element(chemistry).is_displayed()
    assert not browser.find_element(
        f"#{ids.detail(NEW, 'lead-acid', 'lead_acid_type')}"
    ).is_displayed()
    Select(browser.find_element(chemistry)).select_by_value("NMC")
    for name, value in (
        ("name", "browser cell"), ("voltage_min", "2.5"), ("voltage_max", "2"),
        ("current_min", "-6"), ("current_max", "3"), ("capacity", "3"),
    ):  # fmt: skip
        type_into(browser, ids.field(NEW, name), value)
    click(browser, ids.save(NEW))
    voltage_max = ids.field(NEW, "voltage_max")
    browser.wait_for_contains_text(
        f"#{ids.message(voltage_max)}", "must be above voltage_min (2.5 V)", timeout=10
    )
    assert "is-invalid" in browser.find_element(f"#{voltage_max}").get_attribute("class")
    with Session(engine_of(app)) as session:
        assert count(session) == 0
    type_into(browser, voltage_max, "4.2")
    click(browser, ids.save(NEW))
    browser.wait_for_element("#_pages_content", timeout=10)
    from dash.testing.wait import until

    until(lambda: browser.driver.current_url.endswith("/experiments/new?battery=1"), timeout=10)
    with Session(engine_of(app)) as session:
        stored = session.get(Battery, 1)
        assert stored is not None and stored.details == {"chemistry": "NMC"}
        assert stored.voltage_max == 4.2


@pytest.mark.browser
def test_the_list_links_each_battery_to_its_page_where_its_name_is_edited(browser, app_factory):
    app = app_factory()
    add_experiment(engine_of(app), "first run", battery="list cell")
    browser.start_server(app)
    browser.wait_for_page(f"{browser.server_url}/batteries", timeout=10)
    browser.wait_for_contains_text(f"#{ids.GRID}", "Lithium-ion", timeout=10)
    assert "NMC" in browser.find_element(f"#{ids.GRID}").text
    browser.find_element(f"#{ids.GRID} a[href='/batteries/1']").click()
    browser.wait_for_text_to_equal(f"#{ids.TITLE}", "list cell", timeout=10)
    browser.wait_for_contains_text(f"#{ids.EXPERIMENTS}", "first run", timeout=10)
    assert (
        browser.find_element(f"#{ids.EXPERIMENTS} a")
        .get_attribute("href")
        .endswith("/experiments/1")
    )
    assert (
        browser.find_element(f"#{ids.NEW_EXPERIMENT}")
        .get_attribute("href")
        .endswith("/experiments/new?battery=1")
    )
    type_into(browser, ids.field(EDIT, "name"), "renamed cell")
    click(browser, ids.save(EDIT))
    browser.wait_for_text_to_equal(f"#{ids.TITLE}", "renamed cell", timeout=10)
    browser.wait_for_contains_text(f"#{ids.EDIT_SAVED}", "Saved battery 1", timeout=10)
    with Session(engine_of(app)) as session:
        stored = session.get(Battery, 1)
        assert stored is not None and stored.name == "renamed cell"


@pytest.mark.browser
def test_an_unknown_battery_says_so(browser, app_factory):
    browser.start_server(app_factory())
    browser.wait_for_page(f"{browser.server_url}/batteries/42", timeout=10)
    browser.wait_for_contains_text(f"#{ids.NOT_FOUND}", "There is no battery 42.", timeout=10)
    assert browser.get_logs() == []
