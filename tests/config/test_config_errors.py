"""Configuration errors: one sentence, exit status 2, and never a password or a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from config import ConfigError, load_settings, mask_url
from datastore.engine import make_engine

PASSWORD = "s3cret-Pa55"
ROOT = Path(__file__).resolve().parents[2]


def bem_process(tmp_path: Path, **environ: str) -> subprocess.CompletedProcess[str]:
    """`bem db upgrade` in a child process, exactly as an operator runs it."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("BEM_")},
        "BEM_DATABASE_INSTANCE_DIR": str(tmp_path),
        **environ,
    }
    return subprocess.run(
        [sys.executable, "-m", "cli", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "url",
    [
        f"postgres://bem:{PASSWORD}@db.lab/bem",  # a scheme we do not use
        f"mysql+pymysql://bem:{PASSWORD}@db.lab:abc/bem",  # a port that is not a number
        f"mysql+pymysql://bem:{PASSWORD}@db.lab:99999999/bem",  # a port out of range
        f"mysql+nodriver://bem:{PASSWORD}@db.lab/bem",  # a driver that is not installed
        f"mysql+pymysql:/bem:{PASSWORD}@db.lab/bem",  # one slash
    ],
)
def test_a_malformed_database_url_is_one_masked_sentence_and_status_2(
    tmp_path: Path, url: str
) -> None:
    result = bem_process(tmp_path, BEM_DATABASE_URL=url)
    assert result.returncode == 2, result.stderr
    assert PASSWORD not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("bem db: database.url")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "***" in result.stderr


def test_bad_yaml_in_the_credentials_file_is_one_sentence_without_its_text(
    tmp_path: Path,
) -> None:
    credentials = tmp_path / "credentials.yaml"
    credentials.write_text(f'database:\n  url: "mysql+pymysql://bem:{PASSWORD}@db/bem\n  x: [\n')
    result = bem_process(tmp_path, BEM_CREDENTIALS_FILE=str(credentials))
    assert result.returncode == 2
    assert PASSWORD not in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() == f"bem db: {credentials} line 4: not valid YAML"


def test_secret_values_are_never_repeated_in_a_config_error() -> None:
    with pytest.raises(ConfigError) as error:
        load_settings({"BEM_DATABASE_URL": f"oracle://u:{PASSWORD}@h/x"}, read_credentials=False)
    assert PASSWORD not in str(error.value)
    assert "oracle://u:***@h/x" in str(error.value)


def test_make_engine_refuses_a_malformed_url_with_the_password_masked() -> None:
    with pytest.raises(ConfigError) as error:
        make_engine(f"mysql+pymysql://bem:{PASSWORD}@db:port/bem")
    assert PASSWORD not in str(error.value)


def test_mask_url_hides_only_the_password() -> None:
    assert mask_url("mysql+pymysql://bem:pw@db:3306/bem") == "mysql+pymysql://bem:***@db:3306/bem"
    assert mask_url("mysql+pymysql://a:b:c@d@h/x") == "mysql+pymysql://a:***@h/x"
    assert mask_url("mysql+pymysql://bem@db/bem") == "mysql+pymysql://bem@db/bem"
    assert mask_url("sqlite:///instance/bem.sqlite3") == "sqlite:///instance/bem.sqlite3"
