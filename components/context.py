"""Access to the running app's settings and database from page layouts and callbacks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import flask
from sqlalchemy.orm import Session

from config import Settings
from datastore import Datastore

EXTENSION_KEY = "bem"


@dataclass(frozen=True)
class WebContext:
    """What the composition root hands the web app: its settings and its datastore."""

    settings: Settings
    store: Datastore


def install(server: flask.Flask, web_context: WebContext) -> None:
    server.extensions[EXTENSION_KEY] = web_context


def current() -> WebContext:
    """The context of the app serving the current request."""
    context: WebContext = flask.current_app.extensions[EXTENSION_KEY]
    return context


@contextmanager
def session() -> Iterator[Session]:
    """A database session for one callback: committed on success, rolled back on error."""
    with current().store.sessions.begin() as db_session:
        yield db_session


def max_steps() -> int:
    """The site's cap on a profile's expanded steps (`profiles.max_steps`)."""
    return current().settings.profiles.max_steps


def max_start_bytes() -> int:
    """The largest start command a profile may need (`node.max_payload_bytes`): what the
    site's cyclers accept, checked when a profile is saved and when it is queued."""
    return current().settings.node.max_payload_bytes
