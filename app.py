"""The web application: `create_app(settings)` builds the Dash app (multipage, Bootstrap)."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

import dash
import flask
import flask_bootstrap

from components import appshell
from components.context import EXTENSION_KEY, WebContext
from config import Settings, load_settings
from datastore import make_engine, make_session_factory
from datastore.migrate import upgrade

ROOT = Path(__file__).resolve().parent
# Bootstrap CSS and icons come from an installed package, so pages work with no internet.
BOOTSTRAP_STATIC = Path(flask_bootstrap.__file__).resolve().parent / "static" / "bootstrap5"
VENDOR_URL = "/_vendor/bootstrap5"
STYLESHEETS = [
    f"{VENDOR_URL}/css/bootstrap.min.css",
    f"{VENDOR_URL}/css/font/bootstrap-icons.min.css",
]

log = logging.getLogger("bem.web")


def _report_callback_error(error: Exception) -> None:
    """Log the full error for the operator; show the user one sentence."""
    log.exception("callback failed", exc_info=error)
    dash.set_props(
        appshell.ERROR_TOAST_ID,
        {
            "is_open": True,
            "children": f"{type(error).__name__}: {error}. Details are in the server log.",
        },
    )


def experiment_csv_url(
    experiment_id: int, start_ts: float | None = None, end_ts: float | None = None
) -> str:
    """Where the browser downloads an experiment's samples (optionally a time window) as CSV."""
    query = "&".join(
        f"{name}={value!r}"
        for name, value in (("start", start_ts), ("end", end_ts))
        if value is not None
    )
    return f"/export/experiments/{experiment_id}.csv" + (f"?{query}" if query else "")


def _csv_download(context: WebContext, experiment_id: int) -> flask.Response:
    """Stream the CSV export (DESIGN.md section 7) chunk by chunk: memory stays flat."""
    from datastore.export import iter_experiment_csv

    window = {}
    for name, key in (("start", "start_ts"), ("end", "end_ts")):
        raw = flask.request.args.get(name)
        if raw is None:
            continue
        try:
            window[key] = float(raw)
        except ValueError:
            return flask.Response(
                f"{name}: expected Unix seconds, got {raw!r}\n", status=400, mimetype="text/plain"
            )
    chunks = iter_experiment_csv(context.engine, experiment_id, **window)
    try:
        first = next(chunks)  # an unknown experiment fails here, before any byte is sent
    except LookupError:
        return flask.Response(
            f"There is no experiment {experiment_id}.\n", status=404, mimetype="text/plain"
        )

    def stream():
        yield first
        yield from chunks

    suffix = "-window" if window else ""
    return flask.Response(
        flask.stream_with_context(stream()),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="experiment-{experiment_id}{suffix}.csv"'
        },
    )


def create_app(settings: Settings | None = None, context: WebContext | None = None) -> dash.Dash:
    """Build the app for `settings` (default: loaded from config/ and the environment)."""
    if context is None:
        settings = settings or load_settings()
        engine = make_engine(settings.database.resolved_url)
        if engine.dialect.name == "sqlite":
            upgrade(engine)
        context = WebContext(settings, engine, make_session_factory(engine))
    settings = context.settings

    server = flask.Flask(__name__)
    server.config["SECRET_KEY"] = settings.web.secret_key or secrets.token_hex(32)
    server.extensions[EXTENSION_KEY] = context

    @server.route(f"{VENDOR_URL}/<path:filename>")
    def vendor_static(filename: str) -> flask.Response:
        return flask.send_from_directory(BOOTSTRAP_STATIC, filename, max_age=86400)

    @server.route("/export/experiments/<int:experiment_id>.csv")
    def export_experiment(experiment_id: int) -> flask.Response:
        return _csv_download(context, experiment_id)

    app = dash.Dash(
        __name__,
        server=server,
        use_pages=True,
        pages_folder=str(ROOT / "pages"),
        assets_folder=str(ROOT / "assets"),
        external_stylesheets=STYLESHEETS,
        suppress_callback_exceptions=True,
        title="Battery Experiments Manager",
        on_error=_report_callback_error,
        health_endpoint="health",
    )
    app.layout = appshell.layout
    return app


def wsgi() -> flask.Flask:
    """WSGI entry for production servers: `gunicorn 'app:wsgi()'`.

    Waits up to two minutes for the database, so the web service needs no restart by
    hand when it starts before the database server is ready.
    """
    from cli.common import open_datastore

    store = open_datastore(wait_s=120)
    return create_app(context=WebContext(store.settings, store.engine, store.sessions)).server
