"""`bem battery add|list`: register a battery from a script (prints only its id), or list
them."""

from __future__ import annotations

import argparse
import datetime as dt

from cli.common import CommandError, add_window_arguments, open_datastore, print_table
from config import load_settings
from datastore.catalog import create_battery
from datastore.queries import list_batteries
from domain.batteries import TECHNOLOGIES

# Columns of `bem battery list`.
LIST_COLUMNS = (
    "id", "name", "technology", "manufacturer", "model", "serial_number",
    "nominal_capacity_ah", "voltage_min", "voltage_max", "current_min", "current_max",
)  # fmt: skip


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "battery", help="register and list batteries", description="Register and list batteries."
    )
    actions = parser.add_subparsers(dest="battery_action", metavar="ACTION", required=True)
    add = actions.add_parser(
        "add",
        help="add a battery and print its id",
        description=(
            "Add a battery and print only its id. Currents: positive charges, negative "
            "discharges, so --current-min is the discharge limit (0 or negative)."
        ),
    )
    add.add_argument("--name", required=True)
    add.add_argument("--technology", required=True, choices=list(TECHNOLOGIES))
    add_window_arguments(add)
    add.add_argument("--capacity", type=float, metavar="AH", help="nominal capacity in Ah")
    add.add_argument("--manufacturer", default="")
    add.add_argument("--model", default="")
    add.add_argument("--serial", default="", help="serial number")
    add.add_argument(
        "--chemistry",
        help=f"lithium-ion chemistry: {', '.join(TECHNOLOGIES['lithium-ion'].fields[0].choices)}",
    )
    add.add_argument("--cells", type=int, default=1, metavar="N", help="cells in series")
    add.add_argument("--cell-voltage-min", type=float, metavar="V")
    add.add_argument("--cell-voltage-max", type=float, metavar="V")
    add.add_argument(
        "--fabrication-date", type=dt.date.fromisoformat, metavar="YYYY-MM-DD", default=None
    )
    add.add_argument("--description", default="")
    add.add_argument(
        "--detail",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="another technology field, e.g. lead_acid_type=AGM or membrane_type=Nafion",
    )
    add.set_defaults(handler=run_add)
    listing = actions.add_parser(
        "list",
        help="list the batteries",
        description=(
            "List the batteries by id, as tab-separated columns with a header: identity, "
            "nominal capacity (Ah) and safe window (V, A)."
        ),
    )
    listing.set_defaults(handler=run_list)


def _details(technology: str, chemistry: str | None, pairs: list[str]) -> dict[str, object]:
    """The technology fields from the options; choices match whatever their letter case."""
    details: dict[str, object] = {}
    if chemistry is not None:
        details["chemistry"] = chemistry
    for pair in pairs:
        field, separator, value = pair.partition("=")
        if not separator or not field.strip():
            raise CommandError(f"--detail: expected FIELD=VALUE, got {pair!r}")
        details[field.strip()] = value.strip()
    choices = {
        f.name: {choice.lower(): choice for choice in f.choices}
        for f in TECHNOLOGIES[technology].fields
        if f.kind == "choice"
    }
    for name, given in details.items():
        if name in choices and isinstance(given, str):
            details[name] = choices[name].get(given.lower(), given)
    return details


def run_add(args: argparse.Namespace) -> int:
    details = _details(args.technology, args.chemistry, args.detail)
    store = open_datastore(load_settings())
    with store.sessions.begin() as session:
        battery = create_battery(
            session,
            name=args.name,
            technology=args.technology,
            voltage_min=args.voltage_min,
            voltage_max=args.voltage_max,
            current_min=args.current_min,
            current_max=args.current_max,
            nominal_capacity_ah=args.capacity,
            manufacturer=args.manufacturer,
            model=args.model,
            serial_number=args.serial,
            cells_in_series=args.cells,
            cell_voltage_min=args.cell_voltage_min,
            cell_voltage_max=args.cell_voltage_max,
            fabrication_date=args.fabrication_date,
            description=args.description,
            details=details,
        )
        battery_id = battery.id
    print(battery_id)
    return 0


def run_list(args: argparse.Namespace) -> int:
    store = open_datastore(load_settings())
    with store.sessions() as session:
        rows = list_batteries(session)
    print_table(LIST_COLUMNS, rows)
    return 0
