"""Dispatch: starting queued experiments, and forwarding operator commands, to the stations.

One pass, in one transaction, sends the operator's stop, pause and resume commands not
sent yet, sends again each start a station has not confirmed in time (or, once the
retries are used up or the station has been deprecated meanwhile, marks its experiment
ERROR: a deprecated station never gets a start), and starts the oldest queued
experiment of each online, idle station whose battery is free (a battery runs one
experiment at a time, see `datastore.dispatch.startable_experiments`). Every command is claimed in the database
first, so when several nodes run exactly one of them sends it, and it is published only
once the pass has committed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import Connection

from config.logs import for_experiment
from datastore import dispatch as dispatch_store
from datastore.types import utcnow
from mqtt_node import protocol
from mqtt_node.liveness import Clock, Liveness
from mqtt_node.topics import Topics
from mqtt_node.transactions import Transactions
from mqtt_node.transport import Outgoing, Publish

log = logging.getLogger("bem.node")


@dataclass
class DispatchStats:
    """What dispatch has committed so far."""

    # Passes completed: lets a test wait for "the node has looked again".
    passes: int = 0
    starts_sent: int = 0


@dataclass
class _Pass:
    """What one attempt at a pass decided: sent, and counted, only once it commits."""

    commands: list[Outgoing] = dataclasses.field(default_factory=list)
    starts: int = 0


class Dispatch:
    """Dispatch passes on the database of `transactions`, publishing through `publish`."""

    def __init__(
        self,
        transactions: Transactions,
        topics: Topics,
        publish: Publish,
        liveness: Liveness,
        *,
        start_timeout_s: float,
        start_retries: int,
        clock: Clock = utcnow,
    ) -> None:
        self.stats = DispatchStats()
        self._transactions = transactions
        self._topics = topics
        self._publish = publish
        self._liveness = liveness
        self._start_timeout_s = start_timeout_s
        self._start_retries = start_retries
        self._clock = clock

    def run_pass(self) -> bool:
        """One pass; False when the node stopped before it could commit.

        An error other than a lost database (a bug, a row the database refuses) is raised,
        and the pass leaves nothing behind.
        """
        decided = self._transactions.commit(self._decide)
        if decided is None:
            return False
        self.stats.passes += 1
        self.stats.starts_sent += decided.starts
        for command in decided.commands:
            self._publish(*command)
        return True

    def _decide(self, connection: Connection) -> _Pass:
        now = self._clock()
        decided = _Pass()
        for command in dispatch_store.claim_pending_commands(connection, now):
            decided.commands.append(
                Outgoing(
                    self._topics.commands(command.station_id),
                    protocol.encode_control(command.command, command.experiment_id),
                    protocol.QOS["commands"],
                )
            )
        timeout = dt.timedelta(seconds=self._start_timeout_s)
        for start in dispatch_store.expired_starts(connection, now - timeout):
            if start.station_deprecated:
                dispatch_store.fail_start(
                    connection,
                    start.experiment_id,
                    now,
                    f"station {start.station_id} did not confirm the start within "
                    f"{self._start_timeout_s:g} s and has been replaced since; queue the "
                    "experiment again on its current station",
                )
                log.error(
                    "start not confirmed by deprecated station %d, marked ERROR",
                    start.station_id,
                    extra=for_experiment(start.experiment_id),
                )
            elif start.attempts > self._start_retries:
                dispatch_store.fail_start(
                    connection,
                    start.experiment_id,
                    now,
                    f"station {start.station_id} did not confirm the start within "
                    f"{self._start_timeout_s:g} s ({start.attempts} attempts)",
                )
                log.error(
                    "start not confirmed by station %d after %d attempts, marked ERROR",
                    start.station_id,
                    start.attempts,
                    extra=for_experiment(start.experiment_id),
                )
            elif dispatch_store.claim_start(connection, start.experiment_id, now, start.attempts):
                self._start(decided, start)
        online_since = self._liveness.online_since(now)
        for start in dispatch_store.startable_experiments(connection, online_since):
            if dispatch_store.claim_start(connection, start.experiment_id, now, 0):
                self._start(decided, start)
        return decided

    def _start(self, decided: _Pass, start: dispatch_store.StartOrder) -> None:
        log.info(
            "starting on station %d", start.station_id, extra=for_experiment(start.experiment_id)
        )
        decided.starts += 1
        decided.commands.append(
            Outgoing(
                self._topics.commands(start.station_id),
                protocol.encode_start(
                    start.experiment_id,
                    start.profile_name,
                    start.steps,
                    start.limits,
                    start.battery,
                ),
                protocol.QOS["commands"],
            )
        )
