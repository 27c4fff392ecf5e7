"""Shared fixtures: settings, databases (SQLite per test, MariaDB per session) and the broker.

Tests that need a server skip with the reason when it is unreachable; with
BEM_REQUIRE_SERVICES=1 they fail instead, so CI cannot pass by skipping. Each test is
marked with what it needs (`mariadb`, `mqtt`, `browser`), from its fixtures, so
`make test-fast` (`-m "not mariadb and not mqtt and not browser"`) runs with no server.

The web app and browser fixtures are in tests/web/conftest.py: nothing here needs Dash's
test extras.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from config import Settings, load_settings
from datastore import make_engine, make_session_factory, upgrade
from datastore.models import Base
from tests.services import (
    MQTT_HOST,
    MQTT_PORT,
    reachable,
    scratch_mariadb_database,
    service_missing,
)

# ---------------------------------------------------------------- settings and SQLite


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'bem.sqlite3'}"


@pytest.fixture
def settings(tmp_path: Path, sqlite_url: str) -> Settings:
    """Defaults with a fresh SQLite file, no broker and sign-in off (the tests of
    accounts and roles turn it on: tests/web/test_auth.py)."""
    return load_settings(
        {
            "BEM_DATABASE_URL": sqlite_url,
            "BEM_DATABASE_INSTANCE_DIR": str(tmp_path),
            "BEM_AUTH_ENABLED": "false",
        }
    )


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    engine = make_engine(sqlite_url)
    upgrade(engine)
    yield engine
    engine.dispose()


# ---------------------------------------------------------------- MariaDB


@pytest.fixture(scope="session")
def mariadb_url() -> Iterator[str]:
    """A database created for this test session on the MariaDB server, migrated, then dropped."""
    with scratch_mariadb_database("bem_test") as url:
        yield url


def _empty_tables(engine: Engine) -> None:
    with engine.begin() as connection:
        if engine.dialect.name in ("mysql", "mariadb"):
            connection.execute(text("SET FOREIGN_KEY_CHECKS=0"))
            for table in Base.metadata.sorted_tables:
                connection.execute(text(f"TRUNCATE TABLE `{table.name}`"))
            connection.execute(text("SET FOREIGN_KEY_CHECKS=1"))
        else:
            for table in reversed(Base.metadata.sorted_tables):
                connection.execute(table.delete())


@pytest.fixture
def mariadb_engine(mariadb_url: str) -> Iterator[Engine]:
    """The session's MariaDB database, emptied before each test."""
    engine = make_engine(mariadb_url)
    _empty_tables(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "mariadb"])
def engine(request: pytest.FixtureRequest) -> Engine:
    """A migrated, empty database: each test using it runs on SQLite and on MariaDB."""
    return request.getfixturevalue(f"{request.param}_engine")


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    with sessions() as db_session:
        yield db_session


# ---------------------------------------------------------------- MQTT broker


@pytest.fixture(scope="session")
def mqtt_broker() -> tuple[str, int]:
    """(host, port) of a running MQTT broker (Mosquitto on this machine)."""
    if not reachable(MQTT_HOST, MQTT_PORT):
        service_missing(f"no MQTT broker at {MQTT_HOST}:{MQTT_PORT}")
    return MQTT_HOST, MQTT_PORT


# ---------------------------------------------------------------- markers from fixtures

# A test using one of these fixtures needs that service; the marker says so for `-m`.
_SERVICE_FIXTURES = {
    "mariadb": {"mariadb_url", "mariadb_engine"},
    "mqtt": {"mqtt_broker"},
    "browser": {"browser", "dash_duo"},
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "mariadb" in (
            callspec.params.get("engine"),
            callspec.params.get("seeded_engine"),
        ):
            fixtures.add("mariadb_engine")
        for marker, needs in _SERVICE_FIXTURES.items():
            if fixtures & needs:
                item.add_marker(marker)
