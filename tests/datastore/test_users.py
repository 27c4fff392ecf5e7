"""The users table's rules, shared by `bem user` and the users page: someone can always
manage users (the last enabled admin is neither demoted nor disabled), and nobody locks
themself out (an admin neither disables nor demotes their own account). And the failed
sign-ins, counted in the database for every web worker."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from datastore.catalog import DuplicateError, NotFoundError
from datastore.models import SignInFailure, User
from datastore.users import (
    add_user,
    clear_failed_sign_ins,
    forget_old_sign_in_failures,
    list_users,
    record_failed_sign_in,
    set_disabled,
    set_role,
    sign_in_lock,
)
from domain.accounts import AccountError, Role
from domain.sign_in_limits import Lock, LockedBy, SignInLimits

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


# ---------------------------------------------------------------- failed sign-ins

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
LIMITS = SignInLimits(
    max_per_name=3,
    max_per_address=5,
    window=dt.timedelta(minutes=15),
    lockout=dt.timedelta(minutes=5),
)


def fail_at(sessions: sessionmaker[Session], name: str, address: str, *seconds: float) -> None:
    for second in seconds:
        with sessions.begin() as session:
            at = NOW + dt.timedelta(seconds=second)
            record_failed_sign_in(session, name, address, at)


def lock_at(sessions: sessionmaker[Session], name: str, address: str, second: float) -> Any:
    with sessions() as session:
        return sign_in_lock(session, name, address, LIMITS, NOW + dt.timedelta(seconds=second))


def test_failures_lock_a_name_until_the_lockout_after_the_last(sessions) -> None:
    fail_at(sessions, "otto", "192.0.2.1", 0, 1)
    assert lock_at(sessions, "otto", "192.0.2.2", 2) is None
    fail_at(sessions, "otto", "192.0.2.2", 2.5)
    lock = lock_at(sessions, "otto", "192.0.2.3", 3)
    assert lock == Lock(LockedBy.NAME, NOW + dt.timedelta(seconds=302.5))
    assert lock_at(sessions, "otto", "192.0.2.3", 302.6) is None
    assert lock_at(sessions, "vera", "192.0.2.3", 3) is None


def test_failures_from_one_address_lock_it_for_every_name(sessions) -> None:
    for n in range(5):
        fail_at(sessions, f"guess{n}", "198.51.100.7", n)
    assert lock_at(sessions, "otto", "198.51.100.7", 10).by is LockedBy.ADDRESS
    assert lock_at(sessions, "otto", "192.0.2.1", 10) is None


def test_a_success_clears_the_names_failures_only(sessions) -> None:
    fail_at(sessions, "otto", "192.0.2.1", 0, 1, 2)
    fail_at(sessions, "vera", "192.0.2.1", 0, 1, 2)
    with sessions.begin() as session:
        clear_failed_sign_ins(session, "otto")
    assert lock_at(sessions, "otto", "192.0.2.9", 3) is None
    assert lock_at(sessions, "vera", "192.0.2.9", 3) is not None


def test_failures_too_old_to_count_are_deleted(sessions) -> None:
    fail_at(sessions, "otto", "192.0.2.1", 0)
    fail_at(sessions, "vera", "192.0.2.1", 20 * 60 + 1)  # past window + lockout
    with sessions.begin() as session:
        later = NOW + dt.timedelta(seconds=20 * 60 + 1)
        assert forget_old_sign_in_failures(session, LIMITS, later) == 1
    with sessions() as session:
        assert session.scalars(select(SignInFailure.name)).all() == ["vera"]
