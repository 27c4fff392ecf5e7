"""One battery, `/batteries/<id>`: its facts with units, its experiments, a link to a new
experiment with it, and the edit of its descriptive fields.

Only what describes the battery can be edited (name, description, manufacturer, model,
serial number, fabrication date, technology fields). Its technology, safe window, cells
and capacity stay as registered: its experiments were checked against them.
"""

from __future__ import annotations

from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, dcc, html, no_update

from components import context
from components.not_found import not_found
from components.station_card import status_badge
from components.urls import BATTERIES_URL, experiment_url, new_experiment_url
from datastore import catalog
from datastore.batteries import BatteryExperiment, battery_experiments
from datastore.experiments import in_id_range
from datastore.models import Battery
from domain.formatting import format_utc
from pages.batteries import ids
from pages.batteries.facts import fact_rows
from pages.batteries.form import (
    Outcome,
    all_inputs,
    edit,
    form_fields,
    save_button,
    split_values,
    values_of,
)

dash.register_page(
    __name__,
    path_template="/batteries/<battery_id>",
    name="Battery",
    title="Battery",
    # After /batteries/new: Dash matches pages in this order, and "new" is no battery id.
    order=985,
)

FORM = ids.EDIT_FORM
INPUTS = all_inputs(FORM)
NOT_EDITABLE = (
    "The technology, safe window, cells in series, cell window and nominal capacity cannot "
    "be changed: the battery's experiments were checked against them. Register a new "
    "battery if they were wrong."
)


def layout(battery_id: str | None = None, **_params: str) -> html.Div:
    try:
        number = int(battery_id or "")
    except ValueError:
        return _not_found(f"“{battery_id}” is not a battery number.")
    with context.session() as session:
        battery = session.get(Battery, number) if in_id_range(number) else None
        if battery is None:
            return _not_found(f"There is no battery {number}.")
        return _page(battery, battery_experiments(session, number))


def validation_layout() -> html.Div:
    """The page's components without data, for checking the callbacks' ids."""
    return html.Div(
        [
            html.H2(id=ids.TITLE),
            html.Div(id=ids.FACTS),
            html.Div(id=ids.EDIT_SAVED),
            dcc.Store(id=ids.BATTERY_ID),
            *form_fields(FORM),
            *save_button(FORM, "Save"),
        ]
    )


def _not_found(message: str) -> html.Div:
    return not_found("Battery", message, "See all batteries", BATTERIES_URL, ids.NOT_FOUND)


def _facts(battery: Battery) -> list[Any]:
    return [
        html.P(battery.description, className="mb-2") if battery.description else None,
        dbc.Table(
            html.Tbody(
                [html.Tr([html.Th(name), html.Td(value)]) for name, value in fact_rows(battery)]
            ),
            size="sm",
            className="w-auto",
        ),
    ]


def _experiments(experiments: list[BatteryExperiment]) -> Any:
    if not experiments:
        return html.P("No experiment yet.", id=ids.EXPERIMENTS, className="text-muted")
    return dbc.Table(
        [
            html.Thead(
                html.Tr(
                    [
                        html.Th(h)
                        for h in ("Name", "Status", "Station", "Created", "Began", "Finished")
                    ]
                )
            ),
            html.Tbody(
                [
                    html.Tr(
                        [
                            html.Td(
                                dcc.Link(f"{e.name} (experiment {e.id})", href=experiment_url(e.id))
                            ),
                            html.Td(status_badge(e.status)),
                            html.Td(e.station or "–"),
                            html.Td(format_utc(e.created_at, with_date=True)),
                            html.Td(format_utc(e.began_at, with_date=True)),
                            html.Td(format_utc(e.finished_at, with_date=True)),
                        ]
                    )
                    for e in experiments
                ]
            ),
        ],
        id=ids.EXPERIMENTS,
        size="sm",
        hover=True,
    )


def _page(battery: Battery, experiments: list[BatteryExperiment]) -> html.Div:
    return html.Div(
        [
            dcc.Link("Batteries", href=BATTERIES_URL, className="text-muted small"),
            html.Div(
                [
                    html.H2(battery.name, id=ids.TITLE, className="mb-0"),
                    dbc.Button(
                        [html.I(className="bi bi-play me-1"), "New experiment with this battery"],
                        id=ids.NEW_EXPERIMENT,
                        href=new_experiment_url(battery.id),
                        color="primary",
                        size="sm",
                    ),
                ],
                className="d-flex align-items-center gap-3 flex-wrap mb-2",
            ),
            dbc.Row(
                [
                    dbc.Col(
                        [
                            html.H5("Facts"),
                            html.Div(_facts(battery), id=ids.FACTS),
                            html.H5("Experiments", className="mt-3"),
                            _experiments(experiments),
                        ],
                        lg=7,
                    ),
                    dbc.Col(
                        [
                            html.H5("Edit the description"),
                            dbc.Alert(NOT_EDITABLE, color="light", className="small py-2"),
                            *form_fields(FORM, values_of(battery)),
                            *save_button(FORM, "Save"),
                            html.Div(id=ids.EDIT_SAVED, className="small text-success mt-1"),
                        ],
                        lg=5,
                    ),
                ]
            ),
            dcc.Store(id=ids.BATTERY_ID, data=battery.id),
        ]
    )


class _Refused(Exception):
    """Roll the edit's transaction back, keeping the outcome to show."""

    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome


def save_edit(
    battery_id: int, values: dict[str, Any], details: dict[tuple[str, str], Any]
) -> Outcome:
    """`form.edit` in one transaction: committed when saved, rolled back when not."""
    try:
        with context.session() as session:
            outcome = edit(session, battery_id, values, details)
            if not outcome.saved:
                raise _Refused(outcome)
    except _Refused as refused:
        return refused.outcome
    return outcome


@callback(
    *[Output(input_id, "invalid") for input_id in INPUTS],
    *[Output(ids.message(input_id), "children") for input_id in INPUTS],
    Output(ids.form_error(FORM), "children"),
    Output(ids.EDIT_SAVED, "children"),
    Output(ids.TITLE, "children"),
    Output(ids.FACTS, "children"),
    Input(ids.save(FORM), "n_clicks"),
    State(ids.BATTERY_ID, "data"),
    *[State(input_id, "value") for input_id in INPUTS],
    prevent_initial_call=True,
)
def save(_clicks: int | None, battery_id: int | None, *state: Any) -> tuple:
    """Save the descriptive fields and show them, or say beside each field what is wrong."""
    if battery_id is None:
        return (no_update,) * (2 * len(INPUTS) + 4)
    outcome = save_edit(int(battery_id), *split_values(FORM, list(state)))
    invalid = [input_id in outcome.problems for input_id in INPUTS]
    messages = [outcome.problems.get(input_id, "") for input_id in INPUTS]
    if not outcome.saved:
        return *invalid, *messages, outcome.error, "", no_update, no_update
    with context.session() as session:
        battery = catalog.get_battery(session, int(battery_id))
        return *invalid, *messages, "", outcome.message, battery.name, _facts(battery)
