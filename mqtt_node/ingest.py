"""Ingest: what the cyclers send, checked, written in batches, acknowledged once committed.

`Ingest.write(batch)` checks each message against the protocol (topic, then payload by
`protocol.PARSERS`), applies the whole batch in one transaction (announcements, heartbeats
through liveness, statuses, alarms, samples) and only after the commit acknowledges the
messages and publishes the `registered` answers, including those owed to units still
heard on an edited station's old id (`mqtt_node.reregister`). So nothing acknowledged is
ever lost, and a redelivered message changes nothing (samples and alarms are keyed,
statuses checked against the experiment's).

A message the node refuses (it breaks the protocol, or names a station or experiment it
must not) is recorded with its reason in the dead-letter table and acknowledged, so the
broker does not deliver it again. Samples and alarms whose time the node does not believe
(`domain.timestamps`: not finite, before 2000, more than a day ahead, or milliseconds)
are refused one by one: the message is recorded with the refused samples' reasons, and
its other samples are stored. A transaction that fails because the database is away
is retried with back-off; a batch the database refuses for good is written again message
by message, so the one message it cannot store is refused and the others land.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

from sqlalchemy import Connection

from config.logs import for_experiment
from datastore import ingest as store
from datastore.cycles import NewSamples, advance_cycles_of
from datastore.stations import StationChange
from datastore.summaries import SummaryWriter
from domain.csvformat import channel_identity
from domain.status import ExperimentStatus, can_transition
from domain.timestamps import timestamp_problem
from mqtt_node import protocol
from mqtt_node.liveness import Liveness
from mqtt_node.reregister import Reregistration
from mqtt_node.topics import NODE_KINDS, Topics
from mqtt_node.transactions import Transactions, short_error
from mqtt_node.transport import Message, Outgoing, Publish

log = logging.getLogger("bem.node")

# What a cycler sends on a station's topics.
StationPayload: TypeAlias = (
    protocol.Heartbeat | protocol.StatusReport | protocol.Measures | protocol.Alarm
)
_STATION_PAYLOADS = (protocol.Heartbeat, protocol.StatusReport, protocol.Measures, protocol.Alarm)


@dataclass(frozen=True, slots=True)
class UnitMessage:
    """An announce that passed the protocol's checks, from the unit named by its topic."""

    message: Message
    unit: str
    announce: protocol.Announce


@dataclass(frozen=True, slots=True)
class StationMessage:
    """A message on a station's topic that passed the protocol's checks."""

    message: Message
    station_id: int
    payload: StationPayload


Received: TypeAlias = UnitMessage | StationMessage


# The first words of the reasons for times refused (`domain.timestamps`), as counted in
# `IngestStats.rejected_reasons`.
SAMPLE_TIME_REFUSED = "sample time refused"
ALARM_TIME_REFUSED = "alarm time refused"
# How many refused samples a reason names one by one.
_PROBLEMS_SHOWN = 3


class Rejected(Exception):
    """A message the node refuses; it is recorded with this reason and acknowledged."""


def parse(topics: Topics, message: Message, max_bytes: int | None = None) -> Received:
    """The message with its topic and payload checked; ProtocolError saying what is wrong."""
    kind, key = topics.parse(message.topic)
    if kind not in NODE_KINDS:
        # A kind the node sends itself (registered, commands), seen on its subscriptions.
        raise protocol.ProtocolError(f"the node does not accept {str(kind)!r} messages")
    payload = protocol.PARSERS[kind](message.payload, max_bytes=max_bytes)
    # Topics.parse gives a unit's name for unit kinds and a station id for the others.
    if isinstance(payload, protocol.Announce):
        assert isinstance(key, str)
        return UnitMessage(message, key, payload)
    assert isinstance(key, int) and isinstance(payload, _STATION_PAYLOADS)
    return StationMessage(message, key, payload)


