"""MQTT protocol v1 payloads: what parses, what is refused and how the refusal reads."""

from __future__ import annotations

import contextlib
import copy
import json
import math
import re
import shlex
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.profiles import ExpandedStep, Limit, Mode
from domain.stations import StationSpec
from domain.status import ExperimentStatus
from domain.window import Window
from mqtt_node.protocol import (
    MAX_ID,
    PARSERS,
    QOS,
    Alarm,
    Announce,
    ControlAction,
    ControlCommand,
    Heartbeat,
    Measures,
    MessageKind,
    ProtocolError,
    Registered,
    RegisteredStation,
    Sample,
    StartCommand,
    StationState,
    StatusReport,
    encode,
    encode_alarm,
    encode_announce,
    encode_control,
    encode_heartbeat,
    encode_measures,
    encode_pause,
    encode_registered,
    encode_resume,
    encode_start,
    encode_status,
    encode_stop,
    kind_of,
    parse_alarm,
    parse_announce,
    parse_command,
    parse_heartbeat,
    parse_measures,
    parse_registered,
    parse_status,
)
from mqtt_node.topics import Topics

DOCS = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
TS = 1795475647.25

# ---------------------------------------------------------------- the examples of docs/protocol.md
# The table's example payloads, copied as written; only each "..." is given a value
# (a time for "ts", nothing for a trailing list element) and one word is picked
# where the table lists alternatives with "|".

CONTRACT_ANNOUNCE = (
    '{"unit": "cu-lab1", "host": "10.0.0.7", "stations": [{"name": "ch1", "location": "rack A", '
    '"voltage_min": 0, "voltage_max": 5, "current_min": -15, "current_max": 15}]}'
)
CONTRACT_REGISTERED = '{"unit": "cu-lab1", "stations": [{"name": "ch1", "station": 7}]}'
CONTRACT_HEARTBEAT = '{"ts": 1795475647.25, "state": "%s", "experiment_id": %s}'
CONTRACT_START = (
    '{"command": "start", "experiment_id": 12, "profile": {"name": "...", "instructions": '
    '[{"mode": "CC", "setpoint": 2.5, "limit": "VOLTAGE", "limit_value": 4.2}]}, '
    '"limits": {"voltage_min": 2.5, "voltage_max": 4.2, "current_min": -5, "current_max": 5}}'
)
CONTRACT_CONTROL = '{"command": "%s", "experiment_id": 12}'
CONTRACT_STATUS = (
    '{"experiment_id": 12, "status": "%s", "ts": 1795475647.25, "message": "optional"}'
)
CONTRACT_MEASURES = (
    '{"experiment_id": 12, "samples": [{"seq": 0, "ts": 1795475647.25, "voltage": 3.71, '
    '"current": 1.5, "power": 5.57, "instruction": 1, "mode": "CC", '
    '"extra": {"temp_body": 25.1}}]}'
)
CONTRACT_ALARM = (
    '{"experiment_id": 12, "ts": 1795475647.25, "code": "OVER_VOLTAGE", "value": 4.31, '
    '"message": "optional"}'
)


def test_design_announce_parses() -> None:
    assert parse_announce(CONTRACT_ANNOUNCE.encode()) == Announce(
        unit="cu-lab1",
        host="10.0.0.7",
        stations=(StationSpec("ch1", Window(0.0, 5.0, -15.0, 15.0), location="rack A"),),
    )


def test_design_registered_parses() -> None:
    assert parse_registered(CONTRACT_REGISTERED.encode()) == Registered(
        "cu-lab1", (RegisteredStation("ch1", 7),)
    )


@pytest.mark.parametrize("state", ["idle", "running", "paused", "error"])
@pytest.mark.parametrize("experiment_id", ["12", "null"])
def test_design_heartbeat_parses_in_every_state(state: str, experiment_id: str) -> None:
    heartbeat = parse_heartbeat((CONTRACT_HEARTBEAT % (state, experiment_id)).encode())
    assert heartbeat == Heartbeat(TS, StationState(state), json.loads(experiment_id))
    assert type(heartbeat.state) is StationState


def test_design_start_command_parses() -> None:
    assert parse_command(CONTRACT_START.encode()) == StartCommand(
        experiment_id=12,
        profile_name="...",
        instructions=(ExpandedStep(Mode.CC, 2.5, Limit.VOLTAGE, 4.2, step=1),),
        limits=Window(2.5, 4.2, -5.0, 5.0),
    )


@pytest.mark.parametrize("word", ["stop", "pause", "resume"])
def test_design_control_commands_parse(word: str) -> None:
    command = parse_command((CONTRACT_CONTROL % word).encode())
    assert command == ControlCommand(12, ControlAction(word))
    assert type(command.command) is ControlAction


@pytest.mark.parametrize("word", ["RUNNING", "PAUSED", "FINISHED", "ERROR"])
def test_design_status_parses_with_the_domain_status(word: str) -> None:
    report = parse_status((CONTRACT_STATUS % word).encode())
    assert report == StatusReport(12, ExperimentStatus(word), TS, "optional")
    assert type(report.status) is ExperimentStatus


def test_design_measures_parse() -> None:
    assert parse_measures(CONTRACT_MEASURES.encode()) == Measures(
        12,
        (Sample(0, TS, 3.71, 1.5, 5.57, instruction=1, mode="CC", extra={"temp_body": 25.1}),),
    )


def test_design_alarm_parses() -> None:
    assert parse_alarm(CONTRACT_ALARM.encode()) == Alarm(12, TS, "OVER_VOLTAGE", 4.31, "optional")


