"""Callbacks are checked against the validation layout: the shell and every page's
components. A mistyped id fails loudly; a correct app loads every page without errors,
on an empty database as on the demo data."""

from __future__ import annotations

import json

import pytest
from dash import Input, Output

from components.appshell import ids as shell_ids
from tests.web.test_navigation import NAVBAR


def callback_ids(app) -> set[str]:
    """The component ids every callback of `app` names (outputs, inputs and states)."""
    named = set()
    for key, spec in app.callback_map.items():
        for output in key.strip(".").split("..."):
            named.add(output.rsplit(".", 1)[0])
        named.update(dependency["id"] for dependency in spec["inputs"] + spec["state"])
    # Pattern-matching ids ({"type": ..., "index": ALL}) name components that come and go
    # with the data (e.g. a button per station); Dash does not look for them in the layout.
    return {name for name in named if not name.startswith("{")}


def layout_ids(component) -> set[str]:
    """The layout's ids; a pattern-matching id (a dict) is written as the patterns naming
    it are: sorted JSON, with its values after the first key replaced by ["ALL"]."""
    found = set()
    for child in component._traverse():
        identity = getattr(child, "id", None)
        if isinstance(identity, dict):
            identity = json.dumps(
                {key: ["ALL"] if key != "type" else value for key, value in identity.items()},
                sort_keys=True,
                separators=(",", ":"),
            )
        if identity:
            found.add(identity)
    return found


def test_every_id_a_callback_names_is_in_the_validation_layout(app_factory) -> None:
    app = app_factory()
    client = app.server.test_client()
    # The first request sets up the page router (and its own validation layout, which
    # the app replaces with the complete one).
    assert client.get("/").status_code == 200
    assert not app.config.suppress_callback_exceptions
    named = callback_ids(app)
    assert {"monitor-graph", "overview-cards", shell_ids.NAVBAR_COLLAPSE} <= named
    missing = named - layout_ids(app.validation_layout)
    assert not missing, f"callbacks name ids that no page has: {sorted(missing)}"


@pytest.mark.browser
def test_a_callback_with_a_mistyped_id_fails_in_the_browser_console(browser, app_factory) -> None:
    app = app_factory()
    app.callback(Output("monitor-grpah", "figure"), Input(shell_ids.LOCATION, "pathname"))(
        lambda pathname: {}
    )
    browser.start_server(app)
    browser.wait_for_text_to_equal(".navbar-brand", "Battery Experiments Manager", timeout=10)
    assert browser.get_logs(), "no error in the browser console"
    # The console shows an object; the renderer's store says what it was.
    errors = browser.driver.execute_script("return window.store.getState().error.backEnd;")
    assert [error["error"]["message"] for error in errors] == ["ID not found in layout"]
    assert '"monitor-grpah"' in errors[0]["error"]["html"]


@pytest.mark.browser
def test_an_empty_database_serves_every_page_without_console_errors(browser, app_factory) -> None:
    browser.start_server(app_factory())
    for path in [path for _label, path in NAVBAR] + ["/monitor/1", "/no/such/page"]:
        browser.wait_for_page(f"{browser.server_url}{path}", timeout=10)
        browser.wait_for_element("#_pages_content h2", timeout=10)
        assert browser.get_logs() == [], f"browser console errors on {path}"
