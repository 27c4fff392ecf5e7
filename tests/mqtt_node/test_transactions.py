"""The node's transactions: retried with back-off while the database is unreachable only."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError, OperationalError

from mqtt_node.transactions import Transactions


class RecordedPauses(threading.Event):
    """A stop event that records each pause asked of it and returns at once."""

    def __init__(self) -> None:
        super().__init__()
        self.pauses: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.pauses.append(timeout or 0.0)
        return self.is_set()


def failing(times: int, error: Exception):
    """Work that raises `error` on its first `times` attempts, then returns "done"."""
    attempts = [0]

    def work(connection: Connection) -> str:
        connection.execute(text("SELECT 1"))
        attempts[0] += 1
        if attempts[0] <= times:
            raise error
        return "done"

    return work


LOST = OperationalError("SELECT 1", {}, ConnectionError("server has gone away"))


def test_work_is_retried_while_the_database_is_unreachable_then_its_result_returned(
    sqlite_engine,
):
    transactions = Transactions(sqlite_engine, RecordedPauses())

    assert transactions.commit(failing(3, LOST)) == "done"
    assert transactions.errors == 3


def test_the_pause_doubles_after_each_failure_up_to_the_longest(sqlite_engine):
    pauses = RecordedPauses()
    transactions = Transactions(sqlite_engine, pauses, first_delay_s=0.5, max_delay_s=5.0)

    transactions.commit(failing(6, LOST))

    assert pauses.pauses == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]


def test_an_error_a_retry_would_not_cure_is_raised_at_once(sqlite_engine):
    transactions = Transactions(sqlite_engine, RecordedPauses())
    refused = IntegrityError("INSERT", {}, ValueError("constraint failed"))

    with pytest.raises(IntegrityError):
        transactions.commit(failing(1, refused))
    assert transactions.errors == 0


def test_nothing_is_returned_when_the_node_stops_during_a_pause(sqlite_engine):
    stopping = RecordedPauses()
    stopping.set()
    transactions = Transactions(sqlite_engine, stopping)

    assert transactions.commit(failing(1, LOST)) is None
    assert stopping.pauses == [0.5]
