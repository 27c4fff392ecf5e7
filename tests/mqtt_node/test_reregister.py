"""Telling a unit its current station ids when its heartbeats still name an edited
station's old record (mqtt_node/reregister.py), and keeping deprecated records out of
dispatch.

On SQLite, with ingest and dispatch alone: a recording publisher stands in for the
transport and a fake clock stamps heartbeats and times the rate limit. The whole path
with a simulated cycler, Mosquitto and MariaDB is in test_reregister_live.py.
"""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from datastore.models import Station
from datastore.stations import StationChange, deprecate_station, edit_station
from domain.stations import StationSpec
from domain.status import ExperimentStatus
from domain.window import Window
from mqtt_node import protocol
from mqtt_node.reregister import Reregistration
from mqtt_node.topics import Topics
from tests.mqtt_node.helpers import T0, add_experiment, add_station, experiment
from tests.mqtt_node.test_dispatch import heard
from tests.mqtt_node.test_ingest import poison_alarms

TOPICS = Topics("bem")
UNIT = "cu-test"  # add_station's unit
EDITED_WINDOW = {"voltage_min": 0.0, "voltage_max": 4.5, "current_min": -5.0, "current_max": 5.0}


def edit(engine: Engine, station_id: int, name: str = "ch1", unit: str = UNIT) -> StationChange:
    """An edit on the stations page: a narrower window, the same name and unit."""
    with Session(engine) as session:
        change = edit_station(session, station_id, name=name, unit_name=unit, **EDITED_WINDOW)
        session.commit()
        return change


def heartbeat(inbox, station_id: int, state: str = "idle", experiment_id: int | None = None):
    return inbox.message(
        TOPICS.heartbeat(station_id), protocol.encode_heartbeat(1.0, state, experiment_id)
    )


def registered(published) -> list[tuple[str, dict[str, int]]]:
    """(unit, {station name: id}) of every `registered` sent, in order."""
    found = []
    for topic, payload, qos in published.sent:
        if TOPICS.parse(topic).kind == protocol.MessageKind.REGISTERED:
            assert qos == protocol.QOS["registered"]
            message = protocol.parse_registered(payload)
            found.append((message.unit, {s.name: s.station_id for s in message.stations}))
    return found


# ---------------------------------------------------------------- the rate limit alone


class Seconds:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_unit_is_due_again_only_once_the_interval_has_passed_since_it_was_sent():
    seconds = Seconds()
    limit = Reregistration(10.0, seconds)
    assert limit.due("cu-a")
    limit.sent("cu-a")

    seconds.now += 9.999
    assert not limit.due("cu-a")
    assert limit.due("cu-b")  # each unit has its own interval

    seconds.now += 0.001
    assert limit.due("cu-a")


def test_deciding_alone_does_not_start_the_interval_only_sending_does():
    seconds = Seconds()
    limit = Reregistration(10.0, seconds)
    assert limit.due("cu-a") and limit.due("cu-a")  # asking twice changes nothing
    limit.sent("cu-a")
    assert not limit.due("cu-a")


def test_an_interval_of_zero_sends_on_every_heartbeat():
    limit = Reregistration(0.0, Seconds())
    limit.sent("cu-a")
    assert limit.due("cu-a")


# ---------------------------------------------------------------- ingest


def test_a_heartbeat_on_an_edited_stations_old_id_gets_the_units_current_ids(
    sqlite_engine, ingest, inbox, published, caplog
):
    caplog.set_level(logging.INFO, logger="bem.node")
    old = add_station(sqlite_engine, "ch1")
    other = add_station(sqlite_engine, "ch2")
    new = edit(sqlite_engine, old).new_id
    assert new is not None

    ingest.write([heartbeat(inbox, old)])

    # The same message as the answer to an announce: every current station of the unit.
    assert registered(published) == [(UNIT, {"ch1": new, "ch2": other})]
    assert inbox.acked == [TOPICS.heartbeat(old)]
    assert f"unit {UNIT} still uses station {old} (now {new})" in caplog.text


def test_the_unit_is_sent_its_ids_at_most_once_per_interval(
    sqlite_engine, make_ingest, inbox, published, clock
):
    ingest = make_ingest(reregister_interval_s=10.0)
    old = add_station(sqlite_engine, "ch1")
    new = edit(sqlite_engine, old).new_id

    ingest.write([heartbeat(inbox, old)])
    clock.advance(5.0)
    ingest.write([heartbeat(inbox, old)])
    clock.advance(4.9)
    ingest.write([heartbeat(inbox, old)])
    assert registered(published) == [(UNIT, {"ch1": new})]

    clock.advance(0.1)  # ten seconds after the first was sent
    ingest.write([heartbeat(inbox, old)])
    assert registered(published) == [(UNIT, {"ch1": new})] * 2


