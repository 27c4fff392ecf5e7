"""Plain Flask routes beside the Dash pages: vendored static files and CSV downloads.

`register_routes(server)` adds them; their URLs are built by `components.urls`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import flask
import flask_bootstrap

from components import context
from components.urls import CYCLE_CSV_ROUTE, EXPERIMENT_CSV_ROUTE, VENDOR_URL
from datastore.cycles import experiment_cycles
from datastore.experiments import experiment_detail
from datastore.export import iter_experiment_csv
from domain.csvformat import format_cycle_csv

# Bootstrap CSS and icons come from an installed package, so pages work with no internet.
BOOTSTRAP_STATIC = Path(flask_bootstrap.__file__).resolve().parent / "static" / "bootstrap5"
STYLESHEETS = [
    f"{VENDOR_URL}/css/bootstrap.min.css",
    f"{VENDOR_URL}/css/font/bootstrap-icons.min.css",
]


def register_routes(server: flask.Flask) -> None:
    server.add_url_rule(f"{VENDOR_URL}/<path:filename>", "vendor_static", _vendor_static)
    server.add_url_rule(EXPERIMENT_CSV_ROUTE, "export_experiment", _experiment_csv)
    server.add_url_rule(CYCLE_CSV_ROUTE, "export_cycles", _cycle_csv)


def _vendor_static(filename: str) -> flask.Response:
    return flask.send_from_directory(BOOTSTRAP_STATIC, filename, max_age=86400)


def _plain(text: str, status: int) -> flask.Response:
    return flask.Response(text + "\n", status=status, mimetype="text/plain")


def _experiment_csv(experiment_id: int) -> flask.Response:
    """Stream the CSV export (docs/formats.md) chunk by chunk: memory stays flat. `start`
    and `end` (Unix seconds, inclusive) keep the samples of a time window."""
    window: dict[str, float] = {}
    for name, key in (("start", "start_ts"), ("end", "end_ts")):
        raw = flask.request.args.get(name)
        if raw is None:
            continue
        try:
            window[key] = float(raw)
        except ValueError:
            return _plain(f"{name}: expected Unix seconds, got {raw!r}", 400)
    chunks = iter_experiment_csv(
        context.current().store.engine,
        experiment_id,
        start_ts=window.get("start_ts"),
        end_ts=window.get("end_ts"),
    )
    try:
        first = next(chunks)  # an unknown experiment fails here, before any byte is sent
    except LookupError:
        return _plain(f"There is no experiment {experiment_id}.", 404)

    def stream() -> Iterator[str]:
        yield first
        yield from chunks

    filename = _csv_filename(experiment_id, window.get("start_ts"), window.get("end_ts"))
    return flask.Response(
        flask.stream_with_context(stream()),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _cycle_csv(experiment_id: int) -> flask.Response:
    """The cycle table as CSV, the same file as `bem experiment cycles` (docs/analysis.md)."""
    engine = context.current().store.engine
    if experiment_detail(engine, experiment_id) is None:
        return _plain(f"There is no experiment {experiment_id}.", 404)
    return flask.Response(
        format_cycle_csv(experiment_cycles(engine, experiment_id)),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="experiment-{experiment_id}-cycles.csv"'
        },
    )


def _csv_filename(experiment_id: int, start_ts: float | None, end_ts: float | None) -> str:
    """`experiment-7.csv`, or with the window: `experiment-7_20261125T100000Z-20261125T100500Z.csv`."""

    def stamp(ts: float | None, otherwise: str) -> str:
        if ts is None:
            return otherwise
        return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y%m%dT%H%M%SZ")

    if start_ts is None and end_ts is None:
        return f"experiment-{experiment_id}.csv"
    span = f"{stamp(start_ts, 'start')}-{stamp(end_ts, 'end')}"
    return f"experiment-{experiment_id}_{span}.csv"
