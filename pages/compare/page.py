"""Compare experiments, `/experiments/compare?ids=1,2,3`: several experiments on one page.

Capacity or retention against cycle number or charge throughput, or voltage against
test time; lines coloured and dashed by any metadata field, with each colour group's
mean ± standard deviation on demand; a figure of merit against a metadata field; and the
plotted cycle data as CSV. The selection and every choice live in the address, so a view
can be bookmarked. The cycle plots read the cycle tables of all the experiments in one
query; the time plot draws from the block summaries (docs/compare.md).
"""

from __future__ import annotations

from typing import Any

import dash
import dash_bootstrap_components as dbc
import numpy as np
from dash import ClientsideFunction, Input, Output, callback, clientside_callback, dcc, html

from components import context
from components.urls import EXPERIMENTS_URL, compare_csv_url
from datastore.compare import experiment_choices, experiment_facts, experiments_cycles
from datastore.series import read_series
from domain.compare import (
    MERITS,
    PLOTS,
    QUANTITIES,
    CompareView,
    ExperimentFacts,
    available_fields,
    field_label,
    from_query,
    to_query,
)
from pages.compare import ids
from pages.compare.figures import cycle_figure, merit_figure, time_figure

dash.register_page(
    __name__,
    path=f"{EXPERIMENTS_URL}/compare",
    name="Compare",
    title="Compare experiments",
    nav=False,
    # Before the experiment page's "/experiments/<experiment_id>" (order 1000).
    order=5,
)

# The time plot's points over all experiments together (each has its share).
TIME_POINTS = 20_000
MIN_POINTS_EACH = 1_000
GRAPH_CONFIG: Any = {"displaylogo": False, "responsive": True}
HELP = (
    "Colour by groups the experiments: those sharing the chosen field's value share a "
    "colour. “Group mean ± std” draws, for each group against cycle number, the mean and "
    "the sample standard deviation (n − 1) of the plotted quantity at every cycle that "
    "at least two of the group's experiments reached; cycles only one member reached, "
    "and groups of one, have no band. Retention is relative to each experiment's first "
    "full cycle; normalised capacity is the discharge capacity over the battery's "
    "nominal capacity. The CSV holds one row per experiment and cycle."
)


# ---------------------------------------------------------------- layout


def layout(**query: str) -> html.Div:
    view = from_query({key: [value] for key, value in query.items()})
    with context.session() as session:
        choices = experiment_choices(session)
        facts = experiment_facts(session, view.ids)
    unknown = [str(i) for i in view.ids if i not in facts]
    known = [i for i in view.ids if i in facts]
    offered = {i for i, _ in choices}
    choices += [(i, facts[i].name) for i in known if i not in offered]
    fields = available_fields(facts.values())
    return _page(view, choices, known, fields, _problems(view.bad_ids, unknown))


def validation_layout() -> html.Div:
    """The page's components without data, for checking the callbacks' ids."""
    return _page(CompareView(), [], [], available_fields([]), [])


def _problems(bad: tuple[str, ...], unknown: list[str]) -> list[Any]:
    """What was wrong with the ids in the address, naming them."""
    messages = []
    if bad:
        messages.append(f"Not experiment numbers, left out: {', '.join(bad)}.")
    if unknown:
        messages.append(f"No experiment has the number {', '.join(unknown)}; left out.")
    return [
        dbc.Alert(message, color="warning", dismissable=True, className="py-2")
        for message in messages
    ]


def _field_options(fields: list[str]) -> list[dict[str, str]]:
    return [{"label": field_label(key), "value": key} for key in fields]


def _labelled(label: str, control: Any, **width: Any) -> dbc.Col:
    return dbc.Col([dbc.Label(label, className="small text-muted mb-0"), control], **width)


