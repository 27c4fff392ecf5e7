"""Writing and reading the lab's catalogue: batteries, units, stations, profiles, experiments.

Each function takes a Session and leaves committing to the caller, so one command or
one form submission is one transaction. Refusals raise `CatalogError` (or its
subclasses) with a sentence for the user; profile text problems raise
`domain.profiles.ProfileError`. Neither ever carries a database trace.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import CursorResult, and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from datastore.models import Battery, ComputationalUnit, Experiment, Profile, Station
from datastore.types import utcnow
from domain.batteries import (
    BatteryError,
    BatteryProblems,
    descriptive_problems,
    ordered,
    rating_problems,
    validate_window,
)
from domain.experiment_details import DetailsError, validate_experiment_details
from domain.profiles import (
    BatteryRating,
    Compatibility,
    FitBounds,
    check_compatibility,
    expand_profile,
    fit_bounds,
    parse_profile,
    profile_demand,
    profile_from_json,
)
from domain.profiles import Profile as ParsedProfile
from domain.profiles.start_size import (
    CYCLER_MAX_PAYLOAD_BYTES,
    check_profile_start_size,
    check_start_size,
)
from domain.status import ACTIVE_STATUSES, ExperimentStatus
from domain.window import Window

log = logging.getLogger("bem.datastore")


class CatalogError(ValueError):
    """A request the catalogue refuses; the message says why in one sentence."""


class NotFoundError(CatalogError):
    """No row with the given id."""


class DuplicateError(CatalogError):
    """The row would repeat an existing identity."""


class BatteryDataError(CatalogError, BatteryProblems):
    """Battery data the catalogue refuses: `problems` keys each by its field (a form shows
    it beside that field); the message lists them in one line ("name: ...; capacity: ...")."""


class DuplicateBatteryError(BatteryDataError, DuplicateError):
    """Battery data that repeats another battery's name or serial number (and maybe more)."""


class IncompatibleProfileError(CatalogError):
    """The profile does not fit the battery and station; `compatibility` has the reasons."""

    def __init__(self, profile_name: str, compatibility: Compatibility) -> None:
        self.compatibility = compatibility
        reasons = "; and ".join(compatibility.problems)
        super().__init__(f"profile {profile_name!r} does not fit: {reasons}")


# Column lengths of the schema, checked here so SQLite and MariaDB refuse the same input.
_NAME_LENGTH = 100
_LOCATION_LENGTH = 200
_EXPERIMENT_NAME_LENGTH = 200


def _text(field: str, value: str | None, max_length: int, required: bool = False) -> str:
    cleaned = (value or "").strip()
    if required and not cleaned:
        raise CatalogError(f"{field}: must not be empty")
    if len(cleaned) > max_length:
        raise CatalogError(f"{field}: at most {max_length} characters, got {len(cleaned)}")
    return cleaned


def _check_window(
    voltage_min: float, voltage_max: float, current_min: float, current_max: float
) -> None:
    try:
        validate_window(voltage_min, voltage_max, current_min, current_max)
    except BatteryError as error:
        raise CatalogError(str(error)) from None


def _flush(session: Session, what: str) -> None:
    """Flush, turning a constraint violation (e.g. a concurrent duplicate) into a CatalogError."""
    try:
        session.flush()
    except IntegrityError as error:
        # The driver's text holds the SQL and its parameters: the log gets it, the user not.
        log.info("constraint violation while saving %s: %s", what, error.orig)
        raise DuplicateError(
            f"{what} conflicts with an existing record (the same name or number exists already)"
        ) from None


def _get(session: Session, model: type, row_id: int, label: str) -> Any:
    row = session.get(model, row_id)
    if row is None:
        raise NotFoundError(f"there is no {label} with id {row_id}")
    return row


def get_battery(session: Session, battery_id: int) -> Battery:
    return _get(session, Battery, battery_id, "battery")


