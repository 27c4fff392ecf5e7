"""The log: one line per event with the time in UTC, the level, the component and the
experiment the event concerns, as text or as JSON lines (config/logs.py)."""

from __future__ import annotations

import json
import logging
import re
import sys

import pytest

import bootstrap
from config import ConfigError, load_settings
from config.logs import EventFormatter, component_of, for_experiment


def record(
    name: str = "bem.node",
    message: str = "stored %d samples",
    args: tuple = (500,),
    level: int = logging.INFO,
    experiment: int | None = None,
    exc_info=None,
) -> logging.LogRecord:
    made = logging.LogRecord(name, level, __file__, 1, message, args, exc_info)
    made.created = 1796119200.25  # 2026-12-01T10:00:00.25Z
    if experiment is not None:
        made.__dict__.update(for_experiment(experiment))
    return made


def test_a_text_event_names_time_level_component_and_experiment() -> None:
    line = EventFormatter("text").format(record(experiment=12))
    assert line == "2026-12-01T10:00:00Z INFO node experiment=12 stored 500 samples"


def test_an_event_about_no_experiment_has_no_experiment_field() -> None:
    line = EventFormatter("text").format(record("bem.web", "request %s failed", ("GET /",)))
    assert line == "2026-12-01T10:00:00Z INFO web request GET / failed"


def test_a_message_with_line_breaks_stays_on_one_line() -> None:
    line = EventFormatter("text").format(record(message="first\nsecond", args=()))
    assert line.endswith("node first second") and "\n" not in line


def test_a_traceback_follows_on_indented_lines() -> None:
    try:
        raise ValueError("bad value")
    except ValueError:
        event = record(level=logging.ERROR, exc_info=sys.exc_info())
    first, *rest = EventFormatter("text").format(event).splitlines()
    assert first == "2026-12-01T10:00:00Z ERROR node stored 500 samples"
    assert rest and all(line.startswith("  ") for line in rest)
    assert rest[-1] == "  ValueError: bad value"


def test_a_json_event_is_one_object_on_one_line() -> None:
    try:
        raise ValueError("bad value")
    except ValueError:
        event = record(level=logging.ERROR, experiment=7, exc_info=sys.exc_info())
    line = EventFormatter("json").format(event)
    assert "\n" not in line
    parsed = json.loads(line)
    assert {
        key: parsed[key] for key in ("time", "level", "component", "experiment", "message")
    } == {
        "time": "2026-12-01T10:00:00Z",
        "level": "ERROR",
        "component": "node",
        "experiment": 7,
        "message": "stored 500 samples",
    }
    assert parsed["exception"].endswith("ValueError: bad value")


@pytest.mark.parametrize(
    ("logger", "component"),
    [
        ("bem.node", "node"),
        ("bem.web.auth", "web"),
        ("bem.import", "import"),
        ("bem.demo", "demo"),
        ("werkzeug", "werkzeug"),
        ("alembic.runtime.migration", "alembic"),
    ],
)
def test_the_component_is_the_part_of_the_logger_name_after_bem(logger, component) -> None:
    assert component_of(logger) == component


def test_the_format_is_a_setting() -> None:
    assert load_settings({"BEM_LOGGING_FORMAT": "json"}).logging.format == "json"
    with pytest.raises(ConfigError, match=r"logging.format \(from BEM_LOGGING_FORMAT\): "):
        load_settings({"BEM_LOGGING_FORMAT": "xml"})
    with pytest.raises(ConfigError, match="logging.level"):
        load_settings({"BEM_LOGGING_LEVEL": "LOUD"})


@pytest.fixture
def root_logging():
    """The root logger's handlers and level, put back after the test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_a_service_writes_its_events_in_the_configured_format(root_logging, capsys) -> None:
    bootstrap.configure_logging(load_settings({"BEM_LOGGING_FORMAT": "json"}), service=True)
    logging.getLogger("bem.node").info("starting on station %d", 3, extra=for_experiment(12))
    (line,) = capsys.readouterr().err.splitlines()
    assert json.loads(line)["experiment"] == 12
    assert json.loads(line)["message"] == "starting on station 3"


def test_a_short_command_writes_warnings_only(root_logging, capsys) -> None:
    bootstrap.configure_logging(load_settings({}))
    logging.getLogger("bem.datastore").info("not shown")
    logging.getLogger("bem.datastore").warning("shown")
    err = capsys.readouterr().err
    assert "not shown" not in err
    assert re.fullmatch(r"\S+Z WARNING datastore shown\n", err)