@dataclass
class IngestStats:
    """What ingest has committed so far (a rolled-back attempt adds nothing)."""

    messages: int = 0
    samples_written: int = 0
    samples_duplicate: int = 0
    rejected: int = 0
    batches: int = 0
    rejected_reasons: Counter[str] = field(default_factory=Counter)

    def add(self, other: IngestStats) -> None:
        self.messages += other.messages
        self.samples_written += other.samples_written
        self.samples_duplicate += other.samples_duplicate
        self.rejected += other.rejected
        self.batches += other.batches
        self.rejected_reasons.update(other.rejected_reasons)


@dataclass(frozen=True, slots=True)
class ReplacedStation:
    """A station an announce of another window replaced: the unit, the station's name, and
    what became of the old record's queued experiments."""

    unit: str
    station: str
    change: StationChange

    def log(self) -> None:
        # A warning when experiments were cancelled: someone should queue them again.
        log.log(
            logging.WARNING if self.change.cancelled else logging.INFO,
            "unit %s announced another window for station %r: station %d is deprecated, "
            "station %d replaces it. %s",
            self.unit,
            self.station,
            self.change.old_id,
            self.change.new_id,
            self.change.describe_queue(),
        )


@dataclass
class _Outcome:
    """What one attempt at a batch did: counted and answered only once it commits."""

    counts: IngestStats = field(default_factory=IngestStats)
    replies: list[Outgoing] = field(default_factory=list)
    # Channel ids looked up or created, by experiment and name.
    channels: dict[int, dict[str, int]] = field(default_factory=dict)
    # Units sent their station ids unprompted (among `replies`), for the rate limit.
    reregistered: list[str] = field(default_factory=list)
    # Stations an announce of another window replaced, with their queued experiments' fate.
    replaced: list[ReplacedStation] = field(default_factory=list)
    # Samples stored per experiment, and each change of status (experiment, from, to,
    # message): logged once the batch has committed.
    stored: dict[int, int] = field(default_factory=dict)
    statuses: list[tuple[int, ExperimentStatus, ExperimentStatus, str]] = field(
        default_factory=list
    )


