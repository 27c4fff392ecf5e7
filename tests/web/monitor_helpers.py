"""A live lab for the monitor's browser tests: the app, the node and simulated cyclers.

`LiveLab` runs an in-process node and a simulated unit over a MemoryBroker, on the
test's SQLite database, with short timeouts so that silence and offline show within
seconds; `queue` puts an experiment with a short TIME-step profile on a station.
Everything stops at teardown. Browser helpers read the graph through plotly's own
objects in the page, so tests check what the user sees.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from config import Settings, default_settings, load_settings
from datastore import catalog, make_engine, make_session_factory, upgrade
from datastore.models import Experiment, Measurement, Station
from domain.status import ExperimentStatus
from mqtt_node.node import Node
from mqtt_node.topics import Topics
from mqtt_node.transport import MemoryBroker
from pages.monitor import chart
from simulation.cycler import SimulatedCycler, SimulatorOptions

# The site's cap on expanded profile steps (profiles.max_steps).
MAX_STEPS = default_settings().profiles.max_steps

HEARTBEAT_TIMEOUT_S = 4.0
SAMPLE_RATE_HZ = 10.0
# How far outside the axis range a point still counts as drawn inside it (ms).
EDGE_MS = 1.0
STATIONS = ("ch1", "ch2")
# Steps of a few seconds: the step text changes and the experiment ends within the test.
SHORT_PROFILE = """\
REPEAT 2
    CC, 0.2, TIME, 3
    WAIT, 2
END
"""
LONG_PROFILE = """\
REPEAT 50
    CC, 0.2, TIME, 60
    WAIT, 30
END
"""


@dataclass
class LiveLab:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    node: Node
    cycler: SimulatedCycler
    station_ids: dict[str, int]
    battery_id: int = 0
    _profiles: dict[str, int] = field(default_factory=dict)

    def queue(self, station: str, profile_text: str = LONG_PROFILE, name: str = "") -> int:
        """Queue an experiment on `station`; returns its id (the node starts it)."""
        with self.sessions.begin() as session:
            profile_id = self._profiles.get(profile_text)
            if profile_id is None:
                profile = catalog.create_profile(
                    session,
                    name=f"test profile {len(self._profiles) + 1}",
                    source=profile_text,
                    max_steps=MAX_STEPS,
                )
                profile_id = self._profiles[profile_text] = profile.id
            experiment = catalog.queue_experiment(
                session,
                name=name or f"monitor test on {station}",
                battery_id=self.battery_id,
                station_id=self.station_ids[station],
                profile_id=profile_id,
                max_steps=MAX_STEPS,
            )
            return experiment.id

    def status(self, experiment_id: int) -> ExperimentStatus:
        with self.sessions() as session:
            return session.get(Experiment, experiment_id).status

    def wait_for_status(
        self, experiment_id: int, status: ExperimentStatus, timeout: float = 20
    ) -> None:
        wait_until(lambda: self.status(experiment_id) == status, timeout, f"status {status}")

    def wait_for_samples(self, experiment_id: int, count: int, timeout: float = 20) -> None:
        wait_until(lambda: self.sample_count(experiment_id) >= count, timeout, f"{count} samples")

    def sample_count(self, experiment_id: int) -> int:
        with self.sessions() as session:
            return session.get(Experiment, experiment_id).sample_count

    def samples(
        self, experiment_id: int, start_ts: float, end_ts: float
    ) -> list[tuple[float, float, float, float]]:
        """(ts, voltage, current, power) of the samples in [start_ts, end_ts], in seq order."""
        with self.sessions() as session:
            rows = session.execute(
                select(Measurement.ts, Measurement.voltage, Measurement.current, Measurement.power)
                .where(
                    Measurement.experiment_id == experiment_id,
                    Measurement.ts >= start_ts,
                    Measurement.ts <= end_ts,
                )
                .order_by(Measurement.seq)
            ).all()
        return [tuple(row) for row in rows]

    def samples_shown(
        self, experiment_id: int, range_ms: tuple[float, float]
    ) -> list[tuple[float, float, float, float]]:
        """(ts, voltage, current, power) of the samples whose point the graph draws inside
        the time axis range `range_ms` (points sit at the time in ms, rounded as the app
        rounds it)."""
        # Plotly keeps the range as a date string: read back, an end may fall a fraction
        # of a millisecond short of the point drawn at it. Samples are far more apart.
        start, end = range_ms[0] - EDGE_MS, range_ms[1] + EDGE_MS
        around = self.samples(experiment_id, start / 1000 - 1, end / 1000 + 1)
        return [
            row
            for row in around
            if start <= float(np.round(row[0] * 1000.0, chart.X_DECIMALS_MS)) <= end
        ]

    def silence(self, station: str) -> None:
        """Mute the station: no more heartbeats, no more samples."""
        self.cycler.station(station).silent = True


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll the database (not the browser) until `condition` holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def lab_settings(tmp_path: Path) -> Settings:
    return load_settings(
        {
            "BEM_DATABASE_URL": f"sqlite:///{tmp_path / 'bem.sqlite3'}",
            "BEM_DATABASE_INSTANCE_DIR": str(tmp_path),
            "BEM_NODE_HEARTBEAT_TIMEOUT_S": str(HEARTBEAT_TIMEOUT_S),
            # The browser tests act without signing in (tests/web/test_auth.py signs in).
            "BEM_AUTH_ENABLED": "false",
        }
    )


@contextlib.contextmanager
def running_lab(tmp_path: Path) -> Iterator[LiveLab]:
    """A node and a two-station simulated unit, registered and idle, on a fresh database
    (the `live_lab` fixture)."""
    settings = lab_settings(tmp_path)
    engine = make_engine(settings.database.resolved_url)
    upgrade(engine)
    sessions = make_session_factory(engine)
    broker = MemoryBroker()
    node = Node(
        engine,
        broker.transport("node"),
        replace(
            default_settings().node,
            heartbeat_timeout_s=HEARTBEAT_TIMEOUT_S,
            batch_interval_s=0.1,
            control_interval_s=0.2,
            start_timeout_s=10.0,
        ),
        Topics("bem"),
    )
    cycler = SimulatedCycler(
        broker.transport("cycler"),
        SimulatorOptions(
            unit="monitor-test-unit",
            stations=len(STATIONS),
            topic_prefix="bem",
            station_names=list(STATIONS),
            rate_hz=SAMPLE_RATE_HZ,
            speed=1.0,
            voltage_min=0.0,
            voltage_max=5.0,
            current_min=-10.0,
            current_max=10.0,
            capacity_ah=0.5,
            initial_soc=0.5,
        ),
    )
    node.start()
    cycler.start()
    try:
        assert cycler.registered.wait(15), "the simulated unit did not register"
        with sessions.begin() as session:
            battery = catalog.create_battery(
                session,
                name="monitor test cell",
                technology="lithium-ion",
                voltage_min=2.5,
                voltage_max=4.2,
                current_min=-1.0,
                current_max=1.0,
                nominal_capacity_ah=0.5,
                details={"chemistry": "NMC"},
            )
            battery_id = battery.id
        lab = LiveLab(
            settings, engine, sessions, node, cycler, cycler.station_ids(), battery_id=battery_id
        )
        # The node starts experiments on idle stations only: wait for the first heartbeats.
        wait_until(lambda: _all_idle(sessions, lab.station_ids.values()), 10, "heartbeats")
        yield lab
    finally:
        cycler.stop()
        node.stop()
        engine.dispose()


def _all_idle(sessions: sessionmaker[Session], station_ids: Any) -> bool:
    with sessions() as session:
        states = session.execute(
            select(Station.reported_state, Station.last_heartbeat).where(
                Station.id.in_(list(station_ids))
            )
        ).all()
    now = dt.datetime.now(dt.UTC)
    return bool(states) and all(
        state == "idle" and beat is not None and (now - beat).total_seconds() < HEARTBEAT_TIMEOUT_S
        for state, beat in states
    )


# ---------------------------------------------------------------- reading the browser

GRAPH = "#monitor-graph .js-plotly-plot"


def trace_points(browser: Any, index: int = 0) -> int:
    """How many points the graph's trace `index` holds in the browser."""
    return browser.driver.execute_script(
        "const g = document.querySelector(arguments[0]);"
        "return g && g.data && g.data[arguments[1]] ? g.data[arguments[1]].x.length : -1;",
        GRAPH,
        index,
    )


