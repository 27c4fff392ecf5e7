"""The CSV file formats of docs/formats.md: the one column map, the importer and the writer.

Export writes the Battery Data Format (BDF) preferred labels, SI units, and every float
at full precision, so that export then import gives the same numbers back. Import
accepts those labels, the short aliases of other tools and of the original system
(`timestamp,voltage,current,instr_id`), declared units (`Voltage / mV`,
`Current [mA]`), and any other numeric column as an extra channel. A file is read in
chunks (`CsvFile`) and each chunk checked (`SampleChecker`), so memory follows the
chunk size, not the file's length; each problem names its line and column.

Pure logic: no SQL, no Dash. `datastore.export`, `datastore.imports` and
`domain.importing` use it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import os
import re
import time
import warnings
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np
import pandas as pd

from domain.units import lookup_unit, to_si, units_of

# ---------------------------------------------------------------- the column map


@dataclass(frozen=True)
class Quantity:
    """A quantity the importer recognises, with the headers that name it.

    `headers[0]` is the BDF preferred label (what export writes). A column matches
    when its name, with any declared unit set aside, equals one of the headers'
    names, ignoring case and surrounding spaces.
    """

    key: str
    description: str
    headers: tuple[str, ...]
    si_unit: str | None  # None: ISO 8601 dates, which take no unit
    required: bool = False
    whole_numbers: bool = False

    @property
    def label(self) -> str:
        return self.headers[0]

    @property
    def names(self) -> frozenset[str]:
        return frozenset(split_header(header)[0].casefold() for header in self.headers)


TEST_TIME = Quantity("test_time", "test time", ("Test Time / s", "time", "time_s"), "s")
UNIX_TIME = Quantity("unix_time", "Unix time", ("Unix Time / s",), "s")
TIMESTAMP = Quantity("timestamp", "timestamp", ("timestamp",), None)
VOLTAGE = Quantity("voltage", "voltage", ("Voltage / V", "voltage"), "V", required=True)
CURRENT = Quantity("current", "current", ("Current / A", "current"), "A", required=True)
POWER = Quantity("power", "power", ("Power / W", "power"), "W")
STEP = Quantity(
    "instruction",
    "step",
    ("Step Count / 1", "instruction", "instr_id"),
    "1",
    whole_numbers=True,
)
CYCLE = Quantity("cycle", "cycle", ("Cycle Count / 1", "cycle"), "1", whole_numbers=True)

QUANTITIES: tuple[Quantity, ...] = (
    TEST_TIME,
    UNIX_TIME,
    TIMESTAMP,
    VOLTAGE,
    CURRENT,
    POWER,
    STEP,
    CYCLE,
)
REQUIRED_QUANTITIES: tuple[Quantity, ...] = tuple(q for q in QUANTITIES if q.required)
# When a file has several time columns, absolute time wins over elapsed time.
TIME_QUANTITIES: tuple[Quantity, ...] = (UNIX_TIME, TIMESTAMP, TEST_TIME)

# Export columns, in file order, before the extra channels.
EXPORT_QUANTITIES: tuple[Quantity, ...] = (
    TEST_TIME,
    UNIX_TIME,
    VOLTAGE,
    CURRENT,
    POWER,
    STEP,
    CYCLE,
)

# Limits of the datastore columns an import fills (datastore.models.Channel).
MAX_CHANNEL_NAME = 100
MAX_CHANNEL_UNIT = 20
# Measurement.instruction and .cycle are 32-bit integers.
MAX_WHOLE_NUMBER = 2**31 - 1

MAX_PROBLEMS = 20
# The latest time a sample may have: 9999-12-31T23:59:59Z, the end of the dates Python and
# the database hold. Earlier than 1970 (negative) is refused too: no cycler measured then.
LATEST_TS = 253_402_300_799.0

_UNIT_AFTER_SLASH = re.compile(r"^(?P<name>.*\S)\s+/\s*(?P<unit>.*)$")
_UNIT_IN_BRACKETS = re.compile(r"^(?P<name>.*?)\s*\[(?P<unit>[^\[\]]*)\]$")
_UNIT_AFTER_BARE_SLASH = re.compile(r"^(?P<name>[^/]*[^/\s])/(?P<unit>[^/\s]+)$")


# What makes a spreadsheet read a cell as a formula (the OWASP "CSV injection" list).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def _reads_as_formula(text: str) -> bool:
    """Whether a spreadsheet would run `text`, or `text` is a quoted cell whose quote
    `restore_cell` would take away (so quoting stays reversible)."""
    if text.startswith("'"):
        return _reads_as_formula(text[1:])
    return text.startswith(_FORMULA_STARTS) and not _NUMBER.match(text)


def formula_safe(text: str) -> str:
    """Text a spreadsheet shows as text: a cell starting with = + - @ (or a tab, a carriage
    return) that is not a number gets a single quote in front. `restore_cell` undoes it."""
    return "'" + text if _reads_as_formula(text) else text


def restore_cell(text: str) -> str:
    """The text `formula_safe` was given: the quote it added taken away, nothing else."""
    return text[1:] if text.startswith("'") and _reads_as_formula(text[1:]) else text


def split_header(header: str) -> tuple[str, str]:
    """(name, unit) of a column header: `Name / unit`, `Name [unit]`, or `Name` (unit "").

    The last ` / ` separates the unit, so `Flow / L/min` is ("Flow", "L/min").
    A slash without spaces (`time/s`) separates a unit only when the unit is known,
    so `Cell 1/2` stays one name.
    """
    header = header.strip()
    for pattern in (_UNIT_AFTER_SLASH, _UNIT_IN_BRACKETS):
        match = pattern.match(header)
        if match and match["name"].strip():
            return match["name"].strip(), match["unit"].strip()
    match = _UNIT_AFTER_BARE_SLASH.match(header)
    if match and lookup_unit(match["unit"]) is not None:
        return match["name"].strip(), match["unit"].strip()
    return header, ""


# Longest unit an extra channel can store (the datastore's column).
MAX_CHANNEL_UNIT_CHARS = 20
# Units assumed for extra channels named without one (cyclers often send bare names).
_UNIT_BY_NAME_START = (("temp", "°C"), ("cell_voltage", "V"), ("voltage", "V"), ("current", "A"))


def channel_identity(key: str) -> tuple[str, str]:
    """(name, unit) of an extra channel from a cycler's key.

    `Name / unit` and `Name [unit]` declare the unit, as in CSV headers; a bare name
    starting with "temp" is taken as °C, one starting with "voltage" or "cell_voltage"
    as V and one starting with "current" as A; anything else has no unit.
    """
    name, unit = split_header(key)
    if len(unit) > MAX_CHANNEL_UNIT_CHARS:
        return key.strip(), ""  # not a unit we can keep: the whole key names the channel
    if unit:
        return name, unit
    lowered = name.lower()
    for start, assumed in _UNIT_BY_NAME_START:
        if lowered.startswith(start):
            return name, assumed
    return name, ""


def extra_header(name: str, unit: str) -> str:
    """The export header of an extra channel: `Name / unit`, or `Name` when it has no unit."""
    if unit:
        return f"{name} / {unit}"
    # A bare name that would read back as name + unit gets an explicit empty unit.
    return name if split_header(name) == (name.strip(), "") else f"{name} /"


def _quantity_by_name() -> dict[str, Quantity]:
    by_name: dict[str, Quantity] = {}
    for quantity in QUANTITIES:
        for name in quantity.names:
            assert name not in by_name, f"header name {name!r} maps to two quantities"
            by_name[name] = quantity
    return by_name


_QUANTITY_BY_NAME = _quantity_by_name()


# ---------------------------------------------------------------- problems


@dataclass(frozen=True)
class CsvProblem:
    """One thing wrong with a file. `line` is 1-based (the header is line 1); `file` names
    the file of a ZIP archive the problem is in."""

    message: str
    line: int | None = None
    column: str | None = None
    file: str | None = None

    def __str__(self) -> str:
        where = []
        if self.file is not None:
            where.append(self.file)
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        return f"{', '.join(where)}: {self.message}" if where else self.message


class ImportFileError(ValueError):
    """The file cannot be imported. `problems` lists the first few (each names its row
    and column where it has them); `total` counts them all. str() is the message a
    user reads: one problem a line, never a traceback or SQL."""

    def __init__(self, problems: Sequence[CsvProblem], total: int | None = None) -> None:
        self.problems = list(problems)
        self.total = max(total or 0, len(self.problems))
        lines = [str(problem) for problem in self.problems]
        if self.total > len(self.problems):
            lines.append(f"... and {self.total - len(self.problems)} more")
        super().__init__("\n".join(lines))


# The name from when CSV was the only format: the same type.
CsvImportError = ImportFileError


class Problems:
    """Collects problems, keeping the first MAX_PROBLEMS and counting the rest.

    `file` names the file being read (a member of a ZIP archive) in what is added."""

    def __init__(self) -> None:
        self.kept: list[CsvProblem] = []
        self.total = 0
        self.file: str | None = None

    def add(self, message: str, line: int | None = None, column: str | None = None) -> None:
        self.total += 1
        if len(self.kept) < MAX_PROBLEMS:
            self.kept.append(CsvProblem(message, line, column, self.file))

    def add_cells(
        self,
        bad_rows: np.ndarray,
        lines: np.ndarray,
        column: str,
        describe: Callable[[int], str],
    ) -> None:
        """Report the cells at `bad_rows` (a mask or positions); `describe(position)` says why."""
        positions = np.flatnonzero(bad_rows) if bad_rows.dtype == bool else bad_rows
        room = max(MAX_PROBLEMS - len(self.kept), 0)
        for position in positions[:room]:
            self.kept.append(
                CsvProblem(describe(int(position)), int(lines[position]), column, self.file)
            )
        self.total += len(positions)

    def error(self) -> ImportFileError:
        # Checks run column by column and chunk by chunk; the reader wants the file's order.
        files = {name: rank for rank, name in enumerate(dict.fromkeys(p.file for p in self.kept))}
        in_file_order = sorted(self.kept, key=lambda p: (files[p.file], p.line or 0))
        return ImportFileError(in_file_order, self.total)

    def raise_if_any(self) -> None:
        if self.total:
            raise self.error()


# ---------------------------------------------------------------- the parsed result


# Samples as a pandas frame: an import holds millions; datastore.imports writes it by columns.
@dataclass
class ParsedExperiment:
    """A checked file, or a checked chunk of one, in SI units, ready to store.

    `samples` has the Measurement fields: `seq` 0, 1, 2... (a chunk continues the
    numbering of the chunks before it); `ts` Unix seconds (UTC, float64); `voltage`,
    `current`, `power` float64 (`power` is V·I where the file has none); `instruction`
    and `cycle` nullable Int64. `extras` maps (channel name, unit) to float64 values
    aligned with `samples`, NaN where the file had an empty cell.
    """

    samples: pd.DataFrame
    extras: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    skipped_columns: list[str] = field(default_factory=list)
    time_column: str = ""

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def first_ts(self) -> float:
        return float(self.samples["ts"].iloc[0])

    @property
    def last_ts(self) -> float:
        return float(self.samples["ts"].iloc[-1])


# ---------------------------------------------------------------- the columns of a file


@dataclass(frozen=True)
class _Column:
    position: int
    header: str  # what it is read as: the file's header, or the label the user chose
    name: str
    unit: str
    source: str  # the header in the file, which problems name


@dataclass(frozen=True)
class ColumnMap:
    """How a file's columns are read: the one giving each quantity, the extra channels,
    the columns without a header and those the user chose to ignore."""

    quantities: dict[str, _Column]
    extras: tuple[_Column, ...]
    unnamed: tuple[_Column, ...]
    ignored: tuple[str, ...]

    @property
    def time(self) -> Quantity:
        """The time column's quantity: absolute time wins over elapsed time."""
        return next(quantity for quantity in TIME_QUANTITIES if quantity.key in self.quantities)

    @property
    def text_positions(self) -> list[int]:
        """Columns read as text, not numbers (ISO 8601 dates)."""
        column = self.quantities.get(TIMESTAMP.key)
        return [] if column is None else [column.position]

    @property
    def skipped(self) -> list[str]:
        return [column.source or f"column {column.position + 1}" for column in self.unnamed]


