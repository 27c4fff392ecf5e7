"""`bem demo`: a ready-to-explore app on SQLite with demo data."""

from __future__ import annotations

import argparse
import signal
import time

from cli.common import Datastore, open_datastore
from cli.web import serve
from components.context import WebContext
from config import load_settings
from simulation.demo_data import demo_summary, seed_demo_data


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="fill the database with demo data (once) and serve the app",
        description=(
            "Create the database if missing, fill it once with demo data, start simulated "
            "cyclers and the node (in-process unless BEM_MQTT_HOST is set), and serve the app."
        ),
    )
    parser.add_argument("--host", help="address to listen on (default: web.host, 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default: web.port, 8050)")
    parser.add_argument("--no-serve", action="store_true", help="only create the demo data")
    parser.add_argument(
        "--no-cyclers", action="store_true", help="serve without the running simulated cyclers"
    )
    parser.set_defaults(handler=run)


def ensure_demo_data(store: Datastore) -> bool:
    """Seed the demo lab into an empty database and say in one line what happened."""
    where = store.engine.url.render_as_string(hide_password=True)
    started = time.perf_counter()
    created = seed_demo_data(store.sessions)
    if not created:
        print(f"Data already there in {where}: demo data not added.", flush=True)
        return False
    with store.sessions() as session:
        counts = demo_summary(session)
    print(
        f"Demo data created in {where}: {counts['batteries']} batteries, "
        f"{counts['stations']} stations, {counts['profiles']} profiles, "
        f"{counts['experiments']} experiments, {counts['samples']:,} samples "
        f"({time.perf_counter() - started:.1f} s).",
        flush=True,
    )
    return True


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    store = open_datastore(settings)
    ensure_demo_data(store)
    if args.no_serve:
        return 0
    # A service manager stops with SIGTERM: stop the cyclers and the node as Ctrl+C does.
    signal.signal(signal.SIGTERM, _interrupt)
    live = None
    if not args.no_cyclers:
        from simulation.live_demo import start_live_demo

        live = start_live_demo(store.engine, store.sessions, settings)
        where = f"broker {settings.mqtt.host}" if settings.mqtt.host else "an in-process broker"
        print(f"Simulated cyclers running over {where}.", flush=True)
    try:
        serve(
            WebContext(settings, store.engine, store.sessions),
            args.host or settings.web.host,
            args.port or settings.web.port,
        )
    finally:
        if live is not None:
            live.stop()
    return 0


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt
