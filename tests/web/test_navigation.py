"""The app shell: the navigation bar lists the registered pages, each opens without browser
errors, and on a narrow screen the folded menu opens and closes."""

from __future__ import annotations

import pytest
from dash.testing.wait import until

from components.appshell import ids, nav_entries

# What the navigation bar shows, from the pages' own registrations.
NAVBAR = [
    ("Overview", "/"),
    ("Monitor", "/monitor"),
    ("Experiments", "/experiments"),
    ("New experiment", "/experiments/new"),
    ("Import", "/experiments/import"),
    ("Batteries", "/batteries"),
    ("Profiles", "/profiles"),
    ("Stations", "/stations"),
    ("Users", "/users"),
]
# The heading each of those pages opens with.
HEADINGS = {
    "/": "Overview",
    "/monitor": "Live monitor",
    "/experiments": "Experiments",
    "/experiments/new": "New experiment",
    "/experiments/import": "Import experiment",
    "/batteries": "Batteries",
    "/profiles": "Profiles",
    "/stations": "Stations",
    "/users": "Users",
}


def test_the_navbar_lists_the_registered_pages_in_their_order(app_factory) -> None:
    app_factory()
    assert nav_entries() == NAVBAR


def test_pages_with_a_variable_path_the_not_found_page_and_opted_out_pages_stay_out() -> None:
    def page(module: str, path: str, order: int | None = None) -> dict:
        return {"module": f"pages.{module}", "name": module.title(), "path": path, "order": order}

    registry = {
        "pages.b": page("b", "/b", 2),
        "pages.a": page("a", "/a", 1),
        "pages.unordered": page("unordered", "/unordered"),
        "pages.not_found_404": page("not_found_404", "/404"),
        "pages.detail": {**page("detail", "/detail/none", 3), "path_template": "/detail/<id>"},
        "pages.live": {**page("live", "/live", 4), "path_template": "/live/<id>"},
        "pages.hidden": {**page("hidden", "/hidden", 5), "nav": False},
    }
    assert nav_entries(registry) == [
        ("A", "/a"),
        ("B", "/b"),
        ("Live", "/live"),  # has a template, and a path of its own that works without it
        ("Unordered", "/unordered"),
    ]


@pytest.mark.browser
def test_every_navbar_link_opens_its_page_without_console_errors(browser, demo_app) -> None:
    browser.start_server(demo_app)
    browser.wait_for_text_to_equal(".navbar-brand", "Battery Experiments Manager", timeout=10)
    assert browser.get_logs() == []
    for label, path in NAVBAR:
        link = browser.find_element(f"#{ids.nav_link(path)}")
        assert link.text == label
        link.click()
        # The heading, not just any: the previous page's stays until the new one arrives.
        browser.wait_for_text_to_equal("#_pages_content h2", HEADINGS[path], timeout=10)
        assert browser.driver.current_url.rstrip("/").endswith(path.rstrip("/"))
        assert browser.get_logs() == [], f"browser console errors on {path}"


@pytest.mark.browser
def test_on_a_narrow_screen_the_toggler_opens_and_closes_the_menu(browser, demo_app) -> None:
    browser.driver.set_window_size(800, 1000)
    browser.start_server(demo_app)
    browser.wait_for_text_to_equal(".navbar-brand", "Battery Experiments Manager", timeout=10)
    toggler = browser.find_element(f"#{ids.NAVBAR_TOGGLER}")
    link = browser.find_element(f"#{ids.nav_link('/batteries')}")
    assert toggler.is_displayed() and not link.is_displayed()

    toggler.click()
    until(link.is_displayed, 5)
    toggler.click()
    until(lambda: not link.is_displayed(), 5)

    toggler.click()
    until(link.is_displayed, 5)
    link.click()
    browser.wait_for_text_to_equal("#_pages_content h2", "Batteries", timeout=10)
    assert browser.driver.current_url.endswith("/batteries")
    until(lambda: not link.is_displayed(), 5)  # the menu folds away again on the new page
    assert browser.get_logs() == []


def test_every_page_responds_to_a_plain_request(app_factory) -> None:
    app = app_factory()
    client = app.server.test_client()
    for _label, path in NAVBAR:
        assert client.get(path).status_code == 200
    assert client.get("/health").status_code == 200
    assert client.get("/_vendor/bootstrap5/css/bootstrap.min.css").status_code == 200
