"""`bem web`: serve the web application.

By default with gunicorn: `web.workers` processes, each answering `web.threads` requests
at once. Every worker builds its own app and its own database connections after the
fork; nothing a page needs lives in one worker's memory (docs/deployment.md), so any
worker answers any request. `--dev` serves with Flask's development server instead, in
one process; only there can the interactive debugger (`web.debug`) be turned on, and
only on a loopback address.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
from typing import Any

import bootstrap
from cli.common import open_datastore
from config import Settings, load_settings
from datastore import Datastore

# What gunicorn writes per request with --access-log: the worker's pid is in each line.
ACCESS_LOG_FORMAT = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms pid=%(p)s'
# A request running longer than this is killed with its worker: an import runs in a
# thread of its own and is not bound by it (components/import_runner.py).
WORKER_TIMEOUT_S = 120


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "web",
        help="serve the web application",
        description=(
            "Serve the web application with gunicorn: web.workers processes of web.threads "
            "threads each. --dev serves with the development server instead."
        ),
    )
    parser.add_argument("--host", help="address to listen on (default: the setting web.host)")
    parser.add_argument(
        "--port", type=int, help="port to listen on (default: the setting web.port)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="worker processes (default: the setting web.workers)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="requests each worker answers at once (default: the setting web.threads)",
    )
    parser.add_argument(
        "--access-log",
        action="store_true",
        help="print one line per request (with the worker's pid) on standard output",
    )
    parser.add_argument(
        "--dev",
        action="store_true",
        help="the development server, one process (web.debug applies only here, on loopback)",
    )
    parser.add_argument(
        "--wait-db",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="keep trying to reach the database for this long at start (default: 60)",
    )
    parser.set_defaults(handler=run)


def is_loopback(host: str) -> bool:
    """True when `host` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_debug(settings: Settings, host: str) -> None:
    """Refuse the interactive debugger anywhere but on a loopback address: it runs any
    code a visitor types."""
    if settings.web.debug and not is_loopback(host):
        raise bootstrap.StartupError(
            f"web.debug: the debugger is served on loopback addresses only, not on {host!r}; "
            "set web.debug false (BEM_WEB_DEBUG) or listen on 127.0.0.1"
        )


def serve(settings: Settings, store: Datastore, host: str, port: int) -> None:
    """The development server, in this process (`bem web --dev`, `bem demo`)."""
    check_debug(settings, host)
    app = bootstrap.web_app(settings, store)
    print(f"Battery Experiments Manager on http://{host}:{port}/  (Ctrl+C stops)", flush=True)
    app.run(host=host, port=port, debug=settings.web.debug)


def gunicorn_options(
    settings: Settings,
    host: str,
    port: int,
    workers: int,
    threads: int,
    access_log: bool,
) -> dict[str, Any]:
    """gunicorn's settings for `bem web`."""
    if workers < 1 or threads < 1:
        raise bootstrap.StartupError("--workers, --threads: expected positive integers")
    options: dict[str, Any] = {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        "timeout": WORKER_TIMEOUT_S,
        # Each worker builds the app after the fork: no database connection is shared
        # between processes.
        "preload_app": False,
        "errorlog": "-",
        "loglevel": "info",
        # gunicorn 27's control socket is one path per user: two servers would share it.
        "control_socket_disable": True,
    }
    if access_log:
        options["accesslog"] = "-"
        options["access_log_format"] = ACCESS_LOG_FORMAT
    return options


def serve_with_gunicorn(settings: Settings, options: dict[str, Any]) -> None:
    """Run gunicorn's arbiter until it is stopped (SIGTERM or Ctrl+C)."""
    from gunicorn.app.base import BaseApplication

    class WebApplication(BaseApplication):
        def load_config(self) -> None:
            for key, value in options.items():
                if key in self.cfg.settings:  # an option older gunicorns lack is left out
                    self.cfg.set(key, value)

        def load(self) -> Any:
            # Called in each worker after the fork.
            return bootstrap.web_app(settings, bootstrap.open_store(settings, wait_s=60)).server

    # The options above are all it reads: not the command line, not GUNICORN_CMD_ARGS.
    WebApplication().run()


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    bootstrap.configure_logging(settings, service=True)
    host = args.host or settings.web.host
    port = args.port or settings.web.port
    if args.dev:
        check_debug(settings, host)  # before anything is opened
        serve(settings, open_datastore(settings, wait_s=args.wait_db), host, port)
        return 0
    if settings.web.debug:
        print(
            "web.debug is ignored: the debugger exists only in the development server "
            "(bem web --dev, on a loopback address).",
            file=sys.stderr,
            flush=True,
        )
    options = gunicorn_options(
        settings,
        host,
        port,
        settings.web.workers if args.workers is None else args.workers,
        settings.web.threads if args.threads is None else args.threads,
        args.access_log,
    )
    # Wait for the database here, once, so that workers start on a reachable one; the
    # engine is closed before the fork.
    open_datastore(settings, wait_s=args.wait_db).engine.dispose()
    print(
        f"Battery Experiments Manager on http://{host}:{port}/ "
        f"({options['workers']} workers of {options['threads']} threads; Ctrl+C stops)",
        flush=True,
    )
    serve_with_gunicorn(settings, options)
    return 0
