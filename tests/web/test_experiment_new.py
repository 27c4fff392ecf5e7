"""The new-experiment page in a browser: the compatible list follows the battery, a
written profile's errors show by line, a submitted experiment lands queued on its
station's monitor (errors beside their fields first), and the overview counts the queue.

No node runs: the stations have never been seen online, so queued experiments stay queued.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from dash.testing.wait import until
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.support.ui import Select
from sqlalchemy import select
from sqlalchemy.orm import Session

from config import default_settings
from datastore import catalog
from datastore.models import Experiment, Profile
from domain.status import ExperimentStatus
from pages.experiment_new import ids
from pages.monitor import ids as monitor_ids
from tests.web.browser_helpers import click, type_into
from tests.web.lab_data import add_two_cells, engine_of

pytestmark = pytest.mark.browser

MAX_STEPS = default_settings().profiles.max_steps
WAIT_S = 10


@pytest.fixture
def lab(app_factory) -> tuple[Any, dict[str, int]]:
    """Two cells (1 A and 5 A), a redox-flow stack, a station, and two stored profiles."""
    app = app_factory()
    with Session(engine_of(app)) as session, session.begin():
        small, big = add_two_cells(session)
        stack = catalog.create_battery(
            session, name="flow stack", technology="redox-flow", voltage_min=0.8,
            voltage_max=1.7, current_min=-20, current_max=20, nominal_capacity_ah=10,
        )  # fmt: skip
        station = catalog.create_station(
            session, name="ch1", voltage_min=0, voltage_max=5, current_min=-10, current_max=10
        )
        gentle = catalog.create_profile(
            session, name="gentle", source="CC, 0.5, TIME, 60\n", max_steps=MAX_STEPS
        )
        strong = catalog.create_profile(
            session, name="strong", source="CC, 2.5, TIME, 60\n", max_steps=MAX_STEPS
        )
        session.flush()
        made = {
            "small": small.id, "big": big.id, "stack": stack.id, "station": station.id,
            "gentle": gentle.id, "strong": strong.id,
        }  # fmt: skip
    return app, made


def open_form(browser: Any, app: Any, query: str = "") -> None:
    browser.start_server(app)
    browser.wait_for_page(f"{browser.server_url}/experiments/new{query}", timeout=WAIT_S)
    browser.wait_for_element(f"#{ids.SUBMIT}", timeout=WAIT_S)


def choose(browser: Any, select_id: str, value: int | str) -> None:
    until(lambda: _offers(browser, select_id, str(value)), WAIT_S)
    Select(browser.find_element(f"#{select_id}")).select_by_value(str(value))


def _offers(browser: Any, select_id: str, value: str) -> bool:
    return value in offered(browser, select_id)


def offered(browser: Any, select_id: str) -> list[str]:
    """The values a select offers; [] while a callback is replacing its options."""
    try:
        return [
            option.get_attribute("value")
            for option in browser.find_elements(f"#{select_id} option")
            if option.get_attribute("value")
        ]
    except StaleElementReferenceException:
        return []


def attribute(browser: Any, element_id: str, name: str) -> str | None:
    """An element's attribute; None while a callback is replacing the element."""
    try:
        return browser.find_element(f"#{element_id}").get_attribute(name)
    except StaleElementReferenceException:
        return None


def test_the_compatible_list_follows_the_battery_and_says_why_others_are_missing(
    browser, lab
) -> None:
    app, made = lab
    open_form(browser, app, f"?battery={made['small']}")
    # The battery of the address and its technology are chosen already.
    # (The choices are filled by callbacks: wait for them rather than read them at once.)
    until(lambda: attribute(browser, ids.TECHNOLOGY, "value") == "lithium-ion", WAIT_S)
    until(lambda: attribute(browser, ids.BATTERY, "value") == str(made["small"]), WAIT_S)
    until(lambda: offered(browser, ids.BATTERY) == [str(made["big"]), str(made["small"])], WAIT_S)

    choose(browser, ids.STATION, made["station"])
    browser.wait_for_contains_text(f"#{ids.STATION_NOTE}", "never been seen online", WAIT_S)
    until(lambda: offered(browser, ids.PROFILE) == [str(made["gentle"])], WAIT_S)
    click(browser, ids.WHY_TOGGLE)
    browser.wait_for_contains_text(
        f"#{ids.WHY_LIST}", "needs 2.5 A charge; the battery allows 1.0 A (1.5 A over)", WAIT_S
    )

    choose(browser, ids.BATTERY, made["big"])
    until(
        lambda: offered(browser, ids.PROFILE) == [str(made["gentle"]), str(made["strong"])],
        WAIT_S,
    )
    browser.wait_for_contains_text(
        f"#{ids.WHY_LIST}", "Every stored profile fits this battery and station", WAIT_S
    )
    # Another technology offers only its batteries.
    Select(browser.find_element(f"#{ids.TECHNOLOGY}")).select_by_value("redox-flow")
    until(lambda: offered(browser, ids.BATTERY) == [str(made["stack"])], WAIT_S)
    assert browser.get_logs() == []


