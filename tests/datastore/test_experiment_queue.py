"""Queueing with run conditions, what the new-experiment form offers, and the queues the
monitor and the overview show. Every test runs on SQLite and on MariaDB."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from config import default_settings
from datastore.catalog import (
    CatalogError,
    battery_busy_reason,
    create_battery,
    create_profile,
    create_station,
    queue_experiment,
)
from datastore.experiment_choices import battery_choices, profile_choices
from datastore.experiments import experiment_detail
from datastore.models import Battery, Experiment
from datastore.queues import QueueSummary, queue_summaries, station_queue

MAX_STEPS = default_settings().profiles.max_steps
FLOW = {
    "electrolyte_volume_l": 2.5,
    "initial_soc_percent": 50,
    "flow_rate_min_l_per_min": 0.2,
    "flow_rate_max_l_per_min": 1.5,
}


def stack(session: Session, name: str = "VRFB stack 1") -> int:
    return create_battery(
        session, name=name, technology="redox-flow", voltage_min=0.8, voltage_max=1.7,
        current_min=-20, current_max=20, nominal_capacity_ah=10,
    ).id  # fmt: skip


def cell(session: Session, name: str = "cell 1", current_max: float = 3.0) -> int:
    return create_battery(
        session, name=name, technology="lithium-ion", voltage_min=2.5, voltage_max=4.2,
        current_min=-current_max, current_max=current_max, nominal_capacity_ah=3.0,
    ).id  # fmt: skip


def channel(session: Session, name: str = "ch1") -> int:
    return create_station(
        session, name=name, voltage_min=0, voltage_max=5, current_min=-10, current_max=10
    ).id


def profile(session: Session, source: str, name: str) -> int:
    return create_profile(session, name=name, source=source, max_steps=MAX_STEPS).id


def queue(session: Session, name: str, battery: int, station: int, prof: int, **kw) -> int:
    return queue_experiment(
        session, name=name, battery_id=battery, station_id=station, profile_id=prof,
        max_steps=MAX_STEPS, **kw,
    ).id  # fmt: skip


# ---------------------------------------------------------------- run conditions


def test_a_redox_flow_experiment_is_queued_with_its_run_conditions(session, engine):
    battery, station = stack(session), channel(session)
    prof = profile(session, "CC, 5, VOLTAGE, 1.6\nCC, -5, VOLTAGE, 1.0\n", "flow cycle")
    experiment_id = queue(session, "flow run", battery, station, prof, details=FLOW)
    session.commit()

    stored = session.get(Experiment, experiment_id)
    assert stored.details == {key: float(value) for key, value in FLOW.items()}
    detail = experiment_detail(engine, experiment_id)
    assert detail is not None and detail.details == stored.details


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"initial_soc_percent": 120}, "initial_soc_percent: expected 0 to 100 %, got 120"),
        ({"electrolyte_volume_l": -1}, "electrolyte_volume_l: expected a positive number of L"),
        (
            {"flow_rate_max_l_per_min": 0.1},
            "flow_rate_max_l_per_min: must be at least the minimum (0.2 L/min)",
        ),
    ],
)
def test_bad_run_conditions_queue_nothing(session, changes, message):
    battery, station = stack(session), channel(session)
    prof = profile(session, "CC, 5, TIME, 60\n", "flow")
    with pytest.raises(CatalogError, match=message.replace("(", r"\(").replace(")", r"\)")):
        queue(session, "flow run", battery, station, prof, details={**FLOW, **changes})
    assert session.scalar(select(func.count()).select_from(Experiment)) == 0


def test_conditions_for_another_technology_are_refused_and_none_means_none(session):
    battery, station = cell(session), channel(session)
    prof = profile(session, "CC, 1, TIME, 60\n", "short")
    with pytest.raises(CatalogError, match="not recorded for lithium-ion experiments"):
        queue(session, "run", battery, station, prof, details=FLOW)
    experiment_id = queue(session, "run", battery, station, prof)
    assert session.get(Experiment, experiment_id).details is None


# ---------------------------------------------------------------- the form's choices


def test_the_profiles_that_fit_a_pair_and_why_the_others_do_not(session):
    small, big, station = cell(session, "small", 1.0), cell(session, "big", 5.0), channel(session)
    gentle = profile(session, "CC, 0.5, TIME, 60\n", "gentle")
    strong = profile(session, "CC, 2.5, TIME, 60\n", "strong")
    high = profile(session, "CV, 4.5, TIME, 60\n", "too high")

    fit, others = profile_choices(session, small, station)
    assert [p.id for p in fit] == [gentle]
    assert {p.id: p.problems for p in others} == {
        strong: ("needs 2.5 A charge; the battery allows 1.0 A (1.5 A over)",),
        high: ("needs 4.5 V; the battery allows at most 4.2 V (0.3 V over)",),
    }
    fit, others = profile_choices(session, big, station)
    assert [p.id for p in fit] == [gentle, strong]
    assert [p.id for p in others] == [high]


def test_battery_choices_carry_their_technology(session):
    stack(session, "flow")
    cell(session, "a cell")
    assert [(b.name, b.technology) for b in battery_choices(session)] == [
        ("a cell", "lithium-ion"),
        ("flow", "redox-flow"),
    ]


def test_a_busy_battery_says_where_it_runs(session):
    battery, station = cell(session), channel(session)
    prof = profile(session, "CC, 1, TIME, 60\n", "short")
    queue(session, "waiting", battery, station, prof)
    assert battery_busy_reason(session, session.get(Battery, battery)) is None  # queued only
    experiment_id = queue(session, "first", battery, station, prof)
    session.execute(
        update(Experiment).where(Experiment.id == experiment_id).values(status="RUNNING")
    )
    assert battery_busy_reason(session, session.get(Battery, battery)) == (
        f"battery 'cell 1' is busy: experiment {experiment_id} 'first' is RUNNING on station "
        "'ch1'; queue this one after it ends"
    )


# ---------------------------------------------------------------- queues


def test_a_station_s_queue_is_in_the_order_the_node_starts_it(session, engine):
    ch1, ch2 = channel(session, "ch1"), channel(session, "ch2")
    prof = profile(session, "CC, 1, TIME, 60\n", "short")
    cells = [cell(session, f"cell {n}") for n in range(4)]
    late = queue(session, "late", cells[0], ch1, prof)
    early = queue(session, "early", cells[1], ch1, prof)
    running = queue(session, "running", cells[2], ch1, prof)
    elsewhere = queue(session, "elsewhere", cells[3], ch2, prof)
    base = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    for experiment_id, minutes in ((late, 10), (early, 5), (running, 0), (elsewhere, 1)):
        session.execute(
            update(Experiment)
            .where(Experiment.id == experiment_id)
            .values(created_at=base + dt.timedelta(minutes=minutes))
        )
    session.execute(update(Experiment).where(Experiment.id == running).values(status="RUNNING"))
    session.commit()

    waiting = station_queue(engine, ch1)
    assert [(q.name, q.position, q.battery_name, q.profile_name) for q in waiting] == [
        ("early", 1, "cell 1", "short"),
        ("late", 2, "cell 0", "short"),
    ]
    assert queue_summaries(engine) == {
        ch1: QueueSummary(2, early, "early"),
        ch2: QueueSummary(1, elsewhere, "elsewhere"),
    }
    assert station_queue(engine, 999) == []


# ---------------------------------------------------------------- start command size


def test_an_experiment_whose_start_command_would_be_too_large_is_not_queued(session):
    """Regression: an accepted profile that expands past the start command's limit ended
    in ERROR with "did not confirm the start"; now queueing refuses it, storing nothing."""
    from domain.profiles import ProfileError

    battery, station = cell(session), channel(session)
    # Accepted where cyclers take 10 MB; this site's (small) limit refuses the queue.
    big = create_profile(
        session,
        name="big",
        source="REPEAT 200\nCC, 0.3C, TIME, 1\nWAIT, 1\nEND\n",
        max_steps=MAX_STEPS,
        max_start_bytes=10_000_000,
    )
    with pytest.raises(ProfileError, match=r"^this profile expands to 400 steps, a start"):
        queue_experiment(
            session, name="e", battery_id=battery, station_id=station, profile_id=big.id,
            max_steps=MAX_STEPS, max_start_bytes=20_000,
        )  # fmt: skip
    assert session.scalar(select(func.count()).select_from(Experiment)) == 0
    assert queue(session, "fits", battery, station, big.id) > 0
