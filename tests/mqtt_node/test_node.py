"""The node on an in-process broker: ingest, liveness, dispatch, batching and acknowledgement.

Tests that depend on SQL behaviour (duplicate keys, collations, claims) use the `engine`
fixture and so run on SQLite and on MariaDB; timing-only tests run on SQLite.
"""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest
from sqlalchemy import Engine, event, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from datastore import dispatch as dispatch_store
from datastore import ingest as ingest_store
from datastore.cycles import experiment_cycles
from datastore.models import Alarm, Channel, ComputationalUnit, ExtraValue, Station
from domain.cycles import cycle_totals
from domain.stations import StationSpec
from domain.status import ExperimentStatus
from domain.window import Window
from mqtt_node import protocol
from mqtt_node.topics import Topics
from tests.datastore.support import assert_summaries_match_samples
from tests.mqtt_node.helpers import (
    STEP_CYCLES,
    T0,
    ManualTransport,
    add_experiment,
    add_station,
    expected_row,
    experiment,
    extra_value_rows,
    measures,
    rejected,
    sample_rows,
    stored_samples,
    wait_for,
)

TOPICS = Topics("bem")
CH1 = StationSpec("ch1", Window(0.0, 5.0, -10.0, 10.0), location="rack A")
CH2 = StationSpec("ch2", Window(0.0, 5.0, -15.0, 15.0), location="rack B")


def announce(cycler, unit: str, *stations: StationSpec) -> None:
    cycler.send("announce", unit, protocol.encode_announce(unit, stations, host="10.0.0.7"))


def heartbeat(cycler, station_id: int, state: str = "idle", experiment_id: int | None = None):
    cycler.send("heartbeat", station_id, protocol.encode_heartbeat(1.0, state, experiment_id))


def status(cycler, station_id: int, experiment_id: int, new: str, ts: float, message: str = ""):
    cycler.send("status", station_id, protocol.encode_status(experiment_id, new, ts, message))


def wait_committed(node, count: int, timeout: float = 10.0) -> None:
    wait_for(lambda: node.committed_messages >= count, timeout, f"{count} messages committed")


def reasons(engine: Engine) -> list[str]:
    return [row.reason for row in rejected(engine)]


# ---------------------------------------------------------------- announce


def test_an_announce_is_answered_on_registered_with_the_station_ids(engine, start_node, cycler):
    start_node(engine)
    announce(cycler, "cu-lab1", CH1, CH2)
    wait_for(lambda: cycler.registered(), 10, "the registered answer")

    (answer,) = cycler.registered()
    with Session(engine) as session:
        stations = {s.name: s for s in session.scalars(select(Station))}
        unit = session.scalar(select(ComputationalUnit))
    assert answer == {
        "unit": "cu-lab1",
        "stations": [
            {"name": "ch1", "station": stations["ch1"].id},
            {"name": "ch2", "station": stations["ch2"].id},
        ],
    }
    assert (unit.name, unit.host) == ("cu-lab1", "10.0.0.7")
    assert (stations["ch2"].location, stations["ch2"].current_max) == ("rack B", 15.0)
    assert {s.computational_unit_id for s in stations.values()} == {unit.id}


def test_a_repeated_announce_keeps_the_station_ids(engine, start_node, cycler):
    node = start_node(engine)
    announce(cycler, "cu-lab1", CH1, CH2)
    announce(cycler, "cu-lab1", CH1, CH2)
    wait_for(lambda: len(cycler.registered()) == 2, 10, "two registered answers")

    first, second = cycler.registered()
    assert first == second
    with Session(engine) as session:
        assert len(session.scalars(select(Station)).all()) == 2
    assert node.stats.rejected == 0


