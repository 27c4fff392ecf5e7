"""Plain Flask routes beside the Dash pages: vendored static files and CSV downloads.

`register_routes(server)` adds them; their URLs are built by `components.urls`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from collections.abc import Iterator
from pathlib import Path

import flask
import flask_bootstrap

from components import context
from components.report import experiment_report
from components.uploads import UploadError, receive_upload, upload_root
from components.urls import (
    COMPARE_CSV_ROUTE,
    CYCLE_CSV_ROUTE,
    EXPERIMENT_CSV_ROUTE,
    EXPERIMENT_REPORT_ROUTE,
    IMPORT_UPLOAD_URL,
    VENDOR_URL,
)
from datastore.compare import experiment_facts, experiments_cycles
from datastore.cycles import experiment_cycles
from datastore.experiments import experiment_detail
from datastore.export import iter_experiment_csv
from domain.compare import CSV_COLUMNS, csv_rows, from_query
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
    server.add_url_rule(EXPERIMENT_REPORT_ROUTE, "experiment_report", _experiment_report)
    server.add_url_rule(COMPARE_CSV_ROUTE, "export_compare", _compare_csv)
    server.add_url_rule(CYCLE_CSV_ROUTE, "export_cycles", _cycle_csv)
    server.add_url_rule(IMPORT_UPLOAD_URL, "import_upload", _import_upload, methods=["POST"])


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
            value = float(raw)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            return _plain(
                f"{name}: expected Unix seconds (a finite number), got {raw[:40]!r}.", 400
            )
        window[key] = value
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


def _import_upload() -> flask.Response:
    """Store a file for the import page, streamed to disk (components.uploads); answer
    its token as JSON, or {"error": message} with 400 or 413."""
    settings = context.current().settings
    try:
        upload = receive_upload(
            flask.request.environ, upload_root(settings), settings.web.max_upload_bytes
        )
    except UploadError as error:
        return flask.make_response(flask.jsonify(error=str(error)), error.status)
    return flask.jsonify(token=upload.token, filename=upload.filename, size=upload.size)


def _experiment_report(experiment_id: int) -> flask.Response:
    """The self-contained HTML report; `?download=1` saves it instead of showing it."""
    try:
        report = experiment_report(context.current().store.engine, experiment_id)
    except LookupError:
        return _plain(f"There is no experiment {experiment_id}.", 404)
    headers = {}
    if flask.request.args.get("download"):
        headers["Content-Disposition"] = (
            f'attachment; filename="experiment-{experiment_id}-report.html"'
        )
    return flask.Response(report, mimetype="text/html", headers=headers)


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
        try:
            return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        except (OverflowError, OSError, ValueError):  # beyond the calendar: no sample there
            return f"{ts:.0f}"[:20]

    if start_ts is None and end_ts is None:
        return f"experiment-{experiment_id}.csv"
    span = f"{stamp(start_ts, 'start')}-{stamp(end_ts, 'end')}"
    return f"experiment-{experiment_id}_{span}.csv"


def _compare_csv() -> flask.Response:
    """The cycle data of a comparison (docs/compare.md): one row per experiment and cycle,
    for the experiments and the grouping field of the page's query. Two queries read
    everything; the text is written one experiment at a time."""
    view = from_query(flask.request.args.to_dict(flat=False))
    if view.bad_ids:
        return _plain(f"Not experiment numbers: {', '.join(view.bad_ids)}.", 400)
    engine = context.current().store.engine
    facts = experiment_facts(engine, view.ids)
    unknown = [str(i) for i in view.ids if i not in facts]
    if unknown or not view.ids:
        return _plain(f"No such experiments: {', '.join(unknown) or 'none chosen'}.", 404)
    cycles = experiments_cycles(engine, view.ids)

    def stream() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for experiment_id in view.ids:
            writer.writerows(csv_rows(facts[experiment_id], cycles[experiment_id], view.color_by))
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()

    return flask.Response(
        stream(),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="comparison-cycles.csv"'},
    )
