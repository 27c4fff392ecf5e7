"""domain.importing: formats, column choices, the preview, and reading in checked chunks."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from domain.csvformat import CsvImportError
from domain.importing import (
    ColumnChoice,
    ImportFileError,
    ImportProgress,
    ImportReader,
    PreviewColumn,
    format_of,
    parse_map_option,
    preview_file,
)


def test_csv_import_error_and_import_file_error_are_one_type() -> None:
    assert CsvImportError is ImportFileError


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("run.csv", "csv"),
        ("RUN.TXT", "csv"),
        ("run.tsv", "csv"),
        ("run.parquet", "parquet"),
        ("cell.nda", "neware"),
        ("cell.ndax", "neware"),
        ("cell.mpr", "biologic"),
        ("runs.zip", "zip"),
    ],
)
def test_format_from_the_extension(name: str, expected: str) -> None:
    assert format_of(name) == expected
    assert format_of(name, "auto") == expected


def test_a_requested_format_wins_and_is_checked() -> None:
    assert format_of("export.dat", "csv") == "csv"
    with pytest.raises(ImportFileError, match="unknown format 'xlsx'"):
        format_of("run.csv", "xlsx")


def test_an_unknown_extension_is_named() -> None:
    with pytest.raises(ImportFileError, match=r"run\.xlsx: cannot tell the format from '\.xlsx'"):
        format_of("run.xlsx")


@pytest.mark.parametrize(
    ("text", "choice"),
    [
        ("Volt (mV)=Voltage / mV", ColumnChoice("Volt (mV)", "Voltage / mV")),
        ("a=b=T / °C", ColumnChoice("a=b", "T / °C")),
        ("junk=ignore", ColumnChoice("junk", ignore=True)),
        (" junk = IGNORE ", ColumnChoice("junk", ignore=True)),
    ],
)
def test_map_options(text: str, choice: ColumnChoice) -> None:
    assert parse_map_option(text) == choice


@pytest.mark.parametrize(("text", "message"), [("Voltage", "expected COLUMN=LABEL"),
                                                ("=Voltage / V", "expected COLUMN=LABEL"),
                                                ("Volt=", "no label")])  # fmt: skip
def test_malformed_map_options(text: str, message: str) -> None:
    with pytest.raises(ImportFileError, match=message):
        parse_map_option(text)


def test_progress_fraction() -> None:
    assert ImportProgress("reading", 0, 50, 200).fraction == 0.25
    assert ImportProgress("done", 0, 300, 200).fraction == 1.0
    assert ImportProgress("reading", 0, 0, 0).fraction is None


# ---------------------------------------------------------------- preview


def vendor_file(tmp_path: Path, rows: int = 30) -> Path:
    path = tmp_path / "vendor.csv"
    lines = ["Time / s,Volt [mV],Current / mA,Cycle,Tc,comment"]
    lines += [f"{n},{3700 + n},{1500},{n // 10 + 1},25.{n},step {n}" for n in range(rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_preview_says_how_each_column_is_read(tmp_path: Path) -> None:
    preview = preview_file(vendor_file(tmp_path), rows=3)
    assert preview.format == "csv"
    assert preview.columns == (
        PreviewColumn("Time / s", "test_time", "Test Time / s", "s", "s"),
        PreviewColumn("Volt [mV]", "extra", "Volt / V", "mV", "V", "mV scaled to V"),
        PreviewColumn("Current / mA", "current", "Current / A", "mA", "A", "mA scaled to A"),
        PreviewColumn("Cycle", "cycle", "Cycle Count / 1", "", "1"),
        PreviewColumn("Tc", "extra", "Tc", "", ""),
        PreviewColumn("comment", "ignored", "", "", "", "text column: ignored"),
    )
    assert preview.rows[0] == ("0", "3700", "1500", "1", "25.0", "step 0")
    assert len(preview.rows) == 3
    assert preview.vendor_cycle_column == "Cycle" and preview.vendor_step_column is None
    assert preview.problems == (
        "line 1: missing a voltage column: expected one of Voltage / V, voltage",
    )
    assert preview.size_bytes == (tmp_path / "vendor.csv").stat().st_size


def test_preview_applies_the_choices(tmp_path: Path) -> None:
    choices = [
        ColumnChoice("Volt [mV]", "Voltage / mV"),
        ColumnChoice("Tc", "T cell / °C"),
        ColumnChoice("Cycle", ignore=True),
    ]
    preview = preview_file(vendor_file(tmp_path), choices=choices)
    by_source = {column.source: column for column in preview.columns}
    assert by_source["Volt [mV]"] == PreviewColumn(
        "Volt [mV]", "voltage", "Voltage / V", "mV", "V", "mV scaled to V"
    )
    assert by_source["Tc"].label == "T cell / °C" and by_source["Tc"].role == "extra"
    assert by_source["Cycle"].role == "ignored"
    assert preview.vendor_cycle_column is None
    assert preview.problems == ()
    assert any("elapsed time" in note for note in preview.notes)


def test_preview_names_a_choice_for_a_missing_column(tmp_path: Path) -> None:
    preview = preview_file(vendor_file(tmp_path), choices=[ColumnChoice("Volts", "Voltage / V")])
    assert "line 1: there is no column 'Volts' in the file" in preview.problems


def test_preview_reads_only_the_start(tmp_path: Path) -> None:
    path = vendor_file(tmp_path, rows=5)
    with path.open("a", encoding="utf-8") as file:
        file.write("this line, is not, read, by, the, preview, at all\n")
    assert len(preview_file(path, rows=5).rows) == 5


def test_preview_of_an_unreadable_file_raises(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(ImportFileError, match="the file is empty"):
        preview_file(path)


def test_preview_of_a_zip_lists_its_files(tmp_path: Path) -> None:
    path = tmp_path / "runs.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("b.csv", "time,voltage,current\n0,3.7,1\n")
        archive.writestr("a.csv", "time,voltage,current\n0,3.6,1\n")
    preview = preview_file(path)
    assert preview.format == "zip"
    assert preview.rows == (("0", "3.6", "1"),)
    assert preview.notes[0].startswith(
        "2 files, imported in this order as one experiment: a.csv, b.csv"
    )


def _bomb(path: Path) -> Path:
    """A ZIP of a few kilobytes holding a 'parquet' of 50 MB of zeros, and a small CSV."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a.csv", "time,voltage,current\n0,3.6,1\n")
        archive.writestr("big.parquet", bytes(50_000_000))
    return path


