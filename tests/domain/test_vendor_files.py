"""The readers of BDF parquet, Neware and BioLogic files (docs/formats.md, "Other formats").

The Neware and BioLogic samples are real files (tests/fixtures/import/README.md); the
known values below were read from them with the vendors' packages.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from domain.csvformat import CsvImportError, extra_header, parse_csv, split_header
from domain.units import lookup_unit
from domain.vendor_files import (
    TableSource,
    open_biologic,
    open_neware,
    open_parquet,
    open_table,
)

SAMPLES = Path(__file__).parent.parent / "fixtures" / "import"
NEWARE_V29 = SAMPLES / "new_nda_file.nda"
NEWARE_BTS91 = SAMPLES / "TestFile.nda"
NEWARE_NDAX_AUX = SAMPLES / "123456789012_Unit27_Example_Data_File.ndax"
NEWARE_NDAX_CYCLING = SAMPLES / "test.ndax"
BIOLOGIC_MB = SAMPLES / "mb.issue_95.mpr"
BIOLOGIC_GCPL_NO_CURRENT = SAMPLES / "gcpl.issue_226.I.mpr"
BIOLOGIC_CV = SAMPLES / "cva.issue_202.mpr"
BIOLOGIC_OCV = SAMPLES / "00_test_01_OCV_C01.mpr"


def whole(source: TableSource) -> pd.DataFrame:
    frames = list(source.frames(10**9))
    assert len(frames) == 1
    return frames[0]


def utc(*fields: int) -> float:
    return dt.datetime(*fields, tzinfo=dt.UTC).timestamp()


def error_of(opener, path: Path, problems: int = 1) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(CsvImportError) as raised:
        opener(path)
    assert len(raised.value.problems) == problems
    return str(raised.value)


def assert_importer_vocabulary(source: TableSource) -> None:
    """Every header reads back, with the CSV importer's rules, as name + an SI unit (or none)."""
    assert len(source.headers) == len(source.source_headers)
    assert len({header.casefold() for header in source.headers}) == len(source.headers)
    assert len(set(source.source_headers)) == len(source.source_headers)
    for header in source.headers:
        _name, unit = split_header(header)
        found = lookup_unit(unit)
        assert unit == "" or found is None or found.is_si, header


# ---------------------------------------------------------------- BDF parquet


def write_parquet(path: Path, columns: dict[str, pa.Array], row_group_size: int = 1000) -> Path:
    pq.write_table(pa.table(columns), path, row_group_size=row_group_size)
    return path


def test_parquet_bdf_labels_aliases_and_units_become_si(tmp_path: Path) -> None:
    path = write_parquet(
        tmp_path / "cell.parquet",
        {
            "Test Time / s": pa.array([0.0, 1.0, 2.0]),
            "Voltage / mV": pa.array([3700.0, 3710.0, 3720.0]),
            "Current [mA]": pa.array([500, -500, 0], pa.int32()),
            "Cycle Count / 1": pa.array([1, 1, None], pa.int64()),
            "instr_id": pa.array([1, 2, 2], pa.int16()),
            "T cell / degC": pa.array([25.0, 25.5, None]),
            "Capacity / mAh": pa.array([0.0, 1.5, 3.0]),
            "Pressure / bar": pa.array([1.0, 1.1, 1.2]),
            "Comment": pa.array(["start", "", "end"]),
            "Mode": pa.array(["rest", "charge", "rest"]).dictionary_encode(),
        },
    )
    source = open_parquet(path)
    assert source.format == "parquet"
    assert source.headers == (
        "Test Time / s",
        "Voltage / V",
        "Current / A",
        "Cycle Count / 1",
        "Step Count / 1",
        "T cell / °C",
        "Capacity / Ah",
        "Pressure / bar",
    )
    assert source.source_headers == (
        "Test Time / s",
        "Voltage / mV",
        "Current [mA]",
        "Cycle Count / 1",
        "instr_id",
        "T cell / degC",
        "Capacity / mAh",
        "Pressure / bar",
    )
    assert source.row_count == 3
    assert source.notes == (
        "Column 'Comment' holds text: left out.",
        "Column 'Mode' holds text: left out.",
    )
    frame = whole(source)
    assert list(frame.columns) == list(source.headers)
    assert frame["Voltage / V"].tolist() == [3.7, 3.71, 3.72]
    assert frame["Current / A"].tolist() == [0.5, -0.5, 0.0]
    assert frame["Cycle Count / 1"].tolist()[:2] == [1.0, 1.0]
    assert np.isnan(frame["Cycle Count / 1"].iloc[2])
    assert frame["Step Count / 1"].tolist() == [1.0, 2.0, 2.0]
    assert frame["Capacity / Ah"].tolist() == [0.0, 0.0015, 0.003]
    assert frame["Pressure / bar"].tolist() == [1.0, 1.1, 1.2]  # unknown unit: as written
    assert_importer_vocabulary(source)