def test_qos_is_zero_for_heartbeats_and_one_for_the_rest() -> None:
    # The node looks kinds up by plain string.
    assert QOS["heartbeat"] == 0
    for kind in ("announce", "registered", "commands", "status", "measures", "alarms"):
        assert QOS[kind] == 1


# ---------------------------------------------------------------- field semantics


def _sample(**fields: Any) -> dict[str, Any]:
    return {"seq": 0, "ts": TS, "voltage": 4.0, "current": -2.5, **fields}


def _measures(*samples: dict[str, Any]) -> bytes:
    return json.dumps({"experiment_id": 12, "samples": list(samples)}).encode()


def test_power_defaults_to_voltage_times_current_when_absent() -> None:
    assert parse_measures(_measures(_sample())).samples[0].power == -10.0


def test_power_defaults_to_voltage_times_current_when_null() -> None:
    assert parse_measures(_measures(_sample(power=None))).samples[0].power == -10.0


def test_power_given_is_kept_even_if_it_differs_from_the_product() -> None:
    assert parse_measures(_measures(_sample(power=-9.5))).samples[0].power == -9.5


def test_optional_sample_fields_default_to_none_and_no_extras() -> None:
    sample = parse_measures(_measures(_sample())).samples[0]
    assert (sample.instruction, sample.cycle, sample.mode, dict(sample.extra)) == (
        None,
        None,
        None,
        {},
    )


def test_null_optional_sample_fields_mean_absent() -> None:
    raw = _sample(instruction=None, cycle=None, mode=None, extra=None)
    assert parse_measures(_measures(raw)) == parse_measures(_measures(_sample()))


def test_integers_are_accepted_as_numbers_and_become_floats() -> None:
    sample = parse_measures(_measures(_sample(ts=1795475647, voltage=4, extra={"t": 25}))).samples[
        0
    ]
    assert (sample.ts, sample.voltage, sample.extra["t"]) == (1795475647.0, 4.0, 25.0)
    assert type(sample.ts) is float and type(sample.voltage) is float
    assert type(sample.extra["t"]) is float


def test_instruction_cycle_mode_and_extra_channels_are_read() -> None:
    raw = _sample(instruction=3, cycle=2, mode="CV", extra={"temp_body": 25.5, "cell_1": 3.9})
    sample = parse_measures(_measures(raw)).samples[0]
    assert (sample.instruction, sample.cycle, sample.mode) == (3, 2, "CV")
    assert dict(sample.extra) == {"temp_body": 25.5, "cell_1": 3.9}


def test_samples_keep_their_order_and_seq_need_not_be_sorted() -> None:
    measures = parse_measures(_measures(_sample(seq=5), _sample(seq=2), _sample(seq=9)))
    assert [s.seq for s in measures.samples] == [5, 2, 9]


def test_unknown_keys_are_ignored_everywhere() -> None:
    future = {"unit_of": "V", "nested": {"a": [1, 2]}}
    announce = json.loads(CONTRACT_ANNOUNCE) | {"firmware": "2.1"}
    announce["stations"][0]["channels"] = future
    assert parse_announce(json.dumps(announce).encode()) == parse_announce(
        CONTRACT_ANNOUNCE.encode()
    )

    start = json.loads(CONTRACT_START) | {"priority": 3}
    start["profile"]["instructions"][0]["comment"] = "charge"
    start["limits"]["temperature_max"] = 45
    assert parse_command(json.dumps(start).encode()) == parse_command(CONTRACT_START.encode())

    measures = json.loads(CONTRACT_MEASURES) | {"version": 2}
    measures["samples"][0]["quality"] = future
    assert parse_measures(json.dumps(measures).encode()) == parse_measures(
        CONTRACT_MEASURES.encode()
    )


def test_start_steps_are_normalised_to_the_expanded_format() -> None:
    raw = json.loads(CONTRACT_START)
    raw["profile"]["instructions"] = [
        {"step": 1, "cycle": 1, "line": 3, "mode": "CC", "setpoint": 2, "limit": "VOLTAGE",
         "limit_value": 4.2, "setpoint_c_rate": False},
        {"mode": "WAIT", "limit": "TIME", "limit_value": 600},
    ]  # fmt: skip
    command = parse_command(json.dumps(raw).encode())
    assert isinstance(command, StartCommand)
    assert command.instructions == (
        ExpandedStep(Mode.CC, 2.0, Limit.VOLTAGE, 4.2, step=1, cycle=1, line=3),
        ExpandedStep(Mode.WAIT, None, Limit.TIME, 600.0, step=2, cycle=None, line=None),
    )


def test_heartbeat_without_experiment_id_means_none() -> None:
    assert parse_heartbeat(b'{"ts": 1.5, "state": "idle"}') == Heartbeat(1.5, StationState.IDLE)


def test_status_and_alarm_message_default_to_empty() -> None:
    assert parse_status(b'{"experiment_id":1,"status":"RUNNING","ts":2}').message == ""
    alarm = parse_alarm(b'{"experiment_id":1,"ts":2,"code":"X","message":null}')
    assert (alarm.value, alarm.message) == (None, "")


def test_messages_are_frozen() -> None:
    sample = parse_measures(CONTRACT_MEASURES.encode()).samples[0]
    with pytest.raises(AttributeError):
        sample.voltage = 0.0  # type: ignore[misc]


# ---------------------------------------------------------------- refusals naming the field

DELETE = object()