class Ingest:
    """Writes batches of received messages on the database of `transactions`."""

    def __init__(
        self,
        transactions: Transactions,
        topics: Topics,
        publish: Publish,
        liveness: Liveness,
        *,
        reregistration: Reregistration,
        max_payload_bytes: int | None = None,
        max_channels: int = 64,
        max_stations_per_unit: int = 64,
    ) -> None:
        self.stats = IngestStats()
        # Called after each batch has committed and been acknowledged.
        self.on_commit: Callable[[], None] | None = None
        # Called after a batch has committed and before its `registered` messages are
        # published: the node brings the broker's ACL up to date there (mqtt_node.broker_acl).
        self.before_replies: Callable[[], object] | None = None
        self._transactions = transactions
        self._topics = topics
        self._publish = publish
        self._liveness = liveness
        self._reregistration = reregistration
        self._max_payload_bytes = max_payload_bytes
        # Distinct extra channels per experiment, and current stations per unit: without
        # them one message could add thousands of either (node.max_channels_per_experiment,
        # node.max_stations_per_unit).
        self._max_channels = max_channels
        self._max_stations_per_unit = max_stations_per_unit
        # Cycle number of each step, per experiment: steps never change once queued.
        self._step_cycles: dict[int, list[int]] = {}
        # Extra channel ids by experiment and name, learned from committed batches only
        # (a channel created in a rolled-back attempt does not exist).
        self._channel_ids: dict[int, dict[str, int]] = {}

    def write(self, batch: Sequence[Message]) -> None:
        """Write a batch in one transaction, then acknowledge its messages.

        A batch the database refuses for good (not a lost connection) is written again
        message by message, so that one message it cannot store is recorded as rejected
        instead of blocking every message after it. When the node stops before a batch
        commits, its messages stay unacknowledged and the broker delivers them again.
        """
        try:
            outcome = self._transactions.commit(lambda connection: self._apply(connection, batch))
        except Exception as error:
            if len(batch) > 1:
                log.warning(
                    "a batch of %d messages failed (%s); writing them one by one",
                    len(batch),
                    short_error(error),
                )
                for message in batch:
                    self.write([message])
                return
            outcome = self._reject_unstorable(batch[0], error)
        if outcome is None:
            return  # stopping: unacknowledged, so the broker delivers it again
        self.stats.add(outcome.counts)
        for experiment_id, learned in outcome.channels.items():
            self._channel_ids.setdefault(experiment_id, {}).update(learned)
        for unit in outcome.reregistered:
            self._reregistration.sent(unit)
        for replaced in outcome.replaced:
            replaced.log()
        for message in batch:
            message.ack()
        log.debug(
            "batch of %d messages committed; %d samples written so far",
            len(batch),
            self.stats.samples_written,
        )
        _log_events(outcome)
        if outcome.replies and self.before_replies is not None:
            self.before_replies()
        for reply in outcome.replies:
            self._publish(*reply)
        if self.on_commit is not None:
            self.on_commit()

    def _reject_unstorable(self, message: Message, error: Exception) -> _Outcome | None:
        log.error("cannot store the message on %s", message.topic, exc_info=error)
        reason = f"could not be stored: {short_error(error)}"

        def record(connection: Connection) -> _Outcome:
            outcome = _Outcome()
            outcome.counts.messages += 1
            _reject(connection, outcome.counts, message, reason)
            return outcome

        try:
            return self._transactions.commit(record)
        except Exception:
            # Not even the dead-letter row can be written: drop it (loudly) rather than
            # let it come back forever and stall the node.
            log.exception("cannot record the rejected message on %s; dropped", message.topic)
            return _Outcome()

    def _apply(self, connection: Connection, batch: Sequence[Message]) -> _Outcome:
        outcome = _Outcome()
        counts = outcome.counts
        received: list[Received] = []
        for message in batch:
            counts.messages += 1
            try:
                received.append(parse(self._topics, message, self._max_payload_bytes))
            except protocol.ProtocolError as error:
                _reject(connection, counts, message, str(error))

        reports = [item for item in received if isinstance(item, StationMessage)]
        experiments = store.experiment_states(
            connection,
            {
                item.payload.experiment_id
                for item in reports
                if not isinstance(item.payload, protocol.Heartbeat)
            },
        )
        stations = store.known_stations(connection, (item.station_id for item in reports))
        pending: dict[int, _PendingSamples] = {}
        heartbeats: dict[int, protocol.Heartbeat] = {}
        # The node's clock, against which the cyclers' times are judged.
        now = self._liveness.clock().timestamp()

        for item in received:
            try:
                if isinstance(item, UnitMessage):
                    outcome.replies.append(
                        self._announce(connection, item.unit, item.announce, outcome.replaced)
                    )
                    continue
                if item.station_id not in stations:
                    raise Rejected(f"unknown station {item.station_id}")
                payload = item.payload
                if isinstance(payload, protocol.Heartbeat):
                    heartbeats[item.station_id] = payload
                    continue
                experiment = experiments.get(payload.experiment_id)
                if experiment is None:
                    raise Rejected(f"unknown experiment {payload.experiment_id}")
                if experiment.station_id != item.station_id:
                    raise Rejected(
                        f"experiment {experiment.id} is not on station {item.station_id} "
                        f"(it is on station {experiment.station_id})"
                    )
                if isinstance(payload, protocol.Measures):
                    if experiment.status.is_closed:
                        raise Rejected(
                            f"experiment {experiment.id} is {experiment.status.value}: "
                            "samples are no longer accepted"
                        )
                    kept, refused = believable_samples(payload.samples, now)
                    if refused:
                        # The rest of the message is stored: one bad clock reading must
                        # not cost the good samples around it.
                        _reject(connection, counts, item.message, refused)
                    if not kept:
                        continue
                    if experiment.id not in pending:
                        pending[experiment.id] = _PendingSamples(
                            self._cycles(connection, experiment.id),
                            self._known_channels(connection, experiment.id),
                            self._max_channels,
                        )
                    too_many = pending[experiment.id].add(kept)
                    if too_many:
                        # The samples themselves are kept: only these channels' values go.
                        _reject(
                            connection,
                            counts,
                            item.message,
                            _too_many_channels(experiment.id, too_many, self._max_channels),
                        )
                elif isinstance(payload, protocol.StatusReport):
                    changed = _change_status(connection, experiment, payload, now)
                    if changed.status != experiment.status:
                        outcome.statuses.append(
                            (experiment.id, experiment.status, changed.status, payload.message)
                        )
                    experiments[experiment.id] = changed
                else:
                    problem = timestamp_problem(payload.ts, now)
                    if problem is not None:
                        raise Rejected(f"{ALARM_TIME_REFUSED}: ts: {problem}")
                    store.insert_alarm(
                        connection,
                        experiment.id,
                        payload.ts,
                        payload.code,
                        payload.value,
                        payload.message or "",
                    )
            except Rejected as error:
                _reject(connection, counts, item.message, str(error))

        # In id order: two nodes writing samples of the same experiments then lock their
        # rows in the same order, and wait for each other rather than deadlock.
        summaries = SummaryWriter()
        written: dict[int, tuple[int, float]] = {}
        for experiment_id, samples in sorted(pending.items()):
            known = self._channel_ids.get(experiment_id, {})
            if any(name not in known for name in samples.channels):
                known = store.channel_ids(connection, experiment_id, samples.channels)
                outcome.channels[experiment_id] = known
            inserted = samples.insert(connection, experiment_id, summaries, known)
            written[experiment_id] = (inserted, max(samples.ts))
            outcome.stored[experiment_id] = inserted
            counts.samples_written += inserted
            counts.samples_duplicate += len(samples) - inserted
        # What the pages read instead of the samples: the experiments' counts, the block
        # summaries that draw long experiments, and the cycle tables; in the same
        # transaction as the samples.
        store.count_samples(connection, written)
        summaries.write(connection)
        advance_cycles_of(
            connection,
            {experiment_id: samples.new_samples() for experiment_id, samples in pending.items()},
        )
        self._liveness.record(connection, heartbeats)
        for owed in self._reregistration.decide(connection, self._topics, heartbeats):
            outcome.replies.append(owed.outgoing)
            outcome.reregistered.append(owed.unit)
        counts.batches += 1
        return outcome

    def _known_channels(self, connection: Connection, experiment_id: int) -> set[str]:
        """Names of the experiment's extra channels so far (learned once, then kept)."""
        known = self._channel_ids.get(experiment_id)
        if known is None:
            known = store.channel_ids(connection, experiment_id, {})
        return set(known)

    def _cycles(self, connection: Connection, experiment_id: int) -> list[int]:
        if experiment_id not in self._step_cycles:
            self._step_cycles[experiment_id] = store.step_cycles(connection, experiment_id)
        return self._step_cycles[experiment_id]

    def _announce(
        self,
        connection: Connection,
        unit: str,
        announce: protocol.Announce,
        replaced: list[ReplacedStation],
    ) -> Outgoing:
        """Register the unit and its stations; returns the answer to send once committed,
        and adds to `replaced` the stations it replaced (logged once committed)."""
        if announce.unit != unit:
            # The reply goes to the payload's unit: a mismatch would register one unit
            # from another's topic.
            raise Rejected(
                f"unit {announce.unit!r} in the payload does not match the topic's unit {unit!r}"
            )
        current = store.current_station_ids(connection, unit)
        count = len(current.keys() | {station.name for station in announce.stations})
        if count > self._max_stations_per_unit:
            raise Rejected(
                f"stations: unit {unit!r} would have {count} stations, more than the limit "
                f"of {self._max_stations_per_unit} per unit"
            )
        registration = store.register_unit(
            connection, announce.unit, announce.host, announce.stations
        )
        replaced.extend(
            ReplacedStation(announce.unit, name, change)
            for name, change in registration.replaced.items()
        )
        return Outgoing(
            self._topics.registered(announce.unit),
            protocol.encode_registered(announce.unit, registration.ids),
            protocol.QOS["registered"],
        )


