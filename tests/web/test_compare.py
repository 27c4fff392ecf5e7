"""The compare page in the browser: groups by a battery detail, mean ± std bands with
known values, the CSV of the plotted rows, the view in the address, bad ids named; and
the CSV route's refusals (no browser: tests using the `browser` fixture are marked)."""

from __future__ import annotations

import csv
import io
import math
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from dash.testing.wait import until
from selenium.webdriver.common.by import By
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from components.urls import compare_csv_url, compare_url
from datastore.models import Battery, Cycle, Experiment
from pages.compare import ids
from tests.web.lab_data import add_experiment, engine_of

CYCLES = 10
CHARGE_AH = 2.0
# name: (cathode, fade per cycle in Ah, cycles run)
RUNS = {
    "slow A": ("A", 0.01, CYCLES),
    "fast A": ("A", 0.03, CYCLES),
    "slow B": ("B", 0.05, CYCLES),
    "=fast B": ("B", 0.07, 8),  # a name a spreadsheet would run; two cycles fewer
}


def discharge(fade: float, cycle: int) -> float:
    return round(2.0 - fade * (cycle - 1), 6)


def add_cycles(engine: Any, experiment_id: int, fade: float, count: int) -> None:
    rows = []
    for n in range(1, count + 1):
        out = discharge(fade, n)
        start = 1_800_000_000.0 + (n - 1) * 7200
        rows.append(
            dict(
                experiment_id=experiment_id, cycle=n, first_seq=(n - 1) * 100,
                last_seq=n * 100 - 1, samples=100, start_ts=start, end_ts=start + 7200,
                duration_s=7200.0, start_voltage=3.0, end_voltage=3.0, charge_ah=CHARGE_AH,
                discharge_ah=out, charge_wh=CHARGE_AH * 3.7, discharge_wh=out * 3.6,
                coulombic_efficiency=out / CHARGE_AH, energy_efficiency=None,
                mean_charge_voltage=3.7, mean_discharge_voltage=3.6,
            )
        )  # fmt: skip
    with engine.begin() as connection:
        connection.execute(insert(Cycle), rows)


@pytest.fixture
def lab(app_factory):
    """Four experiments on four batteries, two with cathode A and two with cathode B
    (a key of the batteries' details), each fading at its own rate."""
    app = app_factory()
    engine = engine_of(app)
    made = {}
    for number, (name, (cathode, fade, count)) in enumerate(RUNS.items()):
        experiment_id = add_experiment(engine, name, battery=f"cell {number + 1}")
        with Session(engine) as session, session.begin():
            battery_id = session.scalar(
                select(Experiment.battery_id).where(Experiment.id == experiment_id)
            )
            session.execute(
                update(Battery)
                .where(Battery.id == battery_id)
                .values(details={"chemistry": "NMC", "cathode": cathode})
            )
        add_cycles(engine, experiment_id, fade, count)
        made[name] = experiment_id
    return app, made


def figure_data(browser: Any, graph_id: str) -> list[dict[str, Any]]:
    return browser.driver.execute_script(
        f"const g = document.querySelector('#{graph_id} .js-plotly-plot');"
        "return g && g.data ? g.data.map(t => ({meta: t.meta, name: t.name, x: t.x, y: t.y,"
        " color: t.line && t.line.color, markerColor: t.marker && t.marker.color})) : [];"
    )


def traces(browser: Any, role: str, graph_id: str = ids.GRAPH) -> list[dict[str, Any]]:
    return [t for t in figure_data(browser, graph_id) if (t.get("meta") or {}).get("role") == role]


def query_of(browser: Any) -> dict[str, list[str]]:
    return parse_qs(urlparse(browser.driver.current_url).query)


def open_compare(browser: Any, app: Any, url: str) -> None:
    browser.start_server(app)
    browser.wait_for_page(f"{browser.server_url}{url}", timeout=10)


