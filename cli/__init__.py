"""The `bem` command line: one subcommand per module in this package.

Each command module defines `register(subparsers)`, which adds its parser and sets
`handler` to a function taking the parsed arguments and returning an exit status.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from bootstrap import StartupError
from cli.common import CommandError
from config import ConfigError
from datastore import DatastoreError
from datastore.catalog import CatalogError

# Order here is the order in `bem --help`.
COMMAND_MODULES = (
    "cli.web",
    "cli.node",
    "cli.simulate",
    "cli.demo",
    "cli.db",
    "cli.bench",
    "cli.battery",
    "cli.station",
    "cli.profile",
    "cli.experiment",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bem",
        description="Battery Experiments Manager: web app, MQTT node and lab tools.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except (ConfigError, CommandError, CatalogError, DatastoreError, StartupError) as error:
        print(f"bem {args.command}: {error}", file=sys.stderr)
        return getattr(error, "exit_status", 2 if isinstance(error, ConfigError) else 1)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
