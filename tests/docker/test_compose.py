"""The deployment files hang together (no Docker engine is needed to check this)."""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path

import pytest
import yaml

from config import environment_variables, load_settings

DOCKER = Path(__file__).resolve().parents[2] / "docker"


def _compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text(encoding="utf-8"))


def _example_env() -> dict[str, str]:
    """The variables docker/example.env sets (uncommented lines)."""
    lines = (DOCKER / "example.env").read_text(encoding="utf-8").splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


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
    # The example leaves the passwords empty: an operator fills them in.
    filled = _example_env() | {"BEM_DB_PASSWORD": "pw", "BEM_MQTT_PASSWORD": "pw"}
    filled["BEM_SECRET_KEY"] = "k" * 64

    def substitute(value: str) -> str:
        pattern = r"\$\{(\w+)(?::-([^}]*)|:\?[^}]*)?\}"
        return re.sub(pattern, lambda m: filled.get(m.group(1)) or (m.group(2) or ""), value)

    resolved = {key: substitute(str(value)) for key, value in environment.items()}
    settings = load_settings(resolved)
    assert settings.database.resolved_url == "mysql+pymysql://bem:pw@mariadb:3306/bem"
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


# ---------------------------------------------------------------- the compose file's references

ROOT = DOCKER.parent
# Files the operator makes at install (docs/deployment.md says how); git ignores them.
MADE_AT_INSTALL = {DOCKER / ".env", DOCKER / "broker"}


def _bind_sources(service: dict) -> list[str]:
    sources = []
    for volume in service.get("volumes", []):
        source = volume["source"] if isinstance(volume, dict) else volume.split(":", 1)[0]
        if source.startswith((".", "/")):
            sources.append(source)
    return sources


def test_the_compose_file_references_only_files_that_exist() -> None:
    compose = _compose()
    named_volumes = set(compose["volumes"])
    for name, service in compose["services"].items():
        build = service.get("build")
        if build:
            context = (DOCKER / build["context"]).resolve()
            assert context.is_dir(), f"{name}: build context {context}"
            assert (context / build["dockerfile"]).is_file(), f"{name}: dockerfile"
            assert (context / ".dockerignore").is_file(), f"{name}: no .dockerignore in the context"
        for source in _bind_sources(service):
            path = (DOCKER / source).resolve()
            assert path.exists() or path in MADE_AT_INSTALL, f"{name}: mounts missing {source}"
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if not source.startswith((".", "/")):
                assert source in named_volumes, f"{name}: volume {source} is not declared"
        for env_file in service.get("env_file", []):
            path = (DOCKER / env_file).resolve()
            assert path in MADE_AT_INSTALL, f"{name}: env_file {env_file}"
            assert (DOCKER / "example.env").is_file()
    deployment = (ROOT / "docs" / "deployment.md").read_text(encoding="utf-8")
    for made in MADE_AT_INSTALL:
        assert str(made.relative_to(ROOT)) in deployment, f"docs do not say how to make {made}"
        assert str(made.relative_to(ROOT)) in (ROOT / ".gitignore").read_text(encoding="utf-8")


def test_every_long_running_service_has_a_healthcheck_and_starts_in_order() -> None:
    services = _compose()["services"]
    for name in ("mariadb", "mosquitto", "web", "node"):
        assert services[name]["healthcheck"]["test"], name
    assert services["node"]["depends_on"]["mosquitto"]["condition"] == "service_healthy"
    assert "--health-file" in services["node"]["command"]
    health_file = services["node"]["command"][
        services["node"]["command"].index("--health-file") + 1
    ]
    assert services["node"]["healthcheck"]["test"][1:] == [
        "bem", "node", "check", "--health-file", health_file,
    ]  # fmt: skip
    assert "/health" in " ".join(services["web"]["healthcheck"]["test"])
    assert "migrate" not in [
        dependency for service in services.values() for dependency in service.get("depends_on", {})
        if service.get("depends_on", {})[dependency]["condition"] != "service_completed_successfully"
    ]  # fmt: skip


def test_the_database_and_the_broker_keep_their_data_in_named_volumes() -> None:
    compose = _compose()
    volumes = {name: compose["services"][name]["volumes"] for name in ("mariadb", "mosquitto")}
    assert "mariadb-data:/var/lib/mysql" in volumes["mariadb"]
    assert "mosquitto-data:/mosquitto/data" in volumes["mosquitto"]
    assert {"mariadb-data", "mosquitto-data"} <= set(compose["volumes"])