def test_a_changed_window_deprecates_the_station_and_answers_a_new_id(engine, start_node, cycler):
    start_node(engine)
    announce(cycler, "cu-lab1", CH1, CH2)
    wait_for(lambda: len(cycler.registered()) == 1, 10, "the first answer")
    wider = StationSpec("ch1", Window(0.0, 6.0, -10.0, 10.0), location="rack A")
    announce(cycler, "cu-lab1", wider, CH2)
    wait_for(lambda: len(cycler.registered()) == 2, 10, "the second answer")

    before, after = ({s["name"]: s["station"] for s in a["stations"]} for a in cycler.registered())
    assert after["ch2"] == before["ch2"]
    assert after["ch1"] != before["ch1"]
    with Session(engine) as session:
        old = session.get(Station, before["ch1"])
        new = session.get(Station, after["ch1"])
        assert (old.deprecated, old.voltage_max) == (True, 5.0)
        assert (new.deprecated, new.voltage_max, new.name) == (False, 6.0, "ch1")


def test_an_announce_for_another_unit_than_its_topic_is_rejected(engine, start_node, cycler):
    node = start_node(engine)
    cycler.send("announce", "cu-lab1", protocol.encode_announce("cu-other", [CH1]))
    wait_committed(node, 1)

    assert cycler.registered() == []
    (reason,) = reasons(engine)
    assert "'cu-other'" in reason and "'cu-lab1'" in reason
    with Session(engine) as session:
        assert session.scalars(select(ComputationalUnit)).all() == []


# ---------------------------------------------------------------- heartbeats


def test_heartbeats_record_when_the_stations_and_their_unit_were_last_heard(
    engine, start_node, cycler
):
    node = start_node(engine)
    station_id = add_station(engine, "ch1")
    idle_station_id = add_station(engine, "ch2")
    experiment_id = add_experiment(engine, station_id, status=ExperimentStatus.RUNNING)
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    heartbeat(cycler, station_id, "running", experiment_id)
    heartbeat(cycler, idle_station_id, "idle")
    wait_committed(node, 2)

    with Session(engine) as session:
        station = session.get(Station, station_id)
        idle_station = session.get(Station, idle_station_id)
        unit = session.get(ComputationalUnit, station.computational_unit_id)
        assert station.last_heartbeat >= before and idle_station.last_heartbeat >= before
        assert (station.reported_state, station.reported_experiment_id) == (
            "running",
            experiment_id,
        )
        assert (idle_station.reported_state, idle_station.reported_experiment_id) == ("idle", None)
        assert unit.last_heartbeat == max(station.last_heartbeat, idle_station.last_heartbeat)


# ---------------------------------------------------------------- samples


def test_samples_land_with_power_defaulting_to_voltage_times_current_and_the_step_cycle(
    engine, start_node, cycler
):
    node = start_node(engine)
    station_id = add_station(engine)
    experiment_id = add_experiment(engine, station_id, status=ExperimentStatus.RUNNING)
    with_power = measures(experiment_id, [0, 1])
    payload = json.loads(measures(experiment_id, range(2, 7), power=False))
    for index, step in enumerate([1, 2, 3, 4, 5]):
        payload["samples"][index]["instruction"] = step
    cycler.send("measures", station_id, with_power)
    cycler.send("measures", station_id, json.dumps(payload).encode())
    wait_committed(node, 2)

    stored = stored_samples(engine, experiment_id)
    assert stored[0] == expected_row(0) and stored[1] == expected_row(1)
    for index, step in enumerate([1, 2, 3, 4, 5]):
        seq = index + 2
        _seq, ts, voltage, current, power, instruction, cycle, mode = stored[seq]
        assert power == voltage * current  # the default, exactly
        assert (instruction, cycle, mode) == (step, STEP_CYCLES[step - 1], "CC")
    row = experiment(engine, experiment_id)
    assert (row.sample_count, row.last_sample_at) == (7, stored[6].ts)
    assert node.stats.samples_written == 7


