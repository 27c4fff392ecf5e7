"""What the live monitor says about a station: step descriptions, durations and verdicts.

Pure functions, no Dash and no SQL. The steps are the expanded list the cycler runs
(`domain.profiles.ExpandedStep`), and the instruction number is 1-based in that list, as
in the MQTT measures message.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from domain.profiles.expansion import ExpandedStep
from domain.profiles.language import Limit, Mode
from domain.status import ExperimentStatus

MINUS = "\u2212"  # a real minus sign reads better than a hyphen next to numbers

# The time-window selector: (seconds, label); 0 means the whole experiment.
WHOLE_EXPERIMENT = 0
WINDOWS: tuple[tuple[int, str], ...] = (
    (30, "30 s"),
    (60, "1 min"),
    (300, "5 min"),
    (900, "15 min"),
    (1800, "30 min"),
    (3600, "1 h"),
    (21600, "6 h"),
    (WHOLE_EXPERIMENT, "whole experiment"),
)
DEFAULT_WINDOW_S = 300

# The refresh selector: (seconds, label); 0 means paused.
PAUSED = 0
REFRESH_PERIODS: tuple[tuple[int, str], ...] = (
    (1, "1 s"),
    (2, "2 s"),
    (5, "5 s"),
    (10, "10 s"),
    (30, "30 s"),
    (PAUSED, "paused"),
)
DEFAULT_REFRESH_S = 5

# Samples are late when none came for this many typical sample intervals (and at
# least the heartbeat timeout), so a slow logger is not taken for a silent one.
SILENT_INTERVALS = 5

_LIMIT_UNITS = {Limit.VOLTAGE: "V", Limit.CURRENT: "A", Limit.CAPACITY: "Ah", Limit.ENERGY: "Wh"}
_SETPOINT_UNITS = {Mode.CC: "A", Mode.CV: "V", Mode.CP: "W"}


# ---------------------------------------------------------------- numbers and durations


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


def format_utc(moment: dt.datetime | float | None, *, with_date: bool = False) -> str:
    """A UTC time (datetime or Unix seconds) as "14:03:07 UTC" (with the date if asked)."""
    if moment is None:
        return "–"
    if not isinstance(moment, dt.datetime):
        moment = dt.datetime.fromtimestamp(moment, dt.UTC)
    elif moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    moment = moment.astimezone(dt.UTC)
    pattern = "%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S"
    return f"{moment.strftime(pattern)} UTC"


def window_label(window_s: int) -> str:
    return dict(WINDOWS).get(window_s, format_duration(window_s, compact=True))


# ---------------------------------------------------------------- steps


@dataclass(frozen=True)
class StepPlan:
    """The expanded steps of an experiment, ready to describe any of them."""

    steps: tuple[ExpandedStep, ...]
    cycles: int  # the largest cycle number in the steps (1 without REPEAT)

    @classmethod
    def from_steps(cls, steps: Sequence[ExpandedStep]) -> StepPlan:
        cycles = max((step.cycle or 1 for step in steps), default=1)
        return cls(tuple(steps), cycles)

    @property
    def total(self) -> int:
        return len(self.steps)

    def describe(self, instruction: int | None) -> str:
        """ "step 7 of 400 · cycle 2 of 100 · CC −2.50 A until 3.00 V" for a 1-based step."""
        if instruction is None:
            return f"waiting for the first sample · {self.total} steps"
        if not 1 <= instruction <= self.total:
            return f"step {instruction} (not in the {self.total} steps of the profile)"
        step = self.steps[instruction - 1]
        parts = [f"step {instruction} of {self.total}"]
        if self.cycles > 1:
            parts.append(f"cycle {step.cycle or 1} of {self.cycles}")
        parts.append(describe_instruction(step))
        return " · ".join(parts)


def describe_instruction(step: ExpandedStep) -> str:
    """One step in words: "CC −2.50 A until 3.00 V", "CV 4.20 V until |I| < 0.10 A",
    "WAIT for 20 s"."""
    head = str(step.mode)
    if step.mode in _SETPOINT_UNITS:
        head = f"{head} {format_quantity(step.setpoint, _SETPOINT_UNITS[step.mode])}"
    if step.limit == Limit.TIME:
        return f"{head} for {format_duration(step.limit_value, compact=True)}"
    if step.limit == Limit.CURRENT:
        return f"{head} until |I| < {format_quantity(step.limit_value, 'A')}"
    return f"{head} until {format_quantity(step.limit_value, _LIMIT_UNITS[step.limit])}"


# ---------------------------------------------------------------- verdicts


class Liveness(StrEnum):
    """How a station is doing, from its heartbeats and the samples of its experiment."""

    ONLINE = "online"
    SILENT = "silent"  # online or not, its running experiment sends no samples
    OFFLINE = "offline"
    NEVER_SEEN = "never seen"


def heartbeat_age(last_heartbeat: dt.datetime | None, now: dt.datetime) -> float | None:
    if last_heartbeat is None:
        return None
    if last_heartbeat.tzinfo is None:
        last_heartbeat = last_heartbeat.replace(tzinfo=dt.UTC)
    return (now - last_heartbeat).total_seconds()


def is_online(last_heartbeat: dt.datetime | None, now: dt.datetime, timeout_s: float) -> bool:
    """A station is online while a heartbeat came within `timeout_s`."""
    age = heartbeat_age(last_heartbeat, now)
    return age is not None and age <= timeout_s


def silence_threshold_s(
    timeout_s: float,
    began_at: dt.datetime | None,
    last_sample_at: float | None,
    sample_count: int,
) -> float:
    """Seconds without a sample after which a running experiment counts as silent.

    The heartbeat timeout, or several typical sample intervals if the logger is slower.
    """
    if began_at is None or last_sample_at is None or sample_count < 2:
        return timeout_s
    if began_at.tzinfo is None:
        began_at = began_at.replace(tzinfo=dt.UTC)
    interval = (last_sample_at - began_at.timestamp()) / (sample_count - 1)
    return max(timeout_s, SILENT_INTERVALS * interval)


def liveness(
    *,
    last_heartbeat: dt.datetime | None,
    now: dt.datetime,
    timeout_s: float,
    status: ExperimentStatus | None = None,
    began_at: dt.datetime | None = None,
    last_sample_at: float | None = None,
    sample_count: int = 0,
) -> Liveness:
    """The verdict for a station and, if one is given, its experiment.

    Offline wins over silent: a station that stopped sending heartbeats is offline,
    whatever its samples do. A running experiment whose samples stopped coming (or never
    came) is silent, even while heartbeats arrive.
    """
    if last_heartbeat is None:
        return Liveness.NEVER_SEEN
    if not is_online(last_heartbeat, now, timeout_s):
        return Liveness.OFFLINE
    if status == ExperimentStatus.RUNNING:
        threshold = silence_threshold_s(timeout_s, began_at, last_sample_at, sample_count)
        reference = last_sample_at
        if reference is None and began_at is not None:
            reference = (
                began_at.timestamp()
                if began_at.tzinfo
                else began_at.replace(tzinfo=dt.UTC).timestamp()
            )
        if reference is not None and now.timestamp() - reference > threshold:
            return Liveness.SILENT
    return Liveness.ONLINE


def elapsed_s(
    began_at: dt.datetime | None, finished_at: dt.datetime | None, now: dt.datetime
) -> float | None:
    """Seconds since the experiment began (until it finished, if it did)."""
    if began_at is None:
        return None
    end = finished_at or now
    if began_at.tzinfo is None:
        began_at = began_at.replace(tzinfo=dt.UTC)
    if end.tzinfo is None:
        end = end.replace(tzinfo=dt.UTC)
    return max(0.0, (end - began_at).total_seconds())


# ---------------------------------------------------------------- commands


def allowed_commands(status: ExperimentStatus | None) -> frozenset[str]:
    """The operator commands that make sense in this status."""
    if status == ExperimentStatus.RUNNING:
        return frozenset({"pause", "stop"})
    if status == ExperimentStatus.PAUSED:
        return frozenset({"resume", "stop"})
    return frozenset()


def window_range(
    last_ts: float, window_s: int, first_ts: float | None = None
) -> tuple[float, float]:
    """The x range of a window in Unix seconds: the last `window_s` seconds of real time
    up to the last sample, or the whole experiment from its first sample."""
    if window_s == WHOLE_EXPERIMENT:
        start = first_ts if first_ts is not None else last_ts
        return start, max(last_ts, start)
    return last_ts - window_s, last_ts
