"""The experiments table: one page of experiments, filtered and sorted by the database.

Only the columns the table shows are read (never a profile's steps), and only one page
of rows leaves the database, so the table costs the same with ten or ten thousand
experiments.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from datastore.models import Battery, Experiment, Profile, Station
from domain.experiment_filter import ExperimentFilter, TableView
from domain.status import ExperimentStatus


@dataclass(frozen=True)
class ExperimentRow:
    id: int
    name: str
    status: ExperimentStatus
    status_message: str
    battery_id: int
    battery: str
    technology: str
    station_id: int | None
    station: str | None
    profile_id: int | None
    profile: str | None
    created_at: dt.datetime
    began_at: dt.datetime | None
    finished_at: dt.datetime | None
    sample_count: int
    imported: bool


@dataclass(frozen=True)
class ExperimentPage:
    rows: list[ExperimentRow]
    total: int  # experiments matching the filter, on every page


@dataclass(frozen=True)
class Choice:
    id: int
    label: str


@dataclass(frozen=True)
class FilterChoices:
    """What the table's filter menus offer."""

    technologies: list[str]
    batteries: list[Choice]
    stations: list[Choice]
    profiles: list[Choice]


_SORT_COLUMNS: dict[str, Any] = {
    "id": Experiment.id,
    "name": Experiment.name,
    "status": Experiment.status,
    "battery": Battery.name,
    "technology": Battery.technology,
    "station": Station.name,
    "profile": Profile.name,
    "created": Experiment.created_at,
    "began": Experiment.began_at,
    "finished": Experiment.finished_at,
    "samples": Experiment.sample_count,
}


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _filtered(query: Select[Any], wanted: ExperimentFilter) -> Select[Any]:
    if wanted.text:
        pattern = _like_pattern(wanted.text)
        query = query.where(
            or_(
                Experiment.name.ilike(pattern, escape="\\"),
                Experiment.description.ilike(pattern, escape="\\"),
            )
        )
    if wanted.technology:
        query = query.where(Battery.technology == wanted.technology)
    if wanted.battery_id is not None:
        query = query.where(Experiment.battery_id == wanted.battery_id)
    if wanted.station_id is not None:
        query = query.where(Experiment.station_id == wanted.station_id)
    if wanted.profile_id is not None:
        query = query.where(Experiment.profile_id == wanted.profile_id)
    if wanted.statuses:
        query = query.where(Experiment.status.in_(list(wanted.statuses)))
    if wanted.created_from is not None:
        start = dt.datetime.combine(wanted.created_from, dt.time(), dt.UTC)
        query = query.where(Experiment.created_at >= start)
    if wanted.created_to is not None:
        end = dt.datetime.combine(wanted.created_to + dt.timedelta(days=1), dt.time(), dt.UTC)
        query = query.where(Experiment.created_at < end)
    return query


def _joined(query: Select[Any]) -> Select[Any]:
    return (
        query.join(Battery, Experiment.battery_id == Battery.id)
        .outerjoin(Station, Experiment.station_id == Station.id)
        .outerjoin(Profile, Experiment.profile_id == Profile.id)
    )


def experiment_page(session: Session, view: TableView) -> ExperimentPage:
    """The rows of `view`'s page and how many experiments match its filter in all."""
    columns: list[Any] = [
        Experiment.id,
        Experiment.name,
        Experiment.status,
        Experiment.status_message,
        Experiment.battery_id,
        Battery.name,
        Battery.technology,
        Experiment.station_id,
        Station.name,
        Experiment.profile_id,
        Profile.name,
        Experiment.created_at,
        Experiment.began_at,
        Experiment.finished_at,
        Experiment.sample_count,
        Experiment.imported,
    ]
    query = _filtered(_joined(select(*columns)), view.filter)
    order = []
    for key, ascending in view.sort:
        column = _SORT_COLUMNS[key]
        order.append(column.asc() if ascending else column.desc())
    # The id last, in the first key's direction, so pages never overlap or skip a row.
    first_ascending = view.sort[0][1] if view.sort else False
    order.append(Experiment.id.asc() if first_ascending else Experiment.id.desc())
    rows = session.execute(query.order_by(*order).offset(view.offset).limit(view.page_size)).all()
    total_query = _filtered(_joined(select(func.count(Experiment.id))), view.filter)
    total = session.scalar(total_query) or 0
    return ExperimentPage([ExperimentRow(*row) for row in rows], total)


def filter_choices(session: Session) -> FilterChoices:
    """Technologies, batteries, stations and profiles that experiments use, for the menus."""
    technologies = session.scalars(
        select(Battery.technology).distinct().order_by(Battery.technology)
    ).all()

    def choices(model: Any, foreign_key: Any) -> list[Choice]:
        used = select(foreign_key).where(foreign_key == model.id).exists()
        rows = session.execute(select(model.id, model.name).where(used).order_by(model.name))
        return [Choice(row_id, f"{name} (#{row_id})") for row_id, name in rows]

    return FilterChoices(
        technologies=list(technologies),
        batteries=choices(Battery, Experiment.battery_id),
        stations=choices(Station, Experiment.station_id),
        profiles=choices(Profile, Experiment.profile_id),
    )
