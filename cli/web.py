"""`bem web`: serve the web application."""

from __future__ import annotations

import argparse

from cli.common import open_datastore
from components.context import WebContext
from config import load_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "web",
        help="serve the web application",
        description="Serve the web application (development server; use gunicorn 'app:wsgi()' in production).",
    )
    parser.add_argument("--host", help="address to listen on (default: web.host, 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default: web.port, 8050)")
    parser.add_argument(
        "--wait-db",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="keep trying to reach the database for this long at start (default: 60)",
    )
    parser.set_defaults(handler=run)


def serve(context: WebContext, host: str, port: int) -> None:
    from app import create_app

    app = create_app(context=context)
    print(f"Battery Experiments Manager on http://{host}:{port}/  (Ctrl+C stops)", flush=True)
    app.run(host=host, port=port, debug=context.settings.web.debug)


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    store = open_datastore(settings, wait_s=args.wait_db)
    serve(
        WebContext(settings, store.engine, store.sessions),
        args.host or settings.web.host,
        args.port or settings.web.port,
    )
    return 0