BASE: dict[str, dict[str, Any]] = {
    "announce": {
        "unit": "cu-lab1",
        "host": "10.0.0.7",
        "stations": [
            {
                "name": "ch1",
                "location": "rack A",
                "voltage_min": 0,
                "voltage_max": 5,
                "current_min": -15,
                "current_max": 15,
            },
            {
                "name": "ch2",
                "voltage_min": 0,
                "voltage_max": 5,
                "current_min": -15,
                "current_max": 15,
            },
        ],
    },
    "registered": {"unit": "cu-lab1", "stations": [{"name": "ch1", "station": 7}]},
    "heartbeat": {"ts": TS, "state": "running", "experiment_id": 12},
    "start": {
        "command": "start",
        "experiment_id": 12,
        "profile": {
            "name": "1C cycling",
            "instructions": [
                {
                    "step": 1,
                    "cycle": 1,
                    "line": 3,
                    "mode": "CC",
                    "setpoint": 2.5,
                    "limit": "VOLTAGE",
                    "limit_value": 4.2,
                },
                {
                    "step": 2,
                    "cycle": 1,
                    "line": 4,
                    "mode": "CV",
                    "setpoint": 4.2,
                    "limit": "CURRENT",
                    "limit_value": 0.125,
                },
                {
                    "step": 3,
                    "cycle": 1,
                    "line": 5,
                    "mode": "WAIT",
                    "setpoint": None,
                    "limit": "TIME",
                    "limit_value": 600,
                },
            ],
        },
        "limits": {"voltage_min": 2.5, "voltage_max": 4.25, "current_min": -5, "current_max": 5},
    },
    "stop": {"command": "stop", "experiment_id": 12},
    "status": {"experiment_id": 12, "status": "RUNNING", "ts": TS, "message": "started"},
    "measures": {
        "experiment_id": 12,
        "samples": [
            {
                "seq": seq,
                "ts": TS + seq,
                "voltage": 3.7,
                "current": 1.5,
                "power": 5.55,
                "instruction": 1,
                "cycle": 1,
                "mode": "CC",
                "extra": {"temp_body": 25.1},
            }
            for seq in range(4)
        ],
    },
    "alarms": {
        "experiment_id": 12,
        "ts": TS,
        "code": "OVER_VOLTAGE",
        "value": 4.31,
        "message": "too high",
    },
}

PARSER_OF: dict[str, Callable[..., Any]] = {
    "announce": parse_announce,
    "registered": parse_registered,
    "heartbeat": parse_heartbeat,
    "start": parse_command,
    "stop": parse_command,
    "status": parse_status,
    "measures": parse_measures,
    "alarms": parse_alarm,
}


def _steps(path: str) -> list[str | int]:
    """ "samples[3].voltage" -> ["samples", 3, "voltage"]."""
    return [int(p) if p.isdigit() else p for p in re.findall(r"[^.\[\]]+", path)]


def changed(kind: str, path: str, value: Any) -> bytes:
    """The base message of `kind` with the field at `path` set to `value` (or deleted)."""
    message = copy.deepcopy(BASE[kind])
    *parents, last = _steps(path)
    target: Any = message
    for step in parents:
        target = target[step]
    if value is DELETE:
        del target[last]
    else:
        target[last] = value
    return json.dumps(message, ensure_ascii=False).encode()  # NaN written as NaN on purpose


@pytest.mark.parametrize("kind", list(BASE))
def test_base_messages_are_valid(kind: str) -> None:
    PARSER_OF[kind](json.dumps(BASE[kind]).encode())


