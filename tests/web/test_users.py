"""The users page: an admin adds users, changes roles, disables, enables and sets
passwords in the browser, under the rules of `bem user`; nobody else may see or use it,
whatever they send."""

from __future__ import annotations

import time
from typing import Any

import flask
import flask_login
import pytest
from dash.testing.wait import until
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from components import auth
from components.permissions import output_names
from config import Settings
from datastore import make_engine
from datastore.models import User
from datastore.users import add_user, authenticate, get_account
from domain.accounts import Role
from pages.users.form import (
    DISABLE,
    ENABLE,
    SET_PASSWORD,
    SET_ROLE,
    Change,
    FormErrors,
    NewUser,
    add_account,
    change_account,
)
from tests.web.browser_helpers import pick

PASSWORD = "a long enough password"
ADD_OUTPUT = (
    "..users-add-name-error.children...users-add-role-error.children"
    "...users-add-password-error.children...users-add-form-error.children"
    "...users-add-message.children...users-added.data...users-add-password.value"
    "...users-add-again.value.."
)
CHANGE_OUTPUT = (
    "..users-change-user-error.children...users-change-role-error.children"
    "...users-change-status-error.children...users-change-password-error.children"
    "...users-change-form-error.children...users-change-message.children"
    "...users-changed.data...users-change-password.value...users-change-again.value.."
)


def outputs_of(key: str) -> list[dict[str, str]]:
    """The "outputs" list the browser sends with an output key."""
    return [
        {"id": name.rpartition(".")[0], "property": name.rpartition(".")[2]}
        for name in output_names(key)
    ]


# ---------------------------------------------------------------- the forms, on the server


@pytest.fixture
def db(sqlite_engine: Engine) -> Any:
    with Session(sqlite_engine) as session:
        add_user(session, "ada", Role.ADMIN, PASSWORD)
        add_user(session, "otto", Role.OPERATOR, PASSWORD)
        session.commit()
        yield session


def problems_of_add(db: Session, form: NewUser) -> dict[str, str]:
    with pytest.raises(FormErrors) as caught:
        add_account(db, form)
    db.rollback()
    return caught.value.problems


def names(db: Session) -> list[str]:
    return list(db.scalars(select(User.name).order_by(User.name)))


def test_adding_names_each_wrong_field_and_stores_nothing(db) -> None:
    assert problems_of_add(db, NewUser(name="bad name!", role=None, password="x", again="y")) == {
        "name": "1 to 64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit.",
        "role": "Choose a role.",
        "password": "The two entries differ.",
    }
    assert problems_of_add(db, NewUser("bea", "boss", "short", "short")) == {
        "role": "Expected one of viewer, operator, admin, got 'boss'.",
        "password": "At least 10 characters.",
    }
    assert problems_of_add(db, NewUser("ada", "viewer", PASSWORD, PASSWORD)) == {
        "name": "There is already a user named 'ada'."
    }
    assert names(db) == ["ada", "otto"]


def test_adding_stores_an_enabled_user_who_can_sign_in(db) -> None:
    account = add_account(db, NewUser(" bea ", "operator", PASSWORD, PASSWORD))
    db.commit()
    assert (account.name, account.role, account.disabled) == ("bea", Role.OPERATOR, False)
    assert authenticate(db, "bea", PASSWORD) is not None


def change(db: Session, acting: str | None, **fields: Any) -> str:
    acting_id = db.scalar(select(User.id).where(User.name == acting)) if acting else None
    message = change_account(db, Change(**fields), acting_id=acting_id)
    db.commit()
    return message


def refusal(db: Session, acting: str | None, **fields: Any) -> dict[str, str]:
    with pytest.raises(FormErrors) as caught:
        change(db, acting, **fields)
    db.rollback()
    return caught.value.problems


def test_changes_refuse_the_last_admin_and_self_lockout_beside_the_control(db) -> None:
    assert refusal(db, "ada", user="ada", action=DISABLE) == {
        "status": "You cannot disable your own account; ask another admin."
    }
    assert refusal(db, "ada", user="ada", action=SET_ROLE, role="viewer") == {
        "role": "You cannot lower your own role; ask another admin."
    }
    # Sign-in off: nobody acts, but the last admin stays.
    assert refusal(db, None, user="ada", action=SET_ROLE, role="operator") == {
        "role": "Ada is the last enabled admin; make another user an admin first."
    }
    assert refusal(db, "ada", user="nobody", action=ENABLE) == {
        "user": "There is no user named 'nobody'."
    }
    assert refusal(db, "ada", user=None, action=ENABLE) == {"user": "Choose a user."}
    assert refusal(db, "ada", user="otto", action=SET_PASSWORD, password="a", again="b") == {
        "password": "The two entries differ."
    }
    assert refusal(db, "ada", user="otto", action=SET_ROLE, role=None) == {"role": "Choose a role."}
    user = db.scalar(select(User).where(User.name == "ada"))
    assert (user.role, user.disabled) == (Role.ADMIN, False)


