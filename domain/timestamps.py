"""Which measurement times the node believes: the one rule for a sample's or alarm's `ts`.

A cycler's clock is outside our control: firmware that sends milliseconds as seconds,
a clock reset to 1970, or a corrupted number (1e300) would otherwise be stored and then
break every page that turns the time into a date (year 58885 is out of range), the
monitor with its Stop button included. So a time is believed only when it is a finite
Unix time in seconds, not before 2000-01-01 and at most a day ahead of the node's clock
(a day covers any time zone mistake and a clock that drifted, not a wrong unit).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Final

# 2000-01-01T00:00:00Z: no battery cycler in use has measured before it.
EARLIEST_TS: Final = 946_684_800.0
# How far ahead of the node's clock a time may be.
MAX_AHEAD_S: Final = 86_400.0
# A Unix time in milliseconds of a date from 2001 to 5138 lies in this range: a time here
# is a clock in milliseconds, not seconds (1e12 s would be the year 33658).
_MILLISECONDS: Final = (1e12, 1e14)


def _number_text(ts: float) -> str:
    """The number as short as it reads exactly: 1e+300, 1772366400250, 946684799.5."""
    text = repr(ts)
    return text[:-2] if text.endswith(".0") else text


def timestamp_problem(ts: float, now: float) -> str | None:
    """Why `ts` (Unix seconds) is not a believable measurement time at the node's clock
    `now` (Unix seconds), in words for the rejected-messages table; None when it is."""
    if not math.isfinite(ts):
        return f"{ts!r} is not a finite number"
    if _MILLISECONDS[0] <= ts < _MILLISECONDS[1]:
        return (
            f"{_number_text(ts)} looks like a clock in milliseconds ({_utc_text(ts / 1000)} if divided "
            "by 1000); the protocol's times are Unix seconds"
        )
    if ts < EARLIEST_TS:
        return f"{_number_text(ts)} is before 2000-01-01 ({_utc_text(ts)})"
    if ts > now + MAX_AHEAD_S:
        ahead = ts - now
        return (
            f"{_number_text(ts)} is {_ahead_text(ahead)} ahead of the node's clock "
            f"({_utc_text(now)}); at most 1 day is accepted"
        )
    return None


def _ahead_text(seconds: float) -> str:
    days = seconds / 86_400
    if days < 1000:
        return f"{days:.1f} days"
    return f"{seconds / (365.25 * 86_400):.3g} years"


def _utc_text(ts: float) -> str:
    """The time as an ISO date in UTC, or "out of the calendar's range"."""
    try:
        moment = dt.datetime.fromtimestamp(ts, dt.UTC)
    except (OverflowError, OSError, ValueError):
        return "a date out of the calendar's range"
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")
