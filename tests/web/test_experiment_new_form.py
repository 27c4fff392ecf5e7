"""The new-experiment form without a browser: its options, the server's checks of a
submitted form (every error beside its field, nothing stored), the live profile check and
uploads."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Iterator

import pytest
from dash import no_update
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from components.forms import parse_id
from components.profile_text import check_text, read_upload, verdict
from components.report import experiment_report
from components.urls import new_experiment_url
from config import default_settings
from datastore import catalog
from datastore.experiment_choices import BatteryChoice, ProfileChoice
from datastore.models import Experiment, Profile
from datastore.telemetry import ExperimentSnapshot, StationSnapshot
from domain.profiles import BatteryRating, Window
from domain.status import ExperimentStatus
from pages.experiment_new.choices import (
    battery_options,
    keep_choice,
    profile_options,
    station_note,
    station_options,
    technology_of,
)
from pages.experiment_new.submit import (
    WRITTEN,
    FormErrors,
    NewExperiment,
    queue_new_experiment,
)

MAX_STEPS = default_settings().profiles.max_steps
MAX_START_BYTES = default_settings().node.max_payload_bytes
NOW = dt.datetime(2027, 3, 1, 12, 0, tzinfo=dt.UTC)
TIMEOUT_S = 15.0

# ---------------------------------------------------------------- options

BATTERIES = [
    BatteryChoice(1, "cell A", "lithium-ion", "SN-1", 3.0),
    BatteryChoice(2, "stack", "redox-flow", "", None),
    BatteryChoice(3, "cell B", "lithium-ion", "", 2.0),
]


def snapshot(
    station_id: int,
    name: str,
    heartbeat_age_s: float | None,
    *,
    deprecated: bool = False,
    running: str | None = None,
) -> StationSnapshot:
    experiment = None
    if running:
        experiment = ExperimentSnapshot(
            id=9, name=running, status=ExperimentStatus.RUNNING, status_message="",
            battery_name="x", station_id=station_id, created_at=NOW, began_at=NOW,
            finished_at=None, sample_count=0, last_sample_at=NOW.timestamp(), alarm_count=0,
            last_sample=None,
        )  # fmt: skip
    heartbeat = None if heartbeat_age_s is None else NOW - dt.timedelta(seconds=heartbeat_age_s)
    return StationSnapshot(station_id, name, "", "unit-1", heartbeat, None, deprecated, experiment)


def test_batteries_are_offered_for_the_chosen_technology_only() -> None:
    assert battery_options(BATTERIES, "lithium-ion") == [
        {"label": "cell A · serial SN-1 · 3 Ah (id 1)", "value": "1"},
        {"label": "cell B · 2 Ah (id 3)", "value": "3"},
    ]
    assert [o["value"] for o in battery_options(BATTERIES, "redox-flow")] == ["2"]
    assert battery_options(BATTERIES, None) == []
    assert battery_options(BATTERIES, "lead-acid") == []
    assert technology_of(BATTERIES, 2) == "redox-flow"
    assert technology_of(BATTERIES, 99) is None


def test_a_choice_is_kept_only_while_it_is_offered() -> None:
    options = battery_options(BATTERIES, "lithium-ion")
    assert keep_choice("3", options) == "3"
    assert keep_choice(3, options) == "3"
    assert keep_choice("2", options) is None  # a redox-flow stack after choosing lithium-ion
    assert keep_choice(None, options) is None


@pytest.mark.parametrize(
    ("value", "expected"), [("4", 4), (4, 4), (" 7 ", 7), ("0", None), ("x", None), (None, None)]
)
def test_ids_from_the_browser_are_read_carefully(value: object, expected: int | None) -> None:
    assert parse_id(value) == expected


def test_stations_show_their_state_and_deprecated_ones_are_hidden() -> None:
    stations = [
        snapshot(1, "ch1", 3),
        snapshot(2, "ch2", 7200),
        snapshot(3, "ch3", None),
        snapshot(4, "old", 3, deprecated=True),
        snapshot(5, "ch5", 3, running="ageing"),
    ]
    assert station_options(stations, NOW, TIMEOUT_S) == [
        {"label": "ch1 · unit-1 — online, idle", "value": "1"},
        {"label": "ch2 · unit-1 — offline (last heartbeat 2 h 00 min 00 s ago)", "value": "2"},
        {"label": "ch3 · unit-1 — never seen online", "value": "3"},
        {"label": "ch5 · unit-1 — online, running “ageing”", "value": "5"},
    ]


def test_a_station_never_seen_online_is_warned_about() -> None:
    text, warn = station_note(snapshot(3, "ch3", None), NOW, TIMEOUT_S)
    assert warn and "ch3 has never been seen online" in text
    text, warn = station_note(snapshot(2, "ch2", 7200), NOW, TIMEOUT_S)
    assert warn and "ch2 is offline (last heartbeat 2 h 00 min 00 s ago)" in text
    assert station_note(snapshot(1, "ch1", 3), NOW, TIMEOUT_S) == (
        "Station ch1 is online and idle.",
        False,
    )
    assert station_note(None, NOW, TIMEOUT_S) == ("", False)


def test_profile_options_name_their_steps() -> None:
    assert profile_options([ProfileChoice(4, "cycle", 12)]) == [
        {"label": "cycle · 12 steps (id 4)", "value": "4"}
    ]


# ---------------------------------------------------------------- submitting


@pytest.fixture
def db(sqlite_engine: Engine) -> Iterator[Session]:
    with Session(sqlite_engine) as session:
        yield session


@pytest.fixture
def lab(db: Session) -> dict[str, int]:
    cell = catalog.create_battery(
        db, name="cell", technology="lithium-ion", voltage_min=2.5, voltage_max=4.2,
        current_min=-3, current_max=3, nominal_capacity_ah=3.0,
    )  # fmt: skip
    stack = catalog.create_battery(
        db, name="stack", technology="redox-flow", voltage_min=0.8, voltage_max=1.7,
        current_min=-20, current_max=20, nominal_capacity_ah=10,
    )  # fmt: skip
    station = catalog.create_station(
        db, name="ch1", voltage_min=0, voltage_max=5, current_min=-10, current_max=10
    )
    old = catalog.create_station(
        db, name="old", voltage_min=0, voltage_max=5, current_min=-10, current_max=10
    )
    old.deprecated = True
    gentle = catalog.create_profile(
        db, name="gentle", source="CC, 1, TIME, 60\n", max_steps=MAX_STEPS
    )
    strong = catalog.create_profile(
        db, name="strong", source="CC, 5, TIME, 60\n", max_steps=MAX_STEPS
    )
    db.commit()
    return {
        "cell": cell.id,
        "stack": stack.id,
        "station": station.id,
        "old": old.id,
        "gentle": gentle.id,
        "strong": strong.id,
    }


FLOW = {
    "electrolyte_volume_l": "2.5",
    "initial_soc_percent": "40",
    "flow_rate_min_l_per_min": "0.5",
    "flow_rate_max_l_per_min": "1.2",
}


def errors_of(db: Session, form: NewExperiment) -> dict[str, str]:
    with pytest.raises(FormErrors) as caught:
        queue_new_experiment(db, form, max_steps=MAX_STEPS, max_start_bytes=MAX_START_BYTES)
    db.rollback()
    assert db.scalar(select(func.count()).select_from(Experiment)) == 0
    return caught.value.problems


def test_a_redox_flow_experiment_is_queued_with_its_conditions(db, lab) -> None:
    form = NewExperiment(
        battery=str(lab["stack"]), station=str(lab["station"]), profile=str(lab["gentle"]),
        name="  flow run ", description="first fill", conditions=FLOW,
    )  # fmt: skip
    experiment = queue_new_experiment(
        db, form, max_steps=MAX_STEPS, max_start_bytes=MAX_START_BYTES
    )
    db.commit()
    stored = db.get(Experiment, experiment.id)
    assert (stored.name, stored.description, stored.status) == (
        "flow run",
        "first fill",
        ExperimentStatus.QUEUED,
    )
    assert stored.details == {
        "electrolyte_volume_l": 2.5,
        "initial_soc_percent": 40.0,
        "flow_rate_min_l_per_min": 0.5,
        "flow_rate_max_l_per_min": 1.2,
    }


def test_an_empty_form_names_every_missing_field(db, lab) -> None:
    assert errors_of(db, NewExperiment()) == {
        "battery": "Choose a battery.",
        "station": "Choose a station.",
        "profile": "Choose a profile.",
        "name": "Give the experiment a name.",
    }


def test_a_lithium_ion_battery_ignores_the_hidden_flow_fields(db, lab) -> None:
    form = NewExperiment(
        battery=lab["cell"], station=lab["station"], profile=lab["gentle"], name="run",
        conditions={"electrolyte_volume_l": "-3"},
    )  # fmt: skip
    experiment = queue_new_experiment(
        db, form, max_steps=MAX_STEPS, max_start_bytes=MAX_START_BYTES
    )
    assert experiment.details is None


def test_bad_numbers_and_an_unfit_profile_show_beside_their_fields(db, lab) -> None:
    form = NewExperiment(
        battery=lab["stack"], station=lab["station"], profile=lab["strong"], name="run",
        conditions={**FLOW, "initial_soc_percent": "140", "flow_rate_max_l_per_min": "abc"},
    )  # fmt: skip
    assert errors_of(db, form) == {
        "initial_soc_percent": "Expected 0 to 100 %, got 140.",
        "flow_rate_max_l_per_min": "Expected a number of L/min, got 'abc'.",
    }
    form = NewExperiment(
        battery=lab["cell"], station=lab["station"], profile=lab["strong"], name="x"
    )
    assert errors_of(db, form) == {
        "profile": "Profile 'strong' does not fit: needs 5.0 A charge; the battery allows 3.0 A "
        "(2.0 A over)."
    }


def test_a_busy_battery_a_deprecated_station_and_an_unsaved_profile_are_refused(db, lab) -> None:
    first = catalog.queue_experiment(
        db, name="first", battery_id=lab["cell"], station_id=lab["station"],
        profile_id=lab["gentle"], max_steps=MAX_STEPS,
    )  # fmt: skip
    db.execute(update(Experiment).where(Experiment.id == first.id).values(status="RUNNING"))
    db.commit()
    form = NewExperiment(
        battery=lab["cell"], station=lab["old"], profile_source=WRITTEN, name="second"
    )
    with pytest.raises(FormErrors) as caught:
        queue_new_experiment(db, form, max_steps=MAX_STEPS, max_start_bytes=MAX_START_BYTES)
    assert caught.value.problems == {
        "battery": f"Battery 'cell' is busy: experiment {first.id} 'first' is RUNNING on station "
        "'ch1'; queue this one after it ends.",
        "station": "Station old is deprecated; choose its replacement.",
        "profile": "Save the profile you wrote (Save profile) so it is selected, or choose a "
        "stored one.",
    }


def test_unknown_ids_are_named(db, lab) -> None:
    form = NewExperiment(battery="999", station="998", profile="997", name="x")
    assert errors_of(db, form) == {
        "battery": "There is no battery with id 999; choose another.",
        "station": "There is no station with id 998; choose another.",
        "profile": "There is no profile with id 997; choose another.",
    }


# ---------------------------------------------------------------- the live check and uploads

CELL = BatteryRating(Window(2.5, 4.2, -3, 3), 3.0)
STATION = Window(0, 5, -10, 10)


def test_the_live_check_gives_the_envelope_and_the_verdict_on_the_chosen_pair() -> None:
    check = check_text("CC, 1C, VOLTAGE, 4.2\n", max_steps=100)
    assert not check.problems and check.step_count == 1
    assert check.demand is not None and check.demand.c_rate_max == 1.0
    fits = verdict(check, CELL, STATION)
    assert fits is not None and fits.fits
    too_strong = verdict(check_text("CC, 2C, VOLTAGE, 4.2\n", max_steps=100), CELL, STATION)
    assert too_strong is not None and too_strong.problems == (
        "needs 6.0 A charge; the battery allows 3.0 A (3.0 A over)",
    )
    assert verdict(check_text("CC, 1, TIME, 1", max_steps=100), None, None) is None
    assert check_text("  ", max_steps=100).demand is None


def upload(data: bytes) -> str:
    return "data:text/plain;base64," + base64.b64encode(data).decode()


def test_an_uploaded_txt_file_fills_the_text() -> None:
    assert read_upload(upload(b"CC, 1, TIME, 60\n"), "cycle.TXT") == ("CC, 1, TIME, 60\n", "")
    assert read_upload(None, None) == (None, "")
    assert read_upload(upload(b"x"), "cycle.csv") == (
        None,
        "cycle.csv: expected a .txt file of profile text.",
    )
    assert read_upload(upload(b"\xff\xfe\x00"), "bad.txt") == (
        None,
        "bad.txt: not a text file (it is not UTF-8 text).",
    )
    text, problem = read_upload(upload(b"WAIT, 1\n" * 200_000), "long.txt")
    assert text is None and problem == (
        "long.txt: 1,600,000 bytes; a profile file may have at most 1,000,000 bytes."
    )


def test_the_report_lists_the_run_conditions(db, lab, sqlite_engine) -> None:
    form = NewExperiment(
        battery=lab["stack"], station=lab["station"], profile=lab["gentle"], name="flow run",
        conditions=FLOW,
    )  # fmt: skip
    experiment = queue_new_experiment(
        db, form, max_steps=MAX_STEPS, max_start_bytes=MAX_START_BYTES
    )
    db.commit()
    report = experiment_report(sqlite_engine, experiment.id)
    for label, value in (
        ("Electrolyte volume", "2.5 L"),
        ("Initial state of charge", "40 %"),
        ("Flow rate, minimum", "0.5 L/min"),
        ("Flow rate, maximum", "1.2 L/min"),
    ):
        assert f"<dt>{label}</dt><dd>{value}</dd>" in report


def test_the_form_s_address_names_what_is_chosen_already() -> None:
    assert new_experiment_url() == "/experiments/new"
    assert new_experiment_url(3) == "/experiments/new?battery=3"
    assert new_experiment_url(station_id=7) == "/experiments/new?station=7"
    assert new_experiment_url(3, 7) == "/experiments/new?battery=3&station=7"


def test_a_profile_whose_start_command_exceeds_the_sites_limit_is_refused_beside_it(db, lab):
    """Regression: queueing checked the steps against the protocol's 4,000,000 bytes, not
    the site's node.max_payload_bytes, and the experiment later failed to start."""
    long = catalog.create_profile(
        db, name="long", source="REPEAT 2000\n  CC, 1, TIME, 5\nEND\n", max_steps=MAX_STEPS
    )
    db.commit()
    form = NewExperiment(
        battery=str(lab["stack"]), station=str(lab["station"]), profile=str(long.id),
        name="run", conditions=FLOW,
    )  # fmt: skip
    with pytest.raises(FormErrors) as caught:
        queue_new_experiment(db, form, max_steps=MAX_STEPS, max_start_bytes=100_000)
    db.rollback()
    problem = caught.value.problems["profile"]
    assert problem.startswith("This profile expands to 2,000 steps, a start command of ")
    assert "a cycler accepts at most 0.1 MB (100,000 bytes)" in problem
    assert db.scalar(select(func.count()).select_from(Experiment)) == 0


def test_the_forms_save_profile_refuses_a_profile_over_the_sites_limit(app_factory, settings):
    """The new-experiment form's own Save profile checks node.max_payload_bytes too."""
    app = app_factory(settings.replace(node={"max_payload_bytes": 100_000}))
    from pages.experiment_new import page

    with app.server.app_context():
        message, saved, _source = page.save_profile(
            1, "REPEAT 2000\n  CC, 1, TIME, 5\nEND\n", "long"
        )
    assert saved is no_update
    assert message.children.startswith("Not saved: this profile expands to 2,000 steps")
    assert "a cycler accepts at most 0.1 MB (100,000 bytes)" in message.children
    engine = app.server.extensions["bem"].store.engine
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Profile)) == 0
