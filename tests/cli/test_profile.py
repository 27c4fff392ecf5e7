"""`bem profile check` and `bem profile add`: profiles from files, for scripts."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from cli import main
from datastore.catalog import create_battery, create_station, queue_experiment, save_profile_edit
from datastore.models import Profile

CHARGE = "# CC-CV charge\nCC, 0.5C, VOLTAGE, 4.2\nCV, 4.2, CURRENT, 0.05C\nREPEAT 2\nCC, -1, VOLTAGE, 2.5\nEND\n"
BATTERY = [
    "battery", "add", "--name", "cell", "--technology", "lithium-ion", "--capacity", "4",
    "--voltage-min", "2.5", "--voltage-max", "4.2", "--current-min", "-6", "--current-max", "6",
]  # fmt: skip
STATION = [
    "station", "add", "--name", "ch1",
    "--voltage-min", "0", "--voltage-max", "5", "--current-min", "-5", "--current-max", "5",
]  # fmt: skip


@pytest.fixture
def database(monkeypatch: pytest.MonkeyPatch, sqlite_url: str, sqlite_engine: Engine) -> Engine:
    """The per-test SQLite database, for the command (by URL) and for the test's checks."""
    monkeypatch.setenv("BEM_DATABASE_URL", sqlite_url)
    return sqlite_engine