def _log_events(outcome: _Outcome) -> None:
    """One event per change of status (INFO) and per experiment's stored samples (DEBUG),
    each naming its experiment."""
    for experiment_id, old, new, message in outcome.statuses:
        log.info(
            "status %s -> %s%s",
            old.value,
            new.value,
            f": {message}" if message else "",
            extra=for_experiment(experiment_id),
        )
    for experiment_id, count in outcome.stored.items():
        log.debug("stored %d samples", count, extra=for_experiment(experiment_id))


def _reject(connection: Connection, counts: IngestStats, message: Message, reason: str) -> None:
    counts.rejected += 1
    counts.rejected_reasons[reason.split(":")[0]] += 1
    # Both may quote a topic of up to 64 KiB: the log gets the start of each.
    log.warning("rejected message on %.300s: %.1000s", message.topic, reason)
    store.record_rejection(connection, message.topic, message.payload, reason)


def believable_samples(
    samples: Sequence[protocol.Sample], now: float
) -> tuple[list[protocol.Sample], str]:
    """The samples whose time passes `timestamp_problem` at the node's clock `now`, and the
    reason for refusing the others ("" when none is refused), naming the first few."""
    kept: list[protocol.Sample] = []
    problems: list[str] = []
    for index, sample in enumerate(samples):
        problem = timestamp_problem(sample.ts, now)
        if problem is None:
            kept.append(sample)
        else:
            problems.append(f"samples[{index}].ts: {problem}")
    if not problems:
        return kept, ""
    shown = "; ".join(problems[:_PROBLEMS_SHOWN])
    more = len(problems) - _PROBLEMS_SHOWN
    if more > 0:
        shown += f"; and {more} more"
    return kept, (
        f"{SAMPLE_TIME_REFUSED}: {len(problems)} of {len(samples)} samples refused, "
        f"the other {len(kept)} stored; {shown}"
    )


