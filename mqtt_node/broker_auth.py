"""The broker's password and ACL files, in Mosquitto's formats.

MQTT does not tell the node who sent a message, so the broker is where a unit is kept to
its own topics: each unit logs in under its own name, and the ACL lets that user publish
its own announce and its own stations' telemetry and read its own `registered` and its
own stations' commands. Station ids are assigned by the node, so the per-station lines
are written from the database (`bem broker acl`, or the node itself when `mqtt.acl_file`
is set: `mqtt_node.broker_acl`) and must be rewritten when stations change; until then a
new station's telemetry is refused (the ACL fails closed).

Passwords are stored as Mosquitto 2 does (`mosquitto_passwd`): PBKDF2-HMAC-SHA512 with a
random salt, `user:$7$<iterations>$<salt>$<hash>` in base64, so no Mosquitto tool is
needed where `bem` runs.
"""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from mqtt_node.topics import Topics

# Mosquitto's own default is 101; more makes a stolen file costlier to crack at a few
# milliseconds per connection (units connect rarely).
PBKDF2_ITERATIONS = 20_000
SALT_BYTES = 12

TELEMETRY_KINDS = ("heartbeat", "status", "measures", "alarms")


class BrokerAuthError(ValueError):
    """A user name or file that cannot be written into Mosquitto's files (one line)."""


def check_user_name(name: str, what: str = "user name") -> str:
    """A name both files can hold: no ':' (the password file's separator), no control
    characters (a newline would start a new ACL line) and no blanks at either end."""
    if not name:
        raise BrokerAuthError(f"{what}: must not be empty")
    if ":" in name:
        raise BrokerAuthError(f"{what} {name!r}: must not contain ':'")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise BrokerAuthError(f"{what} {name!r}: must not contain control characters")
    if name != name.strip():
        raise BrokerAuthError(f"{what} {name!r}: must not start or end with a blank")
    return name


def hash_password(password: str, salt: bytes | None = None) -> str:
    """The Mosquitto 2 hash of `password` (the part after `user:`)."""
    if not password:
        raise BrokerAuthError("password: must not be empty")
    salt = os.urandom(SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, PBKDF2_ITERATIONS)
    encoded_salt = base64.b64encode(salt).decode("ascii")
    return f"$7${PBKDF2_ITERATIONS}${encoded_salt}${base64.b64encode(digest).decode('ascii')}"


def set_password(text: str, user: str, password: str) -> str:
    """The password file `text` with `user` added or their password replaced."""
    entry = f"{check_user_name(user)}:{hash_password(password)}"
    lines = [line for line in text.splitlines() if line.split(":", 1)[0] != user]
    return "\n".join([*lines, entry]) + "\n"


def remove_user(text: str, user: str) -> str:
    """The password file `text` without `user`; BrokerAuthError when they are not in it."""
    lines = text.splitlines()
    kept = [line for line in lines if line.split(":", 1)[0] != user]
    if len(kept) == len(lines):
        raise BrokerAuthError(f"user {user!r}: not in the password file")
    return "".join(f"{line}\n" for line in kept)


def write_private(path: Path, text: str) -> None:
    """Replace `path` with `text` in one step (a reader sees the old file or the new one,
    never half of one), readable by its owner and group only. OSError when it cannot."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.chmod(temporary, 0o640)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def render_acl(
    prefix: str, node_users: Sequence[str], stations_by_unit: Mapping[str, Iterable[int]]
) -> tuple[str, list[str]]:
    """The ACL file's text, and a warning for each unit left out (a name that cannot be a
    broker user). Units get exact lines, never wildcards over station ids."""
    topics = Topics(prefix)
    if not node_users:
        raise BrokerAuthError("node user: at least one is needed (mqtt.username or --node-user)")
    lines = [
        "# Mosquitto ACL for Battery Experiments Manager, written by `bem broker acl`",
        "# or by the node (mqtt.acl_file). Rewrite it whenever stations are added or",
        "# edited, then reload the broker (SIGHUP); docs/security.md explains it.",
        "# Do not edit by hand.",
        "",
        "# The node (and the operators' tools): every topic under the prefix.",
    ]
    for user in node_users:
        lines += [f"user {check_user_name(user, 'node user')}", f"topic readwrite {prefix}/#", ""]
    warnings: list[str] = []
    # `pattern` lines apply to every user, with %u replaced by the user name: a unit may
    # announce, and hear its answer, under its own name only.
    lines += [
        "# Every unit: announce, and hear the answer, under its own name (user = unit name).",
        "pattern write " + topics.announce("%u"),
        "pattern read " + topics.registered("%u"),
    ]
    for unit, station_ids in sorted(stations_by_unit.items()):
        try:
            check_user_name(unit, "unit")
        except BrokerAuthError as error:
            warnings.append(f"{error}; left out of the ACL")
            continue
        ids = sorted(set(station_ids))
        lines += ["", f"# Unit {unit}: {len(ids)} station(s).", f"user {unit}"]
        for station in ids:
            lines += [f"topic write {topics.topic(kind, station)}" for kind in TELEMETRY_KINDS]
            lines.append(f"topic read {topics.commands(station)}")
    return "\n".join(lines) + "\n", warnings
