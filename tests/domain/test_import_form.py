"""The import page's form as data: column mapping rows, choices, details and job states."""

from __future__ import annotations

import datetime as dt

import pytest

from domain.import_form import (
    EXTRA,
    IGNORE,
    MappingRow,
    check_details,
    choice_of,
    choices_from_rows,
    needs_start_time,
    parse_start_time,
    row_of,
)
from domain.import_jobs import INTERRUPTED, JobState, JobStatus, WriteSchedule, as_seen
from domain.importing import ColumnChoice, PreviewColumn

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


def test_a_preview_column_shows_as_what_it_becomes() -> None:
    assert row_of(PreviewColumn("Voltage(mV)", "voltage", "Voltage / mV", "mV", "V")) == (
        MappingRow("voltage", "", "mV")
    )
    assert row_of(PreviewColumn("T1", "extra", "T cell / °C", "°C", "°C")) == (
        MappingRow(EXTRA, "T cell", "°C")
    )
    assert row_of(PreviewColumn("note", "ignored", "", "", "")) == MappingRow(IGNORE)


@pytest.mark.parametrize(
    ("row", "choice"),
    [
        (MappingRow("voltage", "", "mV"), ColumnChoice("c", "Voltage / mV")),
        (MappingRow("voltage", "ignored name", ""), ColumnChoice("c", "Voltage / V")),
        (MappingRow("test_time", "", "min"), ColumnChoice("c", "Test Time / min")),
        (MappingRow("cycle", "", ""), ColumnChoice("c", "Cycle Count / 1")),
        (MappingRow("timestamp", "", ""), ColumnChoice("c", "timestamp")),
        (MappingRow(EXTRA, " T cell ", "°C"), ColumnChoice("c", "T cell / °C")),
        (MappingRow(EXTRA, "flow", ""), ColumnChoice("c", "flow")),
        (MappingRow(IGNORE, "x", "V"), ColumnChoice("c", ignore=True)),
    ],
)
def test_a_row_becomes_the_importers_choice(row: MappingRow, choice: ColumnChoice) -> None:
    assert choice_of("c", row) == choice


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (MappingRow(EXTRA, "  ", "°C"), "an extra channel needs a name"),
        (MappingRow("timestamp", "", "s"), "a timestamp holds ISO 8601 dates: no unit"),
        (MappingRow("nonsense"), "unknown choice 'nonsense'"),
    ],
)
def test_a_row_that_cannot_be_a_choice_says_why(row: MappingRow, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        choice_of("c", row)


def test_only_edited_rows_get_new_choices_and_untouched_ones_keep_theirs() -> None:
    sources = ["time", "Spannung", "T1", "note"]
    shown = [
        MappingRow("test_time", "", "s"),
        MappingRow("voltage", "", "mV"),  # mapped by an earlier choice
        MappingRow(EXTRA, "T1", ""),
        MappingRow(IGNORE),
    ]
    earlier = {"Spannung": ColumnChoice("Spannung", "Voltage / mV")}
    edited = [shown[0], shown[1], MappingRow(EXTRA, "T cell", "°C"), MappingRow(EXTRA, "", "")]
    choices, problems = choices_from_rows(sources, shown, edited, earlier)
    assert choices == [
        ColumnChoice("Spannung", "Voltage / mV"),
        ColumnChoice("T1", "T cell / °C"),
    ]
    assert problems == {3: "column 'note': an extra channel needs a name"}


def test_only_a_file_with_elapsed_time_alone_needs_a_start() -> None:
    def column(role: str) -> PreviewColumn:
        return PreviewColumn(role, role, role, "", "")

    assert needs_start_time([column("test_time"), column("voltage")])
    assert not needs_start_time([column("test_time"), column("unix_time")])
    assert not needs_start_time([column("timestamp")])


def test_start_times_are_read_as_utc() -> None:
    expected = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC).timestamp()
    for text in (
        "2026-11-25 10:00:00",
        "2026-11-25 10:00",
        "2026-11-25T10:00:00Z",
        " 2026-11-25 10:00 UTC",
    ):
        assert parse_start_time(text) == expected
    assert parse_start_time("  ") is None
    with pytest.raises(
        ValueError, match="expected a UTC date and time like 2026-11-25 10:00:00, got '25/11/2026'"
    ):
        parse_start_time("25/11/2026")


def test_a_start_time_before_1970_is_refused_beside_the_field() -> None:
    # No sample may be dated before 1970 (domain.csvformat): say so of the start itself.
    with pytest.raises(ValueError, match="1969-12-31 23:00 is before 1970"):
        parse_start_time("1969-12-31 23:00")


def test_details_name_each_field_that_is_wrong() -> None:
    details, problems = check_details(
        name="  ", battery_id="", profile_id="", description="", start_text="soon", needs_start=True
    )
    assert details is None
    assert problems == {
        "name": "The experiment needs a name.",
        "battery": "Choose the battery the file was measured on.",
        "start": "Start time: expected a UTC date and time like 2026-11-25 10:00:00, got 'soon'.",
    }
    _, problems = check_details(
        name="x" * 201, battery_id="1", profile_id=None, description=None, start_text=None,
        needs_start=False,
    )  # fmt: skip
    assert problems == {"name": "At most 200 characters (this one has 201)."}


def test_good_details_are_typed() -> None:
    details, problems = check_details(
        name=" run 7 ", battery_id="3", profile_id="5", description=" d ",
        start_text="2026-11-25 10:00", needs_start=True,
    )  # fmt: skip
    assert problems == {}
    assert details is not None
    assert (details.name, details.battery_id, details.profile_id, details.description) == (
        "run 7", 3, 5, "d",
    )  # fmt: skip
    assert details.start_time == dt.datetime(2026, 11, 25, 10, tzinfo=dt.UTC).timestamp()
    # The start time is only read for files that need it.
    details, _ = check_details(
        name="r", battery_id=3, profile_id="", description="", start_text="soon", needs_start=False
    )
    assert details is not None and details.start_time is None and details.profile_id is None


def _job(state: JobState, age_s: float) -> JobStatus:
    return JobStatus(
        1, "f.csv", state, "reading", 10, 5, 20, "", None, False, NOW - dt.timedelta(seconds=age_s)
    )


def test_an_active_job_untouched_for_a_minute_is_seen_as_interrupted() -> None:
    assert as_seen(_job(JobState.RUNNING, 59), NOW).state is JobState.RUNNING
    seen = as_seen(_job(JobState.RUNNING, 61), NOW)
    assert (seen.state, seen.message) == (JobState.FAILED, INTERRUPTED)
    assert as_seen(_job(JobState.QUEUED, 61), NOW).state is JobState.FAILED
    assert as_seen(_job(JobState.DONE, 3600), NOW).state is JobState.DONE
    assert _job(JobState.RUNNING, 0).fraction == 0.25


def test_progress_is_written_at_most_every_half_second_a_new_stage_at_once() -> None:
    schedule = WriteSchedule(interval_s=0.5, heartbeat_s=10)
    assert schedule.due(0.0, "reading", changed=True)
    schedule.written(0.0, "reading")
    assert not schedule.due(0.3, "reading", changed=True)
    assert schedule.due(0.3, "storing", changed=True)  # a new stage shows at once
    assert schedule.due(0.5, "reading", changed=True)
    assert not schedule.due(9.9, "reading", changed=False)  # nothing moved: no write...
    assert schedule.due(10.0, "reading", changed=False)  # ...until the heartbeat
