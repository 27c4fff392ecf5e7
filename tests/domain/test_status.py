"""What an experiment's status allows."""

from __future__ import annotations

from domain.status import ExperimentStatus, allowed_commands


def test_buttons_follow_what_the_status_allows():
    assert allowed_commands(ExperimentStatus.RUNNING) == {"pause", "stop"}
    assert allowed_commands(ExperimentStatus.PAUSED) == {"resume", "stop"}
    for status in ("QUEUED", "FINISHED", "ERROR", "CANCELLED"):
        assert allowed_commands(ExperimentStatus(status)) == frozenset()
