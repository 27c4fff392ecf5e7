"""What the datastore tests share: a queued experiment to hang samples on."""

from __future__ import annotations

from sqlalchemy.orm import Session

from config import default_settings
from datastore import catalog


def add_experiment(session: Session, name: str = "run") -> int:
    """A battery, a station, a profile and a queued experiment on them; the experiment's id."""
    battery = catalog.create_battery(
        session, name=f"cell for {name}", technology="lithium-ion", voltage_min=2.5,
        voltage_max=4.2, current_min=-5, current_max=5, nominal_capacity_ah=2.0,
    )  # fmt: skip
    station = catalog.create_station(
        session, name=f"ch for {name}", voltage_min=0, voltage_max=5, current_min=-10,
        current_max=10,
    )  # fmt: skip
    profile = catalog.create_profile(
        session,
        name=f"profile for {name}",
        source="CC, 1, TIME, 3600\n",
        max_steps=default_settings().profiles.max_steps,
    )
    experiment = catalog.queue_experiment(
        session,
        name=name,
        battery_id=battery.id,
        station_id=station.id,
        profile_id=profile.id,
        max_steps=default_settings().profiles.max_steps,
    )
    session.commit()
    return experiment.id