REFUSALS = [
    # announce
    ("announce", "unit", DELETE, "unit: required field is missing"),
    ("announce", "unit", "", "unit: must not be empty"),
    ("announce", "unit", 7, "unit: expected a string, got 7"),
    ("announce", "unit", "x" * 101, "unit: 101 characters, more than the limit of 100"),
    ("announce", "unit", "cu/lab1", "unit: 'cu/lab1' contains '/', which MQTT topic levels forbid"),
    ("announce", "host", "h" * 256, "host: 256 characters, more than the limit of 255"),
    ("announce", "stations", DELETE, "stations: required field is missing"),
    ("announce", "stations", {}, "stations: expected a list, got an object"),
    ("announce", "stations[1]", "ch2", "stations[1]: expected an object, got 'ch2'"),
    ("announce", "stations[1].name", DELETE, "stations[1].name: required field is missing"),
    ("announce", "stations[1].name", "ch1", "stations[1].name: 'ch1' is already used by stations[0]"),
    ("announce", "stations[0].name", "n" * 101, "stations[0].name: 101 characters, more than the limit of 100"),
    ("announce", "stations[0].location", "l" * 201, "stations[0].location: 201 characters, more than the limit of 200"),
    ("announce", "stations[0].voltage_max", True, "stations[0].voltage_max: expected a finite number, got true"),
    ("announce", "stations[0].current_min", "-15", "stations[0].current_min: expected a finite number, got '-15'"),
    ("announce", "stations[1].current_max", DELETE, "stations[1].current_max: required field is missing"),
    ("announce", "stations[0].voltage_min", 6, "stations[0].voltage_min: 6 is above voltage_max 5"),
    # registered
    ("registered", "stations[0].station", 7.0, "stations[0].station: expected an integer from 1 to 2147483647, got 7.0"),
    ("registered", "stations[0].station", 0, "stations[0].station: expected an integer from 1 to 2147483647, got 0"),
    ("registered", "stations[0].name", None, "stations[0].name: expected a string, got null"),
    # heartbeat
    ("heartbeat", "ts", DELETE, "ts: required field is missing"),
    ("heartbeat", "ts", "now", "ts: expected a finite number, got 'now'"),
    ("heartbeat", "state", "IDLE", "state: expected one of idle, running, paused, error, got 'IDLE'"),
    ("heartbeat", "state", "sleeping", "state: expected one of idle, running, paused, error, got 'sleeping'"),
    ("heartbeat", "state", None, "state: expected one of idle, running, paused, error, got null"),
    ("heartbeat", "experiment_id", "12", "experiment_id: expected an integer from 1 to 2147483647, got '12'"),
    ("heartbeat", "experiment_id", -1, "experiment_id: expected an integer from 1 to 2147483647, got -1"),
    ("heartbeat", "experiment_id", 2**31, "experiment_id: expected an integer from 1 to 2147483647, got 2147483648"),
    ("heartbeat", "experiment_id", True, "experiment_id: expected an integer from 1 to 2147483647, got true"),
    # commands
    ("stop", "command", "restart", "command: expected one of start, stop, pause, resume, got 'restart'"),
    ("stop", "command", DELETE, "command: required field is missing"),
    ("stop", "experiment_id", 12.5, "experiment_id: expected an integer from 1 to 2147483647, got 12.5"),
    ("stop", "experiment_id", DELETE, "experiment_id: required field is missing"),
    ("start", "profile", DELETE, "profile: required field is missing"),
    ("start", "profile", [], "profile: expected an object, got a list"),
    ("start", "profile.name", "", "profile.name: must not be empty"),
    ("start", "profile.instructions", [], "profile.instructions: expected at least one step, got an empty list"),
    ("start", "profile.instructions[1]", None, "profile.instructions[1]: expected an object, got null"),
    ("start", "profile.instructions[0].mode", "CCCV", "profile.instructions[0].mode: expected one of WAIT, CC, CV, CP, got 'CCCV'"),
    ("start", "profile.instructions[0].limit", "SOC", "profile.instructions[0].limit: expected one of TIME, VOLTAGE, CURRENT, CAPACITY, ENERGY, got 'SOC'"),
    ("start", "profile.instructions[0].limit", "CURRENT", "profile.instructions[0].limit: a CC step ends on TIME, VOLTAGE, CAPACITY, got 'CURRENT'"),
    ("start", "profile.instructions[0].limit_value", "4.2", "profile.instructions[0].limit_value: expected a finite number, got '4.2'"),
    ("start", "profile.instructions[0].setpoint", None, "profile.instructions[0].setpoint: expected a finite number, got null"),
    ("start", "profile.instructions[2].setpoint", 0.5, "profile.instructions[2].setpoint: expected null (WAIT has no set point), got 0.5"),
    ("start", "profile.instructions[1].step", 5, "profile.instructions[1].step: expected 2 (steps are numbered from 1 in list order), got 5"),
    ("start", "profile.instructions[1].cycle", 0, "profile.instructions[1].cycle: expected an integer from 1 to 2147483647, got 0"),
    ("start", "limits", DELETE, "limits: required field is missing"),
    ("start", "limits.voltage_max", DELETE, "limits.voltage_max: required field is missing"),
    ("start", "limits.current_min", 10, "limits.current_min: 10 is above current_max 5"),
    # status
    ("status", "status", "QUEUED", "status: expected one of RUNNING, PAUSED, FINISHED, ERROR, got 'QUEUED'"),
    ("status", "status", "CANCELLED", "status: expected one of RUNNING, PAUSED, FINISHED, ERROR, got 'CANCELLED'"),
    ("status", "status", "running", "status: expected one of RUNNING, PAUSED, FINISHED, ERROR, got 'running'"),
    ("status", "ts", DELETE, "ts: required field is missing"),
    ("status", "message", 5, "message: expected a string, got 5"),
    ("status", "message", "m" * 16_001, "message: 16001 characters, more than the limit of 16000"),
    # measures
    ("measures", "experiment_id", DELETE, "experiment_id: required field is missing"),
    ("measures", "experiment_id", "12", "experiment_id: expected an integer from 1 to 2147483647, got '12'"),
    ("measures", "experiment_id", 0, "experiment_id: expected an integer from 1 to 2147483647, got 0"),
    ("measures", "samples", DELETE, "samples: required field is missing"),
    ("measures", "samples", {"seq": 0}, "samples: expected a list, got an object"),
    ("measures", "samples", [], "samples: expected at least one sample, got an empty list"),
    ("measures", "samples[3]", "x", "samples[3]: expected an object, got 'x'"),
    ("measures", "samples[3].voltage", "abc", "samples[3].voltage: expected a finite number, got 'abc'"),
    ("measures", "samples[3].voltage", DELETE, "samples[3].voltage: required field is missing"),
    ("measures", "samples[3].voltage", float("nan"), "samples[3].voltage: expected a finite number, got NaN"),
    ("measures", "samples[3].current", True, "samples[3].current: expected a finite number, got true"),
    ("measures", "samples[3].current", float("-inf"), "samples[3].current: expected a finite number, got -Infinity"),
    ("measures", "samples[3].current", [1.5], "samples[3].current: expected a finite number, got a list"),
    ("measures", "samples[3].ts", None, "samples[3].ts: expected a finite number, got null"),
    ("measures", "samples[3].ts", float("inf"), "samples[3].ts: expected a finite number, got Infinity"),
    ("measures", "samples[3].seq", DELETE, "samples[3].seq: required field is missing"),
    ("measures", "samples[3].seq", -1, "samples[3].seq: expected an integer from 0 to 2147483647, got -1"),
    ("measures", "samples[3].seq", 3.0, "samples[3].seq: expected an integer from 0 to 2147483647, got 3.0"),
    ("measures", "samples[3].seq", "3", "samples[3].seq: expected an integer from 0 to 2147483647, got '3'"),
    ("measures", "samples[3].seq", 2**31, "samples[3].seq: expected an integer from 0 to 2147483647, got 2147483648"),
    ("measures", "samples[3].seq", 1, "samples[3].seq: 1 appears twice in this message (also samples[1])"),
    ("measures", "samples[3].power", "5", "samples[3].power: expected a finite number, got '5'"),
    ("measures", "samples[3].instruction", 0, "samples[3].instruction: expected an integer from 1 to 2147483647, got 0"),
    ("measures", "samples[3].instruction", 1.5, "samples[3].instruction: expected an integer from 1 to 2147483647, got 1.5"),
    ("measures", "samples[3].cycle", 0, "samples[3].cycle: expected an integer from 1 to 2147483647, got 0"),
    ("measures", "samples[3].mode", 5, "samples[3].mode: expected a string, got 5"),
    ("measures", "samples[3].mode", "", "samples[3].mode: must not be empty"),
    ("measures", "samples[3].mode", "CONSTANT_CURRENT", "samples[3].mode: 16 characters, more than the limit of 8"),
    ("measures", "samples[3].extra", [["temp", 1.0]], "samples[3].extra: expected an object of channel name: number, got a list"),
    ("measures", "samples[3].extra", {"temp": "hot"}, "samples[3].extra.temp: expected a finite number, got 'hot'"),
    ("measures", "samples[3].extra", {"temp": True}, "samples[3].extra.temp: expected a finite number, got true"),
    ("measures", "samples[3].extra", {"temp": None}, "samples[3].extra.temp: expected a finite number, got null"),
    ("measures", "samples[3].extra", {"temp": {"v": 1}}, "samples[3].extra.temp: expected a finite number, got an object"),
    ("measures", "samples[3].extra", {"temp": float("nan")}, "samples[3].extra.temp: expected a finite number, got NaN"),
    ("measures", "samples[3].extra", {"": 1.0}, "samples[3].extra: channel name: must not be empty"),
    ("measures", "samples[3].extra", {"c" * 101: 1.0}, "samples[3].extra: channel name: 101 characters, more than the limit of 100"),
    # alarms
    ("alarms", "experiment_id", None, "experiment_id: expected an integer from 1 to 2147483647, got null"),
    ("alarms", "ts", DELETE, "ts: required field is missing"),
    ("alarms", "code", DELETE, "code: required field is missing"),
    ("alarms", "code", "", "code: must not be empty"),
    ("alarms", "code", "C" * 65, "code: 65 characters, more than the limit of 64"),
    ("alarms", "value", "high", "value: expected a finite number, got 'high'"),
    ("alarms", "value", False, "value: expected a finite number, got false"),
    ("alarms", "message", ["a"], "message: expected a string, got a list"),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "path", "value", "message"), REFUSALS)
