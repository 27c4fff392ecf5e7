"""`bem node`: the MQTT node linking cycler controllers and the database."""

from __future__ import annotations

import argparse
import logging
import signal

from cli.common import CommandError, open_datastore
from config import Settings, load_settings


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


def node_options(settings: Settings, shared_group: str | None = None):
    """The node's runtime options: every `node.*` setting it shares, plus the MQTT topics."""
    import dataclasses

    from mqtt_node.node import NodeOptions

    shared = {f.name for f in dataclasses.fields(NodeOptions)}
    return NodeOptions(
        topic_prefix=settings.mqtt.topic_prefix,
        shared_group=settings.mqtt.shared_group if shared_group is None else shared_group,
        **{key: value for key, value in dataclasses.asdict(settings.node).items() if key in shared},
    )


def broker_settings(settings: Settings, client_id: str | None = None):
    from mqtt_node.transport import BrokerSettings

    mqtt = settings.mqtt
    if not mqtt.host:
        raise CommandError("mqtt.host: no broker configured; set BEM_MQTT_HOST (or mqtt.host)")
    return BrokerSettings(
        host=mqtt.host,
        port=mqtt.port,
        username=mqtt.username,
        password=mqtt.password,
        client_id=client_id or mqtt.client_id,
        keepalive=mqtt.keepalive,
    )


def run(args: argparse.Namespace) -> int:
    from mqtt_node.node import Node
    from mqtt_node.transport import PahoTransport

    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    settings = load_settings()
    broker = broker_settings(settings, args.client_id)
    store = open_datastore(settings, wait_s=args.wait_db)
    node = Node(store.engine, PahoTransport(broker), node_options(settings, args.shared_group))

    def stop(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    logging.getLogger("bem.node").info(
        "node %r on broker %s:%d, database %s",
        broker.client_id,
        broker.host,
        broker.port,
        store.engine.url.render_as_string(),
    )
    try:
        node.run_forever()
    except KeyboardInterrupt:
        node.stop()
    return 0
