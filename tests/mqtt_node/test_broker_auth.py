"""The Mosquitto password and ACL files as `bem broker` writes them (no broker needed;
tests/mqtt_node/test_broker_security.py runs them in a real Mosquitto)."""

from __future__ import annotations

import base64
import hashlib

import pytest

from mqtt_node.broker_auth import (
    BrokerAuthError,
    hash_password,
    remove_user,
    render_acl,
    set_password,
)


def test_the_hash_is_mosquittos_pbkdf2_sha512_format() -> None:
    salt = b"0123456789ab"
    _empty, kind, iterations, encoded_salt, digest = hash_password("s3cret", salt).split("$")
    assert (kind, base64.b64decode(encoded_salt)) == ("7", salt)
    expected = hashlib.pbkdf2_hmac("sha512", b"s3cret", salt, int(iterations))
    assert base64.b64decode(digest) == expected
    # A fresh salt each time: equal passwords do not give equal lines.
    assert hash_password("s3cret") != hash_password("s3cret")


def test_a_user_is_added_replaced_and_removed_without_touching_the_others() -> None:
    text = set_password(set_password("", "bem-node", "node-pw"), "cu-1", "old-pw")
    replaced = set_password(text, "cu-1", "new-pw")
    assert "pw" not in replaced  # only hashes are stored
    assert [line.split(":")[0] for line in replaced.splitlines()] == ["bem-node", "cu-1"]
    assert replaced.splitlines()[0] == text.splitlines()[0]
    assert replaced.splitlines()[1] != text.splitlines()[1]
    assert remove_user(replaced, "cu-1").splitlines() == text.splitlines()[:1]
    with pytest.raises(BrokerAuthError, match="'nobody': not in the password file"):
        remove_user(text, "nobody")


@pytest.mark.parametrize(
    ("name", "problem"),
    [("", "must not be empty"), ("a:b", "':'"), ("a\nuser x", "control"), (" a", "blank")],
)
def test_names_that_would_corrupt_the_files_are_refused(name: str, problem: str) -> None:
    with pytest.raises(BrokerAuthError, match=problem):
        set_password("", name, "pw")


def test_the_acl_grants_each_unit_exact_topics_of_its_own_stations() -> None:
    text, warnings = render_acl("lab1/bem", ["bem-node"], {"cu-a": [3, 1], "cu-b": []})
    lines = text.splitlines()
    assert warnings == []
    assert "topic readwrite lab1/bem/#" in lines
    assert "pattern write lab1/bem/units/%u/announce" in lines
    assert "pattern read lab1/bem/units/%u/registered" in lines
    unit_a = lines[lines.index("user cu-a") + 1 : lines.index("user cu-b") - 2]
    assert unit_a == [
        *(f"topic write lab1/bem/stations/1/{kind}" for kind in ("heartbeat", "status", "measures", "alarms")),
        "topic read lab1/bem/stations/1/commands",
        *(f"topic write lab1/bem/stations/3/{kind}" for kind in ("heartbeat", "status", "measures", "alarms")),
        "topic read lab1/bem/stations/3/commands",
    ]  # fmt: skip
    # No unit gets a wildcard, and none may write commands.
    unit_lines = lines[lines.index("user cu-a") :]
    assert not any("+" in line or "#" in line.split(" ", 1)[-1] for line in unit_lines)
    assert not any(line.startswith("topic write") and "commands" in line for line in lines)


def test_a_unit_whose_name_would_inject_acl_lines_is_left_out_with_a_warning() -> None:
    text, warnings = render_acl("bem", ["bem-node"], {"evil\ntopic readwrite bem/#": [1]})
    assert text.count("topic readwrite bem/#") == 1
    assert "bem/stations/1" not in text
    assert len(warnings) == 1 and "control characters" in warnings[0]


def test_an_acl_needs_a_node_user() -> None:
    with pytest.raises(BrokerAuthError, match="node user"):
        render_acl("bem", [], {})
