"""Ingest alone: messages checked against the protocol, each batch written in one
transaction and acknowledged only after it commits, retried while the database is away,
refused messages recorded.

On SQLite, without a broker or the node's thread: messages record their acknowledgement,
a recording publisher stands in for the transport, and heartbeats are stamped by a fake
clock.
"""

from __future__ import annotations

import datetime as dt
import logging
import random

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from config.logs import EventFormatter
from datastore import ingest as ingest_store
from datastore.cycles import experiment_cycles
from datastore.ingest import SampleRow
from datastore.models import Alarm, Experiment, Station
from domain.cycles import cycle_totals
from domain.stations import StationSpec
from domain.status import ExperimentStatus
from domain.window import Window
from mqtt_node import protocol
from mqtt_node.ingest import StationMessage, UnitMessage, parse
from mqtt_node.topics import Topics
from mqtt_node.transport import Message
from tests.datastore.support import assert_summaries_match_samples
from tests.mqtt_node.helpers import (
    STEP_CYCLES,
    T0,
    add_experiment,
    add_station,
    expected_row,
    measures,
    rejected,
    sample_rows,
    stored_samples,
)

TOPICS = Topics("bem")
CH1 = StationSpec("ch1", Window(0.0, 5.0, -10.0, 10.0), location="rack A")


def outage(monkeypatch: pytest.MonkeyPatch, failures: int) -> None:
    """The next `failures` sample inserts fail as if the database server were unreachable."""
    real = ingest_store.write_samples
    left = [failures]

    def write_samples(*args, **kwargs):
        if left[0] > 0:
            left[0] -= 1
            raise OperationalError("INSERT", {}, ConnectionError("server has gone away"))
        return real(*args, **kwargs)

    monkeypatch.setattr(ingest_store, "write_samples", write_samples)


def poison_alarms(monkeypatch: pytest.MonkeyPatch) -> None:
    """Alarms with the code POISON are refused by the database, for good."""
    real = ingest_store.insert_alarm

    def insert_alarm(connection, experiment_id, ts, code, *rest):
        if code == "POISON":
            raise IntegrityError("INSERT INTO alarms", {}, ValueError("constraint failed"))
        return real(connection, experiment_id, ts, code, *rest)

    monkeypatch.setattr(ingest_store, "insert_alarm", insert_alarm)


# ---------------------------------------------------------------- checking a message


def test_a_station_message_is_parsed_into_its_station_id_and_typed_payload():
    message = Message(TOPICS.alarms(7), protocol.encode_alarm(12, 1.5, "OVER_VOLTAGE", 4.3))

    assert parse(TOPICS, message) == StationMessage(
        message, 7, protocol.Alarm(12, 1.5, "OVER_VOLTAGE", 4.3)
    )


def test_an_announce_is_parsed_with_the_unit_named_by_its_topic():
    message = Message(TOPICS.announce("cu-lab1"), protocol.encode_announce("cu-lab1", [CH1]))

    assert parse(TOPICS, message) == UnitMessage(
        message, "cu-lab1", protocol.Announce("cu-lab1", (CH1,))
    )


@pytest.mark.parametrize("kind", ["registered", "commands"])
def test_the_kinds_the_node_sends_itself_are_refused(kind):
    key = "cu-lab1" if kind == "registered" else 7
    message = Message(TOPICS.topic(kind, key), b"{}")

    with pytest.raises(
        protocol.ProtocolError, match=f"^the node does not accept '{kind}' messages$"
    ):
        parse(TOPICS, message)


def test_a_payload_over_the_size_limit_is_refused():
    message = Message(TOPICS.measures(7), measures(12, range(100)))

    with pytest.raises(protocol.ProtocolError, match="payload"):
        parse(TOPICS, message, max_bytes=1000)


# ---------------------------------------------------------------- writing a batch


def test_messages_are_acknowledged_once_their_rows_are_committed(sqlite_engine, ingest):
    station_id = add_station(sqlite_engine)
    experiment_id = add_experiment(sqlite_engine, station_id)
    rows_seen_at_ack: list[int] = []

    def ack() -> None:  # looks from another connection: only committed rows are visible
        rows_seen_at_ack.append(sample_rows(sqlite_engine, experiment_id))

    ingest.write(
        [
            Message(TOPICS.measures(station_id), measures(experiment_id, range(0, 10)), 1, ack),
            Message(TOPICS.measures(station_id), measures(experiment_id, range(10, 20)), 1, ack),
        ]
    )

    assert rows_seen_at_ack == [20, 20]


