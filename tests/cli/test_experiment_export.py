"""`bem experiment export`: an experiment's samples as BDF-labelled CSV."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from datastore import ingest
from domain.csvformat import parse_csv
from tests.cli.support import bem, queue

SAMPLES = [
    ingest.SampleRow(
        seq, 1_795_000_000.0 + seq * 0.25, 3.6 + seq * 1e-3, 1.25, 4.5 + seq * 1e-3, 1, 1, "CC"
    )
    for seq in range(500)
]


@pytest.fixture
def experiment(database: Engine, capsys, tmp_path: Path) -> int:
    status, out, _err = queue(capsys, tmp_path)
    assert status == 0
    experiment_id = int(out)
    with database.begin() as connection:
        channels = ingest.channel_ids(connection, experiment_id, {"temp_body": "°C"})
        extras = [
            ingest.ExtraValueRow(channels["temp_body"], sample.seq, 25.0 + sample.seq / 100)
            for sample in SAMPLES
        ]
        ingest.insert_samples(connection, experiment_id, SAMPLES, extras)
    return experiment_id


def test_export_writes_every_sample_with_bdf_labels(
    experiment: int, tmp_path: Path, capsys
) -> None:
    target = tmp_path / "out.csv"
    status, out, err = bem(capsys, "experiment", "export", str(experiment), "-o", str(target))
    assert status == 0
    assert out == ""
    assert "500 samples written" in err
    header = target.read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("Test Time / s,Unix Time / s,Voltage / V,Current / A,Power / W")
    assert header.endswith("temp_body / °C")
    parsed = parse_csv(target)
    assert len(parsed) == 500
    assert list(parsed.samples["ts"]) == [sample.ts for sample in SAMPLES]
    assert list(parsed.samples["voltage"]) == [sample.voltage for sample in SAMPLES]
    assert list(parsed.extras[("temp_body", "°C")]) == [25.0 + seq / 100 for seq in range(500)]


def test_export_to_standard_output(experiment: int, capsys) -> None:
    status, out, _err = bem(capsys, "experiment", "export", str(experiment))
    assert status == 0
    assert len(out.splitlines()) == 501


def test_an_unknown_experiment_is_one_line_on_stderr_and_no_file(
    database: Engine,
    tmp_path: Path,
    capsys,
) -> None:
    target = tmp_path / "out.csv"
    status, out, err = bem(capsys, "experiment", "export", "999", "-o", str(target))
    assert status == 1
    assert out == ""
    assert err.strip() == "bem experiment: experiment 999 does not exist"
    assert list(tmp_path.glob("out.csv*")) == []


def test_an_unwritable_target_is_reported(experiment: int, tmp_path: Path, capsys) -> None:
    target = tmp_path / "missing-folder" / "out.csv"
    status, _out, err = bem(capsys, "experiment", "export", str(experiment), "-o", str(target))
    assert status == 1
    assert "cannot write" in err
