"""Users: an admin lists the people who may sign in, adds one, changes a role, disables
or enables one and sets a new password; the same rules as `bem user`
(`pages/users/form.py`, `datastore.users`).

Only an admin sees the page: its layout checks the session, and every callback of it
needs an admin in `components.permissions`, so a hand-made request from anyone else is
refused before it runs.
"""

from __future__ import annotations

from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, ctx, dcc, html, no_update

from components import auth, context
from datastore.users import Account, list_users
from domain.accounts import Role
from domain.formatting import format_utc
from pages.users import ids
from pages.users.form import (
    DISABLE,
    ENABLE,
    SET_PASSWORD,
    SET_ROLE,
    Change,
    FormErrors,
    NewUser,
    add_account,
    change_account,
)

dash.register_page(__name__, path="/users", name="Users", order=8)

ROLE_OPTIONS = [{"label": role.value, "value": role.value} for role in Role]
# The change form's buttons and what each asks for.
ACTION_OF = {
    ids.SET_ROLE: SET_ROLE,
    ids.DISABLE: DISABLE,
    ids.ENABLE: ENABLE,
    ids.SET_PASSWORD: SET_PASSWORD,
}


def layout(**_params: str) -> html.Div:
    if not auth.may(Role.ADMIN):
        return html.Div(
            [
                html.H2("Users"),
                dbc.Alert("Only an admin may manage users.", id=ids.REFUSED, color="warning"),
            ]
        )
    with context.session() as session:
        accounts = list_users(session)
    return _page(accounts)


def validation_layout() -> html.Div:
    """The page's components without data, for checking the callbacks' ids."""
    return _page([])


def _page(accounts: list[Account]) -> html.Div:
    return html.Div(
        [
            html.H2("Users", className="mb-3"),
            html.P(
                "The people who may sign in. A viewer reads and downloads; an operator "
                "also adds batteries and profiles and runs experiments; an admin also "
                "manages stations and users. Users are disabled, never deleted.",
                className="text-muted",
            ),
            html.Div(_table(accounts), id=ids.TABLE, className="mb-4"),
            dbc.Row(
                [dbc.Col(_add_form(), lg=5), dbc.Col(_change_form(accounts), lg=7)],
                className="g-4",
            ),
            dcc.Store(id=ids.ADDED, data=0),
            dcc.Store(id=ids.CHANGED, data=0),
        ]
    )


def _table(accounts: list[Account]) -> dbc.Table:
    header = html.Thead(
        html.Tr([html.Th(t) for t in ("Name", "Role", "Status", "Created", "Last sign-in")])
    )
    rows = [
        html.Tr(
            [
                html.Td(account.name),
                html.Td(account.role.value),
                html.Td("disabled" if account.disabled else "enabled"),
                html.Td(format_utc(account.created_at, with_date=True)),
                html.Td(
                    format_utc(account.last_login_at, with_date=True)
                    if account.last_login_at
                    else "never"
                ),
            ],
            className="text-muted" if account.disabled else None,
        )
        for account in accounts
    ]
    return dbc.Table([header, html.Tbody(rows)], size="sm", hover=True, responsive=True)


def _error(component_id: str) -> html.Div:
    return html.Div(id=component_id, className="text-danger small mt-1")


def _add_form() -> dbc.Card:
    return dbc.Card(
        dbc.CardBody(
            [
                html.H5("Add a user", className="card-title"),
                dbc.Label("Name", html_for=ids.ADD_NAME),
                dbc.Input(id=ids.ADD_NAME, type="text", maxLength=64, autocomplete="off"),
                _error(ids.add_error("name")),
                dbc.Label("Role", html_for=ids.ADD_ROLE, className="mt-2"),
                dcc.Dropdown(id=ids.ADD_ROLE, options=ROLE_OPTIONS, value=Role.VIEWER.value),
                _error(ids.add_error("role")),
                dbc.Label("Password (at least 10 characters)", html_for=ids.ADD_PASSWORD),
                dbc.Input(id=ids.ADD_PASSWORD, type="password", autocomplete="new-password"),
                dbc.Label("Password again", html_for=ids.ADD_AGAIN, className="mt-2"),
                dbc.Input(id=ids.ADD_AGAIN, type="password", autocomplete="new-password"),
                _error(ids.add_error("password")),
                dbc.Button("Add user", id=ids.ADD, color="primary", className="mt-3"),
                _error(ids.add_error("form")),
                html.Div(id=ids.ADD_MESSAGE, className="text-success mt-2"),
            ]
        )
    )