def test_parquet_machine_readable_names_and_iso_timestamps(tmp_path: Path) -> None:
    path = write_parquet(
        tmp_path / "machine.parquet",
        {
            "timestamp": pa.array(["2024-05-01T10:00:00", "2024-05-01T10:00:01.5"]),
            "voltage_volt": pa.array([3.0, 3.1]),
            "current_ampere": pa.array([1.0, 1.0]),
        },
    )
    source = open_parquet(path)
    assert source.headers == ("Voltage / V", "Current / A", "Unix Time / s")
    assert source.source_headers == ("voltage_volt", "current_ampere", "timestamp")
    assert source.notes == ("Column 'timestamp' gives times without a time zone: taken as UTC.",)
    frame = whole(source)
    assert frame["Unix Time / s"].tolist() == [utc(2024, 5, 1, 10), utc(2024, 5, 1, 10) + 1.5]


def test_parquet_native_timestamps_with_a_zone_are_unix_seconds(tmp_path: Path) -> None:
    moments = [dt.datetime(2024, 5, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=2)))]
    path = write_parquet(
        tmp_path / "zoned.parquet",
        {
            "Unix Time / s": pa.array(moments, pa.timestamp("ms", tz="Europe/Berlin")),
            "Voltage / V": pa.array([3.0]),
            "Current / A": pa.array([0.0]),
        },
    )
    source = open_parquet(path)
    assert source.headers[0] == "Unix Time / s"
    assert source.notes == ()
    assert whole(source)["Unix Time / s"].tolist() == [utc(2024, 5, 1, 10)]


def test_parquet_is_read_in_bounded_chunks_giving_the_same_data(tmp_path: Path) -> None:
    rows = 1000
    path = write_parquet(
        tmp_path / "long.parquet",
        {
            "Test Time / s": pa.array(np.arange(rows, dtype=np.float64)),
            "Voltage / V": pa.array(np.linspace(3.0, 4.2, rows)),
            "Current / mA": pa.array(np.where(np.arange(rows) < 500, 1000.0, -1000.0)),
        },
        row_group_size=128,
    )
    source = open_parquet(path)
    assert source.row_count == rows
    chunks = list(source.frames(chunk_rows=100))
    assert max(len(chunk) for chunk in chunks) <= 100
    assert sum(len(chunk) for chunk in chunks) == rows
    pd.testing.assert_frame_equal(
        pd.concat(chunks, ignore_index=True), whole(open_parquet(path)), check_exact=True
    )
    assert pd.concat(chunks)["Current / A"].value_counts().to_dict() == {1.0: 500, -1.0: 500}


def test_parquet_header_problems_name_the_file_and_column(tmp_path: Path) -> None:
    path = write_parquet(
        tmp_path / "bad.parquet",
        {
            "Voltage / A": pa.array([3.0]),
            "Current / A": pa.array([1.0]),
            "current": pa.array([1.0]),
        },
    )
    assert error_of(open_parquet, path, problems=2).splitlines() == [
        "bad.parquet: column 'Voltage / A': unknown voltage unit 'A' (expected V, mV, µV, kV)",
        "bad.parquet: columns 'Current / A' and 'current' both give the current",
    ]


