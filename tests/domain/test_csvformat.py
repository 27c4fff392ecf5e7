"""The CSV formats (docs/formats.md): import aliases and units, checks, export, round trip."""

from __future__ import annotations

import datetime as dt
import io
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from domain.csvformat import (
    MAX_PROBLEMS,
    CsvImportError,
    ParsedExperiment,
    channel_identity,
    export_headers,
    export_rows,
    extra_header,
    format_csv_rows,
    parse_csv,
    split_header,
    write_csv_header,
)

START = 1_700_000_000.0


def parse(text: str, **options: object) -> ParsedExperiment:
    return parse_csv(text.encode("utf-8"), **options)  # type: ignore[arg-type]


def problems_of(text: str | bytes) -> list[str]:
    with pytest.raises(CsvImportError) as raised:
        parse_csv(text.encode("utf-8") if isinstance(text, str) else text, start_time=START)
    return [str(problem) for problem in raised.value.problems]


def column(parsed: ParsedExperiment, name: str) -> list[object]:
    return parsed.samples[name].tolist()


# ---------------------------------------------------------------- headers


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Voltage / V", ("Voltage", "V")),
        ("Current [mA]", ("Current", "mA")),
        ("  temp_body  ", ("temp_body", "")),
        ("Flow / L/min", ("Flow", "L/min")),
        ("time/s", ("time", "s")),
        ("Cell 1/2", ("Cell 1/2", "")),
        ("A / B / V", ("A / B", "V")),
    ],
)
def test_split_header_separates_name_and_unit(header: str, expected: tuple[str, str]) -> None:
    assert split_header(header) == expected


@pytest.mark.parametrize(
    ("name", "unit"), [("Temperature", "°C"), ("temp_body", ""), ("Cell 1/2", ""), ("A / B", "")]
)
def test_extra_header_reads_back_as_the_same_channel(name: str, unit: str) -> None:
    assert split_header(extra_header(name, unit)) == (name, unit)


def test_export_headers_are_the_bdf_labels_then_the_extras() -> None:
    assert export_headers([("Temperature", "°C"), ("temp_body", "")]) == [
        "Test Time / s",
        "Unix Time / s",
        "Voltage / V",
        "Current / A",
        "Power / W",
        "Step Count / 1",
        "Cycle Count / 1",
        "Temperature / °C",
        "temp_body",
    ]


def test_header_line_quotes_names_with_commas() -> None:
    assert write_csv_header([("Cell 1, top", "V")]).endswith(',"Cell 1, top / V"\n')


# ---------------------------------------------------------------- aliases


@pytest.mark.parametrize("header", ["Test Time / s", "time", "time_s", " TIME_S ", "Time / s"])
def test_elapsed_time_columns_count_from_the_start_time(header: str) -> None:
    parsed = parse(f"{header},voltage,current\n0,3.7,1\n2.5,3.8,1\n", start_time=START)
    assert column(parsed, "ts") == [START, START + 2.5]


def test_elapsed_time_accepts_an_aware_datetime_as_start() -> None:
    start = dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC)
    parsed = parse("time,voltage,current\n1,3.7,1\n", start_time=start)
    assert column(parsed, "ts") == [start.timestamp() + 1]


def test_elapsed_time_without_a_start_time_starts_now() -> None:
    before = dt.datetime.now(dt.UTC).timestamp()
    parsed = parse("time,voltage,current\n0,3.7,1\n")
    assert before - 1 <= column(parsed, "ts")[0] <= dt.datetime.now(dt.UTC).timestamp() + 1


def test_unix_time_column_is_taken_as_is() -> None:
    parsed = parse("Unix Time / s,Voltage / V,Current / A\n1700000000.125,3.7,1\n")
    assert column(parsed, "ts") == [1_700_000_000.125]


def test_unix_time_wins_over_test_time() -> None:
    parsed = parse(
        "Test Time / s,Unix Time / s,voltage,current\n5,1700000000.5,3.7,1\n", start_time=0
    )
    assert column(parsed, "ts") == [1_700_000_000.5]
    assert parsed.time_column == "Unix Time / s"


