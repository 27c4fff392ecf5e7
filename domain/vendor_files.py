"""Readers for the import formats other than CSV: BDF parquet, Neware .nda/.ndax, BioLogic .mpr.

Each reader turns a file into a `TableSource`: the columns in the CSV importer's
vocabulary (`domain.csvformat`: BDF labels such as `Voltage / V` for the known
quantities, `Name / unit` for every other channel), values already in SI units
(docs/formats.md), current positive while charging. The import engine then checks and
stores every format the same way, chunk by chunk.

A file that cannot be read raises `CsvImportError` with one sentence naming the file
and what is wrong, never a library's traceback.

Pure logic: no SQL, no Dash.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import warnings
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from domain.csvformat import (
    CURRENT,
    CYCLE,
    MAX_CHANNEL_NAME,
    MAX_CHANNEL_UNIT,
    POWER,
    QUANTITIES,
    STEP,
    TEST_TIME,
    TIMESTAMP,
    UNIX_TIME,
    VOLTAGE,
    CsvImportError,
    CsvProblem,
    Quantity,
    extra_header,
    split_header,
)
from domain.units import lookup_unit, to_si, units_of

VENDOR_FORMATS: tuple[str, ...] = ("parquet", "neware", "biologic")

DEFAULT_CHUNK_ROWS = 100_000

PathLike = str | os.PathLike[str]
_Reader = Callable[[int], Iterator[pd.DataFrame]]


@dataclass(frozen=True)
class TableSource:
    """A file opened for import: its columns, what the user should know, and its rows.

    `headers` name the columns as the CSV importer does; `source_headers` name the same
    columns as the file does (for the preview), position by position. Every chunk that
    `frames` yields has exactly the columns `headers`, as float64 in SI units (NaN where
    the file has no value), time as `Test Time / s` (elapsed) and/or `Unix Time / s`
    (UTC) where the file has absolute time.
    """

    format: str
    headers: tuple[str, ...]
    source_headers: tuple[str, ...]
    notes: tuple[str, ...]
    row_count: int | None
    _reader: _Reader = field(repr=False, compare=False)

    def frames(self, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> Iterator[pd.DataFrame]:
        """Successive chunks of at most `chunk_rows` rows, in file order."""
        if chunk_rows < 1:
            raise ValueError("chunk_rows must be at least 1")
        return self._reader(chunk_rows)


def open_table(path: PathLike, format: str) -> TableSource:
    """Open `path` as `format` ("parquet", "neware" or "biologic")."""
    openers: dict[str, Callable[[PathLike], TableSource]] = {
        "parquet": open_parquet,
        "neware": open_neware,
        "biologic": open_biologic,
    }
    if format not in openers:
        raise ValueError(
            f"no vendor reader for format {format!r}: expected one of {VENDOR_FORMATS}"
        )
    return openers[format](path)


# ---------------------------------------------------------------- shared pieces


def _file_error(path: PathLike, message: str) -> CsvImportError:
    return CsvImportError([CsvProblem(f"{Path(path).name}: {message}")])


def _check_readable(path: PathLike) -> None:
    if not os.path.isfile(path):
        raise _file_error(path, "no such file")
    if os.path.getsize(path) == 0:
        raise _file_error(path, "the file is empty")


def _head(path: PathLike, size: int) -> bytes:
    with open(path, "rb") as file:
        return file.read(size)


_QUANTITY_BY_NAME: dict[str, Quantity] = {
    name: quantity for quantity in QUANTITIES for name in quantity.names
}


class _Channels:
    """Builds the column list of a vendor file: known quantities once each, extras with
    names unique ignoring case (as the datastore compares them) and never a quantity's."""

    def __init__(self) -> None:
        self.headers: list[str] = []
        self.sources: list[str] = []
        self.values: list[np.ndarray] = []
        self._taken: set[str] = set()

    def quantity(self, quantity: Quantity, source: str, values: np.ndarray) -> None:
        self.headers.append(quantity.label)
        self.sources.append(source)
        self.values.append(np.asarray(values, dtype=np.float64))

    def extra(self, name: str, unit: str, source: str, values: np.ndarray) -> None:
        numbers = np.asarray(values, dtype=np.float64)
        if lookup_unit(unit) is not None:
            numbers, unit = to_si(numbers, unit)
        name = _unique_name(name[:MAX_CHANNEL_NAME].strip() or "channel", self._taken)
        self._taken.add(name.casefold())
        self.headers.append(extra_header(name, unit if len(unit) <= MAX_CHANNEL_UNIT else ""))
        self.sources.append(source)
        self.values.append(numbers)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(dict(zip(self.headers, self.values, strict=True)), copy=False)


