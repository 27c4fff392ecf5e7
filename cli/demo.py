"""`bem demo`: a ready-to-explore app on SQLite with demo data."""

from __future__ import annotations

import argparse

from cli.common import open_datastore
from cli.web import serve
from components.context import WebContext
from config import load_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="fill the database with demo data (once) and serve the app",
        description="Create the database if missing, fill it once with demo data, and serve the app.",
    )
    parser.add_argument("--host", help="address to listen on (default: web.host, 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default: web.port, 8050)")
    parser.add_argument("--no-serve", action="store_true", help="only create the demo data")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    store = open_datastore(settings)
    if args.no_serve:
        return 0
    serve(
        WebContext(settings, store.engine, store.sessions),
        args.host or settings.web.host,
        args.port or settings.web.port,
    )
    return 0
