"""The online/offline/silent verdicts and elapsed times."""

from __future__ import annotations

import datetime as dt

import pytest

from domain.liveness import Liveness, elapsed_s, liveness, silence_threshold_s
from domain.status import ExperimentStatus

NOW = dt.datetime(2025, 6, 1, 12, 0, 0, tzinfo=dt.UTC)


def test_elapsed_time_runs_until_the_experiment_finished():
    began = NOW - dt.timedelta(hours=2)
    assert elapsed_s(began, None, NOW) == 7200
    assert elapsed_s(began, began + dt.timedelta(minutes=5), NOW) == 300
    assert elapsed_s(None, None, NOW) is None


# ---------------------------------------------------------------- verdicts


def verdict(**changes) -> Liveness:
    arguments = {
        "last_heartbeat": NOW - dt.timedelta(seconds=2),
        "now": NOW,
        "timeout_s": 15.0,
        "status": ExperimentStatus.RUNNING,
        "began_at": NOW - dt.timedelta(seconds=100),
        "last_sample_at": NOW.timestamp() - 1,
        "sample_count": 100,
    }
    return liveness(**{**arguments, **changes})


def test_a_station_with_recent_heartbeats_and_samples_is_online():
    assert verdict() == Liveness.ONLINE


def test_a_station_without_a_recent_heartbeat_is_offline_even_with_samples():
    assert verdict(last_heartbeat=NOW - dt.timedelta(seconds=16)) == Liveness.OFFLINE
    assert verdict(last_heartbeat=None) == Liveness.NEVER_SEEN


def test_a_running_experiment_without_recent_samples_is_silent():
    assert verdict(last_sample_at=NOW.timestamp() - 20) == Liveness.SILENT
    assert verdict(last_sample_at=None, began_at=NOW - dt.timedelta(seconds=60)) == Liveness.SILENT


def test_a_paused_or_idle_station_is_never_silent():
    late = NOW.timestamp() - 600
    assert verdict(status=ExperimentStatus.PAUSED, last_sample_at=late) == Liveness.ONLINE
    assert verdict(status=None, last_sample_at=late) == Liveness.ONLINE


def test_a_slow_logger_gets_a_longer_silence_threshold():
    # One sample a minute: silence is judged on five intervals, not the heartbeat timeout.
    began = NOW - dt.timedelta(hours=1)
    assert silence_threshold_s(15.0, began, NOW.timestamp(), 61) == pytest.approx(300)
    slow = {"began_at": began, "sample_count": 61}
    assert verdict(last_sample_at=NOW.timestamp() - 120, **slow) == Liveness.ONLINE
    assert verdict(last_sample_at=NOW.timestamp() - 400, **slow) == Liveness.SILENT
