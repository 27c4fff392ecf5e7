"""What the pages say about a profile's text, as pure functions of it: the live check
(problems by line, or the step count and envelope), the envelope in words with units, and
an uploaded file read as text. The profile editor and the new-experiment form both use it.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from domain.profiles import (
    BatteryRating,
    Compatibility,
    Demand,
    Envelope,
    Profile,
    ProfileError,
    check_compatibility,
    format_value,
    parse_profile,
    profile_demand,
)
from domain.profiles.start_size import check_profile_start_size
from domain.window import Window

# An uploaded profile file may be this large at most: a long real profile is a few kB.
MAX_UPLOAD_BYTES = 1_000_000
UPLOAD_SUFFIXES = (".txt",)
NOT_SET = "not set by the profile"


@dataclass(frozen=True)
class TextCheck:
    """The live check of a profile's text: its problems by line, or the parsed profile."""

    problems: tuple[str, ...] = ()
    profile: Profile | None = None

    @property
    def demand(self) -> Demand | None:
        return None if self.profile is None else profile_demand(self.profile)

    @property
    def step_count(self) -> int:
        return 0 if self.profile is None else self.profile.step_count


def check_text(
    text: str | None, *, max_steps: int, max_start_bytes: int | None = None
) -> TextCheck:
    """Parse the text: every problem with its line, or the profile (empty text: neither).
    With `max_start_bytes` (node.max_payload_bytes), a profile whose start command could
    not reach a cycler is a problem too, as Save will say."""
    if not (text or "").strip():
        return TextCheck()
    try:
        profile = parse_profile(text or "", max_steps=max_steps)
        if max_start_bytes is not None:
            check_profile_start_size(profile, max_start_bytes)
        return TextCheck(profile=profile)
    except ProfileError as error:
        return TextCheck(problems=tuple(str(problem) for problem in error.problems))


def verdict(
    check: TextCheck, battery: BatteryRating | None, station: Window | None
) -> Compatibility | None:
    """Whether a valid text fits the battery and the station; None until both are known."""
    if check.profile is None or battery is None or station is None:
        return None
    return check_compatibility(check.profile, battery, station)


def _span(low: float | None, high: float | None, unit: str) -> str:
    if low is None or high is None:
        return NOT_SET
    separator = "" if unit == "C" else " "  # 0.5C, as written in profiles
    return f"{format_value(low)}{separator}{unit} to {format_value(high)}{separator}{unit}"


def demand_rows(demand: Demand) -> list[tuple[str, str]]:
    """(quantity, range with its unit) of what a profile demands, in its own terms."""
    return [
        ("Voltage", _span(demand.voltage_min, demand.voltage_max, "V")),
        ("Current", _span(demand.current_min, demand.current_max, "A")),
        ("C-rate", _span(demand.c_rate_min, demand.c_rate_max, "C")),
        ("Power", _span(demand.power_min, demand.power_max, "W")),
    ]


def envelope_rows(envelope: Envelope) -> list[tuple[str, str]]:
    """(quantity, range) of an envelope resolved for one battery, in V and A."""
    return [
        ("Voltage", _span(envelope.voltage_min, envelope.voltage_max, "V")),
        ("Current", _span(envelope.current_min, envelope.current_max, "A")),
    ]


def demand_summary(demand: Demand) -> str:
    """The demand on one line, leaving out what the profile does not set."""
    parts = [f"{name.lower()} {span}" for name, span in demand_rows(demand) if span != NOT_SET]
    return "; ".join(parts) or "no voltage, current or power set point"


def version_label(name: str, version: int) -> str:
    """A profile as the pages name it: "CC-CV charge (v2)"."""
    return f"{name} (v{version})"


def steps_text(count: int) -> str:
    return f"{count:,} step{'' if count == 1 else 's'}"


def read_upload(contents: str | None, filename: str | None) -> tuple[str | None, str]:
    """(the text of an uploaded .txt file, "") or (None, why it cannot be used)."""
    if not contents:
        return None, ""
    shown = filename or "The file"
    if not (filename or "").lower().endswith(UPLOAD_SUFFIXES):
        return None, f"{shown}: expected a .txt file of profile text."
    try:
        data = base64.b64decode(contents.split(",", 1)[-1], validate=True)
    except (binascii.Error, ValueError):
        return None, f"{shown}: the file could not be read."
    if len(data) > MAX_UPLOAD_BYTES:
        return None, (
            f"{shown}: {len(data):,} bytes; a profile file may have at most "
            f"{MAX_UPLOAD_BYTES:,} bytes."
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None, f"{shown}: not a text file (it is not UTF-8 text)."
    if "\x00" in text:
        return None, f"{shown}: not a text file (it contains binary data)."
    return text, ""
