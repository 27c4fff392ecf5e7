"""The page shown for an unknown address."""

import dash
import dash_bootstrap_components as dbc
from dash import html

from components.urls import OVERVIEW_URL

dash.register_page(__name__, path="/404")


class ids:
    """The ids of this page's components, each written once."""

    MESSAGE = "not-found-message"


def layout(**_params: str) -> html.Div:
    return html.Div(
        [
            html.H2("Page not found"),
            dbc.Alert(
                [
                    "There is no page at this address. ",
                    html.A("Back to the overview", href=OVERVIEW_URL),
                ],
                color="warning",
                id=ids.MESSAGE,
            ),
        ]
    )