def test_two_edited_stations_of_one_unit_heard_in_one_batch_get_one_message(
    sqlite_engine, ingest, inbox, published
):
    ch1, ch2 = add_station(sqlite_engine, "ch1"), add_station(sqlite_engine, "ch2")
    new1, new2 = edit(sqlite_engine, ch1).new_id, edit(sqlite_engine, ch2, "ch2").new_id
    other_unit = add_station(sqlite_engine, "ch1", unit="cu-other")
    other_new = edit(sqlite_engine, other_unit, unit="cu-other").new_id

    ingest.write([heartbeat(inbox, ch1), heartbeat(inbox, ch2), heartbeat(inbox, other_unit)])

    assert sorted(registered(published)) == [
        ("cu-other", {"ch1": other_new}),
        (UNIT, {"ch1": new1, "ch2": new2}),
    ]


def test_heartbeats_on_current_stations_get_no_message(sqlite_engine, ingest, inbox, published):
    station_id = add_station(sqlite_engine, "ch1")
    ingest.write([heartbeat(inbox, station_id)])
    assert published.sent == []


def test_a_deprecated_station_without_a_successor_of_its_name_on_its_unit_gets_no_message(
    sqlite_engine, ingest, inbox, published
):
    deprecated = add_station(sqlite_engine, "ch1")
    with Session(sqlite_engine) as session:
        deprecate_station(session, deprecated)
        session.commit()
    renamed = add_station(sqlite_engine, "ch2")
    edit(sqlite_engine, renamed, name="ch2-new")
    moved = add_station(sqlite_engine, "ch3")
    edit(sqlite_engine, moved, name="ch3", unit="cu-elsewhere")

    ingest.write([heartbeat(inbox, station) for station in (deprecated, renamed, moved)])

    # Nothing to point the cycler to: its stations keep the ids it has (an announce
    # creates them afresh, docs/stations.md).
    assert published.sent == []


@pytest.mark.parametrize("state", ["running", "paused"])
def test_a_deprecated_station_still_reporting_a_run_gets_no_message(
    sqlite_engine, ingest, inbox, published, state
):
    old = add_station(sqlite_engine, "ch1")
    finished = add_experiment(sqlite_engine, old, status=ExperimentStatus.FINISHED)
    edit(sqlite_engine, old)

    ingest.write([heartbeat(inbox, old, state, finished)])

    # A run belongs to the record it started on: the cycler moves once it is idle.
    assert published.sent == []


def test_a_message_decided_in_a_rolled_back_attempt_is_sent_once_and_then_rate_limited(
    sqlite_engine, ingest, inbox, published, monkeypatch
):
    old = add_station(sqlite_engine, "ch1")
    other = add_station(sqlite_engine, "ch2")
    alarmed = add_experiment(sqlite_engine, other, status=ExperimentStatus.RUNNING)
    new = edit(sqlite_engine, old).new_id
    poison_alarms(monkeypatch)

    ingest.write(
        [
            heartbeat(inbox, old),
            inbox.message(TOPICS.alarms(other), protocol.encode_alarm(alarmed, T0, "POISON")),
        ]
    )
    # The batch was rolled back, then the heartbeat committed alone: one message.
    assert registered(published) == [(UNIT, {"ch1": new, "ch2": other})]
    # ...and it counted for the rate limit.
    ingest.write([heartbeat(inbox, old)])
    assert len(registered(published)) == 1


# ---------------------------------------------------------------- dispatch


def deprecated(engine: Engine, station_id: int) -> None:
    """Deprecate a station behind the node's back, its queued experiments left where they
    are: whatever waits on a deprecated record, it gets no start."""
    with engine.begin() as connection:
        connection.execute(update(Station).where(Station.id == station_id).values(deprecated=True))


def test_a_deprecated_station_heard_idle_gets_no_start(
    sqlite_engine, ingest, inbox, make_dispatch, published, clock
):
    station_id = add_station(sqlite_engine)
    waiting = add_experiment(sqlite_engine, station_id)
    deprecated(sqlite_engine, station_id)

    ingest.write([heartbeat(inbox, station_id)])  # heard now, idle
    make_dispatch().run_pass()

    assert published.started() == []
    assert experiment(sqlite_engine, waiting).start_attempts == 0


