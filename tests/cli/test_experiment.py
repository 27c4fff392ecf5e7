"""`bem experiment add|list|cancel`: queueing experiments from scripts."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from cli import main
from datastore.models import Experiment, Profile
from domain.status import ExperimentStatus
from tests.cli.support import CHARGE, bem, queue, stored, write

# ---------------------------------------------------------------- add


def test_add_with_a_profile_file_queues_the_experiment_and_stores_the_profile(
    database, capsys, tmp_path
):
    status, out, err = queue(capsys, tmp_path)
    assert (status, out, err) == (0, "1\n", "")
    (profile,) = stored(database, Profile)
    (experiment,) = stored(database, Experiment)
    assert (profile.name, profile.source) == ("daily-charge", CHARGE)
    assert experiment.status is ExperimentStatus.QUEUED
    assert (experiment.battery_id, experiment.station_id, experiment.profile_id) == (
        1,
        1,
        profile.id,
    )
    # C-rates resolved against the battery's 4 Ah.
    assert [(s["step"], s["cycle"], s["setpoint"], s["limit_value"]) for s in experiment.steps] == [
        (1, 1, 2.0, 4.2),
        (2, 1, 4.2, 0.2),
        (3, 2, 4.2, 0.2),
    ]


def test_add_with_a_stored_profile(database, capsys, tmp_path):
    bem(capsys, "profile", "add", write(tmp_path, "WAIT, 60"), "--name", "rest")
    status, out, _ = bem(
        capsys, "experiment", "add", "--name", "rest test", "--battery", "1", "--station", "1",
        "--profile", "1", "--description", "just waiting",
    )  # fmt: skip
    assert (status, out) == (0, "1\n")
    (experiment,) = stored(database, Experiment)
    assert (experiment.profile_id, experiment.description) == (1, "just waiting")
    assert experiment.steps == [
        {
            "step": 1,
            "cycle": 1,
            "line": 1,
            "mode": "WAIT",
            "setpoint": None,
            "limit": "TIME",
            "limit_value": 60.0,
        }
    ]


def test_add_refuses_an_incompatible_profile_and_stores_nothing(database, capsys, tmp_path):
    status, out, err = queue(capsys, tmp_path, text="CC, 1.5C, VOLTAGE, 4.2")
    assert (status, out) == (1, "")
    assert err == (
        "bem experiment: the profile does not fit battery 1 and station 1:\n"
        "  needs 6.0 A charge; the station allows 5.0 A (1.0 A over)\n"
    )
    assert stored(database, Experiment) == []
    assert stored(database, Profile) == []


def test_add_lists_every_problem_of_an_invalid_profile_file(database, capsys, tmp_path):
    status, _, err = queue(capsys, tmp_path, text="WAIT, 0\nREPEAT 2\nWAIT, 1\n")
    assert status == 1
    assert err == (
        f"bem experiment: {tmp_path / 'daily-charge.txt'} is not a valid profile:\n"
        "  line 1: WAIT needs a positive duration (in s), got 0\n"
        "  line 2: REPEAT has no matching END\n"
    )
    assert stored(database, Profile) == []


def test_add_applies_the_current_step_cap_to_a_stored_profile(
    database, capsys, tmp_path, monkeypatch
):
    bem(capsys, "profile", "add", write(tmp_path, "REPEAT 20\nWAIT, 1\nEND"), "--name", "long")
    monkeypatch.setenv("BEM_PROFILES_MAX_STEPS", "10")
    status, _, err = bem(
        capsys,
        "experiment",
        "add",
        "--name",
        "e",
        "--battery",
        "1",
        "--station",
        "1",
        "--profile",
        "1",
    )
    assert status == 1
    assert err == (
        "bem experiment: stored profile 1 is not a valid profile:\n"
        "  line 1: the profile reaches 20 steps here once REPEAT blocks are unrolled; "
        "at most 10 are allowed\n"
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"--battery": "7"}, "there is no battery with id 7"),
        ({"--station": "7"}, "there is no station with id 7"),
        ({"--profile": "7"}, "there is no profile with id 7"),
        ({"--name": " "}, "name: must not be empty"),
    ],
)
def test_add_refuses_what_it_cannot_find(database, capsys, changes, message):
    options = {"--name": "e", "--battery": "1", "--station": "1", "--profile": "1", **changes}
    args = ["experiment", "add"] + [part for pair in options.items() for part in pair]
    status, out, err = bem(capsys, *args)
    assert (status, out, err) == (1, "", f"bem experiment: {message}\n")


def test_add_takes_exactly_one_profile_source(database, capsys, tmp_path):
    with pytest.raises(SystemExit) as exited:
        main(["experiment", "add", "--name", "e", "--battery", "1", "--station", "1"])
    assert exited.value.code == 2
    with pytest.raises(SystemExit):
        main([
            "experiment", "add", "--name", "e", "--battery", "1", "--station", "1",
            "--profile", "1", "--profile-file", write(tmp_path, CHARGE),
        ])  # fmt: skip
    assert "not allowed with argument" in capsys.readouterr().err


# ---------------------------------------------------------------- list


def test_list_prints_a_header_and_one_row_per_experiment_newest_first(database, capsys, tmp_path):
    queue(capsys, tmp_path, name="first")
    queue(capsys, tmp_path, name="second\tone")
    status, out, _ = bem(capsys, "experiment", "list")
    assert status == 0
    header, *rows = out.splitlines()
    assert header == "id\tstatus\tname\tbattery\tstation\tprofile\tcreated_at\tsamples"
    assert [row.split("\t")[:6] for row in rows] == [
        ["2", "QUEUED", "second one", "cell", "ch1", "daily-charge"],
        ["1", "QUEUED", "first", "cell", "ch1", "daily-charge"],
    ]


def test_list_filters_by_status_in_any_letter_case(database, capsys, tmp_path):
    queue(capsys, tmp_path, name="first")
    queue(capsys, tmp_path, name="second")
    bem(capsys, "experiment", "cancel", "1")
    _, out, _ = bem(capsys, "experiment", "list", "--status", "cancelled")
    assert [row.split("\t")[:3] for row in out.splitlines()[1:]] == [["1", "CANCELLED", "first"]]
    _, out, _ = bem(capsys, "experiment", "list", "--status", "RUNNING")
    assert out.splitlines()[1:] == []


def test_list_refuses_an_unknown_status(database, capsys):
    with pytest.raises(SystemExit):
        main(["experiment", "list", "--status", "PAUSE"])
    assert "invalid choice: 'PAUSE'" in capsys.readouterr().err


# ---------------------------------------------------------------- cancel


def test_cancel_a_queued_experiment(database, capsys, tmp_path):
    queue(capsys, tmp_path)
    status, out, err = bem(capsys, "experiment", "cancel", "1")
    assert (status, out, err) == (0, "1\n", "")
    (experiment,) = stored(database, Experiment)
    assert experiment.status is ExperimentStatus.CANCELLED
    assert experiment.finished_at is not None


def test_cancel_refuses_an_experiment_that_is_not_queued(database, capsys, tmp_path):
    queue(capsys, tmp_path)
    with Session(database) as session:
        session.get(Experiment, 1).status = ExperimentStatus.RUNNING
        session.commit()
    status, out, err = bem(capsys, "experiment", "cancel", "1")
    assert (status, out) == (1, "")
    assert (
        err == "bem experiment: experiment 1 is RUNNING; only QUEUED experiments can be cancelled\n"
    )
    assert stored(database, Experiment)[0].status is ExperimentStatus.RUNNING


def test_cancel_twice_says_it_is_already_cancelled(database, capsys, tmp_path):
    queue(capsys, tmp_path)
    bem(capsys, "experiment", "cancel", "1")
    status, _, err = bem(capsys, "experiment", "cancel", "1")
    assert status == 1
    assert (
        err
        == "bem experiment: experiment 1 is CANCELLED; only QUEUED experiments can be cancelled\n"
    )


def test_cancel_an_unknown_experiment(database, capsys):
    status, _, err = bem(capsys, "experiment", "cancel", "12")
    assert (status, err) == (1, "bem experiment: there is no experiment with id 12\n")