def _change_form(accounts: list[Account]) -> dbc.Card:
    return dbc.Card(
        dbc.CardBody(
            [
                html.H5("Change a user", className="card-title"),
                dbc.Label("User", html_for=ids.USER),
                dcc.Dropdown(id=ids.USER, options=_user_options(accounts)),
                _error(ids.change_error("user")),
                dbc.Label("Role", html_for=ids.ROLE, className="mt-3"),
                html.Div(
                    [
                        dcc.Dropdown(id=ids.ROLE, options=ROLE_OPTIONS, className="flex-grow-1"),
                        dbc.Button("Change role", id=ids.SET_ROLE, color="secondary"),
                    ],
                    className="d-flex gap-2",
                ),
                _error(ids.change_error("role")),
                html.Div(
                    [
                        dbc.Button("Disable", id=ids.DISABLE, color="outline-danger"),
                        dbc.Button("Enable", id=ids.ENABLE, color="outline-secondary"),
                    ],
                    className="d-flex gap-2 mt-3",
                ),
                _error(ids.change_error("status")),
                dbc.Label("New password", html_for=ids.PASSWORD, className="mt-3"),
                dbc.Input(id=ids.PASSWORD, type="password", autocomplete="new-password"),
                dbc.Label("New password again", html_for=ids.AGAIN, className="mt-2"),
                dbc.Input(id=ids.AGAIN, type="password", autocomplete="new-password"),
                dbc.Button(
                    "Set password", id=ids.SET_PASSWORD, color="secondary", className="mt-2"
                ),
                _error(ids.change_error("password")),
                _error(ids.change_error("form")),
                html.Div(id=ids.CHANGE_MESSAGE, className="text-success mt-2"),
            ]
        )
    )


def _user_options(accounts: list[Account]) -> list[dict[str, str]]:
    return [
        {
            "label": f"{a.name} ({a.role.value}{', disabled' if a.disabled else ''})",
            "value": a.name,
        }
        for a in accounts
    ]


def _acting_id() -> int | None:
    """The signed-in admin, from the session (None with sign-in off)."""
    account = auth.current_account()
    return account.id if account is not None else None


@callback(
    output={
        "errors": {field: Output(ids.add_error(field), "children") for field in ids.ADD_FIELDS},
        "message": Output(ids.ADD_MESSAGE, "children"),
        "added": Output(ids.ADDED, "data"),
        "password": Output(ids.ADD_PASSWORD, "value"),
        "again": Output(ids.ADD_AGAIN, "value"),
    },
    inputs={
        "_clicks": Input(ids.ADD, "n_clicks"),
        "name": State(ids.ADD_NAME, "value"),
        "role": State(ids.ADD_ROLE, "value"),
        "password": State(ids.ADD_PASSWORD, "value"),
        "again": State(ids.ADD_AGAIN, "value"),
        "added": State(ids.ADDED, "data"),
    },
    prevent_initial_call=True,
)
def add(
    _clicks: int | None,
    name: str | None,
    role: str | None,
    password: str | None,
    again: str | None,
    added: int | None,
) -> dict[str, Any]:
    """Add the user, or say beside each field what is wrong (nothing is stored then)."""
    form = NewUser(name=name, role=role, password=password, again=again)
    try:
        with context.session() as session:
            account = add_account(session, form)
            message = f"User {account.name} added ({account.role.value})."
    except FormErrors as errors:
        return {
            "errors": {field: errors.problems.get(field, "") for field in ids.ADD_FIELDS},
            "message": "",
            "added": no_update,
            "password": no_update,
            "again": no_update,
        }
    return {
        "errors": {field: "" for field in ids.ADD_FIELDS},
        "message": message,
        "added": (added or 0) + 1,
        "password": "",
        "again": "",
    }


@callback(
    output={
        "errors": {
            field: Output(ids.change_error(field), "children") for field in ids.CHANGE_FIELDS
        },
        "message": Output(ids.CHANGE_MESSAGE, "children"),
        "changed": Output(ids.CHANGED, "data"),
        "password": Output(ids.PASSWORD, "value"),
        "again": Output(ids.AGAIN, "value"),
    },
    inputs={
        "_clicks": [Input(button, "n_clicks") for button in ACTION_OF],
        "user": State(ids.USER, "value"),
        "role": State(ids.ROLE, "value"),
        "password": State(ids.PASSWORD, "value"),
        "again": State(ids.AGAIN, "value"),
        "changed": State(ids.CHANGED, "data"),
    },
    prevent_initial_call=True,
)
def change(
    _clicks: list[int | None],
    user: str | None,
    role: str | None,
    password: str | None,
    again: str | None,
    changed: int | None,
) -> dict[str, Any]:
    """Change the chosen user as the pressed button says, or say beside what is wrong."""
    action = ACTION_OF.get(str(ctx.triggered_id), "")
    request = Change(user=user, action=action, role=role, password=password, again=again)
    try:
        with context.session() as session:
            message = change_account(session, request, acting_id=_acting_id())
    except FormErrors as errors:
        return {
            "errors": {field: errors.problems.get(field, "") for field in ids.CHANGE_FIELDS},
            "message": "",
            "changed": no_update,
            "password": no_update,
            "again": no_update,
        }
    cleared = "" if action == SET_PASSWORD else no_update
    return {
        "errors": {field: "" for field in ids.CHANGE_FIELDS},
        "message": message,
        "changed": (changed or 0) + 1,
        "password": cleared,
        "again": cleared,
    }


@callback(
    Output(ids.TABLE, "children"),
    Output(ids.USER, "options"),
    Input(ids.ADDED, "data"),
    Input(ids.CHANGED, "data"),
    prevent_initial_call=True,
)
def show_users(_added: int | None, _changed: int | None) -> tuple[Any, Any]:
    """The table and the choice of users, after an addition or a change."""
    with context.session() as session:
        accounts = list_users(session)
    return _table(accounts), _user_options(accounts)
