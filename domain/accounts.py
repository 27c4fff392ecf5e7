"""People who sign in: their roles, what a name and a password must be, and the hashing.

Three roles, each allowed what the one below it is, and more:

- viewer: read and download;
- operator: batteries, profiles, experiments, pause, resume and stop;
- admin: users and stations.

Passwords are kept only as argon2id hashes (argon2-cffi, its recommended parameters).
"""

from __future__ import annotations

import re
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


class Role(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def allows(self, required: Role) -> bool:
        """Whether this role may do what `required` may (an admin may do everything)."""
        return self.rank >= required.rank


_RANKS = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MIN_PASSWORD_LENGTH = 10
# argon2 hashes any length, but a megabyte "password" would only cost the server time.
MAX_PASSWORD_LENGTH = 1024

_hasher = PasswordHasher()


class AccountError(ValueError):
    """A name, role or password refused; the message says which and why in one sentence."""


def parse_role(text: str) -> Role:
    try:
        return Role(text.strip().lower())
    except ValueError:
        raise AccountError(
            f"role: expected one of {', '.join(r.value for r in Role)}, got {text!r}"
        ) from None


def check_name(name: str) -> str:
    """The name as stored; names are compared as typed (letter case counts)."""
    if not NAME_PATTERN.match(name):
        raise AccountError(
            "name: 1 to 64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit"
        )
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"password: at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(f"password: at most {MAX_PASSWORD_LENGTH} characters")
    return password


def confirm_password(password: str, again: str) -> str:
    """A new password typed twice: the two entries must match, then as `check_password`."""
    if password != again:
        raise AccountError("password: the two entries differ")
    return check_password(password)


def hash_password(password: str) -> str:
    return _hasher.hash(check_password(password))


def verify_password(stored_hash: str, password: str) -> bool:
    """True when `password` matches; False for a wrong one or a damaged hash."""
    if len(password) > MAX_PASSWORD_LENGTH:
        return False
    try:
        return _hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """Whether the hash was made with weaker parameters than today's."""
    try:
        return _hasher.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


# A hash of nothing anyone knows: verified against when the name does not exist, so an
# unknown name takes as long to refuse as a wrong password.
DUMMY_HASH = _hasher.hash("no such user: this hash protects the timing of a refusal")