def test_a_zip_member_larger_than_the_limit_unpacked_is_refused_before_it_is_read(
    tmp_path: Path,
) -> None:
    path = _bomb(tmp_path / "runs.zip")
    assert path.stat().st_size < 1_000_000
    message = "'big.parquet' in the ZIP archive is 50.0 MB unpacked; at most 10.0 MB"
    with pytest.raises(ImportFileError, match=message):
        preview_file(path, max_member_bytes=10_000_000)
    with pytest.raises(ImportFileError, match=message):
        ImportReader(path, max_member_bytes=10_000_000)
    # Without a limit (the command line), the archive is read as before.
    assert preview_file(path).format == "zip"


# ---------------------------------------------------------------- reading


def test_the_reader_yields_bounded_chunks_numbered_on(tmp_path: Path) -> None:
    path = vendor_file(tmp_path, rows=25)
    reader = ImportReader(
        path, choices=[ColumnChoice("Volt [mV]", "Voltage / mV")], start_time=0, chunk_rows=10
    )
    chunks = list(reader.chunks())
    reader.finish()
    assert [len(chunk) for chunk in chunks] == [10, 10, 5]
    assert chunks[1].samples["seq"].tolist() == list(range(10, 20))
    assert chunks[2].samples["voltage"].tolist() == [(3720 + n) / 1000 for n in range(5)]
    assert reader.rows_done == 25 and reader.bytes_done == reader.bytes_total
    assert reader.text_channels == {("comment", "")}


def test_a_missing_file_is_an_import_file_error(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="no such file"):
        ImportReader(tmp_path / "nothing.csv")