def test_ingest_keeps_the_summaries_and_the_cycle_table_equal_to_the_samples(
    engine, start_node, cycler
):
    node = start_node(engine)
    station_id = add_station(engine)
    experiment_id = add_experiment(engine, station_id, status=ExperimentStatus.RUNNING)
    chunks = [range(start, start + 300) for start in range(0, 6_000, 300)]
    chunks[3], chunks[4] = chunks[4], chunks[3]  # one message out of order
    for chunk in [*chunks, chunks[7]]:  # and one delivered twice
        step = chunk.start // 1_200 + 1  # steps 1..5: cycles 1, 1, 2, 2, 2
        cycler.send(
            "measures",
            station_id,
            measures(experiment_id, chunk, instruction=step, extra={"temp_body": 25.0}),
        )
    wait_committed(node, len(chunks) + 1)

    assert_summaries_match_samples(engine, experiment_id)
    stored = stored_samples(engine, experiment_id)
    rows = [stored[seq] for seq in sorted(stored)]
    expected = cycle_totals(
        [r.seq for r in rows], [r.ts for r in rows], [r.voltage for r in rows],
        [r.current for r in rows], [r.cycle for r in rows],
    )  # fmt: skip
    table = experiment_cycles(engine, experiment_id)
    assert [(c.cycle, c.samples) for c in table] == [(c.cycle, c.samples) for c in expected]
    assert [c.cycle for c in table] == [1, 2]
    for row, want in zip(table, expected, strict=True):
        assert row.charge_ah == pytest.approx(want.charge_ah)
        assert row.discharge_ah == pytest.approx(want.discharge_ah)


def test_extra_values_are_stored_as_named_channels_of_the_experiment(engine, start_node, cycler):
    node = start_node(engine)
    station_id = add_station(engine)
    experiment_id = add_experiment(engine, station_id)
    cycler.send(
        "measures",
        station_id,
        measures(experiment_id, [0], extra={"temp_body": 25.5, "cell_1": 3.61}),
    )
    cycler.send("measures", station_id, measures(experiment_id, [1], extra={"temp_body": 25.75}))
    wait_committed(node, 2)

    with Session(engine) as session:
        channels = {c.name: c.id for c in session.scalars(select(Channel))}
        values = {
            (row.channel_id, row.seq): row.value for row in session.scalars(select(ExtraValue))
        }
    assert set(channels) == {"temp_body", "cell_1"}
    assert values == {
        (channels["temp_body"], 0): 25.5,
        (channels["cell_1"], 0): 3.61,
        (channels["temp_body"], 1): 25.75,
    }


def test_a_redelivered_sample_never_makes_a_second_row(engine, start_node, cycler):
    node = start_node(engine)
    station_id = add_station(engine)
    experiment_id = add_experiment(engine, station_id, status=ExperimentStatus.RUNNING)
    cycler.send("measures", station_id, measures(experiment_id, range(0, 10), extra={"t": 1.0}))
    cycler.send("measures", station_id, measures(experiment_id, range(5, 15), extra={"t": 1.0}))
    wait_committed(node, 2)
    cycler.send("measures", station_id, measures(experiment_id, range(0, 10), extra={"t": 1.0}))
    wait_committed(node, 3)

    assert sorted(stored_samples(engine, experiment_id)) == list(range(15))
    assert experiment(engine, experiment_id).sample_count == 15
    assert extra_value_rows(engine) == 15
    assert (node.stats.samples_written, node.stats.samples_duplicate) == (15, 15)


def test_channel_names_differing_only_in_case_do_not_stop_the_node(engine, start_node, cycler):
    # MariaDB compares names without case, SQLite with: either way both samples land.
    node = start_node(engine)
    station_id = add_station(engine)
    experiment_id = add_experiment(engine, station_id)
    cycler.send("measures", station_id, measures(experiment_id, [0], extra={"temp": 20.0}))
    wait_committed(node, 1)
    cycler.send("measures", station_id, measures(experiment_id, [1], extra={"Temp": 21.0}))
    cycler.send("measures", station_id, measures(experiment_id, [2], extra={"temp ": 22.0}))
    wait_committed(node, 3)

    assert sorted(stored_samples(engine, experiment_id)) == [0, 1, 2]
    assert extra_value_rows(engine) == 3
    assert rejected(engine) == []


def test_text_with_a_percent_sign_is_stored_as_sent(engine, start_node, cycler):
    node = start_node(engine)
    station_id = add_station(engine)
    experiment_id = add_experiment(engine, station_id)
    payload = json.loads(measures(experiment_id, [0, 1]))
    payload["samples"][0]["mode"] = "CC 50%"  # any text of 1-8 characters is a mode
    payload["samples"][1]["mode"] = "%s%(x)s"
    cycler.send("measures", station_id, json.dumps(payload).encode())
    wait_committed(node, 1)

    assert [row[-1] for _seq, row in sorted(stored_samples(engine, experiment_id).items())] == [
        "CC 50%",
        "%s%(x)s",
    ]


