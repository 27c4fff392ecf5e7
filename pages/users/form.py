"""The users page on the server: adding a user and changing one, with every problem
beside its field. The rules are the users table's own (`datastore.users`, as for
`bem user`): names, roles and passwords checked by `domain.accounts`, the last enabled
admin kept, and the acting admin never locking themself out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.orm import Session

from datastore.catalog import CatalogError, NotFoundError
from datastore.users import Account, add_user, set_disabled, set_password, set_role
from domain.accounts import AccountError, Role, check_name, confirm_password, parse_role

# What a change does, as the button that asked for it.
SET_ROLE = "role"
DISABLE = "disable"
ENABLE = "enable"
SET_PASSWORD = "password"
ACTIONS = (SET_ROLE, DISABLE, ENABLE, SET_PASSWORD)
# Where each action's refusals go when they name no field.
ACTION_FIELD = {SET_ROLE: "role", DISABLE: "status", ENABLE: "status", SET_PASSWORD: "password"}


class FormErrors(Exception):
    """What is wrong: field name (or "form") -> a sentence for beside it."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        self.problems = dict(problems)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.problems.items()))


def _sentence(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def field_message(error: Exception, fields: tuple[str, ...], default: str) -> tuple[str, str]:
    """(field, sentence) of a refusal: "password: at least 10 characters" goes beside
    the password as "At least 10 characters."; a message naming no field goes to `default`."""
    text = str(error)
    field, separator, rest = text.partition(": ")
    if separator and field in fields:
        return field, _sentence(rest)
    return default, _sentence(text)


@dataclass(frozen=True)
class NewUser:
    """The add form as submitted: raw values, as the browser sends them."""

    name: str | None
    role: str | None
    password: str | None
    again: str | None


def add_account(session: Session, form: NewUser) -> Account:
    """Check every field, then add the user; FormErrors names each field that is wrong."""
    fields = ("name", "role", "password", "form")
    problems: dict[str, str] = {}
    name = (form.name or "").strip()
    role: Role | None = None
    for check in (
        lambda: check_name(name),
        lambda: confirm_password(form.password or "", form.again or ""),
    ):
        try:
            check()
        except AccountError as error:
            field, sentence = field_message(error, fields, "form")
            problems[field] = sentence
    if not form.role:
        problems["role"] = "Choose a role."
    else:
        try:
            role = parse_role(form.role)
        except AccountError as error:
            problems["role"] = field_message(error, fields, "role")[1]
    if problems or role is None:
        raise FormErrors(problems)
    try:
        return add_user(session, name, role, form.password or "")
    except (AccountError, CatalogError) as error:
        field, sentence = field_message(error, fields, "form")
        raise FormErrors({field: sentence}) from None


@dataclass(frozen=True)
class Change:
    """One change asked on the change form: which user, what to do, and its values."""

    user: str | None
    action: str
    role: str | None = None
    password: str | None = None
    again: str | None = None


def change_account(session: Session, change: Change, *, acting_id: int | None) -> str:
    """Make the change as the signed-in admin `acting_id` (None with sign-in off) and say
    what was done; FormErrors puts a refusal beside the field it concerns."""
    fields = ("user", "role", "status", "password", "form")
    if change.action not in ACTIONS:
        raise FormErrors({"form": "Unknown action."})
    name = (change.user or "").strip()
    if not name:
        raise FormErrors({"user": "Choose a user."})
    where = ACTION_FIELD[change.action]
    try:
        if change.action == SET_ROLE:
            if not change.role:
                raise FormErrors({"role": "Choose a role."})
            role = parse_role(change.role)
            set_role(session, name, role, acting_id=acting_id)
            return f"{name} is now {role.value}."
        if change.action in (DISABLE, ENABLE):
            disabled = change.action == DISABLE
            set_disabled(session, name, disabled, acting_id=acting_id)
            return (
                f"{name} {'disabled: signed out at their next request' if disabled else 'enabled'}."
            )
        password = confirm_password(change.password or "", change.again or "")
        set_password(session, name, password)
        return f"Password of {name} changed."
    except NotFoundError as error:
        raise FormErrors({"user": _sentence(str(error))}) from None
    except (AccountError, CatalogError) as error:
        field, sentence = field_message(error, fields, where)
        raise FormErrors({field: sentence}) from None
