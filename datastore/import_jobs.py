"""The import jobs table: what the import page reads, and what the thread running an
import writes (domain/import_jobs.py says what a job is).

Every write is its own short transaction, separate from the import's: the import holds
its transaction open until the whole file is stored, and the page must see progress
before then.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, RowMapping, insert, select, update

from datastore.models import ImportJob
from datastore.types import utcnow
from domain.import_jobs import JobState, JobStatus, as_seen
from domain.importing import ImportProgress

_ACTIVE = (JobState.QUEUED, JobState.RUNNING)


def create_job(engine: Engine, *, token: str, filename: str, bytes_total: int) -> int:
    """A queued job for the uploaded file `token`; returns its id."""
    with engine.begin() as connection:
        now = utcnow()
        result = connection.execute(
            insert(ImportJob).values(
                token=token,
                filename=filename[:255],
                state=JobState.QUEUED,
                stage="waiting",
                rows_done=0,
                bytes_done=0,
                bytes_total=bytes_total,
                message="",
                cancel_requested=False,
                created_at=now,
                updated_at=now,
            )
        )
        (job_id,) = result.inserted_primary_key or (None,)
    assert job_id is not None
    return int(job_id)


def mark_running(engine: Engine, job_id: int) -> None:
    _update(engine, job_id, _ACTIVE, state=JobState.RUNNING, stage="starting")


def write_progress(engine: Engine, job_id: int, progress: ImportProgress) -> bool:
    """Record how far the import has got (and that it is alive); False when the job has
    ended meanwhile, so nothing was written."""
    return _update(
        engine,
        job_id,
        (JobState.RUNNING,),
        stage=progress.stage[:64],
        rows_done=progress.rows_done,
        bytes_done=progress.bytes_done,
        bytes_total=progress.bytes_total,
    )


def heartbeat(engine: Engine, job_id: int) -> bool:
    """Say the job's thread is alive, though its progress has not moved."""
    return _update(engine, job_id, (JobState.RUNNING,))


def finish_job(
    engine: Engine,
    job_id: int,
    state: JobState,
    *,
    message: str = "",
    experiment_id: int | None = None,
    progress: ImportProgress | None = None,
) -> None:
    """End the job: done (with its experiment), failed (with the reason) or cancelled;
    `progress` is how far it got."""
    if not state.is_finished:
        raise ValueError(f"{state} is not an end state")
    values: dict[str, object] = {"state": state, "message": message, "experiment_id": experiment_id}
    if progress is not None:
        values.update(
            stage=progress.stage[:64],
            rows_done=progress.rows_done,
            bytes_done=progress.bytes_done,
            bytes_total=progress.bytes_total,
        )
    if state is JobState.DONE:
        values["stage"] = "done"
    _update(engine, job_id, _ACTIVE, **values)


def request_cancel(engine: Engine, job_id: int) -> bool:
    """Ask the job's thread to stop; False when the job has already ended."""
    with engine.begin() as connection:
        result = connection.execute(
            update(ImportJob)
            .where(ImportJob.id == job_id, ImportJob.state.in_(_ACTIVE))
            .values(cancel_requested=True)
        )
    return bool(result.rowcount)


def cancel_requested(engine: Engine, job_id: int) -> bool:
    with engine.connect() as connection:
        return bool(
            connection.scalar(select(ImportJob.cancel_requested).where(ImportJob.id == job_id))
        )


def read_job(engine: Engine, job_id: int, now: dt.datetime | None = None) -> JobStatus | None:
    """The job as the page shows it (a running job nobody touches any more: failed,
    interrupted), or None when there is no such job."""
    table = ImportJob.__table__
    with engine.connect() as connection:
        row = connection.execute(select(table).where(table.c.id == job_id)).one_or_none()
    if row is None:
        return None
    return as_seen(_status(row._mapping), now or utcnow())


def _status(mapping: RowMapping) -> JobStatus:
    return JobStatus(
        id=mapping["id"],
        filename=mapping["filename"],
        state=JobState(mapping["state"]),
        stage=mapping["stage"],
        rows_done=mapping["rows_done"],
        bytes_done=mapping["bytes_done"],
        bytes_total=mapping["bytes_total"],
        message=mapping["message"],
        experiment_id=mapping["experiment_id"],
        cancel_requested=mapping["cancel_requested"],
        updated_at=mapping["updated_at"],
    )


def _update(engine: Engine, job_id: int, states: tuple[JobState, ...], **values: object) -> bool:
    with engine.begin() as connection:
        result = connection.execute(
            update(ImportJob)
            .where(ImportJob.id == job_id, ImportJob.state.in_(states))
            .values(updated_at=utcnow(), **values)
        )
    return bool(result.rowcount)
