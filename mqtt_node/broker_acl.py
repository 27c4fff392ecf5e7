"""Keeping the broker's ACL current: the node rewrites it when the stations change.

Station topics carry the ids the node assigns (`bem/stations/{id}/...`), so the ACL that
lets each unit publish only its own stations' telemetry (`mqtt_node.broker_auth`) changes
whenever a station is created, edited (a new record) or removed. With `mqtt.acl_file`
set, the node writes that file itself, from the database:

- at start-up, before it connects to the broker;
- after a batch that registered a unit or owes a unit its station ids, *before* it
  publishes those `registered` messages: a unit that hears its new ids may use them at
  once, and its first heartbeat must not be refused;
- every `mqtt.acl_check_interval_s`, which catches stations edited, deprecated or removed
  on the stations page or with `bem station`.

The file is replaced in one step and only when its text would change. The broker is then
told to read it again: by sending SIGHUP to the pid in `mqtt.acl_reload_pid_file`, or by
running `mqtt.acl_reload_command` (e.g. `systemctl reload mosquitto`); in Docker Compose
the broker's own wrapper (docker/mosquitto-run.sh) watches the file instead. Mosquitto
applies a reload a moment later, so the node then waits `mqtt.acl_reload_wait_s` before
it sends anything that depends on it.

A failure to read the stations, to write the file or to reload the broker is logged as an
error and never stops ingest: the file is written again at the next check.
"""

from __future__ import annotations

import logging
import os
import shlex
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from sqlalchemy import Engine

from config import MqttSettings
from datastore.stations import station_ids_by_unit
from mqtt_node.broker_auth import BrokerAuthError, render_acl, write_private

log = logging.getLogger("bem.node")

# What a reload command may take before the node gives up on it.
RELOAD_COMMAND_TIMEOUT_S = 30.0

StationsByUnit = Mapping[str, Sequence[int]]


def acl_node_users(mqtt: MqttSettings) -> list[str]:
    """The broker users the ACL gives every topic under the prefix: `mqtt.acl_node_users`
    (comma-separated, for several nodes with users of their own), or else `mqtt.username`."""
    listed = [name.strip() for name in mqtt.acl_node_users.split(",") if name.strip()]
    if listed:
        return listed
    return [mqtt.username] if mqtt.username else []


class BrokerAcl:
    """The ACL file at `path`, rewritten from `read_stations()` when its text changes, and
    the broker reloaded after each rewrite (`reload`; None when something else does it)."""

    def __init__(
        self,
        path: Path,
        prefix: str,
        node_users: Sequence[str],
        read_stations: Callable[[], StationsByUnit],
        *,
        reload: Callable[[], bool] | None = None,
        reload_wait_s: float = 0.0,
        check_interval_s: float = 10.0,
    ) -> None:
        self.path = path
        self.prefix = prefix
        self.node_users = list(node_users)
        self._read_stations = read_stations
        self._reload = reload
        self.reload_wait_s = reload_wait_s
        # How often the node looks for stations changed elsewhere (the web app, the CLI).
        self.check_interval_s = check_interval_s
        # Set when the node stops: a wait for the broker's reload ends at once.
        self.stopping = threading.Event()
        # The text last written (or found in the file): None until the first refresh.
        self._written: str | None = None
        # A reload that failed is tried again at the next refresh, changed or not.
        self._reload_owed = False
        # How many times the file was rewritten, and the broker reloaded (for tests, logs).
        self.rewrites = 0
        self.reloads = 0

    def refresh(self, why: str) -> bool:
        """Write the file if the stations changed it, reload the broker and wait for it to
        apply the new ACL; whether the file was rewritten. Never raises: failures are
        logged, and the next refresh tries again."""
        try:
            stations = self._read_stations()
        except Exception as error:
            log.error("broker ACL %s: the stations could not be read (%s)", self.path, error)
            return False
        try:
            text, warnings = render_acl(self.prefix, self.node_users, stations)
        except BrokerAuthError as error:
            log.error("broker ACL %s: not written: %s", self.path, error)
            return False
        if self._written is None:
            self._written = self._current_text()
        if text == self._written:
            if self._reload_owed:
                self._apply()
            return False
        try:
            write_private(self.path, text)
        except OSError as error:
            log.error(
                "broker ACL %s: cannot be written (%s); new stations' telemetry stays "
                "refused by the broker until it is",
                self.path,
                error.strerror or error,
            )
            return False
        self._written = text
        self.rewrites += 1
        for warning in warnings:
            log.warning("broker ACL %s: %s", self.path, warning)
        count = sum(len(set(ids)) for ids in stations.values())
        log.info(
            "broker ACL %s rewritten (%s): %d unit(s), %d station(s)",
            self.path,
            why,
            len(stations),
            count,
        )
        self._apply()
        return True

    def _apply(self) -> None:
        """Reload the broker (when the node does it) and give it time to apply the ACL."""
        if self._reload is not None:
            self._reload_owed = not self._reload()
            if self._reload_owed:
                return
            self.reloads += 1
        # Without a reload of its own, something else reloads the broker: the wrapper
        # docker/mosquitto-run.sh notices the new file within a second.
        self.stopping.wait(self.reload_wait_s)

    def _current_text(self) -> str:
        """The file's text as it is now ("" when missing or unreadable: written afresh)."""
        try:
            return self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return ""


