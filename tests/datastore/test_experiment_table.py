"""The experiments table query: filter, sort and page in the database."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from config import default_settings
from datastore import catalog
from datastore.experiment_table import experiment_page, filter_choices
from datastore.models import Experiment
from domain.experiment_filter import ExperimentFilter, TableView
from domain.status import ExperimentStatus

MAX_STEPS = default_settings().profiles.max_steps


@pytest.fixture
def lab(session: Session) -> dict[str, int]:
    """Two batteries of two technologies, two stations, two profiles and 30 experiments."""
    ids: dict[str, int] = {}
    for key, technology in (("nmc", "lithium-ion"), ("lead", "lead-acid")):
        ids[key] = catalog.create_battery(
            session, name=f"{key} cell", technology=technology, voltage_min=1.8,
            voltage_max=4.2, current_min=-5, current_max=5, nominal_capacity_ah=2.0,
        ).id  # fmt: skip
    for key in ("ch1", "ch2"):
        ids[key] = catalog.create_station(
            session, name=key, voltage_min=0, voltage_max=5, current_min=-10, current_max=10
        ).id
    for key, text in (("pulse", "CC, 1, TIME, 10\n"), ("rest", "WAIT, 60\n")):
        ids[key] = catalog.create_profile(session, name=key, source=text, max_steps=MAX_STEPS).id
    statuses = list(ExperimentStatus)
    # Queued first, given their statuses after: a running battery takes no new experiment.
    experiments = [
        catalog.queue_experiment(
            session,
            name=f"run {number:02d}" + (" ageing" if number % 3 == 0 else ""),
            description="50% depth" if number % 5 == 0 else "",
            battery_id=ids["nmc" if number % 2 else "lead"],
            station_id=ids["ch1" if number < 15 else "ch2"],
            profile_id=ids["pulse" if number % 4 else "rest"],
            max_steps=MAX_STEPS,
        )
        for number in range(30)
    ]
    for number, experiment in enumerate(experiments):
        session.execute(
            update(Experiment)
            .where(Experiment.id == experiment.id)
            .values(
                status=statuses[number % len(statuses)],
                created_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=number),
                sample_count=number * 100,
            )
        )
    session.commit()
    return ids


def names(session: Session, view: TableView) -> list[str]:
    return [row.name for row in experiment_page(session, view).rows]


def test_newest_first_one_page_at_a_time_with_the_total(session: Session, lab) -> None:
    first = experiment_page(session, TableView(page_size=25))
    second = experiment_page(session, TableView(page_size=25, page=2))
    assert first.total == second.total == 30
    assert [row.name[:6] for row in first.rows[:2]] == ["run 29", "run 28"]
    assert len(first.rows) == 25 and len(second.rows) == 5
    assert not {row.id for row in first.rows} & {row.id for row in second.rows}


def test_text_search_looks_in_name_and_description_ignoring_case(session: Session, lab) -> None:
    found = names(session, TableView(ExperimentFilter(text="AGEING")))
    assert len(found) == 10 and all("ageing" in name for name in found)
    # "%" is a character to find, not a wildcard.
    assert len(names(session, TableView(ExperimentFilter(text="50%")))) == 6
    assert names(session, TableView(ExperimentFilter(text="_"))) == []


def test_filters_combine(session: Session, lab) -> None:
    view = TableView(
        ExperimentFilter(
            technology="lithium-ion",
            station_id=lab["ch1"],
            profile_id=lab["pulse"],
            statuses=(ExperimentStatus.RUNNING, ExperimentStatus.QUEUED, ExperimentStatus.ERROR),
        )
    )
    page = experiment_page(session, view)
    assert page.total == len(page.rows) > 0
    for row in page.rows:
        assert row.technology == "lithium-ion" and row.station == "ch1"
        assert row.profile == "pulse" and row.status in view.filter.statuses


def test_the_date_range_includes_both_days(session: Session, lab) -> None:
    view = TableView(
        ExperimentFilter(created_from=dt.date(2026, 1, 3), created_to=dt.date(2026, 1, 5)),
        sort=(("created", True),),
    )
    assert [name[:6] for name in names(session, view)] == ["run 02", "run 03", "run 04"]


@pytest.mark.parametrize("key", ["name", "battery", "station", "samples", "status", "finished"])
def test_every_column_sorts_both_ways(session: Session, lab, key: str) -> None:
    ascending = experiment_page(session, TableView(sort=((key, True),), page_size=100)).rows
    descending = experiment_page(session, TableView(sort=((key, False),), page_size=100)).rows
    assert [row.id for row in ascending] == [row.id for row in reversed(descending)]


def test_the_menus_offer_what_experiments_use(session: Session, lab) -> None:
    choices = filter_choices(session)
    assert choices.technologies == ["lead-acid", "lithium-ion"]
    assert [choice.label for choice in choices.stations] == [
        f"ch1 (#{lab['ch1']})",
        f"ch2 (#{lab['ch2']})",
    ]
