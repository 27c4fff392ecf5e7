"""`bem node`: the MQTT node linking cycler controllers and the database."""

from __future__ import annotations

import argparse
import logging
import signal

import bootstrap
from cli.common import open_datastore
from config import load_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "node",
        help="run the MQTT node (ingest, station liveness, dispatch)",
        description=(
            "Run the MQTT node: store cycler telemetry, track which stations are online, "
            "start queued experiments and forward operator commands. Needs a broker "
            "(mqtt.host / BEM_MQTT_HOST)."
        ),
    )
    parser.add_argument(
        "--shared-group",
        metavar="GROUP",
        help="split ingest with other nodes through MQTT shared subscriptions in GROUP",
    )
    parser.add_argument("--client-id", help="MQTT client id (default: mqtt.client_id)")
    parser.add_argument(
        "--wait-db",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="keep trying to reach the database for this long at start (default: 120)",
    )
    parser.add_argument("--verbose", "-v", action="store_true", help="log every batch")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    bootstrap.configure_logging(settings, service=True, verbose=args.verbose)
    broker = bootstrap.broker_settings(settings, client_id=args.client_id)
    store = open_datastore(settings, wait_s=args.wait_db)
    node = bootstrap.node(settings, store, shared_group=args.shared_group, client_id=args.client_id)

    def stop(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    logging.getLogger("bem.node").info(
        "node %r on broker %s:%d, database %s",
        broker.client_id,
        broker.host,
        broker.port,
        store.where,
    )
    try:
        node.run_forever()
    except KeyboardInterrupt:
        node.stop()
    return 0
