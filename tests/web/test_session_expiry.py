"""A sign-in that ends while a page is open: the page's next callback gets 401, and the
browser says so ("Your session has expired. Sign in again") with a link to the sign-in
page that comes back to the page (assets/session_expiry.js), under the app's
Content-Security-Policy."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from config import Settings
from datastore import make_engine
from datastore.users import add_user, set_disabled
from domain.accounts import Role

PASSWORD = "a long enough password"
BANNER = "#session-expired"


@pytest.fixture
def secured(app_factory, settings: Settings) -> Any:
    """The app with sign-in on and two admins, ada and bob."""
    auth_settings = settings.replace(auth={"enabled": True})
    app = app_factory(auth_settings)
    engine = make_engine(auth_settings.database.resolved_url)
    with Session(engine) as session, session.begin():
        add_user(session, "ada", Role.ADMIN, PASSWORD)
        add_user(session, "bob", Role.ADMIN, PASSWORD)
    yield app, engine
    engine.dispose()


def sign_in_to_users(browser: Any, app: Any) -> str:
    """Sign in as ada and open the users page; the server's base URL."""
    browser.start_server(app, navigate=False)
    base = browser.server.url.rstrip("/")
    browser.driver.get(f"{base}/login?next=/users")
    browser.wait_for_element("#login-form", timeout=10)
    browser.find_element("#login-name").send_keys("ada")
    browser.find_element("#login-password").send_keys(PASSWORD)
    browser.find_element("#login-submit").click()
    browser.wait_for_text_to_equal("#_pages_content h2", "Users", timeout=10)
    return base


def test_the_script_is_served_to_anyone(secured) -> None:
    app, _engine = secured
    response = app.server.test_client().get("/assets/session_expiry.js")
    assert response.status_code == 200
    assert "Your session has expired. " in response.get_data(as_text=True)


@pytest.mark.browser
def test_a_cleared_cookie_shows_the_message_with_a_way_back(browser, secured) -> None:
    app, _engine = secured
    base = sign_in_to_users(browser, app)
    assert not browser.find_elements(BANNER)

    browser.driver.delete_all_cookies()
    browser.find_element("#users-add").click()

    browser.wait_for_text_to_equal(BANNER, "Your session has expired. Sign in again", timeout=10)
    link = browser.find_element(f"{BANNER} a")
    assert link.get_attribute("href") == f"{base}/login?next=%2Fusers"
    link.click()
    browser.wait_for_element("#login-form", timeout=10)
    browser.find_element("#login-name").send_keys("ada")
    browser.find_element("#login-password").send_keys(PASSWORD)
    browser.find_element("#login-submit").click()
    browser.wait_for_text_to_equal("#_pages_content h2", "Users", timeout=10)
    assert not browser.find_elements(BANNER)


@pytest.mark.browser
def test_a_session_ended_on_the_server_shows_the_message(browser, secured) -> None:
    app, engine = secured
    sign_in_to_users(browser, app)
    # Another admin disables ada: her session ends at her next request.
    with Session(engine) as session, session.begin():
        set_disabled(session, "ada", True)

    browser.find_element("#users-add").click()

    browser.wait_for_text_to_equal(BANNER, "Your session has expired. Sign in again", timeout=10)
    # The browser logs the refused request (and Dash its failed callback), never this script.
    assert not [e for e in browser.get_logs() or [] if "session_expiry" in e["message"]]
