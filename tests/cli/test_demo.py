"""`bem demo --no-serve`: creates the SQLite database and fills it with demo data, once."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cli import main
from datastore import make_engine
from datastore.models import Experiment


@pytest.fixture
def database(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Where the command is told to keep its database (not created yet)."""
    path = tmp_path / "fresh" / "bem.sqlite3"
    monkeypatch.setenv("BEM_DATABASE_URL", f"sqlite:///{path}")
    return path


def stored_experiments(path: Path) -> int:
    engine = make_engine(f"sqlite:///{path}")
    try:
        with Session(engine) as session:
            return session.scalar(select(func.count()).select_from(Experiment)) or 0
    finally:
        engine.dispose()


def test_demo_creates_the_database_and_fills_it(database, capsys):
    assert main(["demo", "--no-serve"]) == 0
    out, err = capsys.readouterr()
    assert database.is_file()
    assert stored_experiments(database) > 0
    assert out.startswith(f"Demo data created in sqlite:///{database}: ")
    assert out.count("\n") == 1 and "experiments" in out
    assert err == ""


def test_running_the_demo_again_says_the_data_is_already_there(database, capsys):
    main(["demo", "--no-serve"])
    first_count = stored_experiments(database)
    capsys.readouterr()
    assert main(["demo", "--no-serve"]) == 0
    out, _ = capsys.readouterr()
    assert out == f"Data already there in sqlite:///{database}: demo data not added.\n"
    assert stored_experiments(database) == first_count
