"""Web hardening (docs/security.md, "Web"): security headers, the request size limit,
errors as one sentence, /health, and ids out of range.

Each hostile input of the security review is a regression test here; the browser test
loads the pages under the Content-Security-Policy and sees no violation.
"""

from __future__ import annotations

import io
import logging
import sys

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

import bootstrap
import components.routes
from components.hardening import (
    CALLBACK_FAILED,
    DATABASE_UNAVAILABLE,
    REPORT_POLICY,
    callback_error_message,
)
from components.urls import IMPORT_UPLOAD_URL
from config import Settings
from datastore import Datastore, catalog, make_engine, make_session_factory
from datastore.models import Battery
from tests.web.lab_data import add_experiment

TOO_BIG = 2**63  # SQLite's INTEGER ends at 2**63 - 1
HOST = "db-secret.lab.example"
SQL_ERROR = OperationalError(
    "SELECT experiments.id, experiments.name FROM experiments WHERE experiments.id = %(id)s",
    {"id": 7},
    Exception(f"(2003, \"Can't connect to MySQL server on '{HOST}' ([Errno 111])\")"),
)


@pytest.fixture
def app(app_factory, settings: Settings):
    return app_factory(settings.replace(web={"max_request_bytes": 100_000}))


@pytest.fixture
def client(app):
    return app.server.test_client()


@pytest.fixture
def engine(app) -> Engine:
    engine: Engine = app.server.extensions["bem"].store.engine
    return engine


# ---------------------------------------------------------------- headers


@pytest.mark.parametrize("path", ["/", "/experiments/7", "/health", "/no/such/page.csv"])
def test_every_response_carries_the_security_headers(client, path: str) -> None:
    response = client.get(path)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    policy = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy
    script_src = next(p for p in policy.split(";") if p.strip().startswith("script-src"))
    # Dash's own inline scripts are allowed by their hashes, not by allowing any inline script.
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    assert "'sha256-" in script_src


def test_the_report_has_its_own_policy_that_allows_its_inline_plotly_and_nothing_else(
    client, engine: Engine
) -> None:
    experiment_id = add_experiment(engine, samples=30)
    response = client.get(f"/experiments/{experiment_id}/report.html")
    assert response.status_code == 200
    assert response.headers["Content-Security-Policy"] == REPORT_POLICY
    assert "default-src 'none'" in REPORT_POLICY and "connect-src" not in REPORT_POLICY
    assert response.headers["X-Frame-Options"] == "DENY"


# ---------------------------------------------------------------- request size


def test_a_200_mb_request_body_is_refused_with_413_before_it_is_read(client) -> None:
    declared = 200 * 1024 * 1024
    body = io.BytesIO(b"{}")  # the limit is checked against the declared length
    response = client.post(
        "/_dash-update-component",
        input_stream=body,
        content_type="application/json",
        environ_overrides={"CONTENT_LENGTH": str(declared)},
    )
    assert response.status_code == 413
    assert response.text == (
        "The request is too large: this server accepts up to 100.0 kB "
        "(the setting web.max_request_bytes).\n"
    )
    assert body.tell() == 0


def test_a_real_body_over_the_limit_is_refused_too(client) -> None:
    response = client.post(
        "/_dash-update-component", data=b"x" * 200_001, content_type="application/json"
    )
    assert response.status_code == 413


