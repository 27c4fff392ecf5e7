"""Registering an announced unit: its stations, as `StationSpec`s, become station rows.

Every test runs on SQLite and on MariaDB (the `engine` fixture).
"""

from __future__ import annotations

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from datastore import ingest
from datastore.models import Station
from domain.stations import StationSpec
from domain.window import Window

CH1 = StationSpec("ch1", Window(0.0, 5.0, -10.0, 10.0), location="rack A")


def register(engine: Engine, *stations: StationSpec) -> dict[str, int]:
    with engine.begin() as connection:
        return ingest.register_unit(connection, "cu-lab1", "10.0.0.7", stations)


def station_row(engine: Engine, station_id: int) -> Station:
    with Session(engine) as session:
        return session.scalars(select(Station).where(Station.id == station_id)).one()


def test_an_announced_station_is_stored_with_its_location_and_window(engine):
    row = station_row(engine, register(engine, CH1)["ch1"])
    assert (row.name, row.location, row.deprecated) == ("ch1", "rack A", False)
    window = Window(row.voltage_min, row.voltage_max, row.current_min, row.current_max)
    assert window == CH1.window


def test_the_same_window_announced_again_keeps_the_station(engine):
    first = register(engine, CH1)
    assert register(engine, StationSpec("ch1", CH1.window, location="rack B")) == first
    assert station_row(engine, first["ch1"]).location == "rack B"


def test_a_changed_window_replaces_the_station(engine):
    first = register(engine, CH1)["ch1"]
    wider = register(engine, StationSpec("ch1", Window(0.0, 6.0, -10.0, 10.0)))["ch1"]
    assert wider != first and station_row(engine, first).deprecated


def test_the_deprecated_announced_station_builds_the_same_spec():
    built = ingest.AnnouncedStation("ch1", "rack A", 0.0, 5.0, -10.0, 10.0)
    assert built == CH1
