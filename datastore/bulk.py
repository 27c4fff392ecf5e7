"""Fast multi-row inserts, the same call on every dialect.

On MariaDB/MySQL the VALUES text is written here: PyMySQL's executemany escapes every
value through several Python calls, which costs more than the database's own work on
large batches. Numbers are written with `repr` (the shortest text that reads back as
the same double) plus `e0`, so the server reads a DOUBLE rather than an exact DECIMAL.
Elsewhere (SQLite) the driver's executemany is fast already.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from pymysql.converters import escape_string
from sqlalchemy import Connection, CursorResult

# Rows per statement on MariaDB: about 1 MB of SQL text, under max_allowed_packet (16 MiB).
MYSQL_ROWS_PER_STATEMENT = 10_000


def _float_literal(value: float) -> str:
    if not math.isfinite(value):
        raise ValueError(f"cannot store {value!r}: not a finite number")
    text = repr(value)
    return text if "e" in text else text + "e0"


def sql_literal(value: Any) -> str:
    """`value` as MariaDB SQL text (numbers exact, strings escaped, None as NULL)."""
    kind = type(value)
    if kind is float:
        return _float_literal(value)
    if kind is int:
        return str(value)
    if value is None:
        return "NULL"
    if kind is bool:
        return "1" if value else "0"
    if kind is str:
        return "'" + escape_string(value) + "'"
    if isinstance(value, float):  # numpy floats
        return _float_literal(float(value))
    if isinstance(value, int) and not isinstance(value, bool):
        return str(int(value))
    raise TypeError(f"cannot write {value!r} ({kind.__name__}) as an SQL literal")


def values_text(rows: Sequence[Sequence[Any]]) -> str:
    """The rows as MariaDB VALUES text, without the outer parentheses: `1,2.5e0),(2,3e0`.

    Written column by column: a column of only floats or only ints (the common case for
    samples) is formatted in one pass of C-level map calls instead of one Python call
    per value, which is most of the node's CPU time per sample otherwise.
    """
    if not rows:
        return ""
    columns = [_column_literals(column) for column in zip(*rows, strict=True)]
    return "),(".join(map(",".join, zip(*columns, strict=True)))


def _column_literals(values: Sequence[Any]) -> list[str] | Iterator[str]:
    kinds = set(map(type, values))
    if kinds == {float}:
        if not all(map(math.isfinite, values)):
            bad = next(value for value in values if not math.isfinite(value))
            raise ValueError(f"cannot store {bad!r}: not a finite number")
        return [text if "e" in text else text + "e0" for text in map(repr, values)]
    if kinds == {int}:
        return map(str, values)
    return map(sql_literal, values)


def insert_rows(
    connection: Connection,
    table: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    ignore_existing: bool = False,
) -> int:
    """Insert `rows` (tuples in `columns` order) into `table`; return how many were added.

    With `ignore_existing`, rows whose key exists already are skipped (a redelivered
    sample is a no-op), and the count is of new rows only.
    """
    names = ", ".join(columns)
    if connection.dialect.name in ("mysql", "mariadb"):
        head = f"INSERT {'IGNORE ' if ignore_existing else ''}INTO {table} ({names}) VALUES "
        rows = list(rows)
        added = 0
        for start in range(0, len(rows), MYSQL_ROWS_PER_STATEMENT):
            values = values_text(rows[start : start + MYSQL_ROWS_PER_STATEMENT])
            # The driver applies %-formatting to the text even without parameters.
            statement = f"{head}({values})".replace("%", "%%")
            added += max(connection.exec_driver_sql(statement).rowcount, 0)
        return added
    verb = "INSERT OR IGNORE" if ignore_existing else "INSERT"
    marks = ", ".join("?" * len(columns))
    rows = [tuple(row) for row in rows]
    if not rows:
        return 0
    result = connection.exec_driver_sql(f"{verb} INTO {table} ({names}) VALUES ({marks})", rows)
    return max(result.rowcount, 0)


def upsert_rows(
    connection: Connection,
    table: str,
    columns: Sequence[str],
    keys: Sequence[str],
    rows: Sequence[Sequence[Any]],
) -> None:
    """Insert `rows`, replacing the other columns of rows whose `keys` exist already."""
    if not rows:
        return
    names = ", ".join(columns)
    others = [column for column in columns if column not in keys]
    if connection.dialect.name in ("mysql", "mariadb"):
        updates = ", ".join(f"{column} = VALUES({column})" for column in others)
        for start in range(0, len(rows), MYSQL_ROWS_PER_STATEMENT):
            values = values_text(rows[start : start + MYSQL_ROWS_PER_STATEMENT])
            statement = (
                f"INSERT INTO {table} ({names}) VALUES ({values}) ON DUPLICATE KEY UPDATE {updates}"
            )
            connection.exec_driver_sql(statement.replace("%", "%%"))
        return
    updates = ", ".join(f"{column} = excluded.{column}" for column in others)
    marks = ", ".join("?" * len(columns))
    connection.exec_driver_sql(
        f"INSERT INTO {table} ({names}) VALUES ({marks}) "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}",
        [tuple(row) for row in rows],
    )


def inserted_id(result: CursorResult[Any]) -> int:
    """The primary key of the row an INSERT statement just added."""
    key = result.inserted_primary_key
    if key is None:
        raise RuntimeError("the statement inserted no row")
    return int(key[0])