def test_colour_by_a_detail_gives_two_groups_and_their_bands(browser, lab) -> None:
    app, made = lab
    open_compare(browser, app, compare_url(list(made.values())))
    until(lambda: len(traces(browser, "experiment")) == 4, timeout=10)
    # Each battery has its own name: by battery, four colours.
    assert len({t["color"] for t in traces(browser, "experiment")}) == 4

    browser.select_dcc_dropdown(f"#{ids.COLOR}", "cathode (battery details)")
    until(lambda: query_of(browser).get("color") == ["details:cathode"], timeout=10)
    lines = traces(browser, "experiment")
    assert len({t["color"] for t in lines}) == 2
    colour_of = {t["meta"]["id"]: t["color"] for t in lines}
    assert colour_of[made["slow A"]] == colour_of[made["fast A"]]
    assert colour_of[made["slow B"]] == colour_of[made["=fast B"]]
    legend = {t["name"] for t in traces(browser, "legend")}
    assert legend == {"cathode (battery details): A", "cathode (battery details): B"}
    # The plotted values are the discharge capacities of the cycle table.
    slow_a = next(t for t in lines if t["meta"]["id"] == made["slow A"])
    assert slow_a["x"] == list(range(1, CYCLES + 1))
    assert slow_a["y"] == pytest.approx([discharge(0.01, n) for n in range(1, CYCLES + 1)])

    browser.find_element(f"#{ids.BANDS}").click()
    until(lambda: len(traces(browser, "band-mean")) == 2, timeout=10)
    means = {t["meta"]["group"]: t for t in traces(browser, "band-mean")}
    assert means["A"]["x"] == list(range(1, CYCLES + 1))
    assert means["A"]["y"] == pytest.approx(
        [(discharge(0.01, n) + discharge(0.03, n)) / 2 for n in range(1, CYCLES + 1)]
    )
    # Group B: cycles 9 and 10 were reached by one member only, so the band stops at 8.
    assert means["B"]["x"] == list(range(1, 9))
    assert means["B"]["y"][7] == pytest.approx((discharge(0.05, 8) + discharge(0.07, 8)) / 2)
    upper = next(t for t in traces(browser, "band-upper") if t["meta"]["group"] == "B")
    spread = abs(discharge(0.05, 8) - discharge(0.07, 8)) / math.sqrt(2)  # sample std of two
    assert upper["y"][7] == pytest.approx(means["B"]["y"][7] + spread)
    assert query_of(browser).get("bands") == ["1"]


def test_the_csv_holds_the_plotted_rows_with_safe_text(browser, lab) -> None:
    app, made = lab
    chosen = list(made.values())
    open_compare(browser, app, compare_url(chosen) + "&color=details:cathode&y=retention")
    until(lambda: len(traces(browser, "experiment")) == 4, timeout=10)
    href = browser.find_element(f"#{ids.CSV}").get_attribute("href")
    response = app.server.test_client().get(urlparse(href).path + "?" + urlparse(href).query)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == 3 * CYCLES + 8
    plotted = {t["meta"]["id"]: t for t in traces(browser, "experiment")}
    for row in rows:
        line = plotted[int(row["experiment_id"])]
        index = line["x"].index(int(row["cycle"]))
        assert float(row["retention_percent"]) == pytest.approx(line["y"][index])
        assert row["group_field"] == "cathode (battery details)"
    fast_b = [row for row in rows if int(row["experiment_id"]) == made["=fast B"]]
    assert fast_b[0]["experiment"] == "'=fast B" and fast_b[0]["group"] == "B"
    assert float(fast_b[7]["discharge_ah"]) == pytest.approx(discharge(0.07, 8))
    assert float(fast_b[7]["discharge_per_nominal"]) == pytest.approx(discharge(0.07, 8) / 2.0)
    assert float(fast_b[1]["throughput_ah"]) == pytest.approx(2 * CHARGE_AH + 2.0 + 1.93)


