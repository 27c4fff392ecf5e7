"""The experiment page's cycle analysis: per-cycle plots from the cycle table, retention
on either basis, V–Q and dQ/dV of chosen cycles, the cycle table and its CSV."""

from __future__ import annotations

from typing import Any

import pytest
from dash.testing.wait import until
from selenium.webdriver.common.by import By

from components.urls import cycle_csv_url
from datastore.cycles import experiment_cycles
from domain.csvformat import CYCLE_COLUMNS
from domain.status import ExperimentStatus
from pages.experiment import ids
from tests.web.browser_helpers import pick
from tests.web.lab_data import add_experiment, add_fading_cycles, engine_of

CYCLES = 6
# 0.6 V/Ah on charge and on discharge (tests/web/lab_data.add_fading_cycles).
SLOPE_V_PER_AH = 0.6


def traces(browser: Any, graph_id: str) -> list[dict[str, Any]]:
    return browser.driver.execute_script(
        f"const p = document.querySelector('#{graph_id} .js-plotly-plot');"
        "return p && p.data ? p.data.map(t => ({name: t.name, x: Array.from(t.x || []),"
        " y: Array.from(t.y || [])})) : [];"
    )


def figure_title(browser: Any, graph_id: str) -> str:
    return browser.driver.execute_script(
        f"const p = document.querySelector('#{graph_id} .js-plotly-plot');"
        "return p && p.layout && p.layout.title ? p.layout.title.text : '';"
    )


@pytest.fixture
def fading(app_factory):
    """A finished experiment of six cycles whose discharge capacity falls 5 % a cycle."""
    app = app_factory()
    engine = engine_of(app)
    experiment_id = add_experiment(engine, "fading cell")
    add_fading_cycles(engine, experiment_id, CYCLES)
    return app, experiment_id


def open_cycles(browser: Any, app: Any, experiment_id: int) -> None:
    browser.start_server(app)
    browser.wait_for_page(f"{browser.server_url}/experiments/{experiment_id}", timeout=10)
    until(lambda: len(traces(browser, ids.CYCLE_CAPACITY)) == 3, timeout=15)


def test_the_capacity_plot_has_one_point_per_cycle_and_names_cycles_to_80(browser, fading) -> None:
    app, experiment_id = fading
    rows = experiment_cycles(engine_of(app), experiment_id)
    open_cycles(browser, app, experiment_id)

    charge, discharge, kept = traces(browser, ids.CYCLE_CAPACITY)
    assert charge["x"] == discharge["x"] == kept["x"] == list(range(1, CYCLES + 1))
    assert discharge["y"] == [pytest.approx(row.discharge_ah, abs=1e-6) for row in rows]
    # 1 Ah a cycle less 5 % each time (with half a sample interval of each current step).
    assert discharge["y"][0] == pytest.approx(1.0, abs=0.01)
    assert discharge["y"][-1] == pytest.approx(0.75, abs=0.01)
    assert kept["y"][0] == pytest.approx(100.0)
    assert kept["y"][4] == pytest.approx(80.0, abs=0.3) and kept["y"][5] < 80
    assert "Cycles to 80 % retention: cycle 6" in figure_title(browser, ids.CYCLE_CAPACITY)
    # The efficiencies, in %, and the mean voltages follow the table.
    coulombic = traces(browser, ids.CYCLE_EFFICIENCY)[0]
    assert coulombic["y"][1] == pytest.approx(100 * rows[1].coulombic_efficiency, abs=1e-4)
    mean_charge = traces(browser, ids.CYCLE_VOLTAGE)[0]
    assert mean_charge["y"][0] == pytest.approx(3.8, abs=0.01)  # halfway from 3.5 to 4.1 V
    # The cycle table lists each cycle with its capacity rounded to 0.1 mAh.
    grid = browser.find_element(f"#{ids.CYCLE_TABLE}").text
    assert f"{round(rows[3].discharge_ah, 4)}" in grid
    assert browser.get_logs() == []


def test_the_retention_toggle_changes_the_reference(browser, fading) -> None:
    app, experiment_id = fading
    rows = experiment_cycles(engine_of(app), experiment_id)
    open_cycles(browser, app, experiment_id)
    first_cycle = traces(browser, ids.CYCLE_CAPACITY)[2]["y"]
    assert first_cycle == [
        pytest.approx(100 * row.discharge_ah / rows[0].discharge_ah, abs=1e-4) for row in rows
    ]

    labels = browser.find_element(f"#{ids.CYCLE_BASIS}").find_elements(By.TAG_NAME, "label")
    nominal_label = next(label for label in labels if label.text == "the nominal capacity")
    browser.driver.execute_script("arguments[0].click();", nominal_label)
    until(lambda: "nominal capacity" in figure_title(browser, ids.CYCLE_CAPACITY), timeout=10)
    nominal = traces(browser, ids.CYCLE_CAPACITY)[2]["y"]
    # The battery's nominal capacity is 2 Ah: every percentage halves.
    assert nominal == [pytest.approx(100 * row.discharge_ah / 2.0, abs=1e-4) for row in rows]
    assert nominal[0] == pytest.approx(50.0, abs=0.5)
    assert "Cycles to 80 % retention: cycle 1" in figure_title(browser, ids.CYCLE_CAPACITY)


