"""What the command modules share: one error type, the window options, the datastore, and
the tables the `list` actions print."""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping, Sequence

import bootstrap
from config import Settings, load_settings
from datastore import Datastore


def add_window_arguments(parser: argparse.ArgumentParser) -> None:
    """The safe window options shared by batteries and stations (SI units)."""
    parser.add_argument("--voltage-min", type=float, required=True, metavar="V")
    parser.add_argument("--voltage-max", type=float, required=True, metavar="V")
    parser.add_argument(
        "--current-min", type=float, required=True, metavar="A", help="discharge limit (<= 0)"
    )
    parser.add_argument(
        "--current-max", type=float, required=True, metavar="A", help="charge limit (>= 0)"
    )


class CommandError(Exception):
    """A failure to report in one line on stderr (exit status 1)."""

    exit_status = 1


def open_datastore(settings: Settings | None = None, wait_s: float = 0.0) -> Datastore:
    """The configured datastore (see `bootstrap.open_store`)."""
    return bootstrap.open_store(settings or load_settings(), wait_s)


def print_table(columns: Sequence[str], rows: Iterable[Mapping[str, object]]) -> None:
    """A header of `columns`, then each row's values of those keys, as tab-separated lines
    that scripts can split (`cut -f 2`); a missing value is an empty cell."""
    print("\t".join(columns))
    for row in rows:
        print("\t".join(_cell(row.get(column)) for column in columns))


def _cell(value: object) -> str:
    # Tabs and newlines inside a name would break the columns.
    return "" if value is None else " ".join(str(value).split())
