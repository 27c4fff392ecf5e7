"""The experiments table's view in the URL: read leniently, written canonically."""

from __future__ import annotations

import datetime as dt

import pytest

from domain.experiment_filter import (
    DEFAULT_SORT,
    ExperimentFilter,
    TableView,
    from_query,
    to_query,
)
from domain.status import ExperimentStatus


def test_the_default_view_has_an_empty_query() -> None:
    assert to_query(TableView()) == ""
    assert from_query("") == TableView()


def test_every_field_goes_to_the_query_and_back() -> None:
    view = TableView(
        filter=ExperimentFilter(
            text="ageing 25 °C",
            technology="lithium-ion",
            battery_id=3,
            station_id=7,
            profile_id=2,
            statuses=(ExperimentStatus.RUNNING, ExperimentStatus.ERROR),
            created_from=dt.date(2026, 1, 1),
            created_to=dt.date(2026, 3, 31),
        ),
        sort=(("battery", True), ("created", False)),
        page=3,
        page_size=100,
    )
    query = to_query(view)
    assert query.startswith("?q=ageing+25+%C2%B0C&technology=lithium-ion&battery=3")
    assert "status=RUNNING%2CERROR" in query and "sort=battery%2C-created" in query
    assert from_query(query) == view


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?battery=abc", TableView()),
        ("?battery=-4", TableView()),
        (
            "?status=running,nonsense,RUNNING",
            TableView(ExperimentFilter(statuses=(ExperimentStatus.RUNNING,))),
        ),
        ("?from=2026-13-01", TableView()),
        ("?sort=-password,name", TableView(sort=(("name", True),))),
        ("?sort=evil", TableView(sort=DEFAULT_SORT)),
        ("?page=0&size=7", TableView()),
        ("?q=" + "x" * 500, TableView(ExperimentFilter(text="x" * 200))),
    ],
)
def test_malformed_values_are_dropped_not_errors(query: str, expected: TableView) -> None:
    assert from_query(query) == expected


def test_a_new_filter_goes_back_to_the_first_page() -> None:
    view = TableView(page=4).with_filter(ExperimentFilter(text="cell"))
    assert view.page == 1 and view.filter.text == "cell"
