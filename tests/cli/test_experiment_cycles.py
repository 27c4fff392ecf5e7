"""`bem experiment cycles`: the cycle table as CSV."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.cli.support import bem

HEADER = [
    "Cycle Count / 1", "Charge Capacity / Ah", "Discharge Capacity / Ah", "Charge Energy / Wh",
    "Discharge Energy / Wh", "Coulombic Efficiency / 1", "Energy Efficiency / 1",
    "Mean Charge Voltage / V", "Mean Discharge Voltage / V", "Duration / s",
]  # fmt: skip


def test_the_cycle_table_goes_to_standard_output(cycled: int, capsys) -> None:
    status, out, err = bem(capsys, "experiment", "cycles", str(cycled))
    assert status == 0 and err == ""
    table = list(csv.reader(io.StringIO(out)))
    assert table[0] == HEADER
    assert [row[0] for row in table[1:]] == ["1", "2", "3"]
    first = dict(zip(HEADER, map(float, table[1]), strict=True))
    assert first["Charge Capacity / Ah"] == pytest.approx((1799 * 2 + 1) / 3600)
    assert first["Mean Discharge Voltage / V"] == pytest.approx(3.5, abs=0.01)
    assert first["Duration / s"] == 3599


def test_the_cycle_table_goes_to_a_file(cycled: int, capsys, tmp_path: Path) -> None:
    target = tmp_path / "cycles.csv"
    status, out, err = bem(capsys, "experiment", "cycles", str(cycled), "-o", str(target))
    assert status == 0 and out == ""
    assert err == f"3 cycles written to {target}\n"
    assert target.read_text(encoding="utf-8").splitlines()[0] == ",".join(HEADER)


def test_an_unknown_experiment_is_one_line_and_no_file(database: Engine, capsys, tmp_path) -> None:
    target = tmp_path / "cycles.csv"
    status, out, err = bem(capsys, "experiment", "cycles", "999", "-o", str(target))
    assert (status, out) == (1, "")
    assert err == "bem experiment: experiment 999 does not exist\n"
    assert not target.exists()
