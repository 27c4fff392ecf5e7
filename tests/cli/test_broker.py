"""`bem broker passwd|acl`: the node users of the ACL, and files that cannot be written."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.cli.support import bem


@pytest.fixture
def empty_database(monkeypatch: pytest.MonkeyPatch, sqlite_url: str, sqlite_engine: Engine):
    monkeypatch.setenv("BEM_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("BEM_MQTT_USERNAME", "bem-node")
    return sqlite_engine


def test_the_acl_names_the_listed_node_users_as_the_node_does(
    empty_database, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BEM_MQTT_ACL_NODE_USERS", "node-a, node-b")
    status, out, _err = bem(capsys, "broker", "acl")
    assert status == 0
    assert "user node-a\n" in out and "user node-b\n" in out
    assert "user bem-node\n" not in out


def test_node_user_options_override_the_settings(empty_database, capsys) -> None:
    status, out, _err = bem(capsys, "broker", "acl", "--node-user", "other")
    assert status == 0
    assert "user other\n" in out and "user bem-node\n" not in out


def test_without_node_users_the_acl_is_the_nodes_own_user(empty_database, capsys) -> None:
    status, out, _err = bem(capsys, "broker", "acl")
    assert status == 0
    assert "user bem-node\ntopic readwrite bem/#\n" in out


def test_a_password_file_that_cannot_be_written_is_one_line(
    tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setattr("sys.stdin", io.StringIO("a-secret-1\n"))
    status, _out, err = bem(capsys, "broker", "passwd", str(blocker / "passwd"), "cu-a")
    assert status == 1
    assert err.startswith(f"bem broker: {blocker / 'passwd'}: cannot be written (")
    assert err.strip().endswith("nothing changed") and len(err.strip().splitlines()) == 1
    assert "a-secret-1" not in err
