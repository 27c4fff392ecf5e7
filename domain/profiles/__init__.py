"""The cycling-profile language (docs/profiles.md), free of Dash, MQTT and SQL.

- `language`: parse text into a `Profile`, report every problem as a `ProfileError`,
  write canonical text and the stored JSON form.
- `envelope`: what a profile demands, resolved for a battery, and whether a
  (battery, station) pair can run it.
- `expansion`: the flat list of `ExpandedStep`s a cycler runs.
- `sketch`: the first steps' set points, C-rates resolved or not, for drawing a profile.

Typical use::

    profile = parse_profile(text, max_steps=settings.profiles.max_steps)
    verdict = check_compatibility(profile, battery_rating, station_window)
    steps = expand_profile(profile, capacity_ah=battery.nominal_capacity_ah)
"""

from domain.profiles.envelope import (
    BatteryRating,
    Compatibility,
    Demand,
    Envelope,
    FitBounds,
    FitChecks,
    check_compatibility,
    cp_current_range,
    demand_fits,
    fit_bounds,
    format_value,
    profile_demand,
    resolve_envelope,
)
from domain.profiles.expansion import ExpandedStep, expand_profile
from domain.profiles.language import (
    ALLOWED_LIMITS,
    MAX_NESTING,
    MAX_TEXT_LENGTH,
    Instruction,
    Limit,
    Mode,
    Problem,
    Profile,
    ProfileError,
    Repeat,
    Step,
    canonical_text,
    check_step_count,
    count_steps,
    format_number,
    iter_steps,
    parse_profile,
    profile_from_json,
    profile_to_json,
)
from domain.profiles.sketch import C_RATE_UNIT, SKETCH_CAP, PlannedStep, Sketch, sketch_profile
from domain.window import Window

__all__ = [
    "ALLOWED_LIMITS",
    "C_RATE_UNIT",
    "MAX_NESTING",
    "MAX_TEXT_LENGTH",
    "SKETCH_CAP",
    "BatteryRating",
    "Compatibility",
    "Demand",
    "Envelope",
    "ExpandedStep",
    "FitBounds",
    "FitChecks",
    "Instruction",
    "Limit",
    "Mode",
    "Problem",
    "Profile",
    "PlannedStep",
    "ProfileError",
    "Repeat",
    "Sketch",
    "Step",
    "Window",
    "canonical_text",
    "check_compatibility",
    "check_step_count",
    "count_steps",
    "cp_current_range",
    "demand_fits",
    "expand_profile",
    "fit_bounds",
    "format_number",
    "format_value",
    "iter_steps",
    "parse_profile",
    "profile_demand",
    "profile_from_json",
    "profile_to_json",
    "resolve_envelope",
    "sketch_profile",
]