def test_a_written_profile_is_checked_by_line_then_saved_and_chosen(
    browser, lab, tmp_path: Path
) -> None:
    app, made = lab
    open_form(browser, app, f"?battery={made['small']}")
    choose(browser, ids.STATION, made["station"])
    browser.find_element("//label[text()='Write or upload one']", "XPATH").click()
    browser.wait_for_element(f"#{ids.PROFILE_TEXT}", timeout=WAIT_S)

    type_into(browser, ids.PROFILE_TEXT, "CC, 0.2, TIME, 60\nCV, 9x, TIME, 1\n")
    browser.wait_for_contains_text(f"#{ids.PROFILE_PROBLEMS}", "line 2: ", WAIT_S)

    upload = tmp_path / "too strong.txt"
    upload.write_text("CC, 0.2, TIME, 60\nCC, 3, TIME, 60\n", encoding="utf-8")
    browser.find_element(f"#{ids.UPLOAD} input[type=file]").send_keys(str(upload))
    browser.wait_for_contains_text(
        f"#{ids.PROFILE_VERDICT}",
        "needs 3.0 A charge; the battery allows 1.0 A (2.0 A over)",
        WAIT_S,
    )
    until(
        lambda: (
            browser.find_element(f"#{ids.NEW_PROFILE_NAME}").get_attribute("value") == "too strong"
        ),
        WAIT_S,
    )

    type_into(browser, ids.PROFILE_TEXT, "CC, 0.2, TIME, 60\nCC, -0.2, TIME, 60\n")
    browser.wait_for_contains_text(f"#{ids.PROFILE_VERDICT}", "Fits this battery", WAIT_S)
    type_into(browser, ids.NEW_PROFILE_NAME, "short pulse")
    click(browser, ids.SAVE_PROFILE)
    browser.wait_for_contains_text(f"#{ids.SAVE_FEEDBACK}", "“short pulse”", WAIT_S)
    with Session(engine_of(app)) as session:
        saved = session.scalar(select(Profile.id).where(Profile.name == "short pulse"))
    assert saved is not None
    # Saved, it is the chosen stored profile.
    until(
        lambda: browser.find_element(f"#{ids.PROFILE}").get_attribute("value") == str(saved),
        WAIT_S,
    )
    assert browser.find_element(f"#{ids.STORED_SECTION}").is_displayed()


def test_a_new_experiment_lands_queued_on_the_station_s_monitor(browser, lab) -> None:
    app, made = lab
    open_form(browser, app, f"?battery={made['stack']}")
    choose(browser, ids.STATION, made["station"])
    choose(browser, ids.PROFILE, made["gentle"])
    values = {
        "electrolyte_volume_l": "2.5",
        "initial_soc_percent": "140",
        "flow_rate_min_l_per_min": "0.5",
        "flow_rate_max_l_per_min": "abc",
    }
    for name, value in values.items():
        type_into(browser, ids.condition(name), value)
    click(browser, ids.SUBMIT)
    # Every problem beside its field, from the server; nothing queued.
    browser.wait_for_text_to_equal(f"#{ids.error('name')}", "Give the experiment a name.", WAIT_S)
    assert browser.find_element(f"#{ids.error('initial_soc_percent')}").text == (
        "Expected 0 to 100 %, got 140."
    )
    assert browser.find_element(f"#{ids.error('flow_rate_max_l_per_min')}").text == (
        "Expected a number of L/min, got 'abc'."
    )
    with Session(engine_of(app)) as session:
        assert session.scalars(select(Experiment)).all() == []

    type_into(browser, ids.NAME, "flow run 1")
    type_into(browser, ids.condition("initial_soc_percent"), "40")
    type_into(browser, ids.condition("flow_rate_max_l_per_min"), "1.2")
    click(browser, ids.SUBMIT)

    until(lambda: browser.driver.current_url.endswith(f"/monitor/{made['station']}"), WAIT_S)
    with Session(engine_of(app)) as session:
        experiment = session.scalars(select(Experiment)).one()
        assert experiment.status == ExperimentStatus.QUEUED
        assert experiment.details == {
            "electrolyte_volume_l": 2.5,
            "initial_soc_percent": 40.0,
            "flow_rate_min_l_per_min": 0.5,
            "flow_rate_max_l_per_min": 1.2,
        }
    item = f"#{monitor_ids.queue_item(experiment.id)}"
    browser.wait_for_contains_text(item, "flow run 1", WAIT_S)
    shown = browser.find_element(item).text
    assert shown.startswith("1.") and "QUEUED" in shown and "on flow stack" in shown
    assert "1 waiting" in browser.find_element(f"#{monitor_ids.QUEUE}").text

    browser.wait_for_page(f"{browser.server_url}/experiments/{experiment.id}", timeout=WAIT_S)
    browser.wait_for_contains_text("#experiment-facts", "Initial state of charge", WAIT_S)
    facts = browser.find_element("#experiment-facts").text
    assert "2.5 L" in facts and "40 %" in facts and "1.2 L/min" in facts
    assert browser.get_logs() == []


def test_the_overview_counts_the_queued_experiments(browser, lab) -> None:
    app, made = lab
    with Session(engine_of(app)) as session, session.begin():
        for name, battery in (("first in line", made["small"]), ("second", made["big"])):
            catalog.queue_experiment(
                session, name=name, battery_id=battery, station_id=made["station"],
                profile_id=made["gentle"], max_steps=MAX_STEPS,
            )  # fmt: skip
    browser.start_server(app)
    browser.wait_for_page(f"{browser.server_url}/", timeout=WAIT_S)
    card = f"#overview-queue-{made['station']}"
    browser.wait_for_text_to_equal(card, "2 queued · next: first in line", WAIT_S)
    assert "2 queued" in browser.find_element("#overview-summary").text


def test_the_address_can_choose_the_battery_and_the_station(browser, lab) -> None:
    app, made = lab
    open_form(browser, app, f"?battery={made['small']}&station={made['station']}")
    until(lambda: attribute(browser, ids.STATION, "value") == str(made["station"]), WAIT_S)
    browser.wait_for_contains_text(f"#{ids.STATION_NOTE}", "never been seen online", WAIT_S)
    until(lambda: offered(browser, ids.PROFILE) == [str(made["gentle"])], WAIT_S)
    assert browser.get_logs() == []
