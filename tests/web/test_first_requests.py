"""A fresh app answers its first requests side by side.

Dash finishes setting itself up (its callbacks and its page router) on the first request a
process receives; two threads doing so at once failed one request with "dictionary changed
size during iteration" (a stylesheet then came back as a text/plain 500 from a fresh
gunicorn worker). `create_app` now does that setup before the app serves anyone.
"""

from __future__ import annotations

import threading

from components.routes import STYLESHEETS

PATHS = [*STYLESHEETS, "/", "/monitor", "/_dash-layout", "/_dash-dependencies", "/experiments"]


def test_the_app_is_set_up_before_its_first_request(app_factory) -> None:
    app = app_factory()
    # The page router's callback exists already: Dash adds it during its setup.
    assert any("_pages_content.children" in output for output in app.callback_map)


def test_a_fresh_app_answers_simultaneous_first_requests(app_factory) -> None:
    app = app_factory()
    clients = [app.server.test_client() for _ in PATHS]
    start = threading.Barrier(len(PATHS))
    answers: dict[str, int] = {}

    def fetch(client, path: str) -> None:
        start.wait()
        answers[path] = client.get(path).status_code

    threads = [
        threading.Thread(target=fetch, args=pair) for pair in zip(clients, PATHS, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert answers == dict.fromkeys(PATHS, 200)
