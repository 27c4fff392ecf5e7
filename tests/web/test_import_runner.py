"""Imports in the background: the job row follows the import thread to its end, progress
reaches the row at most twice a second, cancel works from any worker, and the uploaded
file goes whatever happens."""

from __future__ import annotations

import threading
import time
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

import datastore.import_jobs as import_jobs
from components.import_runner import (
    CANCELLED_MESSAGE,
    ImportRequest,
    ImportRunner,
)
from datastore import catalog
from datastore.import_jobs import create_job, read_job
from datastore.imports import ImportCancelled
from datastore.models import Experiment, Measurement
from domain.import_jobs import JobState, JobStatus, WriteSchedule
from domain.importing import ImportProgress
from tests.datastore.test_import_file import STORED_MODELS, count, malformed_files

CSV = "Unix Time / s,Voltage / V,Current / A\n" + "".join(
    f"{1_800_000_000 + i},{3.5 + i / 1000},1.0\n" for i in range(100)
)


@pytest.fixture
def battery_id(sqlite_engine: Engine) -> int:
    with Session(sqlite_engine) as session, session.begin():
        battery = catalog.create_battery(
            session, name="cell", technology="lithium-ion", voltage_min=2.5, voltage_max=4.2,
            current_min=-2, current_max=2, nominal_capacity_ah=1.0, details={"chemistry": "NMC"},
        )  # fmt: skip
        session.flush()
        return battery.id


def _upload(tmp_path: Path, text: str, name: str = "run.csv") -> Path:
    folder = tmp_path / "uploads" / ("a" * 32)
    folder.mkdir(parents=True)
    path = folder / name
    path.write_text(text)
    return path


def _run(runner: ImportRunner, engine: Engine, path: Path, **request) -> JobStatus:
    job_id = create_job(engine, token=path.parent.name, filename=path.name, bytes_total=100)
    request.setdefault("battery_id", 1)
    runner.start(job_id, ImportRequest(path=path, name="imported run", **request)).join(10)
    job = read_job(engine, job_id)
    assert job is not None
    return job


def test_a_good_file_ends_done_with_its_experiment_and_the_upload_is_deleted(
    sqlite_engine: Engine, battery_id: int, tmp_path: Path
) -> None:
    path = _upload(tmp_path, CSV)
    job = _run(ImportRunner(sqlite_engine), sqlite_engine, path, battery_id=battery_id)
    assert (job.state, job.stage, job.message) == (JobState.DONE, "done", "")
    assert job.experiment_id is not None
    with Session(sqlite_engine) as session:
        experiment = session.get(Experiment, job.experiment_id)
        assert experiment is not None and experiment.name == "imported run"
        assert session.scalar(select(func.count()).select_from(Measurement)) == 100
    assert not path.parent.exists()


def test_a_bad_cell_fails_the_job_with_its_row_and_column_and_stores_nothing(
    sqlite_engine: Engine, battery_id: int, tmp_path: Path
) -> None:
    path = _upload(tmp_path, CSV.replace("3.505,", "abc,"))
    job = _run(ImportRunner(sqlite_engine), sqlite_engine, path, battery_id=battery_id)
    assert job.state is JobState.FAILED
    assert job.message == "line 7, column 'Voltage / V': 'abc' is not a number"
    assert job.experiment_id is None
    with Session(sqlite_engine) as session:
        assert session.scalar(select(func.count()).select_from(Experiment)) == 0
    assert not path.parent.exists()


@pytest.mark.parametrize("error", [KeyError, ValueError])
def test_an_unexpected_error_is_logged_and_the_user_reads_one_sentence(
    sqlite_engine: Engine, tmp_path: Path, error: type[Exception]
) -> None:
    # A ValueError from inside a library is a defect too: its text is not the user's.
    def broken(*_args, **_kwargs) -> int:
        raise error("internal detail")

    path = _upload(tmp_path, CSV)
    job = _run(ImportRunner(sqlite_engine, import_function=broken), sqlite_engine, path)
    assert job.state is JobState.FAILED
    assert job.message == (
        f"the import failed unexpectedly ({error.__name__}); nothing was stored. "
        "Details are in the server log."
    )
    assert "internal detail" not in job.message
    assert not path.parent.exists()


def _until_cancelled(started: threading.Event):
    def slow_import(*_args, progress, cancel: threading.Event, **_kwargs) -> int:
        rows = 0
        while not cancel.is_set():
            rows += 100
            progress(ImportProgress("checking and storing", rows, rows, 10**9))
            started.set()
            time.sleep(0.01)
        raise ImportCancelled()

    return slow_import


