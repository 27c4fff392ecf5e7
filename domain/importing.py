"""Importing an experiment from a file: the formats, the preview and the user's column choices.

CONTRACT shared by two developers working in parallel (the import engine + CLI, and the
import page). Names, fields and signatures below are fixed; bodies are to be written.
Pure logic: no SQL, no Dash (import-linter's domain contract).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from domain.csvformat import QUANTITIES, CsvImportError, CsvProblem, parse_csv, split_header
from domain.units import lookup_unit

# format key -> what the user reads. The key is what `--format` and the page's format
# dropdown take; "auto" (or None) means: from the file name's extension.
IMPORT_FORMATS: dict[str, str] = {
    "csv": "CSV (BDF labels or vendor headers)",
    "parquet": "BDF parquet",
    "neware": "Neware .nda / .ndax",
    "biologic": "BioLogic .mpr",
    "zip": "ZIP of several of these (one experiment, files in name order)",
}


class ImportFileError(ValueError):
    """The file cannot be imported. `problems` lists the first few (each names its row
    and column where it has them); `total` counts them all. str() is the message a
    user reads: one problem a line, never a traceback or SQL."""

    problems: list  # list[CsvProblem] from domain.csvformat (message, line, column)
    total: int

    def __init__(self, problems: Sequence[CsvProblem], total: int | None = None) -> None:
        self.problems = list(problems)
        self.total = max(total or 0, len(self.problems))
        lines = [str(problem) for problem in self.problems]
        if self.total > len(self.problems):
            lines.append(f"... and {self.total - len(self.problems)} more")
        super().__init__("\n".join(lines))


def format_of(filename: str, requested: str | None = None) -> str:
    """The format key for `filename`: `requested` when given (checked against
    IMPORT_FORMATS), else from the extension (.csv/.txt/.tsv -> csv, .parquet -> parquet,
    .nda/.ndax -> neware, .mpr -> biologic, .zip -> zip). Raises ImportFileError naming
    the extension when it is none of these."""
    if requested and requested != "auto":
        if requested not in IMPORT_FORMATS:
            known = ", ".join(IMPORT_FORMATS)
            raise ImportFileError([CsvProblem(f"unknown format {requested!r} (expected {known})")])
        return requested
    extension = os.path.splitext(filename)[1].lower()
    found = _FORMAT_OF_EXTENSION.get(extension)
    if found is None:
        accepted = " ".join(_FORMAT_OF_EXTENSION)
        shown = extension or "no extension"
        raise ImportFileError(
            [CsvProblem(f"{shown!r}: not a file type the importer reads ({accepted})")]
        )
    return found


_FORMAT_OF_EXTENSION = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
    ".nda": "neware",
    ".ndax": "neware",
    ".mpr": "biologic",
    ".zip": "zip",
}


@dataclass(frozen=True)
class ColumnChoice:
    """The user's decision for one column of the file.

    `label` "" keeps what the importer recognised. Otherwise it is a header the importer
    understands: a quantity's label with a unit ("Voltage / mV", "Test Time / s",
    "Cycle Count / 1") or an extra channel "Name / unit" ("T cell / °C"). `ignore` drops
    the column. On the command line, `--map COLUMN=LABEL` gives one, and
    `--map COLUMN=ignore` ignores a column (see `parse_map_option`).
    """

    source: str
    label: str = ""
    ignore: bool = False


def parse_map_option(text: str) -> ColumnChoice:
    """`COLUMN=LABEL` (split at the last '=') -> ColumnChoice; `COLUMN=ignore` ignores it.
    Raises ImportFileError with a clear message for a malformed option."""
    column, equals, label = text.rpartition("=")
    if not equals or not column.strip() or not label.strip():
        raise ImportFileError(
            [CsvProblem(f"--map {text!r}: expected COLUMN=LABEL or COLUMN=ignore")]
        )
    if label.strip().casefold() == "ignore":
        return ColumnChoice(column.strip(), ignore=True)
    return ColumnChoice(column.strip(), label=label.strip())


@dataclass(frozen=True)
class PreviewColumn:
    """One column of the file as the importer will read it, after the user's choices."""

    source: str  # the header in the file ("Voltage(V)", "Ewe/V", "Temp [degC]")
    role: str  # a Quantity key of domain.csvformat ("voltage", "current", "test_time",
    #            "unix_time", "timestamp", "power", "instruction", "cycle"),
    #            "extra" (an extra channel), or "ignored"
    label: str  # what it becomes: "Voltage / V", "T cell / °C"; "" when ignored
    unit: str  # the unit the file declares ("mA"), "" if none
    si_unit: str  # the unit it is stored in after scaling ("A"), "" if none/unknown
    note: str = ""  # e.g. "mA scaled to A", "text column: ignored", "vendor cycle column"


@dataclass(frozen=True)
class FilePreview:
    """What the import page shows before importing."""

    format: str  # a key of IMPORT_FORMATS
    columns: tuple[PreviewColumn, ...]
    rows: tuple[tuple[str, ...], ...]  # the first rows, as text, one cell per column
    vendor_cycle_column: str | None  # the source column giving cycles, if any
    vendor_step_column: str | None  # the source column giving steps, if any
    notes: tuple[str, ...] = ()  # e.g. "no current column: current derived from the
    #                               charge increment over time"; zip members listed
    problems: tuple[str, ...] = ()  # header-level problems that would stop the import
    #                                 as mapped (missing voltage...); empty = importable
    size_bytes: int = 0