def bem(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def write(tmp_path: Path, text: str, name: str = "charge.txt") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def stored_profiles(engine: Engine) -> list[Profile]:
    with Session(engine) as session:
        return list(session.scalars(select(Profile).order_by(Profile.id)))


# ---------------------------------------------------------------- check


def test_check_prints_the_step_count_and_what_the_profile_demands(database, capsys, tmp_path):
    path = write(tmp_path, CHARGE)
    status, out, err = bem(capsys, "profile", "check", path)
    assert (status, err) == (0, "")
    assert out == (
        f"{path}: 4 steps\n"
        "voltage: 2.5 V to 4.2 V\n"
        "current: -1.0 A to -1.0 A\n"
        "C-rate: -0.05C to 0.5C\n"
    )


def test_check_lists_every_problem_with_its_line_on_stderr(database, capsys, tmp_path):
    path = write(tmp_path, "CC, 1, VOLTAGE, 4.2\nCV, -4.2, TIME, 10\nREPEAT 0\nWAIT, 1\nEND\nEND\n")
    status, out, err = bem(capsys, "profile", "check", path)
    assert (status, out) == (1, "")
    assert err == (
        f"bem profile: {path} is not a valid profile:\n"
        "  line 2: CV needs a positive voltage, got -4.2\n"
        "  line 3: REPEAT needs a whole number of at least 1, got 0\n"
        "  line 6: END without a matching REPEAT\n"
    )


def test_check_reads_stdin_for_a_dash(database, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("WAIT, 10\nWAIT, 0\n"))
    status, _, err = bem(capsys, "profile", "check", "-")
    assert status == 1
    assert err == (
        "bem profile: the profile from stdin is not a valid profile:\n"
        "  line 2: WAIT needs a positive duration (in s), got 0\n"
    )


def test_check_says_when_the_file_cannot_be_read(database, capsys, tmp_path):
    status, _, err = bem(capsys, "profile", "check", str(tmp_path / "missing.txt"))
    assert status == 1
    assert (
        err
        == f"bem profile: {tmp_path / 'missing.txt'}: cannot be read (No such file or directory)\n"
    )


def test_check_refuses_a_file_that_is_not_text(database, capsys, tmp_path):
    path = tmp_path / "binary.txt"
    path.write_bytes(b"\xff\xfe\x00CC")
    status, _, err = bem(capsys, "profile", "check", str(path))
    assert status == 1
    assert err == f"bem profile: {path}: not UTF-8 text\n"


def test_check_applies_the_configured_step_cap(database, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("BEM_PROFILES_MAX_STEPS", "10")
    status, _, err = bem(capsys, "profile", "check", write(tmp_path, "REPEAT 11\nWAIT, 1\nEND"))
    assert status == 1
    assert (
        "line 1: the profile reaches 11 steps here once REPEAT blocks are unrolled; at most 10 are allowed"
        in err
    )


def test_check_with_a_battery_resolves_the_envelope(database, capsys, tmp_path):
    bem(capsys, *BATTERY)
    status, out, _ = bem(capsys, "profile", "check", write(tmp_path, CHARGE), "--battery", "1")
    assert status == 0
    assert out.endswith("on battery 1:\nvoltage: 2.5 V to 4.2 V\ncurrent: -1.0 A to 2.0 A\n")


def test_check_with_a_battery_and_station_gives_the_verdict(database, capsys, tmp_path):
    bem(capsys, *BATTERY)
    bem(capsys, *STATION)
    status, out, err = bem(
        capsys, "profile", "check", write(tmp_path, CHARGE), "--battery", "1", "--station", "1"
    )
    assert (status, err) == (0, "")
    assert out.endswith("compatible with battery 1 and station 1\n")


def test_check_refuses_an_incompatible_pair_saying_by_how_much(database, capsys, tmp_path):
    bem(capsys, *BATTERY)
    bem(capsys, *STATION)
    path = write(tmp_path, "CC, 1.5C, VOLTAGE, 4.2\nCV, 4.3, TIME, 60")
    status, out, err = bem(capsys, "profile", "check", path, "--battery", "1", "--station", "1")
    assert status == 1
    assert "on battery 1:" in out
    assert err == (
        f"bem profile: {path} is incompatible with battery 1 and station 1:\n"
        "  needs 4.3 V; the battery allows at most 4.2 V (0.1 V over)\n"
        "  needs 6.0 A charge; the station allows 5.0 A (1.0 A over)\n"
    )


def test_check_names_c_rates_a_battery_without_capacity_cannot_resolve(database, capsys, tmp_path):
    battery = [*BATTERY]
    del battery[battery.index("--capacity") : battery.index("--capacity") + 2]
    bem(capsys, *battery)
    path = write(tmp_path, CHARGE)
    status, _, err = bem(capsys, "profile", "check", path, "--battery", "1")
    assert status == 1
    assert err == (
        f"bem profile: {path} is not a valid profile:\n"
        "  line 2: CC uses a C-rate (0.5C) but the battery has no nominal capacity to resolve it\n"
        "  line 3: the CURRENT limit is a C-rate (0.05C) but the battery has no nominal capacity "
        "to resolve it\n"
    )


def test_check_with_an_unknown_battery_says_so(database, capsys, tmp_path):
    status, _, err = bem(capsys, "profile", "check", write(tmp_path, CHARGE), "--battery", "9")
    assert status == 1
    assert err == "bem profile: there is no battery with id 9\n"


def test_check_against_a_station_needs_a_battery(database, capsys, tmp_path):
    status, _, err = bem(capsys, "profile", "check", write(tmp_path, CHARGE), "--station", "1")
    assert status == 1
    assert (
        err == "bem profile: --station needs --battery: a profile must fit both windows together\n"
    )


# ---------------------------------------------------------------- add


def test_add_stores_the_profile_and_prints_only_its_id(database, capsys, tmp_path):
    status, out, err = bem(
        capsys,
        "profile",
        "add",
        write(tmp_path, CHARGE),
        "--name",
        "cc-cv",
        "--description",
        "daily",
    )
    assert (status, out, err) == (0, "1\n", "")
    (profile,) = stored_profiles(database)
    assert (profile.name, profile.description, profile.source) == ("cc-cv", "daily", CHARGE)
    assert (profile.step_count, profile.c_rate_max, profile.voltage_max) == (4, 0.5, 4.2)


def test_add_refuses_an_invalid_profile_and_stores_nothing(database, capsys, tmp_path):
    status, out, err = bem(
        capsys, "profile", "add", write(tmp_path, "CV, 4.2, VOLTAGE, 4"), "--name", "x"
    )
    assert (status, out) == (1, "")
    assert "line 1: CV cannot stop on VOLTAGE; expected TIME or CURRENT" in err
    assert stored_profiles(database) == []


# 2,000 steps: within profiles.max_steps, but a start command of about 130 kB.
LONG = "REPEAT 2000\n  CC, 1, TIME, 5\nEND\n"


def test_add_refuses_a_profile_over_the_configured_start_command_limit(
    database, capsys, tmp_path, monkeypatch
):
    """Regression: `bem profile add` checked the protocol's 4,000,000 bytes whatever
    node.max_payload_bytes said (and a refusal there ended in a traceback)."""
    monkeypatch.setenv("BEM_NODE_MAX_PAYLOAD_BYTES", "100000")
    path = write(tmp_path, LONG)
    status, out, err = bem(capsys, "profile", "add", path, "--name", "long")
    assert (status, out) == (1, "")
    assert err.startswith(
        f"bem profile: {path} is not a valid profile:\n"
        "  this profile expands to 2,000 steps, a start command of "
    )
    assert "a cycler accepts at most 0.1 MB (100,000 bytes)" in err
    assert stored_profiles(database) == []


def test_check_applies_the_configured_start_command_limit(database, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("BEM_NODE_MAX_PAYLOAD_BYTES", "100000")
    status, out, err = bem(capsys, "profile", "check", write(tmp_path, LONG))
    assert (status, out) == (1, "")
    assert "a cycler accepts at most 0.1 MB (100,000 bytes)" in err


def test_add_stores_the_same_profile_under_the_default_limit(database, capsys, tmp_path):
    status, out, _ = bem(capsys, "profile", "add", write(tmp_path, LONG), "--name", "long")
    assert (status, out) == (0, "1\n")


def test_add_refuses_an_empty_name(database, capsys, tmp_path):
    status, _, err = bem(capsys, "profile", "add", write(tmp_path, CHARGE), "--name", "")
    assert status == 1
    assert err == "bem profile: name: must not be empty\n"


def test_add_needs_a_name(database, capsys, tmp_path):
    with pytest.raises(SystemExit) as exited:
        main(["profile", "add", write(tmp_path, CHARGE)])
    assert exited.value.code == 2


# ---------------------------------------------------------------- list and show


def test_list_prints_a_header_and_one_row_per_profile_by_id(database, capsys, tmp_path):
    bem(capsys, "profile", "add", write(tmp_path, CHARGE), "--name", "charge")
    bem(
        capsys, "profile", "add", write(tmp_path, "WAIT, 60\n", "rest.txt"), "--name", "rest",
        "--description", "one minute\nof rest",
    )  # fmt: skip
    status, out, err = bem(capsys, "profile", "list")
    assert (status, err) == (0, "")
    assert out.splitlines() == [
        "id\tname\tsteps\tdescription",
        "1\tcharge\t4\t",
        "2\trest\t1\tone minute of rest",
    ]


def test_show_prints_the_step_count_the_envelope_as_check_does_and_the_text(
    database, capsys, tmp_path
):
    path = write(tmp_path, CHARGE)
    bem(capsys, "profile", "add", path, "--name", "charge", "--description", "daily")
    _, checked, _ = bem(capsys, "profile", "check", path)

    status, out, err = bem(capsys, "profile", "show", "1")

    assert (status, err) == (0, "")
    assert out == (
        "profile 1 'charge' (v1): 4 steps\n"
        "description: daily\n"
        "voltage: 2.5 V to 4.2 V\n"
        "current: -1.0 A to -1.0 A\n"
        "C-rate: -0.05C to 0.5C\n"
        "\n" + CHARGE
    )
    assert out.splitlines()[2:5] == checked.splitlines()[1:4]


def test_show_ends_a_text_without_a_final_newline_with_one(database, capsys, tmp_path):
    bem(capsys, "profile", "add", write(tmp_path, "WAIT, 60"), "--name", "rest")
    _, out, _ = bem(capsys, "profile", "show", "1")
    assert out == (
        "profile 1 'rest' (v1): 1 step\n"
        "voltage: not set by the profile\n"
        "current: not set by the profile\n"
        "\n"
        "WAIT, 60\n"
    )


def test_show_names_the_version_and_the_profile_it_was_made_from(database, capsys, tmp_path):
    bem(capsys, "profile", "add", write(tmp_path, "WAIT, 60\n"), "--name", "rest")
    with Session(database) as session, session.begin():
        battery = create_battery(
            session, name="cell", technology="lithium-ion", voltage_min=2.5, voltage_max=4.2,
            current_min=-1, current_max=1,
        )  # fmt: skip
        station = create_station(
            session, name="ch1", voltage_min=0, voltage_max=5, current_min=-1, current_max=1
        )
        queue_experiment(
            session, name="run", battery_id=battery.id, station_id=station.id, profile_id=1,
            max_steps=100,
        )  # fmt: skip
        save_profile_edit(session, 1, name="rest", source="WAIT, 90\n", max_steps=100)
    _, out, _ = bem(capsys, "profile", "show", "2")
    assert out.splitlines()[0] == "profile 2 'rest' (v2, from profile 1): 1 step"
    assert out.endswith("\nWAIT, 90\n")


def test_show_an_unknown_profile(database, capsys):
    status, out, err = bem(capsys, "profile", "show", "9")
    assert (status, out, err) == (1, "", "bem profile: there is no profile with id 9\n")
