"""The web app's defences that are not a page's business: security headers, the request
size limit, error answers that say what failed in one sentence, and /health.

`install(app, settings)` wires them into the Dash app's Flask server; `report_callback_error`
is the app's `on_error` for callbacks. Kept in one module so that other request hooks
(authentication, for one) stay independent of these.

The browser only ever reads a sentence; the exception, with its SQL or host, goes to the
server log.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import dash
import flask
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix

from components import appshell, context
from components.uploads import describe_size
from components.urls import IMPORT_UPLOAD_URL
from config import Settings

log = logging.getLogger("bem.web")

HEALTH_URL = "/health"
# The HTML report's path (components.urls.EXPERIMENT_REPORT_ROUTE).
_REPORT_PATH = re.compile(r"^/experiments/[^/]+/report\.html$")

# Headers every response carries: no MIME sniffing, never framed, no full URL to others.
COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}

# The pages: scripts only from this server plus the inline ones Dash writes (allowed by
# their hashes, computed by Dash); inline styles, because Dash and Plotly set style
# attributes; images and fonts may be data: URIs (Plotly's mode bar, Bootstrap icons).
_PAGE_POLICY = (
    "default-src 'self'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
# The HTML report is one self-contained file with Plotly and its data inline: it may run
# inline scripts, but load nothing and send nothing anywhere.
REPORT_POLICY = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src data: blob:; font-src data:; object-src 'none'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)

CALLBACK_FAILED = (
    "The action could not be completed because of an error on the server; "
    "the details are in the server log."
)
DATABASE_UNAVAILABLE = (
    "The database cannot be reached right now, so the action was not completed; "
    "try again in a moment."
)


def install(app: dash.Dash, settings: Settings) -> None:
    """Add the headers, the size limit, the error answers and /health to `app`'s server."""
    server: flask.Flask = app.server
    server.config["MAX_CONTENT_LENGTH"] = settings.web.max_request_bytes
    if settings.web.trusted_proxies:
        hops = settings.web.trusted_proxies
        server.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            server.wsgi_app, x_for=hops, x_proto=hops, x_host=hops
        )
    server.add_url_rule(HEALTH_URL, "health", _health)

    def answer_health_first() -> flask.Response | None:
        # Ahead of every other hook: Dash's page router reads the database on the first
        # request, which would turn the answer into a 500 while the database is down.
        return _health() if flask.request.path == HEALTH_URL else None

    server.before_request_funcs.setdefault(None, []).insert(0, answer_health_first)

    @server.before_request
    def lift_limit_for_uploads() -> None:
        # The import's upload streams to disk with its own, larger limit
        # (components.uploads, web.max_upload_bytes).
        if flask.request.path == IMPORT_UPLOAD_URL:
            flask.request.max_content_length = None

    @server.after_request
    def add_headers(response: flask.Response) -> flask.Response:
        for name, value in COMMON_HEADERS.items():
            response.headers.setdefault(name, value)
        response.headers.setdefault("Content-Security-Policy", _policy(app, flask.request.path))
        return response

    server.register_error_handler(RequestEntityTooLarge, _too_large)
    server.register_error_handler(HTTPException, _http_error)
    server.register_error_handler(Exception, _server_error)


def _policy(app: dash.Dash, path: str) -> str:
    if _REPORT_PATH.match(path):
        return REPORT_POLICY
    hashes = " ".join(app.csp_hashes())
    return _PAGE_POLICY.format(hashes=hashes)


def _sentence(text_: str, status: int) -> flask.Response:
    return flask.Response(text_ + "\n", status=status, mimetype="text/plain")


def _too_large(_error: RequestEntityTooLarge) -> flask.Response:
    limit = context.current().settings.web.max_request_bytes
    return _sentence(
        f"The request is too large: this server accepts up to {describe_size(limit)} "
        "(the setting web.max_request_bytes).",
        413,
    )


def _http_error(error: HTTPException) -> Any:
    """Werkzeug's own answers (404, 405, 400…) as one plain sentence."""
    if error.code is None or error.code < 400:
        return error
    return _sentence(f"{error.name}: {error.description}", error.code)


def _server_error(error: Exception) -> flask.Response:
    log.error("request %s %s failed", flask.request.method, flask.request.path, exc_info=error)
    if isinstance(error, (DBAPIError, SQLAlchemyError)):
        return _sentence(DATABASE_UNAVAILABLE if _is_outage(error) else CALLBACK_FAILED, 500)
    return _sentence("The server failed to answer this request; the details are in its log.", 500)


def _is_outage(error: Exception) -> bool:
    """The database server is gone or refused us (as opposed to a bug or bad data)."""
    if isinstance(error, OperationalError):
        return True
    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)


def report_callback_error(error: Exception) -> None:
    """A callback failed: log it in full, show the user one sentence with no internals."""
    log.error("callback failed", exc_info=error)
    dash.set_props(
        appshell.ids.ERROR_TOAST,
        {"is_open": True, "children": callback_error_message(error)},
    )


def callback_error_message(error: Exception) -> str:
    """What the user reads when a callback fails: a sentence, never SQL, hosts or paths."""
    return DATABASE_UNAVAILABLE if _is_outage(error) else CALLBACK_FAILED


def _health() -> flask.Response:
    """200 when the web app can query its database, 503 with a sentence when it cannot."""
    try:
        with context.current().store.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:  # any failure to query means "not healthy"
        log.warning("health check: the database is unreachable: %s", error)
        return _sentence("Unavailable: the database cannot be reached.", 503)
    return _sentence("OK", 200)
