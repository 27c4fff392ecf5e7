"""`bem demo`: creates the SQLite database and fills it with demo data once, announces
the lab as the pages will show it, keeps the request log quiet unless asked, and on
Ctrl+C says what it did with the experiments that were running.

The web server itself is replaced here by a stand-in (`serve`); tests/simulation/
test_live_demo.py starts the real command.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from cli import main
from datastore import make_engine
from datastore.models import Experiment
from domain.status import ExperimentStatus
from tests.mqtt_node.helpers import ROOT, wait_for

BANNER = re.compile(
    r"^The lab: (?P<batteries>[\d,]+) batter(?:y|ies), (?P<stations>[\d,]+) stations?, "
    r"(?P<profiles>[\d,]+) profiles?, (?P<experiments>[\d,]+) experiments?, "
    r"(?P<samples>[\d,]+) samples?\.$",
    re.MULTILINE,
)


@pytest.fixture
def database(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Where the command is told to keep its database (not created yet)."""
    path = tmp_path / "fresh" / "bem.sqlite3"
    monkeypatch.setenv("BEM_DATABASE_URL", f"sqlite:///{path}")
    return path


def stored(path: Path) -> dict[str, int]:
    """What the pages count, read with plain SQL: batteries, stations, profiles,
    experiments, and the samples the experiments hold."""
    with closing(sqlite3.connect(path)) as connection:
        counts = {
            table: connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            for table in ("batteries", "stations", "profiles", "experiments")
        }
        samples = connection.execute("SELECT COUNT(*) FROM measurements").fetchone()[0]
    return counts | {"samples": samples}


def statuses(path: Path, ids: list[int]) -> dict[int, tuple[str, str]]:
    engine = make_engine(f"sqlite:///{path}")
    try:
        with Session(engine) as session:
            rows = session.execute(
                select(Experiment.id, Experiment.status, Experiment.status_message).where(
                    Experiment.id.in_(ids)
                )
            ).all()
            return {row[0]: (row[1].value, row[2]) for row in rows}
    finally:
        engine.dispose()


def announced(out: str) -> dict[str, int]:
    match = BANNER.search(out)
    assert match, out
    return {key: int(value.replace(",", "")) for key, value in match.groupdict().items()}


@pytest.fixture
def serve(monkeypatch: pytest.MonkeyPatch) -> Callable[[Callable[[], None]], None]:
    """`serve(while_serving)`: the demo's web server becomes `while_serving`, called
    instead of serving; it returns as the server does on Ctrl+C."""

    def replace(while_serving: Callable[[], None]) -> None:
        monkeypatch.setattr("cli.demo.serve", lambda *_args, **_kwargs: while_serving())

    return replace


def test_demo_creates_the_database_and_fills_it(database, capsys):
    assert main(["demo", "--no-serve"]) == 0
    out, err = capsys.readouterr()
    assert database.is_file()
    assert stored(database)["experiments"] > 0
    first, banner = out.splitlines()
    assert first.startswith(f"Demo data created in sqlite:///{database} (")
    assert banner.startswith("The lab: ")
    assert err == ""


def test_running_the_demo_again_says_the_data_is_already_there(database, capsys):
    main(["demo", "--no-serve"])
    first_count = stored(database)["experiments"]
    capsys.readouterr()
    assert main(["demo", "--no-serve"]) == 0
    out, _ = capsys.readouterr()
    assert out.startswith(f"Data already there in sqlite:///{database}: demo data not added.\n")
    assert stored(database)["experiments"] == first_count


def test_the_banner_announces_what_the_database_holds(database, capsys):
    assert main(["demo", "--no-serve"]) == 0
    out, _ = capsys.readouterr()
    assert announced(out) == stored(database)


@pytest.mark.slow
def test_with_the_cyclers_running_the_banner_counts_the_live_cells_and_runs_too(
    database, capsys, serve
):
    """The live demo adds a cell per station and queues pulse tests after the demo data
    is seeded: the banner comes after them, so it names what the pages show."""
    counted: list[dict[str, int]] = []
    serve(lambda: counted.append(stored(database)))

    assert main(["demo"]) == 0
    out, _ = capsys.readouterr()
    said, shown = announced(out), counted[0]
    # Samples keep arriving; the rest is what the pages list while the demo serves.
    for what in ("batteries", "stations", "profiles", "experiments"):
        assert said[what] == shown[what], what
    assert out.index("The lab: ") > out.index("Simulated cyclers running")


@pytest.mark.slow
def test_on_ctrl_c_the_demo_stops_the_running_experiments_and_says_so(database, capsys, serve):
    def until_two_run() -> None:
        wait_for(lambda: len(running(database)) >= 2, 30, "two experiments running")

    serve(until_two_run)
    assert main(["demo"]) == 0
    out, _ = capsys.readouterr()

    said = re.search(r"Stopped (\d+) running experiments? \(([#\d, ]+)\): they show as (\w+)", out)
    assert said, out
    stopped = [int(i) for i in re.findall(r"#(\d+)", said.group(2))]
    assert int(said.group(1)) == len(stopped) >= 2
    assert said.group(3) == ExperimentStatus.FINISHED.value
    assert set(statuses(database, stopped).values()) == {
        ("FINISHED", "stopped when the demo was shut down")
    }
    assert running(database) == []


def running(path: Path) -> list[int]:
    engine = make_engine(f"sqlite:///{path}")
    try:
        with Session(engine) as session:
            return list(
                session.scalars(
                    select(Experiment.id).where(Experiment.status == ExperimentStatus.RUNNING)
                )
            )
    finally:
        engine.dispose()


REQUEST_LINE = '127.0.0.1 - - "GET /_dash-update-component HTTP/1.1" 200 -'


def log_a_request() -> None:
    """What the development server does for each request it serves."""
    logging.getLogger("werkzeug").info(REQUEST_LINE)


def test_the_demo_does_not_log_each_request_by_default(database, capsys, serve):
    serve(log_a_request)
    assert main(["demo", "--no-cyclers"]) == 0
    _out, err = capsys.readouterr()
    assert REQUEST_LINE not in err


def test_the_access_log_option_logs_each_request_as_one_event(database, capsys, serve):
    serve(log_a_request)
    assert main(["demo", "--no-cyclers", "--access-log"]) == 0
    _out, err = capsys.readouterr()
    (line,) = [line for line in err.splitlines() if REQUEST_LINE in line]
    assert re.fullmatch(rf"\S+Z INFO werkzeug {re.escape(REQUEST_LINE)}", line)


def test_the_access_log_setting_turns_it_on_too(database, capsys, serve, monkeypatch):
    monkeypatch.setenv("BEM_DEMO_ACCESS_LOG", "true")
    serve(log_a_request)
    assert main(["demo", "--no-cyclers"]) == 0
    assert REQUEST_LINE in capsys.readouterr()[1]


def _make_plan(*arguments: str) -> list[str]:
    """The commands `make -n` would run, as a top-level make prints them (the suite itself
    may run under `make test`, whose MAKELEVEL would add "Entering directory" lines)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    planned = subprocess.run(
        ["make", "--no-print-directory", "-n", *arguments],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return [line.rstrip() for line in planned.splitlines() if line.strip()]


def test_make_demo_passes_its_port_to_the_command() -> None:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    assert _make_plan("demo", "PORT=8051")[-1].endswith("bem demo --port 8051")
    assert _make_plan("demo")[-1].endswith("bem demo")