def test_refusal_names_the_field_and_the_problem(
    kind: str, path: str, value: Any, message: str
) -> None:
    with pytest.raises(ProtocolError) as refused:
        PARSER_OF[kind](changed(kind, path, value))
    assert str(refused.value) == message


def test_the_message_shows_a_long_value_shortened() -> None:
    with pytest.raises(ProtocolError) as refused:
        parse_measures(changed("measures", "samples[0].voltage", "v" * 10_000))
    assert len(str(refused.value)) < 120


def test_huge_integers_are_described_not_printed() -> None:
    with pytest.raises(ProtocolError, match=r"^samples\[0\]\.seq: .*got a 40-digit integer$"):
        parse_measures(changed("measures", "samples[0].seq", 10**39))


def test_number_beyond_double_range_is_refused_with_its_field() -> None:
    payload = changed("measures", "samples[2].voltage", 1.0).replace(
        b'"voltage": 1.0', b'"voltage": 1e999'
    )
    with pytest.raises(ProtocolError) as refused:
        parse_measures(payload)
    assert str(refused.value) == (
        "samples[2].voltage: expected a finite number, got a number beyond the range of a 64-bit float"
    )


def test_integer_voltage_too_big_for_a_double_is_refused() -> None:
    with pytest.raises(ProtocolError, match=r"^samples\[0\]\.voltage: expected a finite number"):
        parse_measures(changed("measures", "samples[0].voltage", 10**400))


def test_nan_in_an_ignored_field_is_still_refused() -> None:
    payload = changed("measures", "comment", float("nan"))
    with pytest.raises(ProtocolError) as refused:
        parse_measures(payload)
    assert str(refused.value) == "payload: NaN is not a JSON number; send finite numbers only"


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_literals_are_refused_in_every_kind(literal: str) -> None:
    payload = json.dumps(BASE["heartbeat"]).replace(str(TS), literal).encode()
    with pytest.raises(ProtocolError, match=f"^ts: expected a finite number, got {literal}$"):
        parse_heartbeat(payload)


def test_power_overflowing_the_product_is_refused() -> None:
    with pytest.raises(ProtocolError) as refused:
        parse_measures(_measures(_sample(voltage=1e200, current=1e200)))
    assert str(refused.value).startswith("samples[0].power: absent, and voltage × current")


def test_unpaired_surrogates_are_refused_in_stored_text() -> None:
    payload = b'{"unit": "cu-\\ud800", "stations": []}'
    with pytest.raises(ProtocolError, match="^unit: contains an unpaired UTF-16 surrogate$"):
        parse_announce(payload)
    payload = _measures(_sample(extra={"t\ud800": 1.0}))
    with pytest.raises(ProtocolError, match=r"^samples\[0\]\.extra: channel name: contains"):
        parse_measures(payload)


def test_non_ascii_text_is_welcome() -> None:
    alarm = parse_alarm('{"experiment_id":1,"ts":2,"code":"TEMP","message":"über 40 °C"}'.encode())
    assert alarm.message == "über 40 °C"


# ---------------------------------------------------------------- payload-level refusals

