"""New experiment: battery, station, compatible profile, name and description."""

import dash

from components.placeholder import coming_soon

dash.register_page(__name__, path="/experiments/new", name="New experiment", order=3)


def layout(**_params: str) -> object:
    return coming_soon(
        "New experiment",
        "Until this form lands, queue experiments with `bem experiment add`.",
    )
