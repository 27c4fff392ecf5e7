"""Fixtures for the web tests: the app on an empty database, or on the demo data."""

from __future__ import annotations

import pytest

from config import Settings
from datastore import make_engine, make_session_factory, upgrade
from simulation.demo_data import seed_demo_data


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
