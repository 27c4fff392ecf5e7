"""Multi-row inserts: exact values back, keys ignored when asked, counts of new rows."""

from __future__ import annotations

import math

import pytest
from sqlalchemy import Engine, text

from datastore.bulk import insert_rows, sql_literal

COLUMNS = ("id", "name", "manufacturer", "model", "serial_number", "description", "technology",
           "cells_in_series", "voltage_min", "voltage_max", "current_min", "current_max",
           "details", "created_at")  # fmt: skip


def _battery(number: int, name: str, voltage_max: float) -> tuple:
    return (number, name, "", "", "", "", "lithium-ion", 1, 2.5, voltage_max, -1.0, 1.0, "{}",
            "2026-01-01 00:00:00")  # fmt: skip


def test_rows_come_back_exactly_and_duplicates_are_skipped(engine: Engine) -> None:
    awkward = 4.199999999999999  # needs all 17 digits
    with engine.begin() as connection:
        added = insert_rows(
            connection, "batteries", COLUMNS, [_battery(1, 'it\'s \\ "quoted" 50% %s', awkward)]
        )
        again = insert_rows(
            connection,
            "batteries",
            COLUMNS,
            [_battery(1, "duplicate", 1.0), _battery(2, "second", 1e-300)],
            ignore_existing=True,
        )
        rows = connection.execute(
            text("SELECT id, name, voltage_max FROM batteries ORDER BY id")
        ).all()
    assert (added, again) == (1, 1)
    assert [tuple(row) for row in rows] == [
        (1, 'it\'s \\ "quoted" 50% %s', awkward),
        (2, "second", 1e-300),
    ]


def test_no_rows_is_a_no_op(engine: Engine) -> None:
    with engine.begin() as connection:
        assert insert_rows(connection, "batteries", COLUMNS, []) == 0


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        (None, "NULL"),
        (3, "3"),
        (2.5, "2.5e0"),
        (1e-300, "1e-300"),
        ("a'b", "'a\\'b'"),
        (True, "1"),
        (False, "0"),
    ],
)
def test_literals(value: object, literal: str) -> None:
    assert sql_literal(value) == literal


@pytest.mark.parametrize("value", [math.nan, math.inf, object()])
def test_values_that_cannot_be_stored_are_refused(value: object) -> None:
    with pytest.raises((ValueError, TypeError)):
        sql_literal(value)
