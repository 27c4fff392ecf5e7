"""Start orders: what the dispatch queries read back for a start command, as typed values.

Every test runs on SQLite and on MariaDB (the `engine` fixture).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from config import default_settings
from datastore import catalog, dispatch, ingest
from datastore.dispatch import StartOrder
from domain.profiles import expand_profile, parse_profile
from domain.window import Window

# The site's cap on expanded profile steps (profiles.max_steps).
MAX_STEPS = default_settings().profiles.max_steps

PROFILE = "REPEAT 2\nCC, 0.5C, VOLTAGE, 4.0\nWAIT, 60\nEND\n"


def startable_order(engine: Engine) -> StartOrder:
    """Queue PROFILE for a 2 Ah cell (2.5-4.2 V, -3..+3 A) on an idle, online station
    (0-4 V, -2..+10 A), and read the one start order dispatch finds."""
    with Session(engine) as session, session.begin():
        battery = catalog.create_battery(
            session,
            name="cell",
            technology="lithium-ion",
            voltage_min=2.5,
            voltage_max=4.2,
            current_min=-3.0,
            current_max=3.0,
            nominal_capacity_ah=2.0,
        )
        station = catalog.create_station(
            session,
            name="ch1",
            unit_name="unit",
            voltage_min=0.0,
            voltage_max=4.0,
            current_min=-2.0,
            current_max=10.0,
        )
        profile = catalog.create_profile(session, name="p", source=PROFILE, max_steps=MAX_STEPS)
        catalog.queue_experiment(
            session,
            name="run",
            battery_id=battery.id,
            station_id=station.id,
            profile_id=profile.id,
            max_steps=MAX_STEPS,
        )
        station_id = station.id
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as connection:
        ingest.record_heartbeat(connection, station_id, now, "idle", None)
        (order,) = dispatch.startable_experiments(connection, now - dt.timedelta(minutes=1))
    return order


def test_a_start_order_carries_the_expanded_steps_as_stored(engine):
    order = startable_order(engine)
    assert order.steps == expand_profile(parse_profile(PROFILE), capacity_ah=2.0)


def test_a_start_order_limits_are_the_battery_window_within_the_station_window(engine):
    assert startable_order(engine).limits == Window(2.5, 4.0, -2.0, 3.0)
