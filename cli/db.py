"""`bem db ...`: database maintenance."""

from __future__ import annotations

import argparse
from pathlib import Path

from sqlalchemy import Engine

from cli.common import CommandError
from config import load_settings
from datastore import make_engine, wait_for_database
from datastore.backup import Contents, backup, restore
from datastore.migrate import current_revision, head_revision, upgrade


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "db", help="database maintenance", description="Database maintenance."
    )
    commands = parser.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    up = commands.add_parser(
        "upgrade",
        help="create or migrate the schema (safe to repeat)",
        description=(
            "Create the tables or migrate them to this version's schema, and say from which "
            "revision to which. Safe to repeat."
        ),
    )
    up.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="keep trying to reach the database for this long (default: 0)",
    )
    up.set_defaults(handler=run_upgrade)
    status = commands.add_parser(
        "status", help="show the schema revision", description="Show the schema revision."
    )
    status.set_defaults(handler=run_status)
    save = commands.add_parser(
        "backup",
        help="write a backup of the whole database to FILE",
        description=(
            "Write a backup of the whole database to FILE: a copy of the database file for "
            "SQLite, the output of mariadb-dump (or mysqldump) for MariaDB/MySQL, which must "
            "then be installed. FILE must not exist yet."
        ),
    )
    save.add_argument("file", metavar="FILE", type=Path)
    save.set_defaults(handler=run_backup)
    load = commands.add_parser(
        "restore",
        help="replace the database with a backup made by `bem db backup`",
        description=(
            "Load a backup made by `bem db backup` into the configured database, which must "
            "be of the same kind (SQLite or MariaDB/MySQL). A database that holds data is "
            "refused unless --force is given. Stop the web app and the node first."
        ),
    )
    load.add_argument("file", metavar="FILE", type=Path)
    load.add_argument(
        "--force",
        action="store_true",
        help="replace the contents of a database that holds data",
    )
    load.set_defaults(handler=run_restore)


def run_upgrade(args: argparse.Namespace) -> int:
    settings = load_settings()
    engine = make_engine(settings.database.resolved_url)
    wait_for_database(engine, args.wait)
    before = current_revision(engine)
    upgrade(engine)
    after = current_revision(engine)
    where = engine.url.render_as_string(hide_password=True)
    if before == after:
        print(f"database {where} is up to date (revision {after})")
    else:
        print(f"database {where} upgraded from {before or 'empty'} to revision {after}")
    return 0


def run_status(args: argparse.Namespace) -> int:
    settings = load_settings()
    engine = make_engine(settings.database.resolved_url)
    wait_for_database(engine)
    current, head = current_revision(engine), head_revision()
    state = "up to date" if current == head else "needs `bem db upgrade`"
    print(f"revision {current or 'none'} (latest {head}): {state}")
    return 0


def run_backup(args: argparse.Namespace) -> int:
    settings = load_settings()
    url = settings.database.resolved_url
    engine = make_engine(url)
    if engine.dialect.name == "sqlite" and not _sqlite_file_exists(engine):
        raise CommandError(f"no database at {engine.url.database}: nothing to back up")
    wait_for_database(engine)
    where = engine.url.render_as_string(hide_password=True)
    written = backup(engine, args.file)
    size = args.file.stat().st_size
    print(f"backed up {where} to {args.file} ({_size(size)}): {_summary(written)}")
    return 0


def run_restore(args: argparse.Namespace) -> int:
    settings = load_settings()
    engine = make_engine(settings.database.resolved_url)
    wait_for_database(engine)
    where = engine.url.render_as_string(hide_password=True)
    restored = restore(engine, args.file, force=args.force)
    print(f"restored {args.file} into {where}: {_summary(restored)}")
    head = head_revision()
    if restored.revision != head:
        print(f"the backup's schema is behind this version's ({head}): run `bem db upgrade`")
    return 0


def _sqlite_file_exists(engine: Engine) -> bool:
    database = engine.url.database
    return bool(database) and Path(str(database)).is_file()


def _summary(contents: Contents) -> str:
    per_table = ", ".join(f"{name} {count:,}" for name, count in contents.rows.items() if count)
    return (
        f"{contents.tables} tables, {_rows(contents.total_rows)}, schema revision "
        f"{contents.revision or 'none'}" + (f" ({per_table})" if per_table else "")
    )


def _size(size: int) -> str:
    if size < 1024:
        return f"{size:,} bytes"
    scaled = float(size)
    for unit in ("KiB", "MiB", "GiB"):
        scaled /= 1024
        if scaled < 1024 or unit == "GiB":
            break
    return f"{scaled:.1f} {unit}"


def _rows(count: int) -> str:
    return "1 row" if count == 1 else f"{count:,} rows"
