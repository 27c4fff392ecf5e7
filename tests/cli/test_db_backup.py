"""`bem db backup FILE` and `bem db restore FILE`, on SQLite and on MariaDB.

A database with batteries, a station, experiments and their samples is backed up and
restored into an empty database: every table then has the same number of rows, and the
samples the same checksum. A restore refuses a database that holds data (unless
--force) and a file that is not one of these backups, before touching anything.
"""

from __future__ import annotations

import hashlib
import os
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from datastore import make_engine
from datastore.backup import table_rows
from tests.cli.support import BATTERY, STATION, add_samples, bem, queue


def add_lab(capsys, engine: Engine, tmp_path: Path) -> None:
    """Two batteries, a station, two experiments with 500 and 300 samples."""
    assert bem(capsys, *BATTERY)[0] == 0
    assert bem(capsys, *BATTERY[:3], "second cell", *BATTERY[4:])[0] == 0
    assert bem(capsys, *STATION)[0] == 0
    for name, samples in (("first", 500), ("second", 300)):
        status, out, err = queue(capsys, tmp_path, name=name)
        assert status == 0, err
        experiment_id = int(out)
        rows = [
            (experiment_id, seq, 1.8e9 + seq, 3.5 + seq * 1e-4, 1.0 - seq * 1e-3, 3.5, 1)
            for seq in range(samples)
        ]
        add_samples(engine, experiment_id, rows)


def samples_checksum(engine: Engine) -> str:
    digest = hashlib.sha256()
    with engine.connect() as connection:
        for row in connection.execute(
            text(
                "SELECT experiment_id, seq, ts, voltage, current, power, cycle "
                "FROM measurements ORDER BY experiment_id, seq"
            )
        ):
            digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


class Databases:
    """The source database (the configured one, with the lab in it) and an empty target."""

    def __init__(self, source_url: str, source: Engine, target_url: str) -> None:
        self.source_url, self.source = source_url, source
        self.target_url = target_url
        self.target = make_engine(target_url)


@pytest.fixture
def sqlite_databases(sqlite_url: str, sqlite_engine: Engine, tmp_path: Path) -> Iterator[Databases]:
    target = f"sqlite:///{tmp_path / 'restored' / 'bem.sqlite3'}"
    databases = Databases(sqlite_url, sqlite_engine, target)
    yield databases
    databases.target.dispose()


@pytest.fixture
def mariadb_databases(mariadb_url: str, mariadb_engine: Engine) -> Iterator[Databases]:
    """The session's MariaDB database and a scratch one, created empty, dropped afterwards."""
    name = f"bem_restore_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with mariadb_engine.connect() as connection:
        connection.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    target = make_url(mariadb_url).set(database=name).render_as_string(hide_password=False)
    databases = Databases(mariadb_url, mariadb_engine, target)
    yield databases
    databases.target.dispose()
    with mariadb_engine.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))


@pytest.fixture(params=["sqlite", "mariadb"])
def databases(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, capsys, tmp_path: Path
) -> Databases:
    """Source and target on SQLite and on MariaDB; the source is configured and holds a lab."""
    found: Databases = request.getfixturevalue(f"{request.param}_databases")
    monkeypatch.setenv("BEM_DATABASE_URL", found.source_url)
    add_lab(capsys, found.source, tmp_path)
    return found


