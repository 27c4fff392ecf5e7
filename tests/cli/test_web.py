"""`bem web`: gunicorn by default, the development server only with --dev, and its
debugger only on a loopback address."""

from __future__ import annotations

from typing import Any

import pytest

from cli import main
from cli import web as web_cli
from config import default_settings


@pytest.fixture
def site(monkeypatch: pytest.MonkeyPatch, sqlite_url: str, tmp_path) -> None:
    """A SQLite database and no credentials file, whatever the environment says."""
    for name in ("BEM_WEB_DEBUG", "BEM_WEB_WORKERS", "BEM_WEB_THREADS", "BEM_WEB_HOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BEM_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("BEM_CREDENTIALS_FILE", str(tmp_path / "none.yaml"))
    (tmp_path / "none.yaml").write_text("{}\n")


@pytest.fixture
def gunicorn_runs(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The options `bem web` hands gunicorn, instead of starting it."""
    runs: list[dict[str, Any]] = []
    monkeypatch.setattr(web_cli, "serve_with_gunicorn", lambda _settings, o: runs.append(o))
    return runs


@pytest.fixture
def dev_server_runs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    runs: list[tuple[str, int]] = []
    monkeypatch.setattr(web_cli, "serve", lambda _s, _store, host, port: runs.append((host, port)))
    return runs


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def test_bem_web_serves_with_gunicorn_workers_from_the_settings(
    site, gunicorn_runs, dev_server_runs, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("BEM_WEB_WORKERS", "3")
    status, out, _err = run(capsys, "web", "--port", "8123")
    assert status == 0 and dev_server_runs == []
    (options,) = gunicorn_runs
    assert options["workers"] == 3
    assert options["threads"] == default_settings().web.threads
    assert options["bind"] == "127.0.0.1:8123"
    assert options["preload_app"] is False  # each worker opens its own connections
    assert "3 workers" in out


def test_the_options_override_the_settings(site, gunicorn_runs, capsys) -> None:
    run(capsys, "web", "--workers", "2", "--threads", "1", "--host", "::1")
    (options,) = gunicorn_runs
    assert (options["workers"], options["threads"], options["bind"]) == (2, 1, "[::1]:8050")


def test_the_access_log_is_off_unless_asked_and_names_the_worker(
    site, gunicorn_runs, capsys
) -> None:
    run(capsys, "web")
    run(capsys, "web", "--access-log")
    quiet, logged = gunicorn_runs
    assert "accesslog" not in quiet
    assert logged["accesslog"] == "-" and "%(p)s" in logged["access_log_format"]


@pytest.mark.parametrize("count", ["0", "-2"])
def test_a_worker_count_below_one_is_refused(site, gunicorn_runs, capsys, count) -> None:
    status, _out, err = run(capsys, "web", "--workers", count)
    assert status == 1 and gunicorn_runs == []
    assert "--workers" in err and err.count("\n") == 1


def test_web_debug_is_ignored_by_gunicorn_with_a_note(
    site, gunicorn_runs, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("BEM_WEB_DEBUG", "true")
    status, _out, err = run(capsys, "web", "--workers", "2")
    assert status == 0
    assert "web.debug is ignored" in err
    assert not any("debug" in key for key in gunicorn_runs[0])


def test_dev_serves_with_the_development_server(site, gunicorn_runs, dev_server_runs, capsys):
    status, _out, _err = run(capsys, "web", "--dev", "--port", "8124")
    assert status == 0 and gunicorn_runs == []
    assert dev_server_runs == [("127.0.0.1", 8124)]


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::", "lab-server"])
def test_the_debugger_is_refused_on_a_host_others_can_reach(
    site, dev_server_runs, monkeypatch, capsys, host
) -> None:
    monkeypatch.setenv("BEM_WEB_DEBUG", "true")
    status, out, err = run(capsys, "web", "--dev", "--host", host)
    assert status == 1 and dev_server_runs == [] and out == ""
    assert err.count("\n") == 1 and "web.debug" in err and repr(host) in err


def test_the_development_server_refuses_the_debugger_on_its_own(monkeypatch) -> None:
    # `bem demo` calls serve() directly: the guard is there too, before the app is built.
    settings = default_settings().replace(web={"debug": True})
    monkeypatch.setattr(web_cli.bootstrap, "web_app", lambda *_: pytest.fail("app was built"))
    with pytest.raises(web_cli.bootstrap.StartupError, match="web.debug"):
        web_cli.serve(settings, None, "0.0.0.0", 8050)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.0.0.2", True), ("::1", True), ("localhost", True),
     ("0.0.0.0", False), ("::", False), ("10.0.0.5", False), ("lab-server", False)],
)  # fmt: skip
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert web_cli.is_loopback(host) is loopback
