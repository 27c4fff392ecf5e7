"""Backing up and restoring the whole database (`bem db backup`, `bem db restore`).

SQLite: the backup is a copy of the database file made with SQLite's online backup API,
marked with this application's id so that a restore recognises it.

MariaDB/MySQL: the backup is the SQL text of mariadb-dump (or mysqldump) under a first
line naming this application, and a restore feeds it to the mariadb (or mysql) client.
The credentials reach those programs through an option file readable by this user only,
never through their command line, so they appear neither in the process list nor in a
message.

A backup is written beside its name and renamed at the end, so an interrupted backup
never leaves a file that looks complete. A restore refuses a file that is not one of
these backups, a truncated dump, and a database that holds data unless told to replace it.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import URL

from datastore.connect import DatastoreError
from datastore.migrate import current_revision

# PRAGMA application_id of a SQLite backup: "BEM1" read as a big-endian integer.
SQLITE_APPLICATION_ID = int.from_bytes(b"BEM1", "big")
SQLITE_MAGIC = b"SQLite format 3\x00"
# The first line of a SQL backup; a restore refuses a file that does not start with it.
SQL_HEADER = "-- Battery Experiments Manager backup"
# mariadb-dump and mysqldump end a complete dump with this comment.
DUMP_COMPLETED = b"-- Dump completed"
VERSION_TABLE = "alembic_version"

DUMP_PROGRAMS = ("mariadb-dump", "mysqldump")
CLIENT_PROGRAMS = ("mariadb", "mysql")
MISSING_CLIENT = "install the MariaDB client programs (Debian/Ubuntu: apt install mariadb-client)"


class BackupError(DatastoreError):
    """A backup or restore that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class Contents:
    """What a database holds: its row count per table, and its schema revision."""

    rows: dict[str, int]
    revision: str | None

    @property
    def tables(self) -> int:
        return len(self.rows)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


# ---------------------------------------------------------------- what a database holds


def table_rows(engine: Engine) -> dict[str, int]:
    """The row count of every table of the database, by table name."""
    names = sorted(inspect(engine).get_table_names())
    quote = engine.dialect.identifier_preparer.quote
    with engine.connect() as connection:
        return {
            name: int(connection.scalar(text(f"SELECT COUNT(*) FROM {quote(name)}")) or 0)
            for name in names
        }


def contents(engine: Engine) -> Contents:
    rows = table_rows(engine)
    return Contents(rows, current_revision(engine) if VERSION_TABLE in rows else None)


def holds_data(engine: Engine) -> bool:
    """Whether any table but the schema revision has a row: an empty schema made by
    `bem db upgrade` holds none."""
    names = [name for name in inspect(engine).get_table_names() if name != VERSION_TABLE]
    quote = engine.dialect.identifier_preparer.quote
    with engine.connect() as connection:
        return any(
            connection.execute(text(f"SELECT 1 FROM {quote(name)} LIMIT 1")).first() is not None
            for name in names
        )


# ---------------------------------------------------------------- backup


def backup(engine: Engine, path: Path) -> Contents:
    """Write a backup of the database of `engine` to `path`; what it holds."""
    if path.exists():
        raise BackupError(f"{path}: exists already; choose another name or remove it first")
    if not path.parent.is_dir():
        raise BackupError(f"{path.parent}: no such folder")
    partial = path.with_name(f".{path.name}.part")
    try:
        if engine.dialect.name == "sqlite":
            _backup_sqlite(_sqlite_path(engine), partial)
            with _sqlite_file(partial) as connection:
                result = _sqlite_contents(connection)
        else:
            result = contents(engine)
            _backup_server(engine.url, partial, result)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return result


def _backup_sqlite(source: Path, target: Path) -> None:
    target.unlink(missing_ok=True)
    with _sqlite_file(source) as live, _sqlite_file(target) as copy:
        live.backup(copy)
        # One self-contained file, marked as ours.
        copy.execute("PRAGMA journal_mode=DELETE")
        copy.execute(f"PRAGMA application_id={SQLITE_APPLICATION_ID}")
        copy.commit()


def _backup_server(url: URL, target: Path, result: Contents) -> None:
    program = _program(DUMP_PROGRAMS)
    header = (
        f"{SQL_HEADER}, schema revision {result.revision or 'none'}, "
        f"{dt.datetime.now(dt.UTC):%Y-%m-%dT%H:%M:%SZ}\n"
    )
    with _option_file(url) as options, target.open("wb") as out:
        out.write(header.encode())
        out.flush()
        command = [
            program,
            f"--defaults-file={options}",
            "--single-transaction",
            "--quick",
            "--hex-blob",
            "--no-tablespaces",
            "--skip-lock-tables",
            "--default-character-set=utf8mb4",
            _database_name(url),
        ]
        _run(command, stdout=out, stdin=None, what="the backup")


# ---------------------------------------------------------------- restore


def restore(engine: Engine, path: Path, *, force: bool = False) -> Contents:
    """Replace the database of `engine` with the backup in `path`; what it then holds.

    Refuses a database that holds data unless `force`, before touching anything.
    """
    if not path.is_file():
        raise BackupError(f"{path}: no such file")
    kind = backup_kind(path)
    dialect = "sqlite" if engine.dialect.name == "sqlite" else "server"
    if kind != dialect:
        made, here = (
            ("a SQLite database", "a MariaDB/MySQL database")
            if kind == "sqlite"
            else ("a MariaDB/MySQL database", "a SQLite database")
        )
        raise BackupError(
            f"{path}: a backup of {made}; the configured database is {here}: "
            "restore it into the kind of database it came from"
        )
    if kind == "server":
        _check_dump_complete(path)
    if not force and holds_data(engine):
        raise BackupError(
            "the database holds data: restoring would replace all of it. "
            "Restore into an empty database, or add --force to replace its contents"
        )
    if kind == "sqlite":
        engine.dispose()
        _restore_sqlite(path, _sqlite_path(engine))
    else:
        _drop_tables(engine)
        _restore_server(engine.url, path)
    engine.dispose()
    return contents(engine)


