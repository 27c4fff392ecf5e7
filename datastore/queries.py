"""Read queries for the pages and the command line; each returns plain data."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from datastore.models import Battery, ComputationalUnit, Experiment, Profile, Station


def list_batteries(session: Session) -> list[dict[str, Any]]:
    rows = session.scalars(select(Battery).order_by(Battery.id)).all()
    return [
        {
            "id": b.id,
            "name": b.name,
            "technology": b.technology,
            "manufacturer": b.manufacturer,
            "model": b.model,
            "serial_number": b.serial_number,
            "nominal_capacity_ah": b.nominal_capacity_ah,
            "voltage_min": b.voltage_min,
            "voltage_max": b.voltage_max,
            "current_min": b.current_min,
            "current_max": b.current_max,
            **{f"details.{k}": v for k, v in (b.details or {}).items()},
        }
        for b in rows
    ]


def list_stations(session: Session, include_deprecated: bool = False) -> list[dict[str, Any]]:
    query = (
        select(Station, ComputationalUnit.name)
        .outerjoin(ComputationalUnit, Station.computational_unit_id == ComputationalUnit.id)
        .order_by(Station.id)
    )
    if not include_deprecated:
        query = query.where(Station.deprecated.is_(False))
    return [
        {
            "id": s.id,
            "name": s.name,
            "unit": unit_name or "",
            "location": s.location,
            "voltage_min": s.voltage_min,
            "voltage_max": s.voltage_max,
            "current_min": s.current_min,
            "current_max": s.current_max,
            "last_heartbeat": s.last_heartbeat.isoformat() if s.last_heartbeat else None,
            "reported_state": s.reported_state,
            "deprecated": s.deprecated,
        }
        for s, unit_name in session.execute(query).all()
    ]


def list_profiles(session: Session) -> list[dict[str, Any]]:
    rows = session.scalars(select(Profile).order_by(Profile.id)).all()
    return [
        {
            "id": p.id,
            "name": p.name,
            "description": p.description,
            "step_count": p.step_count,
            "voltage_min": p.voltage_min,
            "voltage_max": p.voltage_max,
            "current_min": p.current_min,
            "current_max": p.current_max,
        }
        for p in rows
    ]


def list_experiments(session: Session, status: str | None = None) -> list[dict[str, Any]]:
    """Every experiment (newest first) with the columns `bem experiment list` prints; the
    steps and other large columns are not read."""
    query = (
        select(
            Experiment.id,
            Experiment.name,
            Experiment.status,
            Battery.name.label("battery"),
            Station.name.label("station"),
            Profile.name.label("profile"),
            Experiment.created_at,
            Experiment.began_at,
            Experiment.finished_at,
            Experiment.sample_count,
        )
        .join(Battery, Experiment.battery_id == Battery.id)
        .outerjoin(Station, Experiment.station_id == Station.id)
        .outerjoin(Profile, Experiment.profile_id == Profile.id)
        .order_by(Experiment.id.desc())
    )
    if status:
        query = query.where(Experiment.status == status)
    return [
        {
            "id": row.id,
            "name": row.name,
            "status": row.status.value,
            "battery": row.battery,
            "station": row.station or "",
            "profile": row.profile or "",
            "created_at": row.created_at.isoformat(timespec="seconds"),
            "began_at": row.began_at.isoformat(timespec="seconds") if row.began_at else None,
            "finished_at": row.finished_at.isoformat(timespec="seconds")
            if row.finished_at
            else None,
            "samples": row.sample_count,
        }
        for row in session.execute(query)
    ]