ALL_PARSERS = list(PARSERS.values())


@pytest.mark.parametrize("parse", ALL_PARSERS)
@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"", "payload: empty, expected a JSON object"),
        (b"\xff{}", "payload: not valid UTF-8 (invalid start byte at byte 0)"),
        ('{"a": "ü"}'.encode("latin-1"), "payload: not valid UTF-8 (invalid start byte at byte 7)"),
        ("{}".encode("utf-16"), "payload: not valid UTF-8 (invalid start byte at byte 0)"),
        (b"{", "payload: not valid JSON (Expecting property name enclosed in double quotes at line 1 column 2)"),
        (b"{} {}", "payload: not valid JSON (Extra data at line 1 column 4)"),
        (b"{'a': 1}", "payload: not valid JSON (Expecting property name enclosed in double quotes at line 1 column 2)"),
        (b"[1, 2]", "payload: expected a JSON object, got a list"),
        (b'"hello"', "payload: expected a JSON object, got 'hello'"),
        (b"null", "payload: expected a JSON object, got null"),
        (b"42", "payload: expected a JSON object, got 42"),
        (b"NaN", "payload: expected a JSON object, got NaN"),
        (b"[" * 100_000, "payload: JSON nested too deeply"),
    ],
)  # fmt: skip
def test_payloads_that_are_not_a_json_object_are_refused(
    parse: Callable[..., Any], payload: bytes, message: str
) -> None:
    with pytest.raises(ProtocolError) as refused:
        parse(payload)
    assert str(refused.value) == message


@pytest.mark.parametrize("parse", ALL_PARSERS)
def test_integers_longer_than_python_reads_are_refused(parse: Callable[..., Any]) -> None:
    with pytest.raises(ProtocolError, match=r"^payload: not valid JSON \(Exceeds the limit"):
        parse(b'{"experiment_id": ' + b"9" * 5000 + b"}")


@pytest.mark.parametrize("parse", ALL_PARSERS)
def test_payloads_over_the_size_limit_are_refused_before_reading(parse: Callable[..., Any]) -> None:
    with pytest.raises(ProtocolError) as refused:
        parse(b" " * 4_000_001, max_bytes=4_000_000)
    assert str(refused.value) == "payload: 4000001 bytes, more than the limit of 4000000"


def test_the_size_limit_is_a_parameter() -> None:
    payload = json.dumps(BASE["heartbeat"]).encode()
    parse_heartbeat(payload, max_bytes=len(payload))
    with pytest.raises(ProtocolError, match=f"^payload: {len(payload)} bytes, more than the limit"):
        parse_heartbeat(payload, max_bytes=len(payload) - 1)


def test_too_many_samples_in_one_message_are_refused() -> None:
    payload = _measures(*(_sample(seq=seq) for seq in range(11)))
    assert len(parse_measures(payload, max_samples=11).samples) == 11
    with pytest.raises(ProtocolError) as refused:
        parse_measures(payload, max_samples=10)
    assert str(refused.value) == "samples: 11 samples, more than the limit of 10 per message"


def test_default_sample_limit_is_one_hundred_thousand() -> None:
    one = b'{"seq":%d,"ts":1.0,"voltage":3.7,"current":1.5}'
    payload = b'{"experiment_id":1,"samples":[' + b",".join(one % i for i in range(100_001)) + b"]}"
    with pytest.raises(
        ProtocolError, match="^samples: 100001 samples, more than the limit of 100000"
    ):
        parse_measures(payload, max_bytes=10_000_000)


def test_a_str_payload_is_a_programming_error() -> None:
    with pytest.raises(TypeError, match="payload must be bytes"):
        parse_heartbeat('{"ts": 1, "state": "idle"}')  # type: ignore[arg-type]


def test_bytearray_and_memoryview_payloads_are_read() -> None:
    payload = json.dumps(BASE["heartbeat"]).encode()
    assert parse_heartbeat(bytearray(payload)) == parse_heartbeat(memoryview(payload))  # type: ignore[arg-type]


# ---------------------------------------------------------------- encoders and round trips

MESSAGES = [
    Announce(
        "cu-lab1",
        (
            StationSpec("ch1", Window(0.0, 5.0, -15.0, 15.0), location="rack A"),
            StationSpec("ch2", Window(0.0, 60.0, -100.0, 100.0)),
        ),
        host="10.0.0.7",
    ),
    Announce("cu-empty", ()),
    Registered("cu-lab1", (RegisteredStation("ch1", 7), RegisteredStation("ch2", 8))),
    Heartbeat(TS, StationState.IDLE),
    Heartbeat(TS, StationState.RUNNING, 12),
    Heartbeat(TS, StationState.PAUSED, 12),
    Heartbeat(TS, StationState.ERROR),
    StartCommand(
        12,
        "1C cycling",
        (
            ExpandedStep(Mode.CC, 2.5, Limit.VOLTAGE, 4.2, step=1, cycle=1, line=3),
            ExpandedStep(Mode.CV, 4.2, Limit.CURRENT, 0.125, step=2, cycle=1, line=4),
            ExpandedStep(Mode.WAIT, None, Limit.TIME, 600.0, step=3, cycle=1, line=5),
            ExpandedStep(Mode.CP, -10.0, Limit.ENERGY, 9.0, step=4, cycle=1, line=6),
        ),
        Window(2.5, 4.25, -5.0, 5.0),
    ),
    *(ControlCommand(12, action) for action in ControlAction),
    *(StatusReport(12, status, TS) for status in ("RUNNING", "PAUSED", "FINISHED", "ERROR")),
    StatusReport(12, ExperimentStatus.ERROR, TS, "over-temperature: 61.2 °C"),
    Measures(
        12,
        (
            Sample(0, TS, 3.71, 1.5, 5.565, 1, 1, "CC", {"temp_body": 25.1, "cell 1": 3.7}),
            Sample(1, TS + 0.5, 3.712, -1.5, -5.568),
            Sample(2, TS + 1.0, 0.0, 0.0, 0.0, instruction=3, mode="WAIT"),
        ),
    ),
    Alarm(12, TS, "OVER_VOLTAGE", 4.31, "voltage above limit"),
    Alarm(12, TS, "COMMS_LOST"),
]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: type(m).__name__)
def test_encode_then_parse_gives_the_message_back(message: Any) -> None:
    parse = PARSERS[kind_of(message)]
    assert parse(encode(message)) == message


