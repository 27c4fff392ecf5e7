"""How every process writes its log: one line per event, on standard error.

A text line reads

    2026-12-01T10:00:00Z INFO node experiment=12 stored 500 samples

that is, the time in UTC, the level, the component (web, node, import, demo...: the part
of the logger's name after "bem.", or the first part of another library's logger name),
the experiment the event concerns when there is one, then the message. An error's
traceback follows on lines indented by two spaces, so every line that starts with a
time starts an event. With `logging.format: json` each event is one JSON object per line,
traceback included, with the keys time, level, component, experiment (when there is one)
and message.

Code says which experiment an event concerns with `extra=for_experiment(id)`.
`bootstrap.configure_logging` installs this once per process.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from typing import Any, TextIO

# The attribute of a log record that names the experiment (set with `for_experiment`).
EXPERIMENT_ATTRIBUTE = "experiment_id"
FORMATS = ("text", "json")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def for_experiment(experiment_id: int | None) -> dict[str, Any]:
    """The `extra` of a log call about one experiment: `log.info(..., extra=for_experiment(12))`."""
    return {EXPERIMENT_ATTRIBUTE: experiment_id}


def component_of(logger_name: str) -> str:
    """ "node" for bem.node, "web" for bem.web.auth; "werkzeug" for werkzeug._internal."""
    parts = logger_name.split(".")
    if parts[0] == "bem" and len(parts) > 1:
        return parts[1]
    return parts[0] or "root"


class EventFormatter(logging.Formatter):
    """One event per line, as text or as JSON (see the module's docstring)."""

    def __init__(self, style: str = "text") -> None:
        if style not in FORMATS:
            raise ValueError(f"logging.format: expected one of {', '.join(FORMATS)}, got {style!r}")
        super().__init__()
        self.style_name = style

    def format(self, record: logging.LogRecord) -> str:
        time = dt.datetime.fromtimestamp(record.created, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        component = component_of(record.name)
        experiment = getattr(record, EXPERIMENT_ATTRIBUTE, None)
        message = record.getMessage()
        trace = self._trace(record)
        if self.style_name == "json":
            event: dict[str, Any] = {
                "time": time,
                "level": record.levelname,
                "component": component,
            }
            if experiment is not None:
                event["experiment"] = experiment
            event["message"] = message
            if trace:
                event["exception"] = trace
            return json.dumps(event, ensure_ascii=False, default=str)
        # A message never breaks the one-line-per-event rule: its own newlines are folded.
        text = " ".join(message.splitlines()) if "\n" in message else message
        about = f" experiment={experiment}" if experiment is not None else ""
        line = f"{time} {record.levelname} {component}{about} {text}"
        if trace:
            line += "\n" + "\n".join(f"  {row}" for row in trace.splitlines())
        return line

    def _trace(self, record: logging.LogRecord) -> str:
        parts = []
        if record.exc_info:
            parts.append(self.formatException(record.exc_info))
        if record.stack_info:
            parts.append(self.formatStack(record.stack_info))
        return "\n".join(parts)


class StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever `sys.stderr` is at the time of the event (a test's capture, or a
    stream replaced after the set-up), not the one it was created with."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def install(style: str, level: str) -> None:
    """Make the root logger write `style` events of `level` and above to standard error,
    replacing the handler an earlier call installed (so it is safe to call again)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, StderrHandler):
            root.removeHandler(handler)
    handler = StderrHandler()
    handler.setFormatter(EventFormatter(style))
    root.addHandler(handler)
    root.setLevel(level)