def test_timestamp_without_zone_is_utc() -> None:
    parsed = parse("timestamp,voltage,current\n2024-01-01T00:00:01.250,3.7,1\n")
    expected = dt.datetime(2024, 1, 1, 0, 0, 1, 250_000, tzinfo=dt.UTC).timestamp()
    assert column(parsed, "ts") == [expected]


def test_timestamp_with_offset_is_converted_to_utc() -> None:
    parsed = parse(
        "timestamp,voltage,current\n2024-01-01 02:00:00+02:00,3.7,1\n2024-01-01T00:00:01Z,3.7,1\n"
    )
    midnight = dt.datetime(2024, 1, 1, tzinfo=dt.UTC).timestamp()
    assert column(parsed, "ts") == [midnight, midnight + 1]


@pytest.mark.parametrize(
    ("voltage", "current"),
    [("Voltage / V", "Current / A"), ("voltage", "current"), ("VOLTAGE", " Current ")],
)
def test_voltage_and_current_aliases(voltage: str, current: str) -> None:
    parsed = parse(f"time,{voltage},{current}\n0,3.7,-1.5\n", start_time=START)
    assert column(parsed, "voltage") == [3.7]
    assert column(parsed, "current") == [-1.5]


@pytest.mark.parametrize("header", ["Power / W", "power"])
def test_power_aliases(header: str) -> None:
    parsed = parse(f"time,voltage,current,{header}\n0,3.7,1.5,5.5\n", start_time=START)
    assert column(parsed, "power") == [5.5]


def test_power_defaults_to_voltage_times_current() -> None:
    parsed = parse("time,voltage,current\n0,3.7,1.5\n", start_time=START)
    assert column(parsed, "power") == [3.7 * 1.5]


def test_empty_power_cell_defaults_to_voltage_times_current() -> None:
    parsed = parse("time,voltage,current,power\n0,3.7,1.5,\n1,3.7,1.5,5.0\n", start_time=START)
    assert column(parsed, "power") == [3.7 * 1.5, 5.0]


@pytest.mark.parametrize("header", ["Step Count / 1", "instruction", "instr_id"])
def test_step_aliases_fill_the_instruction(header: str) -> None:
    parsed = parse(f"time,voltage,current,{header}\n0,3.7,1,3\n1,3.7,1,\n", start_time=START)
    assert column(parsed, "instruction") == [3, pd.NA]


@pytest.mark.parametrize("header", ["Cycle Count / 1", "cycle"])
def test_cycle_aliases(header: str) -> None:
    parsed = parse(f"time,voltage,current,{header}\n0,3.7,1,7\n", start_time=START)
    assert column(parsed, "cycle") == [7]


def test_missing_step_and_cycle_columns_are_na() -> None:
    parsed = parse("time,voltage,current\n0,3.7,1\n", start_time=START)
    assert column(parsed, "instruction") == [pd.NA]
    assert column(parsed, "cycle") == [pd.NA]


def test_samples_are_numbered_from_zero() -> None:
    parsed = parse("time,voltage,current\n0,3.7,1\n1,3.7,1\n2,3.7,1\n", start_time=START)
    assert column(parsed, "seq") == [0, 1, 2]


def test_the_original_systems_columns_import() -> None:
    parsed = parse(
        "timestamp,voltage,current,instr_id\n"
        "2023-05-02 10:00:00,3.651,2.5,1\n"
        "2023-05-02 10:00:01,3.662,2.5,1\n"
        "2023-05-02 10:00:02,4.2,-1.0,2\n"
    )
    start = dt.datetime(2023, 5, 2, 10, tzinfo=dt.UTC).timestamp()
    assert column(parsed, "ts") == [start, start + 1, start + 2]
    assert column(parsed, "voltage") == [3.651, 3.662, 4.2]
    assert column(parsed, "current") == [2.5, 2.5, -1.0]
    assert column(parsed, "instruction") == [1, 1, 2]
    assert parsed.extras == {}


# ---------------------------------------------------------------- units