def test_no_password_or_key_has_a_default() -> None:
    text = (DOCKER / "compose.yaml").read_text(encoding="utf-8")
    secret = re.compile(r"PASSWORD|SECRET", re.IGNORECASE)
    for match in re.finditer(r"\$\{(\w+)([^}]*)\}", text):
        name, rest = match.groups()
        if secret.search(name):
            assert rest.startswith(":?"), f"{name} must be required, not defaulted ({rest})"
    assert "MARIADB_ROOT_PASSWORD" not in text
    for name, value in _example_env().items():
        if secret.search(name):
            assert value == "", f"example.env gives {name} a value"


def test_ports_and_the_topic_prefix_come_from_the_env_file() -> None:
    compose = _compose()
    example = _example_env()
    web_port = compose["services"]["web"]["ports"][0]
    broker_port = compose["services"]["mosquitto"]["ports"][0]
    assert "${BEM_WEB_PUBLIC_PORT" in web_port and "BEM_WEB_PUBLIC_PORT" in example
    assert "${BEM_MQTT_PUBLIC_PORT" in broker_port and "BEM_MQTT_PUBLIC_PORT" in example
    environment = compose["x-bem-environment"]
    assert environment["BEM_MQTT_TOPIC_PREFIX"].startswith("${BEM_MQTT_TOPIC_PREFIX")


# ---------------------------------------------------------------- settings and the env file


def _declared_in_example() -> set[str]:
    """Variables example.env sets or shows commented out (`# NAME=` or `# NAME:`)."""
    text = (DOCKER / "example.env").read_text(encoding="utf-8")
    return set(re.findall(r"^#? ?(BEM_\w+)[=:]", text, re.MULTILINE))


def test_every_variable_the_app_reads_is_declared_in_example_env() -> None:
    missing = set(environment_variables()) - _declared_in_example()
    assert not missing, f"not in docker/example.env: {sorted(missing)}"


def test_every_variable_the_app_reads_is_documented() -> None:
    deployment = (ROOT / "docs" / "deployment.md").read_text(encoding="utf-8")
    undocumented = [
        name
        for name, setting in environment_variables().items()
        if name not in deployment and f"`{setting}`" not in deployment
    ]
    assert not undocumented, f"not in docs/deployment.md: {undocumented}"


def test_example_env_declares_nothing_the_app_or_compose_does_not_read() -> None:
    compose_text = (DOCKER / "compose.yaml").read_text(encoding="utf-8")
    known = set(environment_variables()) | set(re.findall(r"\$\{(\w+)", compose_text))
    assert _declared_in_example() <= known, _declared_in_example() - known


# ---------------------------------------------------------------- the image


def _dockerignore_patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _ignored(path: str, patterns: list[str]) -> bool:
    """Whether Docker leaves `path` out of the build context (the subset of its pattern
    language the file uses: globs, a trailing slash, a leading **/)."""
    parts = path.split("/")
    # The path and each folder it lies in, from the context root; for **/, from anywhere.
    heads = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    spans = ["/".join(parts[i : j + 1]) for i in range(len(parts)) for j in range(i, len(parts))]
    for pattern in patterns:
        bare = pattern.rstrip("/")
        if bare.startswith("**/"):
            if any(fnmatch.fnmatchcase(span, bare[3:]) for span in spans):
                return True
        elif any(fnmatch.fnmatchcase(head, bare) for head in heads):
            return True
    return False


@pytest.mark.parametrize(
    "path",
    [
        "config/credentials.yaml",
        "docker/.env",
        "docker/broker/passwd",
        "docker/broker/acl",
        "instance/bem.sqlite3",
        "instance/secret_key",
        "instance/uploads/run.csv",
        ".venv/bin/python",
        ".git/config",
        "domain/__pycache__/status.cpython-311.pyc",
        ".mypy_cache/3.11/x.json",
        ".pytest_cache/v/cache",
    ],
)
def test_the_build_context_leaves_out_credentials_instance_data_and_caches(path: str) -> None:
    assert _ignored(path, _dockerignore_patterns())


@pytest.mark.parametrize("path", ["domain/status.py", "config/defaults.yaml", "pyproject.toml"])
def test_the_build_context_keeps_the_sources(path: str) -> None:
    assert not _ignored(path, _dockerignore_patterns())


def test_the_image_serves_with_gunicorn_and_never_the_debugger() -> None:
    dockerfile = (DOCKER / "Dockerfile").read_text(encoding="utf-8")
    (cmd,) = [line for line in dockerfile.splitlines() if line.startswith("CMD ")]
    command = json.loads(cmd[4:])
    assert command[:2] == ["bem", "web"] and "--dev" not in command
    assert "BEM_WEB_DEBUG=false" in dockerfile
    web = _compose()["services"]["web"]["command"]
    assert web[:2] == ["bem", "web"] and "--dev" not in web
    for path in DOCKER.rglob("*"):
        if path.is_file():
            assert "--dev" not in path.read_text(encoding="utf-8"), path