# ---------------------------------------------------------------- Neware


def test_neware_nda_v29_headers_units_and_step_time_added_up() -> None:
    source = open_neware(NEWARE_V29)
    assert source.format == "neware"
    assert source.row_count == 439
    assert source.headers == (
        "Test Time / s",
        "Unix Time / s",
        "Voltage / V",
        "Current / A",
        "Step Count / 1",
        "Cycle Count / 1",
        "Step Index / 1",
        "Charge Capacity / Ah",
        "Discharge Capacity / Ah",
        "Charge Energy / Wh",
        "Discharge Energy / Wh",
    )
    assert source.source_headers[:6] == (
        "Time",
        "Timestamp",
        "Voltage",
        "Current(mA)",
        "Step",
        "Cycle",
    )
    assert "The file's Time restarts at each step: Test Time adds the steps up." in source.notes
    assert "The file's clock times carry no time zone: taken as UTC." in source.notes
    frame = whole(source)
    # Step 1 ends at Time 5.0 s; step 2 starts again at 0.0 s; step 3 after 25.0 s of step 2.
    assert frame["Test Time / s"].iloc[50] == pytest.approx(5.0)
    assert frame["Test Time / s"].iloc[52] == pytest.approx(5.5)
    assert frame["Test Time / s"].iloc[103] == pytest.approx(31.0)
    assert frame["Step Count / 1"].iloc[[50, 51, 102]].tolist() == [1.0, 2.0, 3.0]
    assert (np.diff(frame["Test Time / s"]) >= 0).all()
    # The clock (whole seconds) and the added-up test time span the same 12 minutes.
    span = frame["Unix Time / s"].iloc[-1] - frame["Unix Time / s"].iloc[0]
    assert span == pytest.approx(frame["Test Time / s"].iloc[-1], abs=1.0)
    assert frame["Unix Time / s"].iloc[0] == utc(2020, 3, 25, 11, 16, 50)
    # mA -> A, mAh -> Ah
    assert frame["Voltage / V"].iloc[2] == pytest.approx(-0.0936, abs=1e-7)
    assert frame["Current / A"].iloc[2] == pytest.approx(-0.0294e-3, rel=1e-6)
    assert frame["Current / A"].iloc[103] == pytest.approx(0.0468e-3, rel=1e-6)
    assert frame["Discharge Capacity / Ah"].iloc[2] == pytest.approx(8.055555e-10, rel=1e-5)
    assert_importer_vocabulary(source)


def test_neware_bts91_aux_temperature_zone_and_clock_going_back() -> None:
    source = open_neware(NEWARE_BTS91)
    assert source.row_count == 6670
    assert source.headers[-1] == "Temperature T1 / °C"
    assert "Column 'V1' is empty: left out." in source.notes
    assert not any("time zone" in note for note in source.notes)
    assert any(
        note.startswith("The file's clock goes back 165.000 s at row 4916") for note in source.notes
    )
    frame = whole(source)
    assert frame["Unix Time / s"].iloc[0] == pytest.approx(utc(2024, 5, 27, 8, 2, 53) + 0.97)
    row = frame.iloc[3335]
    assert row["Test Time / s"] == pytest.approx(40580.328125)
    assert row["Current / A"] == pytest.approx(-3.000295410, rel=1e-6)
    assert row["Discharge Capacity / Ah"] == pytest.approx(0.175021667, rel=1e-6)
    assert row["Temperature T1 / °C"] == pytest.approx(24.681034, rel=1e-6)
    assert sorted(frame["Cycle Count / 1"].unique()) == [1.0, 2.0, 3.0]
    assert frame["Step Count / 1"].max() == 11


