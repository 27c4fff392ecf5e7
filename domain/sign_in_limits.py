"""Slowing down password guessing: when a name, or a client address, has failed to sign
in too often within a window, further attempts are refused for a while.

The rule, for a name and for an address alike: take the last `max_failures` failed
sign-ins; when there are that many and they all fall within `window`, the name (or
address) is locked until `lockout` after the newest of them. Attempts refused while
locked are not counted, so the lock ends `lockout` after the last real attempt; one
more failure then locks again at once (the earlier failures still count while they are
in the window). A success clears the name's failures.

Failures are counted for any name typed, existing or not, so a lock says nothing about
whether an account exists. The failures themselves live in the database
(`datastore.users`), so every web worker sees the same counts.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class LockedBy(StrEnum):
    NAME = "name"
    ADDRESS = "address"


@dataclass(frozen=True)
class SignInLimits:
    """The settings auth.max_failed_sign_ins, auth.max_failed_sign_ins_per_address,
    auth.failure_window_minutes and auth.lockout_minutes; a maximum of 0 turns its
    limit off."""

    max_per_name: int
    max_per_address: int
    window: dt.timedelta
    lockout: dt.timedelta

    @property
    def kept(self) -> dt.timedelta:
        """How long a failure can matter: older ones may be deleted."""
        return self.window + self.lockout


@dataclass(frozen=True)
class Lock:
    """Sign-in refused for `by` until `until`."""

    by: LockedBy
    until: dt.datetime

    def message(self, now: dt.datetime) -> str:
        """The sentence the sign-in page shows: which limit, and how long to wait."""
        minutes = max(1, math.ceil((self.until - now).total_seconds() / 60))
        wait = "1 minute" if minutes == 1 else f"{minutes} minutes"
        whose = "for this account" if self.by is LockedBy.NAME else "from this address"
        return f"Too many failed sign-ins {whose}; try again in {wait}."


def locked_until(
    failures: Sequence[dt.datetime],
    max_failures: int,
    window: dt.timedelta,
    lockout: dt.timedelta,
) -> dt.datetime | None:
    """When the lock made by these failed sign-ins (newest first) ends; None when they
    make none (fewer than `max_failures`, spread wider than `window`, or the limit off)."""
    if max_failures <= 0 or len(failures) < max_failures:
        return None
    newest, oldest = failures[0], failures[max_failures - 1]
    if newest - oldest > window:
        return None
    return newest + lockout


def active_lock(
    by: LockedBy,
    failures: Sequence[dt.datetime],
    max_failures: int,
    limits: SignInLimits,
    now: dt.datetime,
) -> Lock | None:
    """The lock in force at `now`, if these failures (newest first) make one."""
    until = locked_until(failures, max_failures, limits.window, limits.lockout)
    return Lock(by, until) if until is not None and until > now else None
