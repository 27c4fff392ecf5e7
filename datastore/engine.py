"""Engine set-up for each database dialect, in one place.

SQLite (the default, embedded): WAL journal, foreign keys on, a busy timeout.
MariaDB/MySQL through PyMySQL: utf8mb4, pre-ping and recycling of pooled connections.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from config import ConfigError, mask_url

# What read queries accept: a session (its transaction), a connection, or an engine.
Bind = Session | Connection | Engine

SQLITE_BUSY_TIMEOUT_MS = 30_000


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str, **options: Any) -> Engine:
    """Create an engine for `url` with the options its dialect needs.

    A URL SQLAlchemy cannot use is a ConfigError in one sentence, with the password masked
    (SQLAlchemy's own messages repeat the whole URL).
    """
    try:
        parsed = make_url(url)
        parsed.get_dialect()
    except NoSuchModuleError:
        raise ConfigError(
            f"database.url: no database driver for {mask_url(url)!r}; "
            "use sqlite:/// or mysql+pymysql://"
        ) from None
    except (ArgumentError, ValueError):
        raise ConfigError(
            f"database.url: {mask_url(url)!r} is not a database URL "
            "(expected e.g. mysql+pymysql://user:password@host:3306/bem)"
        ) from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            parsed,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
            **options,
        )
        event.listen(engine, "connect", _on_sqlite_connect)
        return engine
    if backend in ("mysql", "mariadb"):
        if "charset" not in parsed.query:
            parsed = parsed.update_query_dict({"charset": "utf8mb4"})
        options.setdefault("pool_pre_ping", True)
        options.setdefault("pool_recycle", 3600)
        options.setdefault("pool_size", 5)
        options.setdefault("max_overflow", 10)
        return create_engine(parsed, **options)
    raise ValueError(f"unsupported database {backend!r}: use sqlite:// or mysql+pymysql://")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def is_mysql(engine: Engine) -> bool:
    return engine.dialect.name in ("mysql", "mariadb")


def connection_of(bind: Bind) -> AbstractContextManager[Connection]:
    """A connection to run queries on: the session's or the given one, or a new one from an
    engine (closed at the end of the `with` block)."""
    if isinstance(bind, Session):
        return nullcontext(bind.connection())
    if isinstance(bind, Engine):
        return bind.connect()
    return nullcontext(bind)
