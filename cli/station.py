"""`bem station add`: register a cycler station from a script; prints only its id."""

from __future__ import annotations

import argparse

from cli.common import add_window_arguments, open_datastore
from config import load_settings
from datastore.catalog import create_station


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "station", help="register cycler stations", description="Register cycler stations."
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