def channel_unit(unit: str) -> str:
    """The unit an extra channel is stored in: SI for a known unit, else as written."""
    return to_si(0.0, unit)[1] if lookup_unit(unit) is not None else unit


def map_columns(
    sources: Sequence[str], labels: Sequence[str | None] | None, problems: Problems
) -> ColumnMap:
    """Sort a file's columns into known quantities, extra channels and unnamed columns.

    `labels` gives, per column, the header to read it as (the user's choice; None ignores
    it); without them each column is read as its header. Problems go to `problems`.
    """
    quantities: dict[str, _Column] = {}
    extras: list[_Column] = []
    unnamed: list[_Column] = []
    ignored: list[str] = []
    extra_names: dict[str, _Column] = {}
    named: set[str] = set()  # quantities with a column, even one refused for its unit
    chosen: Sequence[str | None] = sources if labels is None else labels
    for position, (raw_source, label) in enumerate(zip(sources, chosen, strict=True)):
        source = raw_source.strip()
        if label is None:
            ignored.append(source)
            continue
        header = label.strip()
        name, unit = split_header(header)
        column = _Column(position, header, name, unit, source)
        if not header:
            unnamed.append(column)
            continue
        quantity = _QUANTITY_BY_NAME.get(name.casefold())
        if quantity is None and not unit and "/" in header:
            # `Voltage/furlong`: a known name with an unknown unit is a unit error, not a channel.
            left, _, right = header.partition("/")
            quantity = _QUANTITY_BY_NAME.get(left.strip().casefold())
            if quantity is not None:
                name, unit = left.strip(), right.strip()
        if quantity is None:
            # Channel names are unique per experiment, and MariaDB compares them ignoring case.
            earlier = extra_names.get(name.casefold())
            if earlier is not None:
                problems.add(
                    f"columns {earlier.source!r} and {source!r} are both channel {name!r}", 1
                )
            elif len(name) > MAX_CHANNEL_NAME:
                problems.add(f"a channel name is at most {MAX_CHANNEL_NAME} characters", 1, source)
            elif len(unit) > MAX_CHANNEL_UNIT:
                problems.add(f"a unit is at most {MAX_CHANNEL_UNIT} characters", 1, source)
            else:
                extra_names[name.casefold()] = column
                extras.append(column)
            continue
        named.add(quantity.key)
        earlier = quantities.get(quantity.key)
        if earlier is not None:
            problems.add(
                f"columns {earlier.source!r} and {source!r} both give the {quantity.description}",
                1,
            )
            continue
        if unit and quantity.si_unit is None:
            problems.add(
                f"a {quantity.description} column holds ISO 8601 dates: no unit", 1, source
            )
            continue
        if unit and not _unit_fits(quantity, unit):
            expected = ", ".join(units_of(quantity.si_unit or ""))
            problems.add(
                f"unknown {quantity.description} unit {unit!r} (expected {expected})", 1, source
            )
            continue
        quantities[quantity.key] = column
    for quantity in REQUIRED_QUANTITIES:
        if quantity.key not in named:
            problems.add(
                f"missing a {quantity.description} column: expected one of "
                f"{', '.join(quantity.headers)}",
                1,
            )
    if not any(quantity.key in named for quantity in TIME_QUANTITIES):
        accepted = [header for quantity in TIME_QUANTITIES for header in quantity.headers]
        problems.add(f"missing a time column: expected one of {', '.join(accepted)}", 1)
    return ColumnMap(quantities, tuple(extras), tuple(unnamed), tuple(ignored))


