"""What the compare page reads: several experiments' metadata and cycle tables at once.

One query for the metadata of every chosen experiment and one for all their cycle rows,
whatever their number: the page never reads samples for the cycle plots (the time plot
reads `datastore.series`, which draws from the block summaries).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from datastore.engine import Bind, connection_of
from datastore.models import Battery, Cycle, Experiment, Profile, Station
from domain.compare import DETAILS_PREFIX, ExperimentFacts
from domain.cycles import CycleTotals

# The experiments offered by the page's picker, newest first.
PICKER_LIMIT = 2_000
_TOTALS_COLUMNS = [
    "cycle", "first_seq", "last_seq", "start_ts", "end_ts", "start_voltage", "end_voltage",
    "charge_ah", "discharge_ah", "charge_wh", "discharge_wh", "samples",
]  # fmt: skip


def experiment_facts(bind: Bind, experiment_ids: Sequence[int]) -> dict[int, ExperimentFacts]:
    """The metadata of each experiment that exists among `experiment_ids`, by id."""
    if not experiment_ids:
        return {}
    query = (
        select(
            Experiment.id,
            Experiment.name,
            Battery.name,
            Battery.technology,
            Battery.manufacturer,
            Battery.model,
            Battery.nominal_capacity_ah,
            Battery.details,
            Profile.name,
            Station.name,
        )
        .join(Battery, Experiment.battery_id == Battery.id)
        .outerjoin(Station, Experiment.station_id == Station.id)
        .outerjoin(Profile, Experiment.profile_id == Profile.id)
        .where(Experiment.id.in_(list(experiment_ids)))
    )
    with connection_of(bind) as connection:
        rows = connection.execute(query).all()
    facts = {}
    for id_, name, battery, technology, maker, model, nominal, details, profile, station in rows:
        fields: dict[str, str | float | None] = {
            "battery": battery,
            "technology": technology,
            "manufacturer": maker,
            "model": model,
            "nominal_capacity_ah": nominal,
            "profile": profile,
            "station": station,
        }
        for key, value in (details or {}).items():
            fields[DETAILS_PREFIX + str(key)] = _scalar(value)
        facts[id_] = ExperimentFacts(id_, name, nominal, fields)
    return facts


def _scalar(value: Any) -> str | float | None:
    """A details value as the comparison uses it: numbers stay numbers, the rest text."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return str(value)


def experiments_cycles(bind: Bind, experiment_ids: Sequence[int]) -> dict[int, list[CycleTotals]]:
    """The cycle tables of several experiments in one query: {id: cycles in order}; an
    experiment without cycles maps to an empty list."""
    tables: dict[int, list[CycleTotals]] = {int(i): [] for i in experiment_ids}
    if not tables:
        return tables
    c = Cycle.__table__.c
    query = (
        select(c.experiment_id, *[c[name] for name in _TOTALS_COLUMNS])
        .where(c.experiment_id.in_(list(tables)))
        .order_by(c.experiment_id, c.cycle)
    )
    with connection_of(bind) as connection:
        for experiment_id, *values in connection.execute(query):
            tables[experiment_id].append(CycleTotals(*values))
    return tables


def experiment_choices(bind: Bind, limit: int = PICKER_LIMIT) -> list[tuple[int, str]]:
    """(id, name) of the newest experiments, for the picker."""
    with connection_of(bind) as connection:
        rows = connection.execute(
            select(Experiment.id, Experiment.name).order_by(Experiment.id.desc()).limit(limit)
        ).all()
    return [(int(id_), name) for id_, name in rows]