def stations_in(engine: Engine) -> Callable[[], StationsByUnit]:
    """Reads every unit's station ids (deprecated ones included) from `engine`."""

    def read() -> StationsByUnit:
        with engine.connect() as connection:
            return station_ids_by_unit(connection)

    return read


def keeper(mqtt: MqttSettings, engine: Engine) -> BrokerAcl | None:
    """The ACL keeper the settings ask for (None when `mqtt.acl_file` is empty)."""
    if not mqtt.acl_file:
        return None
    return BrokerAcl(
        Path(mqtt.acl_file),
        mqtt.topic_prefix,
        acl_node_users(mqtt),
        stations_in(engine),
        reload=broker_reload(mqtt),
        reload_wait_s=mqtt.acl_reload_wait_s,
        check_interval_s=mqtt.acl_check_interval_s,
    )


def signal_pid_file(pid_file: Path) -> Callable[[], bool]:
    """A reload that sends SIGHUP to the process whose id is in `pid_file` (Mosquitto's
    `pid_file`); the node must run as the broker's user (or root) to be allowed to."""

    def reload() -> bool:
        try:
            pid = int(pid_file.read_text(encoding="ascii").strip())
            os.kill(pid, signal.SIGHUP)
        except (OSError, ValueError) as error:
            reason = getattr(error, "strerror", None) or str(error)
            log.error(
                "broker reload: cannot send SIGHUP to the pid in %s (%s); the broker still "
                "uses its old ACL",
                pid_file,
                reason,
            )
            return False
        log.info("broker reload: SIGHUP sent to pid %d (from %s)", pid, pid_file)
        return True

    return reload


def run_command(command: str) -> Callable[[], bool]:
    """A reload that runs `command` (split as a shell would, but run without a shell),
    e.g. `systemctl reload mosquitto`; it succeeds when the command exits with 0."""
    argv = shlex.split(command)

    def reload() -> bool:
        try:
            done = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                timeout=RELOAD_COMMAND_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            reason = getattr(error, "strerror", None) or str(error)
            log.error("broker reload: %r could not run (%s)", command, reason)
            return False
        if done.returncode != 0:
            output = (done.stderr or done.stdout).strip().splitlines()
            log.error(
                "broker reload: %r exited with status %d%s; the broker still uses its old ACL",
                command,
                done.returncode,
                f": {output[-1][:300]}" if output else "",
            )
            return False
        log.info("broker reload: %r done", command)
        return True

    return reload


def broker_reload(mqtt: MqttSettings) -> Callable[[], bool] | None:
    """The reload the settings ask for: the command, else the pid file's SIGHUP, else none."""
    if mqtt.acl_reload_command:
        return run_command(mqtt.acl_reload_command)
    if mqtt.acl_reload_pid_file:
        return signal_pid_file(Path(mqtt.acl_reload_pid_file))
    return None
