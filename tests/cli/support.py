"""What the command-line tests share: running `bem` in-process, and a queued experiment."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from cli import main
from datastore.bulk import insert_rows
from datastore.cycles import advance_cycles

CHARGE = "CC, 0.5C, VOLTAGE, 4.2\nREPEAT 2\nCV, 4.2, CURRENT, 0.05C\nEND\n"
BATTERY = [
    "battery", "add", "--name", "cell", "--technology", "lithium-ion", "--capacity", "4",
    "--voltage-min", "2.5", "--voltage-max", "4.2", "--current-min", "-6", "--current-max", "6",
]  # fmt: skip
STATION = [
    "station", "add", "--name", "ch1",
    "--voltage-min", "0", "--voltage-max", "5", "--current-min", "-5", "--current-max", "5",
]  # fmt: skip


def bem(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def write(tmp_path: Path, text: str, name: str = "daily-charge.txt") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def stored(engine: Engine, model: type) -> list:
    with Session(engine) as session:
        return list(session.scalars(select(model).order_by(model.id)))


def queue(capsys, tmp_path, name: str = "first", text: str = CHARGE) -> tuple[int, str, str]:
    return bem(
        capsys, "experiment", "add", "--name", name, "--battery", "1", "--station", "1",
        "--profile-file", write(tmp_path, text),
    )  # fmt: skip


# The columns of the rows `add_samples` takes, in order.
SAMPLE_COLUMNS = ["experiment_id", "seq", "ts", "voltage", "current", "power", "cycle"]


def add_samples(engine: Engine, experiment_id: int, rows: list[tuple]) -> None:
    """Store measurement rows (SAMPLE_COLUMNS) and the experiment's cycles, as the node would."""
    with engine.begin() as connection:
        insert_rows(connection, "measurements", SAMPLE_COLUMNS, rows)
        advance_cycles(connection, experiment_id)