def test_a_restored_backup_has_every_row_and_the_same_samples(
    databases: Databases, capsys, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    backup_file = tmp_path / "lab.backup"
    counts, checksum = table_rows(databases.source), samples_checksum(databases.source)
    assert counts["measurements"] == 800 and counts["batteries"] == 2

    status, out, err = bem(capsys, "db", "backup", str(backup_file))
    assert status == 0, err
    assert backup_file.is_file()
    assert f"to {backup_file} (" in out
    assert f"{len(counts)} tables, {sum(counts.values()):,} rows" in out

    monkeypatch.setenv("BEM_DATABASE_URL", databases.target_url)
    status, out, err = bem(capsys, "db", "restore", str(backup_file))
    assert status == 0, err
    assert f"{len(counts)} tables, {sum(counts.values()):,} rows" in out
    assert table_rows(databases.target) == counts
    assert samples_checksum(databases.target) == checksum


def test_restore_refuses_a_database_that_holds_data_unless_forced(
    databases: Databases, capsys, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    backup_file = tmp_path / "lab.backup"
    assert bem(capsys, "db", "backup", str(backup_file))[0] == 0
    counts = table_rows(databases.source)
    # One more battery after the backup: the restore must not silently drop it.
    assert bem(capsys, *BATTERY[:3], "bought later", *BATTERY[4:])[0] == 0

    status, out, err = bem(capsys, "db", "restore", str(backup_file))
    assert status == 1 and out == ""
    assert "the database holds data" in err and "--force" in err
    assert table_rows(databases.source)["batteries"] == 3

    status, _out, err = bem(capsys, "db", "restore", "--force", str(backup_file))
    assert status == 0, err
    assert table_rows(databases.source) == counts


def test_restore_refuses_a_file_that_is_not_a_backup(
    databases: Databases, capsys, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    other = tmp_path / "notes.sql"
    other.write_text("DROP TABLE batteries;\n", encoding="utf-8")
    monkeypatch.setenv("BEM_DATABASE_URL", databases.target_url)

    status, _out, err = bem(capsys, "db", "restore", str(other))
    assert status == 1
    assert err == f"bem db: {other}: not a backup made by `bem db backup`\n"


def test_backup_refuses_to_overwrite_a_file(databases: Databases, capsys, tmp_path: Path) -> None:
    existing = tmp_path / "lab.backup"
    existing.write_text("keep me", encoding="utf-8")
    status, _out, err = bem(capsys, "db", "backup", str(existing))
    assert status == 1 and "exists already" in err
    assert existing.read_text(encoding="utf-8") == "keep me"


def test_a_sqlite_database_file_that_is_not_a_backup_is_refused(
    sqlite_url: str, sqlite_engine: Engine, capsys, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    live_file = make_url(sqlite_url).database
    monkeypatch.setenv("BEM_DATABASE_URL", f"sqlite:///{tmp_path / 'other.sqlite3'}")
    status, _out, err = bem(capsys, "db", "restore", str(live_file))
    assert status == 1
    assert "a SQLite database, but not a backup made by `bem db backup`" in err


def test_a_backup_is_restored_only_into_the_kind_of_database_it_came_from(
    mariadb_databases: Databases, capsys, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    backup_file = tmp_path / "lab.sql"
    monkeypatch.setenv("BEM_DATABASE_URL", mariadb_databases.source_url)
    assert bem(capsys, "db", "backup", str(backup_file))[0] == 0
    monkeypatch.setenv("BEM_DATABASE_URL", f"sqlite:///{tmp_path / 'bem.sqlite3'}")

    status, _out, err = bem(capsys, "db", "restore", str(backup_file))
    assert status == 1
    assert "a backup of a MariaDB/MySQL database; the configured database is a SQLite" in err


def test_a_truncated_dump_is_refused_before_the_database_is_touched(
    mariadb_databases: Databases, capsys, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    backup_file = tmp_path / "lab.sql"
    monkeypatch.setenv("BEM_DATABASE_URL", mariadb_databases.source_url)
    assert bem(capsys, "db", "backup", str(backup_file))[0] == 0
    complete = backup_file.read_bytes()
    backup_file.write_bytes(complete[: len(complete) // 2])
    monkeypatch.setenv("BEM_DATABASE_URL", mariadb_databases.target_url)

    status, _out, err = bem(capsys, "db", "restore", str(backup_file))
    assert status == 1 and "the backup is incomplete" in err and "nothing was restored" in err
    assert table_rows(mariadb_databases.target) == {}


# ---------------------------------------------------------------- the MariaDB programs


def test_the_database_password_reaches_the_dump_program_in_a_private_file_only(
    mariadb_databases: Databases, capsys, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A fake mariadb-dump records its command line and the option file it was given."""
    record = tmp_path / "record"
    fake = tmp_path / "bin" / "mariadb-dump"
    fake.parent.mkdir()
    fake.write_text(
        "#!/bin/sh\n"
        f'echo "$@" > {record}.args\n'
        f'file="${{1#--defaults-file=}}"; stat -c %a "$file" > {record}.mode; '
        f'cat "$file" > {record}.options\n'
        "echo '-- Dump completed'\n",
        encoding="utf-8",
    )
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    secret = 's3cret pass"word'
    url = make_url(mariadb_databases.source_url).set(username="lab", password=secret)
    monkeypatch.setenv("BEM_DATABASE_URL", url.render_as_string(hide_password=False))
    # The fake needs no server, but the command first checks that the database answers.
    monkeypatch.setattr("cli.db.wait_for_database", lambda *_args, **_kwargs: None)
    monkeypatch.setattr("datastore.backup.contents", _no_contents)

    status, out, err = bem(capsys, "db", "backup", str(tmp_path / "lab.sql"))
    assert status == 0, err
    assert secret not in (record.with_suffix(".args").read_text() + out + err)
    assert "lab:***@" in out
    assert record.with_suffix(".mode").read_text().strip() == "600"
    options = record.with_suffix(".options").read_text()
    assert 'user="lab"' in options and 'password="s3cret pass\\"word"' in options
    # The option file is gone once the dump has ended.
    option_path = record.with_suffix(".args").read_text().split()[0].split("=", 1)[1]
    assert not Path(option_path).exists()


def _no_contents(_engine: Engine):
    from datastore.backup import Contents

    return Contents({}, None)


def test_without_the_dump_program_the_backup_says_what_to_install(
    mariadb_databases: Databases, capsys, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("BEM_DATABASE_URL", mariadb_databases.source_url)
    monkeypatch.setenv("PATH", str(tmp_path))  # no program at all

    status, _out, err = bem(capsys, "db", "backup", str(tmp_path / "lab.sql"))
    assert status == 1
    assert "neither mariadb-dump nor mysqldump was found on PATH" in err
    assert "apt install mariadb-client" in err
    assert not (tmp_path / "lab.sql").exists()
