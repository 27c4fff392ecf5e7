"""MQTT protocol v1: the typed messages, their strict parsers and their compact encoders.

The wire format is fixed; docs/protocol.md explains it for cycler authors. This module
is pure Python (no paho, no database) so it can be tested, and reused by a simulated
cycler, without a broker. Expanded steps, windows and stations are the domain's types
(`ExpandedStep`, `Window`, `StationSpec`); the parsers build them and the encoders write
their JSON.

- `parse_<kind>(payload)` turns the bytes of one message into a frozen dataclass or
  raises `ProtocolError`, whose message names the field and what is wrong with it
  ("samples[3].voltage: expected a finite number, got 'abc'"). Nothing else escapes a
  parser for any input bytes. Unknown keys are ignored, so a newer cycler can add
  fields without breaking an older node.
- `encode_<kind>(...)` turns values into compact UTF-8 JSON. Encoders do not check
  the values beyond what JSON requires (finite numbers): a test cycler may want to
  send a message the node refuses.
- `QOS` gives the MQTT quality of service of each message kind.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from math import isfinite
from types import MappingProxyType
from typing import Any, Final, Protocol, TypeAlias, TypeVar

from domain.profiles.expansion import ExpandedStep
from domain.profiles.language import ALLOWED_LIMITS, Limit, Mode
from domain.stations import StationSpec
from domain.status import ExperimentStatus
from domain.window import WINDOW_KEYS, Window

PROTOCOL_VERSION: Final = 1

# Limits against abuse and against values the database cannot hold. The largest payload
# accepted is a setting (node.max_payload_bytes), passed to the parsers as `max_bytes`.
MAX_SAMPLES_PER_MESSAGE: Final = 100_000
MAX_ID: Final = 2**31 - 1  # ids and seq are signed 32-bit INT columns in MariaDB
MAX_NAME_CHARS: Final = 100  # unit, station, profile and channel names: VARCHAR(100)
MAX_HOST_CHARS: Final = 255
MAX_LOCATION_CHARS: Final = 200
MAX_CODE_CHARS: Final = 64
MAX_MODE_CHARS: Final = 8
# Free-text messages go to TEXT columns (65,535 bytes); 4 bytes per character at worst.
MAX_MESSAGE_CHARS: Final = 16_000

# Characters that would make a unit name unusable as one MQTT topic level.
_TOPIC_LEVEL_FORBIDDEN: Final = frozenset("/+#\x00")


class ProtocolError(ValueError):
    """A message or topic outside the protocol; the message says what is wrong and where."""


class MessageKind(StrEnum):
    """The kinds of message, named as the last level of their topic."""

    ANNOUNCE = "announce"
    REGISTERED = "registered"
    HEARTBEAT = "heartbeat"
    COMMANDS = "commands"
    STATUS = "status"
    MEASURES = "measures"
    ALARMS = "alarms"


# Heartbeats are superseded within seconds, so losing one costs nothing; everything
# else must arrive, and arrive once in effect (samples are idempotent by seq).
QOS: Final[Mapping[str, int]] = MappingProxyType(
    {
        MessageKind.ANNOUNCE: 1,
        MessageKind.REGISTERED: 1,
        MessageKind.HEARTBEAT: 0,
        MessageKind.COMMANDS: 1,
        MessageKind.STATUS: 1,
        MessageKind.MEASURES: 1,
        MessageKind.ALARMS: 1,
    }
)


class StationState(StrEnum):
    """What a heartbeat says the station is doing."""

    IDLE = "idle"
    RUNNING = "running"
    PAUSED = "paused"
    ERROR = "error"


class ControlAction(StrEnum):
    """The commands besides start."""

    STOP = "stop"
    PAUSE = "pause"
    RESUME = "resume"


# A cycler reports only what it did; QUEUED and CANCELLED belong to the web app.
REPORTABLE_STATUSES: Final = (
    ExperimentStatus.RUNNING,
    ExperimentStatus.PAUSED,
    ExperimentStatus.FINISHED,
    ExperimentStatus.ERROR,
)

# The keys of the start command's "limits" object (a `Window`: the window the cycler must
# keep) and of each announced station's window.
LIMIT_KEYS: Final = WINDOW_KEYS

_EMPTY_EXTRA: Final[Mapping[str, float]] = MappingProxyType({})


# ---------------------------------------------------------------- messages


@dataclass(frozen=True, slots=True)
class Announce:
    """cycler → node: a computational unit and its stations."""

    unit: str
    stations: tuple[StationSpec, ...]
    host: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "stations", tuple(self.stations))


@dataclass(frozen=True, slots=True)
class RegisteredStation:
    name: str
    station_id: int


@dataclass(frozen=True, slots=True)
class Registered:
    """node → cycler: the answer to an announce, the id of each station by name."""

    unit: str
    stations: tuple[RegisteredStation, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "stations", tuple(self.stations))


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """cycler → node: the station is alive and in `state`."""

    ts: float
    state: StationState
    experiment_id: int | None = None


@dataclass(frozen=True, slots=True)
class StartCommand:
    """node → cycler: run an experiment.

    `instructions` are the expanded steps (cycle and line None when the sender left
    them out); `limits` is the window the cycler must keep.
    """

    experiment_id: int
    profile_name: str
    instructions: tuple[ExpandedStep, ...]
    limits: Window
    # Optional description of the battery under test, for cyclers that model or log it:
    # technology, chemistry, nominal_capacity_ah, cells_in_series (any may be missing).
    battery: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "instructions", tuple(self.instructions))


@dataclass(frozen=True, slots=True)
class ControlCommand:
    """node → cycler: stop, pause or resume the experiment running on the station."""

    experiment_id: int
    command: ControlAction


@dataclass(frozen=True, slots=True)
class StatusReport:
    """cycler → node: the experiment changed status (one of `REPORTABLE_STATUSES`)."""

    experiment_id: int
    status: ExperimentStatus
    ts: float
    message: str = ""


@dataclass(frozen=True, slots=True)
class Sample:
    """One measurement. `power` is voltage × current when the cycler did not send it."""

    seq: int
    ts: float
    voltage: float
    current: float
    power: float
    instruction: int | None = None
    cycle: int | None = None
    mode: str | None = None
    extra: Mapping[str, float] = field(default_factory=lambda: _EMPTY_EXTRA)


@dataclass(frozen=True, slots=True)
class Measures:
    """cycler → node: samples of one experiment."""

    experiment_id: int
    samples: tuple[Sample, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "samples", tuple(self.samples))


@dataclass(frozen=True, slots=True)
class Alarm:
    """cycler → node: something happened that an operator should see."""

    experiment_id: int
    ts: float
    code: str
    value: float | None = None
    message: str = ""


Command: TypeAlias = StartCommand | ControlCommand
Message: TypeAlias = (
    Announce
    | Registered
    | Heartbeat
    | StartCommand
    | ControlCommand
    | StatusReport
    | Measures
    | Alarm
)


# ---------------------------------------------------------------- error messages


class _NonFinite:
    """Stands in for a NaN/Infinity literal on the error path, so the error names its field."""

    __slots__ = ("literal",)

    def __init__(self, literal: str) -> None:
        self.literal = literal


def _describe(value: Any) -> str:
    """The offending value, short, as a cycler author would recognise it."""
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, _NonFinite):
        return value.literal
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, float) and not isfinite(value) and value == value:
        return "a number beyond the range of a 64-bit float"  # e.g. 1e999, read as inf
    if isinstance(value, int) and abs(value) > 10**30:
        return f"a {len(str(abs(value)))}-digit integer"
    text = repr(value)
    return text if len(text) <= 60 else text[:56] + "...'"


def _expected(where: str, expectation: str, value: Any) -> ProtocolError:
    return ProtocolError(f"{where}: expected {expectation}, got {_describe(value)}")


def _missing(where: str) -> ProtocolError:
    return ProtocolError(f"{where}: required field is missing")


def _at(parent: str, key: str) -> str:
    return f"{parent}.{key}" if parent else key


# ---------------------------------------------------------------- field readers
#
# Each reader takes the JSON object, the path of that object ("" at the top level) and
# the key, and returns the checked value or raises ProtocolError naming parent.key.
# Optional fields treat null like absence, which suits JSON libraries that write nulls.

_ABSENT: Final = object()


def _integer(
    obj: dict[str, Any], parent: str, key: str, minimum: int, required: bool
) -> int | None:
    value = obj.get(key, _ABSENT)
    if value is _ABSENT or (value is None and not required):
        if required:
            raise _missing(_at(parent, key))
        return None
    if type(value) is not int or not minimum <= value <= MAX_ID:
        raise _expected(_at(parent, key), f"an integer from {minimum} to {MAX_ID}", value)
    return value


def _req_int(obj: dict[str, Any], parent: str, key: str, minimum: int = 1) -> int:
    value = _integer(obj, parent, key, minimum, required=True)
    assert value is not None
    return value


def _opt_int(obj: dict[str, Any], parent: str, key: str, minimum: int = 1) -> int | None:
    return _integer(obj, parent, key, minimum, required=False)


def _as_finite(value: Any) -> float | None:
    """The value as a float if it is a finite JSON number (not a bool), else None."""
    kind = type(value)
    if kind is float:
        return value if isfinite(value) else None
    # Comparing first keeps float() away from integers too big for a double.
    if kind is int and -1e308 <= value <= 1e308:
        return float(value)
    return None


def _number(obj: dict[str, Any], parent: str, key: str, required: bool) -> float | None:
    value = obj.get(key, _ABSENT)
    if value is _ABSENT or (value is None and not required):
        if required:
            raise _missing(_at(parent, key))
        return None
    number = _as_finite(value)
    if number is None:
        raise _expected(_at(parent, key), "a finite number", value)
    return number


def _req_number(obj: dict[str, Any], parent: str, key: str) -> float:
    value = _number(obj, parent, key, required=True)
    assert value is not None
    return value


def _opt_number(obj: dict[str, Any], parent: str, key: str) -> float | None:
    return _number(obj, parent, key, required=False)


def _check_text(value: Any, where: str, max_chars: int, allow_empty: bool) -> str:
    if type(value) is not str:
        raise _expected(where, "a string", value)
    if len(value) > max_chars:
        raise ProtocolError(f"{where}: {len(value)} characters, more than the limit of {max_chars}")
    if not allow_empty and not value.strip():
        raise ProtocolError(f"{where}: must not be empty")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            # JSON \ud800-style escapes can produce text that no UTF-8 database accepts.
            raise ProtocolError(f"{where}: contains an unpaired UTF-16 surrogate") from None
    return value


def _req_text(obj: dict[str, Any], parent: str, key: str, max_chars: int) -> str:
    value = obj.get(key, _ABSENT)
    if value is _ABSENT:
        raise _missing(_at(parent, key))
    return _check_text(value, _at(parent, key), max_chars, allow_empty=False)


def _opt_text(obj: dict[str, Any], parent: str, key: str, max_chars: int) -> str:
    value = obj.get(key)
    if value is None:
        return ""
    return _check_text(value, _at(parent, key), max_chars, allow_empty=True)


def _word(obj: dict[str, Any], parent: str, key: str, words: Sequence[str]) -> str:
    value = obj.get(key, _ABSENT)
    if value is _ABSENT:
        raise _missing(_at(parent, key))
    if type(value) is not str or value not in words:
        raise _expected(_at(parent, key), "one of " + ", ".join(words), value)
    return value


def _object(obj: dict[str, Any], parent: str, key: str) -> dict[str, Any]:
    value = obj.get(key, _ABSENT)
    if value is _ABSENT:
        raise _missing(_at(parent, key))
    if type(value) is not dict:
        raise _expected(_at(parent, key), "an object", value)
    return value


def _list(obj: dict[str, Any], parent: str, key: str) -> list[Any]:
    value = obj.get(key, _ABSENT)
    if value is _ABSENT:
        raise _missing(_at(parent, key))
    if type(value) is not list:
        raise _expected(_at(parent, key), "a list", value)
    return value


def _item(value: Any, where: str) -> dict[str, Any]:
    if type(value) is not dict:
        raise _expected(where, "an object", value)
    return value


def _window(obj: dict[str, Any], parent: str) -> Window:
    """The four bounds of a window read from `obj`; a minimum above its maximum is refused."""
    window = Window(*(_req_number(obj, parent, key) for key in WINDOW_KEYS))
    for quantity, low, high in (
        ("voltage", window.voltage_min, window.voltage_max),
        ("current", window.current_min, window.current_max),
    ):
        if low > high:
            where = _at(parent, f"{quantity}_min")
            raise ProtocolError(f"{where}: {low:g} is above {quantity}_max {high:g}")
    return window


def validate_unit_name(value: Any, where: str = "unit") -> str:
    """A unit name: 1 to 100 characters, usable as one MQTT topic level (no / + # NUL)."""
    name = _check_text(value, where, MAX_NAME_CHARS, allow_empty=False)
    bad = sorted(set(name) & _TOPIC_LEVEL_FORBIDDEN)
    if bad:
        shown = ", ".join(repr(c) for c in bad)
        raise ProtocolError(f"{where}: {name!r} contains {shown}, which MQTT topic levels forbid")
    return name


# ---------------------------------------------------------------- decoding


class _RefusedLiteral(Exception):
    """Raised from inside the JSON decoder when it meets NaN, Infinity or -Infinity."""

    def __init__(self, literal: str) -> None:
        super().__init__(literal)
        self.literal = literal


def _refuse_literal(literal: str) -> Any:
    raise _RefusedLiteral(literal)


# Python's json reads NaN and Infinity although JSON has no such numbers. The strict
# decoder stops at them; the marking decoder is used only on that error path to find
# which field holds one. (Overflowing literals such as 1e999 still decode to inf; the
# number readers refuse those.)
_STRICT_DECODER: Final = json.JSONDecoder(parse_constant=_refuse_literal)
_MARKING_DECODER: Final = json.JSONDecoder(parse_constant=_NonFinite)

_T = TypeVar("_T")


def _json_error(error: Exception) -> ProtocolError:
    if isinstance(error, RecursionError):
        return ProtocolError("payload: JSON nested too deeply")
    if isinstance(error, json.JSONDecodeError):
        return ProtocolError(
            f"payload: not valid JSON ({error.msg} at line {error.lineno} column {error.colno})"
        )
    # Integers longer than Python's digit limit end up here.
    return ProtocolError(f"payload: not valid JSON ({str(error).split(';')[0]})")


def _decode(payload: bytes, max_bytes: int | None, build: Callable[[dict[str, Any]], _T]) -> _T:
    """Bytes → JSON object → message; every failure becomes a ProtocolError."""
    if isinstance(payload, str):
        raise TypeError("payload must be bytes (the raw MQTT payload), not str")
    size = len(payload)
    if max_bytes is not None and size > max_bytes:
        raise ProtocolError(f"payload: {size} bytes, more than the limit of {max_bytes}")
    if size == 0:
        raise ProtocolError("payload: empty, expected a JSON object")
    try:
        text = str(payload, "utf-8")
    except UnicodeDecodeError as error:
        raise ProtocolError(
            f"payload: not valid UTF-8 ({error.reason} at byte {error.start})"
        ) from None
    try:
        data = _STRICT_DECODER.decode(text)
    except _RefusedLiteral as refused:
        try:
            marked = _MARKING_DECODER.decode(text)
        except (ValueError, RecursionError) as error:
            raise _json_error(error) from None
        _top_level(marked)
        build(marked)  # raises, naming the field, when the literal sits in a field we read
        raise ProtocolError(
            f"payload: {refused.literal} is not a JSON number; send finite numbers only"
        ) from None
    except (ValueError, RecursionError) as error:
        raise _json_error(error) from None
    return build(_top_level(data))


def _top_level(data: Any) -> dict[str, Any]:
    if type(data) is not dict:
        raise _expected("payload", "a JSON object", data)
    return data


# ---------------------------------------------------------------- builders (JSON → message)


def _build_announce(data: dict[str, Any]) -> Announce:
    unit = _unit(data)
    host = _opt_text(data, "", "host", MAX_HOST_CHARS)
    stations = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(_list(data, "", "stations")):
        where = f"stations[{index}]"
        obj = _item(raw, where)
        name = _req_text(obj, where, "name", MAX_NAME_CHARS)
        if name in seen:
            raise ProtocolError(f"{where}.name: {name!r} is already used by stations[{seen[name]}]")
        seen[name] = index
        window = _window(obj, where)
        location = _opt_text(obj, where, "location", MAX_LOCATION_CHARS)
        stations.append(StationSpec(name=name, window=window, location=location))
    return Announce(unit=unit, stations=tuple(stations), host=host)


def _unit(data: dict[str, Any]) -> str:
    if "unit" not in data:
        raise _missing("unit")
    return validate_unit_name(data["unit"])


def _build_registered(data: dict[str, Any]) -> Registered:
    unit = _unit(data)
    stations = []
    for index, raw in enumerate(_list(data, "", "stations")):
        where = f"stations[{index}]"
        obj = _item(raw, where)
        stations.append(
            RegisteredStation(
                name=_req_text(obj, where, "name", MAX_NAME_CHARS),
                station_id=_req_int(obj, where, "station"),
            )
        )
    return Registered(unit=unit, stations=tuple(stations))


_STATES: Final = tuple(StationState)


def _build_heartbeat(data: dict[str, Any]) -> Heartbeat:
    ts = _req_number(data, "", "ts")
    state = StationState(_word(data, "", "state", _STATES))
    # The contract allows null in any state: a refused heartbeat would take the station
    # offline, too harsh a penalty for a missing id.
    experiment_id = _opt_int(data, "", "experiment_id")
    return Heartbeat(ts=ts, state=state, experiment_id=experiment_id)


_COMMAND_WORDS: Final = ("start", *ControlAction)
_MODES: Final = tuple(Mode)
_LIMITS: Final = tuple(Limit)


def _step(raw: Any, index: int) -> ExpandedStep:
    where = f"profile.instructions[{index}]"
    obj = _item(raw, where)
    mode = _word(obj, where, "mode", _MODES)
    limit = _word(obj, where, "limit", _LIMITS)
    allowed = ALLOWED_LIMITS[Mode(mode)]
    if limit not in allowed:
        raise ProtocolError(
            f"{where}.limit: a {mode} step ends on {', '.join(allowed)}, got {limit!r}"
        )
    limit_value = _req_number(obj, where, "limit_value")
    if mode == Mode.WAIT:
        if obj.get("setpoint") is not None:
            raise _expected(f"{where}.setpoint", "null (WAIT has no set point)", obj["setpoint"])
        setpoint = None
    else:
        setpoint = _req_number(obj, where, "setpoint")
    step = _opt_int(obj, where, "step")
    if step is not None and step != index + 1:
        raise ProtocolError(
            f"{where}.step: expected {index + 1} (steps are numbered from 1 in list order), "
            f"got {step}"
        )
    cycle = _opt_int(obj, where, "cycle")
    line = _opt_int(obj, where, "line", minimum=0)  # informational; 0 means unknown
    return ExpandedStep(
        Mode(mode), setpoint, Limit(limit), limit_value, step=index + 1, cycle=cycle, line=line
    )


def _build_command(data: dict[str, Any]) -> Command:
    command = _word(data, "", "command", _COMMAND_WORDS)
    experiment_id = _req_int(data, "", "experiment_id")
    if command != "start":
        return ControlCommand(experiment_id=experiment_id, command=ControlAction(command))
    profile = _object(data, "", "profile")
    name = _req_text(profile, "profile", "name", MAX_NAME_CHARS)
    raw_steps = _list(profile, "profile", "instructions")
    if not raw_steps:
        raise ProtocolError("profile.instructions: expected at least one step, got an empty list")
    instructions = tuple(_step(raw, index) for index, raw in enumerate(raw_steps))
    limits = _window(_object(data, "", "limits"), "limits")
    return StartCommand(
        experiment_id=experiment_id,
        profile_name=name,
        instructions=instructions,
        limits=limits,
        battery=_battery(data),
    )


def _battery(data: dict[str, Any]) -> dict[str, Any]:
    """The optional "battery" object of a start command; a malformed field is a ProtocolError."""
    if data.get("battery") is None:
        return {}
    raw = _object(data, "", "battery")
    battery: dict[str, Any] = {}
    for key in ("technology", "chemistry"):
        if raw.get(key) is not None:
            battery[key] = _req_text(raw, "battery", key, MAX_NAME_CHARS)
    if raw.get("nominal_capacity_ah") is not None:
        battery["nominal_capacity_ah"] = _req_number(raw, "battery", "nominal_capacity_ah")
    if raw.get("cells_in_series") is not None:
        battery["cells_in_series"] = _req_int(raw, "battery", "cells_in_series")
    return battery


def _build_status(data: dict[str, Any]) -> StatusReport:
    experiment_id = _req_int(data, "", "experiment_id")
    status = ExperimentStatus(_word(data, "", "status", REPORTABLE_STATUSES))
    ts = _req_number(data, "", "ts")
    message = _opt_text(data, "", "message", MAX_MESSAGE_CHARS)
    return StatusReport(experiment_id=experiment_id, status=status, ts=ts, message=message)


def _build_alarm(data: dict[str, Any]) -> Alarm:
    experiment_id = _req_int(data, "", "experiment_id")
    ts = _req_number(data, "", "ts")
    code = _req_text(data, "", "code", MAX_CODE_CHARS)
    value = _opt_number(data, "", "value")
    message = _opt_text(data, "", "message", MAX_MESSAGE_CHARS)
    return Alarm(experiment_id=experiment_id, ts=ts, code=code, value=value, message=message)


# The hot path. Each field first gets a cheap check that accepts only what the general
# reader would accept (a float that is finite, an int in range, a text seen before in
# this message); anything else goes to the general reader, which converts it or raises
# the precise error. So the fast path cannot accept more than the slow one.


def _sample(raw: Any, index: int, modes: set[str], channels: set[str]) -> Sample:
    if type(raw) is not dict:
        raise _expected(f"samples[{index}]", "an object", raw)
    get = raw.get

    seq = get("seq")
    if type(seq) is not int or seq < 0 or seq > MAX_ID:
        seq = _req_int(raw, f"samples[{index}]", "seq", minimum=0)
    ts = get("ts")
    if type(ts) is not float or not isfinite(ts):
        ts = _req_number(raw, f"samples[{index}]", "ts")
    voltage = get("voltage")
    if type(voltage) is not float or not isfinite(voltage):
        voltage = _req_number(raw, f"samples[{index}]", "voltage")
    current = get("current")
    if type(current) is not float or not isfinite(current):
        current = _req_number(raw, f"samples[{index}]", "current")
    power = get("power")
    if power is None:
        power = voltage * current
        if not isfinite(power):
            raise ProtocolError(
                f"samples[{index}].power: absent, and voltage × current is not a finite number"
            )
    elif type(power) is not float or not isfinite(power):
        power = _req_number(raw, f"samples[{index}]", "power")
    instruction = get("instruction")
    if instruction is not None and (
        type(instruction) is not int or instruction < 1 or instruction > MAX_ID
    ):
        instruction = _req_int(raw, f"samples[{index}]", "instruction")
    cycle = get("cycle")
    if cycle is not None and (type(cycle) is not int or cycle < 1 or cycle > MAX_ID):
        cycle = _req_int(raw, f"samples[{index}]", "cycle")
    mode = get("mode")
    if mode is not None and (type(mode) is not str or mode not in modes):
        mode = _check_text(mode, f"samples[{index}].mode", MAX_MODE_CHARS, allow_empty=False)
        modes.add(mode)
    extra = get("extra")
    if extra is None or (type(extra) is dict and not extra):
        extra = _EMPTY_EXTRA
    else:
        extra = _extra(extra, index, channels)
    return Sample(seq, ts, voltage, current, power, instruction, cycle, mode, extra)


def _extra(raw: Any, index: int, channels: set[str]) -> dict[str, float]:
    if type(raw) is not dict:
        raise _expected(f"samples[{index}].extra", "an object of channel name: number", raw)
    converted: dict[str, float] | None = None
    for name, value in raw.items():
        if name not in channels:
            _check_text(name, f"samples[{index}].extra: channel name", MAX_NAME_CHARS, False)
            channels.add(name)
        if type(value) is not float or not isfinite(value):
            number = _req_number(raw, f"samples[{index}].extra", name)
            if converted is None:
                converted = {}
            converted[name] = number
    if converted:
        raw.update(converted)  # the dict came from our own json decode: nobody else holds it
    return raw


def _build_measures(data: dict[str, Any], max_samples: int) -> Measures:
    experiment_id = _req_int(data, "", "experiment_id")
    raw_samples = _list(data, "", "samples")
    count = len(raw_samples)
    if count == 0:
        raise ProtocolError("samples: expected at least one sample, got an empty list")
    if count > max_samples:
        raise ProtocolError(
            f"samples: {count} samples, more than the limit of {max_samples} per message"
        )
    modes: set[str] = set()
    channels: set[str] = set()
    samples = [_sample(raw, index, modes, channels) for index, raw in enumerate(raw_samples)]
    if len({sample.seq for sample in samples}) != count:
        _raise_duplicate_seq(samples)
    return Measures(experiment_id=experiment_id, samples=tuple(samples))


def _raise_duplicate_seq(samples: Sequence[Sample]) -> None:
    first_index: dict[int, int] = {}
    for index, sample in enumerate(samples):
        if sample.seq in first_index:
            raise ProtocolError(
                f"samples[{index}].seq: {sample.seq} appears twice in this message "
                f"(also samples[{first_index[sample.seq]}])"
            )
        first_index[sample.seq] = index


# ---------------------------------------------------------------- parsers


def parse_announce(payload: bytes, *, max_bytes: int | None = None) -> Announce:
    """An announce (`{prefix}/units/{unit}/announce`)."""
    return _decode(payload, max_bytes, _build_announce)


def parse_registered(payload: bytes, *, max_bytes: int | None = None) -> Registered:
    """The node's answer to an announce (`{prefix}/units/{unit}/registered`)."""
    return _decode(payload, max_bytes, _build_registered)


def parse_heartbeat(payload: bytes, *, max_bytes: int | None = None) -> Heartbeat:
    """A heartbeat (`{prefix}/stations/{station}/heartbeat`)."""
    return _decode(payload, max_bytes, _build_heartbeat)


def parse_command(payload: bytes, *, max_bytes: int | None = None) -> Command:
    """A start, stop, pause or resume command (`{prefix}/stations/{station}/commands`)."""
    return _decode(payload, max_bytes, _build_command)


def parse_status(payload: bytes, *, max_bytes: int | None = None) -> StatusReport:
    """A status report (`{prefix}/stations/{station}/status`)."""
    return _decode(payload, max_bytes, _build_status)


def parse_measures(
    payload: bytes,
    *,
    max_bytes: int | None = None,
    max_samples: int = MAX_SAMPLES_PER_MESSAGE,
) -> Measures:
    """Samples of one experiment (`{prefix}/stations/{station}/measures`)."""
    return _decode(payload, max_bytes, lambda data: _build_measures(data, max_samples))


def parse_alarm(payload: bytes, *, max_bytes: int | None = None) -> Alarm:
    """An alarm (`{prefix}/stations/{station}/alarms`)."""
    return _decode(payload, max_bytes, _build_alarm)


class Parser(Protocol):
    def __call__(self, payload: bytes, *, max_bytes: int | None = ...) -> Message: ...


# The parser for each topic kind, so a receiver can dispatch on `Topics.parse(...)`.
PARSERS: Final[Mapping[str, Parser]] = MappingProxyType(
    {
        MessageKind.ANNOUNCE: parse_announce,
        MessageKind.REGISTERED: parse_registered,
        MessageKind.HEARTBEAT: parse_heartbeat,
        MessageKind.COMMANDS: parse_command,
        MessageKind.STATUS: parse_status,
        MessageKind.MEASURES: parse_measures,
        MessageKind.ALARMS: parse_alarm,
    }
)


# ---------------------------------------------------------------- encoders

_ENCODER: Final = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _dump(obj: dict[str, Any]) -> bytes:
    try:
        return _ENCODER.encode(obj).encode("utf-8")
    except ValueError:
        raise ProtocolError(
            "cannot encode NaN or Infinity: the protocol carries finite numbers only"
        ) from None


def _without_empty(obj: dict[str, Any], *keys: str) -> dict[str, Any]:
    """Leave out optional keys whose value is empty, to keep messages small."""
    for key in keys:
        if obj[key] is None or obj[key] == "":
            del obj[key]
    return obj


def encode_announce(unit: str, stations: Iterable[StationSpec], host: str = "") -> bytes:
    return _dump(
        _without_empty(
            {
                "unit": unit,
                "host": host,
                "stations": [
                    _without_empty(
                        {"name": station.name, "location": station.location}
                        | station.window.to_json(),
                        "location",
                    )
                    for station in stations
                ],
            },
            "host",
        )
    )


def encode_registered(
    unit: str, stations: Mapping[str, int] | Iterable[RegisteredStation]
) -> bytes:
    """`stations` is {name: station id}, as the datastore returns it, or RegisteredStations."""
    pairs = (
        stations.items()
        if isinstance(stations, Mapping)
        else ((station.name, station.station_id) for station in stations)
    )
    return _dump(
        {"unit": unit, "stations": [{"name": name, "station": ident} for name, ident in pairs]}
    )


def encode_heartbeat(
    ts: float, state: StationState | str, experiment_id: int | None = None
) -> bytes:
    return _dump({"ts": ts, "state": str(state), "experiment_id": experiment_id})


def encode_start(
    experiment_id: int,
    profile_name: str,
    instructions: Sequence[ExpandedStep],
    limits: Window,
    battery: Mapping[str, Any] | None = None,
) -> bytes:
    message: dict[str, Any] = {
        "command": "start",
        "experiment_id": experiment_id,
        "profile": {"name": profile_name, "instructions": [s.to_json() for s in instructions]},
        "limits": limits.to_json(),
    }
    if battery:
        message["battery"] = {key: value for key, value in battery.items() if value is not None}
    return _dump(message)


def encode_control(command: ControlAction | str, experiment_id: int) -> bytes:
    """A stop, pause or resume command; an unknown command word is a ProtocolError."""
    if command not in tuple(ControlAction):
        raise ProtocolError(f"command: expected one of {', '.join(ControlAction)}, got {command!r}")
    return _dump({"command": str(command), "experiment_id": experiment_id})


def encode_stop(experiment_id: int) -> bytes:
    return encode_control(ControlAction.STOP, experiment_id)


def encode_pause(experiment_id: int) -> bytes:
    return encode_control(ControlAction.PAUSE, experiment_id)


def encode_resume(experiment_id: int) -> bytes:
    return encode_control(ControlAction.RESUME, experiment_id)


def encode_status(
    experiment_id: int, status: ExperimentStatus | str, ts: float, message: str = ""
) -> bytes:
    return _dump(
        _without_empty(
            {"experiment_id": experiment_id, "status": str(status), "ts": ts, "message": message},
            "message",
        )
    )


def _sample_json(sample: Sample) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "seq": sample.seq,
        "ts": sample.ts,
        "voltage": sample.voltage,
        "current": sample.current,
        "power": sample.power,
    }
    if sample.instruction is not None:
        obj["instruction"] = sample.instruction
    if sample.cycle is not None:
        obj["cycle"] = sample.cycle
    if sample.mode is not None:
        obj["mode"] = sample.mode
    if sample.extra:
        obj["extra"] = dict(sample.extra)
    return obj


