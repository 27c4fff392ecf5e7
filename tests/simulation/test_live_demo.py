"""`bem demo` with running stations: simulated cyclers and the node in the same process,
over an in-memory broker by default or over the real broker when one is configured.

Within seconds of the start the demo's queued experiments run, with a pulse test on
every other station; stopping the demo ends every thread it started.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

import bootstrap
from config import Settings, load_settings
from datastore import Datastore, make_engine, make_session_factory, upgrade
from datastore.models import Battery, Experiment
from domain.status import ExperimentStatus
from mqtt_node.transport import PahoTransport
from simulation.demo_data import DEMO_STATIONS, seed_demo_data
from simulation.live_demo import LiveDemo
from tests.mqtt_node.helpers import ROOT, forget_session, free_port, unique_name, wait_for

pytestmark = pytest.mark.slow

# The stations come online with their first heartbeat (2 s), then the node starts them.
START_WITHIN_S = 20


class DemoDatabase:
    """A seeded demo database in a SQLite file."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.url = f"sqlite:///{directory / 'demo.sqlite3'}"
        self.engine = make_engine(self.url)
        upgrade(self.engine)
        self.sessions = make_session_factory(self.engine)
        assert seed_demo_data(self.sessions)
        self.seeded_queue = self.ids(ExperimentStatus.QUEUED)

    def settings(self, **environment: str) -> Settings:
        return load_settings(
            {
                "BEM_DATABASE_URL": self.url,
                "BEM_DATABASE_INSTANCE_DIR": str(self.directory),
                **environment,
            }
        )

    def ids(self, status: ExperimentStatus) -> list[int]:
        with Session(self.engine) as session:
            return list(
                session.scalars(
                    select(Experiment.id).where(Experiment.status == status).order_by(Experiment.id)
                )
            )

    def sample_counts(self) -> dict[int, int]:
        """Sample count of each RUNNING experiment."""
        with Session(self.engine) as session:
            rows = session.execute(
                select(Experiment.id, Experiment.sample_count).where(
                    Experiment.status == ExperimentStatus.RUNNING
                )
            ).all()
        return dict(rows)  # type: ignore[arg-type]


@pytest.fixture
def demo_database(tmp_path: Path) -> Iterator[DemoDatabase]:
    database = DemoDatabase(tmp_path)
    yield database
    database.engine.dispose()


@pytest.fixture
def start_demo() -> Iterator[Callable[[Engine, sessionmaker[Session], Settings], LiveDemo]]:
    """`start_demo(engine, sessions, settings)`: a live demo, stopped at the end if still on."""
    demos: list[LiveDemo] = []

    def start(engine: Engine, sessions: sessionmaker[Session], settings: Settings) -> LiveDemo:
        demo = bootstrap.live_demo(settings, Datastore(engine, sessions))
        demos.append(demo)
        return demo

    yield start
    for demo in demos:
        demo.stop()


def every_station_runs(database: DemoDatabase, among: Iterable[int] = ()) -> None:
    """Each demo station gets a running experiment (`among` them), and samples keep coming."""
    wait_for(
        lambda: len(database.sample_counts()) == len(DEMO_STATIONS),
        START_WITHIN_S,
        "an experiment running on every demo station",
    )
    running = database.sample_counts()
    assert set(among) <= set(running)
    wait_for(
        lambda: all(database.sample_counts().get(e, 0) > count for e, count in running.items()),
        10,
        "the sample counts of every running experiment to grow",
    )


def test_the_live_demo_runs_an_experiment_on_every_station_within_seconds(
    demo_database: DemoDatabase, start_demo
) -> None:
    assert len(demo_database.seeded_queue) >= 2  # the demo data queues a few
    start_demo(demo_database.engine, demo_database.sessions, demo_database.settings())

    # The demo's queued experiments first, then a pulse test on each station left idle.
    every_station_runs(demo_database, among=demo_database.seeded_queue)


def test_stopping_the_live_demo_ends_every_thread_it_started(
    demo_database: DemoDatabase, start_demo
) -> None:
    before = set(threading.enumerate())
    demo = start_demo(demo_database.engine, demo_database.sessions, demo_database.settings())
    wait_for(lambda: demo_database.sample_counts(), START_WITHIN_S, "a running experiment")
    assert set(threading.enumerate()) - before  # the node, the cycler, their transports

    demo.stop()
    wait_for(
        lambda: not set(threading.enumerate()) - before,
        10,
        "the demo's threads to end",
    )
    counts = demo_database.sample_counts()
    time.sleep(1.0)  # two sample periods: long enough for a write, were anything still on
    assert demo_database.sample_counts() == counts


def test_stopping_the_live_demo_ends_the_runs_on_its_stations_as_finished(
    demo_database: DemoDatabase, start_demo
) -> None:
    demo = start_demo(demo_database.engine, demo_database.sessions, demo_database.settings())
    every_station_runs(demo_database, among=demo_database.seeded_queue)
    assert demo_database.sample_counts()

    shutdown = demo.stop()

    # Nothing is left running, and what was is ended as an operator's Stop ends a run.
    assert shutdown.stopped and demo_database.sample_counts() == {}
    with Session(demo_database.engine) as session:
        ended = set(
            session.execute(
                select(Experiment.status, Experiment.status_message).where(
                    Experiment.id.in_(shutdown.stopped)
                )
            ).all()
        )
        queued = list(
            session.scalars(
                select(Experiment.id)
                .where(
                    Experiment.station_id.in_(demo.station_ids),
                    Experiment.status == ExperimentStatus.QUEUED,
                )
                .order_by(Experiment.id)
            )
        )
    assert ended == {(ExperimentStatus.FINISHED, "stopped when the demo was shut down")}
    assert shutdown.queued == queued


