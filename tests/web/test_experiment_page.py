"""An experiment's page in the browser: its facts, the graph at any zoom, the time axis,
the steps and alarms, and a running experiment's page keeping itself current."""

from __future__ import annotations

from typing import Any

import pytest
from dash.testing.wait import until
from sqlalchemy.orm import Session

from datastore import ingest
from datastore.models import Experiment
from domain.status import ExperimentStatus
from pages.experiment import ids
from tests.web.lab_data import T0, add_experiment, add_samples, engine_of

pytestmark = pytest.mark.browser

SPIKE_SEQ = 43_210


def graph_traces(browser: Any) -> list[dict[str, Any]]:
    return browser.driver.execute_script(
        f"return document.querySelector('#{ids.GRAPH} .js-plotly-plot').data"
        ".map(t => ({name: t.name, x: Array.from(t.x), y: Array.from(t.y)}));"
    )


def open_page(browser: Any, app: Any, experiment_id: int) -> None:
    browser.start_server(app)
    browser.wait_for_page(f"{browser.server_url}/experiments/{experiment_id}", timeout=10)
    browser.wait_for_element(f"#{ids.GRAPH} .js-plotly-plot", timeout=10)


def relayout(browser: Any, update: dict[str, Any]) -> None:
    """Zoom as a user dragging on the graph would (Plotly then reports the range)."""
    browser.driver.execute_script(
        f"Plotly.relayout(document.querySelector('#{ids.GRAPH} .js-plotly-plot'), arguments[0]);",
        update,
    )


@pytest.fixture
def long_run(app_factory):
    """A finished experiment of 100,000 samples, one second apart, one of them a spike."""
    app = app_factory()
    experiment_id = add_experiment(
        engine_of(app),
        "ageing at 25 °C",
        samples=100_000,
        description="Cell 1 of the March batch",
        voltage=lambda seq: 9.0 if seq == SPIKE_SEQ else 3.5 + (seq % 2000) / 4000,
    )
    return app, experiment_id


def test_the_page_shows_the_experiment_s_facts_steps_and_alarms(browser, long_run) -> None:
    app, experiment_id = long_run
    with engine_of(app).begin() as connection:
        ingest.insert_alarm(
            connection, experiment_id, T0 + 50, "OVER_TEMPERATURE", 61.5, "cell hot"
        )
    open_page(browser, app, experiment_id)

    assert browser.find_element(f"#{ids.TITLE}").text == "ageing at 25 °C"
    assert browser.find_element(f"#{ids.STATUS}").text == "FINISHED"
    facts = browser.find_element(f"#{ids.FACTS}").text
    for expected in ("NMC cell 1", "lithium-ion · NMC · 2 Ah", "ch for ageing at 25 °C",
                     "100,000", "1 d 03 h 46 min", "2027-01-15 08:00:00 UTC"):  # fmt: skip
        assert expected in facts
    links = {
        link.text: link.get_attribute("href") for link in browser.find_elements(f"#{ids.FACTS} a")
    }
    with Session(engine_of(app)) as session:
        experiment = session.get(Experiment, experiment_id)
        assert experiment is not None
        battery_id, profile_id = experiment.battery_id, experiment.profile_id
        profile_name = experiment.profile.name
    assert links["NMC cell 1"].endswith(f"/batteries/{battery_id}")
    assert links[profile_name].endswith(f"/profiles/{profile_id}")
    steps = browser.find_element(f"#{ids.STEPS}").text
    assert "REPEAT 3" in steps and "6 steps once expanded, in 3 cycles" in steps
    assert "CC 1.00 A for 1 h" in steps
    assert "OVER_TEMPERATURE" in browser.find_element(f"#{ids.ALARMS}").text


def test_the_whole_experiment_is_drawn_with_its_spike_in_at_most_5000_points(
    browser, long_run
) -> None:
    app, experiment_id = long_run
    open_page(browser, app, experiment_id)

    voltage, current = graph_traces(browser)[:2]
    assert voltage["name"] == "Voltage / V" and current["name"] == "Current / A"
    assert len(voltage["y"]) <= 5000 and max(voltage["y"]) == 9.0
    assert "100,000 samples drawn as" in browser.find_element(f"#{ids.RESOLUTION}").text


