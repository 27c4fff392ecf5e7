"""The permission table (components/permissions.py) covers every callback that writes.

A callback "writes" when its function reaches a datastore function that changes data
(create_, edit_, save_, cancel_, request_, queue_experiment... by name), directly or through the
project's helpers, or starts or cancels an import. Every such callback must need at
least an operator; a new one missing from the table fails here, before anyone can use
it without the right role.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import types
from collections.abc import Iterator

import pytest

import datastore
from components import permissions
from components.permissions import CALLBACK_ROLES, output_names, required_role
from domain.accounts import Role

PROJECT = ("pages", "components", "datastore", "domain")
WRITE_PREFIXES = (
    "create_", "edit_", "save_", "cancel_", "request_", "remove_", "deprecate_",
    "add_", "set_", "move_", "mark_", "finish_", "write_", "insert_", "delete_", "update_",
)  # fmt: skip
# Writers whose verb alone would also match readers (`queue_summaries` reads).
WRITE_NAMES = {"queue_experiment"}
# The import runner's methods, reached on the object `runner()` returns.
RUNNER_WRITES = {"start", "cancel"}


def datastore_writers() -> set[str]:
    names = set()
    for module_info in pkgutil.walk_packages(datastore.__path__, "datastore."):
        if ".migrations" in module_info.name:
            continue
        module = importlib.import_module(module_info.name)
        for name, value in vars(module).items():
            if (
                inspect.isfunction(value)
                and value.__module__ == module.__name__
                and (name.startswith(WRITE_PREFIXES) or name in WRITE_NAMES)
            ):
                names.add(name)
    return names


def _codes(code: types.CodeType) -> Iterator[types.CodeType]:
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _codes(const)


def reached_names(function: types.FunctionType, seen: set[object] | None = None) -> set[str]:
    """Every global and attribute name `function` uses, following the project's functions
    and the functions of the project's modules it names (`catalog.create_battery`)."""
    seen = set() if seen is None else seen
    if function in seen:
        return set()
    seen.add(function)
    names: set[str] = set()
    for code in _codes(function.__code__):
        names.update(code.co_names)
    for name in list(names):
        value = function.__globals__.get(name)
        targets = []
        if inspect.isfunction(value):
            targets.append(value)
        elif inspect.ismodule(value) and value.__name__.startswith(PROJECT):
            targets.extend(
                getattr(value, attr)
                for attr in names
                if inspect.isfunction(getattr(value, attr, None))
            )
        for target in targets:
            if target.__module__.startswith(PROJECT):
                names |= reached_names(target, seen)
    return names


def writes(function: types.FunctionType, writers: set[str]) -> bool:
    names = reached_names(function)
    return bool(names & writers) or ("runner" in names and bool(names & RUNNER_WRITES))


@pytest.fixture
def callbacks(app_factory) -> dict[str, types.FunctionType]:
    """Every server callback of the app: its output key -> its function."""
    app = app_factory()
    assert app.server.test_client().get("/").status_code == 200  # registers the pages'
    found = {}
    for key, spec in app.callback_map.items():
        function = inspect.unwrap(spec["callback"]) if spec.get("callback") else None
        if inspect.isfunction(function) and function.__module__.startswith("pages"):
            found[key] = function
    return found


def test_the_write_detection_tells_writers_from_readers(callbacks) -> None:
    writers = datastore_writers()
    by_name = {f"{f.__module__}.{f.__qualname__}": f for f in callbacks.values()}
    for name in (
        "pages.monitor.page.send_command",
        "pages.stations.page.confirmed",
        "pages.experiment_import.page.cancel_import",
        "pages.experiments.page.cancel_queued",
    ):
        assert writes(by_name[name], writers), name
    for name in ("pages.overview.refresh_cards", "pages.monitor.page.refresh_monitor"):
        assert not writes(by_name[name], writers), name


def test_every_callback_that_writes_needs_an_operator_at_least(callbacks) -> None:
    writers = datastore_writers()
    unguarded = [
        f"{function.__module__}.{function.__qualname__}"
        for key, function in callbacks.items()
        if writes(function, writers) and required_role(output_names(key)) is Role.VIEWER
    ]
    assert not unguarded, (
        f"callbacks that write but any viewer may run: {unguarded}; "
        "add one of their outputs to components/permissions.CALLBACK_ROLES"
    )


def test_every_entry_of_the_table_names_a_callback_output(callbacks) -> None:
    outputs = {name for key in callbacks for name in output_names(key)}
    stale = sorted(set(CALLBACK_ROLES) - outputs)
    assert not stale, f"permission entries naming no callback output: {stale}"


def test_the_table_gives_the_roles_of_the_issue(callbacks) -> None:
    by_name = {f"{f.__module__}.{f.__qualname__}": key for key, f in callbacks.items()}

    def role(name: str) -> Role:
        return required_role(output_names(by_name[name]))

    assert role("pages.monitor.page.send_command") is Role.OPERATOR
    assert role("pages.experiments.page.cancel_queued") is Role.OPERATOR
    assert role("pages.experiment_import.page.start_import") is Role.OPERATOR
    assert role("pages.stations.page.confirmed") is Role.ADMIN
    assert role("pages.stations.page.save") is Role.ADMIN
    for users in ("add", "change", "show_users"):
        assert role(f"pages.users.page.{users}") is Role.ADMIN, users
    # Reading stays open to viewers, on the same pages as the actions.
    assert role("pages.monitor.page.refresh_monitor") is Role.VIEWER
    assert role("pages.stations.page.show_deprecated") is Role.VIEWER
    assert role("pages.experiment_import.page.follow_job") is Role.VIEWER


def test_output_names_read_dash_output_keys() -> None:
    assert output_names("monitor-queue.children") == ["monitor-queue.children"]
    assert output_names("..a.b...c-d.value@1f2e..") == ["a.b", "c-d.value"]
    assert output_names('{"index":["ALL"],"type":"stations-edit"}.n_clicks') == [
        "stations-edit.n_clicks"
    ]


def test_the_stations_board_queue_button_is_hidden_from_viewers() -> None:
    """The board's "Queue…" link leads to a form only an operator may submit: a viewer
    does not see it, an operator does."""
    from datastore.stations import StationRow
    from pages.stations.board import _actions

    station = StationRow(
        id=3, name="ch3", location="", voltage_min=0, voltage_max=5, current_min=-1,
        current_max=1, last_heartbeat=None, reported_state=None, deprecated=False,
        current=None, queued=0, experiments=1,
    )  # fmt: skip
    queue = next(b for b in _actions(station) if b.children == "Queue…")
    classes = set(queue.className.split())
    operator_only = permissions.hidden_controls_css(Role.VIEWER)
    assert any(f".{name}" in operator_only for name in classes)
    assert not any(f".{name}" in permissions.hidden_controls_css(Role.OPERATOR) for name in classes)
