"""A simulated cycler: one computational unit with N stations, speaking only the protocol.

It announces its stations, sends heartbeats, obeys start/stop/pause/resume, runs the
expanded profile on an equivalent-circuit battery model and publishes measures, status
changes and alarms. It never touches the database, so it doubles as a reference for
people writing real cycler software.

It takes station ids from every `registered` message, whenever it comes: the node sends
one unprompted when a station was edited in the web app and the unit still uses the old
id (docs/protocol.md, section 5.2). It subscribes to every station's commands topic and
answers on its own stations' current ids only, so moving to a new id is a change of that
map; a station in the middle of a run keeps the id the run was started on until the run
ends, then moves.

Time: with `speed` X the simulated battery lives X seconds per wall-clock second, and
sample timestamps are the start time plus simulated time (so with X > 1 they run ahead
of the clock). A station publishes `rate_hz` samples per wall-clock second.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from domain.stations import StationSpec
from domain.status import ExperimentStatus
from domain.window import Window
from mqtt_node import protocol
from mqtt_node.topics import Topics
from mqtt_node.transport import Message, Transport
from simulation.battery_model import BatteryModel, parameters_for
from simulation.profile_runner import ProfileRunner

log = logging.getLogger("bem.simulator")

DEFAULT_CAPACITY_AH = 2.5
HEARTBEAT_PERIOD_S = 2.0
ANNOUNCE_RETRY_S = 2.0


@dataclass
class SimulatedStation:
    name: str
    spec: StationSpec  # as announced
    station_id: int | None = None
    # A new id from a `registered` that came during a run: taken once the run ends.
    next_station_id: int | None = None
    state: str = "idle"
    experiment_id: int | None = None
    runner: ProfileRunner | None = None
    started_at: float = 0.0  # Unix time of simulated t = 0
    # Mute a station (no heartbeats, no samples) to test what the node and UI do then.
    silent: bool = False
    # The end of a run (status, message, monotonic time due), held back after the last
    # samples: see SimulatorOptions.final_status_delay_s.
    final_status: tuple[ExperimentStatus, str, float] | None = None


@dataclass
class SimulatorOptions:
    unit: str
    stations: int
    rate_hz: float
    speed: float
    topic_prefix: str
    host: str = "127.0.0.1"
    # The window of every station, unless `station_windows` are given.
    voltage_min: float = 0.0
    voltage_max: float = 60.0
    current_min: float = -20.0
    current_max: float = 20.0
    # Battery of each run, unless the start command says otherwise.
    technology: str = "lithium-ion"
    chemistry: str | None = "NMC"
    capacity_ah: float = DEFAULT_CAPACITY_AH
    cells_in_series: int = 1
    initial_soc: float = 0.5
    station_names: list[str] = field(default_factory=list)
    # FINISHED or ERROR goes out this long after the last samples (docs/protocol.md,
    # sections 5.5 and 11): with several nodes, the status may reach another node than
    # the samples, and a node refuses samples of a closed experiment.
    final_status_delay_s: float = 1.0
    # Stations with their own windows; when given, they replace `stations`/`station_names`.
    station_windows: list[StationSpec] = field(default_factory=list)


class SimulatedCycler:
    def __init__(
        self,
        transport: Transport,
        options: SimulatorOptions,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.transport = transport
        self.options = options
        self.topics = Topics(options.topic_prefix)
        self.clock = clock
        names = options.station_names or [f"ch{i + 1}" for i in range(options.stations)]
        window = Window(
            options.voltage_min, options.voltage_max, options.current_min, options.current_max
        )
        specs = options.station_windows or [
            StationSpec(name, window, location=f"{options.unit} rack") for name in names
        ]
        self.stations = {spec.name: SimulatedStation(spec.name, spec) for spec in specs}
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.registered = threading.Event()

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self.transport.start(
            self._on_message,
            [(self.topics.registered(self.options.unit), 1), (self.topics.filter("commands"), 1)],
        )
        self._thread = threading.Thread(
            target=self._run, name=f"sim-{self.options.unit}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.transport.stop()

    def station(self, name: str) -> SimulatedStation:
        return self.stations[name]

    def station_ids(self) -> dict[str, int]:
        return {s.name: s.station_id for s in self.stations.values() if s.station_id is not None}

    # ------------------------------------------------------------ loop

    def _run(self) -> None:
        period = 1.0 / self.options.rate_hz
        last_announce = -ANNOUNCE_RETRY_S
        last_heartbeat = -HEARTBEAT_PERIOD_S
        last_tick = time.monotonic()
        while not self._stop.is_set():
            now = time.monotonic()
            if not self.registered.is_set() and now - last_announce >= ANNOUNCE_RETRY_S:
                self._announce()
                last_announce = now
            with self._lock:
                self._advance((now - last_tick) * self.options.speed)
                self._send_due_final_statuses(now)
            last_tick = now
            if now - last_heartbeat >= HEARTBEAT_PERIOD_S:
                self._heartbeats()
                last_heartbeat = now
            self._stop.wait(max(0.0, period - (time.monotonic() - now)))

    def _announce(self) -> None:
        payload = protocol.encode_announce(
            self.options.unit, [s.spec for s in self.stations.values()], self.options.host
        )
        self.transport.publish(self.topics.announce(self.options.unit), payload, 1)

    def _heartbeats(self) -> None:
        with self._lock:
            for station in self.stations.values():
                if station.station_id is None or station.silent:
                    continue
                self.transport.publish(
                    self.topics.heartbeat(station.station_id),
                    protocol.encode_heartbeat(self.clock(), station.state, station.experiment_id),
                    protocol.QOS[protocol.MessageKind.HEARTBEAT],
                )

    def _advance(self, simulated_dt: float) -> None:
        for station in self.stations.values():
            runner = station.runner
            experiment_id = station.experiment_id
            if runner is None or station.station_id is None or experiment_id is None:
                continue
            samples = runner.advance(simulated_dt)
            if samples and not station.silent:
                self.transport.publish(
                    self.topics.measures(station.station_id),
                    protocol.encode_measures(
                        experiment_id,
                        [
                            protocol.Sample(
                                seq=s.seq,
                                ts=station.started_at + s.t,
                                voltage=s.voltage,
                                current=s.current,
                                power=s.power,
                                instruction=s.instruction,
                                mode=s.mode,
                                extra=s.extra,
                            )
                            for s in samples
                        ],
                    ),
                    1,
                )
            for alarm in runner.pop_alarms():
                self.transport.publish(
                    self.topics.alarms(station.station_id),
                    protocol.encode_alarm(
                        experiment_id,
                        station.started_at + alarm.t,
                        str(alarm.code),
                        alarm.value,
                        alarm.message,
                    ),
                    1,
                )
            if runner.finished:
                outcome = runner.outcome or ExperimentStatus.FINISHED
                message = (
                    "" if outcome == ExperimentStatus.FINISHED else "stopped by a safety alarm"
                )
                self._finish(station, outcome, message)

    def _finish(self, station: SimulatedStation, status: ExperimentStatus, message: str) -> None:
        """End the run now; report it once the last samples have had time to be stored.

        Until then the station still reports the experiment in its heartbeats.
        """
        assert station.station_id is not None and station.experiment_id is not None
        station.runner = None
        due = time.monotonic() + self.options.final_status_delay_s
        station.final_status = (status, message, due)
        if self.options.final_status_delay_s <= 0:
            self._send_due_final_statuses(due)

    def _send_due_final_statuses(self, now: float) -> None:
        for station in self.stations.values():
            if station.final_status is None or station.final_status[2] > now:
                continue
            status, message, _due = station.final_status
            self._send_status(station, status, message)
            log.info(
                "station %s: experiment %s %s", station.name, station.experiment_id, status.value
            )
            station.state = "idle"
            station.experiment_id = None
            station.final_status = None
            if station.next_station_id is not None:
                self._move(station, station.next_station_id)

    def _send_status(
        self, station: SimulatedStation, status: ExperimentStatus, message: str = ""
    ) -> None:
        # Only a station that is registered and running something reports a status.
        assert station.station_id is not None and station.experiment_id is not None
        self.transport.publish(
            self.topics.status(station.station_id),
            protocol.encode_status(station.experiment_id, status, self.clock(), message),
            1,
        )

    # ------------------------------------------------------------ incoming

    def _on_message(self, message: Message) -> None:
        try:
            parsed = self.topics.parse(message.topic)
            if parsed.kind == protocol.MessageKind.REGISTERED:
                self._on_registered(protocol.parse_registered(message.payload))
            elif parsed.kind == protocol.MessageKind.COMMANDS:
                self._on_command(int(parsed.key), protocol.parse_command(message.payload))
        except protocol.ProtocolError as error:
            log.warning("ignored message on %s: %s", message.topic, error)
        finally:
            message.ack()

    def _on_registered(self, registered: protocol.Registered) -> None:
        """Take the ids of a `registered`, the answer to an announce or one the node sends
        unprompted after a station was edited: from now on, heartbeats go to the new ids
        and commands are taken from them only."""
        if registered.unit != self.options.unit:
            return
        with self._lock:
            for entry in registered.stations:
                station = self.stations.get(entry.name)
                if station is None:
                    continue
                if entry.station_id == station.station_id:
                    station.next_station_id = None
                elif station.station_id is not None and station.experiment_id is not None:
                    # The run belongs to the record it started on: its samples and status
                    # go there. The station moves when the run has ended.
                    station.next_station_id = entry.station_id
                else:
                    self._move(station, entry.station_id)
        self.registered.set()
        log.info("unit %s registered: %s", self.options.unit, self.station_ids())

    def _move(self, station: SimulatedStation, station_id: int) -> None:
        if station.station_id is not None:
            log.info("station %s: id %d -> %d", station.name, station.station_id, station_id)
        station.station_id = station_id
        station.next_station_id = None

    def _on_command(self, station_id: int, command: Any) -> None:
        with self._lock:
            station = next((s for s in self.stations.values() if s.station_id == station_id), None)
            if station is None:
                return  # another unit's station
            if isinstance(command, protocol.StartCommand):
                self._start(station, command)
                return
            if command.experiment_id != station.experiment_id or station.runner is None:
                log.warning(
                    "station %s: %s for experiment %s, not running",
                    station.name,
                    command.command,
                    command.experiment_id,
                )
                return
            action = str(command.command)
            if action == "pause" and station.state == "running":
                station.runner.pause()
                station.state = "paused"
                self._send_status(station, ExperimentStatus.PAUSED)
            elif action == "resume" and station.state == "paused":
                station.runner.resume()
                station.state = "running"
                self._send_status(station, ExperimentStatus.RUNNING)
            elif action == "stop":
                self._finish(station, ExperimentStatus.FINISHED, "stopped by the operator")

    def _start(self, station: SimulatedStation, command: protocol.StartCommand) -> None:
        if station.experiment_id == command.experiment_id:
            # A repeated start: confirm what the station is doing, without restarting. A
            # paused run stays PAUSED (RUNNING would tell the node it runs again), and a
            # run that is ending says nothing: its final status is on the way.
            if station.final_status is None:
                paused = station.state == "paused"
                self._send_status(
                    station, ExperimentStatus.PAUSED if paused else ExperimentStatus.RUNNING
                )
            return
        if station.runner is not None or station.final_status is not None:
            log.warning(
                "station %s is busy with experiment %s; start of %s ignored",
                station.name,
                station.experiment_id,
                command.experiment_id,
            )
            return
        battery = command.battery
        options = self.options
        station.experiment_id = command.experiment_id
        try:
            parameters = parameters_for(
                battery.get("technology") or options.technology,
                float(battery.get("nominal_capacity_ah") or options.capacity_ah),
                int(battery.get("cells_in_series") or options.cells_in_series),
                battery.get("chemistry") or options.chemistry,
            )
            station.runner = ProfileRunner(
                command.instructions,
                BatteryModel(parameters, soc=options.initial_soc),
                command.limits,
                # rate_hz samples per wall-clock second, whatever the time acceleration.
                options.speed / options.rate_hz,
            )
        except ValueError as error:
            # A step it cannot run (StepError), a technology the model does not know, a
            # window with no room (min = max, or no zero current): refuse with the reason.
            # Raised out of a transport callback, it would kill paho's network thread.
            self._send_status(station, ExperimentStatus.ERROR, str(error))
            station.experiment_id = None
            return
        station.started_at = self.clock()
        station.state = "running"
        self._send_status(station, ExperimentStatus.RUNNING)
        log.info("station %s: started experiment %s", station.name, command.experiment_id)