def test_neware_ndax_aux_temperatures_and_zoned_clock() -> None:
    source = open_neware(NEWARE_NDAX_AUX)
    assert source.row_count == 301
    assert source.headers[-2:] == ("Temperature T1 / °C", "Temperature T2 / °C")
    assert source.notes == ()
    frame = whole(source)
    assert frame["Unix Time / s"].iloc[0] == pytest.approx(utc(2024, 11, 18, 12, 43, 45) + 0.422)
    assert frame["Temperature T2 / °C"].iloc[0] == pytest.approx(25.487, rel=1e-6)
    assert frame["Voltage / V"].iloc[0] == pytest.approx(2.982991, rel=1e-6)


@pytest.mark.filterwarnings("ignore")  # the package's own deprecation warnings
@pytest.mark.parametrize("path", [NEWARE_V29, NEWARE_BTS91, NEWARE_NDAX_CYCLING])
def test_neware_current_is_positive_charging_negative_discharging(path: Path) -> None:
    from NewareNDA.NewareNDA import read_nda
    from NewareNDA.NewareNDAx import read_ndax

    status = (read_ndax if path.suffix == ".ndax" else read_nda)(str(path), False)["Status"]
    current = whole(open_neware(path))["Current / A"]
    charging = status.astype(str).str.endswith("_Chg").to_numpy()
    discharging = status.astype(str).str.endswith("_DChg").to_numpy()
    assert (current[charging] > 0).any() and (current[charging] >= 0).all()
    assert (current[discharging] < 0).any() and (current[discharging] <= 0).all()


def test_neware_ndax_cycling_sample() -> None:
    frame = whole(open_neware(NEWARE_NDAX_CYCLING))
    assert len(frame) == 1464
    assert frame["Current / A"].max() == pytest.approx(0.12e-3, rel=1e-3)
    assert frame["Current / A"].min() == pytest.approx(-0.1199e-3, rel=1e-3)
    assert frame["Test Time / s"].iloc[-1] == pytest.approx(43800.0)
    assert frame["Step Count / 1"].max() == 4


# ---------------------------------------------------------------- BioLogic


def test_biologic_headers_units_and_start() -> None:
    source = open_biologic(BIOLOGIC_MB)
    assert source.format == "biologic"
    assert source.row_count == 33
    assert source.headers[:5] == (
        "Test Time / s",
        "Unix Time / s",
        "Voltage / V",
        "Current / A",
        "Step Count / 1",
    )
    assert source.source_headers[:5] == ("time/s", "start + time/s", "Ewe/V", "I/mA", "Ns")
    assert {"control / A", "(Q-Qo) / Ah", "Energy charge / Wh", "Capacitance charge / µF"} <= set(
        source.headers
    )
    assert any("2022-12-08 14:36:53" in note and "taken as UTC" in note for note in source.notes)
    frame = whole(source)
    start = utc(2022, 12, 8, 14, 36, 53) + 0.355
    assert frame["Unix Time / s"].iloc[12] == pytest.approx(start + 11.0, abs=1e-3)
    assert frame["Current / A"].iloc[12] == pytest.approx(0.100016693, rel=1e-6)
    assert frame["Current / A"].iloc[24] == pytest.approx(-0.064985359, rel=1e-6)
    assert frame["(Q-Qo) / Ah"].iloc[21] == pytest.approx(0.277813e-3, rel=1e-5)
    assert frame["Energy charge / Wh"].iloc[21] == pytest.approx(6.477816e-04, rel=1e-5)
    assert frame["Step Count / 1"].tolist() == [1.0] * 11 + [2.0] * 11 + [3.0] * 11
    assert_importer_vocabulary(source)


def test_biologic_current_is_positive_charging() -> None:
    """BioLogic's sign (oxidation positive) is the app's: the cell charges (its voltage
    rises) under positive current and discharges under negative current."""
    frame = whole(open_biologic(BIOLOGIC_MB))
    voltage, current = frame["Voltage / V"], frame["Current / A"]
    charging, discharging = slice(12, 22), slice(23, 33)
    assert (current[charging] > 0).all() and (np.diff(voltage[charging]) > 0).mean() > 0.7
    assert (current[discharging] < 0).all() and (np.diff(voltage[discharging]) < 0).mean() > 0.7


