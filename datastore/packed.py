"""Result rows packed into text by MariaDB/MySQL, for reads of many small rows.

PyMySQL is pure Python and spends microseconds on every value of a result: a read of
thousands of rows costs more in the driver than in the server. Instead the server
writes a block of rows as one text, `GROUP_CONCAT(CONCAT_WS(',', ...))`, one line a
row, and the caller parses the block at once (numpy, or as CSV). The server writes
doubles in their shortest round-trip form, as Python's repr does, so nothing is lost.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import String


def lift_group_concat_limit(connection: Connection) -> int:
    """Lift GROUP_CONCAT's 1 MiB default to the packet size (this session); return it.

    GROUP_CONCAT cuts a result silently at its limit: callers still compare the lines
    they get with the rows counted.
    """
    packet = int(connection.scalar(text("SELECT @@max_allowed_packet")))
    connection.execute(text(f"SET SESSION group_concat_max_len = {packet}"))
    return packet


class Lines(FunctionElement[str]):
    """GROUP_CONCAT(line ORDER BY key SEPARATOR newline): a block of lines, in order."""

    name = "group_concat"
    type = String()
    inherit_cache = True


@compiles(Lines, "mysql")
@compiles(Lines, "mariadb")
def _compile_lines(element: Lines, compiler: SQLCompiler, **kw: Any) -> str:
    line, order = list(element.clauses)
    # The separator is a real newline inside the quotes: no escape depends on sql_mode.
    return (
        f"GROUP_CONCAT({compiler.process(line, **kw)} "
        f"ORDER BY {compiler.process(order, **kw)} SEPARATOR '\n')"
    )