@pytest.mark.parametrize(
    ("header", "cell", "field", "expected"),
    [
        ("Voltage / mV", "3710", "voltage", 3.71),
        ("Voltage [mV]", "3710", "voltage", 3.71),
        ("voltage/mV", "3710", "voltage", 3.71),
        ("Voltage / kV", "0.5", "voltage", 500.0),
        ("Current / mA", "-1500", "current", -1.5),
        ("Current [kA]", "0.002", "current", 2.0),
        ("Power / mW", "5550", "power", 5.55),
        ("Power / kW", "1.5", "power", 1500.0),
    ],
)
def test_declared_units_scale_to_si(header: str, cell: str, field: str, expected: float) -> None:
    columns = {"voltage": "3.7", "current": "1", "power": "1"}
    names = {"voltage": "voltage", "current": "current", "power": "power"}
    columns[field], names[field] = cell, header
    text = f"time,{names['voltage']},{names['current']},{names['power']}\n"
    text += f"0,{columns['voltage']},{columns['current']},{columns['power']}\n"
    assert column(parse(text, start_time=START), field) == [expected]


@pytest.mark.parametrize(
    ("header", "elapsed"),
    [("Test Time / ms", "1500"), ("time / min", "0.025"), ("time [h]", "0.000416666666666666666")],
)
def test_time_units_scale_to_seconds(header: str, elapsed: str) -> None:
    parsed = parse(f"{header},voltage,current\n0,3.7,1\n{elapsed},3.7,1\n", start_time=0)
    assert column(parsed, "ts")[1] == pytest.approx(1.5, rel=1e-12)


def test_unix_time_in_milliseconds_scales_to_seconds() -> None:
    parsed = parse("Unix Time / ms,voltage,current\n1700000000250,3.7,1\n")
    assert column(parsed, "ts") == [1_700_000_000.25]


@pytest.mark.parametrize(
    ("header", "cell", "channel", "value"),
    [
        ("Temperature / °C", "25.5", ("Temperature", "°C"), 25.5),
        ("temp_body", "25.5", ("temp_body", ""), 25.5),
        ("Capacity / mAh", "2500", ("Capacity", "Ah"), 2.5),
        ("Energy / mWh", "9250", ("Energy", "Wh"), 9.25),
        ("Energy / kWh", "1.5", ("Energy", "Wh"), 1500.0),
        ("Cell 1 / mV", "3300", ("Cell 1", "V"), 3.3),
        ("Pressure / bar", "1.2", ("Pressure", "bar"), 1.2),
        ("Flow / L/min", "0.7", ("Flow", "L/min"), 0.7),
        ("SOC [%]", "55", ("SOC", "%"), 55.0),
    ],
)
def test_other_numeric_columns_are_extra_channels(
    header: str, cell: str, channel: tuple[str, str], value: float
) -> None:
    parsed = parse(f"time,voltage,current,{header}\n0,3.7,1,{cell}\n", start_time=START)
    assert list(parsed.extras) == [channel]
    assert parsed.extras[channel].tolist() == [value]


def test_empty_extra_cells_are_nan() -> None:
    parsed = parse("time,voltage,current,temp\n0,3.7,1,25\n1,3.7,1,\n", start_time=START)
    values = parsed.extras[("temp", "")]
    assert values[0] == 25.0 and math.isnan(values[1])


def test_text_columns_are_skipped_not_imported() -> None:
    parsed = parse("time,voltage,current,comment\n0,3.7,1,rest\n1,3.7,1,charge\n", start_time=START)
    assert parsed.extras == {}
    assert parsed.skipped_columns == ["comment"]


# ---------------------------------------------------------------- delimiters and encodings


def test_semicolon_separated() -> None:
    parsed = parse("time;voltage;current\n0;3.7;1.5\n", start_time=START)
    assert column(parsed, "voltage") == [3.7]


def test_tab_separated() -> None:
    parsed = parse("time\tvoltage\tcurrent\n0\t3.7\t1.5\n", start_time=START)
    assert column(parsed, "current") == [1.5]


def test_semicolon_separated_with_decimal_commas() -> None:
    parsed = parse("time;voltage;current\n0;3,71;-1,5\n0,5;3,72;-1,5\n", start_time=0)
    assert column(parsed, "voltage") == [3.71, 3.72]
    assert column(parsed, "ts") == [0.0, 0.5]


def test_byte_order_mark_and_windows_line_ends() -> None:
    content = "\ufefftime,voltage,current\r\n0,3.7,1\r\n1,3.8,1\r\n".encode()
    assert parse_csv(content, start_time=START).samples["voltage"].tolist() == [3.7, 3.8]