def _unit_fits(quantity: Quantity, unit: str) -> bool:
    found = lookup_unit(unit)
    return found is not None and found.si_unit == quantity.si_unit


_QUANTITY_BY_KEY = {quantity.key: quantity for quantity in QUANTITIES}


# ---------------------------------------------------------------- reading a CSV file in chunks

# Opens a file to read from its start: a path, bytes in memory, a member of a ZIP archive.
Opener = Callable[[], AbstractContextManager[IO[bytes]]]

# Rows read, checked and stored at a time: memory follows this, not the file's length.
CHUNK_ROWS = 100_000
# Bytes after the header looked at to tell a decimal comma.
_SNIFF_BYTES = 20_000
_BYTE_ORDER_MARK = b"\xef\xbb\xbf"
_SKIPPED_LINE = re.compile(r"Skipping line (\d+): expected (\d+) fields, saw (\d+)")


class CsvFile:
    """A CSV file's header, separators and encoding, and its rows read in chunks.

    The header line and the start of the body decide the encoding, the delimiter and
    the decimal mark; `frames` then reads the rows with pandas' C parser a chunk at a
    time. A row with more cells than the header is reported and left out, and the
    reading goes on, so every such row is reported. Problems go to `problems` (an
    empty file adds one and leaves `headers` empty).
    """

    def __init__(self, open_file: Opener, problems: Problems) -> None:
        self._open = open_file
        self.problems = problems
        self.bytes_done = 0
        self.headers: list[str] = []
        with open_file() as file:
            header_bytes = file.readline()
            body = file.read(_SNIFF_BYTES)
        header_bytes = header_bytes.removeprefix(_BYTE_ORDER_MARK).rstrip(b"\r\n")
        if not header_bytes.strip() and not body.strip():
            problems.add("the file is empty")
            return
        if not body.strip() and len(body) < _SNIFF_BYTES:
            problems.add("the file has a header but no data rows", 1)
            return
        self.encoding = _guess_encoding(header_bytes)
        header_text = header_bytes.decode(self.encoding)
        self.delimiter = _detect_delimiter(header_text)
        # An exported header was made formula-safe (`export_headers`): read it as it was.
        headers = next(csv.reader([header_text], delimiter=self.delimiter), [])
        self.headers = [restore_cell(header) for header in headers]
        self.decimal = _detect_decimal(body, self.delimiter, self.encoding)

    def _reader(self, file: IO[bytes], rows: int, text: Collection[int]) -> Any:
        return pd.read_csv(
            file,
            sep=self.delimiter,
            header=None,
            skiprows=1,
            # One column more than the header: a row with one cell too many fills it (and
            # is reported); a row with more is left out by the parser with a warning.
            names=range(len(self.headers) + 1),
            index_col=False,  # else a first row with cells too many becomes the index
            dtype=dict.fromkeys(text, "str") or None,
            keep_default_na=False,
            na_values=[""],
            skip_blank_lines=False,
            skipinitialspace=True,
            decimal=self.decimal,
            encoding=self.encoding,
            encoding_errors="replace",
            engine="c",
            on_bad_lines="warn",
            chunksize=rows,
        )

    def frames(
        self, chunk_rows: int, text_positions: Collection[int] = ()
    ) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
        """The rows, `chunk_rows` at a time (columns by position), each chunk with the
        file line number of each row. `bytes_done` follows the position in the file."""
        width = len(self.headers)
        bad_lines: list[int] = []
        with self._open() as file:
            try:
                reader = self._reader(file, chunk_rows, text_positions)
            except pd.errors.EmptyDataError:
                return
            with reader:
                while True:
                    frame, first_row_cut = self._next_frame(reader, bad_lines)
                    self.bytes_done = file.tell()
                    if frame is None:
                        return
                    # The index counts rows read (blank ones too) but not the rows left out.
                    index = frame.index.to_numpy()
                    skipped = np.asarray(bad_lines, dtype=np.int64) - 2 - np.arange(len(bad_lines))
                    lines = index + 2 + np.searchsorted(skipped, index, side="right")
                    too_long = frame[width].notna().to_numpy()
                    for row in np.flatnonzero(too_long).tolist():
                        seen = "more" if first_row_cut and index[row] == 0 else str(width + 1)
                        self.problems.add(
                            f"{seen} cells, but the header has {width} columns", int(lines[row])
                        )
                    keep = ~too_long
                    yield frame.loc[keep, list(range(width))], lines[keep]

    def _next_frame(self, reader: Any, bad_lines: list[int]) -> tuple[pd.DataFrame | None, bool]:
        """The next chunk, and whether the parser cut the first row of the file short."""
        frame = None
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                frame = next(reader)
            except (StopIteration, pd.errors.EmptyDataError):
                pass
            except pd.errors.ParserError as error:
                # Past a row the parser cannot split (a quote never closed), nothing is certain.
                self.problems.add(f"the file is not valid CSV: {_parser_message(error)}")
        first_row_cut = False
        for warning in caught:
            message = str(warning.message)
            first_row_cut |= message.startswith("Length of header or names does not match")
            for match in _SKIPPED_LINE.finditer(message):
                line, _expected, seen = (int(number) for number in match.groups())
                bad_lines.append(line)
                self.problems.add(
                    f"{seen} cells, but the header has {len(self.headers)} columns", line
                )
        bad_lines.sort()
        return frame, first_row_cut


