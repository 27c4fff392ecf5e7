"""The page shown for an unknown address."""

import dash
import dash_bootstrap_components as dbc
from dash import html

dash.register_page(__name__, path="/404")


def layout(**_params: str) -> html.Div:
    return html.Div(
        [
            html.H2("Page not found"),
            dbc.Alert(
                ["There is no page at this address. ", html.A("Back to the overview", href="/")],
                color="warning",
            ),
        ]
    )
