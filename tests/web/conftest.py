import pytest


@pytest.fixture
def demo_app(app_factory):
    """The app on a database filled with the demo data."""
    return app_factory()
