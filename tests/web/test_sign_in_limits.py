"""Password guessing is slowed down: after too many failed sign-ins for one name, or from
one client address, sign-in is refused for a while, whatever the password, with a
sentence that does not tell whether the account exists. The counts are in the database,
so they hold across web workers: two app instances sharing a database count together."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from config import Settings
from datastore import make_engine
from datastore.models import SignInFailure
from datastore.users import add_user
from domain.accounts import Role

PASSWORD = "a long enough password"
ACCOUNT_LOCKED = "Too many failed sign-ins for this account; try again in 5 minutes."
ADDRESS_LOCKED = "Too many failed sign-ins from this address; try again in 5 minutes."


@pytest.fixture
def auth_settings(settings: Settings) -> Settings:
    """Sign-in on, with the default limits: 5 per name, 20 per address, 15 and 5 minutes."""
    return settings.replace(auth={"enabled": True})


@pytest.fixture
def engine(auth_settings: Settings) -> Any:
    engine = make_engine(auth_settings.database.resolved_url)
    yield engine
    engine.dispose()


@pytest.fixture
def app(app_factory, auth_settings: Settings, engine: Engine) -> Any:
    """The app with sign-in on and one operator, otto."""
    app = app_factory(auth_settings)
    with Session(engine) as session, session.begin():
        add_user(session, "otto", Role.OPERATOR, PASSWORD)
    return app


def client_of(app: Any, address: str = "192.0.2.1") -> Any:
    """A browser at this client address."""
    client = app.server.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def sign_in(client: Any, name: str, password: str = PASSWORD) -> tuple[int, str]:
    response = client.post("/login", data={"name": name, "password": password, "next": "/"})
    return response.status_code, response.get_data(as_text=True)


def fail(client: Any, name: str, times: int) -> None:
    for _ in range(times):
        status, page = sign_in(client, name, "not the password")
        assert status == 200 and "wrong name or password" in page


def test_five_failures_lock_the_name_even_for_the_right_password(app) -> None:
    client = client_of(app)
    fail(client, "otto", 5)
    status, page = sign_in(client, "otto")
    assert status == 429
    assert ACCOUNT_LOCKED in page
    assert client.get("/").status_code == 302  # no session was made


def test_an_unknown_name_is_locked_the_same_way(app) -> None:
    client = client_of(app)
    fail(client, "otto", 5)
    fail(client, "nobody", 5)
    _, known = sign_in(client, "otto")
    _, unknown = sign_in(client, "nobody")
    assert ACCOUNT_LOCKED in unknown
    # The two pages differ only by the name typed back into the form.
    assert unknown.replace("nobody", "otto") == known


def test_a_successful_sign_in_resets_the_count(app) -> None:
    client = client_of(app)
    fail(client, "otto", 4)
    assert sign_in(client, "otto")[0] == 302
    client.get("/logout")
    fail(client, "otto", 4)
    assert sign_in(client, "otto")[0] == 302


def test_the_lock_ends_after_the_lockout(app, engine: Engine) -> None:
    client = client_of(app)
    fail(client, "otto", 5)
    assert sign_in(client, "otto")[0] == 429
    # Five minutes pass: the failures are that much older.
    with Session(engine) as session, session.begin():
        for failure in session.scalars(select(SignInFailure)):
            failure.at -= dt.timedelta(minutes=5, seconds=1)
    assert sign_in(client, "otto")[0] == 302


def test_failures_from_one_address_lock_that_address_only(app) -> None:
    guesser = client_of(app, "198.51.100.7")
    for n in range(20):
        fail(guesser, f"guess{n}", 1)
    status, page = sign_in(guesser, "otto")
    assert status == 429 and ADDRESS_LOCKED in page
    # Someone else, elsewhere, still signs in.
    assert sign_in(client_of(app, "192.0.2.99"), "otto")[0] == 302


def test_the_limit_holds_across_two_app_instances_sharing_a_database(
    app, app_factory, auth_settings: Settings
) -> None:
    """Two web workers: the failures counted by one lock the name in the other."""
    other = app_factory(auth_settings)
    fail(client_of(app), "otto", 3)
    fail(client_of(other, "192.0.2.2"), "otto", 2)
    for instance in (app, other):
        status, page = sign_in(client_of(instance, "192.0.2.3"), "otto")
        assert status == 429 and ACCOUNT_LOCKED in page


def test_limits_of_zero_turn_the_lock_off(app_factory, auth_settings: Settings, engine) -> None:
    app = app_factory(
        auth_settings.replace(auth={"max_failed_sign_ins": 0, "max_failed_sign_ins_per_address": 0})
    )
    with Session(engine) as session, session.begin():
        add_user(session, "otto", Role.OPERATOR, PASSWORD)
    client = client_of(app)
    fail(client, "otto", 6)
    assert sign_in(client, "otto")[0] == 302


def test_a_failure_prunes_the_failures_too_old_to_count(app, engine: Engine) -> None:
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=21)  # window + lockout ago
    with Session(engine) as session, session.begin():
        session.add(SignInFailure(name="otto", address="192.0.2.1", at=long_ago))
    fail(client_of(app), "vera", 1)
    with Session(engine) as session:
        assert session.scalars(select(SignInFailure.name)).all() == ["vera"]


def _guess_twenty_times_through_a_proxy(app: Any) -> Any:
    """A proxy at 10.0.0.1 forwards twenty failed guesses of the client 198.51.100.7."""
    proxy = client_of(app, "10.0.0.1")
    proxy.environ_base["HTTP_X_FORWARDED_FOR"] = "198.51.100.7"
    for n in range(20):
        fail(proxy, f"guess{n}", 1)
    return proxy


def test_behind_a_trusted_proxy_the_forwarded_client_address_is_counted(
    app_factory, auth_settings: Settings, engine: Engine
) -> None:
    app = app_factory(auth_settings.replace(web={"trusted_proxies": 1}))
    with Session(engine) as session, session.begin():
        add_user(session, "otto", Role.OPERATOR, PASSWORD)
    status, page = sign_in(_guess_twenty_times_through_a_proxy(app), "otto")
    assert status == 429 and ADDRESS_LOCKED in page
    # Another client through the same proxy is not locked out with the guesser.
    colleague = client_of(app, "10.0.0.1")
    colleague.environ_base["HTTP_X_FORWARDED_FOR"] = "192.0.2.50"
    assert sign_in(colleague, "otto")[0] == 302


def test_without_trusted_proxies_a_forwarded_address_is_ignored(app) -> None:
    """Any client can send X-Forwarded-For: unless told of a proxy, the app counts the
    connection's address, so a guesser cannot dodge the limit by varying the header."""
    guesser = client_of(app, "198.51.100.7")
    for n in range(20):
        guesser.environ_base["HTTP_X_FORWARDED_FOR"] = f"203.0.113.{n}"
        fail(guesser, f"guess{n}", 1)
    status, page = sign_in(guesser, "otto")
    assert status == 429 and ADDRESS_LOCKED in page
