"""Station liveness: heartbeats recorded, and what "online" means.

A station is online while its last heartbeat is at most the heartbeat timeout old (the
`node.heartbeat_timeout_s` setting); dispatch starts experiments on online stations only.
A heartbeat is stamped with the node's clock when it is written, not with the cycler's
`ts`, so a cycler whose clock is wrong is still judged by when it was last heard.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping

from sqlalchemy import Connection

from datastore import ingest as store
from datastore.types import utcnow
from mqtt_node import protocol

Clock = Callable[[], dt.datetime]


class Liveness:
    """Heartbeats and the online test, by one timeout and one clock (UTC, aware)."""

    def __init__(self, heartbeat_timeout_s: float, clock: Clock = utcnow) -> None:
        self.heartbeat_timeout = dt.timedelta(seconds=heartbeat_timeout_s)
        self.clock = clock

    def online_since(self, now: dt.datetime) -> dt.datetime:
        """At `now`, the stations last heard at or after this instant are online."""
        return now - self.heartbeat_timeout

    def record(self, connection: Connection, heartbeats: Mapping[int, protocol.Heartbeat]) -> None:
        """Mark stations (by id) and their units as heard now, each in the state it reported."""
        store.record_heartbeats(
            connection,
            self.clock(),
            {
                station_id: (beat.state, beat.experiment_id)
                for station_id, beat in heartbeats.items()
            },
        )