def _unique_name(name: str, taken: set[str]) -> str:
    candidate = name
    if candidate.casefold() in _QUANTITY_BY_NAME:
        candidate = f"{name} (file)"
    number = 2
    while candidate.casefold() in taken:
        candidate = f"{name} {number}"
        number += 1
    return candidate


def _in_memory(format: str, channels: _Channels, notes: Sequence[str]) -> TableSource:
    """A TableSource over a frame read whole (the vendor packages read whole files)."""
    frame = channels.frame()

    def chunks(chunk_rows: int) -> Iterator[pd.DataFrame]:
        for start in range(0, len(frame), chunk_rows):
            yield frame.iloc[start : start + chunk_rows].reset_index(drop=True)

    return TableSource(
        format=format,
        headers=tuple(channels.headers),
        source_headers=tuple(channels.sources),
        notes=tuple(notes),
        row_count=len(frame),
        _reader=chunks,
    )


def _count_changes(values: np.ndarray) -> np.ndarray:
    """1, 1, 2, 2, 3...: a running count of the changes of `values` (a step counter)."""
    if len(values) == 0:
        return np.zeros(0)
    changed = np.concatenate(([True], values[1:] != values[:-1]))
    return np.cumsum(changed).astype(np.float64)


def _show_utc(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _clock_notes(unix: np.ndarray, test_time: np.ndarray) -> list[str]:
    """What the user should know of a file's clock before importing on it: that it goes
    backwards (the import refuses that) or counts whole seconds between closer samples."""
    notes = []
    with np.errstate(invalid="ignore"):
        back = np.flatnonzero(np.diff(unix) < 0)
        closer = (np.diff(test_time) % 1.0 > 1e-3).any()
    if len(back):
        row = int(back[0]) + 1
        notes.append(
            f"The file's clock goes back {unix[row - 1] - unix[row]:.3f} s at row {row + 1} "
            f"({_show_utc(unix[row])} UTC): ignore 'Unix Time / s' to import on the test time."
        )
    finite = unix[np.isfinite(unix)]
    if closer and len(finite) and (finite == np.round(finite)).all():
        notes.append(
            "The file's clock counts whole seconds only: ignore 'Unix Time / s' to keep "
            "the test time's finer steps."
        )
    return notes


# ---------------------------------------------------------------- BDF parquet

# BDF machine-readable names of the quantities the importer knows.
_MACHINE_NAMES: dict[str, tuple[Quantity, str]] = {
    "test_time_second": (TEST_TIME, "s"),
    "unix_time_second": (UNIX_TIME, "s"),
    "voltage_volt": (VOLTAGE, "V"),
    "current_ampere": (CURRENT, "A"),
    "power_watt": (POWER, "W"),
    "step_count": (STEP, "1"),
    "cycle_count": (CYCLE, "1"),
}


@dataclass(frozen=True)
class _ParquetColumn:
    source: str
    header: str
    convert: Callable[[pa.Array | pa.ChunkedArray], np.ndarray]


def open_parquet(path: PathLike) -> TableSource:
    """A BDF parquet file: columns named by BDF labels (or the CSV importer's aliases and
    units, or BDF machine-readable names), read by record batches so that memory stays
    bounded by the chunk size."""
    _check_readable(path)
    if _head(path, 4) != b"PAR1":
        raise _file_error(path, "not a parquet file (no 'PAR1' marker at its start)")
    parquet = _parquet_file(path)
    schema = parquet.schema_arrow
    names = list(schema.names)
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise _file_error(path, f"the column {duplicated[0]!r} appears twice")

    plan: list[_ParquetColumn] = []
    notes: list[str] = []
    problems: list[CsvProblem] = []
    by_quantity: dict[str, str] = {}
    taken: set[str] = set()
    timestamp_column: pa.Field | None = None
    for arrow_field in schema:
        source = arrow_field.name
        kind = arrow_field.type
        quantity, unit = _parquet_quantity(source)
        if quantity is not None:
            earlier = by_quantity.get(quantity.key)
            if earlier is not None:
                problems.append(
                    CsvProblem(
                        f"columns {earlier!r} and {source!r} both give the {quantity.description}"
                    )
                )
                continue
            by_quantity[quantity.key] = source
            if quantity is TIMESTAMP:
                timestamp_column = arrow_field
                continue
            if pa.types.is_timestamp(kind) and quantity is UNIX_TIME:
                plan.append(_ParquetColumn(source, UNIX_TIME.label, _arrow_seconds))
                continue
            if not _is_numeric(kind):
                problems.append(
                    CsvProblem(f"column {source!r}: the {quantity.description} is not numeric")
                )
                continue
            if unit and _si_unit_of(unit) != quantity.si_unit:
                expected = ", ".join(units_of(quantity.si_unit or ""))
                problems.append(
                    CsvProblem(
                        f"column {source!r}: unknown {quantity.description} unit {unit!r} "
                        f"(expected {expected})"
                    )
                )
                continue
            plan.append(_ParquetColumn(source, quantity.label, _arrow_numbers(unit)))
            continue
        if pa.types.is_timestamp(kind) or not _is_numeric(kind):
            notes.append(f"Column {source!r} holds {_kind_words(kind)}: left out.")
            continue
        name, unit = split_header(source)
        si_unit = _si_unit_of(unit)
        if si_unit is not None:
            scaled_unit, convert = si_unit, _arrow_numbers(unit)
        else:
            scaled_unit, convert = unit, _arrow_numbers("")
        name = _unique_name(name[:MAX_CHANNEL_NAME].strip() or "channel", taken)
        taken.add(name.casefold())
        header = extra_header(name, scaled_unit if len(scaled_unit) <= MAX_CHANNEL_UNIT else "")
        plan.append(_ParquetColumn(source, header, convert))
    if problems:
        raise CsvImportError([_in_file(path, problem) for problem in problems])

    if timestamp_column is not None:
        if UNIX_TIME.key in by_quantity:
            notes.append(
                f"Column {timestamp_column.name!r} left out: 'Unix Time / s' gives the time."
            )
        else:
            convert = (
                _arrow_seconds
                if pa.types.is_timestamp(timestamp_column.type)
                else _arrow_iso_seconds
            )
            plan.append(_ParquetColumn(timestamp_column.name, UNIX_TIME.label, convert))
            if not (pa.types.is_timestamp(timestamp_column.type) and timestamp_column.type.tz):
                notes.append(
                    f"Column {timestamp_column.name!r} gives times without a time zone: "
                    "taken as UTC."
                )

    def chunks(chunk_rows: int) -> Iterator[pd.DataFrame]:
        reader = _parquet_file(path)
        columns = [column.source for column in plan]
        try:
            for batch in reader.iter_batches(batch_size=chunk_rows, columns=columns):
                yield pd.DataFrame(
                    {
                        column.header: column.convert(batch.column(position))
                        for position, column in enumerate(plan)
                    },
                    copy=False,
                )
        except (pa.ArrowException, OSError) as error:
            raise _file_error(path, "the file is truncated or damaged") from error
        finally:
            reader.close()

    row_count = parquet.metadata.num_rows
    parquet.close()
    return TableSource(
        format="parquet",
        headers=tuple(column.header for column in plan),
        source_headers=tuple(column.source for column in plan),
        notes=tuple(notes),
        row_count=row_count,
        _reader=chunks,
    )


def _in_file(path: PathLike, problem: CsvProblem) -> CsvProblem:
    return CsvProblem(f"{Path(path).name}: {problem.message}", problem.line, problem.column)


def _si_unit_of(unit: str) -> str | None:
    found = lookup_unit(unit)
    return None if found is None else found.si_unit


def _parquet_file(path: PathLike) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as error:
        raise _file_error(path, "the parquet file is truncated or damaged") from error


def _parquet_quantity(source: str) -> tuple[Quantity | None, str]:
    machine = _MACHINE_NAMES.get(source.strip().casefold())
    if machine is not None:
        return machine
    name, unit = split_header(source)
    quantity = _QUANTITY_BY_NAME.get(name.casefold())
    if quantity is None and not unit and "/" in source:
        # `Voltage/furlong`: a known name with an unknown unit is a unit error, not a channel.
        left, _, right = source.partition("/")
        quantity = _QUANTITY_BY_NAME.get(left.strip().casefold())
        if quantity is not None:
            unit = right.strip()
    return quantity, unit


def _is_numeric(kind: pa.DataType) -> bool:
    return bool(
        pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)
    )