def _guess_encoding(header: bytes) -> str:
    # Excel on Windows writes cp1252 (`°C` as one byte); everything else writes UTF-8.
    try:
        header.decode("utf-8")
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8"


def _detect_delimiter(header: str) -> str:
    counts = {delimiter: header.count(delimiter) for delimiter in (",", ";", "\t")}
    best = max(counts, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","


_COMMA_DECIMAL = re.compile(r"^\s*[-+]?\d+,\d+(?:[eE][-+]?\d+)?\s*$")
_POINT_DECIMAL = re.compile(r"^\s*[-+]?\d*\.\d+(?:[eE][-+]?\d+)?\s*$")


def _detect_decimal(body: bytes, delimiter: str, encoding: str) -> str:
    """ "," when a semicolon- or tab-separated file writes numbers like 3,71 (European Excel)."""
    if delimiter == ",":
        return "."
    sample = body[:_SNIFF_BYTES].decode(encoding, errors="replace").splitlines()[:100]
    cells = [cell for line in sample for cell in line.split(delimiter)]
    comma = sum(1 for cell in cells if _COMMA_DECIMAL.match(cell))
    point = sum(1 for cell in cells if _POINT_DECIMAL.match(cell))
    return "," if comma and not point else "."


def _parser_message(error: Exception) -> str:
    return str(error).removeprefix("Error tokenizing data. C error: ").strip()


# ---------------------------------------------------------------- checking rows


class SampleChecker:
    """Checks rows chunk by chunk, in file order, and turns them into samples in SI units.

    Each chunk's samples are numbered on from the chunks before (`seq`). What a check
    needs of the rows before is kept here: the last time (time never goes back, across
    chunks and files too) and whether an extra column holds numbers or text (decided
    by the first chunk with a value in it). A file read in chunks thus gives the same
    samples and problems as one read whole. Problems go to `problems`; once there is
    one, what `check` returns must not be stored.

    Several files (the members of a ZIP archive) make one experiment: `begin_file`
    starts each. A later file's elapsed time is placed at the last sample's time so
    far and its cycle numbers continue after the highest so far.
    """

    def __init__(self, problems: Problems, start_time: float | dt.datetime | None) -> None:
        self.problems = problems
        self._start_time = start_time
        self.rows = 0
        self.time_column = ""
        self.text_columns: list[str] = []  # extra columns skipped as text, in file order
        self.text_channels: set[tuple[str, str]] = set()
        self.max_cycle = 0
        self._files = 0
        self._columns: ColumnMap | None = None
        self._start = 0.0
        self._cycle_offset = 0
        self._last_ts = math.nan
        self._last_line = 0
        self._kinds: dict[int, str] = {}  # extra column position -> "numbers" or "text"
        self._channel_units: dict[str, tuple[str, str]] = {}  # folded name -> (name, unit)

    def begin_file(self, columns: ColumnMap) -> None:
        """Check the rows of a (next) file read with `columns` from now on."""
        if self._files == 0:
            self._start = _start_seconds(self._start_time)
        else:
            self._start = self._last_ts if math.isfinite(self._last_ts) else self._start
            self._cycle_offset = self.max_cycle
            self._last_line = 0  # the previous file's line numbers mean nothing here
        self._files += 1
        self._columns = columns
        self._kinds = {}
        self.time_column = self.time_column or columns.quantities[columns.time.key].source
        for column in columns.extras:
            identity = (column.name, channel_unit(column.unit))
            earlier = self._channel_units.setdefault(column.name.casefold(), identity)
            if earlier != identity:
                self.problems.add(
                    f"channel {column.name!r} is in {identity[1]!r} here but in "
                    f"{earlier[1]!r} in an earlier file",
                    1,
                    column.source,
                )

    def check(self, frame: pd.DataFrame, lines: np.ndarray) -> ParsedExperiment | None:
        """The chunk's samples (columns of `frame` by position; `lines` their file line
        numbers), or None when it holds only blank rows."""
        columns = self._columns
        assert columns is not None, "begin_file first"
        problems = self.problems
        # Blank lines (and rows of empty cells) carry nothing; `lines` keeps their numbers.
        blank_rows = frame.isna().all(axis=1).to_numpy()
        if blank_rows.any():
            frame, lines = frame[~blank_rows], lines[~blank_rows]
        if frame.empty:
            return None

        # Values in SI, NaN where a cell is empty or unusable (unusable cells are reported).
        values: dict[str, np.ndarray] = {}
        blank: dict[str, np.ndarray] = {}
        for key, column in columns.quantities.items():
            if key == TIMESTAMP.key:
                continue
            quantity = _QUANTITY_BY_KEY[key]
            numbers, blank[key] = _numbers(frame[column.position], lines, column.source, problems)
            if quantity.whole_numbers:
                _check_whole_numbers(numbers, lines, column.source, problems)
            values[key], _ = to_si(numbers, column.unit or quantity.si_unit or "")

        ts = self._times(frame, values, blank, lines)
        for quantity in REQUIRED_QUANTITIES:
            required = f"empty cell (a {quantity.description} is required)"

            def describe(_row: int, message: str = required) -> str:
                return message

            column = columns.quantities[quantity.key]
            problems.add_cells(blank[quantity.key], lines, column.source, describe)
        extras = self._extras(frame, lines)

        count = len(frame)
        voltage, current = values[VOLTAGE.key], values[CURRENT.key]
        power = voltage * current
        if POWER.key in values:
            power = np.where(np.isnan(values[POWER.key]), power, values[POWER.key])
        cycles = values.get(CYCLE.key)
        if cycles is not None:
            cycles = cycles + self._cycle_offset
            if not np.isnan(cycles).all():
                self.max_cycle = max(self.max_cycle, int(np.nanmax(cycles)))
        samples = pd.DataFrame(
            {
                "seq": np.arange(self.rows, self.rows + count, dtype=np.int64),
                "ts": ts,
                "voltage": voltage,
                "current": current,
                "power": power,
                "instruction": _whole_numbers_or_na(values.get(STEP.key), count),
                "cycle": _whole_numbers_or_na(cycles, count),
            }
        )
        self.rows += count
        return ParsedExperiment(samples, extras, [], self.time_column)

    def _times(
        self,
        frame: pd.DataFrame,
        values: dict[str, np.ndarray],
        blank: dict[str, np.ndarray],
        lines: np.ndarray,
    ) -> np.ndarray:
        """Unix seconds of each row from the best time column, checked to never go back."""
        columns = self._columns
        assert columns is not None
        problems = self.problems
        source = columns.time
        column = columns.quantities[source.key]
        if source is TIMESTAMP:
            ts = _iso_timestamps(frame[column.position], lines, column.source, problems)
        else:
            ts = values[source.key]
            problems.add_cells(
                blank[source.key],
                lines,
                column.source,
                lambda _row: "empty cell (every sample needs a time)",
            )
            if source is TEST_TIME:
                ts = ts + self._start
        # A time no date can hold would fail when the experiment is stored, and on its pages.
        with np.errstate(invalid="ignore"):
            outside = ~np.isnan(ts) & ~((ts >= 0) & (ts <= LATEST_TS))
        start_ = self._start

        def out_of_range(row: int) -> str:
            if source is TEST_TIME:
                shown = f"{_show(ts[row] - start_)} s after the start"
            elif source is TIMESTAMP:
                shown = _show_time(ts[row], source, start_)
            else:
                shown = f"{_show(ts[row])} s"
            unit = " (Unix seconds)" if source is UNIX_TIME else ""
            return f"{shown} is not a time from 1970 to the end of 9999{unit}"

        problems.add_cells(outside, lines, column.source, out_of_range)
        if source is UNIX_TIME and TIMESTAMP.key in columns.quantities:
            # An unused timestamp column is still checked: a bad date hints at a damaged file.
            other = columns.quantities[TIMESTAMP.key]
            _iso_timestamps(frame[other.position], lines, other.source, problems)
        # Each row against the one before it; the first against the last of the chunk before.
        before = np.r_[self._last_ts, ts[:-1]]
        before_lines = np.r_[self._last_line, lines[:-1]]
        with np.errstate(invalid="ignore"):
            # NaN (an already reported cell) compares false, so it never counts as going back.
            backwards = np.flatnonzero(ts < before)
        start = self._start

        def describe(row: int) -> str:
            where = f" on line {before_lines[row]}" if before_lines[row] else " in an earlier file"
            return (
                f"time goes backwards ({_show_time(ts[row], source, start)} "
                f"after {_show_time(before[row], source, start)}{where})"
            )

        problems.add_cells(backwards, lines, column.source, describe)
        self._last_ts, self._last_line = float(ts[-1]), int(lines[-1])
        return ts

    def _extras(self, frame: pd.DataFrame, lines: np.ndarray) -> dict[tuple[str, str], np.ndarray]:
        columns = self._columns
        assert columns is not None
        found: dict[tuple[str, str], np.ndarray] = {}
        for column in columns.extras:
            kind = self._kinds.get(column.position)
            if kind == "text":
                continue
            series = frame[column.position]
            if kind is None and series.notna().any():
                if not pd.api.types.is_numeric_dtype(series) and _is_all_text(series):
                    # A text column (a comment, a step name): not data.
                    self._kinds[column.position] = "text"
                    self.text_columns.append(column.source)
                    self.text_channels.add((column.name, channel_unit(column.unit)))
                    continue
                self._kinds[column.position] = "numbers"
            numbers, _ = _numbers(series, lines, column.source, self.problems)
            unit = column.unit
            if lookup_unit(unit) is not None:
                numbers, unit = to_si(numbers, unit)
            # An unknown unit (%, bar, L/min) is kept as written, values unscaled.
            found[(column.name, unit)] = numbers
        return found

    def finish(self) -> None:
        """After the last chunk: a file without a single data row is a problem too."""
        if self.rows == 0 and not self.problems.total:
            self.problems.add("the file has a header but no data rows", 1)


def join_chunks(chunks: Sequence[ParsedExperiment], checker: SampleChecker) -> ParsedExperiment:
    """One ParsedExperiment of checked chunks (a whole file in memory)."""
    keys = [
        key
        for key in dict.fromkeys(key for chunk in chunks for key in chunk.extras)
        if key not in checker.text_channels
    ]
    extras = {
        key: np.concatenate(
            [chunk.extras.get(key, np.full(len(chunk), np.nan)) for chunk in chunks]
        )
        for key in keys
    }
    samples = pd.concat([chunk.samples for chunk in chunks], ignore_index=True)
    return ParsedExperiment(samples, extras, [], checker.time_column)


# ---------------------------------------------------------------- import of a whole file


def parse_csv(
    source: str | os.PathLike[str] | bytes | IO[bytes] | IO[str],
    *,
    start_time: float | dt.datetime | None = None,
) -> ParsedExperiment:
    """Read and check a whole CSV file into memory; raise CsvImportError listing what is
    wrong. (`datastore.imports.import_file` reads, checks and stores in chunks instead.)

    `source` is a path, the file's bytes, or an open file. When the file has only
    elapsed time, samples are placed at `start_time` (Unix seconds or an aware
    datetime; default: now) plus the elapsed time.
    """
    open_file = _opener(source)
    problems = Problems()
    csv_file = CsvFile(open_file, problems)
    problems.raise_if_any()
    columns = map_columns(csv_file.headers, None, problems)
    problems.raise_if_any()
    checker = SampleChecker(problems, start_time)
    checker.begin_file(columns)
    chunks = []
    for frame, lines in csv_file.frames(CHUNK_ROWS, columns.text_positions):
        chunk = checker.check(frame, lines)
        if chunk is not None:
            chunks.append(chunk)
    checker.finish()
    problems.raise_if_any()
    parsed = join_chunks(chunks, checker)
    parsed.skipped_columns = columns.skipped + checker.text_columns
    return parsed


def _opener(
    source: str | os.PathLike[str] | bytes | IO[bytes] | IO[str],
) -> Opener:
    if isinstance(source, (str, os.PathLike)):
        path = source
        return lambda: open(path, "rb")  # noqa: SIM115 (the caller closes it)
    if isinstance(source, bytes):
        content = source
    else:
        read = source.read()
        content = read.encode("utf-8") if isinstance(read, str) else read
    return lambda: io.BytesIO(content)


_NOT_A_NUMBER_WORDS = frozenset({"nan", "+nan", "-nan"})


def _numbers(
    series: pd.Series, lines: np.ndarray, column: str, problems: Problems
) -> tuple[np.ndarray, np.ndarray]:
    """The column as float64 (NaN where unusable) and the mask of its empty cells.

    Text and infinite cells are reported; empty cells are left to the caller, which
    knows whether the column is required.
    """
    blank = series.isna().to_numpy()
    if pd.api.types.is_numeric_dtype(series):
        numbers = series.to_numpy(dtype=np.float64, copy=True)
    else:
        numbers = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, copy=True)
        not_numbers = np.isnan(numbers) & ~blank
        if not_numbers.any():
            cell_text = series.to_numpy(dtype=object)

            def describe(row: int) -> str:
                text = str(cell_text[row]).strip()
                shown = text if len(text) <= 30 else text[:27] + "..."
                if text.casefold() in _NOT_A_NUMBER_WORDS:
                    return f"{shown!r} is not a finite number"
                return f"{shown!r} is not a number"

            problems.add_cells(not_numbers, lines, column, describe)
    infinite = np.isinf(numbers)
    if infinite.any():
        problems.add_cells(
            infinite, lines, column, lambda row: f"{_show(numbers[row])} is not a finite number"
        )
        numbers[infinite] = np.nan
    return numbers, blank


