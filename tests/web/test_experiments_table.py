"""The experiments table in the browser: search, filters and sort in the address, paging,
opening a row, comparing ticked rows, cancelling queued ones, and refreshing itself."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from dash.testing.wait import until
from sqlalchemy import select
from sqlalchemy.orm import Session

from datastore.models import Experiment
from domain.status import ExperimentStatus
from pages.experiments import ids
from tests.web.lab_data import add_experiment, add_samples, engine_of

pytestmark = pytest.mark.browser


def grid_rows(browser: Any) -> list[dict[str, Any]]:
    """The rows the grid shows, in order: {column id: cell text}."""
    return browser.driver.execute_script(
        """
        const rows = [...document.querySelectorAll('#experiments-grid .ag-center-cols-container .ag-row')];
        rows.sort((a, b) => Number(a.getAttribute('row-index')) - Number(b.getAttribute('row-index')));
        return rows.map(row => Object.fromEntries(
            [...row.querySelectorAll('.ag-cell')].map(c => [c.getAttribute('col-id'), c.innerText.trim()])));
        """
    )


def query_of(browser: Any) -> dict[str, list[str]]:
    return parse_qs(urlparse(browser.driver.current_url).query)


@pytest.fixture
def lab(app_factory):
    """Twelve experiments: ageing tests and rate tests, of two technologies, in several
    statuses, one queued, one failed with a reason."""
    app = app_factory()
    engine = engine_of(app)
    ids_by_name = {}
    for number in range(12):
        kind = "ageing" if number % 2 == 0 else "rate test"
        status = [
            ExperimentStatus.FINISHED, ExperimentStatus.RUNNING, ExperimentStatus.ERROR,
            ExperimentStatus.QUEUED, ExperimentStatus.CANCELLED, ExperimentStatus.FINISHED,
        ][number % 6]  # fmt: skip
        name = f"{kind} {number:02d}"
        ids_by_name[name] = add_experiment(
            engine,
            name,
            status=status,
            battery="lead block" if number >= 9 else "NMC cell",
            technology="lead-acid" if number >= 9 else "lithium-ion",
            message="over-voltage alarm" if status == ExperimentStatus.ERROR else "",
            created=dt.datetime(2026, 3, 1, tzinfo=dt.UTC) + dt.timedelta(days=number),
            samples=5 if status != ExperimentStatus.QUEUED else 0,
        )
    return app, ids_by_name


def open_table(browser: Any, app: Any, query: str = "") -> None:
    browser.start_server(app)
    browser.wait_for_page(f"{browser.server_url}/experiments{query}", timeout=10)
    browser.wait_for_element("#experiments-grid .ag-row", timeout=10)


def test_newest_first_with_readable_dates_coloured_status_and_the_reason(browser, lab) -> None:
    app, _ids = lab
    open_table(browser, app)
    rows = grid_rows(browser)
    assert [row["name"] for row in rows[:3]] == ["rate test 11", "ageing 10", "rate test 09"]
    assert rows[0]["created"] == "2026-03-12 00:00:00"
    failed = next(row for row in rows if row["status"] == "ERROR")
    assert failed["reason"] == "over-voltage alarm"
    colour = browser.driver.execute_script(
        "return getComputedStyle(document.querySelector('.status-cell.status-danger')).color;"
    )
    assert colour == "rgb(220, 53, 69)"
    assert "12 experiments match" in browser.find_element(f"#{ids.SUMMARY}").text


def test_search_goes_into_the_address_and_a_bookmark_restores_it(browser, lab) -> None:
    app, _ids = lab
    open_table(browser, app)
    search = browser.find_element(f"#{ids.SEARCH}")
    search.send_keys("ageing")
    until(lambda: all("ageing" in row["name"] for row in grid_rows(browser)), timeout=10)
    until(lambda: query_of(browser).get("q") == ["ageing"], timeout=10)
    assert len(grid_rows(browser)) == 6

    browser.driver.get(browser.driver.current_url)  # the bookmark, opened again
    browser.wait_for_element("#experiments-grid .ag-row", timeout=10)
    assert browser.find_element(f"#{ids.SEARCH}").get_attribute("value") == "ageing"
    assert len(grid_rows(browser)) == 6


def test_filters_from_the_address_narrow_the_table(browser, lab) -> None:
    app, _ids = lab
    open_table(browser, app, "?technology=lead-acid&status=FINISHED,RUNNING")
    rows = grid_rows(browser)
    assert {row["technology"] for row in rows} == {"lead-acid"}
    assert {row["status"] for row in rows} <= {"FINISHED", "RUNNING"}
    assert [row["name"] for row in rows] == ["rate test 11"]


def test_a_date_range_keeps_only_experiments_created_in_it(browser, lab) -> None:
    app, _ids = lab
    open_table(browser, app, "?from=2026-03-03&to=2026-03-05")
    assert sorted(row["name"] for row in grid_rows(browser)) == [
        "ageing 02", "ageing 04", "rate test 03",
    ]  # fmt: skip


def test_sorting_by_a_column_is_done_by_the_database_and_kept_in_the_address(browser, lab) -> None:
    app, _ids = lab
    open_table(browser, app, "?size=25")
    browser.find_element(
        "#experiments-grid .ag-header-cell[col-id='name'] .ag-header-cell-label"
    ).click()
    until(lambda: query_of(browser).get("sort") == ["name"], timeout=10)
    names = [row["name"] for row in grid_rows(browser)]
    assert names == sorted(names)


def test_pages_of_rows_go_through_the_pager_and_the_address(browser, app_factory) -> None:
    app = app_factory()
    for number in range(30):
        add_experiment(
            engine_of(app),
            f"run {number:02d}",
            created=dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(hours=number),
        )
    open_table(browser, app, "?size=25")
    assert len(grid_rows(browser)) == 25
    last_page = browser.find_element(f"#{ids.PAGER} .page-item:last-child .page-link")
    browser.driver.execute_script(
        "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", last_page
    )
    last_page.click()
    until(lambda: query_of(browser).get("page") == ["2"], timeout=10)
    until(
        lambda: (
            [row["name"] for row in grid_rows(browser)]
            == [f"run {n:02d}" for n in range(4, -1, -1)]
        ),
        timeout=10,
    )
    assert "showing 26–30" in browser.find_element(f"#{ids.SUMMARY}").text


def test_a_row_opens_its_experiment(browser, lab) -> None:
    app, experiment_ids = lab
    open_table(browser, app)
    browser.find_element(
        "#experiments-grid .ag-row[row-index='0'] .ag-cell[col-id='samples']"
    ).click()
    until(
        lambda: (
            urlparse(browser.driver.current_url).path
            == f"/experiments/{experiment_ids['rate test 11']}"
        ),
        timeout=10,
    )
    browser.wait_for_text_to_equal("#experiment-title", "rate test 11", timeout=10)


def test_ticked_rows_open_together_in_the_comparison(browser, lab) -> None:
    app, experiment_ids = lab
    open_table(browser, app)
    for index in (0, 1):
        browser.find_element(
            f"#experiments-grid .ag-row[row-index='{index}'] .ag-selection-checkbox input"
        ).click()
    browser.find_element(f"#{ids.COMPARE}").click()
    until(lambda: urlparse(browser.driver.current_url).path == "/experiments/compare", timeout=10)
    wanted = sorted([experiment_ids["rate test 11"], experiment_ids["ageing 10"]])
    assert query_of(browser)["ids"] == [",".join(map(str, wanted))]


def test_a_ticked_queued_experiment_is_cancelled_after_confirmation(browser, lab) -> None:
    app, experiment_ids = lab
    open_table(browser, app, "?status=QUEUED")
    assert [row["name"] for row in grid_rows(browser)] == ["rate test 09", "rate test 03"]
    browser.find_element(
        "#experiments-grid .ag-row[row-index='0'] .ag-selection-checkbox input"
    ).click()
    browser.find_element(f"#{ids.CANCEL}").click()
    browser.wait_for_element(f"#{ids.CANCEL_CONFIRM}", timeout=10).click()
    browser.wait_for_contains_text(
        f"#{ids.FEEDBACK}", f"Cancelled #{experiment_ids['rate test 09']}", timeout=10
    )
    with Session(engine_of(app)) as session:
        status = session.scalar(
            select(Experiment.status).where(Experiment.id == experiment_ids["rate test 09"])
        )
    assert status == ExperimentStatus.CANCELLED
    until(lambda: [row["name"] for row in grid_rows(browser)] == ["rate test 03"], timeout=10)


def test_the_table_refreshes_itself_as_samples_arrive(browser, lab) -> None:
    app, experiment_ids = lab
    open_table(browser, app, "?status=RUNNING")
    running = experiment_ids["rate test 07"]
    row = next(row for row in grid_rows(browser) if row["id"] == str(running))
    assert row["samples"] == "5"
    add_samples(engine_of(app), running, range(5, 1234))  # the node stores more
    until(
        lambda: (
            next(r for r in grid_rows(browser) if r["id"] == str(running))["samples"] == "1,234"
        ),
        timeout=25,
    )
