"""`bem web --workers 2` (gunicorn) serves the monitor and the experiment pages while
samples arrive, and both worker processes answer the browser's requests.

The server is a real subprocess on the test's MariaDB database, with sign-in off; the test
writes samples of a running experiment into the database, as the node would, while the
browser watches. gunicorn's access log names the worker (pid) that answered each request.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from dash.testing.wait import until
from sqlalchemy import Engine, select

from datastore.models import Experiment
from domain.status import ExperimentStatus
from pages.experiment import ids as experiment_ids
from tests.web.lab_data import add_experiment, add_samples
from tests.web.monitor_helpers import select_option, trace_points

pytestmark = [pytest.mark.slow, pytest.mark.browser]

BEM = Path(sys.executable).parent / "bem"
WAIT_S = 30
ACCESS_LINE = re.compile(
    r'"(?P<method>\w+) (?P<path>\S+) HTTP/[\d.]+" (?P<status>\d+) .* pid=<(?P<pid>\d+)>'
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


class Served:
    """The running `bem web`: its address and its access log."""

    def __init__(self, url: str, log: Path, process: subprocess.Popen) -> None:
        self.url, self.log, self.process = url, log, process

    def requests(self) -> list[dict[str, str]]:
        lines = self.log.read_text(encoding="utf-8", errors="replace").splitlines()
        return [m.groupdict() for m in map(ACCESS_LINE.search, lines) if m]

    def worker_pids(self) -> set[str]:
        text = self.log.read_text(encoding="utf-8", errors="replace")
        return set(re.findall(r"Booting worker with pid: (\d+)", text))


@pytest.fixture
def served(mariadb_engine: Engine, mariadb_url: str, tmp_path: Path) -> Iterator[Served]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BEM_")}
    env |= {
        "BEM_DATABASE_URL": mariadb_url,
        "BEM_DATABASE_INSTANCE_DIR": str(tmp_path / "instance"),
        "BEM_AUTH_ENABLED": "false",
    }
    log = tmp_path / "web.log"
    command = [str(BEM), "web", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--workers", "2", "--access-log"]
    with log.open("w") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        until(lambda: process.poll() is None and _healthy(url), WAIT_S)
    except Exception:
        process.kill()
        process.wait()
        pytest.fail(f"bem web did not come up:\n{log.read_text()}")
    yield Served(url, log, process)
    process.send_signal(signal.SIGTERM)
    try:
        assert process.wait(timeout=30) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()


def test_two_workers_serve_the_monitor_and_the_experiment_page_while_samples_arrive(
    served: Served, mariadb_engine: Engine, browser
) -> None:
    assert len(served.worker_pids()) == 2
    experiment_id = add_experiment(
        mariadb_engine, "live", samples=30, status=ExperimentStatus.RUNNING
    )
    with mariadb_engine.connect() as connection:
        station_id = connection.scalar(
            select(Experiment.station_id).where(Experiment.id == experiment_id)
        )

    # The monitor, refreshing every second: the new samples appear as points.
    browser.wait_for_page(f"{served.url}/monitor/{station_id}", timeout=WAIT_S)
    browser.wait_for_element("#monitor-status", timeout=WAIT_S)
    select_option(browser, "#monitor-refresh", "1")
    until(lambda: trace_points(browser) >= 30, WAIT_S)
    seen = trace_points(browser)
    for first in range(30, 90, 10):
        add_samples(mariadb_engine, experiment_id, range(first, first + 10))
        until(lambda last=first + 10: trace_points(browser) >= seen + last - 30, WAIT_S)
    assert trace_points(browser) == 90

    # The experiment page of the same run keeps itself current too.
    graph = f"#{experiment_ids.GRAPH} .js-plotly-plot"
    browser.wait_for_page(f"{served.url}/experiments/{experiment_id}", timeout=WAIT_S)
    browser.wait_for_element(graph, timeout=WAIT_S)

    def points() -> int:
        return browser.driver.execute_script(
            "const g = document.querySelector(arguments[0]); return g.data[0].x.length;", graph
        )

    until(lambda: points() == 90, WAIT_S)
    add_samples(mariadb_engine, experiment_id, range(90, 120))
    until(lambda: "120" in browser.find_element(f"#{experiment_ids.FACTS}").text, WAIT_S)
    until(lambda: points() == 120, WAIT_S)
    assert browser.get_logs() == []

    # Every request was answered without error, by both workers between them.
    callbacks = [
        r for r in served.requests() if r["path"].split("?")[0] == "/_dash-update-component"
    ]
    assert callbacks and all(r["status"] == "200" for r in callbacks)
    assert {r["pid"] for r in callbacks} == served.worker_pids()
