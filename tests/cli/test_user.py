"""`bem user`: the first admin and every account are made from the command line; the
password comes from a pipe or is asked twice, and only its argon2 hash is stored."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import Engine

from datastore.models import User
from datastore.users import authenticate
from domain.accounts import Role
from tests.cli.support import bem, stored

PASSWORD = "correct horse battery"


@pytest.fixture
def users_db(monkeypatch: pytest.MonkeyPatch, sqlite_url: str, sqlite_engine: Engine) -> Engine:
    monkeypatch.setenv("BEM_DATABASE_URL", sqlite_url)
    return sqlite_engine


def piped(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(text))


def test_add_reads_the_password_from_a_pipe_and_stores_only_its_hash(
    users_db: Engine, monkeypatch, capsys
) -> None:
    piped(monkeypatch, PASSWORD + "\n")
    status, out, err = bem(capsys, "user", "add", "ada", "--role", "admin")
    assert (status, err) == (0, "")
    assert out == "User ada added (admin).\n"
    (user,) = stored(users_db, User)
    assert (user.name, user.role, user.disabled) == ("ada", Role.ADMIN, False)
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    from sqlalchemy.orm import Session

    with Session(users_db) as session:
        assert authenticate(session, "ada", PASSWORD) is not None
        assert authenticate(session, "ada", PASSWORD + "x") is None


def test_add_asks_twice_without_echo_at_a_terminal(users_db: Engine, monkeypatch, capsys) -> None:
    monkeypatch.setattr("sys.stdin.isatty", lambda: True, raising=False)
    answers = iter([PASSWORD, PASSWORD + "!"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    status, _out, err = bem(capsys, "user", "add", "bob", "--role", "operator")
    assert status == 1
    assert "the two entries differ" in err
    assert stored(users_db, User) == []

    answers = iter([PASSWORD, PASSWORD])
    status, _out, _err = bem(capsys, "user", "add", "bob", "--role", "operator")
    assert status == 0
    assert [u.role for u in stored(users_db, User)] == [Role.OPERATOR]


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["bad name!", "--role", "viewer"], PASSWORD, "name: 1 to 64 letters"),
        (["carl", "--role", "boss"], PASSWORD, "role: expected one of viewer, operator, admin"),
        (["carl", "--role", "viewer"], "short", "password: at least 10 characters"),
        (["carl", "--role", "viewer"], "", "password: standard input is empty"),
    ],
)
def test_add_refuses_bad_input_with_the_field_named_and_stores_nothing(
    users_db: Engine, monkeypatch, capsys, args, stdin, message
) -> None:
    piped(monkeypatch, stdin)
    status, _out, err = bem(capsys, "user", "add", *args)
    assert status == 1
    assert message in err
    assert "Traceback" not in err
    assert stored(users_db, User) == []


def test_a_taken_name_is_refused(users_db: Engine, monkeypatch, capsys) -> None:
    piped(monkeypatch, PASSWORD)
    assert bem(capsys, "user", "add", "ada", "--role", "viewer")[0] == 0
    piped(monkeypatch, PASSWORD)
    status, _out, err = bem(capsys, "user", "add", "ada", "--role", "admin")
    assert status == 1
    assert "there is already a user named 'ada'" in err
    assert [u.role for u in stored(users_db, User)] == [Role.VIEWER]


def test_list_shows_names_roles_and_no_hashes(users_db: Engine, monkeypatch, capsys) -> None:
    for name, role in (("zoe", "viewer"), ("ada", "admin")):
        piped(monkeypatch, PASSWORD)
        assert bem(capsys, "user", "add", name, "--role", role)[0] == 0
    assert bem(capsys, "user", "disable", "zoe")[0] == 0
    status, out, _err = bem(capsys, "user", "list")
    assert status == 0
    lines = [line.split("\t") for line in out.splitlines()]
    assert lines[0] == ["name", "role", "disabled", "created", "last_login"]
    assert [row[:3] for row in lines[1:]] == [["ada", "admin", "no"], ["zoe", "viewer", "yes"]]
    assert "argon2" not in out


def test_passwd_changes_the_password(users_db: Engine, monkeypatch, capsys) -> None:
    from sqlalchemy.orm import Session

    piped(monkeypatch, PASSWORD)
    assert bem(capsys, "user", "add", "ada", "--role", "operator")[0] == 0
    piped(monkeypatch, "a new long password\n")
    status, out, _err = bem(capsys, "user", "passwd", "ada")
    assert (status, out) == (0, "Password of ada changed.\n")
    with Session(users_db) as session:
        assert authenticate(session, "ada", PASSWORD) is None
        assert authenticate(session, "ada", "a new long password") is not None

    piped(monkeypatch, "a new long password\n")
    status, _out, err = bem(capsys, "user", "passwd", "nobody")
    assert status == 1
    assert "there is no user named 'nobody'" in err


def test_a_disabled_user_cannot_sign_in(users_db: Engine, monkeypatch, capsys) -> None:
    from sqlalchemy.orm import Session

    piped(monkeypatch, PASSWORD)
    assert bem(capsys, "user", "add", "ada", "--role", "operator")[0] == 0
    assert bem(capsys, "user", "disable", "ada")[0] == 0
    with Session(users_db) as session:
        assert authenticate(session, "ada", PASSWORD) is None
    assert bem(capsys, "user", "enable", "ada")[0] == 0
    assert bem(capsys, "user", "role", "ada", "admin")[0] == 0
    with Session(users_db) as session:
        account = authenticate(session, "ada", PASSWORD)
    assert account is not None and account.role is Role.ADMIN


def test_the_last_enabled_admin_is_neither_demoted_nor_disabled(
    users_db: Engine, monkeypatch, capsys
) -> None:
    piped(monkeypatch, PASSWORD)
    assert bem(capsys, "user", "add", "ada", "--role", "admin")[0] == 0
    for args in (("role", "ada", "viewer"), ("disable", "ada")):
        status, out, err = bem(capsys, "user", *args)
        assert (status, out) == (1, "")
        assert err == (
            "bem user: ada is the last enabled admin; make another user an admin first\n"
        )
    (user,) = stored(users_db, User)
    assert (user.role, user.disabled) == (Role.ADMIN, False)
