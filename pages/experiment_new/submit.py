"""The server's side of the form: checking every field, then queueing.

`queue_new_experiment` checks the whole form first, so every problem is reported at once
beside its field (`FormErrors`); only then does it call `catalog.queue_experiment`,
which checks again in the same transaction. Raised inside `context.session()`, either
error rolls everything back: nothing is ever queued half-way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy.orm import Session

from components.forms import parse_id
from datastore import catalog
from datastore.models import Battery, Experiment, Profile, Station
from domain.experiment_details import DetailsError, experiment_fields, validate_experiment_details
from domain.profiles import (
    ProfileError,
    check_compatibility,
)

# The profile comes from the stored list, or from text written or uploaded on the page.
STORED = "stored"
WRITTEN = "written"

# Kept in step with the experiments.name column.
NAME_LENGTH = 200


class FormErrors(Exception):
    """What is wrong with the form: field name (or "form") -> a sentence for beside it."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        self.problems = dict(problems)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.problems.items()))


@dataclass(frozen=True)
class NewExperiment:
    """The form as submitted: raw values, as the browser sends them."""

    battery: object = None
    station: object = None
    profile_source: str = STORED
    profile: object = None
    name: str | None = None
    description: str | None = None
    conditions: Mapping[str, object] = field(default_factory=dict)


def _sentence(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


Row = TypeVar("Row", Battery, Station)


def _chosen(
    session: Session, model: type[Row], value: object, name: str, problems: dict[str, str]
) -> Row | None:
    """The row of `model` the select `name` names; a problem beside that field otherwise."""
    row_id = parse_id(value)
    if row_id is None:
        problems[name] = f"Choose a {name}."
        return None
    row = session.get(model, row_id)
    if row is None:
        problems[name] = f"There is no {name} with id {row_id}; choose another."
    return row


def _battery(session: Session, value: object, problems: dict[str, str]) -> Battery | None:
    battery = _chosen(session, Battery, value, "battery", problems)
    if battery is not None:
        busy = catalog.battery_busy_reason(session, battery)
        if busy is not None:
            problems["battery"] = _sentence(busy)
    return battery


def _station(session: Session, value: object, problems: dict[str, str]) -> Station | None:
    station = _chosen(session, Station, value, "station", problems)
    if station is not None and station.deprecated:
        problems["station"] = f"Station {station.name} is deprecated; choose its replacement."
        return None
    return station


def _profile(
    session: Session,
    form: NewExperiment,
    battery: Battery | None,
    station: Station | None,
    problems: dict[str, str],
) -> Profile | None:
    if form.profile_source == WRITTEN:
        problems["profile"] = (
            "Save the profile you wrote (Save profile) so it is selected, or choose a stored one."
        )
        return None
    profile_id = parse_id(form.profile)
    if profile_id is None:
        problems["profile"] = "Choose a profile."
        return None
    profile = session.get(Profile, profile_id)
    if profile is None:
        problems["profile"] = f"There is no profile with id {profile_id}; choose another."
        return None
    if battery is not None and station is not None:
        verdict = check_compatibility(
            catalog.parsed_profile(profile),
            catalog.battery_rating(battery),
            catalog.station_window(station),
        )
        if not verdict.fits:
            problems["profile"] = _sentence(
                f"profile {profile.name!r} does not fit: {'; and '.join(verdict.problems)}"
            )
    return profile


def _conditions(battery: Battery | None, form: NewExperiment, problems: dict[str, str]) -> dict:
    """The battery's run conditions, checked; values of other technologies' (hidden) fields
    are ignored."""
    if battery is None:
        return {}
    names = [f.name for f in experiment_fields(battery.technology)]
    try:
        return validate_experiment_details(
            battery.technology, {name: form.conditions.get(name) for name in names}
        )
    except DetailsError as error:
        problems.update({name: _sentence(message) for name, message in error.problems.items()})
        return {}


def queue_new_experiment(session: Session, form: NewExperiment, *, max_steps: int) -> Experiment:
    """Check every field, then queue; FormErrors names each field that is wrong."""
    problems: dict[str, str] = {}
    battery = _battery(session, form.battery, problems)
    station = _station(session, form.station, problems)
    profile = _profile(session, form, battery, station, problems)
    name = (form.name or "").strip()
    if not name:
        problems["name"] = "Give the experiment a name."
    elif len(name) > NAME_LENGTH:
        problems["name"] = f"At most {NAME_LENGTH} characters, got {len(name)}."
    conditions = _conditions(battery, form, problems)
    if problems:
        raise FormErrors(problems)
    assert battery is not None and station is not None and profile is not None
    try:
        return catalog.queue_experiment(
            session,
            name=name,
            description=(form.description or "").strip(),
            battery_id=battery.id,
            station_id=station.id,
            profile_id=profile.id,
            max_steps=max_steps,
            details=conditions if experiment_fields(battery.technology) else None,
        )
    except (catalog.CatalogError, ProfileError) as error:
        # Checked above; what is left is a change between the checks and the insert.
        raise FormErrors({"form": _sentence(str(error))}) from None
