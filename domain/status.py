"""The experiment lifecycle: the one definition of the six statuses and their transitions."""

from __future__ import annotations

from enum import StrEnum


class ExperimentStatus(StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    FINISHED = "FINISHED"
    ERROR = "ERROR"
    CANCELLED = "CANCELLED"

    @property
    def is_active(self) -> bool:
        """Running or paused: the experiment occupies its station."""
        return self in ACTIVE_STATUSES

    @property
    def is_closed(self) -> bool:
        """Finished, failed or cancelled: no more samples are accepted."""
        return self in CLOSED_STATUSES


ACTIVE_STATUSES = frozenset({ExperimentStatus.RUNNING, ExperimentStatus.PAUSED})
CLOSED_STATUSES = frozenset(
    {ExperimentStatus.FINISHED, ExperimentStatus.ERROR, ExperimentStatus.CANCELLED}
)

# Which status a cycler (or the UI, for CANCELLED) may move an experiment to.
ALLOWED_TRANSITIONS: dict[ExperimentStatus, frozenset[ExperimentStatus]] = {
    ExperimentStatus.QUEUED: frozenset(
        {
            ExperimentStatus.RUNNING,
            ExperimentStatus.CANCELLED,
            ExperimentStatus.ERROR,
            ExperimentStatus.FINISHED,
        }
    ),
    ExperimentStatus.RUNNING: frozenset(
        {ExperimentStatus.PAUSED, ExperimentStatus.FINISHED, ExperimentStatus.ERROR}
    ),
    ExperimentStatus.PAUSED: frozenset(
        {ExperimentStatus.RUNNING, ExperimentStatus.FINISHED, ExperimentStatus.ERROR}
    ),
    ExperimentStatus.FINISHED: frozenset(),
    ExperimentStatus.ERROR: frozenset(),
    ExperimentStatus.CANCELLED: frozenset(),
}


def can_transition(current: ExperimentStatus, new: ExperimentStatus) -> bool:
    """Whether `current` may become `new` (staying in the same status is always allowed)."""
    return current == new or new in ALLOWED_TRANSITIONS[current]


def allowed_commands(status: ExperimentStatus | None) -> frozenset[str]:
    """The operator commands that make sense in this status."""
    if status == ExperimentStatus.RUNNING:
        return frozenset({"pause", "stop"})
    if status == ExperimentStatus.PAUSED:
        return frozenset({"resume", "stop"})
    return frozenset()
