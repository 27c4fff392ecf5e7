"""Running stations for `bem demo`: simulated cyclers and the node, in the same process.

With no broker configured, they talk over an in-memory broker (the same protocol and
ingest code as in production), so the demo needs nothing installed. With a broker
host set, they use the broker instead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from datastore import catalog
from datastore.models import Battery, Experiment, Profile, Station, utcnow
from domain.status import ACTIVE_STATUSES, ExperimentStatus
from domain.window import Window
from mqtt_node.node import Node
from mqtt_node.transport import Transport
from simulation.cycler import SimulatedCycler, SimulatorOptions
from simulation.demo_data import DEFAULT_LIMITS, DEMO_STATIONS, DEMO_UNIT, ProfileLimits

log = logging.getLogger("bem.demo")

LIVE_BATTERY = "Live demo NMC cell"
LIVE_CELL_WINDOW = Window(2.5, 4.2, -1.0, 1.0)
LIVE_PROFILE = "Live demo: pulse test"
# Steps change every few tens of seconds, so the monitor has something to show at once.
LIVE_PROFILE_TEXT = """\
# Pulse test of a small NMC cell: charge and discharge pulses with rests.
REPEAT 200
    CC, 1C, TIME, 40
    WAIT, 20
    CC, -1C, TIME, 40
    WAIT, 20