def _kind_words(kind: pa.DataType) -> str:
    if pa.types.is_timestamp(kind):
        return "dates and times that are not the sample time"
    if pa.types.is_dictionary(kind):
        kind = kind.value_type  # pandas' categories
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return "text"
    return f"values of type {kind}"


def _arrow_numbers(unit: str) -> Callable[[pa.Array | pa.ChunkedArray], np.ndarray]:
    def convert(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
        numbers = pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False)
        numbers = np.array(numbers, dtype=np.float64)
        return to_si(numbers, unit)[0] if unit else numbers

    return convert


_TIME_UNIT_SECONDS = {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}


def _arrow_seconds(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Unix seconds of a parquet timestamp column (one without a zone is taken as UTC)."""
    per_second = _TIME_UNIT_SECONDS[values.type.unit]
    raw = pc.cast(values, pa.int64()).to_numpy(zero_copy_only=False)
    return np.array(raw, dtype=np.float64) / per_second


def _arrow_iso_seconds(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Unix seconds of ISO 8601 text (without a zone: UTC); NaN where not a date."""
    text = pd.Series(values.to_pylist(), dtype="object").astype("string").str.strip()
    parsed = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
    nanoseconds = parsed.dt.as_unit("ns").to_numpy(dtype="datetime64[ns]").astype(np.int64)
    seconds = nanoseconds.astype(np.float64) / 1e9
    seconds[parsed.isna().to_numpy()] = np.nan
    return seconds


# ---------------------------------------------------------------- Neware .nda / .ndax

_NEWARE_EXTRAS: dict[str, tuple[str, str]] = {
    "Step_Index": ("Step Index", "1"),
    "Charge_Capacity(mAh)": ("Charge Capacity", "mAh"),
    "Discharge_Capacity(mAh)": ("Discharge Capacity", "mAh"),
    "Charge_Energy(mWh)": ("Charge Energy", "mWh"),
    "Discharge_Energy(mWh)": ("Discharge Energy", "mWh"),
}
# Auxiliary channels: NewareNDA names them by kind and number (T1, V2...).
_NEWARE_AUX: dict[str, tuple[str, str]] = {"T": ("Temperature", "°C"), "V": ("Aux Voltage", "V")}
# Columns that are not channels: the record number and the step's kind as text.
_NEWARE_SKIPPED = frozenset({"Index", "Status"})


def open_neware(path: PathLike) -> TableSource:
    """A Neware .nda (binary) or .ndax (zip archive) file, read with NewareNDA.

    Neware records current positive while charging and negative while discharging
    (NewareNDA keeps the sign: its discharge steps carry negative currents), as this
    application does. Its `Time` restarts at each step in most file versions; the
    test time adds the steps up.
    """
    _check_readable(path)
    head = _head(path, 8)
    if head.startswith(b"NEWARE"):
        frame = _read_neware(path, ndax=False)
    elif head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as archive:
                members = archive.namelist()
        except (zipfile.BadZipFile, OSError) as error:
            raise _file_error(path, "the .ndax archive is truncated or damaged") from error
        if "data.ndc" not in members:
            raise _file_error(path, "not a Neware .ndax file (no 'data.ndc' in the archive)")
        frame = _read_neware(path, ndax=True)
    else:
        raise _file_error(path, "not a Neware .nda or .ndax file (no 'NEWARE' header, not a zip)")
    if frame.empty:
        raise _file_error(path, "the file holds no data records")

    channels = _Channels()
    notes: list[str] = []
    time_values = frame["Time"].to_numpy(dtype=np.float64)
    step = frame["Step"].to_numpy(dtype=np.float64)
    test_time, step_time = _neware_test_time(time_values, step)
    channels.quantity(TEST_TIME, "Time", test_time)
    if step_time:
        notes.append("The file's Time restarts at each step: Test Time adds the steps up.")
    unix, aware = _neware_unix(frame["Timestamp"])
    if unix is not None:
        channels.quantity(UNIX_TIME, "Timestamp", unix)
        if not aware:
            notes.append("The file's clock times carry no time zone: taken as UTC.")
        notes += _clock_notes(unix, test_time)
    channels.quantity(VOLTAGE, "Voltage", frame["Voltage"].to_numpy())
    current, _ = to_si(frame["Current(mA)"].to_numpy(dtype=np.float64), "mA")
    channels.quantity(CURRENT, "Current(mA)", current)
    channels.quantity(STEP, "Step", step)
    cycle = frame["Cycle"].to_numpy(dtype=np.float64)
    if (cycle > 0).any():
        channels.quantity(CYCLE, "Cycle", cycle)
    else:
        notes.append("The file records no cycle numbers.")

    known = {"Time", "Timestamp", "Voltage", "Current(mA)", "Step", "Cycle"}
    for column in frame.columns:
        source = str(column)
        if source in known or source in _NEWARE_SKIPPED:
            continue
        if not pd.api.types.is_numeric_dtype(frame[column]):
            notes.append(f"Column {source!r} holds no numbers: left out.")
            continue
        values = frame[column].to_numpy(dtype=np.float64)
        if np.isnan(values).all():
            notes.append(f"Column {source!r} is empty: left out.")
            continue
        name, unit = _neware_channel(source)
        channels.extra(name, unit, source, values)
    return _in_memory("neware", channels, notes)


def _read_neware(path: PathLike, *, ndax: bool) -> pd.DataFrame:
    # The package reads the whole file; its module functions take any file name
    # (NewareNDA.read goes by the extension).
    from NewareNDA.NewareNDA import read_nda
    from NewareNDA.NewareNDAx import read_ndax

    kind = ".ndax" if ndax else ".nda"
    # NewareNDA logs what it finds wrong as well as raising it: the message here says it.
    package_log = logging.getLogger("newarenda")
    level = package_log.level
    package_log.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            # The package's own deprecation warnings are no news for the user.
            warnings.simplefilter("ignore")
            # The file's own cycle numbers, not ones NewareNDA would regenerate.
            frame = read_ndax(str(path), False) if ndax else read_nda(str(path), False)
    except NotImplementedError as error:
        reason = str(error).rstrip("!. ")
        raise _file_error(
            path, f"this Neware {kind} file version is not supported ({reason})"
        ) from error
    except Exception as error:  # any failure of the package means a bad file
        raise _file_error(path, f"the Neware {kind} file is truncated or damaged") from error
    finally:
        package_log.setLevel(level)
    if not isinstance(frame, pd.DataFrame) or not {"Time", "Voltage", "Current(mA)"} <= set(
        frame.columns
    ):
        raise _file_error(path, f"the Neware {kind} file has no measurement records")
    return frame


def _neware_test_time(time: np.ndarray, step: np.ndarray) -> tuple[np.ndarray, bool]:
    """Elapsed test time from Neware's `Time`, and whether that was a step time.

    In most file versions `Time` restarts at each step; then each step's time is added
    to the last sample time of the steps before it. A `Time` that never goes back at a
    step change is already the test time.
    """
    if len(time) < 2:
        return time.copy(), False
    new_step = np.flatnonzero(step[1:] != step[:-1]) + 1
    if not (time[new_step] < time[new_step - 1]).any():
        return time.copy(), False
    offsets = np.zeros(len(time))
    offsets[new_step] = time[new_step - 1]
    return time + np.cumsum(offsets), True


def _neware_unix(timestamps: pd.Series) -> tuple[np.ndarray | None, bool]:
    """Unix seconds of NewareNDA's Timestamp column, and whether it carried a zone."""
    if not pd.api.types.is_datetime64_any_dtype(timestamps):
        return None, False
    aware = isinstance(timestamps.dtype, pd.DatetimeTZDtype)
    utc = timestamps.dt.tz_convert("UTC") if aware else timestamps.dt.tz_localize("UTC")
    nanoseconds = utc.dt.as_unit("ns").to_numpy(dtype="datetime64[ns]").astype(np.int64)
    seconds = nanoseconds.astype(np.float64) / 1e9
    seconds[utc.isna().to_numpy()] = np.nan
    return seconds, aware


def _neware_channel(source: str) -> tuple[str, str]:
    if source in _NEWARE_EXTRAS:
        return _NEWARE_EXTRAS[source]
    kind, number = source[:1], source[1:]
    if kind in _NEWARE_AUX and number.lstrip("-").isdigit():
        name, unit = _NEWARE_AUX[kind]
        return f"{name} {source}", unit
    if "(" in source and source.endswith(")"):
        name, _, unit = source[:-1].partition("(")
        return name.replace("_", " ").strip(), unit.strip()
    return source.replace("_", " "), ""


# ---------------------------------------------------------------- BioLogic .mpr

_BIOLOGIC_MAGIC = b"BIO-LOGIC MODULAR FILE"
_BIOLOGIC_VOLTAGE = ("Ewe/V", "<Ewe>/V", "Ecell/V")
_BIOLOGIC_CURRENT = ("I/mA", "<I>/mA")
# Cumulative charge first: its differences are the charge passed between samples.
# (galvani's "dQ/C" is cumulative in some files and not in others: not used.)
_BIOLOGIC_CHARGE: tuple[tuple[str, str, bool], ...] = (
    ("(Q-Qo)/mA.h", "mAh", True),
    ("(Q-Qo)/C", "As", True),
    ("dq/mA.h", "mAh", False),
)
# BioLogic writes mA.h and W.h; C (coulomb) is an ampere-second.
_BIOLOGIC_UNITS = {"mA.h": "mAh", "A.h": "Ah", "W.h": "Wh", "mW.h": "mWh", "C": "As"}


def open_biologic(path: PathLike) -> TableSource:
    """A BioLogic EC-Lab .mpr file, read with galvani.

    BioLogic's current is positive for an oxidation at the working electrode: with the
    cell's positive electrode as working electrode, positive while charging, as this
    application has it. A technique that stores only charge gets its current from the
    charge passed between samples divided by the time between them.
    """
    _check_readable(path)
    if not _head(path, len(_BIOLOGIC_MAGIC)).startswith(_BIOLOGIC_MAGIC):
        raise _file_error(path, "not a BioLogic .mpr file (no 'BIO-LOGIC' header)")
    data, start = _read_mpr(path)
    names = list(data.dtype.names or ())
    if len(data) == 0:
        raise _file_error(path, "the file holds no data points")
    if "time/s" not in names:
        raise _file_error(path, "the file has no 'time/s' column")

    channels = _Channels()
    notes: list[str] = []
    used: set[str] = {"flags"}
    seconds = np.asarray(data["time/s"], dtype=np.float64)
    channels.quantity(TEST_TIME, "time/s", seconds)
    used.add("time/s")
    if start is not None:
        channels.quantity(UNIX_TIME, "start + time/s", start + seconds)
        notes.append(
            f"The file's start, {_show_utc(start)}, carries no time zone: taken as UTC "
            "(ignore 'Unix Time / s' to give the start time yourself)."
        )
    else:
        notes.append("The file records no start date and time.")

    voltage = next((name for name in _BIOLOGIC_VOLTAGE if name in names), None)
    if voltage is not None:
        channels.quantity(VOLTAGE, voltage, data[voltage])
        used.add(voltage)
    current = next((name for name in _BIOLOGIC_CURRENT if name in names), None)
    if current is not None:
        channels.quantity(CURRENT, current, to_si(np.asarray(data[current], np.float64), "mA")[0])
        used.add(current)
    else:
        charge = next((spec for spec in _BIOLOGIC_CHARGE if spec[0] in names), None)
        if charge is None:
            notes.append(
                "No current column and no charge column to derive it from: "
                "the file cannot give a current."
            )
        else:
            column, unit, cumulative = charge
            derived = _current_from_charge(
                np.asarray(data[column], np.float64), unit, seconds, cumulative
            )
            channels.quantity(CURRENT, f"dQ/dt of {column}", derived)
            notes.append(
                f"No current column: current derived from the charge increment over time "
                f"(dQ/dt of {column!r})."
            )
    if "P/W" in names:
        channels.quantity(POWER, "P/W", data["P/W"])
        used.add("P/W")
    if "Ns" in names:
        channels.quantity(STEP, "Ns", _count_changes(np.asarray(data["Ns"])))
        used.add("Ns")
        notes.append("Step Count counts the changes of the sequence number Ns.")
    if "cycle number" in names:
        channels.quantity(CYCLE, "cycle number", data["cycle number"])
        used.add("cycle number")

    for source in names:
        if source in used:
            continue
        name, unit = _biologic_channel(source)
        channels.extra(name, unit, source, data[source])
    return _in_memory("biologic", channels, notes)


def _read_mpr(path: PathLike) -> tuple[np.ndarray, float | None]:
    """The data records and the start (Unix seconds, the file's clock read as UTC)."""
    from galvani.BioLogic import MPRfile

    try:
        with open(path, "rb") as file:
            mpr = MPRfile(file)
    except NotImplementedError as error:
        # galvani: "Column ID 182 after column ... is unknown"
        words = str(error).split()
        column = words[2] if len(words) > 2 and words[:2] == ["Column", "ID"] else "?"
        raise _file_error(
            path, f"the file has a column this reader does not know (BioLogic column ID {column})"
        ) from error
    except Exception as error:  # any failure of the package means a bad file
        raise _file_error(path, "the BioLogic .mpr file is truncated or damaged") from error
    start = getattr(mpr, "timestamp", None)
    seconds = None
    if isinstance(start, dt.datetime):
        seconds = start.replace(tzinfo=dt.UTC).timestamp()
    return mpr.data, seconds


def _current_from_charge(
    charge: np.ndarray, unit: str, seconds: np.ndarray, cumulative: bool
) -> np.ndarray:
    """Current (A) of each sample: the charge passed since the previous sample over the
    time between them. The first sample takes the second's; a sample at the same time as
    the one before keeps the current before it."""
    ampere_hours, _ = to_si(charge, unit)
    increment = np.diff(ampere_hours) if cumulative else ampere_hours[1:]
    elapsed = np.diff(seconds)
    current = np.full(len(charge), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        current[1:] = np.where(elapsed > 0, increment * 3600.0 / elapsed, np.nan)
    filled = pd.Series(current).ffill().bfill().fillna(0.0)
    return filled.to_numpy(dtype=np.float64)


def _biologic_channel(source: str) -> tuple[str, str]:
    """(name, unit) of a galvani column: the unit after the last '/', BioLogic's `mA.h`
    spelled `mAh`; `control/V/mA` (volts or milliamperes by mode) keeps `V/mA`."""
    if source.startswith("control/V/mA"):
        return "control" + source[len("control/V/mA") :], "V/mA"
    name, slash, unit = source.rpartition("/")
    if not slash or not name.strip():
        return source.strip(), ""
    unit, _, repeat = unit.strip().partition(" ")  # galvani numbers repeats: "Ewe/V 2"
    name = f"{name.strip()} {repeat}" if repeat else name.strip()
    return name, _BIOLOGIC_UNITS.get(unit, unit)
