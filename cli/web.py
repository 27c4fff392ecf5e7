"""`bem web`: serve the web application."""

from __future__ import annotations

import argparse

import bootstrap
from cli.common import open_datastore
from config import Settings, load_settings
from datastore import Datastore


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "web",
        help="serve the web application",
        description="Serve the web application (development server; use gunicorn 'bootstrap:wsgi()' in production).",
    )
    parser.add_argument("--host", help="address to listen on (default: the setting web.host)")
    parser.add_argument(
        "--port", type=int, help="port to listen on (default: the setting web.port)"
    )
    parser.add_argument(
        "--wait-db",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="keep trying to reach the database for this long at start (default: 60)",
    )
    parser.set_defaults(handler=run)


def serve(settings: Settings, store: Datastore, host: str, port: int) -> None:
    app = bootstrap.web_app(settings, store)
    print(f"Battery Experiments Manager on http://{host}:{port}/  (Ctrl+C stops)", flush=True)
    app.run(host=host, port=port, debug=settings.web.debug)


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    bootstrap.configure_logging(settings, service=True)
    store = open_datastore(settings, wait_s=args.wait_db)
    serve(
        settings,
        store,
        args.host or settings.web.host,
        args.port or settings.web.port,
    )
    return 0
