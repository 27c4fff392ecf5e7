"""Text from people and cyclers in figures: escaped, so Plotly never draws it as markup.

A channel named with an `<a href>` tag used to become a live link in the chart legend.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from components.vi_figure import VOLTAGE, TraceDef, build_figure
from domain.compare import CompareView, ExperimentFacts
from domain.cycles import CycleTotals
from domain.formatting import plot_text
from pages.compare.figures import cycle_figure
from tests.web.lab_data import add_experiment

LINK = '<a href="https://evil.example/">click</a>'
ESCAPED_LINK = '&lt;a href="https://evil.example/"&gt;click&lt;/a&gt;'


def strings(figure: Any) -> list[str]:
    """Every string Plotly may draw: all of the figure but the traces' `meta`, which the
    page's callbacks read and Plotly never shows."""
    if isinstance(figure, str):
        return [figure]
    if isinstance(figure, dict):
        return [s for key, value in figure.items() if key != "meta" for s in strings(value)]
    if isinstance(figure, list | tuple):
        return [s for value in figure for s in strings(value)]
    return []


def assert_no_markup_from(figure: dict[str, Any]) -> None:
    drawn = strings(figure)
    assert not any("<a " in s or "</a>" in s for s in drawn)
    assert any(ESCAPED_LINK in s for s in drawn)


def test_plot_text_escapes_the_html_plotly_would_draw() -> None:
    assert plot_text(LINK) == ESCAPED_LINK
    assert plot_text("T < 5 & V > 3") == "T &lt; 5 &amp; V &gt; 3"
    assert plot_text("Temperature") == "Temperature"


def test_a_hostile_channel_name_is_text_in_the_legend_and_the_hover() -> None:
    channel = TraceDef("ch:7", LINK, "°C", "y3")
    series = {
        VOLTAGE.key: (np.array([1.0, 2.0]), np.array([3.7, 3.8])),
        channel.key: (np.array([1.0, 2.0]), np.array([25.0, 26.0])),
    }
    figure = build_figure([VOLTAGE, channel], series, None, 1)
    trace = figure["data"][1]
    assert trace["name"] == ESCAPED_LINK + " / °C"
    assert trace["hovertemplate"].endswith(f"<extra>{ESCAPED_LINK}</extra>")
    assert_no_markup_from(figure)


def test_hostile_experiment_and_battery_names_are_text_in_the_comparison() -> None:
    facts = [ExperimentFacts(3, LINK, 2.0, {"battery": LINK})]
    cycles = {3: [CycleTotals(1, 0, 9, 0.0, 1.0, 3.0, 3.0, charge_ah=2.0, discharge_ah=1.9)]}
    figure = cycle_figure(facts, cycles, CompareView(ids=(3,)))
    assert_no_markup_from(figure)
    # The raw value stays in the trace's meta, which the page reads and Plotly never draws.
    assert any(t.get("meta", {}).get("value") == LINK for t in figure["data"])


@pytest.mark.browser
def test_a_battery_named_with_a_link_is_plain_text_in_the_drawn_legend(
    browser, app_factory, settings
) -> None:
    app = app_factory()
    engine = app.server.extensions["bem"].store.engine
    experiment_id = add_experiment(engine, samples=400, battery=LINK)
    browser.start_server(app)
    browser.driver.get(f"{browser.server_url}/experiments/compare?ids={experiment_id}")
    browser.wait_for_element(".js-plotly-plot .legend .legendtext", timeout=15)
    legend = browser.find_elements(".js-plotly-plot .legend")
    assert any(LINK in element.text for element in legend)  # shown as typed
    assert browser.find_elements(".js-plotly-plot a") == []  # and not as a link
    assert browser.get_logs() == []
