"""Whether a station is online, silent or offline, from its heartbeats and samples.

Pure functions of the times involved; the caller passes "now".
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from domain.status import ExperimentStatus

# Samples are late when none came for this many typical sample intervals (and at
# least the heartbeat timeout), so a slow logger is not taken for a silent one.
SILENT_INTERVALS = 5


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
