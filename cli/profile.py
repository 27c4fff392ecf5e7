"""`bem profile ...`: check a profile file, or store it, from scripts; list and show the
stored ones.

`check` needs no database unless a battery or station is named. Problems go to
stderr with exit status 1; `add` prints only the new profile's id.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cli.common import CommandError, open_datastore, print_table
from config import load_settings
from datastore.catalog import (
    battery_rating,
    create_profile,
    get_battery,
    get_profile,
    get_station,
    station_window,
)
from datastore.profiles import stored_demand
from datastore.queries import list_profiles
from domain.profiles import (
    Demand,
    Envelope,
    Profile,
    ProfileError,
    check_compatibility,
    format_value,
    parse_profile,
    profile_demand,
    resolve_envelope,
)
from domain.profiles.start_size import check_profile_start_size

STDIN_NAME = "-"
# Columns of `bem profile list`.
LIST_COLUMNS = ("id", "name", "steps", "description")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "profile",
        help="check, store, list and show cycling profiles",
        description=(
            "Check, store, list and show cycling profiles (the language is in docs/profiles.md)."
        ),
    )
    actions = parser.add_subparsers(dest="profile_action", metavar="ACTION", required=True)

    check = actions.add_parser(
        "check",
        help="report a profile's problems, or its step count and envelope",
        description=(
            "Parse FILE and report every problem, or its step count and envelope. With "
            "--battery the envelope is resolved for that battery (C-rates, CP power); with "
            "--station too, say whether the pair can run it (exit status 1 if not)."
        ),
    )
    check.add_argument("file", metavar="FILE", help="profile text file, or - for stdin")
    check.add_argument("--battery", type=int, metavar="ID", help="resolve for this battery")
    check.add_argument("--station", type=int, metavar="ID", help="check against this station")
    check.set_defaults(handler=run_check)

    add = actions.add_parser(
        "add",
        help="store a profile and print its id",
        description="Check FILE and store it as a profile; prints only the new id.",
    )
    add.add_argument("file", metavar="FILE", help="profile text file, or - for stdin")
    add.add_argument("--name", required=True, help="profile name")
    add.add_argument("--description", default="", help="free text")
    add.set_defaults(handler=run_add)

    listing = actions.add_parser(
        "list",
        help="list the stored profiles",
        description=(
            "List the stored profiles by id, as tab-separated columns with a header; steps "
            "counts them with REPEAT blocks unrolled."
        ),
    )
    listing.set_defaults(handler=run_list)

    show = actions.add_parser(
        "show",
        help="print a stored profile: its version, step count, envelope and text",
        description=(
            "Print a stored profile: its name, version (and the profile it was made from) and "
            "step count, its description, the envelope "
            "it demands (as `profile check` prints it), then its text as written."
        ),
    )
    show.add_argument("profile_id", type=int, metavar="ID")
    show.set_defaults(handler=run_show)


def read_profile_text(path: str) -> str:
    """The text of a profile file (or stdin for -), or a CommandError saying why not."""
    if path == STDIN_NAME:
        return sys.stdin.read()
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CommandError(f"{path}: not UTF-8 text") from None
    except OSError as error:
        raise CommandError(f"{path}: cannot be read ({error.strerror})") from None


def profile_problems(path: str, error: ProfileError) -> str:
    """One message for every problem of a profile, one per line."""
    where = "the profile from stdin" if path == STDIN_NAME else path
    listed = "\n".join(f"  {problem}" for problem in error.problems)
    return f"{where} is not a valid profile:\n{listed}"


def parse_profile_file(path: str, max_steps: int, max_start_bytes: int) -> tuple[str, Profile]:
    """The file's text and profile; refused (CommandError, every problem by line) when it
    is not a valid profile or its start command would exceed `max_start_bytes`."""
    text = read_profile_text(path)
    try:
        profile = parse_profile(text, max_steps=max_steps)
        check_profile_start_size(profile, max_start_bytes)
        return text, profile
    except ProfileError as error:
        raise CommandError(profile_problems(path, error)) from None


def _span(low: float | None, high: float | None, unit: str) -> str:
    if low is None or high is None:
        return "not set by the profile"
    separator = "" if unit == "C" else " "  # 0.5C, as written in profiles
    return f"{format_value(low)}{separator}{unit} to {format_value(high)}{separator}{unit}"


def describe_demand(demand: Demand) -> list[str]:
    lines = [
        f"voltage: {_span(demand.voltage_min, demand.voltage_max, 'V')}",
        f"current: {_span(demand.current_min, demand.current_max, 'A')}",
    ]
    if demand.c_rate_min is not None:
        lines.append(f"C-rate: {_span(demand.c_rate_min, demand.c_rate_max, 'C')}")
    if demand.power_min is not None:
        lines.append(f"power: {_span(demand.power_min, demand.power_max, 'W')}")
    return lines


def describe_envelope(envelope: Envelope) -> list[str]:
    return [
        f"voltage: {_span(envelope.voltage_min, envelope.voltage_max, 'V')}",
        f"current: {_span(envelope.current_min, envelope.current_max, 'A')}",
    ]


def run_check(args: argparse.Namespace) -> int:
    if args.station is not None and args.battery is None:
        raise CommandError("--station needs --battery: a profile must fit both windows together")
    settings = load_settings()
    _, profile = parse_profile_file(
        args.file, settings.profiles.max_steps, settings.node.max_payload_bytes
    )
    print(f"{args.file}: {profile.step_count} steps")
    if args.battery is None:
        print("\n".join(describe_demand(profile_demand(profile))))
        return 0

    store = open_datastore(settings)
    with store.sessions() as session:
        rating = battery_rating(get_battery(session, args.battery))
        window = station_window(get_station(session, args.station)) if args.station else None
    try:
        envelope = resolve_envelope(profile, rating)
    except ProfileError as error:
        raise CommandError(profile_problems(args.file, error)) from None
    print(f"on battery {args.battery}:")
    print("\n".join(describe_envelope(envelope)))
    if window is None:
        return 0
    compatibility = check_compatibility(profile, rating, window)
    pair = f"battery {args.battery} and station {args.station}"
    if not compatibility.fits:
        reasons = "\n".join(f"  {problem}" for problem in compatibility.problems)
        raise CommandError(f"{args.file} is incompatible with {pair}:\n{reasons}")
    print(f"compatible with {pair}")
    return 0


def run_add(args: argparse.Namespace) -> int:
    settings = load_settings()
    text, _ = parse_profile_file(
        args.file, settings.profiles.max_steps, settings.node.max_payload_bytes
    )
    store = open_datastore(settings)
    with store.sessions.begin() as session:
        try:
            profile = create_profile(
                session,
                name=args.name,
                source=text,
                description=args.description,
                max_steps=settings.profiles.max_steps,
                max_start_bytes=settings.node.max_payload_bytes,
            )
        except ProfileError as error:  # e.g. a start command over node.max_payload_bytes
            raise CommandError(profile_problems(args.file, error)) from None
        profile_id = profile.id
    print(profile_id)
    return 0


def run_list(args: argparse.Namespace) -> int:
    store = open_datastore(load_settings())
    with store.sessions() as session:
        rows = list_profiles(session)
    print_table(LIST_COLUMNS, ({**row, "steps": row["step_count"]} for row in rows))
    return 0


def run_show(args: argparse.Namespace) -> int:
    store = open_datastore(load_settings())
    with store.sessions() as session:
        profile = get_profile(session, args.profile_id)
        steps = f"{profile.step_count} step{'' if profile.step_count == 1 else 's'}"
        version = f"v{profile.version}"
        if profile.previous_id is not None:
            version += f", from profile {profile.previous_id}"
        lines = [f"profile {profile.id} {profile.name!r} ({version}): {steps}"]
        if profile.description:
            lines.append(f"description: {' '.join(profile.description.split())}")
        lines += describe_demand(stored_demand(profile))
        source = profile.source
    print("\n".join(lines))
    print()
    print(source, end="" if source.endswith("\n") else "\n")
    return 0