def _page(
    view: CompareView,
    choices: list[tuple[int, str]],
    selected: list[int],
    field_keys: list[str],
    problems: list[Any],
) -> html.Div:
    fields = _field_options(field_keys)
    return html.Div(
        [
            html.H2("Compare experiments"),
            html.Div(problems, id=ids.PROBLEMS),
            _labelled(
                "Experiments",
                dcc.Dropdown(
                    id=ids.PICKER,
                    options=[{"label": f"#{i} {name}", "value": i} for i, name in choices],
                    value=selected,
                    multi=True,
                    searchable=True,
                    placeholder="Type a name or number to add an experiment",
                ),
            ),
            html.Div(id=ids.NOTE, className="my-2"),
            dbc.Row(
                [
                    _labelled(
                        "Plot",
                        dbc.RadioItems(
                            id=ids.PLOT,
                            options=[{"label": text, "value": key} for key, text in PLOTS.items()],
                            value=view.plot,
                        ),
                        md=3,
                    ),
                    _labelled(
                        "Quantity (cycle plots)",
                        dbc.RadioItems(
                            id=ids.QUANTITY,
                            options=[
                                {"label": text, "value": key} for key, text in QUANTITIES.items()
                            ],
                            value=view.quantity,
                        ),
                        md=2,
                    ),
                    _labelled(
                        "Colour by",
                        dcc.Dropdown(
                            id=ids.COLOR, options=fields, value=view.color_by, clearable=False
                        ),
                        md=2,
                    ),
                    _labelled(
                        "Line style by",
                        dcc.Dropdown(
                            id=ids.STYLE,
                            options=fields,
                            value=view.style_by or None,
                            placeholder="one style",
                        ),
                        md=2,
                    ),
                    dbc.Col(
                        [
                            dbc.Checkbox(
                                id=ids.NORMALISE,
                                label="Capacity per nominal capacity",
                                value=view.normalise,
                            ),
                            dbc.Checkbox(id=ids.BANDS, label="Group mean ± std", value=view.bands),
                            html.A(
                                [html.I(className="bi bi-download me-1"), "Cycle data (CSV)"],
                                id=ids.CSV,
                                href=compare_csv_url(to_query(view)),
                                className="btn btn-outline-secondary btn-sm mt-1",
                            ),
                        ],
                        md=3,
                    ),
                ],
                className="g-3 mb-2",
            ),
            dcc.Graph(id=ids.GRAPH, config=GRAPH_CONFIG),
            html.H4("Figure of merit", className="mt-3"),
            dbc.Row(
                [
                    _labelled(
                        "Figure",
                        dcc.Dropdown(
                            id=ids.MERIT,
                            options=[{"label": text, "value": key} for key, text in MERITS.items()],
                            value=view.merit,
                            clearable=False,
                        ),
                        md=4,
                    ),
                    _labelled(
                        "Cycle N",
                        dbc.Input(
                            id=ids.CYCLE_N,
                            type="number",
                            min=1,
                            step=1,
                            value=view.cycle_n,
                            debounce=True,
                            size="sm",
                        ),
                        md=2,
                    ),
                    _labelled(
                        "Against",
                        dcc.Dropdown(
                            id=ids.MERIT_X, options=fields, value=view.merit_x, clearable=False
                        ),
                        md=3,
                    ),
                ],
                className="g-3 mb-2",
            ),
            dcc.Graph(id=ids.SCATTER, config=GRAPH_CONFIG),
            html.Div(id=ids.MERIT_NOTE, className="small text-muted"),
            html.P(HELP, className="small text-muted mt-3"),
            dcc.Store(id=ids.VIEW, data=to_query(view)),
            dcc.Store(id=ids.QUERY),
        ]
    )


# ---------------------------------------------------------------- callbacks


def _empty(message: str) -> dict[str, Any]:
    return {
        "data": [],
        "layout": {
            "height": 200,
            "xaxis": {"visible": False},
            "yaxis": {"visible": False},
            "annotations": [{"text": message, "showarrow": False, "font": {"size": 14}}],
            "template": "plotly_white",
        },
    }