def test_windows_1252_header() -> None:
    content = "time,voltage,current,Temperature / °C\n0,3.7,1,25\n".encode("cp1252")
    assert list(parse_csv(content, start_time=START).extras) == [("Temperature", "°C")]


def test_reads_paths_binary_and_text_files(tmp_path: Path) -> None:
    text = "time,voltage,current\n0,3.7,1\n"
    path = tmp_path / "samples.csv"
    path.write_text(text)
    for source in (path, str(path), io.BytesIO(text.encode()), io.StringIO(text)):
        assert parse_csv(source, start_time=START).samples["voltage"].tolist() == [3.7]


def test_blank_lines_are_ignored_and_do_not_shift_line_numbers() -> None:
    problems = problems_of("time,voltage,current\n0,3.7,1\n\n1,oops,1\n\n")
    assert problems == ["line 4, column 'voltage': 'oops' is not a number"]


# ---------------------------------------------------------------- errors


def test_empty_file() -> None:
    assert problems_of("") == ["the file is empty"]
    assert problems_of("\n\n  \n") == ["the file is empty"]


def test_header_only() -> None:
    assert problems_of("time,voltage,current\n") == [
        "line 1: the file has a header but no data rows"
    ]


def test_missing_voltage_column() -> None:
    assert problems_of("time,current\n0,1\n") == [
        "line 1: missing a voltage column: expected one of Voltage / V, voltage"
    ]


def test_missing_current_column() -> None:
    assert problems_of("time,voltage\n0,1\n") == [
        "line 1: missing a current column: expected one of Current / A, current"
    ]


def test_missing_time_column() -> None:
    assert problems_of("voltage,current\n3.7,1\n") == [
        "line 1: missing a time column: expected one of Unix Time / s, timestamp, "
        "Test Time / s, time, time_s"
    ]


def test_columns_giving_the_same_quantity() -> None:
    assert problems_of("time,Voltage / V,current,voltage\n0,3.7,1,3.7\n") == [
        "line 1: columns 'Voltage / V' and 'voltage' both give the voltage"
    ]


def test_two_columns_for_the_same_channel_ignoring_case() -> None:
    assert problems_of("time,voltage,current,Temp / °C,temp [K]\n0,3.7,1,25,298\n") == [
        "line 1: columns 'Temp / °C' and 'temp [K]' are both channel 'temp'"
    ]


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("Voltage / furlong", "unknown voltage unit 'furlong' (expected V, mV, µV, kV)"),
        ("Voltage/furlong", "unknown voltage unit 'furlong' (expected V, mV, µV, kV)"),
        ("Voltage / A", "unknown voltage unit 'A' (expected V, mV, µV, kV)"),
    ],
)
def test_unknown_unit_on_a_known_quantity(header: str, message: str) -> None:
    assert problems_of(f"time,{header},current\n0,3.7,1\n") == [
        f"line 1, column '{header}': {message}"
    ]


def test_not_a_number() -> None:
    assert problems_of("time,voltage,current\n0,3.7,1\n1,3,7,1\n") == [
        "line 3: 4 cells, but the header has 3 columns"
    ]
    assert problems_of("time,voltage,current\n0,3.7,1\n1,abc,1\n") == [
        "line 3, column 'voltage': 'abc' is not a number"
    ]


@pytest.mark.parametrize("cell", ["nan", "NaN", "inf", "-inf", "Infinity"])
def test_nan_and_infinity_are_refused(cell: str) -> None:
    problems = problems_of(f"time,voltage,current\n0,{cell},1\n")
    assert len(problems) == 1
    assert problems[0].startswith("line 2, column 'voltage': ")
    assert problems[0].endswith("is not a finite number")


def test_extra_channel_cells_are_checked_too() -> None:
    assert problems_of("time,voltage,current,temp\n0,3.7,1,25\n1,3.7,1,hot\n") == [
        "line 3, column 'temp': 'hot' is not a number"
    ]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("0,,1", "line 2, column 'voltage': empty cell (a voltage is required)"),
        ("0,3.7,", "line 2, column 'current': empty cell (a current is required)"),
        (",3.7,1", "line 2, column 'time': empty cell (every sample needs a time)"),
    ],
)
def test_empty_required_cells(row: str, message: str) -> None:
    assert problems_of(f"time,voltage,current\n{row}\n") == [message]


