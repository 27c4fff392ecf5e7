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
