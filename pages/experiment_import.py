"""Import: an experiment run elsewhere, from a CSV file."""

import dash

from components.placeholder import coming_soon

dash.register_page(
    __name__, path="/experiments/import", name="Import", title="Import experiment", order=4
)


def layout(**_params: str) -> object:
    return coming_soon("Import experiment", "CSV import from the browser is on its way.")
