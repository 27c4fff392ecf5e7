"""The app shell: every page of the navigation bar opens without browser errors."""

from __future__ import annotations

import pytest

from components.appshell import NAV_LINKS


@pytest.mark.browser
def test_every_navbar_link_opens_its_page_without_console_errors(browser, demo_app) -> None:
    browser.start_server(demo_app)
    browser.wait_for_text_to_equal(".navbar-brand", "Battery Experiments Manager", timeout=10)
    assert browser.get_logs() == []
    for label, path in NAV_LINKS:
        link = browser.find_element(f"#nav-{path.strip('/').replace('/', '-') or 'overview'}")
        assert link.text == label
        link.click()
        browser.wait_for_element("#_pages_content h2", timeout=10)
        assert browser.driver.current_url.rstrip("/").endswith(path.rstrip("/"))
        assert browser.find_element("#_pages_content h2").text, f"{path} shows no title"
        assert browser.get_logs() == [], f"browser console errors on {path}"


def test_every_page_responds_to_a_plain_request(app_factory) -> None:
    app = app_factory()
    client = app.server.test_client()
    for _label, path in NAV_LINKS:
        assert client.get(path).status_code == 200
    assert client.get("/health").status_code == 200
    assert client.get("/_vendor/bootstrap5/css/bootstrap.min.css").status_code == 200