def get_station(session: Session, station_id: int) -> Station:
    return _get(session, Station, station_id, "station")


def get_profile(session: Session, profile_id: int) -> Profile:
    return _get(session, Profile, profile_id, "profile")


def get_experiment(session: Session, experiment_id: int) -> Experiment:
    return _get(session, Experiment, experiment_id, "experiment")


# ---------------------------------------------------------------- batteries


def _battery_duplicates(
    session: Session, name: str, serial_number: str, exclude: int | None = None
) -> dict[str, str]:
    """The name, and a non-empty serial number, are unique among batteries whatever their
    letter case: "Cell 1" and "cell 1" would be confused on every list and label."""
    others = select(Battery.id, Battery.name, Battery.serial_number)
    if exclude is not None:
        others = others.where(Battery.id != exclude)
    problems: dict[str, str] = {}
    same_name = session.execute(
        others.where(func.lower(Battery.name) == name.lower()).order_by(Battery.id).limit(1)
    ).first()
    if same_name is not None:
        problems["name"] = (
            f"battery {same_name.id} is called {same_name.name!r} already; "
            "names are unique, whatever the letter case"
        )
    if serial_number:
        same_serial = session.execute(
            others.where(func.lower(Battery.serial_number) == serial_number.lower())
            .order_by(Battery.id)
            .limit(1)
        ).first()
        if same_serial is not None:
            problems["serial"] = (
                f"battery {same_serial.id} {same_serial.name!r} has serial number "
                f"{same_serial.serial_number!r} already"
            )
    return problems


def _refuse(problems: dict[str, str], duplicates: dict[str, str], technology: str) -> None:
    """Raise every problem at once, in the order of the form's fields."""
    if duplicates:
        raise DuplicateBatteryError(ordered({**problems, **duplicates}, technology))
    if problems:
        raise BatteryDataError(ordered(problems, technology))


def _given(value: float | None) -> float:
    """A number checked already (`rating_problems` refuses None)."""
    if value is None:
        raise CatalogError("a required number is missing")
    return float(value)


def create_battery(
    session: Session,
    *,
    name: str,
    technology: str,
    voltage_min: float | None,
    voltage_max: float | None,
    current_min: float | None,
    current_max: float | None,
    nominal_capacity_ah: float | None = None,
    manufacturer: str = "",
    model: str = "",
    serial_number: str = "",
    cells_in_series: int | float = 1,
    cell_voltage_min: float | None = None,
    cell_voltage_max: float | None = None,
    fabrication_date: dt.date | None = None,
    description: str = "",
    details: Mapping[str, object] | None = None,
) -> Battery:
    """Add a battery after checking every field (`domain.batteries`); the name, and the
    serial number when given, are unique whatever the letter case. Every problem is
    refused at once (`BatteryDataError`, `DuplicateBatteryError`); a window limit of None
    (a form's empty field) is refused as missing."""
    cleaned_details, problems = descriptive_problems(
        name=name,
        technology=technology,
        details=dict(details or {}),
        manufacturer=manufacturer,
        model=model,
        serial=serial_number,
        description=description,
    )
    problems.update(
        rating_problems(
            voltage_min=voltage_min,
            voltage_max=voltage_max,
            current_min=current_min,
            current_max=current_max,
            capacity=nominal_capacity_ah,
            cells=cells_in_series,
            cell_voltage_min=cell_voltage_min,
            cell_voltage_max=cell_voltage_max,
        )
    )
    name, serial_number = name.strip(), (serial_number or "").strip()
    duplicates = _battery_duplicates(
        session, name, serial_number if "serial" not in problems else ""
    )
    _refuse(problems, {k: v for k, v in duplicates.items() if k not in problems}, technology)
    battery = Battery(
        name=name,
        description=(description or "").strip(),
        manufacturer=(manufacturer or "").strip(),
        model=(model or "").strip(),
        serial_number=serial_number,
        fabrication_date=fabrication_date,
        technology=technology,
        cells_in_series=int(cells_in_series),
        voltage_min=_given(voltage_min),
        voltage_max=_given(voltage_max),
        current_min=_given(current_min),
        current_max=_given(current_max),
        cell_voltage_min=None if cell_voltage_min is None else float(cell_voltage_min),
        cell_voltage_max=None if cell_voltage_max is None else float(cell_voltage_max),
        nominal_capacity_ah=None if nominal_capacity_ah is None else float(nominal_capacity_ah),
        details=cleaned_details,
    )
    session.add(battery)
    _flush(session, f"battery {name!r}")
    return battery


