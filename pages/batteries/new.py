"""A new battery, `/batteries/new`: the common fields and those of the chosen technology.

Save checks everything on the server (`form.create`), shows each problem beside its field
and stores nothing until all are fixed; then it opens the new-experiment form with the
new battery chosen, since testing it is what comes next.
"""

from __future__ import annotations

from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, dcc, html, no_update

from components import context
from components.urls import BATTERIES_URL, new_experiment_url
from domain.batteries import TECHNOLOGIES
from pages.batteries import ids
from pages.batteries.form import (
    Outcome,
    all_inputs,
    create,
    details_styles,
    form_fields,
    save_button,
    split_values,
)

dash.register_page(
    __name__,
    path="/batteries/new",
    name="New battery",
    title="New battery",
    nav=False,  # opened from the battery list's "New battery"
    order=980,
)

FORM = ids.NEW_FORM
INPUTS = all_inputs(FORM)


def layout(**_params: str) -> html.Div:
    return html.Div(
        [
            dcc.Link("Batteries", href=BATTERIES_URL, className="text-muted small"),
            html.H2("New battery"),
            html.P(
                "Currents: positive charges, negative discharges. The safe window, cells "
                "and capacity cannot be changed once saved: experiments are checked against "
                "them.",
                className="small text-muted",
            ),
            dbc.Row(
                dbc.Col(
                    [*form_fields(FORM, {"cells": 1}), *save_button(FORM, "Create battery")],
                    lg=8,
                )
            ),
            dcc.Location(id=ids.NAVIGATE, refresh="callback-nav"),
        ]
    )


@callback(
    [Output(ids.details_box(FORM, technology), "style") for technology in TECHNOLOGIES],
    Input(ids.field(FORM, "technology"), "value"),
)
def show_details(technology: str | None) -> list[dict[str, str]]:
    """The chosen technology's own fields, and only those."""
    return details_styles(technology)


class _Refused(Exception):
    """Roll the form's transaction back, keeping the outcome to show."""

    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome


def save_new(values: dict[str, Any], details: dict[tuple[str, str], Any]) -> Outcome:
    """`form.create` in one transaction: committed when saved, rolled back when not."""
    try:
        with context.session() as session:
            outcome = create(session, values, details)
            if not outcome.saved:
                raise _Refused(outcome)
    except _Refused as refused:
        return refused.outcome
    return outcome


@callback(
    *[Output(input_id, "invalid") for input_id in INPUTS],
    *[Output(ids.message(input_id), "children") for input_id in INPUTS],
    Output(ids.form_error(FORM), "children"),
    Output(ids.NAVIGATE, "href"),
    Input(ids.save(FORM), "n_clicks"),
    *[State(input_id, "value") for input_id in INPUTS],
    prevent_initial_call=True,
)
def save(_clicks: int | None, *state: Any) -> tuple:
    """Create the battery and open the new-experiment form for it, or say beside each
    field what is wrong."""
    outcome = save_new(*split_values(FORM, list(state)))
    invalid = [input_id in outcome.problems for input_id in INPUTS]
    messages = [outcome.problems.get(input_id, "") for input_id in INPUTS]
    if not outcome.saved or outcome.battery_id is None:
        return *invalid, *messages, outcome.error, no_update
    return *invalid, *messages, "", new_experiment_url(outcome.battery_id)
