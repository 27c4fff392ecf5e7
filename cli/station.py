"""`bem station add|list|deprecate|remove`: register a cycler station from a script
(prints only its id), list them with whether they are online, deprecate one (its queued
experiments are cancelled) or remove one that never had an experiment."""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

from cli.common import add_window_arguments, open_datastore, print_table
from config import load_settings
from datastore.catalog import create_station
from datastore.queries import list_stations
from datastore.stations import deprecate_station, remove_station
from datastore.types import utcnow
from domain.liveness import liveness

# Columns of `bem station list`.
LIST_COLUMNS = (
    "id", "name", "unit", "location", "online", "state", "last_heartbeat", "deprecated",
    "voltage_min", "voltage_max", "current_min", "current_max",
)  # fmt: skip


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "station",
        help="register, list, deprecate and remove cycler stations",
        description="Register, list, deprecate and remove cycler stations.",
    )
    actions = parser.add_subparsers(dest="station_action", metavar="ACTION", required=True)
    add = actions.add_parser(
        "add",
        help="add a station and print its id",
        description=(
            "Add a station with the window it can apply and print only its id. Stations "
            "that cyclers announce over MQTT are registered by the node without this."
        ),
    )
    add.add_argument("--name", required=True)
    add.add_argument(
        "--unit", metavar="UNIT", help="computational unit (cycler PC) name; created if missing"
    )
    add.add_argument("--location", default="")
    add_window_arguments(add)
    add.set_defaults(handler=run_add)
    listing = actions.add_parser(
        "list",
        help="list the stations, online or not",
        description=(
            "List the stations by id, deprecated ones too, as tab-separated columns with a "
            "header. online: online, offline or never seen, from the last heartbeat and the "
            "setting node.heartbeat_timeout_s; state: what the station last reported (idle, "
            "running, ...); last_heartbeat in UTC."
        ),
    )
    listing.set_defaults(handler=run_list)
    deprecate = actions.add_parser(
        "deprecate",
        help="deprecate a station and cancel its queued experiments",
        description=(
            "Deprecate a station: it keeps the history of its experiments but takes no new "
            "ones, and its queued experiments are cancelled (printed, one per line: id and "
            "name). Refused while it runs, pauses or is starting an experiment. If its unit "
            "announces the station again, the node registers it afresh."
        ),
    )
    deprecate.add_argument("station_id", metavar="ID", type=int)
    deprecate.set_defaults(handler=run_deprecate)
    remove = actions.add_parser(
        "remove",
        help="delete a station that never had an experiment",
        description=(
            "Delete a station for good, e.g. one a unit announced by mistake. Refused when "
            "any experiment (of any status) used it: deprecate it instead."
        ),
    )
    remove.add_argument("station_id", metavar="ID", type=int)
    remove.set_defaults(handler=run_remove)


def run_add(args: argparse.Namespace) -> int:
    store = open_datastore(load_settings())
    with store.sessions.begin() as session:
        station = create_station(
            session,
            name=args.name,
            unit_name=args.unit,
            location=args.location,
            voltage_min=args.voltage_min,
            voltage_max=args.voltage_max,
            current_min=args.current_min,
            current_max=args.current_max,
        )
        station_id = station.id
    print(station_id)
    return 0


def run_list(args: argparse.Namespace) -> int:
    settings = load_settings()
    store = open_datastore(settings)
    with store.sessions() as session:
        rows = list_stations(session, include_deprecated=True)
    now = utcnow()
    print_table(
        LIST_COLUMNS,
        (_listed(row, now, settings.node.heartbeat_timeout_s) for row in rows),
    )
    return 0


def run_deprecate(args: argparse.Namespace) -> int:
    store = open_datastore(load_settings())
    with store.sessions.begin() as session:
        change = deprecate_station(session, args.station_id)
    print_table(
        ("cancelled_id", "name"),
        ({"cancelled_id": e.id, "name": e.name} for e in change.cancelled),
    )
    return 0


def run_remove(args: argparse.Namespace) -> int:
    store = open_datastore(load_settings())
    with store.sessions.begin() as session:
        remove_station(session, args.station_id)
    return 0


def _listed(row: dict[str, Any], now: dt.datetime, timeout_s: float) -> dict[str, Any]:
    heard = dt.datetime.fromisoformat(row["last_heartbeat"]) if row["last_heartbeat"] else None
    return {
        **row,
        "online": liveness(last_heartbeat=heard, now=now, timeout_s=timeout_s).value,
        "state": row["reported_state"],
        "last_heartbeat": heard.isoformat(timespec="seconds") if heard else None,
        "deprecated": "yes" if row["deprecated"] else "no",
    }