def encode_measures(experiment_id: int, samples: Iterable[Sample]) -> bytes:
    return _dump(
        {"experiment_id": experiment_id, "samples": [_sample_json(sample) for sample in samples]}
    )


def encode_alarm(
    experiment_id: int, ts: float, code: str, value: float | None = None, message: str = ""
) -> bytes:
    return _dump(
        _without_empty(
            {
                "experiment_id": experiment_id,
                "ts": ts,
                "code": code,
                "value": value,
                "message": message,
            },
            "value",
            "message",
        )
    )


def encode(message: Message) -> bytes:
    """Any message dataclass as its payload."""
    match message:
        case Announce():
            return encode_announce(message.unit, message.stations, message.host)
        case Registered():
            return encode_registered(message.unit, message.stations)
        case Heartbeat():
            return encode_heartbeat(message.ts, message.state, message.experiment_id)
        case StartCommand():
            return encode_start(
                message.experiment_id,
                message.profile_name,
                message.instructions,
                message.limits,
                message.battery,
            )
        case ControlCommand():
            return encode_control(message.command, message.experiment_id)
        case StatusReport():
            return encode_status(message.experiment_id, message.status, message.ts, message.message)
        case Measures():
            return encode_measures(message.experiment_id, message.samples)
        case Alarm():
            return encode_alarm(
                message.experiment_id, message.ts, message.code, message.value, message.message
            )
    raise TypeError(f"not a protocol message: {type(message).__name__}")


_KINDS: Final[Mapping[type, MessageKind]] = MappingProxyType(
    {
        Announce: MessageKind.ANNOUNCE,
        Registered: MessageKind.REGISTERED,
        Heartbeat: MessageKind.HEARTBEAT,
        StartCommand: MessageKind.COMMANDS,
        ControlCommand: MessageKind.COMMANDS,
        StatusReport: MessageKind.STATUS,
        Measures: MessageKind.MEASURES,
        Alarm: MessageKind.ALARMS,
    }
)


def kind_of(message: Message) -> MessageKind:
    """The topic kind a message is published on."""
    try:
        return _KINDS[type(message)]
    except KeyError:
        raise TypeError(f"not a protocol message: {type(message).__name__}") from None
