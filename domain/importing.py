"""Importing an experiment from a file: the formats, the preview, the user's column
choices, and the reading of a file (or of a ZIP of several) in checked chunks.

One path for every format: a file is a source of chunks of rows whose columns carry
the CSV importer's headers ("Voltage / V", "Test Time / s", extras "Name / unit").
A CSV file is read by `domain.csvformat.CsvFile`; the other formats by a `TableSource`
(`domain.vendor_files.open_table`). Every chunk then goes through the same header
mapping (with the user's `ColumnChoice`s applied) and the same checks
(`domain.csvformat.SampleChecker`); `datastore.imports.import_file` stores them.

Pure logic: no SQL, no Dash (import-linter's domain contract).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd

from domain import vendor_files
from domain.csvformat import (
    CHUNK_ROWS,
    CYCLE,
    QUANTITIES,
    STEP,
    TIMESTAMP,
    ColumnMap,
    CsvFile,
    CsvProblem,
    ImportFileError,
    Opener,
    ParsedExperiment,
    Problems,
    SampleChecker,
    channel_unit,
    extra_header,
    map_columns,
)
from domain.units import lookup_unit

__all__ = [
    "IMPORT_FORMATS",
    "ColumnChoice",
    "FilePreview",
    "ImportFileError",
    "ImportProgress",
    "ImportReader",
    "PreviewColumn",
    "ProgressCallback",
    "TableSource",
    "format_of",
    "parse_map_option",
    "preview_file",
]

# format key -> what the user reads. The key is what `--format` and the page's format
# dropdown take; "auto" (or None) means: from the file name's extension.
IMPORT_FORMATS: dict[str, str] = {
    "csv": "CSV (BDF labels or vendor headers)",
    "parquet": "BDF parquet",
    "neware": "Neware .nda / .ndax",
    "biologic": "BioLogic .mpr",
    "zip": "ZIP of several of these (one experiment, files in name order)",
}

_FORMAT_BY_EXTENSION = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
    ".nda": "neware",
    ".ndax": "neware",
    ".mpr": "biologic",
    ".zip": "zip",
}


def _error(message: str, line: int | None = None, column: str | None = None) -> ImportFileError:
    return ImportFileError([CsvProblem(message, line, column)])


def format_of(filename: str, requested: str | None = None) -> str:
    """The format key for `filename`: `requested` when given (checked against
    IMPORT_FORMATS), else from the extension (.csv/.txt/.tsv -> csv, .parquet -> parquet,
    .nda/.ndax -> neware, .mpr -> biologic, .zip -> zip). Raises ImportFileError naming
    the extension when it is none of these."""
    if requested is not None and requested != "auto":
        if requested not in IMPORT_FORMATS:
            raise _error(f"unknown format {requested!r} (known: {', '.join(IMPORT_FORMATS)}, auto)")
        return requested
    extension = Path(filename).suffix.lower()
    found = _FORMAT_BY_EXTENSION.get(extension)
    if found is None:
        shown = repr(extension) if extension else "no extension"
        raise _error(
            f"{Path(filename).name}: cannot tell the format from {shown} "
            f"(known: {', '.join(sorted(_FORMAT_BY_EXTENSION))})"
        )
    return found


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
    source, equals, label = text.rpartition("=")
    if not equals or not source.strip():
        raise _error(f"--map {text!r}: expected COLUMN=LABEL, e.g. 'Volt (mV)=Voltage / mV'")
    if not label.strip():
        raise _error(f"--map {text!r}: no label after '=' (or 'ignore' to drop the column)")
    if label.strip().casefold() == "ignore":
        return ColumnChoice(source.strip(), ignore=True)
    return ColumnChoice(source.strip(), label.strip())


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


# ---------------------------------------------------------------- sources of rows


# A parquet, Neware or BioLogic file read as a table in the CSV importer's vocabulary.
TableSource = vendor_files.TableSource


def open_table(path: str, format: str) -> TableSource:
    """The reader of a parquet, Neware or BioLogic file (domain.vendor_files)."""
    return vendor_files.open_table(path, format)


@dataclass(frozen=True)
class _Member:
    """One file to read: the file itself, or a member of a ZIP archive."""

    name: str | None  # the member's name in the archive; None for a plain file
    format: str
    size: int
    open: Opener


def _members(path: str, format: str, max_member_bytes: int | None = None) -> list[_Member]:
    """The files to read; a ZIP member over `max_member_bytes` unpacked is refused before
    anything is read (a small archive can unpack to terabytes, and vendor files are
    unpacked to disk). The declared size is what counts: reading stops there anyway."""
    if format != "zip":
        size = os.path.getsize(path)
        return [_Member(None, format, size, lambda: open(path, "rb"))]  # noqa: SIM115
    try:
        with zipfile.ZipFile(path) as archive:
            infos = sorted(
                (info for info in archive.infolist() if not info.is_dir()),
                key=lambda info: info.filename,
            )
    except zipfile.BadZipFile:
        raise _error(f"{Path(path).name} is not a ZIP archive") from None
    if not infos:
        raise _error(f"{Path(path).name}: the ZIP archive holds no files")
    problems = Problems()
    members = []
    for info in infos:
        try:
            member_format = format_of(info.filename)
        except ImportFileError:
            member_format = "unknown"
        if member_format in ("zip", "unknown"):
            problems.add(f"{info.filename!r} in the ZIP archive is not a file this import reads")
            continue
        if max_member_bytes is not None and info.file_size > max_member_bytes:
            problems.add(
                f"{info.filename!r} in the ZIP archive is {_megabytes(info.file_size)} "
                f"unpacked; at most {_megabytes(max_member_bytes)} are accepted"
            )
            continue
        members.append(
            _Member(info.filename, member_format, info.file_size, _zip_opener(path, info.filename))
        )
    problems.raise_if_any()
    return members


def _megabytes(size: int) -> str:
    return f"{size / 1e6:,.1f} MB"


def _zip_opener(path: str, member: str) -> Opener:
    @contextlib.contextmanager
    def opened() -> Iterator[IO[bytes]]:
        with zipfile.ZipFile(path) as archive, archive.open(member) as file:
            yield file

    return opened


@contextlib.contextmanager
def _table_of(path: str, member: _Member) -> Iterator[TableSource]:
    """The TableSource of a member: vendor readers want a file on disk."""
    if member.name is None:
        yield open_table(path, member.format)
        return
    with tempfile.TemporaryDirectory(prefix="bem-import-") as folder:
        target = Path(folder) / Path(member.name).name
        with member.open() as source, target.open("wb") as copy:
            while block := source.read(1 << 20):
                copy.write(block)
        yield open_table(str(target), member.format)


def _labels(
    sources: Sequence[str],
    recognised: Sequence[str],
    choices: Sequence[ColumnChoice],
    used: set[str],
) -> list[str | None]:
    """Per column, the header to read it as: the user's label, else what the importer
    recognised (`recognised`: the CSV header itself, or a table source's `headers`), or
    None (ignored). Adds the sources of the choices that matched to `used`."""
    by_source = {choice.source.strip(): choice for choice in choices}
    labels: list[str | None] = []
    for source, default in zip(sources, recognised, strict=True):
        choice = by_source.get(source.strip())
        if choice is None:
            labels.append(default)
            continue
        used.add(choice.source.strip())
        labels.append(None if choice.ignore else (choice.label.strip() or default))
    return labels


def _unused_choices(choices: Sequence[ColumnChoice], used: set[str], problems: Problems) -> None:
    problems.file = None
    for choice in choices:
        if choice.source.strip() not in used:
            problems.add(f"there is no column {choice.source.strip()!r} in the file", 1)


# ---------------------------------------------------------------- reading in chunks


class ImportReader:
    """A file (or the files of a ZIP archive, in name order) read and checked in chunks
    of at most `chunk_rows` rows: `chunks()` yields each chunk's samples, numbered on
    from the chunk before. Problems collect in `problems` while the reading goes on to
    the end; `finish()` raises ImportFileError when there are any. Nothing here holds
    more than one chunk."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        format: str | None = None,
        choices: Sequence[ColumnChoice] = (),
        start_time: float | dt.datetime | None = None,
        chunk_rows: int = CHUNK_ROWS,
        max_member_bytes: int | None = None,
    ) -> None:
        self.path = os.fspath(path)
        self.format = format_of(self.path, format)
        if not os.path.isfile(self.path):
            raise _error(f"{self.path}: no such file")
        self.bytes_total = os.path.getsize(self.path)
        self.members = _members(self.path, self.format, max_member_bytes)
        self.choices = tuple(choices)
        self.chunk_rows = chunk_rows
        self.problems = Problems()
        self.checker = SampleChecker(self.problems, start_time)
        self._bytes_before = 0  # of the members read already
        self._position: Callable[[], int] = lambda: 0

    @property
    def rows_done(self) -> int:
        return self.checker.rows

    @property
    def bytes_done(self) -> int:
        """How far the reading is, in bytes of the file (of the members, for a ZIP)."""
        done = self._bytes_before + self._position()
        if self.format == "zip":
            total = sum(member.size for member in self.members) or 1
            return round(self.bytes_total * min(done / total, 1.0))
        return done

    @property
    def text_channels(self) -> set[tuple[str, str]]:
        """Extra columns first taken for channels that turned out to hold text."""
        return self.checker.text_channels

    def chunks(self) -> Iterator[ParsedExperiment]:
        used: set[str] = set()
        for member in self.members:
            self.problems.file = member.name
            if member.format == "csv":
                yield from self._csv_chunks(member, used)
            else:
                yield from self._table_chunks(member, used)
            self._bytes_before += member.size
            self._position = lambda: 0
        _unused_choices(self.choices, used, self.problems)
        self.checker.finish()

    def finish(self) -> None:
        """Raise ImportFileError when the file had any problem."""
        self.problems.raise_if_any()

    def _begin(
        self, sources: Sequence[str], recognised: Sequence[str], used: set[str]
    ) -> ColumnMap | None:
        before = self.problems.total
        labels = _labels(sources, recognised, self.choices, used)
        columns = map_columns(sources, labels, self.problems)
        if self.problems.total > before:
            return None  # the rows cannot be read as mapped; the other files still are
        self.checker.begin_file(columns)
        return columns

    def _csv_chunks(self, member: _Member, used: set[str]) -> Iterator[ParsedExperiment]:
        before = self.problems.total
        csv_file = CsvFile(member.open, self.problems)
        if self.problems.total > before:
            return
        columns = self._begin(csv_file.headers, csv_file.headers, used)
        if columns is None:
            return
        self._position = lambda: csv_file.bytes_done
        for frame, lines in csv_file.frames(self.chunk_rows, columns.text_positions):
            chunk = self.checker.check(frame, lines)
            if chunk is not None:
                yield chunk

    def _table_chunks(self, member: _Member, used: set[str]) -> Iterator[ParsedExperiment]:
        with _table_of(self.path, member) as table:
            columns = self._begin(list(table.source_headers), list(table.headers), used)
            if columns is None:
                return
            line = 2  # rows numbered as in a CSV file with one header line
            for frame in table.frames(self.chunk_rows):
                if list(frame.columns) != list(table.headers):
                    raise RuntimeError("a table source gave columns other than its headers")
                by_position = frame.set_axis(range(frame.shape[1]), axis="columns")
                lines = np.arange(line, line + len(frame))
                line += len(frame)
                chunk = self.checker.check(by_position, lines)
                if chunk is not None:
                    yield chunk


