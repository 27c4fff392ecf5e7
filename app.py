"""The web application: `create_app(settings, store)` builds the Dash app (multipage, Bootstrap).

Processes get it from the composition root (`bootstrap.web_app`, `bootstrap.wsgi`).

Callbacks are checked against a validation layout: the shell and every page's
components, so a callback naming an id that no page has fails in the browser console at
once. Each page gives its components without data through `validation_layout()` (a page
whose `layout()` reads nothing may go without).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import dash
import flask
from dash import html

from components import appshell, context, hardening
from components.routes import STYLESHEETS, register_routes
from config import Settings
from datastore import Datastore

ROOT = Path(__file__).resolve().parent

log = logging.getLogger("bem.web")


def create_app(settings: Settings, store: Datastore) -> dash.Dash:
    """Build the app on `store`, configured by `settings`."""
    server = flask.Flask(__name__)
    # No secret key here: components.auth.install sets the one every worker shares
    # (web.secret_key, or the instance folder's), never a key drawn per process.
    context.install(server, context.WebContext(settings, store))
    register_routes(server)

    app = dash.Dash(
        __name__,
        server=server,  # type: ignore[arg-type]  # Dash types it as bool, but takes a Flask
        use_pages=True,
        pages_folder=str(ROOT / "pages"),
        assets_folder=str(ROOT / "assets"),
        external_stylesheets=STYLESHEETS,
        suppress_callback_exceptions=False,
        title="Battery Experiments Manager",
        on_error=hardening.report_callback_error,
    )
    hardening.install(app, settings)
    app.layout = appshell.layout
    appshell.register_callbacks(app)
    _keep_validation_layout(app, validation_layout())
    return app


def set_up_before_serving(app: dash.Dash) -> None:
    """Let Dash set itself up now rather than on its first request.

    Dash completes its callbacks and its page router on the first request a process
    receives. Two threads doing that at once (a browser fetching a page's stylesheets
    from a fresh gunicorn worker) corrupt it: one of them fails with "dictionary changed
    size during iteration". One request made here, before the app serves anyone, does it
    once. The stylesheet asked for is public, so sign-in lets it through. Call it when
    nothing more is added to the app: Flask refuses new routes after a request.
    """
    response = app.server.test_client().get(STYLESHEETS[0])
    if response.status_code != 200:
        log.error("setting up the web app answered %s", response.status)


def validation_layout() -> html.Div:
    """Every component a callback may name: the shell and each registered page in full."""
    pages = []
    for page in dash.page_registry.values():
        module = sys.modules[page["module"]]
        pages.append(getattr(module, "validation_layout", page["layout"])())
    return html.Div([appshell.layout(), *pages])


def _keep_validation_layout(app: dash.Dash, layout: html.Div) -> None:
    # Dash types the attribute as its initial None.
    app.validation_layout = layout  # type: ignore[assignment]

    # Dash's page router, on the first request, replaces the validation layout with each
    # page's layout() called without arguments: that reads the database, and for the
    # monitor gives only its station picker. This hook runs after the router's (Dash
    # registered that one when the app was built) and puts the complete layout back.
    @app.server.before_request
    def restore() -> None:
        app.validation_layout = layout  # type: ignore[assignment]
