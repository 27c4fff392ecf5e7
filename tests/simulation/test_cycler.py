"""The simulated cycler behind `bem simulate`, driven through the protocol alone.

A `ControlRoom` on an in-process broker plays the node: it answers the announce, sends
commands made with the protocol's encoders, and records everything the cycler publishes,
in order. No node and no database take part, as for a real cycler.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import pytest

from domain.profiles import ExpandedStep
from domain.stations import StationSpec
from domain.status import ExperimentStatus
from domain.window import Window
from mqtt_node import protocol
from mqtt_node.topics import NODE_KINDS, Topics
from mqtt_node.transport import MemoryBroker, Message, wait_until
from simulation import cycler as simulator
from simulation.cycler import SimulatedCycler, SimulatorOptions
from tests.mqtt_node.helpers import ROOT, wait_for

pytestmark = pytest.mark.slow

UNIT = "sim-test"
STATION_IDS = {"ch1": 7, "ch2": 8}
CH1 = STATION_IDS["ch1"]
# The cell's safe window, as the node would send it (battery ∩ station).
LIMITS = {"voltage_min": 2.5, "voltage_max": 4.2, "current_min": -5.0, "current_max": 5.0}
BATTERY = {"technology": "lithium-ion", "chemistry": "NMC", "nominal_capacity_ah": 2.5}


def step(mode: str, setpoint: float | None, limit: str, limit_value: float) -> dict[str, Any]:
    return {"mode": mode, "setpoint": setpoint, "limit": limit, "limit_value": limit_value}


# An hour of 1 A charge: a run that goes on for the whole of a test.
LONG_RUN = [step("CC", 1.0, "TIME", 3600)]


@dataclass(frozen=True)
class Received:
    """One message from the cycler: when it arrived, its kind, key, QoS and parsed payload."""

    at: float  # time.monotonic()
    kind: protocol.MessageKind
    key: str | int
    qos: int
    body: Any


class ControlRoom:
    """The node's side of the broker, run by the test."""

    def __init__(self, broker: MemoryBroker, topics: Topics) -> None:
        self.topics = topics
        self.received: list[Received] = []
        self.transport = broker.transport("control-room")
        self.transport.start(self._record, [(topics.filter(kind), 1) for kind in NODE_KINDS])

    def _record(self, message: Message) -> None:
        kind, key = self.topics.parse(message.topic)
        body = protocol.PARSERS[kind](message.payload)  # a payload off the protocol fails here
        self.received.append(Received(time.monotonic(), kind, key, message.qos, body))

    # ------------------------------------------------------------ what the node sends

    def register(self, unit: str = UNIT, ids: dict[str, int] = STATION_IDS) -> None:
        self._send(self.topics.registered(unit), protocol.encode_registered(unit, ids))

    def start(
        self,
        experiment_id: int,
        steps: list[dict[str, Any]] = LONG_RUN,
        *,
        station: int = CH1,
        limits: dict[str, float] = LIMITS,
        battery: dict[str, Any] = BATTERY,
    ) -> None:
        instructions = [ExpandedStep.from_json(raw, n) for n, raw in enumerate(steps, start=1)]
        payload = protocol.encode_start(
            experiment_id, "test profile", instructions, Window.from_json(limits), battery
        )
        self._send(self.topics.commands(station), payload)

    def command(self, action: str, experiment_id: int, station: int = CH1) -> None:
        self._send(self.topics.commands(station), protocol.encode_control(action, experiment_id))

    def _send(self, topic: str, payload: bytes) -> None:
        self.transport.publish(topic, payload, 1)

    # ------------------------------------------------------------ what the cycler sent

    def of(self, kind: str, station: int | str | None = None) -> list[Received]:
        return [
            message
            for message in list(self.received)
            if message.kind == kind and (station is None or message.key == station)
        ]

    def announces(self) -> list[protocol.Announce]:
        return [message.body for message in self.of("announce", UNIT)]

    def heartbeats(self, station: int = CH1) -> list[protocol.Heartbeat]:
        return [message.body for message in self.of("heartbeat", station)]

    def statuses(self, station: int = CH1) -> list[protocol.StatusReport]:
        return [message.body for message in self.of("status", station)]

    def alarms(self, station: int = CH1) -> list[protocol.Alarm]:
        return [message.body for message in self.of("alarms", station)]

    def samples(self, station: int = CH1, experiment_id: int | None = None) -> list:
        return [
            sample
            for message in self.of("measures", station)
            if experiment_id is None or message.body.experiment_id == experiment_id
            for sample in message.body.samples
        ]

    def status_words(self, station: int = CH1) -> list[str]:
        return [report.status.value for report in self.statuses(station)]

    def wait_for_status(self, word: str, count: int = 1, timeout: float = 10.0) -> None:
        wait_for(lambda: self.status_words().count(word) >= count, timeout, f"status {word}")

    def wait_for_samples(self, count: int, timeout: float = 10.0, **filters: Any) -> None:
        wait_for(lambda: len(self.samples(**filters)) >= count, timeout, f"{count} samples")

    def after(self, word: str, kind: str, station: int = CH1) -> list[Received]:
        """Messages of `kind` received after the first status `word` of the station."""
        messages = list(self.received)
        first = next(
            index
            for index, message in enumerate(messages)
            if message.kind == "status" and message.key == station and message.body.status == word
        )
        return [m for m in messages[first + 1 :] if m.kind == kind and m.key == station]


