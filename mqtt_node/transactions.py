"""The node's database transactions: each one retried with back-off while the database is away.

Every write of the node (an ingest batch, a dispatch pass) runs as one transaction
through `Transactions.commit`. A lost connection, a timeout or a deadlock is retried
after a growing pause until the work commits or the node stops; any other error (a
constraint, a value the database refuses, a bug) is raised at once, since the same work
would fail the same way again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

log = logging.getLogger("bem.node")

T = TypeVar("T")


class Transactions:
    """Runs work in one transaction at a time on `engine`, retrying until `stopping` is set."""

    def __init__(
        self,
        engine: Engine,
        stopping: threading.Event | None = None,
        *,
        first_delay_s: float = 0.5,
        max_delay_s: float = 5.0,
    ) -> None:
        self.engine = engine
        self.stopping = stopping if stopping is not None else threading.Event()
        # The pause doubles after each failure, up to the longest.
        self.first_delay_s = first_delay_s
        self.max_delay_s = max_delay_s
        # Attempts that failed because the database was unreachable, and were retried.
        self.errors = 0

    def commit(self, work: Callable[[Connection], T]) -> T | None:
        """`work(connection)` in one transaction until it commits, then its result.

        None when the node stops before the work could commit (so `work` must not return
        None itself). Each failed attempt was rolled back: `work` starts afresh each time,
        and whatever it would count or send must come out of its result, not be done early.
        """
        delay = self.first_delay_s
        while True:
            try:
                with self.engine.begin() as connection:
                    return work(connection)
            except Exception as error:
                if not is_transient(error):
                    raise
                self.errors += 1
                log.warning(
                    "database write failed (%s); retrying in %.1f s", short_error(error), delay
                )
                if self.stopping.wait(delay):
                    return None
                delay = min(delay * 2, self.max_delay_s)


def is_transient(error: Exception) -> bool:
    """Whether the database may accept the same transaction later (it was unreachable)."""
    if isinstance(error, (OperationalError, InterfaceError, DisconnectionError, PoolTimeoutError)):
        return True
    return isinstance(error, DBAPIError) and error.connection_invalidated


def short_error(error: Exception) -> str:
    """The error's type and the start of its first line, for a log line or a stored reason."""
    original = getattr(error, "orig", None) or error
    first_line = (str(original).splitlines() or [""])[0]  # some errors have no text
    return f"{type(original).__name__}: {first_line[:200]}"
