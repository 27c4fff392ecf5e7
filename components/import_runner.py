"""Imports in the background: a thread per import, in the web worker that was asked.

An import of a big file takes minutes, longer than a request may (gunicorn kills a
worker after 120 s), so the import page only starts it and then polls its job row
(datastore/import_jobs.py). The import thread never writes that row itself: its
progress callback only keeps the latest figures, and a companion thread writes them at
most twice a second, sends a heartbeat while they do not move, and turns a cancel
request found in the row into the `threading.Event` the import checks. On SQLite the
import's transaction holds the only write lock until it commits; the companion then
waits, the import does not, and this worker's page reads the figures from memory
(`ImportRunner.live`).

Whatever the outcome, the job ends with a state and a message, and the uploaded file is
deleted.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import flask
from sqlalchemy import Engine

from config.logs import for_experiment
from datastore.import_jobs import (
    cancel_requested,
    finish_job,
    heartbeat,
    mark_running,
    read_job,
    request_cancel,
    write_progress,
)
from datastore.imports import IMPORT_PROBLEMS, ImportCancelled, import_file
from domain.import_jobs import JobState, JobStatus, WriteSchedule
from domain.importing import ColumnChoice, ImportProgress

log = logging.getLogger("bem.import")

EXTENSION_KEY = "bem-imports"
CANCELLED_MESSAGE = "cancelled: nothing was stored"
UNEXPECTED_MESSAGE = (
    "the import failed unexpectedly ({kind}); nothing was stored. Details are in the server log."
)


@dataclass(frozen=True)
class ImportRequest:
    """What to import and as what: the arguments of `datastore.imports.import_file`."""

    path: Path
    name: str
    battery_id: int
    profile_id: int | None = None
    description: str = ""
    format: str | None = None
    choices: Sequence[ColumnChoice] = ()
    start_time: float | None = None
    # A ZIP member larger than this unpacked is refused (web.max_upload_bytes).
    max_member_bytes: int | None = None


ImportFunction = Callable[..., int]


class _Live:
    """A job running in this process: its latest figures and its cancel flag."""

    def __init__(self, status: JobStatus) -> None:
        # The latest figures; `changed` says whether they moved since the watcher looked.
        self.status = status
        self.cancel = threading.Event()
        self.lock = threading.Lock()
        self.changed = False

    def report(self, progress: ImportProgress) -> None:
        with self.lock:
            self.status = dataclasses.replace(
                self.status,
                state=JobState.RUNNING,
                stage=progress.stage,
                rows_done=progress.rows_done,
                bytes_done=progress.bytes_done,
                bytes_total=progress.bytes_total,
            )
            self.changed = True

    def take(self) -> tuple[JobStatus, bool]:
        with self.lock:
            changed, self.changed = self.changed, False
            return self.status, changed


class ImportRunner:
    """Starts imports in threads and follows them; one per web worker."""

    def __init__(
        self,
        engine: Engine,
        *,
        import_function: ImportFunction = import_file,
        tick_s: float = 0.25,
        schedule: Callable[[], WriteSchedule] = WriteSchedule,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.import_function = import_function
        self.tick_s = tick_s
        self.schedule = schedule
        self.clock = clock
        self._live: dict[int, _Live] = {}
        self._lock = threading.Lock()

    def start(self, job_id: int, request: ImportRequest) -> threading.Thread:
        """Run the import of job `job_id` (created queued) in a new thread."""
        status = read_job(self.engine, job_id)
        if status is None:
            raise LookupError(f"import job {job_id} does not exist")
        live = _Live(status)
        with self._lock:
            self._live[job_id] = live
        thread = threading.Thread(
            target=self._run, args=(job_id, request, live), name=f"import-{job_id}", daemon=True
        )
        thread.start()
        return thread

    def live(self, job_id: int) -> JobStatus | None:
        """The job's latest figures if it runs in this process, else None."""
        with self._lock:
            live = self._live.get(job_id)
        return None if live is None else _peek(live)

    def status(self, job_id: int) -> JobStatus | None:
        """The job as the page shows it: from memory when it runs here, else its row."""
        return self.live(job_id) or read_job(self.engine, job_id)

    def cancel(self, job_id: int) -> bool:
        """Ask the job to stop: at once when it runs here, else through its row (the worker
        running it finds the request within a second). False when it has ended."""
        with self._lock:
            live = self._live.get(job_id)
        if live is not None:
            if _peek(live).state.is_finished:
                return False
            live.cancel.set()
            return True
        return request_cancel(self.engine, job_id)

    # ------------------------------------------------------------ the threads

    def _run(self, job_id: int, request: ImportRequest, live: _Live) -> None:
        stop = threading.Event()
        watcher = threading.Thread(
            target=self._watch, args=(job_id, live, stop), name=f"import-{job_id}-watch"
        )
        state, message, experiment_id = JobState.FAILED, "", None
        try:
            self._quietly(mark_running, job_id)
            live.report(ImportProgress("starting", 0, 0, live.status.bytes_total))
            watcher.start()
            experiment_id = self.import_function(
                self.engine,
                request.path,
                name=request.name,
                battery_id=request.battery_id,
                profile_id=request.profile_id,
                description=request.description,
                format=request.format,
                choices=request.choices,
                start_time=request.start_time,
                max_member_bytes=request.max_member_bytes,
                progress=live.report,
                cancel=live.cancel,
            )
            state = JobState.DONE
        except ImportCancelled:
            state, message = JobState.CANCELLED, CANCELLED_MESSAGE
        except IMPORT_PROBLEMS as error:
            # The file, the battery, profile or name: said for the person importing.
            message = str(error)
        except Exception as error:
            log.exception("import job %s failed", job_id)
            message = UNEXPECTED_MESSAGE.format(kind=type(error).__name__)
        finally:
            stop.set()
            if watcher.is_alive():
                watcher.join()
            shutil.rmtree(request.path.parent, ignore_errors=True)
            with live.lock:
                final = live.status = dataclasses.replace(
                    live.status, state=state, message=message, experiment_id=experiment_id
                )
            recorded = self._quietly(
                finish_job,
                job_id,
                state,
                message=message,
                experiment_id=experiment_id,
                progress=ImportProgress(
                    final.stage, final.rows_done, final.bytes_done, final.bytes_total
                ),
            )
            if recorded is not _NOT_WRITTEN:
                with self._lock:
                    self._live.pop(job_id, None)
            log.info(
                "import job %s %s%s",
                job_id,
                state.value,
                f": {message}" if message else "",
                extra=for_experiment(experiment_id),
            )

    def _watch(self, job_id: int, live: _Live, stop: threading.Event) -> None:
        schedule = self.schedule()
        pending = False
        while not stop.wait(self.tick_s):
            status, changed = live.take()
            pending = pending or changed
            now = self.clock()
            if schedule.due(now, status.stage, pending):
                progress = ImportProgress(
                    status.stage, status.rows_done, status.bytes_done, status.bytes_total
                )
                write = write_progress if pending else heartbeat
                args: tuple[Any, ...] = (progress,) if pending else ()
                if self._quietly(write, job_id, *args) is True:
                    schedule.written(now, status.stage)
                    pending = False
            if not live.cancel.is_set() and self._quietly(cancel_requested, job_id) is True:
                live.cancel.set()

    def _quietly(self, write: Callable[..., Any], job_id: int, *args: Any, **kwargs: Any) -> Any:
        """A write to the job's row; a database that cannot take it now (SQLite busy, a
        lost connection) is logged, and the import goes on."""
        try:
            return write(self.engine, job_id, *args, **kwargs)
        except Exception:
            log.warning("import job %s: could not update its row", job_id, exc_info=True)
            return _NOT_WRITTEN


_NOT_WRITTEN = object()


def _peek(live: _Live) -> JobStatus:
    with live.lock:
        return live.status


def runner() -> ImportRunner:
    """This web worker's runner (made on first use, on the app's database)."""
    from components import context

    extensions = flask.current_app.extensions
    found = extensions.get(EXTENSION_KEY)
    if found is None:
        with _MAKING:
            found = extensions.get(EXTENSION_KEY)
            if found is None:
                found = extensions[EXTENSION_KEY] = ImportRunner(context.current().store.engine)
    assert isinstance(found, ImportRunner)
    return found


_MAKING = threading.Lock()
