"""The lock on failed sign-ins: how many, how close together, how long, and what it says."""

from __future__ import annotations

import datetime as dt

from domain.sign_in_limits import Lock, LockedBy, SignInLimits, active_lock, locked_until

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)
WINDOW, LOCKOUT = 15 * MINUTE, 5 * MINUTE
LIMITS = SignInLimits(max_per_name=3, max_per_address=10, window=WINDOW, lockout=LOCKOUT)


def ago(*minutes: float) -> list[dt.datetime]:
    return [NOW - m * MINUTE for m in minutes]


def test_fewer_failures_than_the_limit_lock_nothing() -> None:
    assert locked_until(ago(0, 1), 3, WINDOW, LOCKOUT) is None


def test_the_limit_reached_within_the_window_locks_from_the_newest_failure() -> None:
    assert locked_until(ago(1, 2, 10), 3, WINDOW, LOCKOUT) == NOW + 4 * MINUTE


def test_failures_spread_wider_than_the_window_lock_nothing() -> None:
    assert locked_until(ago(0, 1, 16), 3, WINDOW, LOCKOUT) is None


def test_a_limit_of_zero_is_off() -> None:
    assert locked_until(ago(0, 0, 0, 0), 0, WINDOW, LOCKOUT) is None


def test_a_lock_ends_lockout_after_the_last_failure() -> None:
    assert active_lock(LockedBy.NAME, ago(4, 5, 6), 3, LIMITS, NOW) == Lock(
        LockedBy.NAME, NOW + MINUTE
    )
    assert active_lock(LockedBy.NAME, ago(5, 6, 7), 3, LIMITS, NOW) is None


def test_the_message_says_whose_limit_and_the_minutes_left_rounded_up() -> None:
    assert Lock(LockedBy.NAME, NOW + LOCKOUT).message(NOW) == (
        "Too many failed sign-ins for this account; try again in 5 minutes."
    )
    assert Lock(LockedBy.ADDRESS, NOW + dt.timedelta(seconds=61)).message(NOW) == (
        "Too many failed sign-ins from this address; try again in 2 minutes."
    )
    assert Lock(LockedBy.NAME, NOW + dt.timedelta(seconds=5)).message(NOW) == (
        "Too many failed sign-ins for this account; try again in 1 minute."
    )


def test_failures_are_kept_as_long_as_they_can_count() -> None:
    assert LIMITS.kept == WINDOW + LOCKOUT
