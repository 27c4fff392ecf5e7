"""The profile pages without a browser: the live check and what it says, uploads, the
envelope with its units, the sketch figure, the list's rows, the server's checks on Save
(every problem beside its field, nothing stored), and the callbacks called directly."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from dash import no_update
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from components.profile_text import (
    MAX_UPLOAD_BYTES,
    NOT_SET,
    check_text,
    demand_rows,
    demand_summary,
    read_upload,
    verdict,
    version_label,
)
from config import default_settings
from datastore import catalog
from datastore.models import Profile
from domain.profiles import BatteryRating, Demand, Window, parse_profile, sketch_profile
from pages.profiles.figures import sketch_figure
from pages.profiles.form import FormErrors, ProfileForm, save_profile
from pages.profiles.table import grid_row
from tests.web.lab_data import engine_of

MAX_STEPS = default_settings().profiles.max_steps
CELL = BatteryRating(Window(2.5, 4.2, -2.0, 1.0), capacity_ah=2.0)
STATION = Window(0.0, 5.0, -10.0, 10.0)


# ---------------------------------------------------------------- the live check


def test_the_check_lists_every_problem_with_its_line() -> None:
    checked = check_text("CC, 1, TIME, 60\n\nWAIT, 5\nCV, -4.2, TIME, 10\nCX, 1\n", max_steps=10)
    assert checked.profile is None
    assert checked.problems == (
        "line 4: CV needs a positive voltage, got -4.2",
        "line 5: unknown instruction 'CX'; expected WAIT, CC, CV, CP, REPEAT or END",
    )
    assert check_text("  \n", max_steps=10).problems == ()
    assert check_text("REPEAT 20\n CC, 1, TIME, 1\nEND\n", max_steps=10).problems == (
        "line 1: the profile reaches 20 steps here once REPEAT blocks are unrolled; "
        "at most 10 are allowed",
    )


def test_a_valid_text_gives_its_envelope_with_units_and_its_verdict() -> None:
    checked = check_text(
        "CC, 0.5C, VOLTAGE, 4.2\nCV, 4.2, CURRENT, 0.1\nCP, -3, TIME, 9\n", max_steps=10
    )
    assert checked.profile is not None and checked.profile.step_count == 3
    assert checked.demand is not None
    assert demand_rows(checked.demand) == [
        ("Voltage", "4.2 V to 4.2 V"),
        ("Current", "-0.1 A to 0.1 A"),
        ("C-rate", "0.5C to 0.5C"),
        ("Power", "-3.0 W to -3.0 W"),
    ]
    assert demand_summary(Demand(voltage_min=2.5, voltage_max=4.2)) == "voltage 2.5 V to 4.2 V"
    assert demand_rows(Demand())[0] == ("Voltage", NOT_SET)
    # Fits, then the bound exceeded and by how much, from check_compatibility.
    result = verdict(checked, CELL, STATION)
    assert result is not None and result.fits
    strong = check_text("CC, 1.5, TIME, 60\n", max_steps=10)
    result = verdict(strong, CELL, STATION)
    assert result is not None and result.problems == (
        "needs 1.5 A charge; the battery allows 1.0 A (0.5 A over)",
    )
    assert verdict(strong, None, STATION) is None
    assert version_label("CC-CV", 2) == "CC-CV (v2)"


def _upload(data: bytes) -> str:
    return "data:text/plain;base64," + base64.b64encode(data).decode()


def test_an_uploaded_file_is_read_as_text_or_refused_with_the_reason() -> None:
    assert read_upload(_upload(b"\xef\xbb\xbfWAIT, 5\n"), "rest.txt") == ("WAIT, 5\n", "")
    assert read_upload(None, None) == (None, "")
    assert read_upload(_upload(b"WAIT, 5"), "rest.csv") == (
        None,
        "rest.csv: expected a .txt file of profile text.",
    )
    assert read_upload(_upload(b"\x89PNG\r\n\x1a\n\xff\xfe"), "image.txt") == (
        None,
        "image.txt: not a text file (it is not UTF-8 text).",
    )
    assert read_upload(_upload(b"WAIT\x00, 5"), "odd.txt")[1] == (
        "odd.txt: not a text file (it contains binary data)."
    )
    too_big = b"WAIT, 5\n" * (MAX_UPLOAD_BYTES // 8 + 1)
    assert read_upload(_upload(too_big), "big.txt") == (
        None,
        f"big.txt: {len(too_big):,} bytes; a profile file may have at most 1,000,000 bytes.",
    )


# ---------------------------------------------------------------- the sketch and the list


def test_the_sketch_draws_each_quantity_in_its_own_panel_with_the_step_in_the_hover() -> None:
    profile = parse_profile(
        "CC, 1, VOLTAGE, 4.2\nCV, 4.2, CURRENT, 0.05C\nWAIT, 60\nCC, -1C, TIME, 5\n"
    )
    figure = sketch_figure(sketch_profile(profile))
    titles = [
        figure["layout"][key]["title"]["text"]
        for key in ("yaxis", "yaxis2", "yaxis3")
        if key in figure["layout"]
    ]
    assert titles == ["Current / A", "C-rate / C", "Voltage / V"]
    traces = {(trace["name"], trace["yaxis"]): trace for trace in figure["data"]}
    assert set(traces) == {("CC", "y"), ("WAIT", "y"), ("CC", "y2"), ("CV", "y3")}
    assert traces[("CC", "y")]["y"] == [1.0, 1.0, None]
    assert traces[("WAIT", "y")]["y"] == [0.0, 0.0, None]  # a rest is 0 A
    assert traces[("CV", "y3")]["text"][0] == (
        "step 2 · cycle 1 · line 2<br>CV 4.2 V until CURRENT 0.05C"
    )
    # Resolved for a 2 Ah battery, C-rates join the current panel.
    resolved = sketch_figure(sketch_profile(profile, 2.0))
    assert {trace["yaxis"] for trace in resolved["data"] if trace["name"] == "CC"} == {"y"}
    assert "yaxis3" not in resolved["layout"]


def test_a_row_of_the_list_links_to_the_profile_and_gives_ranges() -> None:
    row = {
        "id": 7, "name": "pulse [fast]", "version": 2, "description": "", "step_count": 4,
        "voltage_min": None, "voltage_max": None, "current_min": -2.0, "current_max": 1.5,
        "c_rate_min": None, "c_rate_max": None, "power_min": None, "power_max": None,
        "experiments": 3,
    }  # fmt: skip
    shown = grid_row(row)
    assert shown["name"] == "[pulse \\[fast\\]](/profiles/7)"
    assert (shown["current"], shown["voltage"], shown["version"]) == ("-2 to 1.5", "", 2)


# ---------------------------------------------------------------- Save, on the server


@pytest.fixture
def db(sqlite_engine: Engine) -> Any:
    with Session(sqlite_engine) as session:
        yield session


def errors_of(db: Session, form: ProfileForm) -> dict[str, str]:
    with pytest.raises(FormErrors) as caught:
        save_profile(db, form, max_steps=MAX_STEPS)
    db.rollback()
    return caught.value.problems


def test_save_names_each_wrong_field_and_stores_nothing(db) -> None:
    assert errors_of(db, ProfileForm(text="", name=" ")) == {
        "name": "Give the profile a name.",
        "text": "Write or upload the profile's text.",
    }
    problems = errors_of(
        db, ProfileForm(text="CV, -4.2, TIME, 1\nWAIT, x\n", name="n" * 101, description="d" * 2001)
    )
    assert problems == {
        "name": "At most 100 characters, got 101.",
        "description": "At most 2,000 characters, got 2,001.",
        "text": "The text is not a valid profile: line 1: CV needs a positive voltage, got "
        "-4.2 (and 1 more, listed above).",
    }
    assert errors_of(db, ProfileForm(text="WAIT, 5\n", name="rest", editing=404)) == {
        "form": "There is no profile with id 404."
    }
    assert db.scalar(select(func.count()).select_from(Profile)) == 0


def test_save_creates_then_edits_in_place_until_an_experiment_uses_the_profile(db) -> None:
    created = save_profile(
        db, ProfileForm(text="WAIT, 5\n", name=" rest ", description=" short "), max_steps=10
    )
    assert (created.name, created.description, created.version) == ("rest", "short", 1)
    edited = save_profile(
        db, ProfileForm(text="WAIT, 9\n", name="rest", editing=created.id), max_steps=10
    )
    assert edited.id == created.id and edited.source == "WAIT, 9\n"
    battery = catalog.create_battery(
        db, name="cell", technology="lithium-ion", voltage_min=2.5, voltage_max=4.2,
        current_min=-1, current_max=1, nominal_capacity_ah=1.0,
    )  # fmt: skip
    station = catalog.create_station(
        db, name="ch1", voltage_min=0, voltage_max=5, current_min=-10, current_max=10
    )
    catalog.queue_experiment(
        db, name="run", battery_id=battery.id, station_id=station.id, profile_id=created.id,
        max_steps=10,
    )  # fmt: skip
    version = save_profile(
        db, ProfileForm(text="WAIT, 12\n", name="rest", editing=created.id), max_steps=10
    )
    assert version.id != created.id and (version.version, version.previous_id) == (2, created.id)


# ---------------------------------------------------------------- callbacks, called directly


@pytest.fixture
def app_with_profile(app_factory) -> tuple[Any, dict[str, int]]:
    app = app_factory()
    with Session(engine_of(app)) as session, session.begin():
        profile = catalog.create_profile(
            session,
            name="rate test",
            source="CC, 0.5C, VOLTAGE, 4.2\nREPEAT 2000\n  CC, -1C, VOLTAGE, 2.5\n  WAIT, 5\nEND\n",
            max_steps=MAX_STEPS,
        )
        cell = catalog.create_battery(
            session, name="cell", technology="lithium-ion", voltage_min=2.5, voltage_max=4.2,
            current_min=-5, current_max=5, nominal_capacity_ah=2.0,
        )  # fmt: skip
        bare = catalog.create_battery(
            session, name="bare", technology="lithium-ion", voltage_min=2.5, voltage_max=4.2,
            current_min=-5, current_max=5,
        )  # fmt: skip
        station = catalog.create_station(
            session, name="ch1", voltage_min=0, voltage_max=5, current_min=-10, current_max=10
        )
        session.flush()
        made = {"profile": profile.id, "cell": cell.id, "bare": bare.id, "station": station.id}
    return app, made


def _text(component: Any) -> str:
    """The visible text of a component tree."""
    if component is None:
        return ""
    if isinstance(component, (str, int, float)):
        return str(component)
    if isinstance(component, (list, tuple)):
        return " ".join(_text(child) for child in component)
    return _text(getattr(component, "children", None))


def test_the_sketch_callback_caps_long_profiles_and_resolves_c_rates_for_a_battery(
    app_with_profile,
) -> None:
    app, made = app_with_profile
    from pages.profiles import detail

    with app.server.app_context():
        figure, note = detail.draw_sketch(detail.AS_WRITTEN, made["profile"])
        assert "The first 2,000 of 4,001 steps are drawn" in _text(note)
        assert figure["layout"]["yaxis"]["title"]["text"] == "Current / A"  # the WAITs
        assert figure["layout"]["yaxis2"]["title"]["text"] == "C-rate / C"
        figure, note = detail.draw_sketch(str(made["cell"]), made["profile"])
        assert "C-rates resolved at 2 Ah (cell)" in _text(note)
        assert "On cell: voltage 2.5 V to 4.2 V; current -2.0 A to 1.0 A." in _text(note)
        assert "yaxis2" not in figure["layout"]
        _, note = detail.draw_sketch(str(made["bare"]), made["profile"])
        assert "Battery bare has no nominal capacity: C-rates stay in C" in _text(note)


def test_the_editor_callbacks_check_the_text_and_save_it(app_with_profile) -> None:
    app, made = app_with_profile
    from pages.profiles import editor

    with app.server.app_context():
        problems, fit = editor.check("CC, 1, TIME, 5\nCV, -4.2, TIME, 3\n", None, None)
        assert _text(problems).endswith("line 2: CV needs a positive voltage, got -4.2")
        summary, fit = editor.check("CC, 6, TIME, 5\n", str(made["cell"]), str(made["station"]))
        assert "Valid: 1 step" in _text(summary) and "current 6.0 A to 6.0 A" in _text(summary)
        assert "needs 6.0 A charge; the battery allows 5.0 A (1.0 A over)" in _text(fit)
        result = editor.save(1, "WAIT, 5\n", "", None, None)
        assert result["errors"]["name"] == "Give the profile a name."
        assert result["href"] is no_update
        result = editor.save(1, "WAIT, 5\n", "rest", "", None)
    with Session(engine_of(app)) as session:
        saved = session.scalar(select(Profile.id).where(Profile.name == "rest"))
    assert result["href"] == f"/profiles/{saved}"
