"""The systemd units of docker/systemd/ are valid, and run what the containers run."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

SYSTEMD = Path(__file__).resolve().parents[2] / "docker" / "systemd"
UNITS = sorted(SYSTEMD.glob("*.service"))
INSTALLED_BEM = "/opt/bem/bin/bem"


def _exec_start(unit: Path) -> list[str]:
    (line,) = [line for line in unit.read_text().splitlines() if line.startswith("ExecStart=")]
    return shlex.split(line.removeprefix("ExecStart="))


def test_there_are_units_for_migrations_web_and_node() -> None:
    assert {unit.name for unit in UNITS} == {
        "bem-migrate.service",
        "bem-web.service",
        "bem-node.service",
    }


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze is not installed (apt-get install systemd)",
)
def test_the_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    # verify checks that ExecStart's program exists: point it at this environment's bem.
    bem = Path(sys.executable).parent / "bem"
    assert bem.is_file()
    copies = []
    for unit in UNITS:
        copy = tmp_path / unit.name
        copy.write_text(unit.read_text().replace(INSTALLED_BEM, str(bem)))
        copies.append(str(copy))
    result = subprocess.run(
        ["systemd-analyze", "verify", *copies], capture_output=True, text=True, timeout=60
    )
    # A misspelt key or a bad value is only a warning (exit 0): any output is a failure.
    assert result.returncode == 0, result.stderr
    assert result.stdout + result.stderr == ""


def test_the_units_run_the_commands_of_the_containers() -> None:
    compose = yaml.safe_load((SYSTEMD.parent / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    units = {unit.stem.removeprefix("bem-"): _exec_start(unit) for unit in UNITS}
    for name in ("migrate", "web"):
        assert units[name] == [INSTALLED_BEM, *services[name]["command"][1:]], name
    node = units["node"]
    assert node[:2] == [INSTALLED_BEM, "node"] and "--health-file" in node


def test_web_and_node_start_after_the_migrations() -> None:
    for name in ("bem-web.service", "bem-node.service"):
        text = (SYSTEMD / name).read_text()
        assert "Requires=bem-migrate.service" in text
        assert "bem-migrate.service" in next(
            line for line in text.splitlines() if line.startswith("After=")
        )
