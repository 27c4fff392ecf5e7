"""Opening the database: the handle every process holds, with its checks at start.

`open_datastore(url)` connects (retrying while a server is still starting), creates or
migrates the embedded SQLite file, and refuses a server database whose schema is behind:
that one is migrated explicitly with `bem db upgrade`, so several processes never race
to change it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from datastore.engine import make_engine, make_session_factory
from datastore.migrate import current_revision, head_revision, upgrade


class DatastoreError(Exception):
    """The database cannot be used: unreachable, or its schema is out of date."""


@dataclass(frozen=True)
class Datastore:
    """An engine and its session factory: what pages, commands and the node query through."""

    engine: Engine
    sessions: sessionmaker[Session]

    @property
    def where(self) -> str:
        """The database's URL with any password hidden, for messages and logs."""
        return self.engine.url.render_as_string(hide_password=True)


def wait_for_database(engine: Engine, timeout_s: float = 0.0) -> None:
    """Connect, retrying with back-off for up to `timeout_s` (a server may still be starting)."""
    deadline = time.monotonic() + timeout_s
    delay = 0.5
    while True:
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return
        except OperationalError as error:
            if time.monotonic() >= deadline:
                reason = str(error.orig).strip() or type(error.orig).__name__
                where = engine.url.render_as_string(hide_password=True)
                raise DatastoreError(f"cannot reach the database at {where}: {reason}") from None
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 5.0)


def open_datastore(url: str, wait_s: float = 0.0) -> Datastore:
    """Connect to `url` and make sure its schema is current (see the module's docstring)."""
    engine = make_engine(url)
    wait_for_database(engine, wait_s)
    if engine.dialect.name == "sqlite":
        upgrade(engine)
    else:
        current = current_revision(engine)
        head = head_revision()
        if current != head:
            raise DatastoreError(
                f"the database schema is at revision {current or 'none'}, this version needs "
                f"{head}: run `bem db upgrade`"
            )
    return Datastore(engine, make_session_factory(engine))
