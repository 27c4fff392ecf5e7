"""`datastore.imports.import_file`: a file read, checked and stored in chunks in one
transaction, on SQLite and on MariaDB (the `engine` fixture)."""

from __future__ import annotations

import threading
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

import domain.importing
import domain.vendor_files
from datastore.catalog import CatalogError, NotFoundError, create_profile
from datastore.imports import ImportCancelled, import_file
from datastore.models import (
    Battery,
    Channel,
    ChannelSummary,
    Cycle,
    CycleProgress,
    Experiment,
    ExtraValue,
    Measurement,
    SampleSummary,
)
from domain.importing import ColumnChoice, ImportFileError, ImportProgress
from domain.status import ExperimentStatus
from tests.cli.support import CHARGE
from tests.datastore.test_export_import import add_battery

START = 1_700_000_000.0
STORED_MODELS = (
    Experiment, Channel, Measurement, ExtraValue, SampleSummary, ChannelSummary, Cycle,
    CycleProgress,
)  # fmt: skip


def cycling_rows(count: int, *, cycles: str = "none") -> list[str]:
    """Rows of 1 s samples charging and discharging in turns of 60 s, with a temperature
    that has gaps. `cycles`: "none" (no cycle column), "numbered", or "late" (the column
    is empty for the first half of the file)."""
    rng = np.random.default_rng(7)
    rows = []
    for n in range(count):
        current = 1.5 if (n // 60) % 2 == 0 else -1.4
        voltage = 3.6 + 0.4 * ((n % 60) / 60) * (1 if current > 0 else -1) + rng.normal(0, 1e-3)
        temperature = "" if n % 7 == 3 else repr(25 + rng.normal(0, 0.5))
        cells = [repr(float(n)), repr(voltage), repr(current), temperature]
        if cycles != "none":
            cells.append("" if cycles == "late" and n < count // 2 else str(n // 120 + 1))
        rows.append(",".join(cells))
    return rows


def write_csv(path: Path, rows: Sequence[str], header: str) -> Path:
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


HEADER = "Test Time / s,Voltage / V,Current / A,T cell / °C"


def stored_state(engine: Engine, experiment_id: int) -> dict[str, list[tuple[object, ...]]]:
    """Everything an import writes for the experiment, without its id and channel ids."""
    with Session(engine) as session:
        channels = {
            channel.id: channel.name
            for channel in session.scalars(
                select(Channel).where(Channel.experiment_id == experiment_id)
            )
        }

        def rows(model: type, owner: str, ids: Sequence[int], drop: set[str]) -> list[tuple]:
            table = model.__table__  # type: ignore[attr-defined]
            names = [c.name for c in table.columns if c.name not in drop]
            found = session.execute(
                select(*[table.c[name] for name in names]).where(table.c[owner].in_(ids))
            ).all()
            return sorted(tuple(row) for row in found)

        state = {
            "samples": rows(Measurement, "experiment_id", [experiment_id], {"experiment_id"}),
            "summaries": rows(SampleSummary, "experiment_id", [experiment_id], {"experiment_id"}),
            "cycles": rows(Cycle, "experiment_id", [experiment_id], {"experiment_id"}),
            "progress": rows(CycleProgress, "experiment_id", [experiment_id], {"experiment_id"}),
            "channels": sorted(channels.values()),
        }
        for channel_id, name in channels.items():
            state[f"values {name}"] = rows(ExtraValue, "channel_id", [channel_id], {"channel_id"})
            state[f"summaries {name}"] = rows(
                ChannelSummary, "channel_id", [channel_id], {"channel_id"}
            )
    return state


def assert_nothing_stored(engine: Engine) -> None:
    with Session(engine) as session:
        for model in STORED_MODELS:
            assert session.scalar(select(func.count()).select_from(model)) == 0, model


def run_import(engine: Engine, path: Path, battery_id: int, **options: object) -> int:
    return import_file(
        engine, path, name="Imported", battery_id=battery_id, start_time=START, **options
    )  # type: ignore[arg-type]


# ---------------------------------------------------------------- chunks


@pytest.mark.parametrize("cycles", ["none", "numbered", "late"])
def test_chunks_store_the_same_as_one_chunk(engine: Engine, tmp_path: Path, cycles: str) -> None:
    header = HEADER + (",Cycle Count / 1" if cycles != "none" else "")
    path = write_csv(tmp_path / "run.csv", cycling_rows(1_000, cycles=cycles), header)
    battery_id = add_battery(engine)
    whole = run_import(engine, path, battery_id, chunk_rows=1_000_000)
    # 37 rows a chunk: boundaries fall inside summary blocks of 64 and inside cycles.
    chunked = run_import(engine, path, battery_id, chunk_rows=37)
    expected, got = stored_state(engine, whole), stored_state(engine, chunked)
    # Capacities and energies are sums taken in another grouping: equal to the last bits.
    got_cycles, expected_cycles = got.pop("cycles"), expected.pop("cycles")
    assert got == expected
    assert len(got_cycles) == len(expected_cycles)
    for got_row, expected_row in zip(got_cycles, expected_cycles, strict=True):
        assert got_row == pytest.approx(expected_row, rel=1e-12)
    assert len(got["samples"]) == 1_000
    assert len(got_cycles) == {"none": 9, "numbered": 9, "late": 6}[cycles]
    # Elapsed time continues across chunks, placed at the start time.
    assert [row[1] for row in got["samples"][:3]] == [START, START + 1, START + 2]
    assert got["samples"][-1][1] == START + 999


def test_an_import_is_a_finished_imported_experiment(engine: Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "run.csv", cycling_rows(250), HEADER)
    battery_id = add_battery(engine)
    with Session(engine) as session, session.begin():
        profile = create_profile(session, name="charge", source=CHARGE, max_steps=100)
        profile_id = profile.id
    experiment_id = run_import(
        engine, path, battery_id, profile_id=profile_id, description="from elsewhere", chunk_rows=60
    )
    with Session(engine) as session:
        experiment = session.get(Experiment, experiment_id)
        assert experiment is not None
        assert experiment.status is ExperimentStatus.FINISHED and experiment.imported
        assert (experiment.name, experiment.description) == ("Imported", "from elsewhere")
        assert experiment.profile_id == profile_id
        assert experiment.sample_count == 250
        assert experiment.last_sample_at == START + 249
        assert experiment.began_at is not None and experiment.began_at.timestamp() == START
        assert experiment.finished_at is not None
        assert experiment.finished_at.timestamp() == START + 249
        assert [(c.name, c.unit) for c in experiment.channels] == [("T cell", "°C")]


def test_unknown_battery_profile_or_bad_name_is_a_catalog_error(
    engine: Engine, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "run.csv", cycling_rows(5), HEADER)
    battery_id = add_battery(engine)
    with pytest.raises(NotFoundError, match="no battery with id 999"):
        run_import(engine, path, 999)
    with pytest.raises(NotFoundError, match="no profile with id 5"):
        run_import(engine, path, battery_id, profile_id=5)
    with pytest.raises(CatalogError, match="needs a name"):
        import_file(engine, path, name="  ", battery_id=battery_id)
    assert_nothing_stored(engine)


# ---------------------------------------------------------------- problems in later chunks


def test_problems_in_later_chunks_name_line_and_column_and_store_nothing(
    engine: Engine, tmp_path: Path
) -> None:
    rows = cycling_rows(600)
    rows[400] = rows[400].replace(rows[400].split(",")[1], "abc", 1)  # file line 402
    rows[550] = rows[550] + ",9,9"  # line 552: too many cells
    rows[580] = ",".join(rows[580].split(",")[:1] + ["", "1", "25"])  # line 582: no voltage
    path = write_csv(tmp_path / "run.csv", rows, HEADER)
    battery_id = add_battery(engine)
    stages: list[str] = []
    with pytest.raises(ImportFileError) as raised:
        run_import(
            engine, path, battery_id, chunk_rows=50, progress=lambda p: stages.append(p.stage)
        )
    assert [str(problem) for problem in raised.value.problems] == [
        "line 402, column 'Voltage / V': 'abc' is not a number",
        "line 552: 6 cells, but the header has 4 columns",
        "line 582, column 'Voltage / V': empty cell (a voltage is required)",
    ]
    assert raised.value.total == 3
    # The rest of the file was still checked after the first problem.
    assert stages.count("checking and storing") == 12
    assert_nothing_stored(engine)


def test_a_time_past_the_year_9999_is_a_problem_of_its_line_and_nothing_is_stored(
    engine: Engine, tmp_path: Path
) -> None:
    rows = ["1700000000,3.7,1", "1e300,3.7,1"]
    path = write_csv(tmp_path / "run.csv", rows, "Unix Time / s,Voltage / V,Current / A")
    with pytest.raises(ImportFileError) as raised:
        run_import(engine, path, add_battery(engine))
    assert [str(problem) for problem in raised.value.problems] == [
        "line 3, column 'Unix Time / s': 1e+300 s is not a time from 1970 to the end of 9999 "
        "(Unix seconds)"
    ]
    assert_nothing_stored(engine)


def test_many_problems_are_capped_and_counted(engine: Engine, tmp_path: Path) -> None:
    rows = [f"{n},bad,1,25" for n in range(300)]
    path = write_csv(tmp_path / "run.csv", rows, HEADER)
    with pytest.raises(ImportFileError) as raised:
        run_import(engine, path, add_battery(engine), chunk_rows=40)
    assert len(raised.value.problems) == 20 and raised.value.total == 300
    assert str(raised.value).endswith("... and 280 more")
    assert_nothing_stored(engine)


def test_time_going_back_across_a_chunk_boundary_is_found(engine: Engine, tmp_path: Path) -> None:
    rows = cycling_rows(100)
    rows[50] = "10.0" + rows[50][rows[50].index(",") :]  # line 52, after 49 s on line 51
    path = write_csv(tmp_path / "run.csv", rows, HEADER)
    with pytest.raises(ImportFileError) as raised:
        run_import(engine, path, add_battery(engine), chunk_rows=50)
    assert str(raised.value) == (
        "line 52, column 'Test Time / s': time goes backwards (10.0 s after 49.0 s on line 51)"
    )
    assert_nothing_stored(engine)


def test_a_text_column_is_skipped_even_when_its_text_starts_in_a_later_chunk(
    engine: Engine, tmp_path: Path
) -> None:
    rows = [f"{row},{'' if n < 80 else 'rest'}" for n, row in enumerate(cycling_rows(100))]
    path = write_csv(tmp_path / "run.csv", rows, HEADER + ",note")
    experiment_id = run_import(engine, path, add_battery(engine), chunk_rows=30)
    with Session(engine) as session:
        names = session.scalars(select(Channel.name).where(Channel.experiment_id == experiment_id))
        assert list(names) == ["T cell"]


# ---------------------------------------------------------------- cancel and progress


def test_cancel_rolls_back_and_stores_nothing(engine: Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "run.csv", cycling_rows(500), HEADER)
    cancel = threading.Event()
    seen: list[ImportProgress] = []

    def progress(report: ImportProgress) -> None:
        seen.append(report)
        if report.rows_done >= 200:
            cancel.set()  # chunks were stored by then: they must go again

    with pytest.raises(ImportCancelled):
        run_import(
            engine, path, add_battery(engine), chunk_rows=100, progress=progress, cancel=cancel
        )
    assert max(report.rows_done for report in seen) == 200
    assert_nothing_stored(engine)


def test_progress_is_reported_per_chunk_up_to_the_whole_file(
    engine: Engine, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "run.csv", cycling_rows(5_000), HEADER)
    seen: list[ImportProgress] = []
    run_import(engine, path, add_battery(engine), chunk_rows=1_000, progress=seen.append)
    stored = [report for report in seen if report.stage == "checking and storing"]
    assert [report.rows_done for report in stored] == [1_000, 2_000, 3_000, 4_000, 5_000]
    assert all(report.bytes_total == path.stat().st_size for report in seen)
    fractions = [report.fraction for report in stored]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert [report.stage for report in seen][-3:] == ["cycle table", "committing", "done"]


# ---------------------------------------------------------------- the user's choices


def test_column_choices_rename_scale_and_ignore(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "vendor.csv"
    path.write_text(
        "secs,Volt (mV),Amps,Tc,junk\n0,3700,1.5,25.5,x\n1,3710,1.5,25.6,y\n", encoding="utf-8"
    )
    choices = [
        ColumnChoice("secs", "Test Time / s"),
        ColumnChoice("Volt (mV)", "Voltage / mV"),
        ColumnChoice("Amps", "Current / A"),
        ColumnChoice("Tc", "T cell / °C"),
        ColumnChoice("junk", ignore=True),
    ]
    experiment_id = run_import(engine, path, add_battery(engine), choices=choices)
    state = stored_state(engine, experiment_id)
    assert [row[2] for row in state["samples"]] == [3.7, 3.71]
    assert state["channels"] == ["T cell"]
    assert [row[1] for row in state["values T cell"]] == [25.5, 25.6]


def test_a_choice_for_a_column_the_file_lacks_is_refused(engine: Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "run.csv", cycling_rows(3), HEADER)
    with pytest.raises(ImportFileError, match="line 1: there is no column 'Volts' in the file"):
        run_import(engine, path, add_battery(engine), choices=[ColumnChoice("Volts", ignore=True)])
    assert_nothing_stored(engine)


# ---------------------------------------------------------------- ZIP


def test_a_zip_is_one_experiment_of_its_files_in_name_order(engine: Engine, tmp_path: Path) -> None:
    header = HEADER + ",Cycle Count / 1"
    first = "\n".join([header, "0,3.6,1,25,1", "10,3.7,1,25,1", "20,3.6,-1,25,2"]) + "\n"
    second = "\n".join([header, "0,3.6,1,26,1", "5,3.7,-1,26,2"]) + "\n"
    path = tmp_path / "runs.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("part-2.csv", second)  # written first, read second
        archive.writestr("part-1.csv", first)
    experiment_id = run_import(engine, path, add_battery(engine), chunk_rows=2)
    samples = stored_state(engine, experiment_id)["samples"]
    # seq, ts, ..., cycle: the second file's time continues from the first's last sample.
    assert [(row[0], row[1]) for row in samples] == [
        (0, START), (1, START + 10), (2, START + 20), (3, START + 20), (4, START + 25)
    ]  # fmt: skip
    assert [row[6] for row in samples] == [1, 1, 2, 3, 4]


def test_a_zip_member_of_unknown_type_is_refused_by_name(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "runs.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("run.csv", HEADER + "\n0,3.6,1,25\n")
        archive.writestr("notes.docx", "hello")
    with pytest.raises(ImportFileError, match="'notes.docx' in the ZIP archive is not a file"):
        run_import(engine, path, add_battery(engine))
    assert_nothing_stored(engine)


def test_problems_in_a_zip_name_the_member(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "runs.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.csv", HEADER + "\n0,3.6,1,25\n")
        archive.writestr("b.csv", HEADER + "\n0,3.6,1,25\n1,x,1,25\n")
    with pytest.raises(ImportFileError) as raised:
        run_import(engine, path, add_battery(engine))
    assert str(raised.value) == "b.csv, line 3, column 'Voltage / V': 'x' is not a number"
    assert_nothing_stored(engine)


# ---------------------------------------------------------------- other formats


@dataclass
class FakeTable:
    """A stand-in for a vendor reader (domain.vendor_files): the importer's headers,
    SI values, frames of at most chunk_rows."""

    frame: pd.DataFrame
    source_headers: list[str]
    format: str = "parquet"
    notes: list[str] = field(default_factory=list)

    @property
    def headers(self) -> list[str]:
        return list(self.frame.columns)

    @property
    def row_count(self) -> int:
        return len(self.frame)

    def frames(self, chunk_rows: int) -> Iterator[pd.DataFrame]:
        for start in range(0, len(self.frame), chunk_rows):
            yield self.frame.iloc[start : start + chunk_rows]


def test_a_table_source_goes_through_the_same_checks(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame = pd.DataFrame(
        {
            "Unix Time / s": START + np.arange(10.0),
            "Voltage / V": np.full(10, 3.7),
            "Current / A": np.full(10, 1.0),
            "Cycle Count / 1": np.arange(10) // 5 + 1,
        }
    )
    table = FakeTable(frame, ["Time", "Ewe/V", "I/A", "cycle number"])
    monkeypatch.setattr(domain.importing, "open_table", lambda _path, _format: table)
    path = tmp_path / "run.parquet"
    path.write_bytes(b"not read by the fake")
    battery_id = add_battery(engine)
    experiment_id = run_import(engine, path, battery_id, chunk_rows=3)
    state = stored_state(engine, experiment_id)
    assert [row[1] for row in state["samples"]] == (START + np.arange(10.0)).tolist()
    assert [row[0] for row in state["cycles"]] == [1, 2]

    frame.loc[7, "Voltage / V"] = np.inf
    with pytest.raises(ImportFileError, match="line 9, column 'Ewe/V': inf is not a finite"):
        run_import(engine, path, battery_id, chunk_rows=3)


# ---------------------------------------------------------------- malformed files


@dataclass(frozen=True)
class MalformedFile:
    """A generated file and what importing it must do: store `rows` samples, or refuse
    it with a problem on `first_bad_line` (1: the header)."""

    content: bytes
    rows: int | None  # None: refused
    first_bad_line: int | None


_GOOD = {"time": "{n}", "voltage": "3.7", "current": "-1.25", "extra": "25.5"}


@st.composite
def malformed_files(draw: st.DrawFn) -> MalformedFile:
    time_header = draw(st.sampled_from(["Test Time / s", "time", "Unix Time / s", None]))
    voltage_header = draw(st.sampled_from(["Voltage / V", "Voltage / mV", "Voltage / furlong"]))
    with_current = draw(st.booleans() | st.just(True))
    with_extra = draw(st.booleans())
    headers = [h for h in (time_header, voltage_header) if h is not None]
    roles = (["time"] if time_header else []) + ["voltage"]
    if with_current:
        headers.append("Current / A")
        roles.append("current")
    if with_extra:
        headers.append("T cell / °C")
        roles.append("extra")
    header_ok = time_header is not None and with_current and "furlong" not in voltage_header

    lines: list[str] = []
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    first_bad: int | None = None
    data_rows = 0
    for n in range(draw(st.integers(0, 12))):
        line_number = len(lines) + 2
        kind = draw(st.sampled_from(["good", "good", "good", "bad cell", "blank", "long", "short"]))
        cells = [_GOOD[role].format(n=n) for role in roles]
        bad = False
        if kind == "blank":
            lines.append(draw(st.sampled_from(["", delimiter * (len(roles) - 1)])))
            continue
        if kind == "bad cell":
            position = draw(st.integers(0, len(roles) - 1))
            role = roles[position]
            # A temperature of only text would be a text column, skipped: use inf there.
            choices = ["inf"] if role == "extra" else ["abc", "", "inf", "nan", "1e400x"]
            cells[position] = draw(st.sampled_from(choices))
            bad = True
        if kind == "long":
            cells.append("9")
            bad = True
        if kind == "short":
            kept = draw(st.integers(1, len(roles) - 1)) if len(roles) > 1 else 1
            bad = any(role != "extra" for role in roles[kept:])
            cells = cells[:kept]
        lines.append(delimiter.join(cells))
        data_rows += 1
        if bad and first_bad is None:
            first_bad = line_number
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]))
    ending = draw(st.sampled_from(["\n", "\r\n"]))
    text = ending.join([delimiter.join(headers), *lines]) + ending
    content = text.encode(encoding)
    if not header_ok:
        return MalformedFile(content, None, 1)
    if first_bad is None and data_rows == 0:
        return MalformedFile(content, None, 1 if lines else None)
    if first_bad is not None:
        return MalformedFile(content, None, first_bad)
    return MalformedFile(content, data_rows, None)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(example=malformed_files(), chunk_rows=st.integers(1, 5))
def test_a_malformed_file_is_imported_exactly_or_refused_with_nothing_stored(
    sqlite_engine: Engine, tmp_path: Path, example: MalformedFile, chunk_rows: int
) -> None:
    path = tmp_path / "generated.csv"
    path.write_bytes(example.content)
    with Session(sqlite_engine) as session:
        battery_id = session.scalar(select(Battery.id)) or add_battery(sqlite_engine)
        before = {model: count(session, model) for model in STORED_MODELS}
    try:
        experiment_id = run_import(sqlite_engine, path, battery_id, chunk_rows=chunk_rows)
    except ImportFileError as error:
        assert example.rows is None, f"refused a good file: {error}"
        assert str(error) and error.total >= len(error.problems) >= 1
        if example.first_bad_line is not None:
            assert error.problems[0].line == example.first_bad_line, str(error)
        row_problems = [p for p in error.problems if p.line and p.line > 1]
        assert all(p.column or "cells" in p.message for p in row_problems), str(error)
        with Session(sqlite_engine) as session:
            assert {model: count(session, model) for model in STORED_MODELS} == before
        return
    assert example.rows is not None, "stored a file that has a problem"
    with Session(sqlite_engine) as session:
        experiment = session.get(Experiment, experiment_id)
        assert experiment is not None and experiment.sample_count == example.rows
        stored = session.scalar(
            select(func.count()).where(Measurement.experiment_id == experiment_id)
        )
        assert stored == example.rows


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


# ---------------------------------------------------------------- real vendor files

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "import"


@pytest.mark.parametrize(
    "name",
    [
        "new_nda_file.nda",
        "123456789012_Unit27_Example_Data_File.ndax",
        "test.ndax",
        "gcpl.issue_226.I.mpr",
        "mb.issue_95.mpr",
    ],
)
def test_a_vendor_sample_file_imports_every_row_with_its_cycles(engine: Engine, name: str) -> None:
    path = FIXTURES / name
    table = domain.vendor_files.open_table(path, domain.importing.format_of(name))
    expected = sum(len(frame) for frame in table.frames(100_000))
    battery_id = add_battery(engine)
    experiment_id = run_import(engine, path, battery_id, chunk_rows=200)
    with Session(engine) as session:
        experiment = session.get(Experiment, experiment_id)
        assert experiment is not None
        assert experiment.status == ExperimentStatus.FINISHED and experiment.imported
        assert experiment.sample_count == expected > 0
        stored = session.scalar(
            select(func.count()).where(Measurement.experiment_id == experiment_id)
        )
        cycles = session.scalar(select(func.count()).where(Cycle.experiment_id == experiment_id))
    assert stored == expected
    assert cycles is not None and cycles >= 1


def test_a_vendor_clock_set_back_is_named_and_ignoring_that_column_imports_it(
    engine: Engine,
) -> None:
    path = FIXTURES / "TestFile.nda"
    battery_id = add_battery(engine)
    with pytest.raises(ImportFileError, match="column 'Timestamp': time goes backwards"):
        run_import(engine, path, battery_id)
    assert_nothing_stored(engine)
    experiment_id = run_import(
        engine, path, battery_id, choices=[ColumnChoice("Timestamp", ignore=True)]
    )
    with Session(engine) as session:
        experiment = session.get(Experiment, experiment_id)
        assert experiment is not None and experiment.sample_count > 0
