"""The HTML report: one file with every section, drawn with no network, text escaped."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import Any

import pytest
from sqlalchemy import Engine, update

from components.report import experiment_report
from components.urls import experiment_report_url
from datastore import ingest
from datastore.models import Experiment
from tests.web.lab_data import T0, add_experiment

HOSTILE = '<img src=x onerror="alert(1)">'


class _Outline(HTMLParser):
    """What a browser would fetch (src and href of any element), the headings, the
    scripts, and any tag the report did not write itself."""

    def __init__(self) -> None:
        super().__init__()
        self.fetched: list[str] = []
        self.headings: list[str] = []
        self.scripts: list[str] = []
        self.tags: set[str] = set()
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.fetched += [value or "" for name, value in attrs if name in ("src", "href")]
        if tag in ("h2", "script"):
            self._in = tag
            if tag == "script":
                self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "h2":
            self.headings.append(data)
        elif self._in == "script":
            self.scripts[-1] += data


def outline(report: str) -> _Outline:
    parser = _Outline()
    parser.feed(report)
    parser.close()
    return parser


def figures(parsed: _Outline) -> list[dict[str, Any]]:
    found = []
    for script in parsed.scripts:
        match = re.match(r"\(function\(\)\{var f=(.*);Plotly\.newPlot\(", script, re.S)
        if match:
            found.append(json.loads(match.group(1)))
    return found


@pytest.fixture
def engine(app_factory) -> Engine:
    return app_factory().server.extensions["bem"].store.engine


@pytest.fixture
def cycled(engine: Engine) -> int:
    """Three cycles of 1 A for an hour each way, one hostile name and alarm message."""
    experiment_id = add_experiment(engine, "ageing", samples=6 * 3600, period_s=1.0)
    with engine.begin() as connection:
        connection.execute(
            update(Experiment)
            .where(Experiment.id == experiment_id)
            .values(name=HOSTILE, description="fade & <b>bold</b>")
        )
        ingest.insert_alarm(connection, experiment_id, T0 + 10, "OVER_TEMP", 61.0, HOSTILE)
    return experiment_id


def test_the_report_has_every_section_and_fetches_nothing(engine: Engine, cycled: int) -> None:
    parsed = outline(experiment_report(engine, cycled))
    for section in ("Facts", "Profile and steps", "Voltage and current", "Capacity and retention",
                    "Efficiency", "Mean voltages", "Voltage against capacity, cycles 1, 2, 3",
                    "dQ/dV, cycles 1, 2, 3", "Cycles", "Alarms"):  # fmt: skip
        assert section in parsed.headings
    # Everything is in the file: no script, style sheet, image or frame comes from elsewhere.
    assert parsed.fetched == []
    assert not parsed.tags & {"link", "img", "iframe", "object", "embed"}
    assert "Plotly.newPlot" in parsed.scripts[-1]
    assert len(parsed.scripts[0]) > 1_000_000  # plotly.js itself, inline


def test_the_figures_hold_the_data(engine: Engine, cycled: int) -> None:
    drawn = figures(outline(experiment_report(engine, cycled)))
    voltage_and_current = drawn[0]
    names = [trace["name"] for trace in voltage_and_current["data"]]
    assert names == ["Voltage / V", "Current / A"]
    current = voltage_and_current["data"][1]["y"]
    assert 0 < len(current) <= 5000 and min(current) == -1.0 and max(current) == 1.0

    capacity = drawn[1]
    discharge = next(trace for trace in capacity["data"] if trace["name"] == "Discharge / Ah")
    assert discharge["x"] == [1, 2, 3]
    assert discharge["y"] == pytest.approx([1.0, 1.0, 1.0], abs=2e-4)
    assert "Cycles to 80 % retention: not reached" in capacity["layout"]["title"]["text"]
    voltage_capacity = drawn[4]
    assert [trace["name"] for trace in voltage_capacity["data"]] == [
        f"cycle {n} {half}" for n in (1, 2, 3) for half in ("charge", "discharge")
    ]
    assert max(voltage_capacity["data"][0]["x"]) == pytest.approx(1.0, abs=2e-3)


def test_the_cycle_table_lists_each_cycle(engine: Engine, cycled: int) -> None:
    report = experiment_report(engine, cycled)
    table = report[report.index("<h2>Cycles</h2>") :]
    assert "3 cycles." in table
    # 1 A for 3,600 s each way: 1 Ah charged and discharged, 100 % coulombic efficiency.
    rows = re.findall(r"<tr>(.*?)</tr>", table[: table.index("</table>")])
    cells = [re.findall(r'<td class="num">(.*?)</td>', row) for row in rows[1:]]
    assert [row[0] for row in cells] == ["1", "2", "3"]
    for row in cells:  # the first hour of samples spans 3,599 s: 0.9999 Ah
        assert float(row[3]) == pytest.approx(1.0, abs=2e-4)
        assert float(row[4]) == pytest.approx(1.0, abs=2e-4)
    assert all(row[7] == "100.00" for row in cells)


def test_text_from_the_data_is_escaped(engine: Engine, cycled: int) -> None:
    report = experiment_report(engine, cycled)
    assert HOSTILE not in report
    assert "<b>bold</b>" not in report
    assert html_escaped(HOSTILE) in report
    assert "fade &amp; &lt;b&gt;bold&lt;/b&gt;" in report


def html_escaped(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def test_an_experiment_without_samples_has_a_report_too(engine: Engine) -> None:
    experiment_id = add_experiment(engine, "not started")
    parsed = outline(experiment_report(engine, experiment_id))
    assert "Voltage and current" not in parsed.headings
    assert {"Facts", "Cycles", "Alarms"} <= set(parsed.headings)


def test_an_unknown_experiment_is_a_lookup_error(engine: Engine) -> None:
    with pytest.raises(LookupError, match="experiment 999 does not exist"):
        experiment_report(engine, 999)


def test_the_web_app_serves_and_downloads_the_report(app_factory) -> None:
    app = app_factory()
    engine = app.server.extensions["bem"].store.engine
    experiment_id = add_experiment(engine, "served", samples=100)
    client = app.server.test_client()

    shown = client.get(experiment_report_url(experiment_id))
    assert shown.status_code == 200 and shown.mimetype == "text/html"
    assert "Content-Disposition" not in shown.headers
    assert "<h1>served</h1>" in shown.get_data(as_text=True)

    saved = client.get(experiment_report_url(experiment_id, download=True))
    assert saved.headers["Content-Disposition"] == (
        f'attachment; filename="experiment-{experiment_id}-report.html"'
    )
    missing = client.get(experiment_report_url(424242))
    assert missing.status_code == 404
    assert missing.get_data(as_text=True) == "There is no experiment 424242.\n"
