"""`bem experiment ...`: queue, list, cancel, stop, pause and resume experiments from
scripts, import one from a file, and write their samples, cycles and report.

Each action is a pair: a function adding its parser to the `actions` subparsers and a
handler. To add an action, write both and list the first in `ACTIONS`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from cli.common import CommandError, open_datastore, print_table
from cli.profile import STDIN_NAME, profile_problems, read_profile_text
from config import load_settings
from datastore import Datastore
from datastore.catalog import (
    IncompatibleProfileError,
    cancel_experiment,
    create_profile,
    get_experiment,
    queue_experiment,
)
from datastore.dispatch import request_command
from datastore.models import Experiment
from datastore.queries import list_experiments
from domain.importing import ImportProgress
from domain.profiles import ProfileError
from domain.status import ExperimentStatus, allowed_commands

# Columns of `bem experiment list`, tab-separated for scripts.
LIST_COLUMNS = ("id", "status", "name", "battery", "station", "profile", "created_at", "samples")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "experiment",
        help="queue, list, cancel, stop, pause and resume experiments; export their data",
        description=(
            "Queue, list and cancel experiments; stop, pause and resume running ones; write "
            "an experiment's samples, cycle table or report."
        ),
    )
    actions = parser.add_subparsers(dest="experiment_action", metavar="ACTION", required=True)
    for add_parser in ACTIONS:
        add_parser(actions)


def add_add_parser(actions: argparse._SubParsersAction) -> None:
    add = actions.add_parser(
        "add",
        help="queue an experiment and print its id",
        description=(
            "Check that the profile fits the battery and the station, expand it (C-rates "
            "resolved against the battery's nominal capacity) and queue the experiment. "
            "Prints only the new id. With --profile-file the profile is stored too, named "
            "after the file."
        ),
    )
    add.add_argument("--name", required=True)
    add.add_argument("--battery", type=int, required=True, metavar="ID")
    add.add_argument("--station", type=int, required=True, metavar="ID")
    source = add.add_mutually_exclusive_group(required=True)
    source.add_argument("--profile-file", metavar="FILE", help="profile text file, or - for stdin")
    source.add_argument("--profile", type=int, metavar="ID", help="a stored profile")
    add.add_argument("--description", default="")
    add.set_defaults(handler=run_add)


def add_list_parser(actions: argparse._SubParsersAction) -> None:
    listing = actions.add_parser(
        "list",
        help="list experiments, newest first",
        description="List experiments, newest first, as tab-separated columns with a header.",
    )
    listing.add_argument(
        "--status", type=str.upper, choices=[status.value for status in ExperimentStatus]
    )
    listing.set_defaults(handler=run_list)


def add_cancel_parser(actions: argparse._SubParsersAction) -> None:
    cancel = actions.add_parser(
        "cancel",
        help="cancel a queued experiment",
        description="Cancel a QUEUED experiment (any other status is refused); prints its id.",
    )
    cancel.add_argument("experiment_id", type=int, metavar="ID")
    cancel.set_defaults(handler=run_cancel)


# The operator commands the monitor's buttons send: (its help, how a refusal reads).
OPERATOR_COMMANDS = {
    "stop": ("stop a running or paused experiment", "stopped"),
    "pause": ("pause a running experiment", "paused"),
    "resume": ("resume a paused experiment", "resumed"),
}


def add_operator_parsers(actions: argparse._SubParsersAction) -> None:
    for command, (help_text, _done) in OPERATOR_COMMANDS.items():
        parser = actions.add_parser(
            command,
            help=help_text,
            description=(
                f"{help_text.capitalize()}: the request is stored for the node, which sends "
                "it to the station's cycler, as the monitor's button does. The status "
                "changes when the cycler confirms (a stopped experiment ends FINISHED). "
                "Any other status is refused with a one-line message and nothing is sent: "
                "a QUEUED experiment is cancelled with `bem experiment cancel`, and a "
                "FINISHED, ERROR or CANCELLED one has ended already."
            ),
        )
        parser.add_argument("experiment_id", type=int, metavar="ID")
        parser.set_defaults(handler=run_operator_command, operator_command=command)


def add_export_parser(actions: argparse._SubParsersAction) -> None:
    export = actions.add_parser(
        "export",
        help="write an experiment's samples as CSV",
        description=(
            "Write an experiment's samples as CSV with the Battery Data Format labels "
            "(Test Time / s, Unix Time / s, Voltage / V, ...; extra channels as Name / unit). "
            "Streamed in chunks, so memory stays flat however long the experiment."
        ),
    )
    export.add_argument("experiment_id", type=int, metavar="ID")
    export.add_argument(
        "-o", "--output", metavar="FILE", help="file to write (default: standard output)"
    )
    export.set_defaults(handler=run_export)


def add_import_parser(actions: argparse._SubParsersAction) -> None:
    from domain.importing import IMPORT_FORMATS

    importing = actions.add_parser(
        "import",
        help="import an experiment from a file and print its id",
        description=(
            "Read, check and store a file as a FINISHED experiment of the battery, in "
            "chunks and in one transaction: memory stays flat however long the file, and "
            "a file with any problem stores nothing (the problems are listed with their "
            "line and column). Prints only the new id. Formats: "
            f"{', '.join(IMPORT_FORMATS)} (a ZIP holds several files of the others, "
            "imported in name order as one experiment). See docs/formats.md."
        ),
    )
    importing.add_argument("file", metavar="FILE")
    importing.add_argument("--name", required=True)
    importing.add_argument("--battery", type=int, required=True, metavar="ID")
    importing.add_argument("--profile", type=int, metavar="ID", help="link a stored profile")
    importing.add_argument("--description", default="")
    importing.add_argument(
        "--format",
        choices=["auto", *IMPORT_FORMATS],
        default="auto",
        help="the file's format (default: from its extension)",
    )
    importing.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="COLUMN=LABEL",
        help=(
            "read COLUMN as LABEL, a quantity with its unit ('Voltage / mV') or a channel "
            "'Name / unit'; COLUMN=ignore leaves it out (repeatable)"
        ),
    )
    importing.add_argument(
        "--start",
        metavar="ISO8601",
        help="time of the first sample for files with elapsed time only (default: now; "
        "without a zone, UTC)",
    )
    importing.set_defaults(handler=run_import)


def _start_time(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        start = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise CommandError(f"--start {text!r}: expected an ISO 8601 date and time") from None
    if start.tzinfo is None:
        start = start.replace(tzinfo=dt.UTC)
    return start.timestamp()


def _print_progress(report: ImportProgress) -> None:
    fraction = report.fraction
    done = f", {fraction:.0%}" if fraction is not None else ""
    end = "\n" if report.stage == "done" else ""
    print(f"\r\033[K{report.stage}: {report.rows_done:,} rows{done}", end=end, file=sys.stderr,
          flush=True)  # fmt: skip


def run_import(args: argparse.Namespace) -> int:
    from datastore.imports import import_file
    from domain.importing import ImportFileError, parse_map_option

    start_time = _start_time(args.start)
    store = open_datastore(load_settings())
    try:
        choices = [parse_map_option(option) for option in args.map]
        experiment_id = import_file(
            store.engine,
            args.file,
            name=args.name,
            battery_id=args.battery,
            profile_id=args.profile,
            description=args.description,
            format=args.format,
            choices=choices,
            start_time=start_time,
            progress=_print_progress if sys.stderr.isatty() else None,
        )
    except ImportFileError as error:
        raise CommandError(f"cannot import {args.file}:\n{error}") from None
    print(experiment_id)
    return 0


def _profile_name(path: str, experiment_name: str) -> str:
    if path == STDIN_NAME:
        return experiment_name[:100]
    return (Path(path).stem or Path(path).name)[:100]


def run_add(args: argparse.Namespace) -> int:
    settings = load_settings()
    max_steps = settings.profiles.max_steps
    max_start_bytes = settings.node.max_payload_bytes
    text = read_profile_text(args.profile_file) if args.profile_file else None
    store = open_datastore(settings)
    # One transaction: a refused experiment leaves no stray profile behind.
    with store.sessions.begin() as session:
        try:
            profile_id = args.profile
            if text is not None:
                profile = create_profile(
                    session,
                    name=_profile_name(args.profile_file, args.name),
                    source=text,
                    max_steps=max_steps,
                    max_start_bytes=max_start_bytes,
                )
                profile_id = profile.id
            experiment = queue_experiment(
                session,
                name=args.name,
                battery_id=args.battery,
                station_id=args.station,
                profile_id=profile_id,
                description=args.description,
                max_steps=max_steps,
                max_start_bytes=max_start_bytes,
            )
        except ProfileError as error:
            source = args.profile_file or f"stored profile {args.profile}"
            raise CommandError(profile_problems(source, error)) from None
        except IncompatibleProfileError as error:
            reasons = "\n".join(f"  {problem}" for problem in error.compatibility.problems)
            raise CommandError(
                f"the profile does not fit battery {args.battery} and station "
                f"{args.station}:\n{reasons}"
            ) from None
        experiment_id = experiment.id
    print(experiment_id)
    return 0


def run_list(args: argparse.Namespace) -> int:
    store = open_datastore(load_settings())
    with store.sessions() as session:
        rows = list_experiments(session, status=args.status)
    print_table(LIST_COLUMNS, rows)
    return 0


def run_cancel(args: argparse.Namespace) -> int:
    store = open_datastore(load_settings())
    with store.sessions.begin() as session:
        experiment = cancel_experiment(session, args.experiment_id)
        experiment_id = experiment.id
    print(experiment_id)
    return 0


def run_operator_command(args: argparse.Namespace) -> int:
    command = args.operator_command
    store = open_datastore(load_settings())
    with store.sessions.begin() as session:
        experiment = get_experiment(session, args.experiment_id)
        if command not in allowed_commands(experiment.status):
            hint = (
                f" (cancel it with `bem experiment cancel {experiment.id}`)"
                if command == "stop" and experiment.status == ExperimentStatus.QUEUED
                else ""
            )
            raise CommandError(
                f"experiment {experiment.id} is {experiment.status}: it cannot be "
                f"{OPERATOR_COMMANDS[command][1]}{hint}"
            )
        request_command(session.connection(), experiment.id, command)
        experiment_id = experiment.id
    print(
        f"{command} of experiment {experiment_id} requested; "
        "the status changes when the cycler confirms"
    )
    return 0


def add_cycles_parser(actions: argparse._SubParsersAction) -> None:
    cycles = actions.add_parser(
        "cycles",
        help="write an experiment's cycle table as CSV",
        description=(
            "Write the cycle table of an experiment as CSV: per cycle the charge and "
            "discharge capacity (Ah) and energy (Wh), coulombic and energy efficiency, mean "
            "charge and discharge voltage (V) and duration (s)."
        ),
    )
    cycles.add_argument("experiment_id", type=int, metavar="ID")
    cycles.add_argument(
        "-o", "--output", metavar="FILE", help="file to write (default: standard output)"
    )
    cycles.set_defaults(handler=run_cycles)


def add_report_parser(actions: argparse._SubParsersAction) -> None:
    report = actions.add_parser(
        "report",
        help="write an experiment's report as one HTML file",
        description=(
            "Write the report of an experiment as one self-contained HTML file that opens "
            "with no network: facts, profile and steps, the voltage and current and the "
            "cycle plots as interactive figures, the cycle table and the alarms."
        ),
    )
    report.add_argument("experiment_id", type=int, metavar="ID")
    report.add_argument(
        "-o", "--output", metavar="FILE", help="file to write (default: standard output)"
    )
    report.set_defaults(handler=run_report)


def _write_output(output: str | None, write: Callable[[TextIO], int]) -> int:
    """Run `write` on standard output or on the file `output`; returns what it returns.

    A file is written beside its name and renamed at the end: an interrupted run never
    leaves a truncated file under the requested name.
    """
    if output is None:
        return write(sys.stdout)
    target = Path(output)
    partial = target.with_name(target.name + ".partial")
    try:
        with partial.open("w", encoding="utf-8", newline="") as file:
            written = write(file)
        partial.replace(target)
        return written
    except OSError as error:
        raise CommandError(f"{output}: cannot write ({error.strerror})") from None
    finally:
        if partial.exists():
            partial.unlink()


def _experiment_exists(store: Datastore, experiment_id: int) -> None:
    with store.sessions() as session:
        if session.get(Experiment, experiment_id) is None:
            raise CommandError(f"experiment {experiment_id} does not exist")


def run_export(args: argparse.Namespace) -> int:
    from datastore.export import write_experiment_csv

    store = open_datastore(load_settings())
    try:
        rows = _write_output(
            args.output, lambda file: write_experiment_csv(store.engine, args.experiment_id, file)
        )
    except LookupError:
        raise CommandError(f"experiment {args.experiment_id} does not exist") from None
    if args.output is not None:
        print(f"{rows} samples written to {args.output}", file=sys.stderr)
    return 0


def run_cycles(args: argparse.Namespace) -> int:
    from datastore.cycles import experiment_cycles
    from domain.csvformat import format_cycle_csv

    store = open_datastore(load_settings())
    _experiment_exists(store, args.experiment_id)
    cycles = experiment_cycles(store.engine, args.experiment_id)

    def write(file: TextIO) -> int:
        file.write(format_cycle_csv(cycles))
        return len(cycles)

    count = _write_output(args.output, write)
    if args.output is not None:
        print(f"{count} cycles written to {args.output}", file=sys.stderr)
    return 0


def run_report(args: argparse.Namespace) -> int:
    from components.report import experiment_report

    store = open_datastore(load_settings())
    try:
        report = experiment_report(store.engine, args.experiment_id)
    except LookupError:
        raise CommandError(f"experiment {args.experiment_id} does not exist") from None

    def write(file: TextIO) -> int:
        return file.write(report)

    written = _write_output(args.output, write)
    if args.output is not None:
        print(f"report of {written:,} characters written to {args.output}", file=sys.stderr)
    return 0


ACTIONS: tuple[Callable[[argparse._SubParsersAction], None], ...] = (
    add_add_parser,
    add_list_parser,
    add_cancel_parser,
    add_operator_parsers,
    add_import_parser,
    add_export_parser,
    add_cycles_parser,
    add_report_parser,
)