def edit_battery(
    session: Session,
    battery_id: int,
    *,
    name: str,
    description: str = "",
    manufacturer: str = "",
    model: str = "",
    serial_number: str = "",
    fabrication_date: dt.date | None = None,
    details: Mapping[str, object] | None = None,
) -> Battery:
    """Change a battery's descriptive fields, checked as `create_battery` checks them (its
    own name and serial number do not count as duplicates).

    Its technology, safe window, cells and capacity stay: its experiments were checked
    against them and their samples were recorded within them.
    """
    battery = get_battery(session, battery_id)
    cleaned_details, problems = descriptive_problems(
        name=name,
        technology=battery.technology,
        details=dict(details or {}),
        manufacturer=manufacturer,
        model=model,
        serial=serial_number,
        description=description,
    )
    name, serial_number = name.strip(), (serial_number or "").strip()
    duplicates = _battery_duplicates(
        session, name, serial_number if "serial" not in problems else "", exclude=battery_id
    )
    _refuse(
        problems, {k: v for k, v in duplicates.items() if k not in problems}, battery.technology
    )
    battery.name = name
    battery.description = (description or "").strip()
    battery.manufacturer = (manufacturer or "").strip()
    battery.model = (model or "").strip()
    battery.serial_number = serial_number
    battery.fabrication_date = fabrication_date
    battery.details = cleaned_details
    _flush(session, f"battery {name!r}")
    return battery


def battery_window(battery: Battery) -> Window:
    """The battery's safe window."""
    return Window(
        battery.voltage_min, battery.voltage_max, battery.current_min, battery.current_max
    )


def battery_rating(battery: Battery) -> BatteryRating:
    """The battery as the profile language sees it: its safe window and capacity."""
    return BatteryRating(battery_window(battery), battery.nominal_capacity_ah)


# ---------------------------------------------------------------- units and stations


def get_or_create_computational_unit(session: Session, name: str) -> ComputationalUnit:
    """The unit with this name, created (with no host yet) if missing."""
    name = _text("unit", name, _NAME_LENGTH, required=True)
    unit = session.scalar(select(ComputationalUnit).where(ComputationalUnit.name == name))
    if unit is None:
        unit = ComputationalUnit(name=name)
        session.add(unit)
        _flush(session, f"computational unit {name!r}")
    return unit


def create_station(
    session: Session,
    *,
    name: str,
    voltage_min: float,
    voltage_max: float,
    current_min: float,
    current_max: float,
    location: str = "",
    unit_name: str | None = None,
    devices: list[dict[str, Any]] | None = None,
) -> Station:
    """Add a station; a unit named by `unit_name` is created if missing.

    A unit cannot have two current (non-deprecated) stations of the same name, since
    cyclers announce their stations by unit and name.
    """
    name = _text("name", name, _NAME_LENGTH, required=True)
    location = _text("location", location, _LOCATION_LENGTH)
    _check_window(voltage_min, voltage_max, current_min, current_max)
    unit = get_or_create_computational_unit(session, unit_name) if unit_name else None
    unit_id = unit.id if unit else None
    existing = session.scalar(
        select(Station.id).where(
            Station.name == name,
            Station.computational_unit_id.is_(None)
            if unit_id is None
            else Station.computational_unit_id == unit_id,
            Station.deprecated.is_(False),
        )
    )
    if existing is not None:
        where = f"on unit {unit_name!r}" if unit else "without a unit"
        raise DuplicateError(f"station {name!r} {where} exists already with id {existing}")
    station = Station(
        name=name,
        location=location,
        computational_unit_id=unit_id,
        devices=devices or [],
        voltage_min=float(voltage_min),
        voltage_max=float(voltage_max),
        current_min=float(current_min),
        current_max=float(current_max),
    )
    session.add(station)
    _flush(session, f"station {name!r}")
    return station