def _check_whole_numbers(
    numbers: np.ndarray, lines: np.ndarray, column: str, problems: Problems
) -> None:
    with np.errstate(invalid="ignore"):
        bad = (numbers != np.round(numbers)) | (np.abs(numbers) > MAX_WHOLE_NUMBER)
    bad &= ~np.isnan(numbers)
    problems.add_cells(
        bad, lines, column, lambda row: f"{_show(numbers[row])} is not a whole number (a count)"
    )


def _whole_numbers_or_na(
    numbers: np.ndarray | None, length: int
) -> pd.api.extensions.ExtensionArray:
    """Nullable Int64 values, NA where the file had no number (or no such column)."""
    if numbers is None:
        return pd.arrays.IntegerArray(np.zeros(length, np.int64), np.ones(length, dtype=bool))
    missing = np.isnan(numbers)
    # A value refused as too large is reported already; it must not overflow here.
    safe = np.where(missing | (np.abs(numbers) > MAX_WHOLE_NUMBER), 0.0, numbers)
    return pd.arrays.IntegerArray(safe.astype(np.int64), missing)


def _is_all_text(series: pd.Series) -> bool:
    filled = series.dropna()
    return bool(len(filled)) and bool(pd.to_numeric(filled, errors="coerce").isna().all())


def _iso_timestamps(
    series: pd.Series, lines: np.ndarray, column: str, problems: Problems
) -> np.ndarray:
    """ISO 8601 dates as Unix seconds (NaN where unusable); a date without a zone is UTC."""
    empty = series.isna().to_numpy()
    problems.add_cells(empty, lines, column, lambda _row: "empty cell (every sample needs a time)")
    parsed = pd.to_datetime(series.str.strip(), utc=True, format="ISO8601", errors="coerce")
    unparsable = parsed.isna().to_numpy() & ~empty
    cell_text = series.to_numpy(dtype=object)
    problems.add_cells(
        unparsable,
        lines,
        column,
        lambda row: f"{str(cell_text[row]).strip()[:40]!r} is not an ISO 8601 date and time",
    )
    nanoseconds = parsed.dt.as_unit("ns").to_numpy(dtype="datetime64[ns]").astype(np.int64)
    if (nanoseconds % 1000 == 0).all():
        # Microseconds stay below 2**53, so one division gives the nearest double.
        seconds = (nanoseconds // 1000).astype(np.float64) / 1e6
    else:
        seconds = (nanoseconds // 10**9).astype(np.float64) + (nanoseconds % 10**9) / 1e9
    seconds[parsed.isna().to_numpy()] = np.nan
    return seconds


def _show(number: float) -> str:
    return repr(float(number))


def _show_time(value: float, source: Quantity, start: float) -> str:
    if source is TEST_TIME:
        return f"{_show(value - start)} s"
    try:
        return dt.datetime.fromtimestamp(value, dt.UTC).isoformat()
    except (OverflowError, OSError, ValueError):  # refused already: no date holds it
        return f"{_show(value)} s"


def _start_seconds(start_time: float | dt.datetime | None) -> float:
    if start_time is None:
        return time.time()
    if isinstance(start_time, dt.datetime):
        if start_time.tzinfo is None:
            raise ValueError("start_time must be timezone-aware (or Unix seconds)")
        return start_time.timestamp()
    return float(start_time)


# ---------------------------------------------------------------- export

Cell = float | int | None


def export_headers(extras: Iterable[tuple[str, str]] = ()) -> list[str]:
    """The export's column headers: the BDF labels, then `Name / unit` for each extra
    channel (channel names come from cyclers and files: made formula-safe)."""
    return [quantity.label for quantity in EXPORT_QUANTITIES] + [
        formula_safe(extra_header(name, unit)) for name, unit in extras
    ]


def write_csv_header(extras: Iterable[tuple[str, str]] = ()) -> str:
    """The header line (with its newline) for an export with these (name, unit) extra channels."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(export_headers(extras))
    return buffer.getvalue()


def format_csv_rows(rows: Sequence[Sequence[Cell]], *, first_ts: float) -> str:
    """CSV lines (each ending in a newline) for export rows.

    Each row is (ts, voltage, current, power, instruction, cycle, *extra values), as the
    datastore holds them (Python floats and ints); None becomes an empty cell.
    `Test Time / s` is ts - first_ts. Floats are written with repr, the shortest text
    that reads back as the same double.
    """
    if not rows:
        return ""
    first_ts = float(first_ts)  # a numpy scalar would print as np.float64(...)
    columns = list(zip(*rows, strict=True))
    # Column by column, not row by row: a list comprehension per column is much faster.
    cells = [
        [repr(value - first_ts) for value in columns[0]],
        [repr(value) for value in columns[0]],
    ]
    cells += [["" if value is None else repr(value) for value in column] for column in columns[1:]]
    return "\n".join(map(",".join, zip(*cells, strict=True))) + "\n"


def export_rows(parsed: ParsedExperiment) -> list[tuple[Cell, ...]]:
    """The rows `format_csv_rows` takes, from a parsed file (NaN and NA become None)."""
    samples = parsed.samples
    columns: list[list[Cell]] = [
        samples[name].tolist() for name in ("ts", "voltage", "current", "power")
    ]
    for name in ("instruction", "cycle"):
        columns.append([None if value is pd.NA else int(value) for value in samples[name]])
    for values in parsed.extras.values():
        columns.append([None if math.isnan(value) else value for value in values.tolist()])
    return list(zip(*columns, strict=True))


# ---------------------------------------------------------------- the cycle table

# (header, attribute of a cycle row) in file order: BDF-style labels, SI units.
CYCLE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("Cycle Count / 1", "cycle"),
    ("Charge Capacity / Ah", "charge_ah"),
    ("Discharge Capacity / Ah", "discharge_ah"),
    ("Charge Energy / Wh", "charge_wh"),
    ("Discharge Energy / Wh", "discharge_wh"),
    ("Coulombic Efficiency / 1", "coulombic_efficiency"),
    ("Energy Efficiency / 1", "energy_efficiency"),
    ("Mean Charge Voltage / V", "mean_charge_voltage"),
    ("Mean Discharge Voltage / V", "mean_discharge_voltage"),
    ("Duration / s", "duration_s"),
)


def format_cycle_csv(cycles: Iterable[object]) -> str:
    """The cycle table as CSV: a header, then one line per cycle (empty where undefined,
    e.g. the efficiency of a cycle without a charge)."""
    lines = [",".join(header for header, _name in CYCLE_COLUMNS)]
    for cycle in cycles:
        values = (getattr(cycle, name) for _header, name in CYCLE_COLUMNS)
        lines.append(",".join("" if value is None else repr(value) for value in values))
    return "\n".join(lines) + "\n"