def test_rows_with_fewer_cells_have_empty_cells() -> None:
    assert problems_of("time,voltage,current\n0,3.7\n") == [
        "line 2, column 'current': empty cell (a current is required)"
    ]


def test_unparsable_timestamp() -> None:
    assert problems_of(
        "timestamp,voltage,current\n2024-01-01T00:00:00,3.7,1\nyesterday,3.7,1\n"
    ) == ["line 3, column 'timestamp': 'yesterday' is not an ISO 8601 date and time"]


def test_empty_timestamp() -> None:
    assert problems_of("timestamp,voltage,current\n,3.7,1\n") == [
        "line 2, column 'timestamp': empty cell (every sample needs a time)"
    ]


def test_time_going_backwards() -> None:
    assert problems_of("time,voltage,current\n0,3.7,1\n2,3.7,1\n1.5,3.7,1\n") == [
        "line 4, column 'time': time goes backwards (1.5 s after 2.0 s on line 3)"
    ]


def test_timestamp_going_backwards() -> None:
    problems = problems_of(
        "timestamp,voltage,current\n2024-01-01T00:00:05,3.7,1\n2024-01-01T00:00:04,3.7,1\n"
    )
    assert problems == [
        "line 3, column 'timestamp': time goes backwards "
        "(2024-01-01T00:00:04+00:00 after 2024-01-01T00:00:05+00:00 on line 2)"
    ]


def test_a_time_no_date_can_hold_is_refused_with_its_line() -> None:
    # 1e300 s is past the year 9999: no date, no database column, no page could hold it.
    problems = problems_of(
        "Unix Time / s,voltage,current\n1700000000,3.7,1\n1e300,3.7,1\n-5,3.7,1\ninf,3.7,1\n"
    )
    assert problems[:3] == [
        "line 3, column 'Unix Time / s': 1e+300 s is not a time from 1970 to the end of 9999 "
        "(Unix seconds)",
        "line 4, column 'Unix Time / s': -5.0 s is not a time from 1970 to the end of 9999 "
        "(Unix seconds)",
        "line 4, column 'Unix Time / s': time goes backwards "
        "(1969-12-31T23:59:55+00:00 after 1e+300 s on line 3)",
    ]
    assert any(problem.startswith("line 5, column 'Unix Time / s'") for problem in problems)


def test_a_timestamp_before_1970_is_refused_as_written() -> None:
    assert problems_of("timestamp,voltage,current\n1969-12-31T00:00:00,3.7,1\n") == [
        "line 2, column 'timestamp': 1969-12-31T00:00:00+00:00 is not a time from 1970 to "
        "the end of 9999"
    ]


def test_an_elapsed_time_placing_a_sample_past_the_year_9999_is_refused() -> None:
    assert problems_of("time,voltage,current\n0,3.7,1\n1e300,3.7,1\n") == [
        "line 3, column 'time': 1e+300 s after the start is not a time from 1970 to the end of 9999"
    ]


def test_equal_times_are_allowed() -> None:
    parsed = parse("time,voltage,current\n1,3.7,1\n1,3.8,1\n", start_time=0)
    assert column(parsed, "ts") == [1.0, 1.0]


def test_step_must_be_a_whole_number() -> None:
    assert problems_of("time,voltage,current,instruction\n0,3.7,1,2.5\n") == [
        "line 2, column 'instruction': 2.5 is not a whole number (a count)"
    ]


def test_every_problem_in_the_file_is_reported_in_line_order() -> None:
    problems = problems_of("time,voltage,current\n0,x,1\n1,3.7,\n2,3.7,y\n")
    assert problems == [
        "line 2, column 'voltage': 'x' is not a number",
        "line 3, column 'current': empty cell (a current is required)",
        "line 4, column 'current': 'y' is not a number",
    ]


def test_problems_are_capped_and_counted() -> None:
    rows = "".join(f"{second},bad,1\n" for second in range(100))
    with pytest.raises(CsvImportError) as raised:
        parse(f"time,voltage,current\n{rows}", start_time=START)
    assert len(raised.value.problems) == MAX_PROBLEMS
    assert raised.value.total == 100
    assert str(raised.value).endswith(f"... and {100 - MAX_PROBLEMS} more")


# ---------------------------------------------------------------- export and round trip


