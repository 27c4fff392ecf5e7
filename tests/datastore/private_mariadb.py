"""A MariaDB server of the test's own, for the tests that need servers they can stop and
rearrange (replication, failover): a fresh data directory, a free port on 127.0.0.1, and
a unix socket in its directory for the administrator."""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pymysql

from mqtt_node.transport import wait_until
from tests.mqtt_node.helpers import free_port
from tests.services import service_missing, stop_process

MARIADBD = "/usr/sbin/mariadbd"

# Small and quick to start: a private server holds a test's few thousand rows.
_LEAN = (
    "--innodb-buffer-pool-size=32M",
    "--innodb-log-file-size=8M",
    "--skip-name-resolve",
    "--performance-schema=OFF",
)
# A unix socket's path must fit in sun_path (108 bytes on Linux).
_MAX_SOCKET_PATH = 100


def install_db_command() -> str:
    """mariadb-install-db (or its older name), or the test is skipped or failed."""
    if not os.access(MARIADBD, os.X_OK):
        service_missing(f"{MARIADBD} is not installed")
    for name in ("mariadb-install-db", "mysql_install_db"):
        found = shutil.which(name)
        if found:
            return found
    service_missing("neither mariadb-install-db nor mysql_install_db is installed")
    raise AssertionError("unreachable")  # service_missing skips or fails


def install_all(servers: Sequence[PrivateMariaDB]) -> None:
    """Install the data directories of several servers at once (a few seconds each)."""
    install_db_command()  # skip or fail here, not in a thread
    with ThreadPoolExecutor(len(servers)) as pool:
        list(pool.map(PrivateMariaDB.install, servers))


class PrivateMariaDB:
    """A mariadbd of the test's own, in `directory`: no option files read (`--no-defaults`,
    so nothing of the system's server applies), TCP on a free port of 127.0.0.1 for the
    app and for replication, and the administrator over the unix socket (the user running
    the test, authenticated by the socket, as mariadb-install-db sets it up)."""

    def __init__(self, directory: Path, server_id: int, options: Sequence[str] = ()) -> None:
        """`options`: more mariadbd options, e.g. `--log-bin` for a primary."""
        self.directory = directory
        self.server_id = server_id
        self.datadir = directory / "data"
        self.socket = directory / "sock"
        if len(str(self.socket)) > _MAX_SOCKET_PATH:
            raise ValueError(f"socket path too long for a unix socket: {self.socket}")
        self.port = free_port()
        self.error_log = directory / "error.log"
        self.user = getpass.getuser()
        self.options = list(options)
        self.process: subprocess.Popen[bytes] | None = None

    def install(self) -> None:
        """Create the data directory with its system tables (no test database)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with (self.directory / "install.log").open("wb") as log:
            subprocess.run(
                [
                    install_db_command(),
                    "--no-defaults",
                    f"--datadir={self.datadir}",
                    f"--user={self.user}",
                    "--auth-root-authentication-method=socket",
                    "--skip-test-db",
                    *_LEAN,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                check=True,
                timeout=60,
            )

    def start(self, timeout: float = 30.0) -> None:
        self.process = subprocess.Popen(
            [
                MARIADBD,
                "--no-defaults",  # must come first
                # Before the options below: --log-basename sets the names of the logs,
                # the error log's included, unless they are given after it.
                *self.options,
                f"--datadir={self.datadir}",
                f"--socket={self.socket}",
                f"--port={self.port}",
                "--bind-address=127.0.0.1",
                f"--pid-file={self.directory / 'mariadbd.pid'}",
                f"--log-error={self.error_log}",
                f"--user={self.user}",
                f"--server-id={self.server_id}",
                *_LEAN,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if not wait_until(self._ready_or_gone, timeout, 0.05) or not self.running():
            self.stop()
            raise RuntimeError(f"mariadbd did not start on port {self.port}:\n{self.log()[-3000:]}")

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _ready_or_gone(self) -> bool:
        if not self.running():
            return True  # exited: no use waiting
        try:
            self.query("SELECT 1")
        except pymysql.err.OperationalError:
            return False
        return True

    def query(self, statement: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement as the administrator; its rows."""
        connection = pymysql.connect(
            unix_socket=str(self.socket), user=self.user, autocommit=True, connect_timeout=5
        )
        try:
            with connection.cursor() as cursor:
                cursor.execute(statement, tuple(args) or None)
                return list(cursor.fetchall())
        finally:
            connection.close()

    def execute(self, *statements: str) -> None:
        for statement in statements:
            self.query(statement)

    def url(self, user: str, password: str, database: str) -> str:
        """The app's URL for a database here (TCP, as the app would connect)."""
        return f"mysql+pymysql://{user}:{password}@127.0.0.1:{self.port}/{database}"

    # ---------------------------------------------------------------- replication

    def replicate_from(self, primary: PrivateMariaDB, user: str, password: str) -> None:
        """Follow `primary` from its first binary log on, by GTID."""
        self.query(
            "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=%s, MASTER_USER=%s, "
            "MASTER_PASSWORD=%s, MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1",
            (primary.port, user, password),
        )
        self.execute("START SLAVE")

    def replica_status(self) -> dict[str, Any]:
        connection = pymysql.connect(
            unix_socket=str(self.socket),
            user=self.user,
            cursorclass=pymysql.cursors.DictCursor,
            connect_timeout=5,
        )
        try:
            with connection.cursor() as cursor:
                cursor.execute("SHOW SLAVE STATUS")
                return dict(cursor.fetchone() or {})
        finally:
            connection.close()

    def catch_up(self, primary: PrivateMariaDB, timeout: float = 20.0) -> str:
        """Wait until this replica has applied everything `primary` has logged so far;
        the GTID position it reached."""
        position = primary.query("SELECT @@gtid_binlog_pos")[0][0]
        waited = self.query("SELECT MASTER_GTID_WAIT(%s, %s)", (position, timeout))[0][0]
        if waited != 0:
            status = self.replica_status()
            errors = {key: status.get(key) for key in ("Last_IO_Error", "Last_SQL_Error")}
            raise AssertionError(f"replica not at {position} after {timeout:g} s: {errors}")
        return position

    def promote(self) -> None:
        """Make this replica a primary: forget the old one, accept writes."""
        self.execute("STOP SLAVE", "RESET SLAVE ALL", "SET GLOBAL read_only = OFF")

    # ---------------------------------------------------------------- ending

    def log(self) -> str:
        if not self.error_log.exists():
            return ""
        return self.error_log.read_text(encoding="utf-8", errors="replace")

    def kill(self) -> None:
        """SIGKILL: the machine is gone, nothing is flushed or said goodbye."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait(10)

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (a clean shutdown), SIGKILL if it lingers."""
        process, self.process = self.process, None
        stop_process(process, timeout)
