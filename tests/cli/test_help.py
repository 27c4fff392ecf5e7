"""Every `bem` command and action explains itself with --help."""

from __future__ import annotations

import argparse

import pytest

from cli import build_parser, main


def _commands() -> list[list[str]]:
    """Every command path: ["web"], ["db", "upgrade"], ["experiment", "export"], ..."""
    paths: list[list[str]] = []

    def walk(parser: argparse.ArgumentParser, prefix: list[str]) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    paths.append([*prefix, name])
                    walk(child, [*prefix, name])

    walk(build_parser(), [])
    return paths


def test_the_documented_commands_exist() -> None:
    commands = {" ".join(path) for path in _commands()}
    assert {
        "web", "node", "simulate", "demo", "db upgrade", "db status", "bench",
        "battery add", "battery list", "station add", "station list", "station deprecate",
        "station remove",
        "profile check", "profile add", "profile list", "profile show",
        "experiment add", "experiment list", "experiment cancel", "experiment stop",
        "experiment pause", "experiment resume", "experiment export", "experiment import",
    } <= commands  # fmt: skip


@pytest.mark.parametrize("path", _commands(), ids=" ".join)
def test_help_exits_cleanly_with_a_description(path: list[str], capsys) -> None:
    with pytest.raises(SystemExit) as stopped:
        main([*path, "--help"])
    assert stopped.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: bem {' '.join(path)}")
    assert len(out.splitlines()) > 3


def test_no_command_is_a_usage_error(capsys) -> None:
    with pytest.raises(SystemExit) as stopped:
        main([])
    assert stopped.value.code == 2
    assert "usage: bem" in capsys.readouterr().err
