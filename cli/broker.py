"""`bem broker passwd|acl`: the Mosquitto password file and the ACL that keeps each unit
to its own topics (docs/security.md, "Broker")."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from cli.common import CommandError, open_datastore
from config import load_settings
from datastore.stations import station_ids_by_unit
from mqtt_node.broker_acl import acl_node_users
from mqtt_node.broker_auth import (
    BrokerAuthError,
    remove_user,
    render_acl,
    set_password,
    write_private,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "broker",
        help="write the MQTT broker's password file and ACL",
        description=(
            "Write Mosquitto's password file and ACL file. The node logs in as mqtt.username; "
            "each cycler unit logs in under its own unit name."
        ),
    )
    actions = parser.add_subparsers(dest="broker_action", metavar="ACTION", required=True)
    passwd = actions.add_parser(
        "passwd",
        help="add a broker user or change their password",
        description=(
            "Add USER to Mosquitto's password FILE (created if missing) or replace their "
            "password, stored hashed as mosquitto_passwd does. The password is read from "
            "standard input (its first line) or, on a terminal, prompted for twice; it is "
            "never an argument, so it stays out of the shell history. Reload the broker "
            "afterwards (SIGHUP)."
        ),
    )
    passwd.add_argument("file", type=Path, metavar="FILE")
    passwd.add_argument("user", metavar="USER", help="the node's user, or a unit's name")
    passwd.add_argument("--delete", action="store_true", help="remove USER instead")
    passwd.set_defaults(handler=run_passwd)
    acl = actions.add_parser(
        "acl",
        help="write the ACL from the database's units and stations",
        description=(
            "Write Mosquitto's ACL: the node users may use every topic under the prefix; "
            "each unit (user = unit name) may publish only its own announce and its own "
            "stations' heartbeat, status, measures and alarms, and read only its own "
            "registered and its own stations' commands. Run it again whenever stations are "
            "added or edited, then reload the broker (SIGHUP); a node with mqtt.acl_file "
            "set does this itself."
        ),
    )
    acl.add_argument(
        "--output", "-o", type=Path, metavar="FILE", help="write here (default: standard output)"
    )
    acl.add_argument(
        "--node-user",
        action="append",
        metavar="NAME",
        help=(
            "a node's broker user; repeat for several "
            "(default: mqtt.acl_node_users, or else mqtt.username)"
        ),
    )
    acl.set_defaults(handler=run_acl)


def _read_password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise CommandError("the two passwords differ; nothing written")
    return first


def _write(path: Path, text: str) -> None:
    try:
        write_private(path, text)
    except OSError as error:
        raise CommandError(
            f"{path}: cannot be written ({error.strerror}); nothing changed"
        ) from None


def run_passwd(args: argparse.Namespace) -> int:
    path: Path = args.file
    try:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
    except OSError as error:
        raise CommandError(f"{path}: cannot be read ({error.strerror})") from None
    try:
        text = (
            remove_user(text, args.user)
            if args.delete
            else set_password(text, args.user, _read_password())
        )
    except BrokerAuthError as error:
        raise CommandError(f"{error}; nothing written") from None
    _write(path, text)
    print(f"{'removed' if args.delete else 'set the password of'} {args.user!r} in {path}")
    return 0


def run_acl(args: argparse.Namespace) -> int:
    settings = load_settings()
    node_users = args.node_user or acl_node_users(settings.mqtt)
    store = open_datastore(settings)
    with store.sessions() as session:
        stations = station_ids_by_unit(session)
    try:
        text, warnings = render_acl(settings.mqtt.topic_prefix, node_users, stations)
    except BrokerAuthError as error:
        raise CommandError(str(error)) from None
    for warning in warnings:
        print(f"bem broker acl: {warning}", file=sys.stderr)
    if args.output is None:
        sys.stdout.write(text)
    else:
        _write(args.output, text)
        count = sum(len(ids) for ids in stations.values())
        print(f"wrote {args.output}: {len(stations)} unit(s), {count} station(s)")
    return 0