def test_biologic_current_derived_from_charge_with_a_note() -> None:
    source = open_biologic(BIOLOGIC_GCPL_NO_CURRENT)
    assert "Current / A" in source.headers
    assert source.source_headers[source.headers.index("Current / A")] == "dQ/dt of (Q-Qo)/mA.h"
    assert (
        "No current column: current derived from the charge increment over time "
        "(dQ/dt of '(Q-Qo)/mA.h')."
    ) in source.notes
    frame = whole(source)
    # The technique applied +0.12 mA, then -0.12 mA (its control column says so).
    setpoint = frame["control / V/mA"].to_numpy() / 1000
    current = frame["Current / A"].to_numpy()
    steady = np.diff(frame["Test Time / s"].to_numpy(), prepend=0.0) > 1.0
    assert steady.sum() >= 10
    np.testing.assert_allclose(current[steady], setpoint[steady], rtol=0.01)
    assert current[0] == current[1]  # the first sample takes the second's current
    assert not np.isnan(current).any()


def test_biologic_cycle_number_and_coulombs() -> None:
    frame = whole(open_biologic(BIOLOGIC_CV))
    assert len(frame) == 455
    assert set(frame["Cycle Count / 1"]) == {1.0}
    assert frame["Current / A"].iloc[0] == pytest.approx(0.000220e-3, rel=1e-2)
    assert frame["(Q-Qo) / Ah"].iloc[1] == pytest.approx(1.302312e-11 / 3600, rel=1e-5)
    assert frame["Rcmp / Ohm"].iloc[0] == pytest.approx(3140.959229)  # unknown unit: as written


def test_biologic_without_current_or_charge_says_so() -> None:
    source = open_biologic(BIOLOGIC_OCV)
    assert source.headers == ("Test Time / s", "Unix Time / s", "Voltage / V")
    assert (
        "No current column and no charge column to derive it from: the file cannot give a current."
    ) in source.notes


# ---------------------------------------------------------------- all vendor formats


@pytest.mark.parametrize(
    ("path", "format"),
    [
        (NEWARE_V29, "neware"),
        (NEWARE_BTS91, "neware"),
        (NEWARE_NDAX_CYCLING, "neware"),
        (BIOLOGIC_MB, "biologic"),
        (BIOLOGIC_CV, "biologic"),
    ],
)
def test_chunks_give_the_same_data_as_one_chunk(path: Path, format: str) -> None:
    source = open_table(path, format)
    chunks = list(source.frames(chunk_rows=100))
    assert all(list(chunk.columns) == list(source.headers) for chunk in chunks)
    assert max(len(chunk) for chunk in chunks) <= 100
    assert sum(len(chunk) for chunk in chunks) == source.row_count
    assert all((chunk.dtypes == np.float64).all() for chunk in chunks)
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), whole(source))


@pytest.mark.parametrize(
    ("path", "format"),
    [
        (NEWARE_V29, "neware"),
        (NEWARE_NDAX_AUX, "neware"),
        (NEWARE_NDAX_CYCLING, "neware"),
        (BIOLOGIC_MB, "biologic"),
        (BIOLOGIC_GCPL_NO_CURRENT, "biologic"),
        (BIOLOGIC_CV, "biologic"),
    ],
)
def test_the_csv_importer_understands_every_column(path: Path, format: str) -> None:
    """The headers are the CSV importer's vocabulary: written out as CSV, the samples read
    back with their values, every extra channel kept, nothing skipped."""
    source = open_table(path, format)
    frame = whole(source)
    parsed = parse_csv(frame.to_csv(index=False).encode("utf-8"), start_time=0.0)
    assert parsed.skipped_columns == []
    assert parsed.time_column == "Unix Time / s"
    np.testing.assert_array_equal(parsed.samples["ts"], frame["Unix Time / s"])
    np.testing.assert_array_equal(parsed.samples["current"], frame["Current / A"])
    np.testing.assert_array_equal(parsed.samples["voltage"], frame["Voltage / V"])
    known = {"Test Time / s", "Unix Time / s", "Voltage / V", "Current / A", "Power / W"}
    known |= {"Step Count / 1", "Cycle Count / 1"}
    extras = [extra_header(name, unit) for name, unit in parsed.extras]
    assert extras == [header for header in source.headers if header not in known]


