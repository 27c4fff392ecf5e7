"""Fixtures for the web tests: the app factory, the browser, and the app on the demo data.

Everything that needs Dash's test extras (dash[testing], selenium) lives here, so the
rest of the suite runs without them.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import bootstrap
from config import Settings
from datastore import make_engine, make_session_factory, upgrade
from simulation.demo_data import seed_demo_data
from tests.services import service_missing
from tests.web.monitor_helpers import LiveLab, running_lab


def pytest_configure(config: pytest.Config) -> None:
    """Browser tests always run headless (no screen on servers and in CI)."""
    if hasattr(config.option, "headless"):
        config.option.headless = True


@pytest.fixture
def clean_page_registry() -> Iterator[None]:
    """Let each app instance register the pages afresh (Dash keeps a global registry)."""
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


@pytest.fixture
def app_factory(clean_page_registry: None, settings: Settings):
    """`app_factory(settings=None)` builds the app on the test's fresh SQLite database."""

    def factory(app_settings: Settings | None = None):
        app_settings = app_settings or settings
        return bootstrap.web_app(app_settings, bootstrap.open_store(app_settings))

    return factory


@pytest.fixture
def demo_app(app_factory, settings: Settings):
    """The app on the test's database, filled with the demo data first."""
    engine = make_engine(settings.database.resolved_url)
    try:
        upgrade(engine)
        seed_demo_data(make_session_factory(engine))
    finally:
        engine.dispose()
    return app_factory()


@pytest.fixture
def live_lab(tmp_path: Path) -> Iterator[LiveLab]:
    """A node and a two-station simulated unit, registered and idle, on a fresh database."""
    with running_lab(tmp_path) as lab:
        yield lab


def _browser_available() -> str | None:
    if not shutil.which("chromedriver"):
        return "chromedriver is not installed (apt-get install chromium chromium-driver)"
    if not (shutil.which("chromium") or os.environ.get("DASH_TEST_CHROMEPATH")):
        return "chromium is not installed (apt-get install chromium chromium-driver)"
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def browser(request: pytest.FixtureRequest):
    """dash_duo, or a skip (a failure with BEM_REQUIRE_SERVICES=1) when there is no browser.

    The app is served on a free port, so two test runs on one machine never collide.
    """
    missing = _browser_available()
    if missing:
        service_missing(missing)
    from dash.testing.application_runners import BaseDashRunner

    BaseDashRunner._next_port = _free_port()
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
