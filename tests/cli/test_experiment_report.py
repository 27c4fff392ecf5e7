"""`bem experiment report`: the experiment's HTML report, to a file or standard output."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from tests.cli.support import bem


def test_the_report_goes_to_a_file(cycled: int, capsys, tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    status, out, err = bem(capsys, "experiment", "report", str(cycled), "-o", str(target))
    assert status == 0 and out == ""
    report = target.read_text(encoding="utf-8")
    assert err == f"report of {len(report):,} characters written to {target}\n"
    assert report.startswith("<!DOCTYPE html>") and report.rstrip().endswith("</html>")
    assert "<h2>Cycles</h2>" in report and "3 cycles." in report


def test_the_report_goes_to_standard_output(cycled: int, capsys) -> None:
    status, out, err = bem(capsys, "experiment", "report", str(cycled))
    assert status == 0 and err == ""
    assert out.startswith("<!DOCTYPE html>") and "<h2>Alarms</h2>" in out


def test_an_unknown_experiment_is_one_line_and_no_file(database: Engine, capsys, tmp_path) -> None:
    target = tmp_path / "report.html"
    status, out, err = bem(capsys, "experiment", "report", "999", "-o", str(target))
    assert (status, out) == (1, "")
    assert err == "bem experiment: experiment 999 does not exist\n"
    assert not target.exists()