def test_a_bookmark_restores_every_choice(browser, lab) -> None:
    app, made = lab
    chosen = sorted(made.values())
    query = (
        f"?ids={','.join(map(str, chosen))}&plot=cycle&y=capacity&color=details:cathode"
        "&style=battery&norm=1&bands=1&merit=capacity&n=5&x=details:cathode"
    )
    open_compare(browser, app, "/experiments/compare" + query)
    until(lambda: len(traces(browser, "band-mean")) == 2, timeout=10)
    assert browser.find_element(f"#{ids.NORMALISE}").is_selected()
    assert browser.find_element(f"#{ids.BANDS}").is_selected()
    means = {t["meta"]["group"]: t for t in traces(browser, "band-mean")}
    # Normalised to the nominal 2 Ah.
    assert means["A"]["y"][0] == pytest.approx(1.0)
    assert means["A"]["y"][4] == pytest.approx((discharge(0.01, 5) + discharge(0.03, 5)) / 4)
    assert len({t["name"] for t in traces(browser, "legend")}) == 2 + 4  # colours + dashes
    # The figure of merit: capacity at cycle 5 over nominal, against the cathode.
    merit = {t["meta"]["group"]: t for t in traces(browser, "merit", ids.SCATTER)}
    assert merit["A"]["x"] == ["A", "A"]
    assert sorted(merit["A"]["y"]) == pytest.approx(
        sorted([discharge(0.01, 5) / 2, discharge(0.03, 5) / 2])
    )
    until(lambda: "n=5" in browser.driver.current_url, timeout=10)
    # Below 80 % (1.6 Ah): "=fast B" at cycle 7 (1.58 Ah), "slow B" at cycle 10 (1.55 Ah);
    # the A group never.
    browser.driver.get(browser.driver.current_url.replace("merit=capacity", "merit=cycles80"))
    browser.wait_for_contains_text(f"#{ids.MERIT_NOTE}", "Not below 80 % yet", timeout=10)
    note = browser.find_element(f"#{ids.MERIT_NOTE}").text
    assert "slow A" in note and "fast A" in note and " B" not in note
    (fell,) = traces(browser, "merit", ids.SCATTER)
    assert fell["meta"]["group"] == "B" and sorted(fell["y"]) == [7, 10]
    assert query_of(browser)["norm"] == ["1"] and query_of(browser)["style"] == ["battery"]


def test_bad_and_unknown_ids_are_named_and_an_empty_page_says_what_to_do(browser, lab) -> None:
    app, made = lab
    open_compare(browser, app, f"/experiments/compare?ids={made['slow A']},abc,9999")
    browser.wait_for_contains_text(f"#{ids.PROBLEMS}", "abc", timeout=10)
    problems = browser.find_element(f"#{ids.PROBLEMS}").text
    assert "abc" in problems and "9999" in problems and "Traceback" not in problems
    until(lambda: len(traces(browser, "experiment")) == 1, timeout=10)

    browser.wait_for_page(f"{browser.server_url}/experiments/compare", timeout=10)
    browser.wait_for_contains_text(f"#{ids.NOTE}", "No experiments chosen", timeout=10)
    link = browser.find_element(f"#{ids.NOTE} a")
    assert urlparse(link.get_attribute("href")).path == "/experiments"


def test_voltage_against_test_time_and_capacity_against_throughput(browser, app_factory) -> None:
    """From stored samples: two hours a cycle at ±1 A, one sample a second (lab_data)."""
    app = app_factory()
    engine = engine_of(app)
    first = add_experiment(engine, "first", samples=4 * 3600, battery="cell 1")
    second = add_experiment(engine, "second", samples=2 * 3600, battery="cell 2")
    open_compare(browser, app, compare_url([first, second]) + "&plot=time")
    until(lambda: len(traces(browser, "experiment")) == 2, timeout=10)
    lines = {t["meta"]["id"]: t for t in traces(browser, "experiment")}
    assert lines[first]["x"][0] == 0 and lines[first]["x"][-1] == pytest.approx(4 - 1 / 3600)
    assert lines[second]["x"][-1] == pytest.approx(2 - 1 / 3600)
    assert min(lines[first]["y"]) == pytest.approx(3.5) and max(lines[first]["y"]) <= 4.0

    browser.driver.find_element(
        By.XPATH, f"//*[@id='{ids.PLOT}']//label[contains(., 'charge throughput')]"
    ).click()
    until(lambda: query_of(browser).get("plot") == ["throughput"], timeout=10)
    until(lambda: len(traces(browser, "experiment")[0]["x"]) in (1, 2), timeout=10)
    lines = {t["meta"]["id"]: t for t in traces(browser, "experiment")}
    # Each cycle passes about 1 Ah in and 1 Ah out.
    assert lines[first]["x"] == pytest.approx([2.0, 4.0], abs=0.01)
    assert lines[first]["y"] == pytest.approx([1.0, 1.0], abs=0.01)


def test_the_csv_route_names_bad_and_unknown_ids(lab) -> None:
    app, made = lab
    client = app.server.test_client()
    response = client.get(compare_csv_url("?ids=1,x;DROP"))
    assert response.status_code == 400 and "x;DROP" in response.get_data(as_text=True)
    response = client.get(compare_csv_url(f"?ids={made['slow A']},9999"))
    assert response.status_code == 404 and "9999" in response.get_data(as_text=True)
    assert client.get(compare_csv_url("")).status_code == 404