@pytest.mark.parametrize("where", ["this worker", "another worker"])
def test_cancel_stops_the_import_from_this_worker_or_another(
    sqlite_engine: Engine, tmp_path: Path, where: str
) -> None:
    started = threading.Event()
    runner = ImportRunner(sqlite_engine, import_function=_until_cancelled(started), tick_s=0.05)
    path = _upload(tmp_path, CSV)
    job_id = create_job(sqlite_engine, token=path.parent.name, filename="run.csv", bytes_total=1)
    thread = runner.start(job_id, ImportRequest(path=path, name="x", battery_id=1))
    assert started.wait(5)
    other = runner if where == "this worker" else ImportRunner(sqlite_engine)
    assert other.cancel(job_id)
    thread.join(5)
    job = read_job(sqlite_engine, job_id)
    assert job is not None
    assert (job.state, job.message) == (JobState.CANCELLED, CANCELLED_MESSAGE)
    assert not path.parent.exists()
    assert not other.cancel(job_id)  # an ended job takes no more requests


def test_progress_reaches_the_row_at_most_twice_a_second_and_the_page_sees_it(
    sqlite_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes: list[float] = []
    real_write = import_jobs.write_progress

    def counted(engine, job_id, progress):
        writes.append(time.monotonic())
        return real_write(engine, job_id, progress)

    monkeypatch.setattr("components.import_runner.write_progress", counted)
    seen: list[int] = []
    runner_box: list[ImportRunner] = []

    def busy_import(*_args, progress, **_kwargs) -> int:
        deadline = time.monotonic() + 2.0
        rows = 0
        while time.monotonic() < deadline:  # about 2,000 reports in 2 s
            rows += 1
            progress(ImportProgress("checking and storing", rows, rows, 10**6))
            time.sleep(0.001)
        live = runner_box[0].live(job_id)
        assert live is not None
        seen.append(live.rows_done)
        raise ImportCancelled()

    runner = ImportRunner(sqlite_engine, import_function=busy_import, tick_s=0.05)
    runner_box.append(runner)
    path = _upload(tmp_path, CSV)
    job_id = create_job(sqlite_engine, token=path.parent.name, filename="run.csv", bytes_total=1)
    runner.start(job_id, ImportRequest(path=path, name="x", battery_id=1)).join(10)
    # The first write at once, then at most one per 0.5 s: 5 in 2 s, whatever the reports.
    assert 3 <= len(writes) <= 6
    assert all(later - earlier >= 0.45 for earlier, later in pairwise(writes[1:]))
    assert seen and seen[0] > 100  # the runner's own figures are the latest, not the row's


def test_a_stalled_import_still_sends_heartbeats(sqlite_engine: Engine, tmp_path: Path) -> None:
    release = threading.Event()

    def stalled(*_args, **_kwargs) -> int:
        release.wait(5)
        raise ImportCancelled()

    runner = ImportRunner(
        sqlite_engine,
        import_function=stalled,
        tick_s=0.02,
        schedule=lambda: WriteSchedule(interval_s=0.05, heartbeat_s=0.1),
    )
    path = _upload(tmp_path, CSV)
    job_id = create_job(sqlite_engine, token=path.parent.name, filename="run.csv", bytes_total=1)
    thread = runner.start(job_id, ImportRequest(path=path, name="x", battery_id=1))
    time.sleep(0.3)
    first = read_job(sqlite_engine, job_id)
    time.sleep(0.3)
    second = read_job(sqlite_engine, job_id)
    release.set()
    thread.join(5)
    assert first is not None and second is not None
    assert first.state is JobState.RUNNING
    assert second.updated_at > first.updated_at


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(example=malformed_files())
def test_a_generated_malformed_file_only_ever_ends_in_the_page_s_message_with_nothing_stored(
    sqlite_engine: Engine, battery_id: int, tmp_path_factory: pytest.TempPathFactory, example
) -> None:
    """What the import page shows of a job is its state and message: a bad file must end
    FAILED with one sentence a problem (row and column where there are some), never a
    trace or SQL, and leave the stored rows as they were; a good one ends DONE."""
    path = tmp_path_factory.mktemp("upload") / "uploads" / ("b" * 32) / "generated.csv"
    path.parent.mkdir(parents=True)
    path.write_bytes(example.content)
    with Session(sqlite_engine) as session:
        before = {model: count(session, model) for model in STORED_MODELS}
    job = _run(ImportRunner(sqlite_engine), sqlite_engine, path, battery_id=battery_id)
    assert not path.parent.exists()
    if example.rows is None:
        assert job.state is JobState.FAILED and job.experiment_id is None
        assert job.message and "Traceback" not in job.message
        assert not any(word in job.message for word in ("INSERT", "SELECT", "sqlite3", "pymysql"))
        if example.first_bad_line is not None:
            assert job.message.startswith(f"line {example.first_bad_line}"), job.message
        with Session(sqlite_engine) as session:
            assert {model: count(session, model) for model in STORED_MODELS} == before
        return
    assert job.state is JobState.DONE, job.message
    with Session(sqlite_engine) as session:
        experiment = session.get(Experiment, job.experiment_id)
        assert experiment is not None and experiment.sample_count == example.rows
