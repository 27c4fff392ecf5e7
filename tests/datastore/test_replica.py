"""A MariaDB replica keeps what the app writes, and takes over when the primary is lost.

Two private servers (tests/datastore/private_mariadb.py): a primary with a binary log and
a read-only replica that follows it by GTID. The app writes to the primary through its
own code; the replica must hold the same rows. Then the primary is killed, the replica
promoted as docs/deployment.md describes, the app's URL pointed at it, and the app goes
on: nothing written before the failover is lost, and new writes land.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from cli import main
from datastore import ingest, make_engine, upgrade
from datastore.cycles import advance_cycles
from datastore.migrate import is_up_to_date
from datastore.models import Base, Experiment, ExtraValue, Measurement
from domain.status import ExperimentStatus
from tests.datastore.private_mariadb import PrivateMariaDB, install_all
from tests.mqtt_node.helpers import T0, add_experiment, add_station, experiment

pytestmark = [pytest.mark.mariadb, pytest.mark.slow]

APP_USER, APP_PASSWORD = "bem", "bem-app-secret"
REPLICATION_USER, REPLICATION_PASSWORD = "repl", "repl-secret"
DATABASE = "bem"
BEFORE = 3000  # samples written before the failover
AFTER = 1000  # samples written to each experiment after it


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[PrivateMariaDB, PrivateMariaDB]]:
    """A primary and a read-only replica following it, both stopped at the end."""
    # The binary log in MariaDB's default format (MIXED); log-basename names the primary's
    # binary logs and the replica's relay logs after the server, not the host.
    primary = PrivateMariaDB(
        tmp_path / "primary", server_id=1, options=["--log-bin", "--log-basename=primary"]
    )
    replica = PrivateMariaDB(
        tmp_path / "replica", server_id=2, options=["--read-only", "--log-basename=replica"]
    )
    try:
        install_all([primary, replica])
        for server in (primary, replica):
            server.start()
        # The app's database and user, and the replication user, are made on the primary
        # with the binary log on: the replica gets them by replication like any write.
        primary.execute(
            f"CREATE DATABASE `{DATABASE}` CHARACTER SET utf8mb4",
            f"CREATE USER '{APP_USER}'@'127.0.0.1' IDENTIFIED BY '{APP_PASSWORD}'",
            f"GRANT ALL PRIVILEGES ON `{DATABASE}`.* TO '{APP_USER}'@'127.0.0.1'",
            f"CREATE USER '{REPLICATION_USER}'@'127.0.0.1' IDENTIFIED BY '{REPLICATION_PASSWORD}'",
            f"GRANT REPLICATION SLAVE ON *.* TO '{REPLICATION_USER}'@'127.0.0.1'",
        )
        replica.replicate_from(primary, REPLICATION_USER, REPLICATION_PASSWORD)
        yield primary, replica
    finally:
        for server in (replica, primary):
            server.stop()


def app_engine(server: PrivateMariaDB) -> Engine:
    return make_engine(server.url(APP_USER, APP_PASSWORD, DATABASE))


def contents(engine: Engine) -> dict[str, object]:
    """Row counts of every table, and a checksum of every sample and extra value."""
    found: dict[str, object] = {}
    with Session(engine) as session:
        for table in Base.metadata.sorted_tables:
            found[table.name] = session.scalar(select(func.count()).select_from(table))
        for model, key in (
            (Measurement, (Measurement.experiment_id, Measurement.seq)),
            (ExtraValue, (ExtraValue.channel_id, ExtraValue.seq)),
        ):
            digest = hashlib.sha256()
            for row in session.execute(select(model.__table__).order_by(*key)):
                digest.update(repr(tuple(row)).encode())
            found[f"{model.__tablename__} sha256"] = digest.hexdigest()
    return found


def write_samples(engine: Engine, experiment_id: int, seqs: range) -> None:
    """A batch of samples and temperatures, stored as the node stores them: the rows,
    their summaries and count (ingest.insert_samples), the cycle tables, one transaction."""
    rows = [
        ingest.SampleRow(
            seq, T0 + seq * 0.25, 3.0 + seq * 1e-4, 1.5, 4.5 + seq * 1.5e-4, 1, 1, "CC"
        )
        for seq in seqs
    ]
    with engine.begin() as connection:
        channel = ingest.channel_ids(connection, experiment_id, {"temp": "°C"})["temp"]
        extras = [ingest.ExtraValueRow(channel, seq, 25.0 + seq * 0.01) for seq in seqs[::2]]
        ingest.insert_samples(connection, experiment_id, rows, extras)
        advance_cycles(connection, experiment_id)


def set_status(engine: Engine, experiment_id: int, status: ExperimentStatus) -> None:
    with engine.begin() as connection:
        ingest.set_status(
            connection,
            experiment_id,
            status,
            dt.datetime.now(dt.UTC),
            set_began=status is ExperimentStatus.RUNNING,
        )


def samples_of(engine: Engine, experiment_id: int) -> list[int]:
    with Session(engine) as session:
        return list(
            session.scalars(
                select(Measurement.seq)
                .where(Measurement.experiment_id == experiment_id)
                .order_by(Measurement.seq)
            )
        )


def test_replica_holds_the_data_and_takes_over_when_the_primary_is_lost(
    servers: tuple[PrivateMariaDB, PrivateMariaDB],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    primary, replica = servers

    # The app on the primary: schema by the migrations, a lab, an experiment running.
    engine = app_engine(primary)
    upgrade(engine)
    station_id = add_station(engine, name="ch1", unit="cu-replica")
    running = add_experiment(engine, station_id, name="before failover")
    set_status(engine, running, ExperimentStatus.RUNNING)
    for start in range(0, BEFORE, 500):  # in batches, as the node commits them
        write_samples(engine, running, range(start, start + 500))
    queued = add_experiment(engine, station_id, name="queued before failover")
    written = contents(engine)
    assert written["measurements"] == BEFORE
    assert written["experiments"] == 2

    # The replica has all of it, row for row.
    replica.catch_up(primary)
    status = replica.replica_status()
    assert (status["Slave_IO_Running"], status["Slave_SQL_Running"]) == ("Yes", "Yes")
    assert status["Using_Gtid"] == "Slave_Pos"
    replica_engine = app_engine(replica)
    assert contents(replica_engine) == written
    # Read-only: the app's user (no SUPER) cannot write to it by mistake.
    with pytest.raises(OperationalError, match="read-only"), replica_engine.begin() as conn:
        conn.execute(text("UPDATE experiments SET name = 'stray' WHERE id = :id"), {"id": queued})
    replica_engine.dispose()

    # Failover: the primary is gone without a goodbye; the replica is promoted.
    primary.kill()
    engine.dispose()
    replica.promote()
    assert replica.query("SELECT @@read_only")[0][0] == 0
    assert replica.replica_status() == {}  # no primary any more

    # The app's URL now names the promoted replica: `bem db upgrade` finds the schema at head.
    url = replica.url(APP_USER, APP_PASSWORD, DATABASE)
    monkeypatch.setenv("BEM_DATABASE_URL", url)
    capsys.readouterr()
    assert main(["db", "upgrade"]) == 0
    assert "is up to date" in capsys.readouterr().out
    engine = make_engine(url)
    assert is_up_to_date(engine)
    assert contents(engine) == written  # nothing lost

    # The app keeps working: the running experiment gets its last samples and finishes,
    # the queued one runs and stores samples.
    write_samples(engine, running, range(BEFORE, BEFORE + AFTER))
    set_status(engine, running, ExperimentStatus.FINISHED)
    set_status(engine, queued, ExperimentStatus.RUNNING)
    write_samples(engine, queued, range(AFTER))
    third = add_experiment(engine, station_id, name="queued after failover")
    assert third > queued  # the promoted replica's ids continue the primary's

    assert samples_of(engine, running) == list(range(BEFORE + AFTER))
    assert samples_of(engine, queued) == list(range(AFTER))
    finished = experiment(engine, running)
    assert finished.status is ExperimentStatus.FINISHED
    assert finished.sample_count == BEFORE + AFTER
    assert finished.finished_at is not None
    assert experiment(engine, queued).sample_count == AFTER
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Experiment)) == 3
    engine.dispose()