@pytest.fixture(autouse=True)
def quick_heartbeats(monkeypatch: pytest.MonkeyPatch) -> None:
    """Heartbeats and announce retries every few tenths of a second, so tests need not wait."""
    monkeypatch.setattr(simulator, "HEARTBEAT_PERIOD_S", 0.1)
    monkeypatch.setattr(simulator, "ANNOUNCE_RETRY_S", 0.2)


@pytest.fixture
def broker() -> MemoryBroker:
    return MemoryBroker()


@pytest.fixture
def control_room(broker: MemoryBroker) -> Iterator[ControlRoom]:
    room = ControlRoom(broker, Topics("bem"))
    yield room
    room.transport.stop()


@pytest.fixture
def start_cycler(broker: MemoryBroker) -> Iterator[Callable[..., SimulatedCycler]]:
    """`start_cycler(**options)`: a running simulated unit (two stations), stopped at the end."""
    cyclers: list[SimulatedCycler] = []

    def start(**options: Any) -> SimulatedCycler:
        settings = {
            "unit": UNIT,
            "stations": 2,
            "rate_hz": 20.0,
            "speed": 1.0,
            "topic_prefix": "bem",
            "final_status_delay_s": 0.2,
            "voltage_min": 0.0,
            "voltage_max": 5.0,
            "current_min": -10.0,
            "current_max": 10.0,
            **options,
        }
        cycler = SimulatedCycler(broker.transport("cycler"), SimulatorOptions(**settings))
        cyclers.append(cycler)
        cycler.start()
        return cycler

    yield start
    for cycler in cyclers:
        cycler.stop()


@pytest.fixture
def registered(
    start_cycler: Callable[..., SimulatedCycler], control_room: ControlRoom
) -> Callable[..., SimulatedCycler]:
    """`registered(**options)`: a simulated unit that has announced and been given its ids."""

    def start(**options: Any) -> SimulatedCycler:
        cycler = start_cycler(**options)
        wait_for(lambda: control_room.announces(), 5, "the announce")
        control_room.register()
        wait_for(cycler.registered.is_set, 5, "the registration")
        return cycler

    return start


# ---------------------------------------------------------------- announce and heartbeats


def test_it_announces_its_stations_until_it_is_registered(start_cycler, control_room) -> None:
    cycler = start_cycler(station_names=["left", "right"], host="10.0.0.9")
    wait_for(lambda: len(control_room.announces()) >= 2, 5, "a repeated announce")

    announce = control_room.announces()[0]
    assert announce == protocol.Announce(
        unit=UNIT,
        host="10.0.0.9",
        stations=tuple(
            StationSpec(name, Window(0.0, 5.0, -10.0, 10.0), location=f"{UNIT} rack")
            for name in ("left", "right")
        ),
    )
    control_room.register(ids={"left": 21, "right": 22})
    wait_for(cycler.registered.is_set, 5, "the registration")
    assert cycler.station_ids() == {"left": 21, "right": 22}
    announced = len(control_room.announces())
    time.sleep(0.6)  # three retry periods: no announce may follow the registration
    assert len(control_room.announces()) == announced


