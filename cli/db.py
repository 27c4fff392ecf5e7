"""`bem db ...`: database maintenance."""

from __future__ import annotations

import argparse

from config import load_settings
from datastore import make_engine, wait_for_database
from datastore.migrate import current_revision, head_revision, upgrade


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "db", help="database maintenance", description="Database maintenance."
    )
    commands = parser.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    up = commands.add_parser(
        "upgrade",
        help="create or migrate the schema (safe to repeat)",
        description="Create the tables or migrate them to this version's schema. Safe to repeat.",
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
