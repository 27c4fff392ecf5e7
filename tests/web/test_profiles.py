"""The profile pages in a browser: a profile written in the editor is checked by line as it
is typed, its fit follows the battery chosen, and saving opens its page; editing a profile
that an experiment uses makes its version 2 and leaves version 1 as it was."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from dash.testing.wait import until
from selenium.webdriver.support.ui import Select
from sqlalchemy import select
from sqlalchemy.orm import Session

from config import default_settings
from datastore import catalog
from datastore.models import Experiment, Profile
from pages.profiles import ids
from tests.web.browser_helpers import click, type_into
from tests.web.lab_data import add_two_cells, engine_of

pytestmark = pytest.mark.browser

MAX_STEPS = default_settings().profiles.max_steps
WAIT_S = 10


@pytest.fixture
def lab(app_factory) -> tuple[Any, dict[str, int]]:
    """A 1 A cell and a 5 A cell, a station, and a profile an experiment uses."""
    app = app_factory()
    with Session(engine_of(app)) as session, session.begin():
        small, big = add_two_cells(session)
        station = catalog.create_station(
            session, name="ch1", voltage_min=0, voltage_max=5, current_min=-10, current_max=10
        )
        used = catalog.create_profile(
            session, name="gentle", source="CC, 0.5, TIME, 60\n", max_steps=MAX_STEPS
        )
        session.flush()
        experiment = catalog.queue_experiment(
            session, name="first run", battery_id=small.id, station_id=station.id,
            profile_id=used.id, max_steps=MAX_STEPS,
        )  # fmt: skip
        session.flush()
        made = {
            "small": small.id, "big": big.id, "station": station.id, "used": used.id,
            "experiment": experiment.id,
        }  # fmt: skip
    return app, made


def choose(browser: Any, select_id: str, value: int) -> None:
    Select(browser.find_element(f"#{select_id}")).select_by_value(str(value))


def test_a_new_profile_is_checked_as_typed_fitted_and_saved_onto_its_page(
    browser, lab, tmp_path: Path
) -> None:
    app, made = lab
    browser.start_server(app)
    browser.wait_for_page(f"{browser.server_url}/profiles", timeout=WAIT_S)
    click(browser, ids.NEW)
    browser.wait_for_text_to_equal(f"#{ids.EDITOR_TITLE}", "New profile", WAIT_S)

    # A file that is not text is refused with the reason; its text is not loaded.
    picture = tmp_path / "photo.txt"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00")
    browser.find_element(f"#{ids.UPLOAD} input[type=file]").send_keys(str(picture))
    browser.wait_for_text_to_equal(
        f"#{ids.UPLOAD_NOTE}", "photo.txt: not a text file (it is not UTF-8 text).", WAIT_S
    )

    type_into(browser, ids.TEXT, "CC, 0.8, VOLTAGE, 4.2\n# hold\n\nCV, -4.2, CURRENT, 0.05\n")
    browser.wait_for_text_to_equal(
        f"#{ids.PROBLEMS}", "line 4: CV needs a positive voltage, got -4.2", WAIT_S
    )
    type_into(browser, ids.TEXT, "CC, 0.8, VOLTAGE, 4.2\n# hold\n\nCV, 4.2, CURRENT, 0.05\n")
    browser.wait_for_contains_text(
        f"#{ids.SUMMARY}",
        "Valid: 2 steps once REPEAT blocks are unrolled. Envelope: voltage 4.2 V to 4.2 V; "
        "current -0.05 A to 0.8 A.",
        WAIT_S,
    )

    # The verdict follows the battery: 2 A fits the big cell, not the small one.
    type_into(browser, ids.TEXT, "CC, 2, VOLTAGE, 4.2\nCV, 4.2, CURRENT, 0.05\n")
    choose(browser, ids.STATION, made["station"])
    choose(browser, ids.BATTERY, made["big"])
    browser.wait_for_text_to_equal(f"#{ids.VERDICT}", "Fits this battery and station.", WAIT_S)
    choose(browser, ids.BATTERY, made["small"])
    browser.wait_for_contains_text(
        f"#{ids.VERDICT}", "needs 2.0 A charge; the battery allows 1.0 A (1.0 A over)", WAIT_S
    )

    # Save: a missing name is said beside the field, then the saved profile's page opens.
    click(browser, ids.SAVE)
    browser.wait_for_text_to_equal(f"#{ids.error('name')}", "Give the profile a name.", WAIT_S)
    type_into(browser, ids.NAME, "CC-CV 2 A")
    click(browser, ids.SAVE)
    with Session(engine_of(app)) as session:
        until(lambda: session.scalar(select(Profile.id).where(Profile.name == "CC-CV 2 A")), WAIT_S)
        saved = session.scalar(select(Profile.id).where(Profile.name == "CC-CV 2 A"))
    until(lambda: browser.driver.current_url.endswith(f"/profiles/{saved}"), WAIT_S)
    browser.wait_for_text_to_equal(f"#{ids.TITLE}", "CC-CV 2 A (v1)", WAIT_S)
    assert browser.find_element(f"#{ids.SOURCE}").text == (
        "CC, 2, VOLTAGE, 4.2\nCV, 4.2, CURRENT, 0.05"
    )
    assert "2 steps" in browser.find_element(f"#{ids.STEP_COUNT}").text
    assert "-0.05 A to 2.0 A" in browser.find_element(f"#{ids.ENVELOPE}").text
    browser.wait_for_element(f"#{ids.SKETCH} .main-svg", timeout=WAIT_S)
    assert browser.get_logs() == []


def test_editing_a_used_profile_makes_version_2_and_keeps_version_1(browser, lab) -> None:
    app, made = lab
    browser.start_server(app)
    browser.wait_for_page(f"{browser.server_url}/profiles/{made['used']}", timeout=WAIT_S)
    browser.wait_for_text_to_equal(f"#{ids.TITLE}", "gentle (v1)", WAIT_S)
    assert "first run (experiment" in browser.find_element(f"#{ids.EXPERIMENTS}").text

    click(browser, ids.EDIT)
    browser.wait_for_text_to_equal(f"#{ids.EDITOR_TITLE}", "Edit gentle (v1)", WAIT_S)
    assert "saving makes version 2" in browser.find_element(f"#{ids.EDIT_RULE}").text
    assert browser.find_element(f"#{ids.TEXT}").get_attribute("value") == "CC, 0.5, TIME, 60\n"
    type_into(browser, ids.TEXT, "CC, 0.5, TIME, 90\nWAIT, 30\n")
    browser.wait_for_contains_text(f"#{ids.SUMMARY}", "Valid: 2 steps", WAIT_S)
    click(browser, ids.SAVE)

    browser.wait_for_text_to_equal(f"#{ids.TITLE}", "gentle (v2)", WAIT_S)
    assert "made from gentle (v1)" in browser.find_element(f"#{ids.VERSIONS}").text
    assert browser.find_element(f"#{ids.SOURCE}").text == "CC, 0.5, TIME, 90\nWAIT, 30"
    with Session(engine_of(app)) as session:
        old = session.get(Profile, made["used"])
        experiment = session.get(Experiment, made["experiment"])
        assert old is not None and old.source == "CC, 0.5, TIME, 60\n"
        assert experiment is not None and experiment.profile_id == made["used"]

    # Version 1's page still shows its text, and links to the newer version.
    browser.find_element(f"#{ids.VERSIONS} a").click()
    browser.wait_for_text_to_equal(f"#{ids.TITLE}", "gentle (v1)", WAIT_S)
    assert browser.find_element(f"#{ids.SOURCE}").text == "CC, 0.5, TIME, 60"
    assert "Newer: gentle (v2)" in browser.find_element(f"#{ids.VERSIONS}").text
    assert browser.get_logs() == []