def test_a_registration_for_another_unit_is_ignored(start_cycler, control_room) -> None:
    cycler = start_cycler()
    wait_for(lambda: control_room.announces(), 5, "the announce")
    control_room.register(unit="another-unit", ids=STATION_IDS)
    control_room.register()
    wait_for(cycler.registered.is_set, 5, "the registration")
    assert cycler.station_ids() == STATION_IDS


def test_a_later_registered_moves_its_idle_stations_to_the_new_ids(
    registered, control_room
) -> None:
    cycler = registered()
    wait_for(lambda: control_room.heartbeats(CH1), 5, "a heartbeat of ch1")

    # What the node sends unprompted after ch1 was edited in the web app.
    control_room.register(ids={"ch1": 17, "ch2": 8})
    wait_for(lambda: control_room.heartbeats(17), 5, "a heartbeat on the new id")
    moved_at = len(control_room.received)
    wait_for(lambda: len(control_room.heartbeats(17)) >= 3, 5, "more heartbeats")

    assert cycler.station_ids() == {"ch1": 17, "ch2": 8}
    later = control_room.received[moved_at:]
    assert [m.key for m in later if m.kind == "heartbeat" and m.key == CH1] == []
    assert {m.key for m in later if m.kind == "heartbeat"} == {17, 8}
    # Commands are taken from the new id only: a start on the old one is not obeyed.
    control_room.start(12, station=CH1)
    control_room.start(13, station=17)
    wait_for(lambda: control_room.status_words(17) == ["RUNNING"], 5, "the start on 17")
    assert control_room.statuses(17)[0].experiment_id == 13
    assert control_room.status_words(CH1) == []


def test_a_station_in_a_run_keeps_its_id_until_the_run_ends_then_moves(
    registered, control_room
) -> None:
    cycler = registered()
    control_room.start(12)
    control_room.wait_for_status("RUNNING")

    control_room.register(ids={"ch1": 17, "ch2": 18})
    wait_for(lambda: control_room.heartbeats(18), 5, "idle ch2 on its new id")
    count = len(control_room.samples())
    control_room.wait_for_samples(count + 10)  # the run goes on, on the id it started on
    assert cycler.station_ids() == {"ch1": CH1, "ch2": 18}
    assert control_room.heartbeats(17) == []
    assert control_room.heartbeats(CH1)[-1].experiment_id == 12

    control_room.command("stop", 12)  # on the run's id
    control_room.wait_for_status("FINISHED")
    wait_for(lambda: control_room.heartbeats(17), 5, "ch1 on its new id once idle")
    assert cycler.station_ids() == {"ch1": 17, "ch2": 18}
    assert (control_room.heartbeats(17)[0].state, control_room.heartbeats(17)[0].experiment_id) == (
        "idle",
        None,
    )
    assert control_room.of("measures", 17) == [] and control_room.of("status", 17) == []


def test_heartbeats_carry_each_stations_state_and_experiment(registered, control_room) -> None:
    registered()
    wait_for(lambda: control_room.heartbeats(8), 5, "a heartbeat of ch2")
    assert (control_room.heartbeats()[-1].state, control_room.heartbeats()[-1].experiment_id) == (
        "idle",
        None,
    )

    control_room.start(12)
    control_room.wait_for_status("RUNNING")
    wait_for(lambda: control_room.heartbeats()[-1].state == "running", 5, "a running heartbeat")
    assert control_room.heartbeats()[-1].experiment_id == 12
    assert control_room.heartbeats(8)[-1].state == "idle"

    control_room.command("pause", 12)
    wait_for(lambda: control_room.heartbeats()[-1].state == "paused", 5, "a paused heartbeat")
    assert control_room.heartbeats()[-1].experiment_id == 12


def test_heartbeats_go_out_with_qos_0_and_everything_else_with_qos_1(
    registered, control_room
) -> None:
    registered()
    control_room.start(12)
    control_room.wait_for_samples(5)
    wait_for(lambda: control_room.heartbeats(), 5, "a heartbeat")

    qos = {(message.kind, message.qos) for message in control_room.received}
    assert qos == {("announce", 1), ("heartbeat", 0), ("status", 1), ("measures", 1)}


# ---------------------------------------------------------------- a run