def test_export_rows_use_test_time_from_the_first_sample_and_empty_cells_for_none() -> None:
    rows = [(1000.5, 3.7, 1.5, 5.55, 1, None, 25.0), (1001.75, 3.8, 1.5, 5.7, None, 2, None)]
    assert format_csv_rows(rows, first_ts=1000.5) == (
        "0.0,1000.5,3.7,1.5,5.55,1,,25.0\n1.25,1001.75,3.8,1.5,5.7,,2,\n"
    )


def test_export_of_no_rows_is_empty() -> None:
    assert format_csv_rows([], first_ts=0.0) == ""


def _random_experiment(rng: np.random.Generator, count: int) -> ParsedExperiment:
    """Samples with awkward doubles: tiny, huge, negative, long mantissas."""
    ts = START + np.cumsum(rng.uniform(0.0, 2.0, count))
    voltage = rng.uniform(-5, 5, count) * 10.0 ** rng.integers(-300, 300, count)
    voltage[:3] = [5e-324, 1.7976931348623157e308, 0.1 + 0.2]
    current = rng.standard_normal(count)
    instruction = rng.integers(0, 2**31 - 1, count)
    missing_step = rng.random(count) < 0.2
    temperature = rng.normal(25, 3, count)
    temperature[rng.random(count) < 0.3] = np.nan
    samples = pd.DataFrame(
        {
            "seq": np.arange(count),
            "ts": ts,
            "voltage": voltage,
            "current": current,
            "power": voltage * current,
            "instruction": pd.arrays.IntegerArray(instruction, missing_step),
            "cycle": pd.arrays.IntegerArray(rng.integers(0, 500, count), rng.random(count) < 0.5),
        }
    )
    extras = {
        ("Temperature", "°C"): temperature,
        ("Cell, 1 / top", "V"): rng.uniform(2.5, 4.2, count),
        ("ratio", ""): rng.random(count),
    }
    return ParsedExperiment(samples, extras)


def _export(parsed: ParsedExperiment) -> str:
    return write_csv_header(parsed.extras) + format_csv_rows(
        export_rows(parsed), first_ts=parsed.first_ts
    )


def test_export_then_import_gives_the_same_data_back() -> None:
    original = _random_experiment(np.random.default_rng(7), 5_000)
    back = parse(_export(original))
    pd.testing.assert_frame_equal(back.samples, original.samples, check_exact=True)
    assert list(back.extras) == list(original.extras)
    for channel, values in original.extras.items():
        np.testing.assert_array_equal(back.extras[channel], values)


def test_export_text_is_stable_through_a_round_trip() -> None:
    original = _random_experiment(np.random.default_rng(11), 500)
    text = _export(original)
    assert _export(parse(text)) == text


def test_a_million_rows_parse_in_a_few_seconds() -> None:
    """docs/performance.md budgets 15 s for a whole import; parsing must be a small part."""
    count = 1_000_000
    rows = np.arange(count, dtype=np.float64)
    text = "time,voltage,current\n" + "\n".join(map("{0},3.7,1.5".format, range(count)))
    started = time.perf_counter()
    parsed = parse(text, start_time=0)
    elapsed = time.perf_counter() - started
    np.testing.assert_array_equal(parsed.samples["ts"].to_numpy(), rows)
    assert elapsed < 5.0


@pytest.mark.parametrize(
    ("key", "identity"),
    [
        ("temp_body", ("temp_body", "°C")),
        ("Temperature / °C", ("Temperature", "°C")),
        ("flow [L/min]", ("flow", "L/min")),
        ("cell_voltage_3", ("cell_voltage_3", "V")),
        ("current_shunt", ("current_shunt", "A")),
        ("pressure", ("pressure", "")),
        ("odd / " + "u" * 21, ("odd / " + "u" * 21, "")),
    ],
)
def test_a_cyclers_extra_key_gives_the_channel_name_and_unit(key, identity) -> None:
    assert channel_identity(key) == identity


def test_formula_safe_is_undone_by_restore_cell_for_any_text() -> None:
    from domain.csvformat import formula_safe, restore_cell

    for text in ("=1", "'=1", "''=1", "'plain", "plain", "-1", "-", "@", "'", "", "\t=x"):
        assert restore_cell(formula_safe(text)) == text, text