def test_kind_specific_encoders_match_the_generic_one() -> None:
    announce, registered, heartbeat, start = MESSAGES[0], MESSAGES[2], MESSAGES[4], MESSAGES[7]
    assert encode_announce(announce.unit, announce.stations, announce.host) == encode(announce)
    assert encode_registered("cu-lab1", {"ch1": 7, "ch2": 8}) == encode(registered)
    assert encode_heartbeat(TS, "running", 12) == encode(heartbeat)
    assert encode_start(12, "1C cycling", list(start.instructions), start.limits) == encode(start)
    assert encode_stop(12) == encode(ControlCommand(12, ControlAction.STOP))
    assert encode_pause(12) == encode_control("pause", 12)
    assert encode_resume(12) == b'{"command":"resume","experiment_id":12}'
    assert encode_status(12, "FINISHED", TS) == encode(
        StatusReport(12, ExperimentStatus.FINISHED, TS)
    )
    measures = MESSAGES[-3]
    assert encode_measures(12, list(measures.samples)) == encode(measures)
    assert encode_alarm(12, TS, "COMMS_LOST") == encode(MESSAGES[-1])


def test_encoding_is_compact_utf8_json() -> None:
    payload = encode_alarm(12, 1.5, "TEMP", 41.5, "über 40 °C")
    assert (
        payload
        == '{"experiment_id":12,"ts":1.5,"code":"TEMP","value":41.5,"message":"über 40 °C"}'.encode()
    )


def test_heartbeat_encodes_a_null_experiment_id() -> None:
    assert (
        encode_heartbeat(1.5, StationState.IDLE)
        == b'{"ts":1.5,"state":"idle","experiment_id":null}'
    )


def test_start_command_encodes_the_contract_layout() -> None:
    start = MESSAGES[7]
    data = json.loads(encode(start))
    assert set(data) == {"command", "experiment_id", "profile", "limits"}
    assert data["command"] == "start"
    assert set(data["profile"]) == {"name", "instructions"}


def test_start_command_bytes_are_fixed() -> None:
    steps = [
        ExpandedStep(Mode.CC, 2.5, Limit.VOLTAGE, 4.2, step=1, cycle=1, line=3),
        ExpandedStep(Mode.WAIT, None, Limit.TIME, 600.0, step=2),
    ]
    battery = {"technology": "lithium-ion", "chemistry": None, "nominal_capacity_ah": 2.5}
    payload = encode_start(12, "1C cycling", steps, Window(2.5, 4.2, -5.0, 3.0), battery)
    assert payload == (
        b'{"command":"start","experiment_id":12,"profile":{"name":"1C cycling","instructions":['
        b'{"step":1,"cycle":1,"line":3,"mode":"CC","setpoint":2.5,"limit":"VOLTAGE",'
        b'"limit_value":4.2},'
        b'{"step":2,"mode":"WAIT","setpoint":null,"limit":"TIME","limit_value":600.0}]},'
        b'"limits":{"voltage_min":2.5,"voltage_max":4.2,"current_min":-5.0,"current_max":3.0},'
        b'"battery":{"technology":"lithium-ion","nominal_capacity_ah":2.5}}'
    )


def test_announce_bytes_are_fixed() -> None:
    stations = [
        StationSpec("ch1", Window(0.0, 5.0, -15.0, 15.0), location="rack A"),
        StationSpec("ch2", Window(0.0, 60.0, -100.0, 100.0)),
    ]
    assert encode_announce("cu-lab1", stations, host="10.0.0.7") == (
        b'{"unit":"cu-lab1","host":"10.0.0.7","stations":['
        b'{"name":"ch1","location":"rack A","voltage_min":0.0,"voltage_max":5.0,'
        b'"current_min":-15.0,"current_max":15.0},'
        b'{"name":"ch2","voltage_min":0.0,"voltage_max":60.0,'
        b'"current_min":-100.0,"current_max":100.0}]}'
    )


def test_start_steps_are_decoded_as_typed_steps() -> None:
    command = parse_command(CONTRACT_START.encode())
    assert isinstance(command, StartCommand)
    (step,) = command.instructions
    assert type(step) is ExpandedStep
    assert type(step.mode) is Mode and type(step.limit) is Limit


def test_start_limits_are_decoded_as_a_window() -> None:
    command = parse_command(CONTRACT_START.encode())
    assert isinstance(command, StartCommand)
    assert command.limits == Window(2.5, 4.2, -5.0, 5.0)


def test_announced_stations_are_decoded_with_their_window() -> None:
    (station,) = parse_announce(CONTRACT_ANNOUNCE.encode()).stations
    assert station.window == Window(0.0, 5.0, -15.0, 15.0)


def test_encoders_refuse_non_finite_numbers() -> None:
    with pytest.raises(ProtocolError, match="NaN or Infinity"):
        encode_heartbeat(math.nan, StationState.IDLE)


