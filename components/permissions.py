"""Who may do what: the one table the server checks every request against.

A Dash callback is named by its outputs (`"..a.children...b.value.."`, the key the
browser sends in `/_dash-update-component`). `CALLBACK_ROLES` gives the role needed to
run any callback that writes one of these outputs ("component-id.property"); every
other callback only reads and needs a viewer. Outputs are chosen that only the writing
callback has, so a read on the same page stays open to viewers.
tests/web/test_permissions.py walks every registered callback: one that reaches a
datastore write and is missing here fails it, as does an entry naming no callback.

`ROUTE_ROLES` does the same for the Flask routes, by endpoint name; `CONTROLS` lists
the buttons and links the page hides from a role that may not use them (a courtesy:
the server check is what counts).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from domain.accounts import Role

CALLBACK_ROLES: Mapping[str, Role] = {
    # Monitor: pause, resume and stop (pages/monitor/page.py send_command).
    "monitor-command-feedback.children": Role.OPERATOR,
    # Experiments list: cancel queued experiments.
    "experiments-cancel-list.children": Role.OPERATOR,
    # Batteries: create and edit.
    "battery-new-error.children": Role.OPERATOR,
    "battery-edit-error.children": Role.OPERATOR,
    # Profiles: create and edit (the editor's Save).
    "profile-editor-form-error.children": Role.OPERATOR,
    # New experiment: save the written profile, queue the experiment.
    "new-experiment-save-feedback.children": Role.OPERATOR,
    "new-experiment-form-error.children": Role.OPERATOR,
    # Import: start and cancel.
    "import-start-message.children": Role.OPERATOR,
    "import-cancel.children": Role.OPERATOR,
    # Stations: open the form, create and edit; deprecate and remove.
    "stations-form-error.children": Role.ADMIN,
    "stations-confirm-action.data": Role.ADMIN,
    "stations-message.children": Role.ADMIN,
    # Users (pages/users/page.py): add, change, and the list itself (names and roles are
    # for admins' eyes only).
    "users-add-message.children": Role.ADMIN,
    "users-change-message.children": Role.ADMIN,
    "users-table.children": Role.ADMIN,
}

# Flask endpoints (components/routes.py) that change something; the others read.
ROUTE_ROLES: Mapping[str, Role] = {
    "import_upload": Role.OPERATOR,
}

# CSS selectors of the controls each role needs, hidden from the roles below it.
CONTROLS: Mapping[Role, tuple[str, ...]] = {
    Role.OPERATOR: (
        "#monitor-pause",
        "#monitor-resume",
        "#monitor-stop",
        "#experiments-cancel",
        "#batteries-new",
        "#battery-new-experiment",
        "#battery-edit-save",
        "#battery-new-save",
        "#profiles-new",
        "#profile-edit",
        "#profile-editor-save",
        "#new-experiment-save-profile",
        "#new-experiment-submit",
        "#import-start",
        "#import-cancel",
        "#nav-experiments-new",
        "#nav-experiments-import",
        ".stations-queue",
    ),
    Role.ADMIN: (
        "#stations-new",
        '[id*=\'"type":"stations-edit"\']',
        '[id*=\'"type":"stations-deprecate"\']',
        '[id*=\'"type":"stations-remove"\']',
        "#nav-users",
    ),
}


def output_names(output_key: str) -> list[str]:
    """The "component-id.property" names in a callback's output key: "a.b" for one output,
    "..a.b...c.d.." for several; a duplicate output's "@hash" is dropped, a pattern id
    ('{"index":["ALL"],"type":"x"}.prop') is named by its type ("x.prop")."""
    key = output_key
    several = key.startswith("..") and key.endswith("..")
    parts = key[2:-2].split("...") if several else [key]
    names = []
    for part in parts:
        component, _dot, prop = part.rpartition(".")
        prop = prop.split("@", 1)[0]
        if component.startswith("{"):
            component = _pattern_type(component)
        names.append(f"{component}.{prop}")
    return names


def _pattern_type(text: str) -> str:
    try:
        identity: Any = json.loads(text)
    except ValueError:
        return text
    return str(identity.get("type", text)) if isinstance(identity, dict) else text


def required_role(output_names: Iterable[str]) -> Role:
    """The role a callback writing these outputs needs: the highest any of them asks."""
    needed = Role.VIEWER
    for name in output_names:
        role = CALLBACK_ROLES.get(name)
        if role is not None and role.rank > needed.rank:
            needed = role
    return needed


def route_role(endpoint: str | None) -> Role:
    return ROUTE_ROLES.get(endpoint or "", Role.VIEWER)


def hidden_controls_css(role: Role | None) -> str:
    """A style sheet hiding the controls `role` may not use (None: sign-in off, all shown)."""
    if role is None:
        return ""
    selectors = [
        selector
        for needed, controls in CONTROLS.items()
        if not role.allows(needed)
        for selector in controls
    ]
    if not selectors:
        return ""
    return ",\n".join(selectors) + " { display: none !important; }\n"
