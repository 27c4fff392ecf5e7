"""The web application: `create_app(settings, store)` builds the Dash app (multipage, Bootstrap).

Processes get it from the composition root (`bootstrap.web_app`, `bootstrap.wsgi`).
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

import dash
import flask

from components import appshell, context
from components.routes import STYLESHEETS, register_routes
from config import Settings
from datastore import Datastore

ROOT = Path(__file__).resolve().parent

log = logging.getLogger("bem.web")


def _report_callback_error(error: Exception) -> None:
    """Log the full error for the operator; show the user one sentence."""
    log.exception("callback failed", exc_info=error)
    dash.set_props(
        appshell.ids.ERROR_TOAST,
        {
            "is_open": True,
            "children": f"{type(error).__name__}: {error}. Details are in the server log.",
        },
    )


def create_app(settings: Settings, store: Datastore) -> dash.Dash:
    """Build the app on `store`, configured by `settings`."""
    server = flask.Flask(__name__)
    server.config["SECRET_KEY"] = settings.web.secret_key or secrets.token_hex(32)
    context.install(server, context.WebContext(settings, store))
    register_routes(server)

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
    appshell.register_callbacks(app)
    return app
