"""Overview: the state of every station at a glance."""

import dash

from components.placeholder import coming_soon

dash.register_page(__name__, path="/", name="Overview", order=0)


def layout(**_params: str) -> object:
    return coming_soon(
        "Overview",
        "Live cards for every station (running, idle, offline) arrive with the live monitor.",
    )
