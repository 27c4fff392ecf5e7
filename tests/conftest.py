"""Shared fixtures: settings, databases (SQLite per test, MariaDB per session), the broker,
the app factory and the browser.

Tests that need a server skip with the reason when it is unreachable; with
BEM_REQUIRE_SERVICES=1 they fail instead, so CI cannot pass by skipping.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from config import Settings, load_settings
from datastore import make_engine, make_session_factory, upgrade
from datastore.models import Base

REQUIRE_SERVICES = os.environ.get("BEM_REQUIRE_SERVICES") == "1"
MARIADB_URL = os.environ.get("BEM_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/")
MQTT_HOST = os.environ.get("BEM_TEST_MQTT_HOST", "127.0.0.1")
MQTT_PORT = int(os.environ.get("BEM_TEST_MQTT_PORT", "1883"))


def service_missing(reason: str) -> None:
    """Skip the test, or fail it when services are required."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (BEM_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(reason)


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


# ---------------------------------------------------------------- settings and SQLite


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'bem.sqlite3'}"


@pytest.fixture
def settings(tmp_path: Path, sqlite_url: str) -> Settings:
    """Defaults with a fresh SQLite file and no broker."""
    return load_settings(
        {"BEM_DATABASE_URL": sqlite_url, "BEM_DATABASE_INSTANCE_DIR": str(tmp_path)}
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
    server = make_url(MARIADB_URL)
    if not _reachable(server.host or "127.0.0.1", server.port or 3306):
        service_missing(f"MariaDB is not reachable at {server.host}:{server.port or 3306}")
    name = f"bem_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = make_engine(server.set(database="").render_as_string(hide_password=False))
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    url = server.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
    admin.dispose()


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
    if not _reachable(MQTT_HOST, MQTT_PORT):
        service_missing(f"no MQTT broker at {MQTT_HOST}:{MQTT_PORT}")
    return MQTT_HOST, MQTT_PORT


# ---------------------------------------------------------------- web app and browser


@pytest.fixture
def clean_page_registry() -> Iterator[None]:
    """Let each app instance register the pages afresh (Dash keeps a global registry)."""
    import dash
    from dash import _callback, _pages

    def clear() -> None:
        _pages.PAGE_REGISTRY.clear()
        _callback.GLOBAL_CALLBACK_LIST.clear()
        _callback.GLOBAL_CALLBACK_MAP.clear()
        for name in [n for n in sys.modules if n == "pages" or n.startswith("pages.")]:
            del sys.modules[name]

    clear()
    yield
    clear()
    assert dash  # imported for its side effect of loading the registry module


@pytest.fixture
def app_factory(clean_page_registry: None, settings: Settings):
    """`app_factory(**overrides)` builds the app on the test's fresh SQLite database."""
    from app import create_app

    def factory(app_settings: Settings | None = None):
        return create_app(app_settings or settings)

    return factory


def _browser_available() -> str | None:
    if not shutil.which("chromedriver"):
        return "chromedriver is not installed (apt-get install chromium chromium-driver)"
    if not (shutil.which("chromium") or os.environ.get("DASH_TEST_CHROMEPATH")):
        return "chromium is not installed (apt-get install chromium chromium-driver)"
    return None


@pytest.fixture
def browser(request: pytest.FixtureRequest):
    """dash_duo, or a skip (a failure with BEM_REQUIRE_SERVICES=1) when there is no browser."""
    missing = _browser_available()
    if missing:
        service_missing(missing)
    return request.getfixturevalue("dash_duo")


def pytest_setup_options():
    """Chrome options for dash_duo: Debian's Chromium, no network chatter."""
    from selenium.webdriver.chrome.options import Options

    options = Options()
    chromium = os.environ.get("DASH_TEST_CHROMEPATH") or shutil.which("chromium")
    if chromium:
        options.binary_location = chromium
    for flag in (
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
        "--window-size=1400,1000",
    ):
        options.add_argument(flag)
    return options
