"""The app shell: navigation bar, page container and the global error notice."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

# (label, path) of every page in the navigation bar, in order.
NAV_LINKS = (
    ("Overview", "/"),
    ("Monitor", "/monitor"),
    ("Experiments", "/experiments"),
    ("New experiment", "/experiments/new"),
    ("Import", "/experiments/import"),
    ("Batteries", "/batteries"),
    ("Profiles", "/profiles"),
    ("Stations", "/stations"),
)

ERROR_TOAST_ID = "app-error-toast"


def navbar() -> dbc.Navbar:
    links = [
        dbc.NavItem(
            dbc.NavLink(
                label,
                href=path,
                active="exact",
                id=f"nav-{path.strip('/').replace('/', '-') or 'overview'}",
            )
        )
        for label, path in NAV_LINKS
    ]
    return dbc.Navbar(
        dbc.Container(
            [
                dbc.NavbarBrand(
                    [
                        html.I(className="bi bi-battery-charging me-2"),
                        "Battery Experiments Manager",
                    ],
                    href="/",
                ),
                dbc.NavbarToggler(id="navbar-toggler"),
                dbc.Collapse(
                    dbc.Nav(links, navbar=True, className="ms-auto"),
                    id="navbar-collapse",
                    navbar=True,
                ),
            ],
            fluid=True,
        ),
        color="dark",
        dark=True,
        className="mb-3",
    )


def error_toast() -> dbc.Toast:
    """Shown when a callback fails: a plain sentence, never a traceback."""
    return dbc.Toast(
        id=ERROR_TOAST_ID,
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
            dcc.Location(id="app-location"),
            navbar(),
            error_toast(),
            dbc.Container(dash.page_container, fluid=True, className="pb-4"),
        ]
    )
