"""Accounts and roles in the web app: only a signed-in person with the right role acts.

The server decides from the session, never from what the browser sends: the regression
test of issue 12 replays the hand-made `monitor-view` POST that could stop any
experiment, without a session and as a viewer, and finds nothing written.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from components import auth
from config import Settings
from datastore import make_engine
from datastore.models import StationCommand
from datastore.users import add_user
from domain.accounts import Role
from domain.status import ExperimentStatus
from tests.web.lab_data import add_experiment

PASSWORD = "a long enough password"
STOP_OUTPUT = "monitor-command-feedback.children"


@pytest.fixture
def auth_settings(settings: Settings) -> Settings:
    return settings.replace(auth={"enabled": True})


@pytest.fixture
def engine_of(auth_settings: Settings):
    engines: list[Engine] = []

    def make() -> Engine:
        engine = make_engine(auth_settings.database.resolved_url)
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.dispose()


@pytest.fixture
def secured(app_factory, auth_settings: Settings, engine_of) -> tuple[Any, Engine]:
    """The app with sign-in on, a viewer, an operator and an admin, and a running experiment."""
    app = app_factory(auth_settings)
    engine = engine_of()
    with Session(engine) as session, session.begin():
        for name, role in (("vera", Role.VIEWER), ("otto", Role.OPERATOR), ("ada", Role.ADMIN)):
            add_user(session, name, role, PASSWORD)
    return app, engine


def sign_in(client, name: str, password: str = PASSWORD, next_url: str = "/"):
    return client.post("/login", data={"name": name, "password": password, "next": next_url})


def stop_request(experiment_id: int) -> dict[str, Any]:
    """The POST the browser sends when Stop is confirmed on the monitor, with the store of
    what the buttons act on written by hand, naming any experiment as RUNNING (it was the
    `monitor-view` store when the issue was found)."""
    return {
        "output": STOP_OUTPUT,
        "outputs": {"id": "monitor-command-feedback", "property": "children"},
        "inputs": [
            {"id": "monitor-pause", "property": "n_clicks"},
            {"id": "monitor-resume", "property": "n_clicks"},
            {"id": "monitor-stop-confirm", "property": "n_clicks", "value": 1},
        ],
        "state": [
            {
                "id": "monitor-experiment",
                "property": "data",
                "value": {"experiment_id": experiment_id, "status": "RUNNING"},
            }
        ],
        "changedPropIds": ["monitor-stop-confirm.n_clicks"],
    }


def commands(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(StationCommand)).scalar())


# ---------------------------------------------------------------- the hostile POST


def test_the_hand_made_stop_without_a_session_is_refused_and_writes_nothing(secured) -> None:
    app, engine = secured
    running = add_experiment(engine, status=ExperimentStatus.RUNNING)
    client = app.server.test_client()

    response = client.post("/_dash-update-component", json=stop_request(running))

    assert response.status_code == 401
    assert response.get_json() == {"error": "Sign in first."}
    assert commands(engine) == 0


def test_a_viewer_cannot_stop_and_nothing_is_written(secured) -> None:
    app, engine = secured
    running = add_experiment(engine, status=ExperimentStatus.RUNNING)
    client = app.server.test_client()
    assert sign_in(client, "vera").status_code == 302

    response = client.post("/_dash-update-component", json=stop_request(running))

    assert response.status_code == 403
    assert response.get_json() == {"error": "Only an operator may do this."}
    assert commands(engine) == 0


def test_a_viewer_cannot_pass_the_stop_under_innocent_outputs(secured) -> None:
    """Dash runs the function the "output" key names: that key is what is checked."""
    app, engine = secured
    running = add_experiment(engine, status=ExperimentStatus.RUNNING)
    client = app.server.test_client()
    sign_in(client, "vera")
    body = stop_request(running)
    body["outputs"] = {"id": "monitor-queue", "property": "children"}
    response = client.post("/_dash-update-component", json=body)
    assert response.status_code == 403
    assert commands(engine) == 0
    body = stop_request(running)
    body["output"] = ["not", "a", "key"]
    assert client.post("/_dash-update-component", json=body).status_code == 400


def test_an_operator_stops_a_running_experiment(secured) -> None:
    app, engine = secured
    running = add_experiment(engine, status=ExperimentStatus.RUNNING)
    client = app.server.test_client()
    sign_in(client, "otto")

    response = client.post("/_dash-update-component", json=stop_request(running))

    assert response.status_code == 200, response.get_data(as_text=True)
    feedback = response.get_json()["response"]["monitor-command-feedback"]["children"]
    assert feedback.startswith("Stop requested at")
    with Session(engine) as session:
        (command,) = session.scalars(select(StationCommand))
        assert (command.experiment_id, command.command) == (running, "stop")


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (None, "Not sent: there is no such experiment."),
        (ExperimentStatus.FINISHED, "Not sent: a FINISHED experiment cannot stop."),
        (ExperimentStatus.QUEUED, "Not sent: a QUEUED experiment cannot stop."),
    ],
)
def test_an_operator_cannot_stop_what_does_not_exist_or_has_ended(secured, status, expected):
    app, engine = secured
    experiment_id = 987_654 if status is None else add_experiment(engine, status=status)
    client = app.server.test_client()
    sign_in(client, "otto")
    response = client.post("/_dash-update-component", json=stop_request(experiment_id))
    assert response.status_code == 200
    assert response.get_json()["response"]["monitor-command-feedback"]["children"] == expected
    assert commands(engine) == 0


def test_station_changes_need_an_admin(secured) -> None:
    app, _engine = secured
    body = {
        "output": "..stations-confirm.is_open...stations-confirm-text.children"
        "...stations-confirm-action.data..",
        "outputs": [],
        "inputs": [],
        "state": [],
        "changedPropIds": [],
    }
    client = app.server.test_client()
    sign_in(client, "otto")
    assert client.post("/_dash-update-component", json=body).status_code == 403


def test_routes_check_the_role_too(secured) -> None:
    app, engine = secured
    finished = add_experiment(engine, samples=3)
    client = app.server.test_client()
    # Anonymous: a download goes to the sign-in page, an upload is refused.
    response = client.get(f"/experiments/{finished}/export.csv")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
    assert client.post("/experiments/import/upload", data=b"x").status_code == 401
    assert client.get("/_dash-layout").status_code == 401
    assert client.get("/_dash-dependencies").status_code == 401
    # A viewer downloads, but does not upload.
    sign_in(client, "vera")
    assert client.get(f"/experiments/{finished}/export.csv").status_code == 200
    assert client.post("/experiments/import/upload", data=b"x").status_code == 403
    # Public: the sign-in page, the health check, the style sheets.
    anonymous = app.server.test_client()
    for path in ("/login", "/health", "/_vendor/bootstrap5/css/bootstrap.min.css"):
        assert anonymous.get(path).status_code == 200, path


# ---------------------------------------------------------------- sign-in, sign-out, expiry


def test_a_wrong_name_or_password_says_only_that(secured) -> None:
    app, _engine = secured
    client = app.server.test_client()
    unknown = sign_in(client, "nobody")
    wrong = sign_in(client, "otto", "not the password")
    for response in (unknown, wrong):
        assert response.status_code == 200  # the form again, not a session
        assert "wrong name or password" in response.get_data(as_text=True)
    # The two pages differ only by the name typed back into the form.
    assert unknown.get_data(as_text=True).replace("nobody", "otto") == wrong.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_sign_in_opens_the_pages_and_sign_out_closes_them(secured) -> None:
    app, _engine = secured
    client = app.server.test_client()
    response = client.get("/experiments?page=2")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=%2Fexperiments%3Fpage%3D2"

    response = sign_in(client, "otto", next_url="/experiments?page=2")
    assert response.status_code == 302
    assert response.headers["Location"] == "/experiments?page=2"
    assert client.get("/").status_code == 200
    layout = client.get("/_dash-layout").get_data(as_text=True)
    assert "otto" in layout and "(operator)" in layout

    assert client.get("/logout").status_code == 302
    assert client.get("/").status_code == 302
    assert client.get("/_dash-layout").status_code == 401


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "\\\\evil"])
def test_sign_in_never_sends_elsewhere(secured, target: str) -> None:
    app, _engine = secured
    response = sign_in(app.server.test_client(), "otto", next_url=target)
    assert response.headers["Location"] == "/"


def test_a_sign_in_expires_after_the_configured_hours(secured, monkeypatch) -> None:
    app, _engine = secured
    client = app.server.test_client()
    sign_in(client, "otto")
    assert client.get("/").status_code == 200
    with client.session_transaction() as session:
        session[auth.SIGNED_IN_AT] -= 12 * 3600 + 1
    assert client.get("/").status_code == 302
    assert client.get("/_dash-layout").status_code == 401


def test_a_disabled_user_is_signed_out_at_the_next_request(secured) -> None:
    from datastore.users import set_disabled

    app, engine = secured
    client = app.server.test_client()
    sign_in(client, "otto")
    assert client.get("/").status_code == 200
    with Session(engine) as session, session.begin():
        set_disabled(session, "otto", True)
    assert client.get("/").status_code == 302


def test_the_cookie_is_http_only_same_site_and_secure_when_told(
    app_factory, auth_settings: Settings, engine_of
) -> None:
    app = app_factory(auth_settings.replace(auth={"secure_cookies": True}))
    with Session(engine_of()) as session, session.begin():
        add_user(session, "otto", Role.OPERATOR, PASSWORD)
    response = sign_in(app.server.test_client(), "otto")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" in cookie
    assert "Expires=" in cookie


def test_the_secret_key_is_generated_once_into_the_instance_folder(
    app_factory, auth_settings: Settings, capsys
) -> None:
    first = app_factory(auth_settings).server.config["SECRET_KEY"]
    path = Path(auth_settings.database.instance_dir) / "secret_key"
    assert path.read_text().strip() == first
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert auth.instance_secret_key(auth_settings) == first
    assert first not in capsys.readouterr().out


# ---------------------------------------------------------------- what the page shows


def test_a_viewer_gets_the_actions_hidden_and_an_operator_not_the_admins(secured) -> None:
    app, _engine = secured
    client = app.server.test_client()
    sign_in(client, "vera")
    hidden = client.get(auth.CONTROLS_CSS_URL).get_data(as_text=True)
    assert "#monitor-stop" in hidden and "#stations-new" in hidden
    client.get("/logout")
    sign_in(client, "otto")
    hidden = client.get(auth.CONTROLS_CSS_URL).get_data(as_text=True)
    assert "#monitor-stop" not in hidden and "#stations-new" in hidden
    client.get("/logout")
    sign_in(client, "ada")
    assert client.get(auth.CONTROLS_CSS_URL).get_data(as_text=True) == ""


def test_with_sign_in_off_the_header_says_everyone_can_act(app_factory) -> None:
    client = app_factory().server.test_client()
    assert client.get("/").status_code == 200
    assert "Sign-in is off: everyone can act" in client.get("/_dash-layout").get_data(as_text=True)


# ---------------------------------------------------------------- in the browser


@pytest.mark.browser
def test_an_operator_signs_in_sees_the_overview_and_signs_out(browser, secured) -> None:
    app, _engine = secured
    # Not navigated: Dash's runner would wait for the app on /, which sends to /login.
    browser.start_server(app, navigate=False)
    base = browser.server.url.rstrip("/")
    # A page asked for before signing in comes back after it.
    browser.driver.get(f"{base}/experiments")
    browser.wait_for_element("#login-form", timeout=10)
    browser.find_element("#login-name").send_keys("otto")
    browser.find_element("#login-password").send_keys("not it")
    browser.find_element("#login-submit").click()
    browser.wait_for_contains_text(".alert-danger", "wrong name or password", timeout=10)

    browser.find_element("#login-password").send_keys(PASSWORD)
    browser.find_element("#login-submit").click()
    browser.wait_for_text_to_equal("#_pages_content h2", "Experiments", timeout=10)
    browser.wait_for_text_to_equal(f"#{auth.ids.USER}", "otto (operator)", timeout=10)
    browser.find_element("#nav-overview").click()
    browser.wait_for_text_to_equal("#_pages_content h2", "Overview", timeout=10)
    # An operator may queue, not add stations: the link shows, the admin's button not.
    assert browser.find_element("#nav-experiments-new").is_displayed()

    browser.find_element(f"#{auth.ids.SIGN_OUT}").click()
    browser.wait_for_element("#login-form", timeout=10)
    browser.driver.get(f"{base}/")
    browser.wait_for_element("#login-form", timeout=10)
    assert browser.get_logs() == []


@pytest.mark.browser
def test_a_viewer_sees_no_actions_it_may_not_take(browser, secured) -> None:
    app, engine = secured
    add_experiment(engine, status=ExperimentStatus.RUNNING)
    browser.start_server(app, navigate=False)
    browser.driver.get(f"{browser.server.url.rstrip('/')}/login?next=/monitor/1")
    browser.wait_for_element("#login-form", timeout=10)
    browser.find_element("#login-name").send_keys("vera")
    browser.find_element("#login-password").send_keys(PASSWORD)
    browser.find_element("#login-submit").click()
    browser.wait_for_text_to_equal(f"#{auth.ids.USER}", "vera (viewer)", timeout=10)
    browser.wait_for_element("#monitor-graph", timeout=10)
    for control in ("#monitor-stop", "#monitor-pause", "#nav-experiments-new"):
        assert not browser.find_element(control).is_displayed(), control
