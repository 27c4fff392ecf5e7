"""What the monitor says: step descriptions, durations, and the online/offline/silent verdicts."""

from __future__ import annotations

import datetime as dt

import pytest

from domain.monitor import (
    Liveness,
    StepPlan,
    allowed_commands,
    describe_instruction,
    elapsed_s,
    format_age,
    format_duration,
    format_quantity,
    format_utc,
    liveness,
    silence_threshold_s,
    window_range,
)
from domain.profiles import ExpandedStep, Limit, Mode, expand_profile, parse_profile
from domain.status import ExperimentStatus

NOW = dt.datetime(2025, 6, 1, 12, 0, 0, tzinfo=dt.UTC)


def steps_of(source: str, capacity_ah: float | None = None) -> list[ExpandedStep]:
    return expand_profile(parse_profile(source), capacity_ah)


# ---------------------------------------------------------------- steps


def test_a_step_is_described_with_its_position_cycle_and_instruction():
    plan = StepPlan.from_steps(
        steps_of(
            "CC, 1, TIME, 10\n"
            "REPEAT 100\n CC, -2.5, VOLTAGE, 3.0\n CV, 4.2, CURRENT, 0.1\n"
            " WAIT, 60\n CP, 5, TIME, 90\nEND\n"
        )
    )
    assert plan.total == 401 and plan.cycles == 100
    assert plan.describe(6) == "step 6 of 401 · cycle 2 of 100 · CC −2.50 A until 3.00 V"
    assert plan.describe(7) == "step 7 of 401 · cycle 2 of 100 · CV 4.20 V until |I| < 0.10 A"
    assert plan.describe(8) == "step 8 of 401 · cycle 2 of 100 · WAIT for 1 min"
    assert plan.describe(9) == "step 9 of 401 · cycle 2 of 100 · CP 5.00 W for 1 min 30 s"


def test_a_profile_without_repeat_has_no_cycle_in_its_description():
    plan = StepPlan.from_steps(steps_of("CC, 0.5C, CAPACITY, 1.2\nCP, -4, ENERGY, 2\n", 2.0))
    assert plan.describe(1) == "step 1 of 2 · CC 1.00 A until 1.20 Ah"
    assert plan.describe(2) == "step 2 of 2 · CP −4.00 W until 2.00 Wh"


def test_before_the_first_sample_and_outside_the_steps_the_text_says_so():
    plan = StepPlan.from_steps(steps_of("WAIT, 5\n"))
    assert plan.describe(None) == "waiting for the first sample · 1 steps"
    assert "not in the 1 steps" in plan.describe(7)


def test_steps_without_a_cycle_count_as_one_cycle():
    plan = StepPlan.from_steps([ExpandedStep(Mode.WAIT, None, Limit.TIME, 20.0, step=1)])
    assert plan.cycles == 1
    assert plan.describe(1) == "step 1 of 1 · WAIT for 20 s"


def test_an_instruction_is_described_on_its_own():
    step = ExpandedStep(Mode.CV, 4.2, Limit.CURRENT, 0.1, step=3, cycle=2, line=4)
    assert describe_instruction(step) == "CV 4.20 V until |I| < 0.10 A"


# ---------------------------------------------------------------- numbers and times


@pytest.mark.parametrize(
    ("seconds", "text", "compact"),
    [
        (0, "0 s", "0 s"),
        (42.4, "42 s", "42 s"),
        (725, "12 min 05 s", "12 min 5 s"),
        (3600, "1 h 00 min 00 s", "1 h"),
        (11_112, "3 h 05 min 12 s", "3 h 5 min 12 s"),
        (2 * 86_400 + 3 * 3600 + 300, "2 d 03 h 05 min", "2 d 3 h 5 min"),
    ],
)
def test_durations_read_naturally(seconds, text, compact):
    assert format_duration(seconds) == text
    assert format_duration(seconds, compact=True) == compact


def test_quantities_use_a_real_minus_sign_and_no_negative_zero():
    assert format_quantity(-2.5, "A") == "−2.50 A"
    assert format_quantity(-0.001, "A") == "0.00 A"
    assert format_quantity(None, "V") == "–"
    assert format_quantity(float("nan"), "V") == "–"


def test_clock_times_are_shown_in_utc_and_say_so():
    assert format_utc(NOW) == "12:00:00 UTC"
    assert format_utc(NOW.timestamp(), with_date=True) == "2025-06-01 12:00:00 UTC"
    assert format_age(None) == "never" and format_age(-3) == "0 s ago"


def test_elapsed_time_runs_until_the_experiment_finished():
    began = NOW - dt.timedelta(hours=2)
    assert elapsed_s(began, None, NOW) == 7200
    assert elapsed_s(began, began + dt.timedelta(minutes=5), NOW) == 300
    assert elapsed_s(None, None, NOW) is None


def test_windows_are_real_time_ending_at_the_last_sample():
    assert window_range(1000.0, 30) == (970.0, 1000.0)
    assert window_range(1000.0, 0, first_ts=10.0) == (10.0, 1000.0)


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


def test_buttons_follow_what_the_status_allows():
    assert allowed_commands(ExperimentStatus.RUNNING) == {"pause", "stop"}
    assert allowed_commands(ExperimentStatus.PAUSED) == {"resume", "stop"}
    for status in ("QUEUED", "FINISHED", "ERROR", "CANCELLED"):
        assert allowed_commands(ExperimentStatus(status)) == frozenset()
