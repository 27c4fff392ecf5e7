"""Import jobs: an import running in the background, as the import page follows it.

A job is a row in the database (datastore/import_jobs.py) that the thread running the
import keeps current, so that any web worker can show its progress. A worker that dies
leaves its jobs "running"; `as_seen` shows such a job as failed once it has not been
touched for `STALE_AFTER_S`, because the thread refreshes it far more often than that.

Pure logic: no SQL, no Dash.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

# A running job's row is touched at least this often (a heartbeat when nothing moves)...
HEARTBEAT_S = 10.0
# ...so a running job untouched for this long has lost its thread.
STALE_AFTER_S = 60.0
# Progress reaches the row at most this often: the page polls about once a second.
PROGRESS_INTERVAL_S = 0.5

INTERRUPTED = (
    "interrupted: the server stopped working on this import (it may have restarted); "
    "nothing was stored, import the file again"
)


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_finished(self) -> bool:
        return self in (JobState.DONE, JobState.FAILED, JobState.CANCELLED)


@dataclass(frozen=True)
class JobStatus:
    """One job as the page shows it."""

    id: int
    filename: str
    state: JobState
    stage: str
    rows_done: int
    bytes_done: int
    bytes_total: int
    message: str
    experiment_id: int | None
    cancel_requested: bool
    updated_at: dt.datetime

    @property
    def fraction(self) -> float | None:
        """0..1 when the size is known (1 once done)."""
        if self.state is JobState.DONE:
            return 1.0
        if self.bytes_total <= 0:
            return None
        return min(max(self.bytes_done / self.bytes_total, 0.0), 1.0)


def as_seen(job: JobStatus, now: dt.datetime, stale_after_s: float = STALE_AFTER_S) -> JobStatus:
    """`job`, or for a queued or running job nobody has touched for `stale_after_s`, the
    same job failed as interrupted."""
    if job.state.is_finished:
        return job
    if (now - job.updated_at).total_seconds() <= stale_after_s:
        return job
    return dataclasses.replace(job, state=JobState.FAILED, message=INTERRUPTED)


class WriteSchedule:
    """When the thread following an import writes its row: progress at most every
    `interval_s` (a new stage at once), and a heartbeat every `heartbeat_s` otherwise.

    The caller passes its clock's reading (seconds, monotonic) to each question.
    """

    def __init__(
        self, interval_s: float = PROGRESS_INTERVAL_S, heartbeat_s: float = HEARTBEAT_S
    ) -> None:
        self.interval_s = interval_s
        self.heartbeat_s = heartbeat_s
        self._last_write: float | None = None
        self._last_stage: str | None = None

    def due(self, now: float, stage: str, changed: bool) -> bool:
        """Whether to write now: progress that `changed` (in `stage`), or a heartbeat."""
        if self._last_write is None or stage != self._last_stage:
            return True
        since = now - self._last_write
        return (changed and since >= self.interval_s) or since >= self.heartbeat_s

    def written(self, now: float, stage: str) -> None:
        self._last_write = now
        self._last_stage = stage
