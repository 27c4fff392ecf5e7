"""The users table's rules, shared by `bem user` and the users page: someone can always
manage users (the last enabled admin is neither demoted nor disabled), and nobody locks
themself out (an admin neither disables nor demotes their own account)."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from datastore.catalog import DuplicateError, NotFoundError
from datastore.models import User
from datastore.users import add_user, list_users, set_disabled, set_role
from domain.accounts import AccountError, Role

PASSWORD = "a long enough password"


@pytest.fixture
def people(sessions: sessionmaker[Session]) -> dict[str, int]:
    """ada (admin), otto (operator), vera (viewer): their ids."""
    with sessions.begin() as session:
        return {
            name: add_user(session, name, role, PASSWORD).id
            for name, role in (("ada", Role.ADMIN), ("otto", Role.OPERATOR), ("vera", Role.VIEWER))
        }


def roles(sessions: sessionmaker[Session]) -> dict[str, tuple[str, bool]]:
    with sessions() as session:
        return {u.name: (u.role.value, u.disabled) for u in session.scalars(select(User))}


BEFORE = {
    "ada": ("admin", False),
    "otto": ("operator", False),
    "vera": ("viewer", False),
}


def test_the_last_enabled_admin_cannot_be_demoted(sessions, people) -> None:
    with (
        pytest.raises(AccountError, match="ada is the last enabled admin; make another user"),
        sessions.begin() as session,
    ):
        set_role(session, "ada", Role.OPERATOR)
    assert roles(sessions) == BEFORE


def test_the_last_enabled_admin_cannot_be_disabled(sessions, people) -> None:
    with (
        pytest.raises(AccountError, match="ada is the last enabled admin"),
        sessions.begin() as session,
    ):
        set_disabled(session, "ada", True)
    assert roles(sessions) == BEFORE


def test_a_disabled_admin_does_not_count_as_the_one_left(sessions, people) -> None:
    with sessions.begin() as session:
        set_role(session, "otto", Role.ADMIN)
        set_disabled(session, "otto", True)
    with (
        pytest.raises(AccountError, match="ada is the last enabled admin"),
        sessions.begin() as session,
    ):
        set_role(session, "ada", Role.VIEWER)


def test_with_a_second_admin_the_first_may_be_demoted_or_disabled(sessions, people) -> None:
    with sessions.begin() as session:
        set_role(session, "otto", Role.ADMIN)
    with sessions.begin() as session:
        set_disabled(session, "ada", True)
    with sessions.begin() as session:
        set_disabled(session, "ada", False)
        set_role(session, "ada", Role.VIEWER)
    assert roles(sessions)["ada"] == ("viewer", False)
    assert roles(sessions)["otto"] == ("admin", False)


def test_an_admin_cannot_disable_or_demote_themself(sessions, people) -> None:
    with sessions.begin() as session:
        set_role(session, "otto", Role.ADMIN)
    with (
        pytest.raises(AccountError, match="you cannot disable your own account"),
        sessions.begin() as session,
    ):
        set_disabled(session, "ada", True, acting_id=people["ada"])
    with (
        pytest.raises(AccountError, match="role: you cannot lower your own role"),
        sessions.begin() as session,
    ):
        set_role(session, "ada", Role.OPERATOR, acting_id=people["ada"])
    assert roles(sessions)["ada"] == ("admin", False)
    # Another admin may.
    with sessions.begin() as session:
        set_role(session, "ada", Role.OPERATOR, acting_id=people["otto"])
    assert roles(sessions)["ada"] == ("operator", False)


def test_raising_a_role_and_enabling_are_always_allowed(sessions, people) -> None:
    with sessions.begin() as session:
        set_disabled(session, "vera", True, acting_id=people["ada"])
        set_disabled(session, "vera", False, acting_id=people["ada"])
        set_role(session, "vera", Role.ADMIN, acting_id=people["ada"])
        set_role(session, "ada", Role.ADMIN, acting_id=people["ada"])  # unchanged
    assert roles(sessions)["vera"] == ("admin", False)


def test_unknown_and_taken_names_are_refused(sessions, people) -> None:
    with (
        pytest.raises(NotFoundError, match="there is no user named 'nobody'"),
        sessions.begin() as session,
    ):
        set_role(session, "nobody", Role.ADMIN)
    with (
        pytest.raises(DuplicateError, match="name: there is already a user named 'ada'"),
        sessions.begin() as session,
    ):
        add_user(session, "ada", Role.VIEWER, PASSWORD)
    with sessions() as session:
        assert [a.name for a in list_users(session)] == ["ada", "otto", "vera"]
