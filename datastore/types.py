"""Column types shared by the models and the migrations; keep them stable once released."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Text, TypeDecorator
from sqlalchemy import DateTime as _DateTime
from sqlalchemy.dialects import mysql


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Stores naive UTC with microseconds; always returns timezone-aware UTC datetimes."""

    impl = _DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(_DateTime())

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC datetimes")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# Long text that stays TEXT on SQLite and becomes MEDIUMTEXT on MariaDB (16 MiB).
LongText = Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")
# JSON documents; LONGTEXT-backed JSON on MariaDB.
Json = JSON().with_variant(mysql.JSON(), "mysql", "mariadb")
