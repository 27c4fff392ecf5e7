"""Settings: YAML defaults, an untracked credentials file, then environment variables.

`load_settings()` returns a frozen `Settings`; a wrong or missing value raises
`ConfigError` with one line naming the key and what was expected.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, get_type_hints
from urllib.parse import urlsplit

import yaml

CONFIG_DIR = Path(__file__).resolve().parent
DEFAULTS_FILE = CONFIG_DIR / "defaults.yaml"
CREDENTIALS_FILE = CONFIG_DIR / "credentials.yaml"

# Short environment names kept for convenience; every key also has BEM_<SECTION>_<KEY>.
ENV_ALIASES = {"BEM_SECRET_KEY": ("web", "secret_key")}
# The path of a credentials file other than config/credentials.yaml.
CREDENTIALS_ENV = "BEM_CREDENTIALS_FILE"


class ConfigError(ValueError):
    """A setting is missing or has the wrong form; the message names the key."""


# The section types declare names and types only: every default value is written once, in
# config/defaults.yaml, which `load_settings` always reads first (`default_settings()` is that
# file alone). A key missing from it is a ConfigError, not a silent fallback.


@dataclass(frozen=True)
class DatabaseSettings:
    url: str
    instance_dir: str

    @property
    def resolved_url(self) -> str:
        """The URL to connect to: the configured one, or the SQLite file in the instance folder."""
        if self.url:
            return self.url
        path = Path(self.instance_dir).resolve() / "bem.sqlite3"
        return f"sqlite:///{path}"


@dataclass(frozen=True)
class WebSettings:
    host: str
    port: int
    secret_key: str
    debug: bool
    # Files uploaded for import wait here until their import ends ("" = <instance_dir>/uploads).
    upload_dir: str
    max_upload_bytes: int
    # Largest request body of anything but the import's upload (which has the limit above).
    max_request_bytes: int
    # `bem web` (gunicorn): worker processes, and threads answering requests in each.
    workers: int
    threads: int
    # Reverse proxies in front of the app whose X-Forwarded-For/-Proto/-Host are believed
    # (0: none; the client address is then the connection's).
    trusted_proxies: int


@dataclass(frozen=True)
class AuthSettings:
    """Sign-in to the web app (components/auth.py, docs/security.md)."""

    # Off only for the demo and tests: then everyone who reaches the port can act.
    enabled: bool
    # A sign-in lasts this long, however active the person is.
    session_hours: float
    # Send the session cookie only over HTTPS (set when the site is served over HTTPS).
    secure_cookies: bool
    # Failed sign-ins for one name, and from one client address, within the window that
    # lock further attempts for lockout_minutes (0: no limit). Counted in the database.
    max_failed_sign_ins: int
    max_failed_sign_ins_per_address: int
    failure_window_minutes: float
    lockout_minutes: float


@dataclass(frozen=True)
class MqttSettings:
    """How a client reaches the broker: used by the node, the simulator and the live demo."""

    host: str
    port: int
    username: str
    # Kept out of repr, so a logged or printed settings object never shows it.
    password: str = field(repr=False)
    topic_prefix: str
    client_id: str
    shared_group: str
    keepalive: int
    # Keep the session (subscriptions and unacknowledged QoS 1 messages) while away.
    persistent: bool
    session_expiry_s: int
    # How many unacknowledged QoS 1 messages the broker may send at once.
    receive_maximum: int
    # TLS to the broker: the CA that signed its certificate ("" = the system's CAs), and a
    # client certificate and key for brokers that require one (both or neither).
    tls: bool
    tls_ca_file: str
    tls_cert_file: str
    tls_key_file: str
    # Skip the check that the broker's certificate names its host: for tests only.
    tls_insecure: bool
    # The broker's ACL file, which the node keeps current from the database ("" = not
    # the node's job: `bem broker acl` by hand); the users given every topic ("" =
    # username; comma-separated); how the broker is told to read it again (a command,
    # else SIGHUP to the pid in a file, else something else does it) and how long it is
    # given to; and how often the node looks for stations changed elsewhere.
    acl_file: str
    acl_node_users: str
    acl_reload_command: str
    acl_reload_pid_file: str
    acl_reload_wait_s: float
    acl_check_interval_s: float


@dataclass(frozen=True)
class NodeSettings:
    heartbeat_timeout_s: float
    batch_size: int
    batch_interval_s: float
    queue_size: int
    queue_max_bytes: int
    start_timeout_s: float
    start_retries: int
    max_payload_bytes: int
    control_interval_s: float
    reregister_interval_s: float
    max_channels_per_experiment: int
    max_stations_per_unit: int
    rejected_retention_days: float
    rejected_max_rows: int
    rejected_prune_interval_s: float


@dataclass(frozen=True)
class ProfileSettings:
    max_steps: int


@dataclass(frozen=True)
class SimulatorSettings:
    """`bem simulate`: the unit it plays and how fast (its options override these)."""

    unit: str
    stations: int
    rate_hz: float
    speed: float
    # The unit's broker password; its broker user name is the unit name. Empty: the
    # simulator connects without credentials (an open broker).
    password: str = field(repr=False)


@dataclass(frozen=True)
class DemoSettings:
    stations: int
    sample_rate_hz: float
    speed: float
    # Log every HTTP request the demo serves (off: a few hundred lines in a quarter hour).
    access_log: bool


@dataclass(frozen=True)
class LoggingSettings:
    """What each process writes to standard error (config/logs.py)."""

    # "text": one line per event; "json": one JSON object per line.
    format: str
    # The least important events written by the long-running processes (web, node, demo).
    level: str


@dataclass(frozen=True)
class Settings:
    database: DatabaseSettings
    web: WebSettings
    auth: AuthSettings
    mqtt: MqttSettings
    node: NodeSettings
    profiles: ProfileSettings
    simulator: SimulatorSettings
    demo: DemoSettings
    logging: LoggingSettings

    def replace(self, **sections: Mapping[str, Any]) -> Settings:
        """A copy with some keys changed: `settings.replace(database={"url": ...})`."""
        changed = {}
        for section, values in sections.items():
            current = getattr(self, section)
            changed[section] = _build_section(
                section, type(current), {**_as_dict(current), **values}
            )
        return dataclasses.replace(self, **changed)


# Range checks that the type alone does not express: key -> (test, expectation).
_CHECKS: dict[tuple[str, str], tuple[Any, str]] = {
    ("web", "port"): (lambda v: 1 <= v <= 65535, "an integer from 1 to 65535"),
    ("mqtt", "port"): (lambda v: 1 <= v <= 65535, "an integer from 1 to 65535"),
    ("auth", "session_hours"): (
        lambda v: 0 < v <= 24 * 31,
        "a number of hours above 0, at most 744 (31 days)",
    ),
    ("auth", "max_failed_sign_ins"): (lambda v: v >= 0, "an integer of at least 0 (0: no limit)"),
    ("auth", "max_failed_sign_ins_per_address"): (
        lambda v: v >= 0,
        "an integer of at least 0 (0: no limit)",
    ),
    ("auth", "failure_window_minutes"): (lambda v: v > 0, "a positive number of minutes"),
    ("auth", "lockout_minutes"): (lambda v: v > 0, "a positive number of minutes"),
    ("web", "max_upload_bytes"): (lambda v: v >= 1024, "an integer of at least 1024 (bytes)"),
    ("web", "max_request_bytes"): (lambda v: v >= 1024, "an integer of at least 1024 (bytes)"),
    ("web", "workers"): (lambda v: v >= 1, "a positive integer"),
    ("web", "threads"): (lambda v: v >= 1, "a positive integer"),
    ("web", "trusted_proxies"): (lambda v: 0 <= v <= 5, "an integer from 0 to 5"),
    ("mqtt", "keepalive"): (lambda v: v >= 5, "an integer of at least 5 (seconds)"),
    ("mqtt", "topic_prefix"): (
        lambda v: bool(v) and not any(c in v for c in "#+") and not v.startswith("/"),
        "a non-empty MQTT topic without wildcards, e.g. bem",
    ),
    ("mqtt", "client_id"): (lambda v: bool(v), "a non-empty client id"),
    ("node", "heartbeat_timeout_s"): (lambda v: v > 0, "a positive number of seconds"),
    ("node", "batch_size"): (lambda v: v >= 1, "a positive integer"),
    ("node", "batch_interval_s"): (lambda v: v > 0, "a positive number of seconds"),
    ("node", "queue_size"): (lambda v: v >= 1, "a positive integer"),
    ("node", "queue_max_bytes"): (lambda v: v >= 1024, "an integer of at least 1024 (bytes)"),
    ("node", "max_channels_per_experiment"): (lambda v: v >= 0, "an integer of at least 0"),
    ("node", "max_stations_per_unit"): (lambda v: v >= 1, "a positive integer"),
    ("node", "rejected_retention_days"): (lambda v: v >= 0, "a number of days of at least 0"),
    ("node", "rejected_max_rows"): (lambda v: v >= 0, "an integer of at least 0"),
    ("node", "rejected_prune_interval_s"): (lambda v: v > 0, "a positive number of seconds"),
    ("node", "start_timeout_s"): (lambda v: v > 0, "a positive number of seconds"),
    ("node", "start_retries"): (lambda v: v >= 0, "an integer of at least 0"),
    ("node", "max_payload_bytes"): (lambda v: v >= 1024, "an integer of at least 1024"),
    ("node", "control_interval_s"): (lambda v: v > 0, "a positive number of seconds"),
    ("node", "reregister_interval_s"): (lambda v: v >= 0, "a number of seconds of at least 0"),
    ("mqtt", "session_expiry_s"): (lambda v: v >= 0, "an integer of at least 0 (seconds)"),
    ("mqtt", "receive_maximum"): (lambda v: 1 <= v <= 65535, "an integer from 1 to 65535"),
    ("mqtt", "acl_reload_wait_s"): (
        lambda v: 0 <= v <= 60,
        "a number of seconds from 0 to 60",
    ),
    ("mqtt", "acl_check_interval_s"): (lambda v: v > 0, "a positive number of seconds"),
    ("simulator", "unit"): (lambda v: bool(v), "a non-empty unit name"),
    ("simulator", "stations"): (lambda v: 1 <= v <= 256, "an integer from 1 to 256"),
    ("simulator", "rate_hz"): (lambda v: 0 < v <= 1000, "a rate in Hz above 0, at most 1000"),
    ("simulator", "speed"): (lambda v: 0 < v <= 10000, "a time factor above 0, at most 10000"),
    ("profiles", "max_steps"): (lambda v: v >= 1, "a positive integer"),
    ("demo", "stations"): (lambda v: 0 <= v <= 64, "an integer from 0 to 64"),
    ("demo", "sample_rate_hz"): (lambda v: 0 < v <= 1000, "a rate in Hz above 0, at most 1000"),
    ("demo", "speed"): (lambda v: 0 < v <= 10000, "a time factor above 0, at most 10000"),
    ("logging", "format"): (lambda v: v in ("text", "json"), "text or json"),
    ("logging", "level"): (
        lambda v: v.upper() in ("DEBUG", "INFO", "WARNING", "ERROR"),
        "one of DEBUG, INFO, WARNING, ERROR",
    ),
    (
        "database",
        "url",
    ): (
        lambda v: v == "" or (v.startswith(("sqlite", "mysql", "mariadb")) and _url_parses(v)),
        "empty (SQLite in the instance folder) or a sqlite:// or "
        "mysql+pymysql://user:password@host:port/database URL",
    ),
}

# Keys whose values are never shown in a message, and URLs whose password is masked.
_SECRET_KEYS = {("web", "secret_key"), ("mqtt", "password")}
_URL_KEYS = {("database", "url")}
# user:password@ after the scheme's slashes; the password runs to the last @ of the authority.
_URL_PASSWORD = re.compile(r"(//|/)([^/@:]*):[^/]*@")


def _url_parses(url: str) -> bool:
    """Whether `url` has the form scheme://[user[:password]@]host[:port]/path: a port that is
    not a number fails here, in one sentence, instead of deep inside the database driver."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  # raises ValueError for a port that is not a number
    except ValueError:
        return False
    return bool(parts.scheme) and url.startswith(f"{parts.scheme}://")


