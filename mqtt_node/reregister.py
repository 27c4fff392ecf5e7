"""Telling a unit its current station ids when it still uses an edited station's old id.

A cycler learns station ids only from `registered` messages. When staff edit a station
in the web app, the old record is deprecated and a new one (same unit, same name) takes
its place, but the web app never talks to the broker: the cycler goes on sending
heartbeats for the old id, the new record is never heard from, and its queued
experiments wait. So when ingest sees a heartbeat for such a deprecated station, it
sends the unit, unprompted, the same `registered` message that answers an announce:
every current station of the unit with its id (docs/protocol.md, section 5.2).

Only a heartbeat that reports no experiment counts: a station running or paused keeps
its run on the record it was started on (an edit is refused while a station runs, so
this only guards against a cycler whose state the node does not know). And a cycler
that ignores the message would get one per heartbeat: each unit is sent at most one per
`node.reregister_interval_s`, counted from the commit of the batch that sent it. With
several nodes, each keeps its own count.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy import Connection

from datastore import ingest as store
from mqtt_node import protocol
from mqtt_node.topics import Topics
from mqtt_node.transport import Outgoing

log = logging.getLogger("bem.node")

# What a heartbeat reports while its station works on an experiment.
_BUSY_STATES = frozenset({protocol.StationState.RUNNING, protocol.StationState.PAUSED})


@dataclass(frozen=True)
class Reregister:
    """An unprompted `registered` decided in a batch: sent once the batch commits."""

    unit: str
    outgoing: Outgoing


class Reregistration:
    """Decides which units to send their current station ids, at most once per
    `interval_s` each (measured by `clock`, in seconds)."""

    def __init__(self, interval_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval_s = interval_s
        self._clock = clock
        self._last_sent: dict[str, float] = {}

    def due(self, unit: str) -> bool:
        """Whether `unit` may be sent its ids now."""
        last = self._last_sent.get(unit)
        return last is None or self._clock() - last >= self.interval_s

    def sent(self, unit: str) -> None:
        """Record that `unit` was sent its ids (once the batch that decided it committed)."""
        self._last_sent[unit] = self._clock()

    def decide(
        self,
        connection: Connection,
        topics: Topics,
        heartbeats: Mapping[int, protocol.Heartbeat],
    ) -> list[Reregister]:
        """The `registered` messages owed to units heard on replaced station ids."""
        idle = [
            station_id
            for station_id, beat in heartbeats.items()
            if beat.state not in _BUSY_STATES and beat.experiment_id is None
        ]
        by_unit: dict[str, list[store.Replaced]] = {}
        for station in store.replaced_stations(connection, idle):
            by_unit.setdefault(station.unit, []).append(station)
        decided = []
        for unit, replaced in sorted(by_unit.items()):
            if not self.due(unit):
                continue
            ids = store.current_station_ids(connection, unit)
            try:
                topic = topics.registered(unit)
                payload = protocol.encode_registered(unit, ids)
            except protocol.ProtocolError as error:
                # A unit created in the web app under a name no topic can carry: no
                # cycler can be listening for it.
                log.warning("unit %r cannot be sent its station ids: %s", unit, error)
                continue
            log.info(
                "unit %s still uses %s: sending it its current station ids %s",
                unit,
                ", ".join(f"station {r.old_id} (now {r.new_id})" for r in replaced),
                ids,
            )
            decided.append(
                Reregister(
                    unit,
                    Outgoing(topic, payload, protocol.QOS["registered"]),
                )
            )
        return decided