def test_open_table_rejects_an_unknown_format() -> None:
    with pytest.raises(ValueError, match="no vendor reader for format 'csv'"):
        open_table(NEWARE_V29, "csv")


# ---------------------------------------------------------------- unreadable files


def truncated(tmp_path: Path, sample: Path, size: int) -> Path:
    path = tmp_path / sample.name
    path.write_bytes(sample.read_bytes()[:size])
    return path


def test_truncated_files_get_one_clear_sentence(tmp_path: Path) -> None:
    assert (
        error_of(open_neware, truncated(tmp_path, NEWARE_V29, 2000))
        == "new_nda_file.nda: the Neware .nda file is truncated or damaged"
    )
    assert (
        error_of(open_neware, truncated(tmp_path, NEWARE_NDAX_CYCLING, 20_000))
        == "test.ndax: the .ndax archive is truncated or damaged"
    )
    assert (
        error_of(open_biologic, truncated(tmp_path, BIOLOGIC_MB, 5000))
        == "mb.issue_95.mpr: the BioLogic .mpr file is truncated or damaged"
    )
    table = tmp_path / "cut.parquet"
    write_parquet(
        table, {"Voltage / V": pa.array(np.ones(500)), "Current / A": pa.array(np.ones(500))}
    )
    table.write_bytes(table.read_bytes()[:300])
    assert error_of(open_parquet, table) == "cut.parquet: the parquet file is truncated or damaged"


def test_files_of_the_wrong_kind_are_named(tmp_path: Path) -> None:
    text = tmp_path / "sample.mpr"
    text.write_text("Test Time / s,Voltage / V,Current / A\n0,3.7,1\n")
    assert (
        error_of(open_biologic, text)
        == "sample.mpr: not a BioLogic .mpr file (no 'BIO-LOGIC' header)"
    )
    assert error_of(open_neware, BIOLOGIC_MB) == (
        "mb.issue_95.mpr: not a Neware .nda or .ndax file (no 'NEWARE' header, not a zip)"
    )
    assert error_of(open_parquet, NEWARE_V29) == (
        "new_nda_file.nda: not a parquet file (no 'PAR1' marker at its start)"
    )
    assert error_of(open_biologic, NEWARE_V29) == (
        "new_nda_file.nda: not a BioLogic .mpr file (no 'BIO-LOGIC' header)"
    )
    empty = tmp_path / "empty.nda"
    empty.write_bytes(b"")
    assert error_of(open_neware, empty) == "empty.nda: the file is empty"
    assert error_of(open_neware, tmp_path / "missing.nda") == "missing.nda: no such file"


def test_an_unknown_biologic_column_is_named(tmp_path: Path) -> None:
    # The data module of this sample: a 51-byte module header, the number of points
    # (4 bytes), of columns (1 byte), then 21 column IDs of 2 bytes. The last becomes an
    # ID galvani does not know.
    content = bytearray(BIOLOGIC_MB.read_bytes())
    ids = content.index(b"VMP data  ") + 51 + 5
    assert content[ids : ids + 8] == bytes([1, 0, 2, 0, 3, 0, 21, 0])  # IDs 1, 2, 3, 21...
    content[ids + 2 * 20 : ids + 2 * 21] = (999).to_bytes(2, "little")
    path = tmp_path / "new_technique.mpr"
    path.write_bytes(bytes(content))
    assert error_of(open_biologic, path) == (
        "new_technique.mpr: the file has a column this reader does not know "
        "(BioLogic column ID 999)"
    )
