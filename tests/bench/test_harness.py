"""The benchmark runner: discovery, listing and the report format."""

from __future__ import annotations

import pytest

from bench import Result, discover, main


def test_every_benchmark_module_is_discovered() -> None:
    names = set(discover())
    assert {"csv", "ingest"} <= names
    for benchmark in discover().values():
        assert benchmark.description
        assert callable(benchmark.run)


def test_list_prints_each_benchmark(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--list"]) == 0
    out = capsys.readouterr().out
    for name in discover():
        assert f"{name}: " in out


def test_an_unknown_name_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["nope"]) == 1
    assert "unknown benchmark 'nope'" in capsys.readouterr().err


def test_a_result_shows_figure_baseline_and_verdict() -> None:
    text = Result("ingest", 37615.9, "samples/s", 1752.4, "row by row", "≥ 30,000", True).line()
    assert "ingest: 37,615.900 samples/s" in text
    assert "baseline: 1,752.400 samples/s (row by row)" in text
    assert "[MET]" in text