# ---------------------------------------------------------------- status


def test_status_reports_move_the_experiment_through_its_lifecycle(engine, start_node, cycler):
    node = start_node(engine)
    station_id = add_station(engine)
    experiment_id = add_experiment(engine, station_id)
    began, paused, resumed, finished = (
        1_795_475_000.5,
        1_795_475_100.0,
        1_795_475_200.0,
        1_795_476_000.0,
    )

    def current():
        row = experiment(engine, experiment_id)
        return row.status, row.began_at, row.finished_at

    status(cycler, station_id, experiment_id, "RUNNING", began)
    wait_committed(node, 1)
    assert current() == (ExperimentStatus.RUNNING, dt.datetime.fromtimestamp(began, dt.UTC), None)

    status(cycler, station_id, experiment_id, "PAUSED", paused)
    wait_committed(node, 2)
    assert current()[0] == ExperimentStatus.PAUSED

    status(cycler, station_id, experiment_id, "RUNNING", resumed)
    wait_committed(node, 3)
    assert current()[:2] == (ExperimentStatus.RUNNING, dt.datetime.fromtimestamp(began, dt.UTC))

    status(cycler, station_id, experiment_id, "FINISHED", finished, "all steps done")
    wait_committed(node, 4)
    row = experiment(engine, experiment_id)
    assert (row.status, row.finished_at, row.status_message) == (
        ExperimentStatus.FINISHED,
        dt.datetime.fromtimestamp(finished, dt.UTC),
        "all steps done",
    )
    assert rejected(engine) == []


def test_a_repeated_status_report_changes_nothing(engine, start_node, cycler):
    node = start_node(engine)
    station_id = add_station(engine)
    experiment_id = add_experiment(engine, station_id)
    status(cycler, station_id, experiment_id, "RUNNING", 1_795_475_000.0)
    status(cycler, station_id, experiment_id, "RUNNING", 1_795_475_999.0)
    wait_committed(node, 2)

    row = experiment(engine, experiment_id)
    assert row.began_at == dt.datetime.fromtimestamp(1_795_475_000.0, dt.UTC)
    assert rejected(engine) == []


@pytest.mark.parametrize(
    ("start", "reported"),
    [
        (ExperimentStatus.QUEUED, "PAUSED"),
        (ExperimentStatus.FINISHED, "RUNNING"),
        (ExperimentStatus.ERROR, "FINISHED"),
        (ExperimentStatus.CANCELLED, "RUNNING"),
    ],
)
def test_a_status_change_outside_the_lifecycle_is_rejected(
    engine, start_node, cycler, start, reported
):
    node = start_node(engine)
    station_id = add_station(engine)
    experiment_id = add_experiment(engine, station_id, status=start)
    status(cycler, station_id, experiment_id, reported, 1_795_475_000.0)
    wait_committed(node, 1)

    assert experiment(engine, experiment_id).status == start
    assert reasons(engine) == [
        f"experiment {experiment_id} cannot go from {start.value} to {reported}"
    ]


# ---------------------------------------------------------------- alarms


def test_an_alarm_is_stored_once_even_when_redelivered(engine, start_node, cycler):
    node = start_node(engine)
    station_id = add_station(engine)
    experiment_id = add_experiment(engine, station_id, status=ExperimentStatus.RUNNING)
    alarm = protocol.encode_alarm(experiment_id, 1_795_475_000.25, "OVER_VOLTAGE", 4.31, "high")
    cycler.send("alarms", station_id, alarm)
    cycler.send("alarms", station_id, alarm)
    wait_committed(node, 2)
    cycler.send("alarms", station_id, alarm)
    wait_committed(node, 3)

    with Session(engine) as session:
        (row,) = session.scalars(select(Alarm)).all()
    assert (row.experiment_id, row.ts, row.code, row.value, row.message) == (
        experiment_id,
        1_795_475_000.25,
        "OVER_VOLTAGE",
        4.31,
        "high",
    )
    assert experiment(engine, experiment_id).status == ExperimentStatus.RUNNING