def station_window(station: Station) -> Window:
    """The window the station can apply."""
    return Window(
        station.voltage_min, station.voltage_max, station.current_min, station.current_max
    )


# ---------------------------------------------------------------- profiles


def create_profile(
    session: Session,
    *,
    name: str,
    source: str,
    description: str = "",
    max_steps: int,
    max_start_bytes: int = CYCLER_MAX_PAYLOAD_BYTES,
) -> Profile:
    """Parse and store a profile with its envelope; ProfileError lists what is wrong,
    including a start command larger than `max_start_bytes` (node.max_payload_bytes)."""
    profile = Profile(**_profile_columns(name, source, description, max_steps, max_start_bytes))
    session.add(profile)
    _flush(session, f"profile {profile.name!r}")
    return profile


def _profile_columns(
    name: str, source: str, description: str, max_steps: int, max_start_bytes: int
) -> dict[str, Any]:
    """A profile's stored columns from what was typed: checked name, text, parse, envelope.

    A profile whose start command could not reach a cycler is refused here, so that an
    accepted profile can always start."""
    name = _text("name", name, _NAME_LENGTH, required=True)
    parsed = parse_profile(source, max_steps=max_steps)
    check_profile_start_size(parsed, max_start_bytes)
    return {
        "name": name,
        "description": description or "",
        "source": source,
        "instructions": parsed.to_json(),
        "step_count": parsed.step_count,
        **profile_demand(parsed).as_columns(),
    }


def experiments_using_profile(session: Session, profile_id: int) -> int:
    """How many experiments (of any status) were queued or imported with the profile."""
    count = session.scalar(
        select(func.count()).select_from(Experiment).where(Experiment.profile_id == profile_id)
    )
    return int(count or 0)


def save_profile_edit(
    session: Session,
    profile_id: int,
    *,
    name: str,
    source: str,
    description: str = "",
    max_steps: int,
    max_start_bytes: int = CYCLER_MAX_PAYLOAD_BYTES,
) -> Profile:
    """Save an edit of a stored profile, in place or as its next version; returns the row.

    An experiment keeps the profile it was queued with (its page and report show that
    text), so a profile that any experiment uses never changes: the edit is stored as a
    new row, version n + 1 of the same profile (n the highest version so far), linked to
    the row it came from, and the old row stays as it is. A profile no experiment uses is
    updated in place. An edit that changes nothing makes no version. ProfileError lists
    what is wrong with the text; nothing is stored then.
    """
    columns = _profile_columns(name, source, description, max_steps, max_start_bytes)
    # Locked, so an experiment queued meanwhile on MariaDB waits for this decision.
    profile = session.scalar(select(Profile).where(Profile.id == profile_id).with_for_update())
    if profile is None:
        raise NotFoundError(f"there is no profile with id {profile_id}")
    if all(getattr(profile, key) == columns[key] for key in ("name", "description", "source")):
        return profile
    if experiments_using_profile(session, profile.id) == 0:
        for key, value in columns.items():
            setattr(profile, key, value)
        _flush(session, f"profile {profile.name!r}")
        return profile
    origin_id = profile.origin_id or profile.id
    latest = session.scalar(
        select(func.max(Profile.version)).where(
            or_(Profile.id == origin_id, Profile.origin_id == origin_id)
        )
    )
    version = Profile(
        **columns,
        version=max(latest or 1, profile.version) + 1,
        previous_id=profile.id,
        origin_id=origin_id,
    )
    session.add(version)
    _flush(session, f"version {version.version} of profile {profile.name!r}")
    return version


