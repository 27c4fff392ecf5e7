"""`bem experiment import`: a file stored as an experiment; only its id on stdout."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from sqlalchemy import Engine

import cli.experiment
from datastore.models import Channel, Experiment, Measurement
from tests.cli.support import bem, stored

ROWS = "".join(f"{n},{3700 + n},1.5,25.{n},x\n" for n in range(20))
VENDOR = "secs,Volt (mV),Amps,Tc,junk\n" + ROWS


def write(tmp_path: Path, text: str, name: str = "run.csv") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_import_prints_only_the_new_id(database: Engine, tmp_path: Path, capsys) -> None:
    path = write(tmp_path, "time,voltage,current\n0,3.7,1\n1,3.71,1\n")
    status, out, err = bem(
        capsys, "experiment", "import", path, "--name", "Imported", "--battery", "1",
        "--description", "from another lab", "--start", "2024-05-01T12:00:00",
    )  # fmt: skip
    assert (status, err) == (0, "")
    [experiment] = stored(database, Experiment)
    assert out == f"{experiment.id}\n"
    assert experiment.imported and experiment.sample_count == 2
    assert experiment.description == "from another lab"
    # --start without a zone is UTC.
    assert experiment.last_sample_at == 1_714_564_800.0 + 1


def test_map_options_rename_scale_and_ignore(database: Engine, tmp_path: Path, capsys) -> None:
    status, out, err = bem(
        capsys, "experiment", "import", write(tmp_path, VENDOR), "--name", "Vendor",
        "--battery", "1", "--start", "2024-05-01T12:00:00+00:00",
        "--map", "secs=Test Time / s", "--map", "Volt (mV)=Voltage / mV",
        "--map", "Amps=Current / A", "--map", "Tc=T cell / °C", "--map", "junk=ignore",
    )  # fmt: skip
    assert (status, err) == (0, "")
    samples = stored_voltages(database)
    assert samples[:2] == [3.7, 3.701]
    assert [(c.name, c.unit) for c in stored(database, Channel)] == [("T cell", "°C")]


def stored_voltages(engine: Engine) -> list[float]:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    with Session(engine) as session:
        return list(session.scalars(select(Measurement.voltage).order_by(Measurement.seq)))


def test_profile_is_linked_after_checking_it_exists(
    database: Engine, tmp_path: Path, capsys
) -> None:
    path = write(tmp_path, "time,voltage,current\n0,3.7,1\n")
    status, _out, err = bem(
        capsys, "experiment", "import", path, "--name", "x", "--battery", "1", "--profile", "7"
    )  # fmt: skip
    assert status == 1
    assert err == "bem experiment: there is no profile with id 7\n"
    assert stored(database, Experiment) == []
    profile_file = write(tmp_path, "CC, 1, VOLTAGE, 4.2\n", "charge.txt")
    assert bem(capsys, "profile", "add", profile_file, "--name", "charge")[0] == 0
    status, _out, _err = bem(
        capsys, "experiment", "import", path, "--name", "x", "--battery", "1", "--profile", "1"
    )  # fmt: skip
    assert status == 0
    assert [experiment.profile_id for experiment in stored(database, Experiment)] == [1]


def test_problems_go_to_stderr_with_status_1_and_store_nothing(
    database: Engine, tmp_path: Path, capsys
) -> None:
    path = write(tmp_path, "time,voltage,current\n0,3.7,1\n1,abc,1\n2,3.7\n")
    status, out, err = bem(
        capsys, "experiment", "import", path, "--name", "x", "--battery", "1"
    )  # fmt: skip
    assert (status, out) == (1, "")
    assert err == (
        f"bem experiment: cannot import {path}:\n"
        "line 3, column 'voltage': 'abc' is not a number\n"
        "line 4, column 'current': empty cell (a current is required)\n"
    )
    assert stored(database, Experiment) == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--map", "novalue"], "--map 'novalue': expected COLUMN=LABEL"),
        (["--start", "yesterday"], "--start 'yesterday': expected an ISO 8601 date and time"),
        (["--battery", "9"], "there is no battery with id 9"),
    ],
)
def test_bad_options_are_one_line_errors(
    database: Engine, tmp_path: Path, capsys, options: list[str], message: str
) -> None:
    path = write(tmp_path, "time,voltage,current\n0,3.7,1\n")
    arguments = ["experiment", "import", path, "--name", "x", "--battery", "1", *options]
    status, out, err = bem(capsys, *arguments)
    assert (status, out) == (1, "")
    assert message in err and "Traceback" not in err


def test_a_zip_member_of_unknown_type_is_named(database: Engine, tmp_path: Path, capsys) -> None:
    path = tmp_path / "runs.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.csv", "time,voltage,current\n0,3.7,1\n")
        archive.writestr("photo.jpg", "not data")
    status, _out, err = bem(
        capsys, "experiment", "import", str(path), "--name", "x", "--battery", "1"
    )  # fmt: skip
    assert status == 1 and "'photo.jpg' in the ZIP archive is not a file this import reads" in err


def test_progress_goes_to_stderr_only_on_a_terminal(
    database: Engine, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli.experiment.sys.stderr, "isatty", lambda: True, raising=False)
    path = write(tmp_path, "time,voltage,current\n0,3.7,1\n1,3.71,1\n")
    status, out, err = bem(
        capsys, "experiment", "import", path, "--name", "x", "--battery", "1"
    )  # fmt: skip
    assert status == 0 and out.strip().isdigit()
    assert "checking and storing: 2 rows, 100%" in err and err.endswith("done: 2 rows, 100%\n")