# ---------------------------------------------------------------- dispatch


def passes_later(node, count: int = 3, timeout: float = 10.0) -> None:
    """Let the node run `count` more dispatch passes (to show something did not happen)."""
    target = node.stats.control_passes + count
    wait_for(lambda: node.stats.control_passes >= target, timeout, f"{count} dispatch passes")


def test_the_oldest_queued_experiment_of_an_online_idle_station_is_started(
    engine, start_node, cycler
):
    station_id = add_station(engine, window=(0.0, 4.0, -2.0, 10.0))
    oldest = add_experiment(engine, station_id, name="first")
    add_experiment(engine, station_id, name="second")
    # No confirmation comes in this test: a long start timeout keeps the first start the only one.
    node = start_node(engine, start_timeout_s=30.0)
    heartbeat(cycler, station_id)
    wait_for(lambda: cycler.started(), 10, "a start command")
    passes_later(node)

    ((to_station, command),) = cycler.commands("start")
    assert (to_station, command["experiment_id"]) == (station_id, oldest)
    parsed = protocol.parse_command(json.dumps(command).encode())
    assert [step.cycle for step in parsed.instructions] == STEP_CYCLES
    assert [step.setpoint for step in parsed.instructions] == [1.0, None, 1.0, None, -1.0]
    # The battery window (2.5-4.2 V, ±3 A) intersected with the station's (0-4 V, -2..10 A).
    assert parsed.limits == Window(2.5, 4.0, -2.0, 3.0)
    assert parsed.battery["nominal_capacity_ah"] == 2.5
    assert experiment(engine, oldest).start_attempts == 1


@pytest.mark.parametrize("case", ["never heard", "busy", "silent too long", "deprecated"])
def test_no_start_on_a_station_that_is_not_online_and_idle(engine, start_node, cycler, case):
    station_id = add_station(engine)
    add_experiment(engine, station_id)
    changes = {
        "never heard": {},
        "busy": {},
        # Idle when last heard, but that was longer ago than the timeout.
        "silent too long": {
            "reported_state": "idle",
            "last_heartbeat": dt.datetime.now(dt.UTC) - dt.timedelta(seconds=3),
        },
        "deprecated": {"deprecated": True},
    }[case]
    if changes:
        with engine.begin() as connection:
            connection.execute(update(Station).where(Station.id == station_id).values(**changes))
    node = start_node(engine, heartbeat_timeout_s=2.0)
    if case in ("busy", "deprecated"):
        heartbeat(cycler, station_id, "running" if case == "busy" else "idle")
        wait_committed(node, 1)
    passes_later(node)

    assert cycler.started() == []


def test_the_heartbeat_timeout_is_a_setting(engine, start_node, cycler):
    station_id = add_station(engine)
    experiment_id = add_experiment(engine, station_id)
    with engine.begin() as connection:
        ten_seconds_ago = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=10)
        connection.execute(
            update(Station)
            .where(Station.id == station_id)
            .values(last_heartbeat=ten_seconds_ago, reported_state="idle")
        )
    start_node(engine, heartbeat_timeout_s=20.0)  # 10 s of silence is still online
    wait_for(lambda: cycler.started() == [experiment_id], 10, "the start command")


def test_a_station_never_gets_a_second_experiment_while_one_is_pending_or_running(
    engine, start_node, cycler
):
    station_id = add_station(engine)
    first = add_experiment(engine, station_id, name="first")
    second = add_experiment(engine, station_id, name="second")
    node = start_node(engine, start_timeout_s=30.0)
    heartbeat(cycler, station_id)
    wait_for(lambda: cycler.started() == [first], 10, "the first start")

    heartbeat(cycler, station_id)  # still idle: the start is pending
    passes_later(node)
    status(cycler, station_id, first, "RUNNING", 1_795_475_000.0)
    heartbeat(cycler, station_id)  # a stale idle heartbeat while it runs
    passes_later(node)
    assert cycler.started() == [first]

    status(cycler, station_id, first, "FINISHED", 1_795_476_000.0)
    heartbeat(cycler, station_id)
    wait_for(lambda: cycler.started() == [first, second], 10, "the second start")
    passes_later(node)
    assert cycler.started() == [first, second]