# ---------------------------------------------------------------- preview


def preview_file(
    path: str | os.PathLike[str],
    *,
    format: str | None = None,
    choices: Sequence[ColumnChoice] = (),
    rows: int = 10,
    max_member_bytes: int | None = None,
) -> FilePreview:
    """Read only the start of the file (fast even for 10,000,000 rows) and say how it
    would be imported with `choices` applied. Unreadable files raise ImportFileError;
    so does a ZIP member over `max_member_bytes` unpacked."""
    path = os.fspath(path)
    file_format = format_of(path, format)
    if not os.path.isfile(path):
        raise _error(f"{path}: no such file")
    members = _members(path, file_format, max_member_bytes)
    notes: list[str] = []
    if file_format == "zip":
        names = ", ".join(member.name or "" for member in members)
        notes.append(
            f"{len(members)} files, imported in this order as one experiment: {names}; "
            f"the preview shows {members[0].name}"
        )
    member = members[0]
    problems = Problems()
    if member.format == "csv":
        sources, cells = _csv_start(member, problems, rows)
        recognised = sources
    else:
        with _table_of(path, member) as table:
            sources, recognised = list(table.source_headers), list(table.headers)
            notes.extend(table.notes)
            first = next(iter(table.frames(max(rows, 1))), None)
            cells = [] if first is None else _table_cells(first.head(rows))
    used: set[str] = set()
    columns = map_columns(sources, _labels(sources, recognised, choices, used), problems)
    _unused_choices(choices, used, problems)
    preview_columns = _preview_columns(sources, columns, cells)
    time = next((c for c in preview_columns if c.role in _TIME_ROLES), None)
    if time is not None and time.role == "test_time":
        notes.append("elapsed time only: the first sample is placed at the start time given")
    return FilePreview(
        format=file_format,
        columns=tuple(preview_columns),
        rows=tuple(tuple(row) for row in cells),
        vendor_cycle_column=_source_of(columns, CYCLE.key),
        vendor_step_column=_source_of(columns, STEP.key),
        notes=tuple(notes),
        problems=tuple(str(problem) for problem in problems.error().problems),
        size_bytes=os.path.getsize(path),
    )