def test_changes_are_made_and_said(db) -> None:
    assert change(db, "ada", user="otto", action=SET_ROLE, role="admin") == "otto is now admin."
    assert change(db, "ada", user="otto", action=DISABLE) == (
        "otto disabled: signed out at their next request."
    )
    assert authenticate(db, "otto", PASSWORD) is None
    assert change(db, "ada", user="otto", action=ENABLE) == "otto enabled."
    new = "another long password"
    assert change(db, "ada", user="otto", action=SET_PASSWORD, password=new, again=new) == (
        "Password of otto changed."
    )
    assert authenticate(db, "otto", new) is not None


# ---------------------------------------------------------------- only admins


@pytest.fixture
def auth_settings(settings: Settings) -> Settings:
    return settings.replace(auth={"enabled": True})


@pytest.fixture
def secured(app_factory, auth_settings: Settings) -> Any:
    """The app with sign-in on: vera (viewer), otto (operator), ada (admin)."""
    app = app_factory(auth_settings)
    engine = make_engine(auth_settings.database.resolved_url)
    with Session(engine) as session, session.begin():
        for name, role in (("vera", Role.VIEWER), ("otto", Role.OPERATOR), ("ada", Role.ADMIN)):
            add_user(session, name, role, PASSWORD)
    yield app, engine
    engine.dispose()


def sign_in(client: Any, name: str) -> None:
    response = client.post("/login", data={"name": name, "password": PASSWORD, "next": "/"})
    assert response.status_code == 302


def add_request(name: str, role: str) -> dict[str, Any]:
    """The POST the Add user button sends, written by hand."""
    return {
        "output": ADD_OUTPUT,
        "outputs": outputs_of(ADD_OUTPUT),
        "inputs": [{"id": "users-add", "property": "n_clicks", "value": 1}],
        "state": [
            {"id": "users-add-name", "property": "value", "value": name},
            {"id": "users-add-role", "property": "value", "value": role},
            {"id": "users-add-password", "property": "value", "value": PASSWORD},
            {"id": "users-add-again", "property": "value", "value": PASSWORD},
            {"id": "users-added", "property": "data", "value": 0},
        ],
        "changedPropIds": ["users-add.n_clicks"],
    }


def role_request(user: str, role: str) -> dict[str, Any]:
    """The POST the Change role button sends, written by hand."""
    return {
        "output": CHANGE_OUTPUT,
        "outputs": outputs_of(CHANGE_OUTPUT),
        "inputs": [
            {"id": "users-set-role", "property": "n_clicks", "value": 1},
            {"id": "users-disable", "property": "n_clicks"},
            {"id": "users-enable", "property": "n_clicks"},
            {"id": "users-set-password", "property": "n_clicks"},
        ],
        "state": [
            {"id": "users-change-user", "property": "value", "value": user},
            {"id": "users-change-role", "property": "value", "value": role},
            {"id": "users-change-password", "property": "value"},
            {"id": "users-change-again", "property": "value"},
            {"id": "users-changed", "property": "data", "value": 0},
        ],
        "changedPropIds": ["users-set-role.n_clicks"],
    }


def roles(engine: Engine) -> dict[str, str]:
    with Session(engine) as session:
        return {u.name: u.role.value for u in session.scalars(select(User))}


BEFORE = {"vera": "viewer", "otto": "operator", "ada": "admin"}


@pytest.mark.parametrize("who", ["vera", "otto"])
def test_a_viewer_or_operator_cannot_add_a_user_or_change_a_role(secured, who: str) -> None:
    app, engine = secured
    client = app.server.test_client()
    sign_in(client, who)
    for body in (add_request("mallory", "admin"), role_request(who, "admin")):
        response = client.post("/_dash-update-component", json=body)
        assert response.status_code == 403
        assert response.get_json() == {"error": "Only an admin may do this."}
    table = {
        "output": "..users-table.children...users-change-user.options..",
        "outputs": [],
        "inputs": [
            {"id": "users-added", "property": "data", "value": 1},
            {"id": "users-changed", "property": "data", "value": 0},
        ],
        "changedPropIds": ["users-added.data"],
    }
    assert client.post("/_dash-update-component", json=table).status_code == 403
    assert roles(engine) == BEFORE


