"""`bem simulate`: a simulated cycler (one computational unit with N stations)."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import signal
import threading

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
    parser.add_argument("--unit", default="sim-unit", help="unit name (default: sim-unit)")
    parser.add_argument("--stations", type=int, default=4, help="number of stations (default: 4)")
    parser.add_argument(
        "--rate",
        type=float,
        default=4.0,
        metavar="HZ",
        help="samples per second and station, in wall-clock time (default: 4)",
    )
    parser.add_argument(
        "--speed",
        type=float,
        default=1.0,
        metavar="X",
        help="time acceleration: simulated seconds per real second (default: 1)",
    )
    parser.add_argument("--verbose", "-v", action="store_true")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from cli.node import broker_settings
    from mqtt_node.transport import PahoTransport
    from simulation.cycler import SimulatedCycler, SimulatorOptions

    if not 1 <= args.stations <= 256:
        raise CommandError(f"--stations: expected 1 to 256, got {args.stations}")
    if not 0 < args.rate <= 1000:
        raise CommandError(
            f"--rate: expected a rate above 0 and at most 1000 Hz, got {args.rate:g}"
        )
    if not 0 < args.speed <= 10000:
        raise CommandError(
            f"--speed: expected a factor above 0 and at most 10000, got {args.speed:g}"
        )
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    settings = load_settings()
    broker = broker_settings(settings, client_id=f"bem-sim-{args.unit}")
    # A simulator keeps no session: a fresh one after each restart.
    transport = PahoTransport(dataclasses.replace(broker, persistent=False))
    cycler = SimulatedCycler(
        transport,
        SimulatorOptions(
            unit=args.unit,
            stations=args.stations,
            rate_hz=args.rate,
            speed=args.speed,
            topic_prefix=settings.mqtt.topic_prefix,
        ),
    )
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    cycler.start()
    with contextlib.suppress(KeyboardInterrupt):
        stopped.wait()
    cycler.stop()
    return 0