def test_a_batch_is_written_in_one_transaction(sqlite_engine, ingest, inbox):
    station_id = add_station(sqlite_engine)
    experiment_id = add_experiment(sqlite_engine, station_id)
    commits: list[object] = []
    event.listen(sqlite_engine, "commit", commits.append)
    batch = [
        inbox.message(TOPICS.measures(station_id), measures(experiment_id, [seq]))
        for seq in range(50)
    ]
    batch.append(inbox.message(TOPICS.heartbeat(station_id), protocol.encode_heartbeat(1, "idle")))

    ingest.write(batch)

    assert len(commits) == 1
    assert sample_rows(sqlite_engine, experiment_id) == 50
    assert (ingest.stats.messages, ingest.stats.batches) == (51, 1)


def test_samples_are_stored_with_the_cycle_of_their_step_in_the_experiment(
    sqlite_engine, ingest, inbox
):
    station_id = add_station(sqlite_engine)
    experiment_id = add_experiment(sqlite_engine, station_id)
    batch = [
        inbox.message(
            TOPICS.measures(station_id), measures(experiment_id, [step], instruction=step)
        )
        for step in range(1, len(STEP_CYCLES) + 1)
    ]

    ingest.write(batch)

    stored = stored_samples(sqlite_engine, experiment_id)
    for step, cycle in enumerate(STEP_CYCLES, start=1):
        assert stored[step] == expected_row(step, cycle, instruction=step)
    assert isinstance(stored[1], SampleRow)


def test_heartbeats_are_recorded_at_the_liveness_clock_the_last_of_a_station_winning(
    sqlite_engine, ingest, inbox, clock
):
    station_id = add_station(sqlite_engine)
    experiment_id = add_experiment(sqlite_engine, station_id, status=ExperimentStatus.RUNNING)
    topic = TOPICS.heartbeat(station_id)

    ingest.write(
        [
            inbox.message(topic, protocol.encode_heartbeat(1.0, "idle")),
            inbox.message(topic, protocol.encode_heartbeat(2.0, "running", experiment_id)),
        ]
    )

    with Session(sqlite_engine) as session:
        station = session.get(Station, station_id)
        assert (station.last_heartbeat, station.reported_state) == (clock.now, "running")
        assert station.reported_experiment_id == experiment_id


def test_an_announce_is_answered_after_its_commit(sqlite_engine, ingest, inbox, published):
    ingest.write(
        [inbox.message(TOPICS.announce("cu-lab1"), protocol.encode_announce("cu-lab1", [CH1]))]
    )

    with Session(sqlite_engine) as session:
        station_id = session.scalar(select(Station.id).where(Station.name == "ch1"))
    assert published.sent == [
        (
            TOPICS.registered("cu-lab1"),
            protocol.encode_registered("cu-lab1", {"ch1": station_id}),
            protocol.QOS["registered"],
        )
    ]
    assert inbox.acked == [TOPICS.announce("cu-lab1")]


# ---------------------------------------------------------------- refusing a message


def test_a_refused_message_is_recorded_acknowledged_and_counted_by_its_reason(
    sqlite_engine, ingest, inbox
):
    station_id = add_station(sqlite_engine)
    experiment_id = add_experiment(sqlite_engine, station_id)
    ingest.write(
        [
            inbox.message(TOPICS.measures(station_id), measures(experiment_id, [0]), "good"),
            inbox.message(TOPICS.measures(station_id), measures(999_999, [0]), "unknown"),
            inbox.message(TOPICS.measures(station_id), b"{not json", "garbled"),
        ]
    )

    assert sorted(inbox.acked) == ["garbled", "good", "unknown"]
    assert sample_rows(sqlite_engine, experiment_id) == 1
    garbled, unknown = sorted(row.reason for row in rejected(sqlite_engine))
    assert garbled.startswith("payload: not valid JSON") and unknown == "unknown experiment 999999"
    assert ingest.stats.rejected == 2
    assert ingest.stats.rejected_reasons == {"unknown experiment 999999": 1, "payload": 1}


