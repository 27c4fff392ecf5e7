"""`bem db upgrade` says from which schema revision to which it took the database."""

from __future__ import annotations

from pathlib import Path

import pytest

from datastore import make_engine, upgrade
from datastore.migrate import head_revision
from tests.cli.support import bem


@pytest.fixture
def fresh_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'bem.sqlite3'}"
    monkeypatch.setenv("BEM_DATABASE_URL", url)
    return url


def test_upgrade_of_an_empty_database_reports_the_revision_it_reached(fresh_url, capsys) -> None:
    status, out, _err = bem(capsys, "db", "upgrade")
    assert status == 0
    assert out == f"database {fresh_url} upgraded from empty to revision {head_revision()}\n"


def test_upgrade_reports_the_revision_before_and_after(fresh_url, capsys) -> None:
    engine = make_engine(fresh_url)
    upgrade(engine, "0005")
    engine.dispose()

    status, out, _err = bem(capsys, "db", "upgrade")
    assert status == 0
    assert out == f"database {fresh_url} upgraded from 0005 to revision {head_revision()}\n"


def test_upgrade_of_a_current_database_says_it_is_up_to_date(fresh_url, capsys) -> None:
    bem(capsys, "db", "upgrade")
    status, out, _err = bem(capsys, "db", "upgrade")
    assert status == 0
    assert out == f"database {fresh_url} is up to date (revision {head_revision()})\n"