def mask_url(url: str) -> str:
    """`url` with its password replaced by ***: `mysql+pymysql://bem:***@db/bem`. Works on
    malformed URLs too (one slash, a bad port), which are the ones error messages show."""
    return _URL_PASSWORD.sub(r"\1\2:***@", url)


def _shown(section: str, name: str, value: Any) -> str:
    """A raw value as an error message may show it: secrets hidden, URLs masked."""
    if (section, name) in _SECRET_KEYS:
        return "a value that is not shown (it is a secret)"
    if (section, name) in _URL_KEYS and isinstance(value, str):
        return repr(mask_url(value))
    return repr(value)


def _as_dict(section: Any) -> dict[str, Any]:
    return {f.name: getattr(section, f.name) for f in fields(section)}


def _convert(key: str, value: Any, kind: type) -> Any:
    """Convert one raw value (from YAML or the environment) to the declared type."""
    expected = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}[kind]
    if value is None:
        raise ConfigError(f"{key}: missing value, expected {expected}")
    if kind is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"0", "false", "no", "off", ""}:
            return False
        raise ConfigError(f"{key}: expected {expected}, got {value!r}")
    if kind is str:
        if isinstance(value, (dict, list)):
            raise ConfigError(f"{key}: expected {expected}, got {type(value).__name__}")
        return str(value)
    if isinstance(value, bool):
        raise ConfigError(f"{key}: expected {expected}, got {value!r}")
    try:
        converted = kind(value) if kind is float else int(str(value).strip())
    except (TypeError, ValueError):
        raise ConfigError(f"{key}: expected {expected}, got {value!r}") from None
    if kind is float and converted != converted:  # NaN
        raise ConfigError(f"{key}: expected {expected}, got {value!r}")
    return converted