END
"""


# The status and message of the runs a demo had going when it was shut down: ended as an
# operator's Stop ends a run, by the person who stopped the demo.
SHUTDOWN_STATUS = ExperimentStatus.FINISHED
SHUTDOWN_MESSAGE = "stopped when the demo was shut down"


@dataclass(frozen=True)
class Shutdown:
    """What stopping the demo did to the experiments on its stations."""

    stopped: list[int]  # running or paused: now SHUTDOWN_STATUS
    queued: list[int]  # left queued: they start when the demo runs again


@dataclass
class LiveDemo:
    node: Node
    cyclers: list[SimulatedCycler]
    sessions: sessionmaker[Session] | None = None
    # The demo unit's stations, once it has registered.
    station_ids: list[int] = field(default_factory=list)

    def halt(self) -> None:
        """Stop the simulated cyclers, then the node (which stores the batch in hand)."""
        for cycler in self.cyclers:
            cycler.stop()
        self.node.stop()

    def stop(self) -> Shutdown:
        """Halt, then end the runs left on the demo's stations: the simulated cyclers keep
        nothing, so a run left RUNNING would never end."""
        self.halt()
        if self.sessions is None or not self.station_ids:
            return Shutdown([], [])
        stopped = close_active_runs(
            self.sessions, self.station_ids, SHUTDOWN_STATUS, SHUTDOWN_MESSAGE
        )
        with self.sessions() as session:
            queued = list(
                session.scalars(
                    select(Experiment.id)
                    .where(
                        Experiment.station_id.in_(self.station_ids),
                        Experiment.status == ExperimentStatus.QUEUED,
                    )
                    .order_by(Experiment.id)
                )
            )
        return Shutdown(stopped, queued)


def start_live_demo(
    node: Node, cycler_transport: Transport, sessions: sessionmaker[Session], settings: Settings
) -> LiveDemo:
    """Start `node` and a simulated demo unit on `cycler_transport`, and queue a pulse test
    on every idle station.

    The simulated unit announces the demo lab's stations with their recorded windows, so
    the experiments queued on them in the demo data start too.
    """
    demo = settings.demo
    stations = [station.spec for station in DEMO_STATIONS[: demo.stations]]
    node.start()
    cycler = SimulatedCycler(
        cycler_transport,
        SimulatorOptions(
            unit=DEMO_UNIT,
            stations=len(stations),
            rate_hz=demo.sample_rate_hz,
            speed=demo.speed,
            topic_prefix=settings.mqtt.topic_prefix,
            initial_soc=0.5,
            station_windows=stations,
        ),
    )
    cycler.start()
    live = LiveDemo(node, [cycler], sessions)
    if stations and cycler.registered.wait(15):
        station_ids = list(cycler.station_ids().values())
        live.station_ids = station_ids
        close_interrupted_runs(sessions, station_ids)
        queue_live_experiments(sessions, station_ids, ProfileLimits.of(settings))
    elif stations:
        log.warning("the simulated unit did not register within 15 s; no live experiments queued")
    return live


def close_interrupted_runs(sessions: sessionmaker[Session], station_ids: list[int]) -> list[int]:
    """Mark ERROR the runs a previous demo left RUNNING or PAUSED on these stations: it
    ended without its shutdown (killed, or the machine stopped).

    The simulated cyclers keep nothing across a restart: they come back idle, so such a
    run would never end, and the node would start nothing on its station again.
    """
    interrupted = close_active_runs(
        sessions,
        station_ids,
        ExperimentStatus.ERROR,
        "interrupted: the demo stopped while it ran",
    )
    if interrupted:
        log.info("closed runs interrupted by the last demo stop: %s", interrupted)
    return interrupted


def close_active_runs(
    sessions: sessionmaker[Session],
    station_ids: list[int],
    status: ExperimentStatus,
    message: str,
) -> list[int]:
    """Give the RUNNING or PAUSED experiments on these stations `status` and `message`;
    their ids, in order."""
    with sessions.begin() as session:
        active = list(
            session.scalars(
                select(Experiment.id)
                .where(
                    Experiment.station_id.in_(station_ids),
                    Experiment.status.in_(list(ACTIVE_STATUSES)),
                )
                .order_by(Experiment.id)
            )
        )
        if active:
            session.execute(
                update(Experiment)
                .where(Experiment.id.in_(active))
                .values(status=status, status_message=message, finished_at=utcnow())
            )
    return active


def queue_live_experiments(
    sessions: sessionmaker[Session],
    station_ids: list[int],
    limits: ProfileLimits = DEFAULT_LIMITS,
) -> list[int]:
    """Queue one pulse test on each station that has nothing queued or running, within the
    site's `limits` on profiles.

    Each station cycles its own small cell (`live_battery_name`): a battery runs one
    experiment at a time, so one cell shared by the stations would run on one of them only.
    """
    queued = []
    with sessions.begin() as session:
        profile = session.scalar(select(Profile).where(Profile.name == LIVE_PROFILE))
        if profile is None:
            profile = catalog.create_profile(
                session,
                name=LIVE_PROFILE,
                source=LIVE_PROFILE_TEXT,
                description="Charge and discharge pulses with rests, for the live demo.",
                max_steps=limits.max_steps,
                max_start_bytes=limits.max_start_bytes,
            )
        busy_statuses = [ExperimentStatus.QUEUED, *ACTIVE_STATUSES]
        windows = {
            station.id: station
            for station in session.scalars(select(Station).where(Station.id.in_(station_ids)))
        }
        for station_id in station_ids:
            station = windows[station_id]
            if (
                station.current_max < LIVE_CELL_WINDOW.current_max
                or station.voltage_max < LIVE_CELL_WINDOW.voltage_max
            ):
                continue  # a module channel too coarse for the small cell
            busy = session.scalar(
                select(Experiment.id).where(
                    Experiment.station_id == station_id, Experiment.status.in_(busy_statuses)
                )
            )
            if busy is not None:
                continue
            battery = _live_battery(session, station)
            if catalog.active_experiment_of_battery(session, battery.id) is not None:
                continue  # its cell still runs on a station this demo does not drive
            experiment = catalog.queue_experiment(
                session,
                name=f"Live pulse test on station {station_id}",
                battery_id=battery.id,
                station_id=station_id,
                profile_id=profile.id,
                description="Started by the demo's simulated cycler.",
                max_steps=limits.max_steps,
                max_start_bytes=limits.max_start_bytes,
            )
            queued.append(experiment.id)
    return queued


def live_battery_name(station: Station) -> str:
    """The name of the cell the live demo cycles on `station`."""
    return f"{LIVE_BATTERY} on {station.name}"


def _live_battery(session: Session, station: Station) -> Battery:
    name = live_battery_name(station)
    battery = session.scalar(select(Battery).where(Battery.name == name))
    if battery is not None:
        return battery
    return catalog.create_battery(
        session,
        name=name,
        technology="lithium-ion",
        manufacturer="Demo Cells",
        model="NMC-500",
        serial_number=f"LIVE-{station.id:03d}",
        voltage_min=LIVE_CELL_WINDOW.voltage_min,
        voltage_max=LIVE_CELL_WINDOW.voltage_max,
        current_min=LIVE_CELL_WINDOW.current_min,
        current_max=LIVE_CELL_WINDOW.current_max,
        nominal_capacity_ah=0.5,
        details={"chemistry": "NMC"},
        description="A small cell cycled live by the simulated cyclers of the demo.",
    )
