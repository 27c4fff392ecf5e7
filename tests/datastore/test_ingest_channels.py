"""Extra channels named by two nodes at once, on MariaDB (several nodes share the ingest).

A node's transaction reads the experiment's channels, another node adds one and commits,
then the first names the same channel: its INSERT IGNORE skips it (the row exists), and
a plain read would not see that row from inside the older transaction. The ingest failed
there with NoResultFound and rejected the message; the channel must be found instead.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from datastore import ingest
from domain.status import ExperimentStatus
from tests.mqtt_node.helpers import add_experiment, add_station

pytestmark = pytest.mark.mariadb


@pytest.mark.parametrize("name", ["temp", "TEMP "])  # also as the collation compares it
def test_a_channel_another_node_added_meanwhile_is_found(mariadb_engine: Engine, name: str) -> None:
    experiment_id = add_experiment(
        mariadb_engine, add_station(mariadb_engine), status=ExperimentStatus.RUNNING
    )
    with mariadb_engine.connect() as ours, ours.begin():
        assert ingest.channel_ids(ours, experiment_id, {}) == {}  # the snapshot begins
        with mariadb_engine.begin() as theirs:
            added = ingest.channel_ids(theirs, experiment_id, {"temp": "°C"})["temp"]
        assert ingest.channel_ids(ours, experiment_id, {name: "°C"})[name] == added
