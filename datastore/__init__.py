"""The data layer: schema, engines, migrations and every query. Knows SQL, not Dash or MQTT."""

from datastore.engine import make_engine, make_session_factory
from datastore.migrate import upgrade

__all__ = ["make_engine", "make_session_factory", "upgrade"]
