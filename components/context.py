"""Access to the running app's settings and database from page layouts and callbacks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import flask
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from config import Settings

EXTENSION_KEY = "bem"


@dataclass
class WebContext:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]


def current() -> WebContext:
    """The context of the app serving the current request."""
    return flask.current_app.extensions[EXTENSION_KEY]


@contextmanager
def session() -> Iterator[Session]:
    """A database session for one callback: committed on success, rolled back on error."""
    with current().sessions.begin() as db_session:
        yield db_session