def test_an_unconfirmed_start_is_sent_again_then_the_experiment_fails_naming_the_station(
    sqlite_engine, start_node, cycler
):
    station_id = add_station(sqlite_engine)
    experiment_id = add_experiment(sqlite_engine, station_id)
    start_node(sqlite_engine, start_timeout_s=0.3, start_retries=2)
    heartbeat(cycler, station_id)
    wait_for(
        lambda: experiment(sqlite_engine, experiment_id).status == ExperimentStatus.ERROR,
        15,
        "the experiment to fail",
    )

    assert cycler.started() == [experiment_id] * 3  # the first start and two retries
    row = experiment(sqlite_engine, experiment_id)
    assert f"station {station_id} did not confirm the start" in row.status_message
    assert row.finished_at is not None


def test_a_start_confirmed_in_time_is_not_sent_again(sqlite_engine, start_node, cycler):
    station_id = add_station(sqlite_engine)
    experiment_id = add_experiment(sqlite_engine, station_id)
    node = start_node(sqlite_engine, start_timeout_s=0.5)
    heartbeat(cycler, station_id)
    wait_for(lambda: cycler.started(), 10, "the start command")
    status(cycler, station_id, experiment_id, "RUNNING", 1_795_475_000.0)
    wait_for(
        lambda: experiment(sqlite_engine, experiment_id).status == ExperimentStatus.RUNNING,
        10,
        "RUNNING",
    )
    passes_later(node, 10)

    assert cycler.started() == [experiment_id]


@pytest.mark.parametrize("command", ["pause", "resume", "stop"])
def test_an_operator_command_is_forwarded_once(engine, start_node, cycler, command):
    station_id = add_station(engine)
    experiment_id = add_experiment(
        engine,
        station_id,
        status=ExperimentStatus.PAUSED if command == "resume" else ExperimentStatus.RUNNING,
    )
    node = start_node(engine)
    with engine.begin() as connection:
        dispatch_store.request_command(connection, experiment_id, command)
    wait_for(lambda: cycler.commands(command), 10, f"the {command} command")
    passes_later(node)

    assert cycler.commands() == [(station_id, {"command": command, "experiment_id": experiment_id})]


# ---------------------------------------------------------------- batching


def test_many_small_messages_are_written_in_few_batches(sqlite_engine, start_node, cycler):
    station_id = add_station(sqlite_engine)
    experiment_id = add_experiment(sqlite_engine, station_id)
    node = start_node(sqlite_engine, batch_size=500, batch_interval_s=0.2)
    for seq in range(1000):
        cycler.send("measures", station_id, measures(experiment_id, [seq]))
    wait_committed(node, 1000, timeout=30)

    assert sample_rows(sqlite_engine, experiment_id) == 1000
    assert node.stats.batches <= 50, f"{node.stats.batches} batches for 1000 messages"


def test_each_batch_writes_its_samples_with_one_multi_row_insert(sqlite_engine, start_node, cycler):
    inserts: list[int] = []

    @event.listens_for(sqlite_engine, "before_cursor_execute")
    def count(_conn, _cursor, statement, parameters, _context, executemany) -> None:
        if "INTO measurements" in statement:
            inserts.append(len(parameters) if executemany else 1)

    station_id = add_station(sqlite_engine)
    experiment_id = add_experiment(sqlite_engine, station_id)
    node = start_node(sqlite_engine, batch_size=100, batch_interval_s=0.5)
    for start in range(0, 300, 10):
        cycler.send("measures", station_id, measures(experiment_id, range(start, start + 10)))
    wait_committed(node, 30)

    assert sum(inserts) == 300
    assert len(inserts) == node.stats.batches  # one statement per batch
    assert max(inserts) <= 100  # a batch closes when it holds batch_size samples
    assert len(inserts) <= 10


def test_a_lone_message_is_written_within_the_batch_interval(sqlite_engine, start_node, cycler):
    station_id = add_station(sqlite_engine)
    experiment_id = add_experiment(sqlite_engine, station_id)
    node = start_node(sqlite_engine, batch_size=2000, batch_interval_s=0.1)
    cycler.send("measures", station_id, measures(experiment_id, [0]))
    wait_committed(node, 1, timeout=2)

    assert sample_rows(sqlite_engine, experiment_id) == 1