def test_the_moved_experiment_starts_on_the_new_record_once_that_is_heard(
    sqlite_engine, ingest, inbox, make_dispatch, published
):
    old = add_station(sqlite_engine)
    waiting = add_experiment(sqlite_engine, old)
    new = edit(sqlite_engine, old).new_id
    assert new is not None
    dispatch = make_dispatch()

    ingest.write([heartbeat(inbox, old)])
    dispatch.run_pass()
    assert published.started() == []

    ingest.write([heartbeat(inbox, new)])  # the cycler moved to the new id
    dispatch.run_pass()
    ((station, start),) = published.commands("start")
    assert (station, start["experiment_id"]) == (new, waiting)


def test_an_unconfirmed_start_is_not_sent_again_to_a_station_deprecated_since(
    sqlite_engine, make_dispatch, published, clock
):
    station_id = add_station(sqlite_engine)
    experiment_id = add_experiment(sqlite_engine, station_id)
    dispatch = make_dispatch(start_timeout_s=20.0, start_retries=2)
    heard(sqlite_engine, station_id, clock.now)
    dispatch.run_pass()
    deprecated(sqlite_engine, station_id)
    heard(sqlite_engine, station_id, clock.now + dt.timedelta(seconds=21))

    clock.advance(21.0)
    dispatch.run_pass()

    assert published.started() == [experiment_id]  # the first start only
    row = experiment(sqlite_engine, experiment_id)
    assert row.status == ExperimentStatus.ERROR
    assert row.status_message == (
        f"station {station_id} did not confirm the start within 20 s and has been replaced "
        "since; queue the experiment again on its current station"
    )


# ---------------------------------------------------------------- an announce of another window


def announce(inbox, window: Window):
    """The unit announces ch1 (add_station's station) with this window."""
    return inbox.message(
        TOPICS.announce(UNIT), protocol.encode_announce(UNIT, [StationSpec("ch1", window)])
    )


def test_an_announce_of_another_window_moves_the_queue_and_the_moved_experiment_starts_there(
    sqlite_engine, ingest, inbox, make_dispatch, published, caplog
):
    caplog.set_level(logging.INFO, logger="bem.node")
    old = add_station(sqlite_engine)  # ±10 A
    # add_experiment's profile needs 1 A, this one 2.5 A (its battery allows 3 A).
    waiting = add_experiment(sqlite_engine, old, "waiting")
    brisk = add_experiment(sqlite_engine, old, "brisk", profile_source="CC, 2.5, TIME, 10\n")
    dispatch = make_dispatch()

    ingest.write([announce(inbox, Window(0.0, 5.0, -2.0, 2.0))])

    ((unit, ids),) = registered(published)
    new = ids["ch1"]
    assert unit == UNIT and new != old
    assert experiment(sqlite_engine, waiting).station_id == new
    cancelled = experiment(sqlite_engine, brisk)
    assert (cancelled.station_id, cancelled.status) == (old, ExperimentStatus.CANCELLED)
    reason = (
        "the station's unit announced a new window that the profile does not fit: "
        "needs 2.5 A charge; the station allows 2.0 A (0.5 A over)"
    )
    assert cancelled.status_message == f"cancelled: {reason}"
    # Logged once committed, as a warning: someone should queue the cancelled one again.
    (record,) = [r for r in caplog.records if "announced another window" in r.getMessage()]
    assert record.levelno == logging.WARNING
    assert record.getMessage() == (
        f"unit {UNIT} announced another window for station 'ch1': station {old} is "
        f"deprecated, station {new} replaces it. Moved to station {new}: #{waiting} "
        f"'waiting'. Cancelled: #{brisk} 'brisk' ({reason})."
    )

    ingest.write([heartbeat(inbox, old)])  # a heartbeat on the old id: no start there
    dispatch.run_pass()
    assert published.started() == []

    ingest.write([heartbeat(inbox, new)])  # the cycler took the new id
    dispatch.run_pass()
    ((station, start),) = published.commands("start")
    assert (station, start["experiment_id"]) == (new, waiting)


def test_an_announce_of_another_window_leaves_a_run_on_the_old_record(
    sqlite_engine, ingest, inbox, published, caplog
):
    caplog.set_level(logging.INFO, logger="bem.node")
    old = add_station(sqlite_engine)
    running = add_experiment(sqlite_engine, old, "running", status=ExperimentStatus.RUNNING)

    ingest.write([announce(inbox, Window(0.0, 5.0, -2.0, 2.0))])
    ((_unit, ids),) = registered(published)
    # The run goes on on the record it started on: its status is still taken there.
    ingest.write(
        [inbox.message(TOPICS.status(old), protocol.encode_status(running, "FINISHED", 2.0))]
    )

    row = experiment(sqlite_engine, running)
    assert (row.station_id, row.status) == (old, ExperimentStatus.FINISHED)
    assert ids["ch1"] != old
    assert (
        f"station {old} is deprecated, station {ids['ch1']} replaces it. It had no queued "
        "experiments." in caplog.text
    )
