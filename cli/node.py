"""`bem node`: the MQTT node linking cycler controllers and the database."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
import time
from pathlib import Path

import bootstrap
from cli.common import open_datastore
from config import load_settings
from mqtt_node.node import Node

# The node rewrites its health file this often while it works; `bem node check` calls it
# unhealthy when the file is older than HEALTH_MAX_AGE_S.
HEALTH_INTERVAL_S = 5.0
HEALTH_MAX_AGE_S = 30.0


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
    parser.add_argument(
        "--health-file",
        metavar="PATH",
        help=(
            f"rewrite this file every {HEALTH_INTERVAL_S:.0f} s while connected to the broker "
            "and writing; `bem node check` reads it"
        ),
    )
    parser.set_defaults(handler=run)
    actions = parser.add_subparsers(title="actions", metavar="ACTION")
    check = actions.add_parser(
        "check",
        help="exit 0 when a running node's health file is fresh (a container healthcheck)",
        description=(
            "Exit 0 when the node started with --health-file PATH has rewritten it lately "
            "(it does so only while connected to the broker and writing), 1 otherwise."
        ),
    )
    check.add_argument("--health-file", metavar="PATH", required=True)
    check.add_argument(
        "--max-age",
        type=float,
        default=HEALTH_MAX_AGE_S,
        metavar="SECONDS",
        help=f"the oldest heartbeat still healthy (default: {HEALTH_MAX_AGE_S:.0f})",
    )
    check.set_defaults(handler=run_check)


def health_verdict(path: Path, now: float, max_age_s: float) -> str | None:
    """None when `path` was rewritten within `max_age_s` of `now` (Unix time), else why not."""
    try:
        written = path.stat().st_mtime
    except FileNotFoundError:
        return f"{path}: no heartbeat yet (the node has not connected, or is not running)"
    age = now - written
    if age > max_age_s:
        return f"{path}: no heartbeat for {age:.0f} s (the node's log says why)"
    return None


def run_check(args: argparse.Namespace) -> int:
    problem = health_verdict(Path(args.health_file), time.time(), args.max_age)
    if problem:
        print(f"unhealthy: {problem}", flush=True)
        return 1
    print("healthy", flush=True)
    return 0


def _beat(node: Node, path: Path, stop: threading.Event) -> None:
    """Rewrite `path` every HEALTH_INTERVAL_S while the node is healthy; when it is not,
    leave the file to age and log the reason once."""
    log = logging.getLogger("bem.node")
    reported = None
    while not stop.wait(HEALTH_INTERVAL_S):
        problem = node.health()
        if problem is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_name(path.name + ".tmp")
            temporary.write_text(f"ok {time.time():.0f}\n", encoding="utf-8")
            os.replace(temporary, path)
        elif problem != reported:
            log.warning("unhealthy: %s", problem)
        reported = problem


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    bootstrap.configure_logging(settings, service=True, verbose=args.verbose)
    broker = bootstrap.broker_settings(settings, client_id=args.client_id)
    store = open_datastore(settings, wait_s=args.wait_db)
    node = bootstrap.node(settings, store, shared_group=args.shared_group, client_id=args.client_id)

    def stop(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    beating = threading.Event()
    if args.health_file:
        health_file = Path(args.health_file)
        health_file.unlink(missing_ok=True)  # a file from an earlier run says nothing
        threading.Thread(
            target=_beat, args=(node, health_file, beating), name="bem-node-health", daemon=True
        ).start()
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
    finally:
        beating.set()
    return 0