def parsed_profile(profile: Profile) -> ParsedProfile:
    """The stored structure of a profile, as the domain's Profile."""
    return profile_from_json(profile.instructions)


def _fit_clauses(bounds: FitBounds) -> list[Any]:
    """The SQL twin of domain.profiles.demand_fits: one clause per comparison, same numbers."""
    window = bounds.window
    clauses = [
        or_(Profile.voltage_min.is_(None), Profile.voltage_min >= window.voltage_min),
        or_(Profile.voltage_max.is_(None), Profile.voltage_max <= window.voltage_max),
        or_(Profile.current_min.is_(None), Profile.current_min >= window.current_min),
        or_(Profile.current_max.is_(None), Profile.current_max <= window.current_max),
        or_(
            Profile.power_max.is_(None),
            and_(Profile.power_max > 0, Profile.power_max <= bounds.charge_power_max),
            and_(Profile.power_max <= 0, Profile.power_max <= bounds.discharge_power_max),
        ),
        or_(
            Profile.power_min.is_(None),
            and_(Profile.power_min < 0, Profile.power_min >= bounds.discharge_power_min),
            and_(Profile.power_min >= 0, Profile.power_min >= bounds.charge_power_min),
        ),
    ]
    if bounds.c_rate_min is None or bounds.c_rate_max is None:
        clauses += [Profile.c_rate_min.is_(None), Profile.c_rate_max.is_(None)]
    else:
        clauses += [
            or_(Profile.c_rate_min.is_(None), Profile.c_rate_min >= bounds.c_rate_min),
            or_(Profile.c_rate_max.is_(None), Profile.c_rate_max <= bounds.c_rate_max),
        ]
    return clauses


# What a list of profiles shows of each: its identity, size and envelope.
PROFILE_LIST_COLUMNS = (
    Profile.id,
    Profile.name,
    Profile.description,
    Profile.step_count,
    Profile.voltage_min,
    Profile.voltage_max,
    Profile.current_min,
    Profile.current_max,
    Profile.c_rate_min,
    Profile.c_rate_max,
    Profile.power_min,
    Profile.power_max,
)


def compatible_profiles(session: Session, battery_id: int, station_id: int) -> list[dict[str, Any]]:
    """The stored profiles whose envelope fits battery ∩ station, filtered in the database."""
    battery = get_battery(session, battery_id)
    station = get_station(session, station_id)
    bounds = fit_bounds(battery_rating(battery), station_window(station))
    if bounds.window_empty:
        return []
    query = select(*PROFILE_LIST_COLUMNS).where(*_fit_clauses(bounds)).order_by(Profile.id)
    return [dict(row._mapping) for row in session.execute(query)]


def profile_compatibility(
    session: Session, profile_id: int, battery_id: int, station_id: int
) -> Compatibility:
    """The verdict, with reasons, for one stored profile on a battery and a station."""
    profile = get_profile(session, profile_id)
    return check_compatibility(
        parsed_profile(profile),
        battery_rating(get_battery(session, battery_id)),
        station_window(get_station(session, station_id)),
    )


# ---------------------------------------------------------------- experiments