_TIME_ROLES = ("unix_time", "timestamp", "test_time")
_QUANTITY_BY_KEY = {quantity.key: quantity for quantity in QUANTITIES}


def _csv_start(member: _Member, problems: Problems, rows: int) -> tuple[list[str], list[list[str]]]:
    """The headers and the first rows' cells as text; unreadable files raise."""
    csv_file = CsvFile(member.open, problems)
    problems.raise_if_any()
    width = len(csv_file.headers)
    with member.open() as file:
        frame = pd.read_csv(
            file,
            sep=csv_file.delimiter,
            header=None,
            skiprows=1,
            nrows=rows,
            names=range(width),
            index_col=False,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=True,
            skipinitialspace=True,
            encoding=csv_file.encoding,
            encoding_errors="replace",
            engine="c",
            on_bad_lines="skip",
        )
    return csv_file.headers, [list(row) for row in frame.itertuples(index=False)]


def _table_cells(frame: pd.DataFrame) -> list[list[str]]:
    return [
        ["" if pd.isna(value) else str(value) for value in row]
        for row in frame.itertuples(index=False)
    ]


def _source_of(columns: ColumnMap, key: str) -> str | None:
    column = columns.quantities.get(key)
    return None if column is None else column.source


def _preview_columns(
    sources: Sequence[str], columns: ColumnMap, cells: Sequence[Sequence[str]]
) -> list[PreviewColumn]:
    by_position: dict[int, PreviewColumn] = {}
    for key, column in columns.quantities.items():
        quantity = _QUANTITY_BY_KEY[key]
        si_unit = quantity.si_unit or ""
        note = ""
        if key == TIMESTAMP.key:
            note = "ISO 8601 dates"
        elif (
            column.unit
            and lookup_unit(column.unit)
            and lookup_unit(column.unit) != lookup_unit(si_unit)
        ):
            note = f"{column.unit} scaled to {si_unit}"
        by_position[column.position] = PreviewColumn(
            column.source, key, quantity.label, column.unit, si_unit, note
        )
    for column in columns.extras:
        texts = [row[column.position] for row in cells if row[column.position].strip()]
        if texts and all(_not_a_number(text) for text in texts):
            by_position[column.position] = PreviewColumn(
                column.source, "ignored", "", column.unit, "", "text column: ignored"
            )
            continue
        known = lookup_unit(column.unit) is not None
        unit = channel_unit(column.unit)
        note = ""
        if known and unit != column.unit:
            note = f"{column.unit} scaled to {unit}"
        elif column.unit and not known:
            note = f"unit {column.unit!r} kept as written"
        by_position[column.position] = PreviewColumn(
            column.source,
            "extra",
            extra_header(column.name, unit),
            column.unit,
            unit if known else "",
            note,
        )
    found = []
    for position, source in enumerate(sources):
        column_preview = by_position.get(position)
        if column_preview is None:
            ignored = source.strip() in columns.ignored
            note = "ignored" if ignored else "not read (see the problems)"
            if not source.strip():
                note = "no header: ignored"
            column_preview = PreviewColumn(source.strip(), "ignored", "", "", "", note)
        found.append(column_preview)
    return found


def _not_a_number(text: str) -> bool:
    try:
        float(text.replace(",", "."))
    except ValueError:
        return True
    return False
