"""The `bem` command line: one subcommand per module in this package.

Each command module defines `register(subparsers)`, which adds its parser and sets
`handler` to a function taking the parsed arguments and returning an exit status.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

import bootstrap
from bootstrap import StartupError
from cli.common import CommandError
from config import ConfigError, Settings, load_settings
from datastore import DatastoreError
from datastore.catalog import CatalogError

# Order here is the order in `bem --help`.
COMMAND_MODULES = (
    "cli.web",
    "cli.node",
    "cli.simulate",
    "cli.demo",
    "cli.broker",
    "cli.db",
    "cli.bench",
    "cli.battery",
    "cli.station",
    "cli.profile",
    "cli.experiment",
    "cli.user",
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
    bootstrap.configure_logging(_settings_or_none())
    try:
        status = int(args.handler(args) or 0)
        # Written now, so a reader that went away is noticed here rather than at exit.
        sys.stdout.flush()
        return status
    except BrokenPipeError:
        # `bem experiment list | head -1`: the reader has what it wanted.
        _discard_stdout()
        return 0
    except (ConfigError, CommandError, CatalogError, DatastoreError, StartupError) as error:
        print(f"bem {args.command}: {error}", file=sys.stderr)
        return getattr(error, "exit_status", 2 if isinstance(error, ConfigError) else 1)
    except KeyboardInterrupt:
        return 130


def _settings_or_none() -> Settings | None:
    """The settings, for the log format; None when they cannot be read (the command
    itself then says why, in its one line)."""
    try:
        return load_settings()
    except ConfigError:
        return None


def _discard_stdout() -> None:
    """Point stdout at the null device, so the interpreter's last flush of what is still
    buffered for the closed pipe fails no more."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


if __name__ == "__main__":
    sys.exit(main())
