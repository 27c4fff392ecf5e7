"""Fixtures of the command-line tests."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from cli import main
from tests.cli.support import BATTERY, STATION


@pytest.fixture
def database(monkeypatch: pytest.MonkeyPatch, sqlite_url: str, sqlite_engine: Engine) -> Engine:
    """The per-test SQLite database with battery 1 and station 1."""
    monkeypatch.setenv("BEM_DATABASE_URL", sqlite_url)
    assert main(BATTERY) == 0
    assert main(STATION) == 0
    return sqlite_engine