def trace_names(browser: Any) -> list[str]:
    """The names of the graph's traces, in order."""
    return browser.driver.execute_script(
        "const g = document.querySelector(arguments[0]);"
        "return g && g.data ? g.data.map(t => t.name) : [];",
        GRAPH,
    )


def last_x_ms(browser: Any) -> float | None:
    """The time (Unix ms) of the newest voltage point in the browser."""
    return browser.driver.execute_script(
        "const g = document.querySelector(arguments[0]);"
        "if (!g || !g.data || !g.data[0] || !g.data[0].x.length) return null;"
        "const x = g.data[0].x; return x[x.length - 1];",
        GRAPH,
    )


def x_range_ms(browser: Any) -> tuple[float, float]:
    """The x axis range the user sees, in Unix ms as plotly holds it."""
    start, end = browser.driver.execute_script(
        "const ax = document.querySelector(arguments[0])._fullLayout.xaxis;"
        "return ax.range.map(v => ax.r2l(v));",
        GRAPH,
    )
    return start, end


def x_range_s(browser: Any) -> tuple[float, float] | None:
    """The x axis range the user sees, in Unix seconds."""
    value = browser.driver.execute_script(
        "const g = document.querySelector(arguments[0]);"
        "if (!g || !g._fullLayout || !g._fullLayout.xaxis) return null;"
        "const ax = g._fullLayout.xaxis; return ax.range.map(v => ax.r2l(v));",
        GRAPH,
    )
    return None if value is None else (value[0] / 1000.0, value[1] / 1000.0)


def select_option(browser: Any, selector: str, value: str) -> None:
    """Choose `value` in a native <select> (dbc.Select)."""
    from selenium.webdriver.support.ui import Select

    Select(browser.find_element(selector)).select_by_value(value)