def test_chosen_cycles_get_their_v_q_and_dq_dv_curves(browser, fading) -> None:
    app, experiment_id = fading
    rows = {row.cycle: row for row in experiment_cycles(engine_of(app), experiment_id)}
    open_cycles(browser, app, experiment_id)

    # By default the first, the middle and the last cycle.
    until(lambda: len(traces(browser, ids.CYCLE_VQ)) == 6, timeout=10)
    names = [trace["name"] for trace in traces(browser, ids.CYCLE_VQ)]
    assert names == [f"cycle {n} {half}" for n in (1, 4, 6) for half in ("charge", "discharge")]

    pick(browser, ids.CYCLE_PICKER, "cycle 2")
    until(lambda: len(traces(browser, ids.CYCLE_VQ)) == 8, timeout=10)
    curves = {trace["name"]: trace for trace in traces(browser, ids.CYCLE_VQ)}
    # Capacity counts from the start of each half-cycle, one 10 s sample apart at 1 A: the
    # charge's 360 samples make 359 intervals; the discharge (360, 342, … samples) adds half
    # of the interval where the current steps from +1 to -1 A. The cycle table also counts
    # the step at the cycle's start, so the two differ by at most a half interval each end.
    half_step = 0.5 * 10 / 3600
    for n in (1, 2, 4, 6):
        charge_end = curves[f"cycle {n} charge"]["x"][-1]
        assert charge_end == pytest.approx(359 * 10 / 3600, abs=1e-6)
        discharged = round(360 * (1 - 0.05 * (n - 1)))
        discharge_end = curves[f"cycle {n} discharge"]["x"][-1]
        assert discharge_end == pytest.approx(half_step + (discharged - 1) * 10 / 3600, abs=1e-6)
        assert rows[n].charge_ah - charge_end <= 2 * half_step + 1e-5  # sent to 6 decimals
        assert rows[n].discharge_ah - discharge_end <= half_step + 1e-5
    assert curves["cycle 2 charge"]["y"][0] == pytest.approx(3.5)

    until(lambda: len(traces(browser, ids.CYCLE_DQDV)) == 8, timeout=10)
    derivatives = {trace["name"]: trace for trace in traces(browser, ids.CYCLE_DQDV)}
    # A linear voltage: dQ/dV is one over the slope, positive on charge, negative on discharge.
    charge = derivatives["cycle 2 charge"]["y"]
    assert charge[len(charge) // 2] == pytest.approx(1 / SLOPE_V_PER_AH, rel=0.02)
    discharge = derivatives["cycle 2 discharge"]["y"]
    assert discharge[len(discharge) // 2] == pytest.approx(-1 / SLOPE_V_PER_AH, rel=0.02)
    assert (
        "Every sample of the chosen cycles"
        in browser.find_element(f"#{ids.CYCLE_CURVES_NOTE}").text
    )


def test_a_running_experiment_s_cycle_plots_keep_themselves_current(browser, app_factory) -> None:
    app = app_factory()
    engine = engine_of(app)
    experiment_id = add_experiment(engine, "live cycling", status=ExperimentStatus.RUNNING)
    add_fading_cycles(engine, experiment_id, 2)
    open_cycles(browser, app, experiment_id)
    assert traces(browser, ids.CYCLE_CAPACITY)[1]["x"] == [1, 2]

    add_fading_cycles(engine, experiment_id, 3, stored=2)
    until(lambda: traces(browser, ids.CYCLE_CAPACITY)[1]["x"] == [1, 2, 3], timeout=15)
    discharge = traces(browser, ids.CYCLE_CAPACITY)[1]["y"]
    assert discharge[2] == pytest.approx(0.90, abs=0.01)
    assert len(traces(browser, ids.CYCLE_EFFICIENCY)[0]["x"]) == 3


def test_the_cycle_csv_link_downloads_the_cycle_table(browser, fading) -> None:
    app, experiment_id = fading
    open_cycles(browser, app, experiment_id)
    href = browser.find_element(f"#{ids.CYCLE_CSV}").get_attribute("href")
    assert href.endswith(cycle_csv_url(experiment_id))

    response = app.server.test_client().get(cycle_csv_url(experiment_id))
    assert response.status_code == 200 and response.mimetype == "text/csv"
    lines = response.get_data(as_text=True).splitlines()
    assert lines[0] == ",".join(header for header, _name in CYCLE_COLUMNS)
    assert len(lines) == 1 + CYCLES
    first = dict(zip(lines[0].split(","), lines[1].split(","), strict=True))
    assert first["Cycle Count / 1"] == "1"
    assert float(first["Discharge Capacity / Ah"]) == pytest.approx(1.0, abs=0.01)


def test_the_cycle_csv_of_an_unknown_experiment_is_a_plain_404(app_factory) -> None:
    response = app_factory().server.test_client().get(cycle_csv_url(999))
    assert response.status_code == 404
    assert response.get_data(as_text=True) == "There is no experiment 999.\n"


def test_an_experiment_without_samples_says_why_there_are_no_cycles(browser, app_factory) -> None:
    app = app_factory()
    experiment_id = add_experiment(engine_of(app), "waiting", status=ExperimentStatus.QUEUED)
    browser.start_server(app)
    browser.wait_for_page(f"{browser.server_url}/experiments/{experiment_id}", timeout=10)
    browser.wait_for_contains_text(
        f"#{ids.CYCLES_EMPTY}", "No samples yet, so there are no cycles to analyse.", timeout=10
    )
    assert not browser.find_element(f"#{ids.CYCLES}").is_displayed()
    assert browser.get_logs() == []