def test_a_start_is_confirmed_running_then_measures_follow_with_consecutive_seq(
    registered, control_room
) -> None:
    registered()
    control_room.start(12)
    control_room.wait_for_samples(30)

    (running,) = control_room.statuses()
    assert (running.experiment_id, running.status) == (12, ExperimentStatus.RUNNING)
    assert control_room.of("measures", 8) == []  # only the station told to start
    samples = control_room.samples()
    assert [sample.seq for sample in samples] == list(range(len(samples)))
    assert {message.body.experiment_id for message in control_room.of("measures")} == {12}
    first, *rest = samples
    assert first.current == 0.0  # the rest reading before the current flows
    assert all(sample.current == 1.0 for sample in rest)
    assert {(sample.instruction, sample.mode) for sample in samples} == {(1, "CC")}
    assert all(sample.power == sample.voltage * sample.current for sample in samples)
    assert all("temp_body" in sample.extra for sample in samples)
    times = [sample.ts for sample in samples]
    assert times == sorted(times) and times[0] >= running.ts - 1.0


# The cell starts half charged; each step ends on a different kind of limit.
EVERY_LIMIT = [
    step("CC", 2.5, "VOLTAGE", 4.1),
    step("CV", 4.1, "CURRENT", 0.25),
    step("WAIT", None, "TIME", 120),
    step("CC", -2.5, "CAPACITY", 0.5),
    step("CP", -5.0, "ENERGY", 1.0),
    step("CC", -1.0, "TIME", 60),
]


def test_a_profile_with_every_limit_type_runs_to_finished(registered, control_room) -> None:
    registered(speed=2000.0, rate_hz=10.0)  # an hour and more of cycling in a few seconds
    control_room.start(12, EVERY_LIMIT)
    control_room.wait_for_status("FINISHED", timeout=30)

    assert control_room.status_words() == ["RUNNING", "FINISHED"]
    assert control_room.statuses()[-1].message == ""
    assert control_room.after("FINISHED", "measures") == []
    samples = control_room.samples()
    assert [sample.seq for sample in samples] == list(range(len(samples)))
    steps = [sample.instruction for sample in samples]
    assert steps == sorted(steps) and set(steps) == set(range(1, len(EVERY_LIMIT) + 1))
    # Each step's last sample is taken the moment the step ends, on its limit.
    last = {sample.instruction: sample for sample in samples}

    def lasted(number: int) -> float:
        return last[number].ts - last[number - 1].ts

    assert last[1].voltage == pytest.approx(4.1, abs=1e-3)
    assert abs(last[2].current) == pytest.approx(0.25, abs=1e-3)
    assert lasted(3) == pytest.approx(120, abs=1e-3)
    assert 2.5 * lasted(4) / 3600 == pytest.approx(0.5, rel=1e-3)  # Ah at 2.5 A
    assert 5.0 * lasted(5) / 3600 == pytest.approx(1.0, rel=1e-2)  # Wh at 5 W
    assert abs(last[5].power) == pytest.approx(5.0, rel=1e-2)
    assert lasted(6) == pytest.approx(60, abs=1e-3)
    wait_for(lambda: control_room.heartbeats()[-1].state == "idle", 5, "an idle heartbeat")
    assert control_room.heartbeats()[-1].experiment_id is None


def test_pause_holds_the_step_and_resume_continues_it(registered, control_room) -> None:
    registered()
    control_room.start(12)
    control_room.wait_for_samples(10)
    control_room.command("pause", 12)
    control_room.wait_for_status("PAUSED")
    wait_for(lambda: len(control_room.after("PAUSED", "measures")) >= 5, 5, "paused samples")
    control_room.command("resume", 12)
    control_room.wait_for_status("RUNNING", count=2)
    wait_for(lambda: len(control_room.after("PAUSED", "measures")) >= 15, 5, "more samples")

    assert control_room.status_words() == ["RUNNING", "PAUSED", "RUNNING"]
    received = list(control_room.received)  # one snapshot: samples keep coming
    changes = [index for index, message in enumerate(received) if message.kind == "status"]

    def samples_in(part: list[Received]) -> list:
        return [s for message in part if message.kind == "measures" for s in message.body.samples]

    paused = samples_in(received[changes[1] : changes[2]])
    resumed = samples_in(received[changes[2] :])
    assert len(paused) >= 5 and len(resumed) >= 5
    assert {(s.current, s.mode, s.instruction) for s in paused} == {(0.0, "WAIT", 1)}
    assert {(s.current, s.mode, s.instruction) for s in resumed} == {(1.0, "CC", 1)}
    samples = control_room.samples()
    assert [sample.seq for sample in samples] == list(range(len(samples)))