def preview_file(
    path: str | os.PathLike[str],
    *,
    format: str | None = None,
    choices: Sequence[ColumnChoice] = (),
    rows: int = 10,
) -> FilePreview:
    """Read only the start of the file (fast even for 10,000,000 rows) and say how it
    would be imported with `choices` applied. Unreadable files raise ImportFileError."""
    key = format_of(os.fspath(path), format)
    if key != "csv":
        raise ImportFileError([CsvProblem(f"{IMPORT_FORMATS[key]}: not readable yet")])
    size = os.path.getsize(path)
    with open(path, "rb") as file:
        head = file.read(_PREVIEW_BYTES)
    lines = head.splitlines()
    if len(head) == _PREVIEW_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut short
    if not lines or not lines[0].strip():
        raise ImportFileError([CsvProblem("the file is empty")])
    encoding = "utf-8"
    try:
        lines[0].decode("utf-8")
    except UnicodeDecodeError:
        encoding = "cp1252"
    text = b"\n".join(lines[: rows + 1]).decode(encoding, errors="replace").removeprefix("\ufeff")
    delimiter = max((",", ";", "\t"), key=text.splitlines()[0].count)
    table = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    headers = [header.strip() for header in table[0]]
    body = [row + [""] * (len(headers) - len(row)) for row in table[1:]]
    by_source = {choice.source: choice for choice in choices}
    kept = [i for i, header in enumerate(headers) if not by_source.get(header, _KEEP).ignore]
    mapped = [by_source.get(headers[i], _KEEP).label or headers[i] for i in kept]

    problems: list[str] = []
    skipped: set[str] = set()
    if body:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(mapped)
        writer.writerows([row[i] for i in kept] for row in body)
        try:
            skipped = set(
                parse_csv(buffer.getvalue().encode("utf-8"), start_time=0.0).skipped_columns
            )
        except CsvImportError as error:
            problems = [problem.message for problem in error.problems if problem.line in (1, None)]
    else:
        problems = ["the file has a header but no data rows"]

    columns = []
    for header in headers:
        choice = by_source.get(header, _KEEP)
        if choice.ignore:
            columns.append(PreviewColumn(header, "ignored", "", "", "", "ignored by choice"))
            continue
        label = choice.label or header
        columns.append(_preview_column(header, label, label in skipped, choice.label != ""))
    return FilePreview(
        format=key,
        columns=tuple(columns),
        rows=tuple(tuple(row[: len(headers)]) for row in body[:rows]),
        vendor_cycle_column=next((c.source for c in columns if c.role == "cycle"), None),
        vendor_step_column=next((c.source for c in columns if c.role == "instruction"), None),
        notes=(),
        problems=tuple(problems),
        size_bytes=size,
    )


_PREVIEW_BYTES = 256 * 1024
_KEEP = ColumnChoice("")


def _preview_column(source: str, label: str, text_column: bool, chosen: bool) -> PreviewColumn:
    name, unit = split_header(label)
    note = "renamed" if chosen else ""
    if text_column:
        return PreviewColumn(source, "ignored", "", unit, "", "text column: ignored")
    quantity = next((q for q in QUANTITIES if name.casefold() in q.names), None)
    found = lookup_unit(unit) if unit else None
    if quantity is not None:
        si_unit = quantity.si_unit or ""
        if found is not None and not found.is_si:
            note = f"{unit} scaled to {si_unit}"
        return PreviewColumn(source, quantity.key, label, unit, si_unit, note)
    si_unit = found.si_unit if found is not None else unit
    if found is not None and not found.is_si:
        note = f"{unit} scaled to {si_unit}"
    return PreviewColumn(source, "extra", label, unit, si_unit, note)


@dataclass(frozen=True)
class ImportProgress:
    """Reported while an import runs, at least once per chunk."""

    stage: str  # "reading", "checking and storing", "cycle table", "committing", "done"
    rows_done: int
    bytes_done: int  # of the source file (for a fraction; may stay 0 for vendor files)
    bytes_total: int

    @property
    def fraction(self) -> float | None:
        """0..1 when the size is known."""
        if self.bytes_total <= 0:
            return None
        return min(self.bytes_done / self.bytes_total, 1.0)


ProgressCallback = Callable[[ImportProgress], None]

# In datastore/imports.py (SQL side), signature fixed:
#
# def import_file(
#     engine: Engine,
#     path: str | os.PathLike[str],
#     *,
#     name: str,
#     battery_id: int,
#     profile_id: int | None = None,
#     description: str = "",
#     format: str | None = None,
#     choices: Sequence[ColumnChoice] = (),
#     start_time: float | None = None,   # Unix s, for files with elapsed time only; default now
#     progress: ProgressCallback | None = None,
#     cancel: threading.Event | None = None,  # set -> stop, roll back, raise ImportCancelled
# ) -> int:
#     """Read, check and store the file in chunks in ONE transaction; return the new
#     experiment id (FINISHED, imported, with summaries and cycle table). Any problem ->
#     ImportFileError (or CatalogError for an unknown battery/profile/bad name) and
#     nothing stored. Memory bounded by the chunk size, not the file size."""
#
# class ImportCancelled(Exception): ...
