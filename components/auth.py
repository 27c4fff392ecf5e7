"""Sign-in and the server's check of every request: who is asking, and may they.

`install(app, settings)` wires it all into the Flask server under the Dash app (one call
from `bootstrap.web_app`):

- the session cookie: signed with the secret key (the setting web.secret_key, or one
  generated once into the instance folder, never printed), HttpOnly, SameSite=Lax,
  Secure when auth.secure_cookies says the site is served over HTTPS;
- `/login` and `/logout` (Flask-Login); a sign-in lasts auth.session_hours, however
  active the person is; too many failed sign-ins for one name or from one address lock
  them for a while (domain.sign_in_limits), counted in the database so that every web
  worker sees the same counts;
- a `before_request` gate that runs before anything else. Anonymous requests for pages
  go to `/login`; anonymous data requests (`/_dash-*`, downloads, uploads) get 401.
  A callback request is checked against `components.permissions` by the outputs that
  select the callback on the server (the body's "output"), and a route by its endpoint:
  a role too low gets 403 and the callback never runs. Nothing the browser holds (its
  stores, hidden buttons) is trusted.

With auth.enabled false (the demo, the browser tests) everyone may do everything and
the page header says so.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import dash
import dash_bootstrap_components as dbc
import flask
import flask_login
from dash import html
from flask.typing import ResponseReturnValue
from markupsafe import escape
from sqlalchemy.exc import SQLAlchemyError

from components import context
from components.permissions import hidden_controls_css, output_names, required_role, route_role
from components.urls import VENDOR_URL
from config import Settings
from datastore.users import (
    Account,
    authenticate,
    clear_failed_sign_ins,
    forget_old_sign_in_failures,
    get_account,
    record_failed_sign_in,
    sign_in_lock,
)
from domain.accounts import MAX_PASSWORD_LENGTH, Role
from domain.sign_in_limits import SignInLimits

log = logging.getLogger("bem.web.auth")

EXTENSION_KEY = "bem_auth"
LOGIN_URL = "/login"
LOGOUT_URL = "/logout"
CONTROLS_CSS_URL = "/_auth/controls.css"
SECRET_KEY_FILE = "secret_key"
WRONG_CREDENTIALS = "wrong name or password"
SIGNED_IN_AT = "signed_in_at"

# Served to anyone: the sign-in page, the health check and the files every page loads
# (Dash's scripts, the app's assets, Bootstrap). Everything else needs a sign-in.
PUBLIC_PATHS = frozenset({LOGIN_URL, LOGOUT_URL, "/health", "/_favicon.ico", CONTROLS_CSS_URL})
PUBLIC_PREFIXES = ("/assets/", "/_dash-component-suites/", f"{VENDOR_URL}/")
CALLBACK_PATH = "/_dash-update-component"


class ids:
    """The ids of the header's sign-in components."""

    USER = "auth-user"
    SIGN_OUT = "auth-sign-out"
    OFF = "auth-off"


@dataclass(frozen=True)
class AuthConfig:
    enabled: bool
    session_s: float
    limits: SignInLimits


class SignedIn(flask_login.UserMixin):
    """The signed-in person, as Flask-Login holds them for one request."""

    def __init__(self, account: Account) -> None:
        self.account = account
        self.id = account.id

    @property
    def role(self) -> Role:
        return self.account.role


# ---------------------------------------------------------------- installing


def install(app: dash.Dash, settings: Settings) -> None:
    """Sign-in, cookies and the gate on `app`'s server, as `settings` say."""
    server: flask.Flask = app.server
    server.config.update(
        SECRET_KEY=settings.web.secret_key or instance_secret_key(settings),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.auth.secure_cookies,
        PERMANENT_SESSION_LIFETIME=settings.auth.session_hours * 3600,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=settings.auth.secure_cookies,
    )
    config = AuthConfig(settings.auth.enabled, settings.auth.session_hours * 3600, limits(settings))
    server.extensions[EXTENSION_KEY] = config
    server.add_url_rule(CONTROLS_CSS_URL, "auth_controls_css", _controls_css)
    if not config.enabled:
        server.add_url_rule(LOGIN_URL, "login", lambda: flask.redirect("/"))
        return
    manager = flask_login.LoginManager()
    manager.session_protection = "basic"
    manager.user_loader(_load_user)
    manager.init_app(server)
    server.add_url_rule(LOGIN_URL, "login", _login, methods=["GET", "POST"])
    server.add_url_rule(LOGOUT_URL, "logout", _logout, methods=["GET", "POST"])
    # First of all hooks: a refused request touches nothing else (not even Dash's router).
    server.before_request_funcs.setdefault(None, []).insert(0, _gate)