def _build_section(
    section: str, cls: type, raw: Mapping[str, Any], origins: Mapping[str, str] | None = None
) -> Any:
    """Check and convert one section; `origins` says where a key's value came from."""
    origins = origins or {}
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise ConfigError(
            f"{section}.{unknown[0]}{origins.get(unknown[0], '')}: unknown key; "
            f"expected one of {', '.join(known)}"
        )
    values = {}
    for name, f in known.items():
        if name not in raw:
            continue
        key = f"{section}.{name}{origins.get(name, '')}"
        kind = {"int": int, "float": float, "bool": bool, "str": str}[str(f.type)]
        try:
            value = _convert(key, raw[name], kind)
        except ConfigError:
            if (section, name) in _SECRET_KEYS or (section, name) in _URL_KEYS:
                raise ConfigError(f"{key}: expected a single text value") from None
            raise
        check = _CHECKS.get((section, name))
        if check and not check[0](value):
            raise ConfigError(f"{key}: expected {check[1]}, got {_shown(section, name, raw[name])}")
        values[name] = value
    missing = [name for name in known if name not in values]
    if missing:
        raise ConfigError(f"{section}.{missing[0]}: missing (not even in {DEFAULTS_FILE.name})")
    return cls(**values)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{where}: not valid YAML") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot be read ({error.strerror})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of sections (database, web, mqtt, ...)")
    return data


