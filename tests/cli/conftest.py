"""Fixtures of the command-line tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from cli import main
from tests.cli.support import BATTERY, STATION, add_samples, queue


@pytest.fixture
def database(monkeypatch: pytest.MonkeyPatch, sqlite_url: str, sqlite_engine: Engine) -> Engine:
    """The per-test SQLite database with battery 1 and station 1."""
    monkeypatch.setenv("BEM_DATABASE_URL", sqlite_url)
    assert main(BATTERY) == 0
    assert main(STATION) == 0
    return sqlite_engine


@pytest.fixture
def cycled(database: Engine, capsys, tmp_path: Path) -> int:
    """An experiment with three cycles: 2 A charge for 1,800 s, 1.9 A discharge for 1,800 s."""
    status, out, _err = queue(capsys, tmp_path)
    assert status == 0
    experiment_id = int(out)
    rows = []
    for seq in range(3 * 3600):
        charging = (seq % 3600) < 1800
        current, voltage = (2.0, 4.0) if charging else (-1.9, 3.5)
        rows.append(
            (experiment_id, seq, 1.8e9 + seq, voltage, current, voltage * current, seq // 3600 + 1)
        )
    add_samples(database, experiment_id, rows)
    return experiment_id
