"""Fast multi-row inserts, the same call on every dialect.

On MariaDB/MySQL the VALUES text is written here: PyMySQL's executemany escapes every
value through several Python calls, which costs more than the database's own work on
large batches. Numbers are written with `repr` (the shortest text that reads back as
the same double) plus `e0`, so the server reads a DOUBLE rather than an exact DECIMAL.
Elsewhere (SQLite) the driver's executemany is fast already.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
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
            values = "),(".join(
                ",".join(map(sql_literal, row))
                for row in rows[start : start + MYSQL_ROWS_PER_STATEMENT]
            )
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


def inserted_id(result: CursorResult[Any]) -> int:
    """The primary key of the row an INSERT statement just added."""
    key = result.inserted_primary_key
    if key is None:
        raise RuntimeError("the statement inserted no row")
    return int(key[0])