def _merge_file(
    merged: dict[str, dict[str, Any]], path: Path, origins: dict[str, dict[str, str]]
) -> None:
    for section, values in _read_yaml(path).items():
        if section not in merged:
            raise ConfigError(
                f"{section} (in {path}): unknown section; expected one of {', '.join(merged)}"
            )
        if values is None:
            continue
        if not isinstance(values, dict):
            raise ConfigError(f"{section} (in {path}): expected a mapping of keys")
        merged[section].update(values)
        for key in values:
            origins[section][key] = f" (in {path})"


def _section_types() -> dict[str, type]:
    hints = get_type_hints(Settings)
    return {f.name: hints[f.name] for f in fields(Settings)}


def environment_variables() -> dict[str, str]:
    """Every environment variable `load_settings` reads, with the setting it gives
    (`section.key`, or "credentials file" for BEM_CREDENTIALS_FILE)."""
    names = {CREDENTIALS_ENV: "credentials file"}
    names.update({name: f"{section}.{key}" for name, (section, key) in ENV_ALIASES.items()})
    for section, cls in _section_types().items():
        for f in fields(cls):
            names[f"BEM_{section}_{f.name}".upper()] = f"{section}.{f.name}"
    return names


@functools.cache
def default_settings() -> Settings:
    """The defaults alone (config/defaults.yaml), with no credentials file or environment."""
    return load_settings(environ={}, read_credentials=False)


def load_settings(
    environ: Mapping[str, str] | None = None,
    credentials_file: str | Path | None = None,
    *,
    read_credentials: bool = True,
) -> Settings:
    """Read defaults, the credentials file and the environment into one `Settings`."""
    environ = os.environ if environ is None else environ
    sections = _section_types()
    merged: dict[str, dict[str, Any]] = {name: {} for name in sections}
    origins: dict[str, dict[str, str]] = {name: {} for name in sections}
    _merge_file(merged, DEFAULTS_FILE, origins)

    credentials = credentials_file or environ.get(CREDENTIALS_ENV)
    if not read_credentials:
        pass
    elif credentials:
        path = Path(credentials)
        if not path.is_file():
            raise ConfigError(f"{CREDENTIALS_ENV}: expected an existing file, got {str(path)!r}")
        _merge_file(merged, path, origins)
    elif CREDENTIALS_FILE.is_file():
        _merge_file(merged, CREDENTIALS_FILE, origins)

    for name, (section, key) in ENV_ALIASES.items():
        if name in environ:
            merged[section][key] = environ[name]
            origins[section][key] = f" (from {name})"
    for section, cls in sections.items():
        for f in fields(cls):
            env_name = f"BEM_{section}_{f.name}".upper()
            if env_name in environ:
                merged[section][f.name] = environ[env_name]
                origins[section][f.name] = f" (from {env_name})"

    built = {}
    for section, cls in sections.items():
        built[section] = _build_section(section, cls, merged[section], origins[section])
    return Settings(**built)
