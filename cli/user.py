"""`bem user add|list|passwd|role|disable|enable`: the people who may sign in to the web app.

The first admin is created here (`bem user add NAME --role admin`). A password is read
from standard input when it is piped (the first line), otherwise asked twice without
echo; it never appears on the command line, where other users of the machine could see
it.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from cli.common import CommandError, open_datastore, print_table
from config import load_settings
from datastore.users import add_user, list_users, set_disabled, set_password, set_role
from domain.accounts import AccountError, Role, confirm_password, parse_role

LIST_COLUMNS = ("name", "role", "disabled", "created", "last_login")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "user",
        help="add and list the people who may sign in",
        description="Add, list and change the people who may sign in to the web app.",
    )
    actions = parser.add_subparsers(dest="user_action", metavar="ACTION", required=True)
    roles = ", ".join(r.value for r in Role)
    add = actions.add_parser(
        "add",
        help="add a user (password from stdin when piped, else asked)",
        description=(
            f"Add a user with a role ({roles}). The password is the first line of standard "
            "input when it is piped, otherwise it is asked twice without echo."
        ),
    )
    add.add_argument("name")
    add.add_argument("--role", required=True, help=roles)
    add.set_defaults(handler=run_add)
    listing = actions.add_parser(
        "list",
        help="list the users",
        description="List the users as tab-separated columns with a header (no passwords).",
    )
    listing.set_defaults(handler=run_list)
    passwd = actions.add_parser(
        "passwd",
        help="set a user's password",
        description="Set a user's password, read as for `bem user add`.",
    )
    passwd.add_argument("name")
    passwd.set_defaults(handler=run_passwd)
    role = actions.add_parser("role", help="change a user's role", description="Change a role.")
    role.add_argument("name")
    role.add_argument("role", help=roles)
    role.set_defaults(handler=run_role)
    for action, disabled in (("disable", True), ("enable", False)):
        toggle = actions.add_parser(
            action,
            help=f"{action} a user's sign-in",
            description=(
                "A disabled user cannot sign in and is signed out at the next request."
                if disabled
                else "Let a disabled user sign in again."
            ),
        )
        toggle.add_argument("name")
        toggle.set_defaults(handler=run_toggle, disabled=disabled)


def read_password() -> str:
    """The first line of a piped standard input, or a password typed twice."""
    if not sys.stdin.isatty():
        line = sys.stdin.readline()
        password = line.rstrip("\r\n")
        if not password:
            raise CommandError("password: standard input is empty")
        again = password
    else:
        password = getpass.getpass("Password: ")
        again = getpass.getpass("Again: ")
    try:
        return confirm_password(password, again)
    except AccountError as error:
        raise CommandError(str(error)) from None


def run_add(args: argparse.Namespace) -> int:
    try:
        role = parse_role(args.role)
    except AccountError as error:
        raise CommandError(str(error)) from None
    password = read_password()
    store = open_datastore(load_settings())
    with store.sessions.begin() as session:
        try:
            account = add_user(session, args.name, role, password)
        except AccountError as error:
            raise CommandError(str(error)) from None
    print(f"User {account.name} added ({account.role.value}).")
    return 0


def run_list(args: argparse.Namespace) -> int:
    store = open_datastore(load_settings())
    with store.sessions() as session:
        accounts = list_users(session)
    print_table(
        LIST_COLUMNS,
        (
            {
                "name": a.name,
                "role": a.role.value,
                "disabled": "yes" if a.disabled else "no",
                "created": a.created_at.isoformat(timespec="seconds"),
                "last_login": a.last_login_at.isoformat(timespec="seconds")
                if a.last_login_at
                else "",
            }
            for a in accounts
        ),
    )
    return 0


def run_passwd(args: argparse.Namespace) -> int:
    password = read_password()
    store = open_datastore(load_settings())
    with store.sessions.begin() as session:
        set_password(session, args.name, password)
    print(f"Password of {args.name} changed.")
    return 0


def run_role(args: argparse.Namespace) -> int:
    try:
        role = parse_role(args.role)
    except AccountError as error:
        raise CommandError(str(error)) from None
    store = open_datastore(load_settings())
    with store.sessions.begin() as session:
        try:
            set_role(session, args.name, role)
        except AccountError as error:
            raise CommandError(str(error)) from None
    print(f"{args.name} is now {role.value}.")
    return 0


def run_toggle(args: argparse.Namespace) -> int:
    store = open_datastore(load_settings())
    with store.sessions.begin() as session:
        try:
            set_disabled(session, args.name, args.disabled)
        except AccountError as error:
            raise CommandError(str(error)) from None
    print(f"{args.name} {'disabled' if args.disabled else 'enabled'}.")
    return 0
