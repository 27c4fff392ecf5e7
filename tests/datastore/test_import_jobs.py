"""The import jobs table: states, progress, cancel requests and jobs left by a dead worker."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, update

from datastore.import_jobs import (
    cancel_requested,
    create_job,
    finish_job,
    heartbeat,
    mark_running,
    read_job,
    request_cancel,
    write_progress,
)
from datastore.models import ImportJob
from datastore.types import utcnow
from domain.import_jobs import INTERRUPTED, STALE_AFTER_S, JobState
from domain.importing import ImportProgress
from tests.datastore.support import add_experiment


def _age(engine: Engine, job_id: int, seconds: float) -> None:
    with engine.begin() as connection:
        connection.execute(
            update(ImportJob)
            .where(ImportJob.id == job_id)
            .values(updated_at=utcnow() - dt.timedelta(seconds=seconds))
        )


def test_a_job_goes_from_queued_to_running_to_done_with_its_experiment(
    engine: Engine, session
) -> None:
    experiment_id = add_experiment(session)
    job_id = create_job(engine, token="a" * 32, filename="run.csv", bytes_total=1000)
    job = read_job(engine, job_id)
    assert job is not None
    assert (job.state, job.filename, job.bytes_total, job.fraction) == (
        JobState.QUEUED, "run.csv", 1000, 0.0,
    )  # fmt: skip
    mark_running(engine, job_id)
    assert write_progress(engine, job_id, ImportProgress("checking and storing", 5000, 250, 1000))
    job = read_job(engine, job_id)
    assert job is not None
    assert (job.state, job.stage, job.rows_done, job.bytes_done, job.fraction) == (
        JobState.RUNNING, "checking and storing", 5000, 250, 0.25,
    )  # fmt: skip
    finish_job(engine, job_id, JobState.DONE, experiment_id=experiment_id)
    job = read_job(engine, job_id)
    assert job is not None
    assert (job.state, job.experiment_id, job.stage, job.fraction) == (
        JobState.DONE, experiment_id, "done", 1.0,
    )  # fmt: skip


def test_a_failed_job_keeps_its_message_and_takes_no_more_progress(engine: Engine) -> None:
    job_id = create_job(engine, token="b" * 32, filename="bad.csv", bytes_total=10)
    mark_running(engine, job_id)
    message = "line 3, column 'Voltage / V': 'abc' is not a number"
    finish_job(engine, job_id, JobState.FAILED, message=message)
    assert not write_progress(engine, job_id, ImportProgress("reading", 1, 1, 10))
    assert not heartbeat(engine, job_id)
    # An ended job stays as it ended: a late finish (or a second one) changes nothing.
    finish_job(engine, job_id, JobState.DONE, experiment_id=None)
    job = read_job(engine, job_id)
    assert job is not None
    assert (job.state, job.message, job.rows_done) == (JobState.FAILED, message, 0)


def test_finishing_in_a_state_that_is_not_an_end_is_refused(engine: Engine) -> None:
    job_id = create_job(engine, token="c" * 32, filename="x.csv", bytes_total=1)
    with pytest.raises(ValueError, match="not an end state"):
        finish_job(engine, job_id, JobState.RUNNING)


def test_cancel_is_requested_on_an_active_job_only(engine: Engine) -> None:
    job_id = create_job(engine, token="d" * 32, filename="x.csv", bytes_total=1)
    mark_running(engine, job_id)
    assert not cancel_requested(engine, job_id)
    assert request_cancel(engine, job_id)
    assert cancel_requested(engine, job_id)
    finish_job(engine, job_id, JobState.CANCELLED)
    job = read_job(engine, job_id)
    assert job is not None
    assert job.state is JobState.CANCELLED and job.cancel_requested
    other = create_job(engine, token="e" * 32, filename="y.csv", bytes_total=1)
    finish_job(engine, other, JobState.DONE)
    assert not request_cancel(engine, other)
    assert not cancel_requested(engine, other)


def test_a_running_job_nobody_touches_for_a_minute_reads_as_interrupted(engine: Engine) -> None:
    job_id = create_job(engine, token="f" * 32, filename="x.csv", bytes_total=1)
    mark_running(engine, job_id)
    _age(engine, job_id, STALE_AFTER_S - 5)
    job = read_job(engine, job_id)
    assert job is not None and job.state is JobState.RUNNING
    _age(engine, job_id, STALE_AFTER_S + 5)
    job = read_job(engine, job_id)
    assert job is not None
    assert (job.state, job.message) == (JobState.FAILED, INTERRUPTED)
    # A heartbeat from a live thread brings it back.
    assert heartbeat(engine, job_id)
    job = read_job(engine, job_id)
    assert job is not None and job.state is JobState.RUNNING


def test_an_old_finished_job_stays_as_it_ended(engine: Engine) -> None:
    job_id = create_job(engine, token="g" * 32, filename="x.csv", bytes_total=1)
    finish_job(engine, job_id, JobState.CANCELLED)
    _age(engine, job_id, 3600)
    job = read_job(engine, job_id)
    assert job is not None and job.state is JobState.CANCELLED


def test_an_unknown_job_reads_as_none(engine: Engine) -> None:
    assert read_job(engine, 12345) is None
