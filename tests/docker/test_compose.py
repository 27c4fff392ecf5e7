"""The deployment files hang together (no Docker engine is needed to check this)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from config import load_settings

DOCKER = Path(__file__).resolve().parents[2] / "docker"


def _compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text(encoding="utf-8"))


def test_compose_runs_web_node_database_and_broker() -> None:
    services = _compose()["services"]
    assert {"web", "node", "mariadb", "mosquitto", "migrate"} <= set(services)
    assert services["migrate"]["depends_on"]["mariadb"]["condition"] == "service_healthy"
    for name in ("web", "node"):
        assert (
            services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        )
        assert services[name]["restart"] == "unless-stopped"


def test_the_environment_given_to_the_app_is_valid_settings() -> None:
    environment = _compose()["services"]["web"]["environment"]
    example = dict(
        line.split("=", 1)
        for line in (DOCKER / "example.env").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    )

    def substitute(value: str) -> str:
        pattern = r"\$\{(\w+)(?::-([^}]*)|:\?[^}]*)?\}"
        return re.sub(pattern, lambda m: example.get(m.group(1)) or (m.group(2) or ""), value)

    resolved = {key: substitute(str(value)) for key, value in environment.items()}
    settings = load_settings(resolved)
    assert settings.database.resolved_url == "mysql+pymysql://bem:change-me@mariadb:3306/bem"
    assert settings.mqtt.host == "mosquitto"


def test_the_image_copies_every_package_the_app_imports() -> None:
    dockerfile = (DOCKER / "Dockerfile").read_text(encoding="utf-8")
    root = DOCKER.parent
    packages = {p.name for p in root.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    packages |= {"pages", "assets"}
    for package in packages - {"tests"}:
        assert f"COPY {package} ./{package}" in dockerfile, package
    assert "app.py" in dockerfile


def test_secrets_are_not_committed() -> None:
    ignored = (DOCKER.parent / ".gitignore").read_text(encoding="utf-8")
    assert "docker/.env" in ignored
    assert "config/credentials.yaml" in ignored


def test_the_broker_refuses_anonymous_clients_and_reads_the_users_and_acl() -> None:
    conf = (DOCKER / "mosquitto.conf").read_text(encoding="utf-8").splitlines()
    assert "allow_anonymous false" in conf
    assert "allow_anonymous true" not in conf
    assert "password_file /mosquitto/auth/passwd" in conf
    assert "acl_file /mosquitto/acl/acl" in conf
    assert "./broker:/mosquitto/auth:ro" in _compose()["services"]["mosquitto"]["volumes"]
    # The password file and the site's ACL stay out of git.
    assert "docker/broker/" in (DOCKER.parent / ".gitignore").read_text(encoding="utf-8")


def test_the_shipped_acl_is_what_bem_broker_acl_writes_for_no_stations() -> None:
    from mqtt_node.broker_auth import render_acl

    text, warnings = render_acl("bem", ["bem-node"], {})
    assert (DOCKER / "mosquitto.acl").read_text(encoding="utf-8") == text
    assert warnings == []