def test_zooming_reads_finer_data_down_to_every_sample(browser, long_run) -> None:
    app, experiment_id = long_run
    open_page(browser, app, experiment_id)
    whole = graph_traces(browser)[0]

    # 2,000 s around the spike: every sample of that range, the spike among them.
    start, end = (T0 + SPIKE_SEQ - 1000) * 1000, (T0 + SPIKE_SEQ + 1000) * 1000
    relayout(browser, {"xaxis.range[0]": start, "xaxis.range[1]": end})
    browser.wait_for_contains_text(f"#{ids.RESOLUTION}", "Every sample of this range", timeout=10)
    zoomed = graph_traces(browser)[0]
    assert len(zoomed["x"]) == 2001 and max(zoomed["y"]) == 9.0
    assert zoomed["x"][1] - zoomed["x"][0] == 1000.0  # one sample a second
    assert len(whole["x"]) < 5000
    # The CSV link follows the range on screen.
    href = browser.find_element(f"#{ids.CSV_VIEW}").get_attribute("href")
    assert f"/export/experiments/{experiment_id}.csv?start=" in href

    relayout(browser, {"xaxis.autorange": True})
    browser.wait_for_contains_text(f"#{ids.RESOLUTION}", "100,000 samples drawn as", timeout=10)


def test_steps_stay_square_lines_are_drawn_as_held_values(browser, long_run) -> None:
    app, experiment_id = long_run
    open_page(browser, app, experiment_id)
    shapes = browser.driver.execute_script(
        f"return document.querySelector('#{ids.GRAPH} .js-plotly-plot').data.map(t => t.line.shape);"
    )
    assert set(shapes) == {"hv"}


def test_the_time_axis_can_count_from_the_start_in_hours(browser, long_run) -> None:
    app, experiment_id = long_run
    open_page(browser, app, experiment_id)

    select = browser.find_element(f"#{ids.AXIS}")
    browser.driver.execute_script(
        "const s = arguments[0]; s.value = 'h'; s.dispatchEvent(new Event('change', {bubbles: true}));",
        select,
    )
    until(
        lambda: (
            browser.driver.execute_script(
                f"return document.querySelector('#{ids.GRAPH} .js-plotly-plot').layout.xaxis.title.text;"
            )
            == "Time from start / h"
        ),
        timeout=10,
    )
    x = graph_traces(browser)[0]["x"]
    assert x[0] == 0.0 and x[-1] == pytest.approx(99_999 / 3600, rel=1e-6)


def test_extra_channels_are_added_on_demand_with_their_unit(browser, long_run) -> None:
    app, experiment_id = long_run
    open_page(browser, app, experiment_id)
    browser.select_dcc_dropdown(f"#{ids.EXTRAS}", "temp_body / °C")
    until(lambda: len(graph_traces(browser)) == 3, timeout=10)
    temperature = graph_traces(browser)[2]
    assert temperature["name"] == "temp_body / °C" and max(temperature["y"]) == pytest.approx(25.99)


def test_an_error_shows_its_reason(browser, app_factory) -> None:
    app = app_factory()
    experiment_id = add_experiment(
        engine_of(app), "short run", samples=10, status=ExperimentStatus.ERROR,
        message="station 3 did not confirm the start",
    )  # fmt: skip
    open_page(browser, app, experiment_id)
    assert "station 3 did not confirm the start" in browser.find_element(f"#{ids.REASON}").text


def test_a_queued_experiment_has_a_page_without_samples(browser, app_factory) -> None:
    app = app_factory()
    experiment_id = add_experiment(engine_of(app), "waiting", status=ExperimentStatus.QUEUED)
    open_page(browser, app, experiment_id)
    assert browser.find_element(f"#{ids.STATUS}").text == "QUEUED"
    assert "No samples yet" in browser.find_element(f"#{ids.GRAPH}").text


@pytest.mark.parametrize(("path", "message"), [("999", "There is no experiment 999."),
                                               ("abc", "“abc” is not an experiment number."),
                                               ("99999999999999999999", "There is no experiment")])  # fmt: skip
def test_an_unknown_experiment_gets_a_friendly_message(browser, app_factory, path, message) -> None:
    browser.start_server(app_factory())
    browser.wait_for_page(f"{browser.server_url}/experiments/{path}", timeout=10)
    browser.wait_for_contains_text(f"#{ids.NOT_FOUND}", message, timeout=10)
    assert browser.get_logs() == []


def test_a_running_experiment_s_page_keeps_itself_current(browser, app_factory) -> None:
    app = app_factory()
    engine = engine_of(app)
    experiment_id = add_experiment(engine, "live", samples=100, status=ExperimentStatus.RUNNING)
    open_page(browser, app, experiment_id)
    assert len(graph_traces(browser)[0]["x"]) == 100

    add_samples(engine, experiment_id, range(100, 160))
    until(lambda: "160" in browser.find_element(f"#{ids.FACTS}").text, timeout=15)
    until(lambda: len(graph_traces(browser)[0]["x"]) == 160, timeout=15)
