"""Numbers, durations and times as people read them: "−2.50 A", "12 min 05 s", "14:03:07 UTC".

Pure functions, used by the pages and the step descriptions.
"""

from __future__ import annotations

import datetime as dt
import html
import math

MINUS = "\u2212"  # a real minus sign reads better than a hyphen next to numbers


def format_quantity(value: float | None, unit: str, decimals: int = 2) -> str:
    """`-2.5, "A"` -> "−2.50 A"; None or NaN -> "–"."""
    if value is None or not math.isfinite(value):
        return "–"
    text = f"{value:.{decimals}f}"
    if text.startswith("-"):
        # -0.00 is just 0.00
        text = text[1:] if float(text) == 0 else MINUS + text[1:]
    return f"{text} {unit}".rstrip()


def format_duration(seconds: float | None, *, compact: bool = False) -> str:
    """A duration for people: "42 s", "12 min 05 s", "3 h 05 min 12 s", "2 d 03 h 05 min".

    With `compact`, zero parts are left out ("1 h 30 min", "40 s"), as for a step length.
    """
    if seconds is None or not math.isfinite(seconds):
        return "–"
    total = max(0, int(round(seconds)))
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if compact:
        parts = [(days, "d"), (hours, "h"), (minutes, "min"), (secs, "s")]
        shown = [f"{value} {unit}" for value, unit in parts if value]
        return " ".join(shown) or "0 s"
    if days:
        return f"{days} d {hours:02d} h {minutes:02d} min"
    if hours:
        return f"{hours} h {minutes:02d} min {secs:02d} s"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def format_age(seconds: float | None) -> str:
    """How long ago something happened: "3 s ago", "never" when it did not."""
    if seconds is None:
        return "never"
    return f"{format_duration(max(0.0, seconds))} ago"


INVALID_TIME = "invalid time"


def format_utc(moment: dt.datetime | float | None, *, with_date: bool = False) -> str:
    """A UTC time (datetime or Unix seconds) as "14:03:07 UTC" (with the date if asked).

    A number no calendar date matches (1e20, inf, NaN: stored before the node refused such
    times) reads "invalid time" instead of raising, so one bad sample cannot break a page.
    """
    if moment is None:
        return "–"
    if not isinstance(moment, dt.datetime):
        try:
            moment = dt.datetime.fromtimestamp(moment, dt.UTC)
        except (OverflowError, OSError, ValueError):
            return INVALID_TIME
    elif moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    try:
        moment = moment.astimezone(dt.UTC)
    except (OverflowError, ValueError):
        return INVALID_TIME
    pattern = "%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S"
    return f"{moment.strftime(pattern)} UTC"


def plot_text(text: object) -> str:
    """Text for a Plotly figure (trace names, hover text, titles, category labels).

    Plotly renders a subset of HTML there, links included: names that come from people
    or cyclers (channels, batteries, experiments) are escaped, so `<a href=…>` shows as
    typed and never becomes a live link.
    """
    return html.escape(str(text), quote=False)
