"""The composition root: the one place that builds the app's parts from settings.

Entry points (the `bem` commands, a WSGI server, the tests) call these functions and
nothing else to get a datastore, the web app, an MQTT transport, the node, a simulated
cycler or the live demo. Each part receives what it needs as arguments; none of them
reads settings or opens connections on its own.

Layers (docs/architecture.md): this module may import every package; no package imports
it. The simulation package is imported here lazily, only by the builders that need it.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from config import MqttSettings, Settings, load_settings, logs
from datastore import Datastore, open_datastore
from mqtt_node import broker_acl
from mqtt_node.node import Node
from mqtt_node.topics import Topics
from mqtt_node.transport import MemoryBroker, PahoTransport, Transport, TransportError

if TYPE_CHECKING:
    import dash
    import flask

    from simulation.cycler import SimulatedCycler
    from simulation.live_demo import LiveDemo


class StartupError(Exception):
    """Something the operator must set up before this process can run (one line)."""

    exit_status = 1


# ---------------------------------------------------------------- settings and the datastore


def open_store(settings: Settings, wait_s: float = 0.0) -> Datastore:
    """The configured database, connected and at the current schema."""
    return open_datastore(settings.database.resolved_url, wait_s)


def broker_settings(
    settings: Settings, *, client_id: str | None = None, persistent: bool | None = None
) -> MqttSettings:
    """The MQTT settings for one client; StartupError when no broker host is configured."""
    mqtt = settings.mqtt
    if not mqtt.host:
        raise StartupError("mqtt.host: no broker configured; set BEM_MQTT_HOST (or mqtt.host)")
    _check_tls(mqtt)
    changes: dict[str, Any] = {}
    if client_id:
        changes["client_id"] = client_id
    if persistent is not None:
        changes["persistent"] = persistent
    return dataclasses.replace(mqtt, **changes)


def _check_tls(mqtt: MqttSettings) -> None:
    """Refuse TLS files that are missing or only half of a client certificate, before a
    connection attempt fails on them with a less helpful message."""
    if not mqtt.tls:
        return
    if bool(mqtt.tls_cert_file) != bool(mqtt.tls_key_file):
        raise StartupError(
            "mqtt.tls_cert_file, mqtt.tls_key_file: a client certificate needs both, or set neither"
        )
    for key in ("tls_ca_file", "tls_cert_file", "tls_key_file"):
        path = getattr(mqtt, key)
        if path and not Path(path).is_file():
            raise StartupError(f"mqtt.{key}: expected an existing file, got {path!r}")


def paho_transport(mqtt: MqttSettings) -> PahoTransport:
    """A client of the configured broker; StartupError when its TLS files cannot be loaded
    (not PEM, a key that does not match its certificate)."""
    try:
        return PahoTransport(mqtt)
    except TransportError as error:
        raise StartupError(str(error)) from None


def unit_broker_settings(settings: Settings, unit: str) -> MqttSettings:
    """The MQTT settings of a simulated unit: it logs in under its own name (the broker's
    ACL gives that user its unit's topics only), with `simulator.password`; with no
    password set it connects without credentials, never with the node's."""
    base = broker_settings(settings, client_id=f"bem-sim-{unit}", persistent=False)
    password = settings.simulator.password
    return dataclasses.replace(base, username=unit if password else "", password=password)


# ---------------------------------------------------------------- logs


def configure_logging(
    settings: Settings | None, *, service: bool = False, verbose: bool = False
) -> None:
    """One line per event on standard error, in `logging.format` (config/logs.py).

    A service (the web app, the node, the demo, a simulator) writes events of
    `logging.level` and above (DEBUG with `verbose`); a short command writes warnings and
    errors only, so its output stays what it prints. With no settings (they could not be
    read: the command reports why), text lines.
    """
    style = settings.logging.format if settings else "text"
    if not service:
        level = "WARNING"
    elif verbose:
        level = "DEBUG"
    else:
        level = settings.logging.level.upper() if settings else "INFO"
    logs.install(style, level)
    # Migrations tell at every start of a SQLite database which dialect they use.
    logging.getLogger("alembic").setLevel(logging.WARNING)


def access_log(enabled: bool) -> None:
    """Log each HTTP request the development server serves (werkzeug's request lines)."""
    logging.getLogger("werkzeug").setLevel(logging.INFO if enabled else logging.WARNING)


# ---------------------------------------------------------------- web


def web_app(settings: Settings, store: Datastore) -> dash.Dash:
    """The Dash app serving `store`, with sign-in and the role checks (components/auth.py)."""
    from app import create_app, set_up_before_serving
    from components import auth

    app = create_app(settings, store)
    auth.install(app, settings)
    # Dash writes its own lines to stdout besides the log; one line per event is enough,
    # and the address the server listens on is said by `bem web` itself.
    for handler in list(app.logger.handlers):
        app.logger.removeHandler(handler)
    app.logger.setLevel(logging.WARNING)
    set_up_before_serving(app)
    return app


def wsgi() -> flask.Flask:
    """WSGI entry for production servers: `gunicorn 'bootstrap:wsgi()'`.

    Waits up to two minutes for the database, so the web service needs no restart by
    hand when it starts before the database server is ready.
    """
    settings = load_settings()
    configure_logging(settings, service=True)
    return web_app(settings, open_store(settings, wait_s=120)).server


# ---------------------------------------------------------------- node and transports


def node(
    settings: Settings,
    store: Datastore,
    transport: Transport | None = None,
    *,
    shared_group: str | None = None,
    client_id: str | None = None,
) -> Node:
    """The MQTT node on `store`, over `transport` (default: the configured broker)."""
    if transport is None:
        transport = paho_transport(broker_settings(settings, client_id=client_id))
    return Node(
        store.engine,
        transport,
        settings.node,
        Topics(settings.mqtt.topic_prefix),
        settings.mqtt.shared_group if shared_group is None else shared_group,
        acl=broker_acl.keeper(settings.mqtt, store.engine),
    )


def simulated_cycler(
    settings: Settings,
    transport: Transport | None = None,
    *,
    unit: str | None = None,
    stations: int | None = None,
    rate_hz: float | None = None,
    speed: float | None = None,
) -> SimulatedCycler:
    """A simulated computational unit (`bem simulate`); unset options come from settings."""
    from simulation.cycler import SimulatedCycler, SimulatorOptions

    simulator = settings.simulator
    unit = unit or simulator.unit
    if transport is None:
        # A simulator keeps no session: a fresh one after each restart.
        transport = paho_transport(unit_broker_settings(settings, unit))
    return SimulatedCycler(
        transport,
        SimulatorOptions(
            unit=unit,
            stations=simulator.stations if stations is None else stations,
            rate_hz=simulator.rate_hz if rate_hz is None else rate_hz,
            speed=simulator.speed if speed is None else speed,
            topic_prefix=settings.mqtt.topic_prefix,
        ),
    )


def live_demo(settings: Settings, store: Datastore) -> LiveDemo:
    """The node and the demo's simulated unit, running, with pulse tests queued.

    With no broker configured they talk over an in-process broker; with one, over it.
    """
    from simulation.live_demo import start_live_demo

    if settings.mqtt.host:
        base = broker_settings(settings)
        node_transport: Transport = paho_transport(base)
        # The cyclers' ids follow the node's: a fixed id would knock another demo's cyclers
        # off a shared broker (one connection per client id).
        cycler_transport: Transport = paho_transport(
            dataclasses.replace(base, client_id=f"{base.client_id}-sim0", persistent=False)
        )
    else:
        broker = MemoryBroker()
        node_transport, cycler_transport = broker.transport("node"), broker.transport("sim0")
    return start_live_demo(
        node(settings, store, node_transport), cycler_transport, store.sessions, settings
    )