def test_encode_control_refuses_unknown_commands() -> None:
    with pytest.raises(ProtocolError, match="^command: expected one of stop, pause, resume"):
        encode_control("restart", 12)


def test_encode_refuses_what_is_not_a_message() -> None:
    with pytest.raises(TypeError):
        encode({"unit": "x"})  # type: ignore[arg-type]


finite = st.floats(allow_nan=False, allow_infinity=False)
texts = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20
).filter(str.strip)
samples = st.builds(
    Sample,
    seq=st.integers(0, MAX_ID),
    ts=finite,
    voltage=finite,
    current=finite,
    power=finite,
    instruction=st.none() | st.integers(1, MAX_ID),
    cycle=st.none() | st.integers(1, MAX_ID),
    mode=st.none() | st.sampled_from(["CC", "CV", "CP", "WAIT"]),
    extra=st.dictionaries(texts, finite, max_size=3),
)


@settings(max_examples=200, deadline=None)
@given(
    experiment_id=st.integers(1, MAX_ID),
    batch=st.lists(samples, min_size=1, max_size=20, unique_by=lambda s: s.seq),
)
def test_any_valid_measures_survive_a_round_trip(experiment_id: int, batch: list[Sample]) -> None:
    message = Measures(experiment_id, tuple(batch))
    assert parse_measures(encode(message)) == message


# ---------------------------------------------------------------- robustness


@pytest.mark.parametrize("parse", ALL_PARSERS, ids=lambda p: p.__name__)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payload=st.binary(max_size=512))
def test_arbitrary_bytes_only_ever_raise_protocol_error(
    parse: Callable[..., Any], payload: bytes
) -> None:
    with contextlib.suppress(ProtocolError):
        parse(payload)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["CC", "idle", "RUNNING", "stop", "start", "VOLTAGE", "TIME", "WAIT"]),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@pytest.mark.parametrize("parse", ALL_PARSERS, ids=lambda p: p.__name__)
@settings(max_examples=150, deadline=None)
@given(value=json_values)
def test_arbitrary_json_only_ever_raises_protocol_error(
    parse: Callable[..., Any], value: Any
) -> None:
    with contextlib.suppress(ProtocolError):
        parse(json.dumps(value).encode())


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into a JSON value, for replacing one part of a valid message."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, inner in value.items():
            found += _paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += _paths(inner, (*prefix, index))
    return found


@pytest.mark.parametrize("kind", list(BASE))
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_valid_messages_with_one_part_replaced_only_raise_protocol_error(
    kind: str, data: st.DataObject
) -> None:
    message = copy.deepcopy(BASE[kind])
    *parents, last = data.draw(st.sampled_from(_paths(message)))
    target = message
    for step in parents:
        target = target[step]
    if data.draw(st.booleans()):
        del target[last]
    else:
        target[last] = data.draw(json_values)
    with contextlib.suppress(ProtocolError):
        PARSER_OF[kind](json.dumps(message).encode())


# ---------------------------------------------------------------- the documentation


def _doc_examples() -> list[tuple[str, str]]:
    text = DOCS.read_text(encoding="utf-8")
    examples = re.findall(r"<!-- message: (\w+) -->\s*```json\n(.*?)```", text, re.DOTALL)
    # Every JSON block must carry its kind, or it would escape this check.
    assert len(examples) == text.count("```json"), "a ```json block lacks <!-- message: kind -->"
    return examples


def test_docs_have_a_json_example_for_every_kind() -> None:
    assert {kind for kind, _ in _doc_examples()} == set(MessageKind)


@pytest.mark.parametrize(("kind", "example"), _doc_examples(), ids=lambda v: v[:12])
def test_docs_json_examples_parse(kind: str, example: str) -> None:
    PARSERS[MessageKind(kind)](example.encode())


def _doc_session() -> list[dict[str, str]]:
    """The options of every mosquitto_pub command in the docs' shell blocks."""
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.DOTALL):
        lexer = shlex.shlex(block.replace("\\\n", " "), posix=True)
        lexer.whitespace_split = True
        lexer.commenters = "#"
        tokens = list(lexer)
        starts = [i for i, token in enumerate(tokens) if token == "mosquitto_pub"]
        for start, end in zip(starts, [*starts[1:], len(tokens)], strict=True):
            arguments = tokens[start + 1 : end]
            commands.append(dict(zip(arguments[::2], arguments[1::2], strict=True)))
    return commands


def test_docs_session_covers_every_kind() -> None:
    kinds = {Topics("bem").parse(command["-t"]).kind for command in _doc_session()}
    assert kinds == set(MessageKind)


@pytest.mark.parametrize("command", _doc_session(), ids=lambda c: c["-t"])
def test_docs_session_messages_parse_on_their_topic_with_their_qos(command: dict[str, str]) -> None:
    kind, _key = Topics("bem").parse(command["-t"])
    assert int(command["-q"]) == QOS[kind]
    PARSERS[kind](command["-m"].encode())


# ---------------------------------------------------------------- speed


def test_parsing_a_thousand_samples_takes_milliseconds() -> None:
    payload = encode(
        Measures(
            12,
            tuple(
                Sample(i, TS + i / 100, 3.7 + i * 1e-5, 1.5, 5.55, 1 + i // 100, 1, "CC",
                       {"temp_body": 25.1 + i * 1e-3})
                for i in range(1000)
            ),
        )
    )  # fmt: skip
    best = math.inf
    for _ in range(5):
        began = time.perf_counter()
        parse_measures(payload)
        best = min(best, time.perf_counter() - began)
    # The budget is well under 10 ms; the bound is loose so a busy CI machine still passes.
    assert best < 0.05