def queue_experiment(
    session: Session,
    *,
    name: str,
    battery_id: int,
    station_id: int,
    profile_id: int,
    description: str = "",
    max_steps: int,
    details: Mapping[str, object] | None = None,
    max_start_bytes: int = CYCLER_MAX_PAYLOAD_BYTES,
) -> Experiment:
    """Queue an experiment after checking the profile fits; its steps are expanded now.

    C-rates are resolved against the battery's nominal capacity at this moment, so the
    steps sent to the cycler never change afterwards. A battery runs one experiment at a
    time: while one of its experiments is RUNNING or PAUSED nothing more is queued for
    it; behind a QUEUED one it may wait (the node starts them one after the other).
    `details` are the run conditions of the battery's technology
    (domain.experiment_details), all of them when given; None records none. Steps whose
    start command would be larger than `max_start_bytes` (node.max_payload_bytes) are
    refused with a ProfileError: the experiment could never start.
    """
    name = _text("name", name, _EXPERIMENT_NAME_LENGTH, required=True)
    battery = get_battery(session, battery_id)
    _refuse_busy_battery(session, battery)
    try:
        conditions = (
            None if details is None else validate_experiment_details(battery.technology, details)
        )
    except DetailsError as error:
        raise CatalogError(str(error)) from None
    station = get_station(session, station_id)
    if station.deprecated:
        raise CatalogError(f"station {station_id} is deprecated; choose its replacement")
    # Read for share: an edit of the profile in progress (`save_profile_edit`, which may
    # change an unused profile in place) ends first, so the steps are expanded from the
    # text the experiment will point to.
    profile = session.scalar(
        select(Profile)
        .where(Profile.id == profile_id)
        .with_for_update(read=True)
        .execution_options(populate_existing=True)
    )
    if profile is None:
        raise NotFoundError(f"there is no profile with id {profile_id}")
    parsed = parsed_profile(profile)
    compatibility = check_compatibility(parsed, battery_rating(battery), station_window(station))
    if not compatibility.fits:
        raise IncompatibleProfileError(profile.name, compatibility)
    steps = expand_profile(parsed, battery.nominal_capacity_ah, max_steps=max_steps)
    check_start_size(steps, max_start_bytes)
    experiment = Experiment(
        name=name,
        description=description or "",
        battery_id=battery.id,
        station_id=station.id,
        profile_id=profile.id,
        status=ExperimentStatus.QUEUED,
        steps=[step.to_json() for step in steps],
        details=conditions or None,
    )
    session.add(experiment)
    _flush(session, f"experiment {name!r}")
    return experiment


def active_experiment_of_battery(session: Session, battery_id: int) -> Experiment | None:
    """The battery's RUNNING or PAUSED experiment, if it has one."""
    return session.scalar(
        select(Experiment)
        .where(
            Experiment.battery_id == battery_id,
            Experiment.status.in_(list(ACTIVE_STATUSES)),
        )
        .order_by(Experiment.id)
        .limit(1)
    )


def battery_busy_reason(session: Session, battery: Battery) -> str | None:
    """Why the battery takes no new experiment now (it runs one), or None when it is free."""
    active = active_experiment_of_battery(session, battery.id)
    if active is None:
        return None
    where = f" on station {active.station.name!r}" if active.station is not None else ""
    return (
        f"battery {battery.name!r} is busy: experiment {active.id} {active.name!r} is "
        f"{active.status}{where}; queue this one after it ends"
    )


def _refuse_busy_battery(session: Session, battery: Battery) -> None:
    reason = battery_busy_reason(session, battery)
    if reason is not None:
        raise CatalogError(reason)


def cancel_experiment(session: Session, experiment_id: int) -> Experiment:
    """Cancel a QUEUED experiment; any other status is refused with the reason.

    The status test and the change are one UPDATE, so an experiment the node starts
    at the same moment is never both running and cancelled.
    """
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(Experiment)
        .where(Experiment.id == experiment_id, Experiment.status == ExperimentStatus.QUEUED)
        .values(status=ExperimentStatus.CANCELLED, finished_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    # Reload, so an instance already in the session shows the row as it now is.
    experiment = session.get(Experiment, experiment_id, populate_existing=True)
    if experiment is None:
        raise NotFoundError(f"there is no experiment with id {experiment_id}")
    if result.rowcount != 1:
        raise CatalogError(
            f"experiment {experiment_id} is {experiment.status}; "
            "only QUEUED experiments can be cancelled"
        )
    return experiment
