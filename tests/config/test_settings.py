"""Settings: defaults, credentials file, environment, and one-line errors."""

from pathlib import Path

import pytest

from config import ConfigError, load_settings


def test_defaults_use_sqlite_in_the_instance_folder(tmp_path: Path) -> None:
    settings = load_settings({"BEM_DATABASE_INSTANCE_DIR": str(tmp_path)})
    assert settings.database.resolved_url == f"sqlite:///{tmp_path.resolve() / 'bem.sqlite3'}"
    assert settings.web.port == 8050
    assert settings.mqtt.topic_prefix == "bem"
    assert settings.node.heartbeat_timeout_s == 15.0


def test_environment_overrides_every_documented_key() -> None:
    settings = load_settings(
        {
            "BEM_DATABASE_URL": "mysql+pymysql://bem:pw@db:3306/bem",
            "BEM_MQTT_HOST": "broker",
            "BEM_MQTT_PORT": "8883",
            "BEM_MQTT_USERNAME": "node",
            "BEM_MQTT_PASSWORD": "secret",
            "BEM_MQTT_TOPIC_PREFIX": "lab1/bem",
            "BEM_SECRET_KEY": "k" * 32,
            "BEM_NODE_BATCH_SIZE": "500",
            "BEM_WEB_DEBUG": "true",
        }
    )
    assert settings.database.resolved_url == "mysql+pymysql://bem:pw@db:3306/bem"
    assert (settings.mqtt.host, settings.mqtt.port) == ("broker", 8883)
    assert (settings.mqtt.username, settings.mqtt.password) == ("node", "secret")
    assert settings.mqtt.topic_prefix == "lab1/bem"
    assert settings.web.secret_key == "k" * 32
    assert settings.node.batch_size == 500
    assert settings.web.debug is True


def test_credentials_file_overrides_defaults_and_environment_overrides_it(tmp_path: Path) -> None:
    credentials = tmp_path / "credentials.yaml"
    credentials.write_text("mqtt:\n  host: from-file\n  port: 1884\n", encoding="utf-8")
    settings = load_settings({"BEM_CREDENTIALS_FILE": str(credentials), "BEM_MQTT_PORT": "1999"})
    assert settings.mqtt.host == "from-file"
    assert settings.mqtt.port == 1999


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"BEM_MQTT_PORT": "abc"},
            "mqtt.port (from BEM_MQTT_PORT): expected an integer, got 'abc'",
        ),
        (
            {"BEM_MQTT_PORT": "70000"},
            "mqtt.port (from BEM_MQTT_PORT): expected an integer from 1 to 65535",
        ),
        (
            {"BEM_NODE_BATCH_SIZE": "0"},
            "node.batch_size (from BEM_NODE_BATCH_SIZE): expected a positive integer",
        ),
        ({"BEM_WEB_DEBUG": "maybe"}, "web.debug (from BEM_WEB_DEBUG): expected true or false"),
        (
            {"BEM_DATABASE_URL": "postgresql://x/y"},
            "database.url (from BEM_DATABASE_URL): expected empty",
        ),
        (
            {"BEM_MQTT_TOPIC_PREFIX": "bem/#"},
            "mqtt.topic_prefix (from BEM_MQTT_TOPIC_PREFIX): expected a non-empty MQTT topic",
        ),
        (
            {"BEM_CREDENTIALS_FILE": "/nonexistent/creds.yaml"},
            "BEM_CREDENTIALS_FILE: expected an existing file",
        ),
        (
            {"BEM_MQTT_ACL_RELOAD_WAIT_S": "120"},
            "mqtt.acl_reload_wait_s (from BEM_MQTT_ACL_RELOAD_WAIT_S): expected a number of "
            "seconds from 0 to 60, got '120'",
        ),
        (
            {"BEM_MQTT_ACL_CHECK_INTERVAL_S": "0"},
            "mqtt.acl_check_interval_s (from BEM_MQTT_ACL_CHECK_INTERVAL_S): expected a "
            "positive number of seconds",
        ),
    ],
)
def test_a_wrong_value_names_the_key_and_what_was_expected(environ: dict, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(environ)
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)


def test_unknown_keys_in_the_credentials_file_are_refused(tmp_path: Path) -> None:
    credentials = tmp_path / "credentials.yaml"
    credentials.write_text("mqtt:\n  hots: typo\n", encoding="utf-8")
    with pytest.raises(
        ConfigError, match=r"mqtt.hots \(in .*\): unknown key; expected one of host"
    ):
        load_settings({"BEM_CREDENTIALS_FILE": str(credentials)})


def test_broken_yaml_names_the_file_and_line(tmp_path: Path) -> None:
    credentials = tmp_path / "credentials.yaml"
    credentials.write_text("mqtt:\n  host: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"credentials.yaml line \d+: not valid YAML"):
        load_settings({"BEM_CREDENTIALS_FILE": str(credentials)})


def test_the_example_credentials_file_is_valid() -> None:
    example = Path(__file__).resolve().parents[2] / "config" / "credentials.example.yaml"
    settings = load_settings({}, credentials_file=example)
    assert settings.database.url.startswith("mysql+pymysql://")
