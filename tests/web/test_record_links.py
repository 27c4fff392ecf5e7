"""The name cells of the batteries, profiles and experiments lists: markdown links whose
text is the name as typed and whose address is the record's page, whatever the name."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from markdown_it import MarkdownIt

from domain.status import ExperimentStatus
from pages.batteries.table import grid_row as battery_row
from pages.profiles.table import grid_row as profile_row

HOSTILE_NAMES = [
    "a\\](https://evil.example)",  # a backslash that would escape the escape
    "cell\\",
    "*bold* `code` <b>tag</b> &amp; _x_",
    "![img](https://evil.example/x.png)",
    "[a](b) \\[c\\]",
]


def _links(cell: str) -> list[tuple[str, str]]:
    """(href, text) of each link the cell's markdown renders to (CommonMark)."""
    tokens = MarkdownIt("commonmark").parseInline(cell)[0].children or []
    links, text, href = [], "", None
    for token in tokens:
        if token.type == "link_open":
            href, text = token.attrGet("href"), ""
        elif token.type == "link_close":
            links.append((href, text))
            href = None
        elif href is not None:
            text += token.content
        else:
            return [("outside the link", token.content)]
    return links


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_battery_name_links_to_its_page_as_typed(name: str) -> None:
    battery = SimpleNamespace(
        id=7, name=name, technology="lithium-ion", details={}, manufacturer="", model="",
        serial_number="", nominal_capacity_ah=None, voltage_min=2.5, voltage_max=4.2,
        current_min=-1, current_max=1,
    )  # fmt: skip
    assert _links(battery_row(battery, 0)["name"]) == [("/batteries/7", name)]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_profile_name_links_to_its_page_as_typed(name: str) -> None:
    row = {"id": 3, "name": name, "version": 1, "description": "", "step_count": 1}
    row |= dict.fromkeys(("voltage", "current", "c_rate", "power"), None)
    row |= {f"{k}_{end}": None for k in ("voltage", "current", "c_rate", "power")
            for end in ("min", "max")}  # fmt: skip
    row["experiments"] = 0
    assert _links(profile_row(row)["name"]) == [("/profiles/3", name)]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_an_experiment_name_links_to_its_page_as_typed(app_factory, name: str) -> None:
    app_factory()  # the pages register themselves with an app
    from pages.experiments.page import _row as experiment_row

    row = SimpleNamespace(
        id=5, name=name, status=ExperimentStatus.FINISHED, status_message="", battery="b",
        technology="lithium-ion", station="s", imported=False, profile="p",
        created_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC), began_at=None, finished_at=None,
        sample_count=0,
    )  # fmt: skip
    assert _links(experiment_row(row)["name"]) == [("/experiments/5", name)]