def test_the_import_upload_keeps_its_own_larger_limit(client) -> None:
    content = b"Test Time / s,Voltage / V,Current / A\n" + b"0,3.7,1\n" * 20_000  # 160 kB
    response = client.post(
        IMPORT_UPLOAD_URL,
        data={"file": (io.BytesIO(content), "run.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.text
    assert response.json["size"] == len(content)


# ---------------------------------------------------------------- errors as sentences


def test_a_database_error_in_a_route_is_one_sentence_and_the_details_go_to_the_log(
    client, engine: Engine, monkeypatch, caplog
) -> None:
    experiment_id = add_experiment(engine)

    def fail(*_args: object) -> None:
        raise SQL_ERROR

    monkeypatch.setattr(components.routes, "experiment_cycles", fail)
    with caplog.at_level(logging.ERROR, logger="bem.web"):
        response = client.get(f"/experiments/{experiment_id}/cycles.csv")
    assert response.status_code == 500
    assert response.text == DATABASE_UNAVAILABLE + "\n"
    assert HOST not in response.text and "SELECT" not in response.text
    assert HOST in caplog.text  # the operator still sees what happened


def test_a_callback_error_message_names_no_sql_and_no_host() -> None:
    assert callback_error_message(SQL_ERROR) == DATABASE_UNAVAILABLE
    assert callback_error_message(KeyError("secret internals")) == CALLBACK_FAILED
    for message in (DATABASE_UNAVAILABLE, CALLBACK_FAILED):
        assert message.endswith(".") and "SELECT" not in message and HOST not in message


def test_a_constraint_violation_is_reported_without_the_sql(sqlite_engine: Engine) -> None:
    with Session(sqlite_engine) as session:
        for _ in range(2):
            session.add(
                Battery(
                    name="twin", technology="lithium-ion", voltage_min=2.5, voltage_max=4.2,
                    current_min=-1, current_max=1, details={},
                )
            )  # fmt: skip
        with pytest.raises(catalog.DuplicateError) as error:
            catalog._flush(session, "battery 'twin'")
    message = str(error.value)
    assert message.startswith("battery 'twin' conflicts with an existing record")
    assert "INSERT" not in message and "UNIQUE" not in message and "batteries" not in message


# ---------------------------------------------------------------- /health


def test_health_is_ok_while_the_database_answers(client) -> None:
    response = client.get("/health")
    assert (response.status_code, response.text) == (200, "OK\n")


def test_health_is_503_when_the_database_is_unreachable(
    clean_page_registry: None, settings: Settings
) -> None:
    # A server that refuses connections: nothing listens on port 1.
    engine = make_engine(
        "mysql+pymysql://bem:pw@127.0.0.1:1/bem", connect_args={"connect_timeout": 2}
    )
    app = bootstrap.web_app(settings, Datastore(engine, make_session_factory(engine)))
    response = app.server.test_client().get("/health")
    assert response.status_code == 503
    assert response.text == "Unavailable: the database cannot be reached.\n"
    assert "127.0.0.1" not in response.text


# ---------------------------------------------------------------- ids out of range


@pytest.mark.parametrize(
    "path",
    [
        f"/export/experiments/{TOO_BIG}.csv",
        f"/experiments/{TOO_BIG}/cycles.csv",
        f"/experiments/{TOO_BIG}/report.html",
        "/experiments/0/cycles.csv",
    ],
)
def test_an_id_out_of_range_on_a_route_is_404(client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert "Traceback" not in response.text and len(response.text.splitlines()) == 1


@pytest.mark.parametrize(
    ("module", "argument"),
    [
        ("pages.experiment.page", "experiment_id"),
        ("pages.batteries.detail", "battery_id"),
        ("pages.profiles.detail", "profile_id"),
        ("pages.profiles.edit", "profile_id"),
        ("pages.monitor.page", "station_id"),
    ],
)
@pytest.mark.parametrize("number", [str(TOO_BIG), "-1", "0"])
def test_a_page_for_an_id_out_of_range_says_not_found(
    app, module: str, argument: str, number: str
) -> None:
    with app.server.test_request_context("/"):
        layout = sys.modules[module].layout(**{argument: number})
    assert "There is no" in str(layout)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e400", "NaN"])
def test_a_window_that_is_not_a_finite_number_is_400(client, engine: Engine, value: str) -> None:
    experiment_id = add_experiment(engine, samples=3)
    response = client.get(f"/export/experiments/{experiment_id}.csv?start={value}")
    assert response.status_code == 400
    assert response.text.startswith("start: expected Unix seconds (a finite number), got")


def test_a_window_far_beyond_the_calendar_is_an_empty_export_not_a_500(
    client, engine: Engine
) -> None:
    experiment_id = add_experiment(engine, samples=3)
    response = client.get(f"/export/experiments/{experiment_id}.csv?start=1e300")
    assert response.status_code == 200
    assert len(response.text.splitlines()) == 1  # the header only


# ---------------------------------------------------------------- in the browser


@pytest.mark.browser
def test_the_pages_and_the_report_work_under_the_policy(browser, app, engine: Engine) -> None:
    experiment_id = add_experiment(engine, samples=200)
    browser.start_server(app)
    for path, selector in (
        ("/", "#_pages_content h2"),
        (f"/experiments/{experiment_id}", ".js-plotly-plot .main-svg"),
        ("/experiments", "#_pages_content h2"),
        ("/profiles", "#_pages_content h2"),
        ("/batteries", "#_pages_content h2"),
    ):
        browser.driver.get(browser.server_url + path)
        browser.wait_for_element(selector, timeout=15)
        assert browser.get_logs() == [], f"console errors (CSP violations?) on {path}"
    browser.driver.get(f"{browser.server_url}/experiments/{experiment_id}/report.html")
    browser.wait_for_element(".js-plotly-plot .main-svg", timeout=15)
    assert browser.get_logs() == [], "console errors (CSP violations?) in the report"