def _too_many_channels(experiment_id: int, refused: Sequence[str], limit: int) -> str:
    names = ", ".join(repr(name) for name in refused[:5])
    more = f" and {len(refused) - 5} more" if len(refused) > 5 else ""
    return (
        f"extra channels: experiment {experiment_id} may have at most {limit} extra "
        f"channels; the values of {names}{more} were not stored (the rest of the samples "
        "were)"
    )


def _change_status(
    connection: Connection,
    experiment: store.ExperimentState,
    report: protocol.StatusReport,
    now: float,
) -> store.ExperimentState:
    """Apply a status report; the experiment's state after it.

    A change of status is never refused for its time (a FINISHED that did not land would
    leave the experiment running): a time `timestamp_problem` refuses is replaced by the
    node's clock, with a warning in the log."""
    new = report.status
    if not can_transition(experiment.status, new):
        raise Rejected(
            f"experiment {experiment.id} cannot go from {experiment.status.value} to {new.value}"
        )
    if new == experiment.status:
        return experiment  # a redelivered report
    ts = report.ts
    problem = timestamp_problem(ts, now)
    if problem is not None:
        log.warning(
            "experiment %d's %s status: ts: %s; the node's clock is used instead",
            experiment.id,
            new.value,
            problem,
        )
        ts = now
    at = dt.datetime.fromtimestamp(ts, dt.UTC)
    set_began = new == ExperimentStatus.RUNNING and experiment.began_at is None
    store.set_status(connection, experiment.id, new, at, report.message or "", set_began=set_began)
    return store.ExperimentState(
        experiment.id, experiment.station_id, new, at if set_began else experiment.began_at
    )


