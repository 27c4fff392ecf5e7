"""The import page in the browser: upload, preview, mapping, import in the background,
and the end of the job (a link to the experiment, or the file's problems)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from dash.testing.wait import until
from selenium.webdriver.support.ui import Select
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from components.urls import IMPORT_URL
from config import Settings
from datastore.export import iter_experiment_csv, write_experiment_csv
from datastore.models import Channel, Experiment, Measurement
from pages.experiment_import import ids
from tests.web.lab_data import add_experiment

pytestmark = pytest.mark.browser


@pytest.fixture
def app(app_factory, settings: Settings, tmp_path: Path):
    return app_factory(settings.replace(web={"upload_dir": str(tmp_path / "uploads")}))


def _engine(app) -> Engine:
    return app.server.extensions["bem"].store.engine


def _open(browser, app) -> None:
    browser.start_server(app)
    browser.driver.get(browser.server_url + IMPORT_URL)
    browser.wait_for_text_to_equal("#_pages_content h2", "Import experiment", timeout=10)


def _upload(browser, path: Path) -> None:
    browser.wait_for_element(f"#{ids.FILE}", timeout=10).send_keys(str(path))
    browser.wait_for_contains_text(f"#{ids.UPLOAD_MESSAGE}", "Uploaded", timeout=20)
    browser.wait_for_contains_text(f"#{ids.PREVIEW}", "read as", timeout=20)


def _import(browser, name: str, battery_id: int) -> None:
    browser.find_element(f"#{ids.NAME}").send_keys(name)
    Select(browser.find_element(f"#{ids.BATTERY}")).select_by_value(str(battery_id))
    _click(browser, browser.wait_for_element(f"#{ids.IMPORT}:not([disabled])", timeout=10))


def _click(browser, element) -> None:
    # The page is taller than the window; a script click needs no scrolling.
    browser.driver.execute_script("arguments[0].click()", element)


def _battery_of(engine: Engine, experiment_id: int) -> int:
    with Session(engine) as session:
        experiment = session.get(Experiment, experiment_id)
        assert experiment is not None
        return experiment.battery_id


def _mapping_cell(browser, row: int, column: int) -> str:
    return browser.find_element(
        f"#{ids.MAPPING_TABLE} tbody tr:nth-child({row}) td:nth-child({column})"
    ).text


def test_an_export_of_the_app_imports_back_to_the_same_samples(browser, app, tmp_path) -> None:
    engine = _engine(app)
    original = add_experiment(engine, "cycling run", samples=300)
    path = tmp_path / "cycling run.csv"
    with path.open("wb") as file:
        write_experiment_csv(engine, original, file)
    _open(browser, app)
    _upload(browser, path)

    # The recognised columns, each with its unit and SI unit.
    assert [_mapping_cell(browser, row, 1) for row in range(1, 9)] == [
        "Test Time / s", "Unix Time / s", "Voltage / V", "Current / A", "Power / W",
        "Step Count / 1", "Cycle Count / 1", "temp_body / °C",
    ]  # fmt: skip
    assert _mapping_cell(browser, 3, 6) == "V"
    assert _mapping_cell(browser, 8, 5) == "temp_body / °C"
    assert (
        "Cycles from the column 'Cycle Count / 1'" in browser.find_element(f"#{ids.PREVIEW}").text
    )
    assert not browser.find_element(f"#{ids.START_ROW}").is_displayed()  # absolute times

    _import(browser, "cycling run again", _battery_of(engine, original))
    link = browser.wait_for_element(f"#{ids.RESULT_LINK}", timeout=30)
    assert browser.find_element(f"#{ids.PROGRESS}").text == "100 %"
    assert browser.find_element(f"#{ids.STATUS}").text.startswith("Imported 300 rows")
    with Session(engine) as session:
        imported = session.scalar(select(Experiment).where(Experiment.name == "cycling run again"))
        assert imported is not None and imported.imported
        imported_id = imported.id
    _click(browser, link)
    browser.wait_for_text_to_equal("#_pages_content h2", "cycling run again", timeout=10)
    assert browser.driver.current_url.endswith(f"/experiments/{imported_id}")
    assert "".join(iter_experiment_csv(engine, imported_id)) == path.read_text()
    assert list(path.parent.glob("uploads/*")) == []  # the upload went when the job ended
    assert browser.get_logs() == []


def test_a_bad_cell_shows_its_row_and_column_and_nothing_is_stored(browser, app, tmp_path) -> None:
    engine = _engine(app)
    original = add_experiment(engine, "cycling run", samples=50)
    lines = "".join(iter_experiment_csv(engine, original)).splitlines(keepends=True)
    cells = lines[11].split(",")
    cells[2] = "abc"
    lines[11] = ",".join(cells)
    path = tmp_path / "damaged.csv"
    path.write_text("".join(lines))
    _open(browser, app)
    _upload(browser, path)
    _import(browser, "damaged run", _battery_of(engine, original))
    browser.wait_for_contains_text(f"#{ids.RESULT}", "nothing was stored", timeout=30)
    assert "line 12, column 'Voltage / V': 'abc' is not a number" in (
        browser.find_element(f"#{ids.RESULT}").text
    )
    assert browser.find_element(f"#{ids.STATUS}").text.startswith("Failed after")
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Experiment)) == 1


def test_unknown_columns_are_mapped_to_the_voltage_and_to_a_channel(browser, app, tmp_path) -> None:
    engine = _engine(app)
    battery_id = _battery_of(engine, add_experiment(engine, "other run"))
    path = tmp_path / "cycler.csv"
    path.write_text(
        "Unix Time / s,Spannung,Current / A,T1\n"
        + "".join(f"{1_800_000_000 + i},{3700 + i},0.5,{25 + i / 10}\n" for i in range(20))
    )
    _open(browser, app)
    _upload(browser, path)
    problems = browser.find_element(f"#{ids.PREVIEW}").text
    assert "missing a voltage column" in problems
    assert browser.find_element(f"#{ids.IMPORT}").get_attribute("disabled") == "true"

    spannung = {"type": ids.MAP_TARGET, "column": 1}
    Select(browser.find_element(_css(spannung))).select_by_value("voltage")
    browser.find_element(_css({"type": ids.MAP_UNIT, "column": 1})).send_keys("mV")
    name = browser.find_element(_css({"type": ids.MAP_NAME, "column": 3}))
    name.clear()
    name.send_keys("T cell")
    browser.find_element(_css({"type": ids.MAP_UNIT, "column": 3})).send_keys("°C")
    _click(browser, browser.find_element(f"#{ids.APPLY}"))
    browser.wait_for_text_to_equal(
        f"#{ids.MAPPING_TABLE} tbody tr:nth-child(4) td:nth-child(5)", "T cell / °C", timeout=10
    )
    assert _mapping_cell(browser, 2, 5) == "Voltage / V"
    assert _mapping_cell(browser, 2, 7) == "mV scaled to V"
    assert "missing" not in browser.find_element(f"#{ids.PREVIEW}").text

    _import(browser, "mapped run", battery_id)
    browser.wait_for_element(f"#{ids.RESULT_LINK}", timeout=30)
    with Session(engine) as session:
        experiment = session.scalar(select(Experiment).where(Experiment.name == "mapped run"))
        assert experiment is not None
        voltages = session.scalars(
            select(Measurement.voltage)
            .where(Measurement.experiment_id == experiment.id)
            .order_by(Measurement.seq)
        ).all()
        channels = session.execute(
            select(Channel.name, Channel.unit).where(Channel.experiment_id == experiment.id)
        ).all()
    assert voltages == [(3700 + i) / 1000 for i in range(20)]
    assert [tuple(channel) for channel in channels] == [("T cell", "°C")]


def _css(component_id: dict) -> str:
    """The CSS selector of a pattern-matching id (Dash writes it as sorted JSON)."""
    import json

    text = json.dumps(component_id, sort_keys=True, separators=(",", ":"))
    return "#" + "".join(f"\\{c}" if not c.isalnum() and c not in "-_" else c for c in text)


def test_a_long_import_shows_its_progress_and_can_be_cancelled(browser, app, tmp_path) -> None:
    engine = _engine(app)
    battery_id = _battery_of(engine, add_experiment(engine, "other run"))
    with Session(engine) as session:
        samples_before = session.scalar(select(func.count()).select_from(Measurement))
    rows = 600_000  # long enough on SQLite to be seen half-way at one poll a second
    path = tmp_path / "long run.csv"
    seconds = np.arange(rows, dtype=np.float64)
    pd.DataFrame(
        {
            "Test Time / s": seconds,
            "Voltage / V": 3.6 + 0.1 * np.sin(seconds / 600),
            "Current / A": np.where((seconds // 1800) % 2 == 0, 1.5, -1.5),
        }
    ).to_csv(path, index=False)
    _open(browser, app)
    _upload(browser, path)
    _import(browser, "long run", battery_id)

    def part_way() -> bool:
        text = browser.find_element(f"#{ids.PROGRESS}").text
        return text.endswith(" %") and 0 < int(text.removesuffix(" %")) < 100

    until(part_way, timeout=60, poll=0.2)
    assert "rows so far" in browser.find_element(f"#{ids.STATUS}").text
    _click(browser, browser.find_element(f"#{ids.CANCEL}"))
    browser.wait_for_contains_text(f"#{ids.STATUS}", "Cancelled after", timeout=60)
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Experiment)) == 1
        assert session.scalar(select(func.count()).select_from(Measurement)) == samples_before
    assert browser.get_logs() == []