def limits(settings: Settings) -> SignInLimits:
    """The limits on failed sign-ins the settings give (auth.*)."""
    auth = settings.auth
    return SignInLimits(
        max_per_name=auth.max_failed_sign_ins,
        max_per_address=auth.max_failed_sign_ins_per_address,
        window=dt.timedelta(minutes=auth.failure_window_minutes),
        lockout=dt.timedelta(minutes=auth.lockout_minutes),
    )


def instance_secret_key(settings: Settings) -> str:
    """The key in <instance_dir>/secret_key, written (readable by its owner only) on first
    use, so every worker sharing the folder signs cookies alike and a restart keeps
    everyone signed in."""
    path = Path(settings.database.instance_dir).resolve() / SECRET_KEY_FILE
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker wrote it first
        return _read_key(path)
    with os.fdopen(descriptor, "w", encoding="ascii") as out:
        out.write(secrets.token_hex(32) + "\n")
    return _read_key(path)


def _read_key(path: Path) -> str:
    key = path.read_text(encoding="ascii").strip()
    if len(key) < 32:
        raise RuntimeError(f"{path}: the secret key is too short; delete the file to renew it")
    return key


def _config() -> AuthConfig:
    config: AuthConfig = flask.current_app.extensions[EXTENSION_KEY]
    return config


def _load_user(user_id: str) -> SignedIn | None:
    try:
        number = int(user_id)
    except ValueError:
        return None
    with context.current().store.sessions() as session:
        account = get_account(session, number)
    return SignedIn(account) if account is not None else None


# ---------------------------------------------------------------- who is asking


def auth_enabled() -> bool:
    return _config().enabled


def current_account() -> Account | None:
    """The signed-in person of this request; None when nobody is (or sign-in is off).
    A sign-in older than auth.session_hours ends here."""
    if not _config().enabled:
        return None
    user = flask_login.current_user
    if not user.is_authenticated:
        return None
    signed_in_at = flask.session.get(SIGNED_IN_AT)
    if not isinstance(signed_in_at, (int, float)) or (
        time.time() - signed_in_at > _config().session_s
    ):
        _sign_out()
        return None
    account: Account = user.account
    return account


def may(role: Role) -> bool:
    """Whether the person of this request may do what `role` may (always, sign-in off)."""
    if not _config().enabled:
        return True
    account = current_account()
    return account is not None and account.role.allows(role)


# ---------------------------------------------------------------- the gate


def _is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def _gate() -> ResponseReturnValue | None:
    request = flask.request
    if _is_public(request.path):
        return None
    account = current_account()
    if account is None:
        if request.method == "GET" and not request.path.startswith("/_"):
            return flask.redirect(
                f"{LOGIN_URL}?{urlencode({'next': request.full_path.rstrip('?')})}"
            )
        return _refuse(401, "Sign in first.")
    needed = _needed_role(request)
    if needed is None:
        return _refuse(400, "Not a callback request.")
    if not account.role.allows(needed):
        log.warning(
            "refused %s %s to %s (%s; needs %s)",
            request.method,
            request.path,
            account.name,
            account.role.value,
            needed.value,
        )
        return _refuse(403, f"Only an {needed.value} may do this.")
    return None


def _needed_role(request: flask.Request) -> Role | None:
    """The role the request needs; None for a callback request without a callback key."""
    if request.path != CALLBACK_PATH:
        return route_role(request.endpoint)
    body: Any = request.get_json(silent=True)
    # Dash picks the function to run by this key alone: check exactly it.
    output = body.get("output") if isinstance(body, dict) else None
    if not isinstance(output, str):
        return None
    return required_role(output_names(output))


def _refuse(status: int, message: str) -> flask.Response:
    response = flask.jsonify(error=message)
    response.status_code = status
    return response


# ---------------------------------------------------------------- sign-in and sign-out


def _safe_next(target: str | None) -> str:
    """Only a path of this site: never another host (`//evil`, `https://...`)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target.rstrip("?") or "/"


def _login() -> ResponseReturnValue:
    request = flask.request
    target = _safe_next(request.values.get("next"))
    if request.method == "GET":
        if current_account() is not None:
            return flask.redirect(target)
        return _login_page(target)
    name = request.form.get("name", "")[:64]
    password = request.form.get("password", "")[: MAX_PASSWORD_LENGTH + 1]
    address = request.remote_addr or "unknown"
    limits = _config().limits
    now = dt.datetime.now(dt.UTC)
    account: Account | None = None
    # Checked, counted and cleared in the database: every web worker sees the same counts.
    with context.current().store.sessions.begin() as session:
        lock = sign_in_lock(session, name, address, limits, now)
        if lock is None:
            account = authenticate(session, name, password)
            if account is None:
                record_failed_sign_in(session, name, address, now)
            else:
                clear_failed_sign_ins(session, name)
    if lock is None and account is None:
        _forget_old_failures(limits, now)
    if lock is not None:
        log.warning("sign-in for %r from %s refused: locked by %s", name, address, lock.by.value)
        return _login_page(target, name=name, error=lock.message(now), status=429)
    if account is None:
        log.info("failed sign-in for %r from %s", name, address)
        return _login_page(target, name=name, error=WRONG_CREDENTIALS)
    # A fresh session: nothing from before the sign-in carries over (session fixation).
    flask.session.clear()
    flask_login.login_user(SignedIn(account))
    flask.session.permanent = True
    flask.session[SIGNED_IN_AT] = time.time()
    log.info("%s signed in (%s)", account.name, account.role.value)
    return flask.redirect(target)


def _forget_old_failures(limits: SignInLimits, now: dt.datetime) -> None:
    """Prune the failed sign-ins too old to count, in a short transaction of its own; a
    failure here (another worker pruning at the same moment) only delays the pruning."""
    try:
        with context.current().store.sessions.begin() as session:
            forget_old_sign_in_failures(session, limits, now)
    except SQLAlchemyError:
        log.warning("old failed sign-ins not pruned this time", exc_info=True)


def _sign_out() -> None:
    flask_login.logout_user()
    flask.session.clear()


def _logout() -> ResponseReturnValue:
    _sign_out()
    return flask.redirect(LOGIN_URL)


def _login_page(target: str, name: str = "", error: str = "", status: int = 200) -> tuple[str, int]:
    alert = (
        f'<div class="alert alert-danger py-2" role="alert">{escape(error)}</div>' if error else ""
    )
    return (
        f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · Battery Experiments Manager</title>
<link rel="stylesheet" href="{VENDOR_URL}/css/bootstrap.min.css">
</head><body class="bg-light">
<main class="container py-5"><div class="row justify-content-center"><div class="col-sm-8 col-md-5 col-lg-4">
<h1 class="h4 mb-4">Battery Experiments Manager</h1>
<form method="post" action="{LOGIN_URL}" class="card card-body" id="login-form">
<h2 class="h5 mb-3">Sign in</h2>
{alert}
<input type="hidden" name="next" value="{escape(target)}">
<label class="form-label" for="login-name">Name</label>
<input class="form-control mb-3" id="login-name" name="name" value="{escape(name)}" autocomplete="username" maxlength="64" required autofocus>
<label class="form-label" for="login-password">Password</label>
<input class="form-control mb-3" id="login-password" name="password" type="password" autocomplete="current-password" required>
<button class="btn btn-primary" id="login-submit" type="submit">Sign in</button>
</form></div></div></main></body></html>
""",
        status,
    )


def _controls_css() -> flask.Response:
    """Hides the buttons and links the signed-in role may not use (components.permissions);
    nothing with sign-in off."""
    css = ""
    if _config().enabled:
        account = current_account()
        css = hidden_controls_css(account.role if account else Role.VIEWER)
    response = flask.Response(css, mimetype="text/css")
    response.headers["Cache-Control"] = "no-store"
    return response


# ---------------------------------------------------------------- the page header


def header() -> html.Div:
    """Who is signed in, as what, and Sign out; or, with sign-in off, that everyone can act.
    Built with each page's layout, so it follows the session."""
    stylesheet = html.Link(rel="stylesheet", href=CONTROLS_CSS_URL)
    if not flask.has_request_context() or EXTENSION_KEY not in flask.current_app.extensions:
        return html.Div(stylesheet)  # the validation layout, built with the app
    if not _config().enabled:
        return html.Div(
            [
                stylesheet,
                dbc.Badge(
                    "Sign-in is off: everyone can act",
                    id=ids.OFF,
                    color="warning",
                    text_color="dark",
                ),
            ],
            className="d-flex align-items-center ms-xl-3",
        )
    account = current_account()
    if account is None:
        return html.Div(stylesheet)
    return html.Div(
        [
            stylesheet,
            html.Span(
                [
                    html.I(className="bi bi-person-circle me-1"),
                    account.name,
                    f" ({account.role.value})",
                ],
                id=ids.USER,
                className="text-light small me-2",
            ),
            dbc.Button(
                "Sign out",
                id=ids.SIGN_OUT,
                href=LOGOUT_URL,
                external_link=True,
                size="sm",
                color="outline-light",
            ),
        ],
        className="d-flex align-items-center ms-xl-3",
    )