def test_a_batch_the_database_refuses_is_written_one_message_at_a_time(
    sqlite_engine, ingest, inbox, monkeypatch
):
    station_id = add_station(sqlite_engine)
    experiment_id = add_experiment(sqlite_engine, station_id, status=ExperimentStatus.RUNNING)
    poison_alarms(monkeypatch)
    topic = TOPICS.alarms(station_id)
    ingest.write(
        [
            inbox.message(TOPICS.measures(station_id), measures(experiment_id, range(5)), "m"),
            inbox.message(topic, protocol.encode_alarm(experiment_id, T0, "POISON"), "poison"),
            inbox.message(topic, protocol.encode_alarm(experiment_id, T0 + 1, "FINE"), "fine"),
        ]
    )

    assert inbox.acked == ["m", "poison", "fine"]
    assert sample_rows(sqlite_engine, experiment_id) == 5
    with Session(sqlite_engine) as session:
        assert session.scalars(select(Alarm.code)).all() == ["FINE"]
    ((reason_topic, reason),) = [(row.topic, row.reason) for row in rejected(sqlite_engine)]
    assert (reason_topic, reason) == (topic, "could not be stored: ValueError: constraint failed")
    assert (ingest.stats.messages, ingest.stats.rejected) == (3, 1)


def test_an_answer_decided_in_a_rolled_back_attempt_is_never_sent(
    sqlite_engine, ingest, inbox, published, monkeypatch
):
    station_id = add_station(sqlite_engine)
    experiment_id = add_experiment(sqlite_engine, station_id, status=ExperimentStatus.RUNNING)
    poison_alarms(monkeypatch)
    ingest.write(
        [
            inbox.message(TOPICS.announce("cu-lab1"), protocol.encode_announce("cu-lab1", [CH1])),
            inbox.message(
                TOPICS.alarms(station_id), protocol.encode_alarm(experiment_id, T0, "POISON")
            ),
        ]
    )

    # The whole batch was rolled back, then the announce committed alone: one answer.
    assert [topic for topic, _payload, _qos in published.sent] == [TOPICS.registered("cu-lab1")]


def test_a_message_that_cannot_even_be_recorded_as_refused_is_dropped(
    sqlite_engine, ingest, inbox, monkeypatch
):
    station_id = add_station(sqlite_engine)
    experiment_id = add_experiment(sqlite_engine, station_id, status=ExperimentStatus.RUNNING)
    poison_alarms(monkeypatch)

    def record_rejection(*args):
        raise IntegrityError("INSERT INTO rejected_messages", {}, ValueError("refused too"))

    monkeypatch.setattr(ingest_store, "record_rejection", record_rejection)
    ingest.write(
        [
            inbox.message(
                TOPICS.alarms(station_id), protocol.encode_alarm(experiment_id, T0, "POISON")
            )
        ]
    )

    # Acknowledged, or it would come back forever and stall the node.
    assert inbox.acked == [TOPICS.alarms(station_id)]
    assert rejected(sqlite_engine) == []


# ---------------------------------------------------------------- a database away


def test_a_lost_database_is_retried_until_the_batch_commits(
    sqlite_engine, ingest, inbox, transactions, monkeypatch
):
    station_id = add_station(sqlite_engine)
    experiment_id = add_experiment(sqlite_engine, station_id)
    outage(monkeypatch, failures=2)
    ingest.write(
        [
            inbox.message(TOPICS.measures(station_id), measures(experiment_id, range(0, 10))),
            inbox.message(TOPICS.measures(station_id), measures(experiment_id, range(10, 20))),
        ]
    )

    assert len(inbox.acked) == 2
    assert sample_rows(sqlite_engine, experiment_id) == 20
    assert transactions.errors == 2
    # The failed attempts were rolled back, and so were their counts.
    assert (ingest.stats.messages, ingest.stats.samples_written, ingest.stats.batches) == (
        2,
        20,
        1,
    )


def test_a_batch_still_uncommitted_when_the_node_stops_is_not_acknowledged(
    sqlite_engine, ingest, inbox, transactions, monkeypatch
):
    station_id = add_station(sqlite_engine)
    experiment_id = add_experiment(sqlite_engine, station_id)
    outage(monkeypatch, failures=1)
    transactions.stopping.set()
    ingest.write([inbox.message(TOPICS.measures(station_id), measures(experiment_id, range(10)))])

    assert inbox.acked == []  # the broker will deliver it again
    assert sample_rows(sqlite_engine, experiment_id) == 0
    assert ingest.stats.messages == 0


def test_a_commit_is_reported_to_the_on_commit_hook_after_the_acknowledgements(
    sqlite_engine, ingest, inbox
):
    station_id = add_station(sqlite_engine)
    acked_at_hook: list[list[str]] = []
    ingest.on_commit = lambda: acked_at_hook.append(list(inbox.acked))
    topic = TOPICS.heartbeat(station_id)

    ingest.write([inbox.message(topic, protocol.encode_heartbeat(1.0, "idle"))])

    assert acked_at_hook == [[topic]]


def test_the_counts_of_a_batch_appear_once_it_has_committed(
    sqlite_engine, ingest, inbox, monkeypatch
):
    station_id = add_station(sqlite_engine)
    experiment_id = add_experiment(sqlite_engine, station_id)
    seen_inside: list[tuple[int, int]] = []
    real = ingest_store.write_samples

    def write_samples(*args, **kwargs):
        seen_inside.append((ingest.stats.messages, ingest.stats.samples_written))
        return real(*args, **kwargs)

    monkeypatch.setattr(ingest_store, "write_samples", write_samples)
    ingest.write([inbox.message(TOPICS.measures(station_id), measures(experiment_id, [0]))])

    assert seen_inside == [(0, 0)]
    assert (ingest.stats.messages, ingest.stats.samples_written) == (1, 1)


def test_a_status_report_moves_the_experiment_and_sets_when_it_began(sqlite_engine, ingest, inbox):
    station_id = add_station(sqlite_engine)
    experiment_id = add_experiment(sqlite_engine, station_id)
    began = 1_795_475_000.5

    ingest.write(
        [
            inbox.message(
                TOPICS.status(station_id),
                protocol.encode_status(experiment_id, "RUNNING", began),
            )
        ]
    )

    with Session(sqlite_engine) as session:
        row = session.get(Experiment, experiment_id)
        assert (row.status, row.began_at) == (
            ExperimentStatus.RUNNING,
            dt.datetime.fromtimestamp(began, dt.UTC),
        )


# ---------------------------------------------------------------- what ingest keeps current


def test_samples_written_through_ingest_keep_the_summaries_equal_to_them(
    sqlite_engine, ingest, inbox
):
    station_id = add_station(sqlite_engine)
    experiment_id = add_experiment(sqlite_engine, station_id)
    messages = [
        inbox.message(
            TOPICS.measures(station_id),
            measures(experiment_id, range(start, start + 97), extra={"temp_body": 25.0}),
        )
        for start in range(0, 9_700, 97)
    ]
    random.Random(4).shuffle(messages)
    messages += messages[:5]  # delivered twice
    for first in range(0, len(messages), 7):
        ingest.write(messages[first : first + 7])

    assert sample_rows(sqlite_engine, experiment_id) == 9_700
    assert_summaries_match_samples(sqlite_engine, experiment_id)


def test_the_cycle_table_after_ingest_equals_one_computed_from_all_the_samples(
    sqlite_engine, ingest, inbox
):
    station_id = add_station(sqlite_engine)
    experiment_id = add_experiment(sqlite_engine, station_id)
    # Steps 1..5 of the profile, 200 samples each (the cycles of the steps: STEP_CYCLES).
    for step in range(1, len(STEP_CYCLES) + 1):
        seqs = range((step - 1) * 200, step * 200)
        ingest.write(
            [
                inbox.message(
                    TOPICS.measures(station_id),
                    measures(experiment_id, seqs[i : i + 50], instruction=step),
                )
                for i in range(0, 200, 50)
            ]
        )

    stored = stored_samples(sqlite_engine, experiment_id)
    rows = [stored[seq] for seq in sorted(stored)]
    expected = cycle_totals(
        [row.seq for row in rows],
        [row.ts for row in rows],
        [row.voltage for row in rows],
        [row.current for row in rows],
        [row.cycle for row in rows],
    )
    with Session(sqlite_engine) as session:
        table = experiment_cycles(session, experiment_id)
    assert [row.cycle for row in table] == [1, 2] == [c.cycle for c in expected]
    for row, want in zip(table, expected, strict=True):
        assert (row.samples, row.start_ts, row.end_ts) == (want.samples, want.start_ts, want.end_ts)
        assert row.charge_ah == pytest.approx(want.charge_ah)
        assert row.discharge_wh == pytest.approx(want.discharge_wh)


def test_a_change_of_status_is_logged_with_its_experiment(sqlite_engine, ingest, inbox, caplog):
    station_id = add_station(sqlite_engine)
    experiment_id = add_experiment(sqlite_engine, station_id, status=ExperimentStatus.RUNNING)
    caplog.set_level(logging.INFO, logger="bem.node")

    ingest.write(
        [
            inbox.message(
                TOPICS.status(station_id),
                protocol.encode_status(experiment_id, "FINISHED", T0, "profile done"),
            )
        ]
    )

    (event,) = [r for r in caplog.records if r.getMessage().startswith("status ")]
    assert event.getMessage() == "status RUNNING -> FINISHED: profile done"
    assert EventFormatter("text").format(event).split(" ", 4)[1:4] == [
        "INFO",
        "node",
        f"experiment={experiment_id}",
    ]