def test_without_a_session_nothing_is_written(secured) -> None:
    app, engine = secured
    client = app.server.test_client()
    response = client.post("/_dash-update-component", json=add_request("mallory", "admin"))
    assert response.status_code == 401
    assert roles(engine) == BEFORE


def test_the_same_requests_from_an_admin_add_and_change(secured) -> None:
    app, engine = secured
    client = app.server.test_client()
    sign_in(client, "ada")
    assert (
        client.post("/_dash-update-component", json=add_request("bea", "operator")).status_code
        == 200
    )
    assert (
        client.post("/_dash-update-component", json=role_request("otto", "viewer")).status_code
        == 200
    )
    assert roles(engine) == {**BEFORE, "bea": "operator", "otto": "viewer"}


def test_an_admin_cannot_demote_themself_through_the_callback(secured) -> None:
    app, engine = secured
    client = app.server.test_client()
    sign_in(client, "ada")
    response = client.post("/_dash-update-component", json=role_request("ada", "viewer"))
    assert response.status_code == 200
    errors = response.get_json()["response"]
    assert errors["users-change-role-error"]["children"] == (
        "You cannot lower your own role; ask another admin."
    )
    assert roles(engine) == BEFORE


def _layout_as(app: Any, engine: Engine, name: str) -> str:
    from pages.users import page

    with Session(engine) as session:
        user_id = session.scalar(select(User.id).where(User.name == name))
        account = get_account(session, user_id)
    with app.server.test_request_context("/users"):
        flask_login.login_user(auth.SignedIn(account))
        flask.session[auth.SIGNED_IN_AT] = time.time()
        return str(page.layout())


def test_the_page_lists_the_users_to_an_admin_only(secured) -> None:
    app, engine = secured
    for who in ("vera", "otto"):
        shown = _layout_as(app, engine, who)
        assert "Only an admin may manage users." in shown
        assert "ada" not in shown
    shown = _layout_as(app, engine, "ada")
    assert "vera" in shown and "otto" in shown and "Add user" in shown


def test_the_users_link_is_hidden_from_everyone_but_admins(secured) -> None:
    app, _engine = secured
    client = app.server.test_client()
    sign_in(client, "otto")
    assert "#nav-users" in client.get(auth.CONTROLS_CSS_URL).get_data(as_text=True)
    client.get("/logout")
    sign_in(client, "ada")
    assert "#nav-users" not in client.get(auth.CONTROLS_CSS_URL).get_data(as_text=True)


# ---------------------------------------------------------------- in the browser


def row_of(browser: Any, name: str) -> str:
    """The text of the users table's row of `name`, "" when there is none."""
    rows = [row.text for row in browser.find_elements("#users-table tbody tr")]
    return next((row for row in rows if row.split(" ")[0] == name), "")


@pytest.mark.browser
def test_an_admin_adds_a_user_and_changes_their_role(browser, secured) -> None:
    app, engine = secured
    browser.start_server(app, navigate=False)
    browser.driver.get(f"{browser.server.url.rstrip('/')}/login?next=/users")
    browser.wait_for_element("#login-form", timeout=10)
    browser.find_element("#login-name").send_keys("ada")
    browser.find_element("#login-password").send_keys(PASSWORD)
    browser.find_element("#login-submit").click()
    browser.wait_for_text_to_equal("#_pages_content h2", "Users", timeout=10)
    assert browser.find_element("#nav-users").is_displayed()

    browser.find_element("#users-add-name").send_keys("bea")
    pick(browser, "users-add-role", "operator")
    browser.find_element("#users-add-password").send_keys(PASSWORD)
    browser.find_element("#users-add-again").send_keys(PASSWORD + "!")
    browser.find_element("#users-add").click()
    browser.wait_for_text_to_equal(
        "#users-add-password-error", "The two entries differ.", timeout=10
    )
    assert "bea" not in roles(engine)

    browser.find_element("#users-add-again").clear()
    browser.find_element("#users-add-again").send_keys(PASSWORD)
    browser.find_element("#users-add").click()
    browser.wait_for_text_to_equal("#users-add-message", "User bea added (operator).", timeout=10)
    until(lambda: row_of(browser, "bea").startswith("bea operator enabled"), timeout=10)
    assert roles(engine)["bea"] == "operator"

    pick(browser, "users-change-user", "bea (operator)")
    pick(browser, "users-change-role", "viewer")
    browser.find_element("#users-set-role").click()
    browser.wait_for_text_to_equal("#users-change-message", "bea is now viewer.", timeout=10)
    until(lambda: row_of(browser, "bea").startswith("bea viewer enabled"), timeout=10)
    assert roles(engine)["bea"] == "viewer"
    assert browser.get_logs() == []
