"""Ingest and the cyclers' clocks: samples and alarms with a time the node does not believe
are refused one by one with their reason, the good samples of the same message are stored,
and a status or heartbeat with such a time still lands (stamped by the node's clock).

On SQLite with ingest alone and a fake clock (see conftest.py).
"""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from datastore.models import Alarm, Experiment, Station
from domain.status import ExperimentStatus
from mqtt_node import protocol
from mqtt_node.ingest import SAMPLE_TIME_REFUSED
from mqtt_node.topics import Topics
from tests.mqtt_node.helpers import (
    add_experiment,
    add_station,
    rejected,
    sample,
    stored_samples,
)

TOPICS = Topics("bem")


def hostile_times(now: float) -> dict[int, float]:
    """seq -> a time the node must refuse (the seqs between them carry good times)."""
    return {
        1: 1e300,
        3: 1e20,
        5: now * 1000,  # a millisecond clock sent as seconds
        7: dt.datetime(1999, 12, 31, 23, 59, 59, tzinfo=dt.UTC).timestamp(),
        9: now + 2 * 86_400,
    }


def mixed_measures(experiment_id: int, now: float) -> bytes:
    hostile = hostile_times(now)
    samples = []
    for seq in range(11):
        made = sample(seq)
        made["ts"] = hostile.get(seq, now - 60 + seq)
        samples.append(made)
    samples.append({**sample(11), "ts": now + 3600})  # an hour ahead: believed
    return json.dumps({"experiment_id": experiment_id, "samples": samples}).encode()


def test_samples_with_hostile_times_are_refused_and_the_others_stored(
    sqlite_engine, ingest, clock, inbox
):
    station_id = add_station(sqlite_engine)
    experiment_id = add_experiment(sqlite_engine, station_id, status=ExperimentStatus.RUNNING)
    now = clock.now.timestamp()
    payload = mixed_measures(experiment_id, now)

    ingest.write([inbox.message(TOPICS.measures(station_id), payload)])

    assert sorted(stored_samples(sqlite_engine, experiment_id)) == [0, 2, 4, 6, 8, 10, 11]
    [row] = rejected(sqlite_engine)
    assert row.topic == TOPICS.measures(station_id)
    assert row.payload == payload.decode()
    assert row.reason.startswith(
        f"{SAMPLE_TIME_REFUSED}: 5 of 12 samples refused, the other 7 stored; "
        "samples[1].ts: 1e+300 is "
    )
    assert "samples[3].ts: 1e+20 is " in row.reason
    assert "samples[5].ts: " in row.reason and "clock in milliseconds" in row.reason
    assert "and 2 more" in row.reason
    assert inbox.acked == [TOPICS.measures(station_id)]
    assert ingest.stats.rejected_reasons[SAMPLE_TIME_REFUSED] == 1
    assert ingest.stats.samples_written == 7
    with Session(sqlite_engine) as session:
        experiment = session.get(Experiment, experiment_id)
        assert experiment is not None
        assert experiment.sample_count == 7
        # The experiment's last sample time is a believable one.
        assert experiment.last_sample_at == now + 3600


def test_a_message_whose_samples_are_all_refused_stores_nothing_and_says_why(
    sqlite_engine, ingest, clock, inbox
):
    station_id = add_station(sqlite_engine)
    experiment_id = add_experiment(sqlite_engine, station_id, status=ExperimentStatus.RUNNING)
    payload = json.dumps(
        {"experiment_id": experiment_id, "samples": [{**sample(0), "ts": 1e20}]}
    ).encode()

    ingest.write([inbox.message(TOPICS.measures(station_id), payload)])

    assert stored_samples(sqlite_engine, experiment_id) == {}
    [row] = rejected(sqlite_engine)
    assert row.reason.startswith(f"{SAMPLE_TIME_REFUSED}: 1 of 1 samples refused, the other 0")


def test_an_alarm_with_a_hostile_time_is_refused_and_a_good_one_stored(
    sqlite_engine, ingest, clock, inbox
):
    station_id = add_station(sqlite_engine)
    experiment_id = add_experiment(sqlite_engine, station_id, status=ExperimentStatus.RUNNING)
    now = clock.now.timestamp()
    topic = TOPICS.alarms(station_id)

    ingest.write(
        [
            inbox.message(topic, protocol.encode_alarm(experiment_id, now * 1000, "MS"), "ms"),
            inbox.message(topic, protocol.encode_alarm(experiment_id, 1e300, "HUGE"), "huge"),
            inbox.message(topic, protocol.encode_alarm(experiment_id, now, "GOOD"), "good"),
        ]
    )

    with Session(sqlite_engine) as session:
        assert list(session.scalars(select(Alarm.code))) == ["GOOD"]
    reasons = [row.reason for row in rejected(sqlite_engine)]
    assert len(reasons) == 2
    assert reasons[0].startswith("alarm time refused: ts: ")
    assert "clock in milliseconds" in reasons[0]
    assert "ahead of the node's clock" in reasons[1]
    assert sorted(inbox.acked) == ["good", "huge", "ms"]


def test_a_status_with_a_hostile_time_lands_stamped_by_the_nodes_clock(
    sqlite_engine, ingest, clock, inbox
):
    station_id = add_station(sqlite_engine)
    experiment_id = add_experiment(sqlite_engine, station_id, status=ExperimentStatus.RUNNING)

    ingest.write(
        [
            inbox.message(
                TOPICS.status(station_id),
                protocol.encode_status(experiment_id, ExperimentStatus.FINISHED, 1e20, "stopped"),
            )
        ]
    )

    with Session(sqlite_engine) as session:
        experiment = session.get(Experiment, experiment_id)
        assert experiment is not None
        assert experiment.status == ExperimentStatus.FINISHED
        finished = experiment.finished_at
        assert finished is not None
        assert finished.replace(tzinfo=dt.UTC) == clock.now
    assert rejected(sqlite_engine) == []


def test_a_heartbeat_with_a_hostile_time_keeps_the_station_online(
    sqlite_engine, ingest, clock, inbox
):
    station_id = add_station(sqlite_engine)

    ingest.write(
        [
            inbox.message(
                TOPICS.heartbeat(station_id), protocol.encode_heartbeat(1e300, "idle", None)
            )
        ]
    )

    with Session(sqlite_engine) as session:
        station = session.get(Station, station_id)
        assert station is not None
        heard = station.last_heartbeat
        assert heard is not None and heard.replace(tzinfo=dt.UTC) == clock.now
    assert rejected(sqlite_engine) == []
