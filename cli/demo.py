"""`bem demo`: a ready-to-explore app on SQLite with demo data."""

from __future__ import annotations

import argparse
import signal
import time
from typing import TYPE_CHECKING

import bootstrap
from cli.common import open_datastore
from cli.web import serve
from config import Settings, load_settings
from datastore import Datastore

if TYPE_CHECKING:
    from simulation.live_demo import Shutdown


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
    parser.add_argument(
        "--access-log",
        action="store_true",
        help="log every HTTP request (default: the setting demo.access_log, off)",
    )
    parser.set_defaults(handler=run)


def ensure_demo_data(store: Datastore, settings: Settings) -> bool:
    """Seed the demo lab into an empty database and say in one line what happened."""
    from simulation.demo_data import ProfileLimits, seed_demo_data

    where = store.where
    started = time.perf_counter()
    created = seed_demo_data(store.sessions, limits=ProfileLimits.of(settings))
    if not created:
        print(f"Data already there in {where}: demo data not added.", flush=True)
        return False
    print(f"Demo data created in {where} ({time.perf_counter() - started:.1f} s).", flush=True)
    return True


def lab_banner(store: Datastore) -> str:
    """What the database holds, counted there: the numbers the pages show."""
    from simulation.demo_data import demo_summary

    with store.sessions() as session:
        counts = demo_summary(session)
    return (
        f"The lab: {_count(counts['batteries'], 'battery', 'batteries')}, "
        f"{_count(counts['stations'], 'station')}, {_count(counts['profiles'], 'profile')}, "
        f"{_count(counts['experiments'], 'experiment')}, {_count(counts['samples'], 'sample')}."
    )


def shutdown_report(shutdown: Shutdown) -> str:
    """What stopping the demo did to the experiments on its stations, in a sentence or two."""
    from simulation.live_demo import SHUTDOWN_MESSAGE, SHUTDOWN_STATUS

    if shutdown.stopped:
        said = (
            f"Stopped {_count(len(shutdown.stopped), 'running experiment')} "
            f"({_ids(shutdown.stopped)}): they show as {SHUTDOWN_STATUS.value}, "
            f'"{SHUTDOWN_MESSAGE}".'
        )
    else:
        said = "No experiment was running."
    if shutdown.queued:
        waiting = _count(len(shutdown.queued), "queued experiment")
        said += (
            f" {waiting} ({_ids(shutdown.queued)}) "
            f"{'stays' if len(shutdown.queued) == 1 else 'stay'} queued and "
            f"{'starts' if len(shutdown.queued) == 1 else 'start'} when the demo runs again."
        )
    return said


def run(args: argparse.Namespace) -> int:
    # The demo is for exploring on one's own machine: no accounts to make first.
    settings = load_settings().replace(auth={"enabled": False})
    bootstrap.configure_logging(settings, service=True)
    bootstrap.access_log(args.access_log or settings.demo.access_log)
    store = open_datastore(settings)
    ensure_demo_data(store, settings)
    if args.no_serve:
        print(lab_banner(store), flush=True)
        return 0
    # A service manager stops with SIGTERM: stop the cyclers and the node as Ctrl+C does.
    signal.signal(signal.SIGTERM, _interrupt)
    live = None
    try:
        if not args.no_cyclers:
            live = bootstrap.live_demo(settings, store)
            where = f"broker {settings.mqtt.host}" if settings.mqtt.host else "an in-process broker"
            print(f"Simulated cyclers running over {where}.", flush=True)
        # After the live demo has added its cells and queued its pulse tests.
        print(lab_banner(store), flush=True)
        print(
            "Sign-in is off in the demo: everyone who reaches the port can act. "
            "Serve real experiments with `bem web` (docs/security.md).",
            flush=True,
        )
        serve(
            settings,
            store,
            args.host or settings.web.host,
            args.port or settings.web.port,
        )
    except KeyboardInterrupt:
        pass  # Ctrl+C before the server took over: stopped the same way
    finally:
        if live is not None:
            print("Stopping the simulated cyclers and the node...", flush=True)
            print(shutdown_report(live.stop()), flush=True)
    return 0


def _count(number: int, singular: str, plural: str | None = None) -> str:
    return f"{number:,} {singular if number == 1 else plural or singular + 's'}"


def _ids(ids: list[int]) -> str:
    return ", ".join(f"#{i}" for i in ids)


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt
