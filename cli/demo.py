"""`bem demo`: a ready-to-explore app on SQLite with demo data."""

from __future__ import annotations

import argparse
import signal
import time

import bootstrap
from cli.common import open_datastore
from cli.web import serve
from config import Settings, load_settings
from datastore import Datastore


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="fill the database with demo data (once) and serve the app",
        description=(
            "Create the database if missing, fill it once with demo data, start simulated "
            "cyclers and the node (in-process unless BEM_MQTT_HOST is set), and serve the app."
        ),
    )
    parser.add_argument("--host", help="address to listen on (default: the setting web.host)")
    parser.add_argument(
        "--port", type=int, help="port to listen on (default: the setting web.port)"
    )
    parser.add_argument("--no-serve", action="store_true", help="only create the demo data")
    parser.add_argument(
        "--no-cyclers", action="store_true", help="serve without the running simulated cyclers"
    )
    parser.set_defaults(handler=run)


def ensure_demo_data(store: Datastore, settings: Settings) -> bool:
    """Seed the demo lab into an empty database and say in one line what happened."""
    from simulation.demo_data import ProfileLimits, demo_summary, seed_demo_data

    where = store.where
    started = time.perf_counter()
    created = seed_demo_data(store.sessions, limits=ProfileLimits.of(settings))
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
    # The demo is for exploring on one's own machine: no accounts to make first.
    settings = load_settings().replace(auth={"enabled": False})
    store = open_datastore(settings)
    ensure_demo_data(store, settings)
    if args.no_serve:
        return 0
    # A service manager stops with SIGTERM: stop the cyclers and the node as Ctrl+C does.
    signal.signal(signal.SIGTERM, _interrupt)
    live = None
    if not args.no_cyclers:
        live = bootstrap.live_demo(settings, store)
        where = f"broker {settings.mqtt.host}" if settings.mqtt.host else "an in-process broker"
        print(f"Simulated cyclers running over {where}.", flush=True)
    print(
        "Sign-in is off in the demo: everyone who reaches the port can act. "
        "Serve real experiments with `bem web` (docs/security.md).",
        flush=True,
    )
    try:
        serve(
            settings,
            store,
            args.host or settings.web.host,
            args.port or settings.web.port,
        )
    finally:
        if live is not None:
            live.stop()
    return 0


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt
