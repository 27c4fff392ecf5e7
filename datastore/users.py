"""The users table: add, list, change a password or role, and check a sign-in.

Passwords arrive in clear only to be hashed (domain.accounts) and are never stored or
logged as given. A refused sign-in does not say whether the name or the password was
wrong: the caller shows one sentence for both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from datastore.catalog import DuplicateError, NotFoundError
from datastore.models import SignInFailure, User, utcnow
from domain.accounts import (
    DUMMY_HASH,
    AccountError,
    Role,
    check_name,
    hash_password,
    needs_rehash,
    verify_password,
)
from domain.sign_in_limits import Lock, LockedBy, SignInLimits, active_lock


@dataclass(frozen=True)
class Account:
    """A user as the web app and the command line see it: everything but the hash."""

    id: int
    name: str
    role: Role
    disabled: bool
    created_at: datetime
    last_login_at: datetime | None


def _account(user: User) -> Account:
    return Account(
        id=user.id,
        name=user.name,
        role=Role(user.role),
        disabled=user.disabled,
        created_at=user.created_at,
        last_login_at=user.last_login_at,
    )


def _by_name(session: Session, name: str) -> User | None:
    return session.scalars(select(User).where(User.name == name)).one_or_none()


def add_user(session: Session, name: str, role: Role, password: str) -> Account:
    """A new enabled user; DuplicateError when the name is taken."""
    check_name(name)
    if _by_name(session, name) is not None:
        raise DuplicateError(f"name: there is already a user named {name!r}")
    user = User(name=name, role=role, password_hash=hash_password(password), disabled=False)
    session.add(user)
    session.flush()
    return _account(user)


def _existing(session: Session, name: str) -> User:
    user = _by_name(session, name)
    if user is None:
        raise NotFoundError(f"there is no user named {name!r}")
    return user


def set_password(session: Session, name: str, password: str) -> None:
    _existing(session, name).password_hash = hash_password(password)


def _enabled_admins(session: Session) -> list[int]:
    """The ids of the enabled admins, locked until the transaction ends: two admins
    demoting each other at once on MariaDB cannot both see the other still there."""
    return list(
        session.scalars(
            select(User.id)
            .where(User.role == Role.ADMIN, User.disabled.is_(False))
            .order_by(User.id)
            .with_for_update()
        )
    )


def _keep_an_admin(session: Session, user: User) -> None:
    """Refuse a change that would leave no enabled admin (nobody could manage users or
    stations in the browser again)."""
    last = Role(user.role) is Role.ADMIN and not user.disabled
    if last and _enabled_admins(session) == [user.id]:
        raise AccountError(
            f"{user.name} is the last enabled admin; make another user an admin first"
        )


def set_role(session: Session, name: str, role: Role, *, acting_id: int | None = None) -> None:
    """Give `name` another role. Refused (AccountError) for the last enabled admin, and
    for the person acting (`acting_id`, the signed-in user) lowering their own role."""
    user = _existing(session, name)
    if Role(user.role) is role:
        return
    if not role.allows(Role(user.role)):
        if user.id == acting_id:
            raise AccountError("role: you cannot lower your own role; ask another admin")
        _keep_an_admin(session, user)
    user.role = role


def set_disabled(
    session: Session, name: str, disabled: bool, *, acting_id: int | None = None
) -> None:
    """Stop or allow `name`'s sign-in. Disabling is refused (AccountError) for the last
    enabled admin and for the person acting (`acting_id`): nobody locks themself out."""
    user = _existing(session, name)
    if disabled and not user.disabled:
        if user.id == acting_id:
            raise AccountError("you cannot disable your own account; ask another admin")
        _keep_an_admin(session, user)
    user.disabled = disabled


def list_users(session: Session) -> list[Account]:
    return [_account(user) for user in session.scalars(select(User).order_by(User.name))]


def count_users(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(User)) or 0)


def get_account(session: Session, user_id: int) -> Account | None:
    """The enabled user with this id, or None (unknown or disabled: the session ends)."""
    user = session.get(User, user_id)
    if user is None or user.disabled:
        return None
    return _account(user)


def authenticate(session: Session, name: str, password: str) -> Account | None:
    """The user when the name and password match an enabled account, else None; a success
    records the time and upgrades a hash made with older parameters."""
    user = _by_name(session, name) if name else None
    if user is None:
        verify_password(DUMMY_HASH, password)  # the same work as for a wrong password
        return None
    if not verify_password(user.password_hash, password) or user.disabled:
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    return _account(user)


# ---------------------------------------------------------------- failed sign-ins


def _recent_failures(session: Session, column: Any, value: str, count: int) -> list[datetime]:
    """The times of the last `count` failures with this name or address, newest first."""
    if count <= 0:
        return []
    query = select(SignInFailure.at).where(column == value)
    return list(session.scalars(query.order_by(SignInFailure.at.desc()).limit(count)))


def sign_in_lock(
    session: Session, name: str, address: str, limits: SignInLimits, now: datetime
) -> Lock | None:
    """The lock that refuses a sign-in of `name` from `address` at `now`, if any: the
    name's first, then the address's (domain.sign_in_limits)."""
    for by, column, value, most in (
        (LockedBy.NAME, SignInFailure.name, name[:64], limits.max_per_name),
        (LockedBy.ADDRESS, SignInFailure.address, address[:64], limits.max_per_address),
    ):
        lock = active_lock(by, _recent_failures(session, column, value, most), most, limits, now)
        if lock is not None:
            return lock
    return None


def record_failed_sign_in(session: Session, name: str, address: str, now: datetime) -> None:
    """Count a refused sign-in."""
    session.add(SignInFailure(name=name[:64], address=address[:64], at=now))
    session.flush()


def forget_old_sign_in_failures(session: Session, limits: SignInLimits, now: datetime) -> int:
    """Delete the failures too old to count any more; how many. Best run in a transaction
    of its own: a range delete beside other workers' inserts is better kept short."""
    result = session.execute(delete(SignInFailure).where(SignInFailure.at < now - limits.kept))
    return int(getattr(result, "rowcount", 0) or 0)


def clear_failed_sign_ins(session: Session, name: str) -> None:
    """A successful sign-in: the name's failures no longer count (its address's still do)."""
    session.execute(delete(SignInFailure).where(SignInFailure.name == name[:64]))
