"""`bem experiment add|list|cancel|stop|pause|resume`: queueing experiments from scripts,
and the operator's commands the node forwards to the cycler."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from cli import main
from datastore.dispatch import claim_pending_commands
from datastore.models import Experiment, Measurement, Profile, StationCommand
from datastore.types import utcnow
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


def test_add_refuses_a_profile_over_the_configured_start_command_limit(
    database, capsys, tmp_path, monkeypatch
):
    """Regression: `bem experiment add` checked the protocol's 4,000,000 bytes whatever
    node.max_payload_bytes said; the experiment then failed to start."""
    monkeypatch.setenv("BEM_NODE_MAX_PAYLOAD_BYTES", "100000")
    status, out, err = queue(capsys, tmp_path, text="REPEAT 2000\n  CC, 1, TIME, 5\nEND\n")
    assert (status, out) == (1, "")
    assert "  this profile expands to 2,000 steps, a start command of " in err
    assert "a cycler accepts at most 0.1 MB (100,000 bytes)" in err
    assert stored(database, Experiment) == []
    assert stored(database, Profile) == []


def test_add_refuses_a_stored_profile_over_the_configured_limit(
    database, capsys, tmp_path, monkeypatch
):
    bem(
        capsys,
        "profile",
        "add",
        write(tmp_path, "REPEAT 2000\n  CC, 1, TIME, 5\nEND\n"),
        "--name",
        "long",
    )
    monkeypatch.setenv("BEM_NODE_MAX_PAYLOAD_BYTES", "100000")
    status, _, err = bem(
        capsys, "experiment", "add", "--name", "e", "--battery", "1", "--station", "1",
        "--profile", "1",
    )  # fmt: skip
    assert status == 1
    assert err.startswith("bem experiment: stored profile 1 is not a valid profile:\n")
    assert "a cycler accepts at most 0.1 MB (100,000 bytes)" in err
    assert stored(database, Experiment) == []


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


# ---------------------------------------------------------------- stop, pause and resume


def requested(engine) -> list[tuple[int, str]]:
    """(experiment id, command) of every operator command waiting for the node."""
    with Session(engine) as session:
        rows = session.execute(
            select(StationCommand.experiment_id, StationCommand.command)
            .where(StationCommand.sent_at.is_(None))
            .order_by(StationCommand.id)
        ).all()
    return [tuple(row) for row in rows]


def put_in(engine, experiment_id: int, status: ExperimentStatus) -> None:
    with Session(engine) as session:
        session.get(Experiment, experiment_id).status = status
        session.commit()


@pytest.mark.parametrize(
    ("status", "command"),
    [
        (ExperimentStatus.RUNNING, "stop"),
        (ExperimentStatus.RUNNING, "pause"),
        (ExperimentStatus.PAUSED, "stop"),
        (ExperimentStatus.PAUSED, "resume"),
    ],
)
def test_an_operator_command_is_stored_for_the_node_as_the_monitor_does(
    database, capsys, tmp_path, status, command
):
    queue(capsys, tmp_path)
    put_in(database, 1, status)

    result = bem(capsys, "experiment", command, "1")

    assert result == (
        0,
        f"{command} of experiment 1 requested; the status changes when the cycler confirms\n",
        "",
    )
    assert requested(database) == [(1, command)]
    assert stored(database, Experiment)[0].status is status  # until the cycler confirms


@pytest.mark.parametrize(
    ("status", "command", "message"),
    [
        (ExperimentStatus.FINISHED, "stop", "experiment 1 is FINISHED: it cannot be stopped"),
        (ExperimentStatus.ERROR, "stop", "experiment 1 is ERROR: it cannot be stopped"),
        (ExperimentStatus.CANCELLED, "stop", "experiment 1 is CANCELLED: it cannot be stopped"),
        (ExperimentStatus.CANCELLED, "pause", "experiment 1 is CANCELLED: it cannot be paused"),
        (ExperimentStatus.ERROR, "resume", "experiment 1 is ERROR: it cannot be resumed"),
        (ExperimentStatus.RUNNING, "resume", "experiment 1 is RUNNING: it cannot be resumed"),
        (ExperimentStatus.PAUSED, "pause", "experiment 1 is PAUSED: it cannot be paused"),
        (
            ExperimentStatus.QUEUED,
            "stop",
            "experiment 1 is QUEUED: it cannot be stopped (cancel it with "
            "`bem experiment cancel 1`)",
        ),
    ],
)
def test_a_command_the_status_does_not_allow_is_refused_in_one_line(
    database, capsys, tmp_path, status, command, message
):
    queue(capsys, tmp_path)
    put_in(database, 1, status)

    result = bem(capsys, "experiment", command, "1")

    assert result == (1, "", f"bem experiment: {message}\n")
    assert requested(database) == []


@pytest.mark.parametrize("command", ["stop", "pause", "resume"])
def test_a_command_for_an_unknown_experiment_says_so(database, capsys, command):
    result = bem(capsys, "experiment", command, "12")
    assert result == (1, "", "bem experiment: there is no experiment with id 12\n")


def test_the_node_forwards_a_stop_given_on_the_command_line(database, capsys, tmp_path):
    queue(capsys, tmp_path)
    put_in(database, 1, ExperimentStatus.RUNNING)
    bem(capsys, "experiment", "stop", "1")

    with database.begin() as connection:
        (pending,) = claim_pending_commands(connection, utcnow())

    assert (pending.experiment_id, pending.station_id, pending.command) == (1, 1, "stop")
    assert requested(database) == []


@pytest.mark.parametrize("status", [ExperimentStatus.RUNNING, ExperimentStatus.PAUSED])
def test_stop_works_whatever_times_were_stored_before_the_node_refused_them(
    database, capsys, tmp_path, status
):
    queue(capsys, tmp_path)
    put_in(database, 1, status)
    with Session(database) as session:
        session.add(
            Measurement(experiment_id=1, seq=0, ts=1e20, voltage=3.7, current=0.2, power=0.7)
        )
        session.get(Experiment, 1).last_sample_at = 1e20
        session.commit()

    result = bem(capsys, "experiment", "stop", "1")

    assert result[0] == 0
    assert requested(database) == [(1, "stop")]


# ---------------------------------------------------------------- queueing on a busy battery


def test_add_refuses_a_battery_that_is_running_an_experiment(database, capsys, tmp_path):
    queue(capsys, tmp_path, name="ageing")
    put_in(database, 1, ExperimentStatus.RUNNING)

    status, out, err = queue(capsys, tmp_path, name="check-up")

    assert (status, out) == (1, "")
    assert err == (
        "bem experiment: battery 'cell' is busy: experiment 1 'ageing' is RUNNING on station "
        "'ch1'; queue this one after it ends\n"
    )
    assert [e.name for e in stored(database, Experiment)] == ["ageing"]
    assert [p.id for p in stored(database, Profile)] == [1]  # the new profile rolled back


# ---------------------------------------------------------------- output into a closed pipe


def test_a_reader_that_stops_reading_ends_the_command_quietly(database, capsys, tmp_path):
    for number in range(3):
        queue(capsys, tmp_path, name=f"run {number}")
    read_end, write_end = os.pipe()
    os.close(read_end)  # as `head -1` does once it has its line
    try:
        finished = subprocess.run(
            [sys.executable, "-m", "cli", "experiment", "list"],
            cwd=Path(__file__).parents[2],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    assert (finished.returncode, finished.stderr) == (0, "")
