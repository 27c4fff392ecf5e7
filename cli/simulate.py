"""`bem simulate`: a simulated cycler (one computational unit with N stations)."""

from __future__ import annotations

import argparse
import contextlib
import signal
import threading

import bootstrap
from cli.common import CommandError
from config import load_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="run a simulated cycler against the broker",
        description=(
            "Run a simulated computational unit: it announces N stations, sends heartbeats, "
            "obeys start/stop/pause/resume and publishes measures from an equivalent-circuit "
            "battery model. It speaks only the MQTT protocol (no database access)."
        ),
    )
    parser.add_argument("--unit", help="unit name (default: the setting simulator.unit)")
    parser.add_argument(
        "--stations", type=int, help="number of stations (default: simulator.stations)"
    )
    parser.add_argument(
        "--rate",
        type=float,
        metavar="HZ",
        help="samples per second and station, in wall-clock time (default: simulator.rate_hz)",
    )
    parser.add_argument(
        "--speed",
        type=float,
        metavar="X",
        help="time acceleration: simulated seconds per real second (default: simulator.speed)",
    )
    parser.add_argument("--verbose", "-v", action="store_true")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.stations is not None and not 1 <= args.stations <= 256:
        raise CommandError(f"--stations: expected 1 to 256, got {args.stations}")
    if args.rate is not None and not 0 < args.rate <= 1000:
        raise CommandError(
            f"--rate: expected a rate above 0 and at most 1000 Hz, got {args.rate:g}"
        )
    if args.speed is not None and not 0 < args.speed <= 10000:
        raise CommandError(
            f"--speed: expected a factor above 0 and at most 10000, got {args.speed:g}"
        )
    settings = load_settings()
    bootstrap.configure_logging(settings, service=True, verbose=args.verbose)
    cycler = bootstrap.simulated_cycler(
        settings,
        unit=args.unit,
        stations=args.stations,
        rate_hz=args.rate,
        speed=args.speed,
    )
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    cycler.start()
    with contextlib.suppress(KeyboardInterrupt):
        stopped.wait()
    cycler.stop()
    return 0