def _time_series(
    session: Any, facts: list[ExperimentFacts]
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    each = max(MIN_POINTS_EACH, TIME_POINTS // max(1, len(facts)))
    series = {}
    for f in facts:
        points = read_series(session, f.id, quantities=("voltage",), max_points=each)
        series[f.id] = (points.ts, points.values["voltage"])
    return series


@callback(
    Output(ids.GRAPH, "figure"),
    Output(ids.SCATTER, "figure"),
    Output(ids.NOTE, "children"),
    Output(ids.MERIT_NOTE, "children"),
    Output(ids.COLOR, "options"),
    Output(ids.STYLE, "options"),
    Output(ids.MERIT_X, "options"),
    Output(ids.CSV, "href"),
    Output(ids.VIEW, "data"),
    Input(ids.PICKER, "value"),
    Input(ids.PLOT, "value"),
    Input(ids.QUANTITY, "value"),
    Input(ids.COLOR, "value"),
    Input(ids.STYLE, "value"),
    Input(ids.NORMALISE, "value"),
    Input(ids.BANDS, "value"),
    Input(ids.MERIT, "value"),
    Input(ids.CYCLE_N, "value"),
    Input(ids.MERIT_X, "value"),
)
def show(
    picked: list[int] | None,
    plot: str | None,
    quantity: str | None,
    color: str | None,
    style: str | None,
    normalise: bool | None,
    bands: bool | None,
    merit: str | None,
    cycle_n: int | None,
    merit_x: str | None,
) -> tuple[Any, ...]:
    """Every figure for the view the controls describe (read through the address's
    parser, so the page and a bookmark agree on what is valid)."""
    view = from_query(
        {
            "ids": [",".join(str(i) for i in picked or [])],
            "plot": [plot or ""],
            "y": [quantity or ""],
            "color": [color or ""],
            "style": [style or ""],
            "norm": ["1" if normalise else ""],
            "bands": ["1" if bands else ""],
            "merit": [merit or ""],
            "n": [str(cycle_n or "")],
            "x": [merit_x or ""],
        }
    )
    with context.session() as session:
        by_id = experiment_facts(session, view.ids)
        facts = [by_id[i] for i in view.ids if i in by_id]
        tables = experiments_cycles(session, [f.id for f in facts])
        series = _time_series(session, facts) if view.plot == "time" and facts else {}
    fields = _field_options(available_fields(facts))
    query = to_query(view)
    if not facts:
        note = [
            "No experiments chosen. Add them with the box above, or tick them in the ",
            dcc.Link("experiments table", href=EXPERIMENTS_URL),
            " and press Compare.",
        ]
        nothing = _empty("Choose experiments to compare.")
        return nothing, nothing, note, "", fields, fields, fields, compare_csv_url(query), query
    notes = []
    figure = (
        time_figure(facts, series, view)
        if view.plot == "time"
        else cycle_figure(facts, tables, view)
    )
    if view.bands and view.plot != "cycle":
        notes.append("Group bands are drawn against cycle number only.")
    without_cycles = [f"#{f.id}" for f in facts if not tables[f.id]]
    if without_cycles and view.plot != "time":
        notes.append(f"No cycles yet: {', '.join(without_cycles)}.")
    if view.normalise and view.quantity == "capacity":
        no_nominal = [f"#{f.id}" for f in facts if not f.nominal_capacity_ah]
        if no_nominal:
            notes.append(f"No nominal capacity, not normalised: {', '.join(no_nominal)}.")
    scatter, missing = merit_figure(facts, tables, view)
    reason = "Not below 80 % yet" if view.merit == "cycles80" else "No value"
    merit_note = f"{reason}: {'; '.join(missing)}." if missing else ""
    return (
        figure,
        scatter,
        " ".join(notes),
        merit_note,
        fields,
        fields,
        fields,
        compare_csv_url(query),
        query,
    )


# The view's query goes into the address without reloading the page (assets/clientside.js).
clientside_callback(
    ClientsideFunction("bem", "showQuery"),
    Output(ids.QUERY, "data"),
    Input(ids.VIEW, "data"),
)
