"""`bem node`: the MQTT node linking cycler controllers and the database."""

from __future__ import annotations

import argparse

from cli.common import CommandError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "node",
        help="run the MQTT node (ingest, station liveness, dispatch)",
        description="Run the MQTT node: ingest cycler telemetry, track stations, dispatch experiments.",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    raise CommandError("the MQTT node is not built yet")
