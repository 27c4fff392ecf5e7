"""The app shell: navigation bar, page container and the global error notice.

The navigation bar lists the registered pages (`dash.page_registry`) in their `order`,
each under its `name`: a new page appears there by registering itself. Left out are the
not-found page, pages whose address needs a value (`/experiments/<id>`), and pages
registered with `nav=False`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, dcc, html

from components import auth
from components.urls import OVERVIEW_URL


class ids:
    """The ids of the shell's components, each written once."""

    LOCATION = "app-location"
    NAVBAR_TOGGLER = "navbar-toggler"
    NAVBAR_COLLAPSE = "navbar-collapse"
    ERROR_TOAST = "app-error-toast"

    @staticmethod
    def nav_link(path: str) -> str:
        """`nav-overview` for "/", `nav-experiments-new` for "/experiments/new"."""
        return f"nav-{path.strip('/').replace('/', '-') or 'overview'}"


# Dash shows the page of this module for unknown addresses.
NOT_FOUND_MODULE = "not_found_404"


def nav_entries(
    registry: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[tuple[str, str]]:
    """(label, path) of each page in the navigation bar, in order."""
    pages: Iterable[Mapping[str, Any]] = (registry or dash.page_registry).values()
    shown = [page for page in pages if _in_navbar(page)]
    shown.sort(key=lambda page: (page.get("order") is None, page.get("order") or 0, page["name"]))
    return [(page["name"], page["path"]) for page in shown]


def _in_navbar(page: Mapping[str, Any]) -> bool:
    if not page.get("nav", True) or page["module"].split(".")[-1] == NOT_FOUND_MODULE:
        return False
    template = page.get("path_template")
    # Without a path of its own, Dash fills the template's variables with "none".
    return not template or page["path"] != re.sub("<.*?>", "none", template)


def navbar() -> dbc.Navbar:
    links = [
        dbc.NavItem(dbc.NavLink(label, href=path, active="exact", id=ids.nav_link(path)))
        for label, path in nav_entries()
    ]
    return dbc.Navbar(
        dbc.Container(
            [
                dbc.NavbarBrand(
                    [
                        html.I(className="bi bi-battery-charging me-2"),
                        "Battery Experiments Manager",
                    ],
                    href=OVERVIEW_URL,
                ),
                dbc.NavbarToggler(id=ids.NAVBAR_TOGGLER),
                dbc.Collapse(
                    [dbc.Nav(links, navbar=True, className="ms-auto"), auth.header()],
                    id=ids.NAVBAR_COLLAPSE,
                    navbar=True,
                ),
            ],
            fluid=True,
        ),
        color="dark",
        dark=True,
        # Below this width the links fold behind the toggler; above it they fit on one line.
        expand="xl",
        className="mb-3",
    )


def error_toast() -> dbc.Toast:
    """Shown when a callback fails: a plain sentence, never a traceback."""
    return dbc.Toast(
        id=ids.ERROR_TOAST,
        header="Something went wrong",
        is_open=False,
        dismissable=True,
        icon="danger",
        duration=12000,
        style={"position": "fixed", "top": 70, "right": 16, "zIndex": 2000, "maxWidth": 420},
    )


def layout() -> html.Div:
    return html.Div(
        [
            dcc.Location(id=ids.LOCATION),
            navbar(),
            error_toast(),
            dbc.Container(dash.page_container, fluid=True, className="pb-4"),
        ]
    )


def register_callbacks(app: dash.Dash) -> None:
    """The shell's own callbacks, bound to `app` (the pages' callbacks register themselves)."""
    # On narrow screens the links fold away behind the toggler: it opens and closes them,
    # and going to another page closes them again.
    app.clientside_callback(
        """
        function(clicks, pathname, isOpen) {
            const trigger = dash_clientside.callback_context.triggered_id;
            return trigger === TOGGLER ? !isOpen : false;
        }
        """.replace("TOGGLER", repr(ids.NAVBAR_TOGGLER)),
        Output(ids.NAVBAR_COLLAPSE, "is_open"),
        Input(ids.NAVBAR_TOGGLER, "n_clicks"),
        Input(ids.LOCATION, "pathname"),
        State(ids.NAVBAR_COLLAPSE, "is_open"),
        prevent_initial_call=True,
    )