def test_stop_ends_the_run_finished_with_a_message_after_the_last_samples(
    registered, control_room
) -> None:
    registered(final_status_delay_s=0.5)
    control_room.start(12)
    control_room.wait_for_samples(10)
    stopped_at = time.monotonic()
    control_room.command("stop", 12)
    control_room.wait_for_status("FINISHED")

    finished = control_room.of("status")[-1]
    assert finished.body.message == "stopped by the operator"
    # Held back so the last samples are stored first (docs/protocol.md, 5.5 and 11).
    assert finished.at - stopped_at >= 0.4
    assert control_room.after("FINISHED", "measures") == []
    # Sampling stopped with the command, not with the final status.
    assert finished.at - control_room.of("measures")[-1].at >= 0.25
    wait_for(lambda: control_room.heartbeats()[-1].state == "idle", 5, "an idle heartbeat")
    assert control_room.heartbeats()[-1].experiment_id is None


def test_the_station_reports_its_run_until_the_final_status_is_sent(
    registered, control_room
) -> None:
    registered(final_status_delay_s=1.0)
    control_room.start(12)
    control_room.wait_for_samples(5)
    control_room.command("stop", 12)
    time.sleep(0.5)  # within the delay

    assert "FINISHED" not in control_room.status_words()
    assert control_room.heartbeats()[-1].experiment_id == 12
    control_room.wait_for_status("FINISHED")


@pytest.mark.parametrize("action", ["stop", "pause", "resume"])
def test_a_command_for_another_experiment_is_ignored(registered, control_room, action) -> None:
    registered()
    control_room.start(12)
    control_room.wait_for_samples(5)
    count = len(control_room.samples())
    control_room.command(action, 13)
    control_room.command(action, 12, station=8)  # ch2 runs nothing
    # Twenty more samples: the commands, delivered before them, have been handled.
    control_room.wait_for_samples(count + 20)

    assert control_room.status_words() == ["RUNNING"]
    assert control_room.status_words(8) == []


# ---------------------------------------------------------------- alarms


def test_leaving_the_voltage_window_raises_an_alarm_and_ends_the_run_in_error(
    registered, control_room
) -> None:
    registered(speed=500.0)
    narrow = {**LIMITS, "voltage_max": 3.8}  # the profile charges to 4.2 V
    control_room.start(12, [step("CC", 2.5, "VOLTAGE", 4.2)], limits=narrow)
    control_room.wait_for_status("ERROR", timeout=20)

    (alarm,) = control_room.alarms()
    assert (alarm.experiment_id, alarm.code) == (12, "OVER_VOLTAGE")
    assert alarm.value > 3.8 and "3.8 V" in alarm.message
    assert control_room.status_words() == ["RUNNING", "ERROR"]
    assert control_room.statuses()[-1].message == "stopped by a safety alarm"
    samples = control_room.samples()
    assert samples[0].ts <= alarm.ts <= samples[-1].ts
    assert control_room.after("ERROR", "measures") == []
    # The alarm comes before the status that ends the run.
    kinds = [m.kind for m in control_room.received if m.kind in ("alarms", "status")]
    assert kinds == ["status", "alarms", "status"]


def test_a_set_point_beyond_the_current_window_is_clamped_with_an_alarm(
    registered, control_room
) -> None:
    registered()
    control_room.start(12, [step("CC", 8.0, "TIME", 3600)])  # the window allows 5 A
    control_room.wait_for_samples(10)
    wait_for(lambda: control_room.alarms(), 5, "the alarm")

    (alarm,) = control_room.alarms()
    assert (alarm.code, alarm.value) == ("OVER_CURRENT", 5.0)
    assert {sample.current for sample in control_room.samples()[1:]} == {5.0}
    assert control_room.status_words() == ["RUNNING"]  # the run goes on


# ---------------------------------------------------------------- starts


def test_a_repeated_start_is_confirmed_again_without_restarting(registered, control_room) -> None:
    registered()
    control_room.start(12)
    control_room.wait_for_samples(10)
    control_room.start(12)
    control_room.wait_for_status("RUNNING", count=2)
    count = len(control_room.samples())
    control_room.wait_for_samples(count + 10)

    samples = control_room.samples()
    assert [sample.seq for sample in samples] == list(range(len(samples)))  # one seq 0


