"""The data layer: schema, engines, migrations and every query. Knows SQL, not Dash or MQTT."""

from datastore.connect import Datastore, DatastoreError, open_datastore, wait_for_database
from datastore.engine import make_engine, make_session_factory
from datastore.migrate import upgrade

__all__ = [
    "Datastore",
    "DatastoreError",
    "make_engine",
    "make_session_factory",
    "open_datastore",
    "upgrade",
    "wait_for_database",
]