def backup_kind(path: Path) -> str:
    """ "sqlite" or "server" for a backup of ours; BackupError for any other file."""
    with path.open("rb") as file:
        start = file.read(len(SQLITE_MAGIC) + 200)
    if start.startswith(SQLITE_MAGIC):
        application_id = int.from_bytes(start[68:72], "big")
        if application_id != SQLITE_APPLICATION_ID:
            raise BackupError(
                f"{path}: a SQLite database, but not a backup made by `bem db backup`"
            )
        return "sqlite"
    if start.startswith(SQL_HEADER.encode()):
        return "server"
    raise BackupError(f"{path}: not a backup made by `bem db backup`")


def _check_dump_complete(path: Path) -> None:
    size = path.stat().st_size
    with path.open("rb") as file:
        file.seek(max(0, size - 4096))
        tail = file.read()
    if DUMP_COMPLETED not in tail:
        raise BackupError(
            f"{path}: the backup is incomplete (it does not end as a finished dump does); "
            "nothing was restored"
        )


def _restore_sqlite(source: Path, target: Path) -> None:
    with _sqlite_file(source, read_only=True) as backup_copy, _sqlite_file(target) as live:
        backup_copy.backup(live)
        live.execute("PRAGMA application_id=0")
        live.commit()


def _drop_tables(engine: Engine) -> None:
    names = inspect(engine).get_table_names()
    if not names:
        return
    quote = engine.dialect.identifier_preparer.quote
    with engine.begin() as connection:
        connection.execute(text("SET FOREIGN_KEY_CHECKS=0"))
        connection.execute(text(f"DROP TABLE {', '.join(quote(name) for name in names)}"))
        connection.execute(text("SET FOREIGN_KEY_CHECKS=1"))


def _restore_server(url: URL, source: Path) -> None:
    program = _program(CLIENT_PROGRAMS)
    with _option_file(url) as options, source.open("rb") as dump:
        command = [program, f"--defaults-file={options}", _database_name(url)]
        try:
            _run(command, stdout=subprocess.DEVNULL, stdin=dump, what="the restore")
        except BackupError as error:
            raise BackupError(
                f"{error}; the database may now hold part of the backup: "
                "fix the cause and restore again with --force"
            ) from None


# ---------------------------------------------------------------- helpers


def _sqlite_path(engine: Engine) -> Path:
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise BackupError("database.url: only a SQLite database in a file can be backed up")
    return Path(database)


@contextmanager
def _sqlite_file(path: Path, *, read_only: bool = False) -> Iterator[sqlite3.Connection]:
    if read_only:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    else:
        connection = sqlite3.connect(path)
    try:
        yield connection
    except sqlite3.DatabaseError as error:
        raise BackupError(f"{path}: {error}") from None
    finally:
        connection.close()


def _sqlite_contents(connection: sqlite3.Connection) -> Contents:
    names = [
        row[0]
        for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
    ]
    rows = {
        name: connection.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0] for name in names
    }
    revision = None
    if VERSION_TABLE in rows:
        found = connection.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchone()
        revision = found[0] if found else None
    return Contents(rows, revision)


def _program(candidates: Sequence[str]) -> str:
    for name in candidates:
        found = shutil.which(name)
        if found:
            return found
    raise BackupError(f"neither {' nor '.join(candidates)} was found on PATH: {MISSING_CLIENT}")


def _database_name(url: URL) -> str:
    if not url.database:
        raise BackupError("database.url: names no database (expected .../DATABASE at its end)")
    return url.database


def option_file_text(url: URL) -> str:
    """The [client] option group that gives the MariaDB programs the server and the
    credentials of `url`."""
    lines = ["[client]", f"host={_option_value(url.host or 'localhost')}"]
    if url.port:
        lines.append(f"port={url.port}")
    socket = url.query.get("unix_socket")
    if isinstance(socket, str):
        lines.append(f"socket={_option_value(socket)}")
    if url.username:
        lines.append(f"user={_option_value(url.username)}")
    if url.password:
        lines.append(f"password={_option_value(str(url.password))}")
    return "\n".join(lines) + "\n"


def _option_value(value: str) -> str:
    escaped = (
        value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    )
    return f'"{escaped}"'


@contextmanager
def _option_file(url: URL) -> Iterator[str]:
    """A temporary option file with the credentials of `url`, readable by this user only
    (mode 0600 from its creation), removed afterwards."""
    descriptor, name = tempfile.mkstemp(prefix="bem-db-", suffix=".cnf")
    try:
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(option_file_text(url))
        yield name
    finally:
        Path(name).unlink(missing_ok=True)


def _run(
    command: list[str], *, stdout: IO[bytes] | int, stdin: IO[bytes] | None, what: str
) -> None:
    program = Path(command[0]).name
    completed = subprocess.run(
        command,
        stdin=stdin,
        stdout=stdout,
        stderr=subprocess.PIPE,
        check=False,
    )
    if completed.returncode != 0:
        reason = completed.stderr.decode(errors="replace").strip().splitlines()
        detail = reason[-1] if reason else f"exit status {completed.returncode}"
        raise BackupError(f"{what} failed: {program}: {detail}")