def test_a_repeated_start_while_paused_is_confirmed_paused(registered, control_room) -> None:
    registered()
    control_room.start(12)
    control_room.wait_for_samples(5)
    control_room.command("pause", 12)
    control_room.wait_for_status("PAUSED")
    control_room.start(12)
    control_room.wait_for_status("PAUSED", count=2)

    assert control_room.status_words() == ["RUNNING", "PAUSED", "PAUSED"]
    # The heartbeat sent before the pause may still be the last one: wait for the next.
    assert wait_until(lambda: control_room.heartbeats()[-1].state == "paused", 10)


def test_a_start_while_busy_is_ignored(registered, control_room) -> None:
    registered()
    control_room.start(12)
    control_room.wait_for_samples(5)
    count = len(control_room.samples())
    control_room.start(13)
    control_room.wait_for_samples(count + 20)  # the start, delivered first, was handled

    assert {report.experiment_id for report in control_room.statuses()} == {12}
    assert {message.body.experiment_id for message in control_room.of("measures")} == {12}
    assert control_room.heartbeats()[-1].experiment_id == 12


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"steps": [step("CV", -4.0, "CURRENT", 0.1)]}, "CV needs a positive voltage"),
        ({"battery": {**BATTERY, "technology": "zinc-air"}}, "technology"),
        ({"limits": {**LIMITS, "current_min": 0.5}}, "current_min"),
        ({"limits": {**LIMITS, "voltage_min": 4.2}}, "voltage_max"),
    ],
    ids=["unrunnable step", "unknown technology", "no zero current", "no voltage room"],
)
def test_a_start_it_cannot_run_is_answered_error_and_the_station_stays_usable(
    registered, control_room, change, reason
) -> None:
    registered()
    control_room.start(12, **change)
    control_room.wait_for_status("ERROR")

    (error,) = control_room.statuses()
    assert error.experiment_id == 12 and reason in error.message
    assert control_room.samples() == []
    control_room.start(13)
    control_room.wait_for_status("RUNNING")
    control_room.wait_for_samples(5, experiment_id=13)


# ---------------------------------------------------------------- rate and speed


def samples_arriving(control_room: ControlRoom, seconds: float) -> list[Received]:
    """The measures messages that arrive in the next `seconds` of wall-clock time."""
    began = time.monotonic()
    time.sleep(seconds)
    return [m for m in control_room.of("measures") if began <= m.at < began + seconds]


def test_measures_come_at_the_sample_rate_in_wall_clock_time(registered, control_room) -> None:
    registered(rate_hz=10.0)
    control_room.start(12)
    control_room.wait_for_samples(5)
    messages = samples_arriving(control_room, 2.0)

    samples = [sample for message in messages for sample in message.body.samples]
    assert 10 <= len(samples) <= 30, f"{len(samples)} samples in 2 s at 10 Hz"
    # About one message per sample; a loaded machine packs several into one.
    assert 5 <= len(messages) <= len(samples)


def test_speed_makes_simulated_time_run_faster_than_the_clock(registered, control_room) -> None:
    registered(rate_hz=5.0, speed=50.0)
    control_room.start(12)
    control_room.wait_for_samples(5)
    messages = samples_arriving(control_room, 2.0)

    samples = [sample for message in messages for sample in message.body.samples]
    gaps = {round(later.ts - earlier.ts, 6) for earlier, later in pairwise(samples)}
    assert gaps == {10.0}  # speed / rate: 50 simulated seconds, 5 samples a second
    span = samples[-1].ts - samples[0].ts
    assert 50 <= span <= 150, f"{span:.0f} simulated seconds in 2 s at speed 50"
    assert samples[-1].ts > time.time() + 30  # the samples' clock runs ahead of the wall


# ---------------------------------------------------------------- protocol only


def test_the_simulator_loads_nothing_that_reaches_the_database() -> None:
    """`bem simulate` is a reference for cycler authors: protocol in, protocol out."""
    probe = (
        "import sys, simulation.cycler\n"
        "loaded = sorted(n for n in sys.modules if n.split('.')[0] in "
        "('datastore', 'sqlalchemy', 'pymysql', 'sqlite3', 'config', 'cli'))\n"
        "print(loaded)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_simulator_stops_its_thread_and_transport(registered) -> None:
    before = set(threading.enumerate())
    cycler = registered()
    cycler.stop()
    wait_for(lambda: not (set(threading.enumerate()) - before), 5, "the threads to end")
    assert not cycler.transport.connected