# ---------------------------------------------------------------- acknowledgement


class DatabaseOutage:
    """Make sample inserts fail as if the server were unreachable, until `end()`."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.on = threading.Event()
        real = ingest_store.write_samples

        def write_samples(*args, **kwargs):
            if self.on.is_set():
                raise OperationalError("INSERT", {}, ConnectionError("server has gone away"))
            return real(*args, **kwargs)

        monkeypatch.setattr(ingest_store, "write_samples", write_samples)

    def begin(self) -> None:
        self.on.set()

    def end(self) -> None:
        self.on.clear()


def test_messages_are_acknowledged_only_after_their_rows_are_committed(
    sqlite_engine, start_node, monkeypatch
):
    station_id = add_station(sqlite_engine)
    experiment_id = add_experiment(sqlite_engine, station_id)
    outage = DatabaseOutage(monkeypatch)
    transport = ManualTransport()
    node = start_node(sqlite_engine, transport)
    outage.begin()
    for number in range(5):
        transport.deliver(
            TOPICS.measures(station_id),
            measures(experiment_id, range(number * 10, number * 10 + 10)),
            f"m{number}",
        )
    wait_for(lambda: node.stats.database_errors >= 2, 10, "failed writes")
    assert transport.acked == []
    assert sample_rows(sqlite_engine) == 0

    outage.end()
    wait_for(lambda: len(transport.acked) == 5, 15, "the acknowledgements")
    assert sorted(transport.acked) == [f"m{number}" for number in range(5)]
    assert sample_rows(sqlite_engine, experiment_id) == 50
    assert node.stats.samples_written == 50  # the failed attempts are not counted


def test_a_node_stopped_during_a_database_outage_acknowledges_nothing(
    sqlite_engine, monkeypatch, start_node
):
    station_id = add_station(sqlite_engine)
    experiment_id = add_experiment(sqlite_engine, station_id)
    outage = DatabaseOutage(monkeypatch)
    transport = ManualTransport()
    node = start_node(sqlite_engine, transport)
    outage.begin()
    transport.deliver(TOPICS.measures(station_id), measures(experiment_id, range(10)))
    wait_for(lambda: node.stats.database_errors >= 1, 10, "a failed write")
    node.stop()

    assert transport.acked == []  # the broker will deliver it again


def test_a_full_queue_holds_back_the_transport_until_the_writer_catches_up(
    sqlite_engine, monkeypatch, start_node
):
    station_id = add_station(sqlite_engine)
    experiment_id = add_experiment(sqlite_engine, station_id)
    outage = DatabaseOutage(monkeypatch)
    transport = ManualTransport()
    node = start_node(sqlite_engine, transport, queue_size=5, batch_size=1)
    outage.begin()
    delivered: list[int] = []

    def deliver_all() -> None:
        for seq in range(20):
            transport.deliver(TOPICS.measures(station_id), measures(experiment_id, [seq]))
            delivered.append(seq)

    feeder = threading.Thread(target=deliver_all, daemon=True)
    feeder.start()
    # One message in the writer's hands, five in the queue, the seventh blocks.
    wait_for(lambda: len(delivered) == 6, 10, "the queue to fill")
    wait_for(lambda: node.stats.database_errors >= 2, 10, "the writer to keep failing")
    assert len(delivered) == 6 and feeder.is_alive()

    outage.end()
    feeder.join(30)
    wait_for(lambda: sample_rows(sqlite_engine, experiment_id) == 20, 30, "all samples")
    assert sorted(stored_samples(sqlite_engine, experiment_id)) == list(range(20))


def test_a_message_the_database_refuses_is_recorded_and_the_rest_of_its_batch_lands(
    engine, start_node, cycler, monkeypatch
):
    station_id = add_station(engine)
    experiment_id = add_experiment(engine, station_id, status=ExperimentStatus.RUNNING)
    real = ingest_store.insert_alarm

    def insert_alarm(connection, experiment_id, ts, code, *rest):
        if code == "POISON":  # stands for any row the database refuses for good
            raise IntegrityError("INSERT INTO alarms", {}, ValueError("constraint failed"))
        return real(connection, experiment_id, ts, code, *rest)

    monkeypatch.setattr(ingest_store, "insert_alarm", insert_alarm)
    node = start_node(engine, batch_interval_s=0.5)
    cycler.send("measures", station_id, measures(experiment_id, range(0, 5)))
    cycler.send("alarms", station_id, protocol.encode_alarm(experiment_id, T0, "POISON"))
    cycler.send("measures", station_id, measures(experiment_id, range(5, 10)))
    cycler.send("alarms", station_id, protocol.encode_alarm(experiment_id, T0 + 1, "FINE"))
    wait_committed(node, 4)

    assert sorted(stored_samples(engine, experiment_id)) == list(range(10))
    ((topic, reason),) = [(row.topic, row.reason) for row in rejected(engine)]
    assert topic == TOPICS.alarms(station_id)
    assert reason.startswith("could not be stored: ") and "constraint failed" in reason
    with Session(engine) as session:
        assert session.scalars(select(Alarm.code)).all() == ["FINE"]
    assert node.stats.rejected == 1


def test_a_huge_topic_outside_the_protocol_is_recorded_and_the_node_goes_on(
    engine, start_node, memory_broker, cycler
):
    station_id = add_station(engine)
    experiment_id = add_experiment(engine, station_id)
    node = start_node(engine)
    # The reason quotes the topic twice: more than a TEXT column holds, unless cut short.
    memory_broker.publish("bem/stations/" + "9x" * 20_000 + "/measures", b"{}", 1)
    cycler.send("measures", station_id, measures(experiment_id, [0]))
    wait_committed(node, 2)

    (row,) = rejected(engine)
    assert "is not a positive integer" in row.reason and len(row.reason) <= 2000
    assert sample_rows(engine, experiment_id) == 1


def test_a_failed_dispatch_pass_does_not_stop_ingest(
    sqlite_engine, start_node, cycler, monkeypatch
):
    # A dispatch pass that raises (a bug, a refused row) must not stop ingest.
    calls = {"n": 0}
    real = dispatch_store.claim_pending_commands

    def failing_once(connection, now):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("bug in dispatch")
        return real(connection, now)

    monkeypatch.setattr(dispatch_store, "claim_pending_commands", failing_once)
    station_id = add_station(sqlite_engine)
    experiment_id = add_experiment(sqlite_engine, station_id)
    node = start_node(sqlite_engine)
    passes_later(node, 2)
    cycler.send("measures", station_id, measures(experiment_id, [0]))
    wait_committed(node, 1)

    assert calls["n"] > 1
    assert sample_rows(sqlite_engine, experiment_id) == 1


def test_refused_samples_are_counted_by_reason(sqlite_engine, start_node, cycler):
    station_id = add_station(sqlite_engine)
    closed = add_experiment(sqlite_engine, station_id, status=ExperimentStatus.FINISHED)
    node = start_node(sqlite_engine)
    cycler.send("measures", station_id, measures(closed, [0]))
    cycler.send("measures", station_id, measures(999_999, [0]))
    cycler.send("measures", station_id, b"{not json")
    wait_committed(node, 3)

    assert node.stats.rejected == 3
    assert node.stats.rejected_reasons == {
        f"experiment {closed} is FINISHED": 1,
        "unknown experiment 999999": 1,
        "payload": 1,
    }


def test_extra_channels_get_their_unit_from_the_key_or_the_name(engine, start_node, cycler):
    from sqlalchemy import select

    from datastore.models import Channel

    node = start_node(engine)
    station_id = add_station(engine)
    experiment_id = add_experiment(engine, station_id)
    extra = {"temp_body": 25.0, "flow [L/min]": 1.5, "pressure": 1.1}
    cycler.send("measures", station_id, measures(experiment_id, [0], extra=extra))
    wait_committed(node, 1)

    with engine.connect() as connection:
        channels = dict(
            connection.execute(
                select(Channel.name, Channel.unit).where(Channel.experiment_id == experiment_id)
            ).all()
        )
    assert channels == {"temp_body": "°C", "flow": "L/min", "pressure": ""}
