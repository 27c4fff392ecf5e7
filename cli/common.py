"""What the command modules share: settings, the datastore, and one error type."""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from config import Settings, load_settings
from datastore import make_engine, make_session_factory
from datastore.migrate import current_revision, head_revision, upgrade


def add_window_arguments(parser: argparse.ArgumentParser) -> None:
    """The safe window options shared by batteries and stations (SI units)."""
    parser.add_argument("--voltage-min", type=float, required=True, metavar="V")
    parser.add_argument("--voltage-max", type=float, required=True, metavar="V")
    parser.add_argument(
        "--current-min", type=float, required=True, metavar="A", help="discharge limit (<= 0)"
    )
    parser.add_argument(
        "--current-max", type=float, required=True, metavar="A", help="charge limit (>= 0)"
    )


class CommandError(Exception):
    """A failure to report in one line on stderr (exit status 1)."""

    exit_status = 1


@dataclass
class Datastore:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]


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
                raise CommandError(
                    f"cannot reach the database at {engine.url.render_as_string()}: {reason}"
                ) from None
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 5.0)


def open_datastore(settings: Settings | None = None, wait_s: float = 0.0) -> Datastore:
    """Connect to the configured database and make sure its schema is current.

    The embedded SQLite file is created and migrated on first use. A server database
    must be migrated explicitly with `bem db upgrade`, so several processes never race
    to change its schema.
    """
    settings = settings or load_settings()
    engine = make_engine(settings.database.resolved_url)
    wait_for_database(engine, wait_s)
    if engine.dialect.name == "sqlite":
        upgrade(engine)
    else:
        current = current_revision(engine)
        head = head_revision()
        if current != head:
            raise CommandError(
                f"the database schema is at revision {current or 'none'}, this version needs "
                f"{head}: run `bem db upgrade`"
            )
    return Datastore(settings, engine, make_session_factory(engine))