class _PendingSamples:
    """Samples of one experiment gathered from the messages of a batch, column by column:
    the rows to insert, the block summaries and the cycle table all read these lists."""

    def __init__(self, cycles: list[int], known_channels: set[str], max_channels: int) -> None:
        # The cycle of each step of the experiment (step 1 first).
        self._cycles = cycles
        # The experiment's channels before this batch, and how many it may have in all.
        self._known_channels = known_channels
        self._max_channels = max_channels
        self.seq: list[int] = []
        self.ts: list[float] = []
        self.voltage: list[float] = []
        self.current: list[float] = []
        self.power: list[float] = []
        self.instruction: list[int | None] = []
        # The cycle is the experiment's own for the step: a sample's `cycle` is not stored.
        self.cycle: list[int | None] = []
        self.mode: list[str | None] = []
        # Extra channels by name -> unit, and their values as (seq, channel name, value)
        # until the channels have ids.
        self.channels: dict[str, str] = {}
        self.extra_values: list[tuple[int, str, float]] = []
        # A cycler's extra key ("temp_body", "Flow / L/min") -> the channel's name; the
        # keys whose channel is over the limit, and how many channels this batch adds.
        self._channel_names: dict[str, str] = {}
        self._refused_keys: dict[str, str] = {}
        self._new_channels = 0

    def __len__(self) -> int:
        return len(self.seq)

    def add(self, samples: Sequence[protocol.Sample]) -> list[str]:
        """Gather the samples; returns the names of the new channels over the experiment's
        limit, whose values are left out."""
        cycles = self._cycles
        refused: dict[str, None] = {}
        for sample in samples:
            step = sample.instruction
            self.seq.append(sample.seq)
            self.ts.append(sample.ts)
            self.voltage.append(sample.voltage)
            self.current.append(sample.current)
            self.power.append(sample.power)
            self.instruction.append(step)
            self.cycle.append(
                cycles[step - 1] if step is not None and 0 < step <= len(cycles) else None
            )
            self.mode.append(sample.mode)
            for key, value in sample.extra.items():
                name = self._channel_names.get(key)
                if name is None:
                    name = self._learn(key)
                    if name is None:
                        refused[self._refused_keys[key]] = None
                        continue
                self.extra_values.append((sample.seq, name, value))
        return list(refused)

    def _learn(self, key: str) -> str | None:
        """The channel of a cycler's key not seen yet in this batch, or None when it would
        be a new channel over the experiment's limit (then `_refused_keys` names it)."""
        if key in self._refused_keys:
            return None
        name, unit = channel_identity(key)
        if name not in self.channels and name not in self._known_channels:
            if len(self._known_channels) + self._new_channels >= self._max_channels:
                self._refused_keys[key] = name
                return None
            self._new_channels += 1
        self._channel_names[key] = name
        self.channels.setdefault(name, unit)
        return name

    def rows(self) -> Iterator[store.SampleRow]:
        """The samples as rows, made one by one as they are written (see insert_samples)."""
        columns = (self.seq, self.ts, self.voltage, self.current, self.power, self.instruction)
        for values in zip(*columns, self.cycle, self.mode, strict=True):
            yield store.SampleRow(*values)

    def new_samples(self) -> NewSamples:
        """The samples for the cycle table (with the cycles of their steps)."""
        return NewSamples(self.seq, self.ts, self.voltage, self.current, self.cycle)

    def insert(
        self,
        connection: Connection,
        experiment_id: int,
        summaries: SummaryWriter,
        channel_ids: Mapping[str, int],
    ) -> int:
        """Write the samples (their channels have the ids `channel_ids`) and hand them to
        `summaries`; returns how many were new."""
        summaries.add_samples(
            experiment_id, self.seq, self.ts, self.voltage, self.current, self.power
        )
        by_channel: dict[int, tuple[list[int], list[float]]] = {}
        for seq, name, value in self.extra_values:
            seqs, values = by_channel.setdefault(channel_ids[name], ([], []))
            seqs.append(seq)
            values.append(value)
        for channel_id, (seqs, values) in by_channel.items():
            summaries.add_channel(channel_id, seqs, values)
        extras = (
            store.ExtraValueRow(channel_ids[name], seq, value)
            for seq, name, value in self.extra_values
        )
        return store.write_samples(connection, experiment_id, self.rows(), extras)
