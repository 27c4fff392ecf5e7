"""Stations as staff manage them: the units-and-stations board, and editing, deprecating
and removing a station.

A station record is never changed in place once it exists, so every experiment keeps
the window it ran with: an edit deprecates the record and creates a new one with the
edited values. What happens to the old record's experiments:

- finished, failed, cancelled (and running) ones stay linked to the old record;
- queued ones move to the new record when their profile still fits the battery and the
  new window, and are cancelled, with the reason in their status message, when not;
- while an experiment runs, is paused or is being started on the station, the edit is
  refused (so is deprecating it): the cycler is using the old window.

Deprecating cancels the station's queued experiments. Removing deletes a record for
good, only when no experiment ever used it (a station a unit announced by mistake).

A cycler announces its stations by unit and name and the node maps an announcement to
the unit's current (not deprecated) station of that name (`datastore.ingest.register_unit`),
so after an edit the unit's next announcement maps to the new record, and after a
deprecation or a removal an announcement creates the station afresh. An announcement of
another window replaces the record too, and its queued experiments move or are cancelled
by the same rule as an edit's (`move_or_cancel_queued`); that one is not refused while the
station is busy (the unit knows what its hardware can apply): what runs or is being
started stays on the old record.

Each write takes a Session and leaves committing to the caller (one transaction);
refusals raise `datastore.catalog.CatalogError` with a sentence for the user.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, CursorResult, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from datastore.catalog import (
    CatalogError,
    battery_rating,
    create_station,
    get_station,
    parsed_profile,
    station_window,
)
from datastore.models import ComputationalUnit, Experiment, Station
from datastore.types import utcnow
from domain.profiles import check_compatibility
from domain.status import ACTIVE_STATUSES, ExperimentStatus
from domain.window import Window

# ---------------------------------------------------------------- the board


@dataclass(frozen=True)
class StationRow:
    """One station as the stations page lists it."""

    id: int
    name: str
    location: str
    voltage_min: float
    voltage_max: float
    current_min: float
    current_max: float
    last_heartbeat: dt.datetime | None
    reported_state: str | None
    deprecated: bool
    # Its running, paused or being-started experiment: (id, name, status), if any.
    current: tuple[int, str, str] | None
    queued: int  # queued experiments waiting for it
    experiments: int  # every experiment that ever used it, any status


@dataclass(frozen=True)
class UnitRow:
    """A computational unit (id None: the stations that have none) and its stations."""

    id: int | None
    name: str
    host: str
    last_heartbeat: dt.datetime | None
    stations: list[StationRow]


def station_board(session: Session, include_deprecated: bool = False) -> list[UnitRow]:
    """Every unit (by name) with its stations (by name, then id), and the stations without
    a unit last; in five queries, whatever the number of stations."""
    query = select(Station).order_by(Station.name, Station.id)
    if not include_deprecated:
        query = query.where(Station.deprecated.is_(False))
    stations = list(session.scalars(query))
    totals: dict[int | None, int] = dict(
        session.execute(
            select(Experiment.station_id, func.count()).group_by(Experiment.station_id)
        ).all()
    )
    current: dict[int, tuple[int, str, str]] = {}
    for row in session.execute(
        select(Experiment.id, Experiment.name, Experiment.status, Experiment.station_id)
        .where(_occupying())
        .order_by(Experiment.id)
    ):
        current.setdefault(row.station_id, (row.id, row.name, row.status.value))
    queued_waiting: dict[int | None, int] = dict(
        session.execute(
            select(Experiment.station_id, func.count())
            .where(Experiment.status == ExperimentStatus.QUEUED, Experiment.start_sent_at.is_(None))
            .group_by(Experiment.station_id)
        ).all()
    )
    by_unit: dict[int | None, list[StationRow]] = defaultdict(list)
    for station in stations:
        by_unit[station.computational_unit_id].append(
            StationRow(
                id=station.id,
                name=station.name,
                location=station.location,
                voltage_min=station.voltage_min,
                voltage_max=station.voltage_max,
                current_min=station.current_min,
                current_max=station.current_max,
                last_heartbeat=station.last_heartbeat,
                reported_state=station.reported_state,
                deprecated=station.deprecated,
                current=current.get(station.id),
                queued=queued_waiting.get(station.id, 0),
                experiments=totals.get(station.id, 0),
            )
        )
    units = [
        UnitRow(unit.id, unit.name, unit.host, unit.last_heartbeat, by_unit.get(unit.id, []))
        for unit in session.scalars(select(ComputationalUnit).order_by(ComputationalUnit.name))
    ]
    if by_unit.get(None):
        units.append(UnitRow(None, "", "", None, by_unit[None]))
    return units


def unit_names(session: Session) -> list[str]:
    """The names of the computational units, for choosing one in a form."""
    return list(session.scalars(select(ComputationalUnit.name).order_by(ComputationalUnit.name)))


def station_ids_by_unit(session: Session | Connection) -> dict[str, list[int]]:
    """Every unit's name with the ids of all its stations, deprecated ones included (a run
    started on an edited station ends on its old id): what the broker's ACL grants each
    unit. Stations of no unit are left out: no cycler may send for them."""
    rows = session.execute(
        select(ComputationalUnit.name, Station.id)
        .join(Station, Station.computational_unit_id == ComputationalUnit.id, isouter=True)
        .order_by(ComputationalUnit.name, Station.id)
    )
    units: dict[str, list[int]] = {}
    for name, station_id in rows:
        ids = units.setdefault(name, [])
        if station_id is not None:
            ids.append(station_id)
    return units


# ---------------------------------------------------------------- edit, deprecate, remove


@dataclass(frozen=True)
class AffectedExperiment:
    """A queued experiment a station change moved or cancelled, and why."""

    id: int
    name: str
    reason: str = ""


@dataclass
class StationChange:
    """What an edit, an announcement of another window or a deprecation did: the record
    now current (None after a deprecation), and the queued experiments moved to it or
    cancelled."""

    old_id: int
    new_id: int | None
    moved: list[AffectedExperiment] = field(default_factory=list)
    cancelled: list[AffectedExperiment] = field(default_factory=list)

    def describe(self) -> str:
        """One paragraph for the user: what became of the station and of its queue."""
        if self.new_id is None:
            parts = [f"Station {self.old_id} is deprecated."]
        else:
            parts = [
                f"Station {self.old_id} is deprecated and kept for its history; "
                f"station {self.new_id} takes the edited values."
            ]
        parts.append(self.describe_queue())
        return " ".join(parts)

    def describe_queue(self) -> str:
        """What became of the queued experiments: moved (to where) and cancelled (why)."""
        parts = []
        if self.moved:
            parts.append(
                f"Moved to station {self.new_id}: {_listed(self.moved, with_reason=False)}."
            )
        if self.cancelled:
            parts.append(f"Cancelled: {_listed(self.cancelled, with_reason=True)}.")
        if not self.moved and not self.cancelled:
            parts.append("It had no queued experiments.")
        return " ".join(parts)


def _listed(experiments: Iterable[AffectedExperiment], *, with_reason: bool) -> str:
    return "; ".join(
        f"#{e.id} {e.name!r}" + (f" ({e.reason})" if with_reason and e.reason else "")
        for e in experiments
    )


def _occupying() -> Any:
    """Experiments that occupy their station: running, paused, or QUEUED with the start
    sent and not confirmed yet (the same rule as dispatch's)."""
    return Experiment.status.in_(list(ACTIVE_STATUSES)) | (
        (Experiment.status == ExperimentStatus.QUEUED) & Experiment.start_sent_at.is_not(None)
    )


def _current_station(session: Session, station_id: int, action: str) -> Station:
    """The station, locked for this transaction, refused when deprecated or occupied."""
    get_station(session, station_id)
    station: Station = session.scalars(
        select(Station).where(Station.id == station_id).with_for_update()
    ).one()
    if station.deprecated:
        raise CatalogError(f"station {station_id} is deprecated already; {action} its replacement")
    busy = session.execute(
        select(Experiment.id, Experiment.name, Experiment.status)
        .where(Experiment.station_id == station_id, _occupying())
        .order_by(Experiment.id)
        .limit(1)
    ).first()
    if busy is not None:
        doing = "being started" if busy.status == ExperimentStatus.QUEUED else busy.status.value
        raise CatalogError(
            f"station {station_id} {station.name!r} runs experiment #{busy.id} {busy.name!r} "
            f"({doing}); you cannot {action} it until that experiment ends"
        )
    return station


def _queued(session: Session, station_id: int) -> list[Experiment]:
    return list(
        session.scalars(
            select(Experiment)
            .where(
                Experiment.station_id == station_id,
                Experiment.status == ExperimentStatus.QUEUED,
                Experiment.start_sent_at.is_(None),
            )
            .order_by(Experiment.id)
        )
    )


def _claim_queued(session: Session, experiment_ids: list[int], values: dict[str, Any]) -> None:
    """Change queued experiments only while they are still queued and not being started;
    if the node started one meanwhile, refuse the whole change (the caller rolls back)."""
    if not experiment_ids:
        return
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(Experiment)
        .where(
            Experiment.id.in_(experiment_ids),
            Experiment.status == ExperimentStatus.QUEUED,
            Experiment.start_sent_at.is_(None),
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != len(experiment_ids):
        raise CatalogError(
            "one of the station's queued experiments was started meanwhile; nothing was "
            "changed, look again and retry"
        )


def _cancel(session: Session, experiments: list[AffectedExperiment]) -> None:
    now = utcnow()
    for experiment in experiments:
        _claim_queued(
            session,
            [experiment.id],
            {
                "status": ExperimentStatus.CANCELLED,
                "finished_at": now,
                "status_message": f"cancelled: {experiment.reason}",
            },
        )


@dataclass(frozen=True)
class Replacement:
    """Why a station record was replaced, in the words a cancelled experiment's status
    message gives (after "cancelled: ")."""

    misfit: str  # followed by ": " and what does not fit
    profile_deleted: str


EDITED = Replacement(
    misfit="does not fit the edited station",
    profile_deleted="its profile was deleted, so its fit to the edited station cannot be checked",
)
ANNOUNCED = Replacement(
    misfit="the station's unit announced a new window that the profile does not fit",
    profile_deleted=(
        "its profile was deleted, so its fit to the new window the station's unit announced "
        "cannot be checked"
    ),
)


def edit_station(
    session: Session,
    station_id: int,
    *,
    name: str,
    voltage_min: float,
    voltage_max: float,
    current_min: float,
    current_max: float,
    location: str = "",
    unit_name: str | None = None,
) -> StationChange:
    """Deprecate the station and create its replacement with these values; move its
    queued experiments that still fit, cancel the others (see the module's docstring)."""
    old = _current_station(session, station_id, "edit")
    old_unit = old.computational_unit.name if old.computational_unit else None
    unchanged = (
        (name or "").strip() == old.name
        and (location or "").strip() == old.location
        and ((unit_name or "").strip() or None) == old_unit
        and (float(voltage_min), float(voltage_max), float(current_min), float(current_max))
        == (old.voltage_min, old.voltage_max, old.current_min, old.current_max)
    )
    if unchanged:
        raise CatalogError("nothing to change: the values are the station's own")
    old.deprecated = True
    session.flush()
    new = create_station(
        session,
        name=name,
        location=location,
        unit_name=unit_name,
        voltage_min=voltage_min,
        voltage_max=voltage_max,
        current_min=current_min,
        current_max=current_max,
        devices=list(old.devices or []),
    )
    return move_or_cancel_queued(session, old.id, new.id, station_window(new), EDITED)


def move_or_cancel_queued(
    session: Session, old_id: int, new_id: int, window: Window, why: Replacement
) -> StationChange:
    """Move the queued experiments of the replaced record `old_id` to its replacement
    `new_id` (whose window is `window`) when their profile still fits the battery and that
    window; cancel the others, saying why. One rule for both ways a record is replaced:
    an edit on the stations page and an announcement of another window by the station's
    unit (`datastore.ingest.register_unit`).

    Only queued experiments whose start has not been sent are touched: one being started,
    running or paused stays on the record it was started on. The caller has deprecated
    `old_id` in this same transaction; if the node starts one of these experiments
    meanwhile, CatalogError and nothing changes (the caller rolls back).
    """
    change = StationChange(old_id, new_id)
    for experiment in _queued(session, old_id):
        reason = _misfit(experiment, window, why)
        if reason:
            change.cancelled.append(AffectedExperiment(experiment.id, experiment.name, reason))
        else:
            change.moved.append(AffectedExperiment(experiment.id, experiment.name))
    _claim_queued(session, [e.id for e in change.moved], {"station_id": new_id})
    _cancel(session, change.cancelled)
    return change


def _misfit(experiment: Experiment, window: Window, why: Replacement) -> str:
    """Why a queued experiment cannot move to a station with this window ('' if it can)."""
    if experiment.profile is None:
        return why.profile_deleted
    compatibility = check_compatibility(
        parsed_profile(experiment.profile), battery_rating(experiment.battery), window
    )
    if compatibility.fits:
        return ""
    return f"{why.misfit}: " + "; ".join(compatibility.problems)


def deprecate_station(session: Session, station_id: int) -> StationChange:
    """Deprecate the station and cancel its queued experiments; refused while it runs one."""
    station = _current_station(session, station_id, "deprecate")
    station.deprecated = True
    change = StationChange(station.id, None)
    reason = f"station {station.id} {station.name!r} was deprecated"
    change.cancelled = [
        AffectedExperiment(experiment.id, experiment.name, reason)
        for experiment in _queued(session, station.id)
    ]
    _cancel(session, change.cancelled)
    session.flush()
    return change


def remove_station(session: Session, station_id: int) -> str:
    """Delete a station no experiment ever used (e.g. one a unit announced by mistake);
    returns its name. Refused, with the reason, when it has any experiment."""
    station = get_station(session, station_id)
    used = list(
        session.scalars(
            select(Experiment.id)
            .where(Experiment.station_id == station_id)
            .order_by(Experiment.id)
            .limit(6)
        )
    )
    if used:
        shown = ", ".join(f"#{i}" for i in used[:5]) + (" …" if len(used) > 5 else "")
        hint = "" if station.deprecated else "; deprecate it instead"
        raise CatalogError(
            f"station {station_id} {station.name!r} has experiments ({shown}), so it stays "
            f"for their history{hint}"
        )
    name = station.name
    try:
        session.execute(delete(Station).where(Station.id == station_id))
    except IntegrityError:
        # An experiment was queued on it at the same moment (the foreign key refuses).
        raise CatalogError(
            f"station {station_id} {name!r} was just given an experiment; it stays"
        ) from None
    session.expunge(station)
    return name