def test_a_demo_killed_without_its_shutdown_has_its_runs_closed_at_the_next_start(
    demo_database: DemoDatabase, start_demo
) -> None:
    settings = demo_database.settings()
    first = start_demo(demo_database.engine, demo_database.sessions, settings)
    every_station_runs(demo_database, among=demo_database.seeded_queue)
    first.halt()  # the threads end, as when the process is killed: the runs stay RUNNING
    left_running = set(demo_database.sample_counts())
    assert left_running

    start_demo(demo_database.engine, demo_database.sessions, settings)

    # The simulated cyclers forget their runs: those are closed, and new ones start.
    wait_for(
        lambda: left_running <= set(demo_database.ids(ExperimentStatus.ERROR)),
        10,
        "the interrupted runs to be closed",
    )
    with Session(demo_database.engine) as session:
        messages = set(
            session.scalars(
                select(Experiment.status_message).where(Experiment.id.in_(left_running))
            )
        )
    assert messages == {"interrupted: the demo stopped while it ran"}
    every_station_runs(demo_database)
    assert not left_running & set(demo_database.sample_counts())


def test_with_a_broker_configured_the_live_demo_runs_over_it(
    mqtt_broker: tuple[str, int], demo_database: DemoDatabase, start_demo
) -> None:
    host, port = mqtt_broker
    client_id = unique_name("bem-demo-test-")
    settings = demo_database.settings(
        BEM_MQTT_HOST=host,
        BEM_MQTT_PORT=str(port),
        BEM_MQTT_TOPIC_PREFIX=f"{unique_name('t')}/bem",
        BEM_MQTT_CLIENT_ID=client_id,
    )
    demo = start_demo(demo_database.engine, demo_database.sessions, settings)
    try:
        assert isinstance(demo.node.transport, PahoTransport)
        assert all(isinstance(cycler.transport, PahoTransport) for cycler in demo.cyclers)

        every_station_runs(demo_database, among=demo_database.seeded_queue)
    finally:
        demo.stop()
        forget_session(host, port, client_id)  # the node's persistent session


# ---------------------------------------------------------------- the real command


class DemoCommand:
    """`python -m cli demo --port PORT` as a child process, its output in a file."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.log_path = directory / "demo.log"
        self.database = directory / "demo.sqlite3"
        environment = {
            key: value for key, value in os.environ.items() if not key.startswith("BEM_")
        }
        environment |= {
            "BEM_DATABASE_URL": f"sqlite:///{self.database}",
            "BEM_DATABASE_INSTANCE_DIR": str(directory),
            "PYTHONUNBUFFERED": "1",
        }
        with self.log_path.open("wb") as log_file:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "cli", "demo", "--port", str(self.port)],
                cwd=ROOT,
                env=environment,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def home_page_status(self) -> int | None:
        try:
            url = f"http://127.0.0.1:{self.port}/"
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status
        except OSError:
            return None

    def running_with_samples(self) -> list[int]:
        if not self.database.exists():
            return []
        engine = make_engine(f"sqlite:///{self.database}")
        try:
            with Session(engine) as session:
                return list(
                    session.scalars(
                        select(Experiment.id).where(
                            Experiment.status == ExperimentStatus.RUNNING,
                            Experiment.sample_count > 0,
                        )
                    )
                )
        except OperationalError:  # the file exists, its tables are still being made
            return []
        finally:
            engine.dispose()

    def interrupt(self, timeout: float) -> int:
        """Ctrl+C, as a user stops it; the exit status."""
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture
def demo_command(tmp_path: Path, request: pytest.FixtureRequest) -> DemoCommand:
    command = DemoCommand(tmp_path)
    request.addfinalizer(command.kill)
    return command


def test_bem_demo_serves_the_app_with_experiments_running_and_stops_on_ctrl_c(
    demo_command: DemoCommand,
) -> None:
    def alive() -> None:
        assert demo_command.process.poll() is None, demo_command.log()[-3000:]

    wait_for(
        lambda: demo_command.process.poll() is not None or demo_command.home_page_status() == 200,
        90,
        "the home page",
    )
    alive()
    wait_for(
        lambda: (
            demo_command.process.poll() is not None or len(demo_command.running_with_samples()) >= 2
        ),
        START_WITHIN_S,
        "experiments running with samples",
    )
    alive()

    status = demo_command.interrupt(timeout=30)
    log = demo_command.log()
    assert status == 0, log[-3000:]  # the server returns, the live demo is stopped
    assert "Simulated cyclers running over an in-process broker." in log
    assert "Traceback" not in log, log[-3000:]
    # What Ctrl+C did to the runs, said; and no line per HTTP request by default.
    assert re.search(r"Stopped \d+ running experiments? \(#\d+", log), log[-3000:]
    assert demo_command.running_with_samples() == []
    assert '"GET /' not in log and '"POST /' not in log


def test_bem_demo_announces_the_lab_the_pages_show(demo_command: DemoCommand) -> None:
    wait_for(
        lambda: demo_command.process.poll() is not None or demo_command.home_page_status() == 200,
        90,
        "the home page",
    )
    assert demo_command.process.poll() is None, demo_command.log()[-3000:]
    banner = re.search(r"The lab: (\d+) batter\w+, .*?, (\d+) experiments?", demo_command.log())
    assert banner, demo_command.log()[-3000:]
    engine = make_engine(f"sqlite:///{demo_command.database}")
    try:
        with Session(engine) as session:
            batteries = session.scalar(select(func.count()).select_from(Battery))
            experiments = session.scalar(select(func.count()).select_from(Experiment))
    finally:
        engine.dispose()
    assert (int(banner.group(1)), int(banner.group(2))) == (batteries, experiments)
    assert demo_command.interrupt(timeout=30) == 0, demo_command.log()[-3000:]
