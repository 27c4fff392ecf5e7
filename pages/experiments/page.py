"""Experiments: every experiment, one page at a time, filtered and sorted by the database.

The filters (text in the name or description, technology, battery, station, profile,
status, creation dates), the sort and the page live in the address, so a view can be
bookmarked: `/experiments?q=ageing&status=RUNNING&sort=-created&page=2`. The table
refreshes itself, so running experiments' sample counts and statuses move. A row opens
the experiment's page; ticked rows can be compared, and queued ones cancelled.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import (
    ClientsideFunction,
    Input,
    Output,
    State,
    callback,
    clientside_callback,
    ctx,
    dcc,
    html,
    no_update,
)

from components import context
from components.station_card import STATUS_COLORS
from components.tables import markdown_link
from components.urls import EXPERIMENTS_URL, compare_url, experiment_csv_url, experiment_url
from config.logs import for_experiment
from datastore.catalog import CatalogError, cancel_experiment
from datastore.experiment_table import ExperimentRow, FilterChoices, experiment_page, filter_choices
from domain.experiment_filter import (
    DEFAULT_SORT,
    PAGE_SIZES,
    SORT_COLUMNS,
    ExperimentFilter,
    TableView,
    from_query,
    to_query,
)
from domain.formatting import format_utc
from domain.status import ExperimentStatus
from pages.experiments import ids

log = logging.getLogger("bem.web")

dash.register_page(__name__, path=EXPERIMENTS_URL, name="Experiments", order=2)

REFRESH_MS = 10_000


# Grid column id -> sort key of the URL (domain.experiment_filter.SORT_COLUMNS).
_SORT_OF_COLUMN = {
    "id": "id",
    "name": "name",
    "status": "status",
    "battery": "battery",
    "technology": "technology",
    "station": "station",
    "profile": "profile",
    "created": "created",
    "began": "began",
    "finished": "finished",
    "samples": "samples",
}
assert set(_SORT_OF_COLUMN.values()) <= set(SORT_COLUMNS)

# The database sorts; the grid keeps the order it is given (its comparator says "equal").
_KEEP_ORDER = {"function": "0"}


def _columns(view: TableView) -> list[dict[str, Any]]:
    sort = {
        key: ("asc" if ascending else "desc", index)
        for index, (key, ascending) in enumerate(view.sort)
    }

    def column(field: str, header: str, **options: Any) -> dict[str, Any]:
        definition: dict[str, Any] = {"field": field, "headerName": header, **options}
        if field in sort and field in _SORT_OF_COLUMN:
            definition["sort"], definition["sortIndex"] = sort[field]
        return definition

    return [
        column("id", "ID", maxWidth=90, type="numericColumn"),
        column(
            "name",
            "Name",
            minWidth=220,
            cellRenderer="markdown",
            linkTarget="_self",
        ),
        column(
            "status",
            "Status",
            minWidth=130,
            maxWidth=150,
            cellClassRules={
                f"status-cell status-{color}": f"params.value == '{status.value}'"
                for status, color in STATUS_COLORS.items()
            },
        ),
        column("reason", "Reason", minWidth=160, sortable=False, tooltipField="reason"),
        column("battery", "Battery", minWidth=140),
        column("technology", "Technology", maxWidth=150),
        column("station", "Station", maxWidth=140),
        column("profile", "Profile", minWidth=140),
        column("created", "Created (UTC)", minWidth=170),
        column("began", "Began (UTC)", minWidth=170),
        column("finished", "Finished (UTC)", minWidth=170),
        column(
            "samples",
            "Samples",
            type="numericColumn",
            maxWidth=130,
            valueFormatter={
                "function": "params.value == null ? '' : params.value.toLocaleString('en-US')"
            },
        ),
        column("data", "Data", cellRenderer="markdown", sortable=False, maxWidth=90),
    ]


def _when(moment: dt.datetime | None) -> str:
    return format_utc(moment, with_date=True).removesuffix(" UTC") if moment else ""


def _row(row: ExperimentRow) -> dict[str, Any]:
    closed_badly = row.status in (ExperimentStatus.ERROR, ExperimentStatus.CANCELLED)
    return {
        "id": row.id,
        "name": markdown_link(row.name, experiment_url(row.id)),
        "status": row.status.value,
        "reason": row.status_message if closed_badly else "",
        "battery": row.battery,
        "technology": row.technology,
        "station": row.station or ("imported" if row.imported else ""),
        "profile": row.profile or "",
        "created": _when(row.created_at),
        "began": _when(row.began_at),
        "finished": _when(row.finished_at),
        "samples": row.sample_count,
        "data": f"[CSV]({experiment_csv_url(row.id)})" if row.sample_count else "",
    }


# ---------------------------------------------------------------- layout


def layout(**query: str) -> html.Div:
    view = from_query({key: [value] for key, value in query.items()})
    with context.session() as session:
        choices = filter_choices(session)
        page = experiment_page(session, view)
    return _page(view, choices, [_row(row) for row in page.rows], page.total)


def validation_layout() -> html.Div:
    """The page's components without data, for checking the callbacks' ids."""
    return _page(TableView(), FilterChoices([], [], [], []), [], 0)


def _options(choices: list[Any]) -> list[dict[str, Any]]:
    return [{"label": choice.label, "value": choice.id} for choice in choices]


def _filters(view: TableView, choices: FilterChoices) -> dbc.Row:
    wanted = view.filter

    def labelled(label: str, control: Any, **width: Any) -> dbc.Col:
        return dbc.Col([dbc.Label(label, className="small text-muted mb-0"), control], **width)

    return dbc.Row(
        [
            labelled(
                "Search name and description",
                dbc.Input(
                    id=ids.SEARCH,
                    value=wanted.text,
                    type="search",
                    debounce=0.4,
                    placeholder="e.g. ageing, 45 °C",
                    size="sm",
                ),  # fmt: skip
                md=3,
            ),
            labelled(
                "Technology",
                dcc.Dropdown(
                    id=ids.TECHNOLOGY,
                    options=[{"label": t, "value": t} for t in choices.technologies],
                    value=wanted.technology or None,
                    placeholder="any",
                ),
                md=2,
            ),
            labelled(
                "Battery",
                dcc.Dropdown(
                    id=ids.BATTERY,
                    options=_options(choices.batteries),
                    value=wanted.battery_id,
                    placeholder="any",
                ),  # fmt: skip
                md=2,
            ),
            labelled(
                "Station",
                dcc.Dropdown(
                    id=ids.STATION,
                    options=_options(choices.stations),
                    value=wanted.station_id,
                    placeholder="any",
                ),  # fmt: skip
                md=2,
            ),
            labelled(
                "Profile",
                dcc.Dropdown(
                    id=ids.PROFILE,
                    options=_options(choices.profiles),
                    value=wanted.profile_id,
                    placeholder="any",
                ),  # fmt: skip
                md=3,
            ),
            labelled(
                "Status",
                dcc.Dropdown(
                    id=ids.STATUS,
                    options=[{"label": s.value, "value": s.value} for s in ExperimentStatus],
                    value=[status.value for status in wanted.statuses],
                    multi=True,
                    placeholder="any",
                ),
                md=4,
            ),
            labelled(
                "Created between (UTC days)",
                dcc.DatePickerRange(
                    id=ids.DATES,
                    start_date=wanted.created_from.isoformat() if wanted.created_from else None,
                    end_date=wanted.created_to.isoformat() if wanted.created_to else None,
                    display_format="YYYY-MM-DD",
                    clearable=True,
                    minimum_nights=0,
                ),
                md=4,
            ),
            dbc.Col(
                dbc.Button("Clear filters", id=ids.CLEAR, color="link", size="sm"),
                md="auto",
                className="align-self-end",
            ),
        ],
        className="g-2 mb-2",
    )


def _page(
    view: TableView, choices: FilterChoices, rows: list[dict[str, Any]], total: int
) -> html.Div:
    pages = max(1, -(-total // view.page_size))
    return html.Div(
        [
            html.H2("Experiments"),
            _filters(view, choices),
            dbc.Row(
                [
                    dbc.Col(
                        html.Div(_summary(view, total), id=ids.SUMMARY, className="text-muted")
                    ),
                    dbc.Col(
                        dbc.ButtonGroup(
                            [
                                dbc.Button(
                                    [html.I(className="bi bi-graph-up me-1"), "Compare"],
                                    id=ids.COMPARE,
                                    color="primary",
                                    size="sm",
                                    disabled=True,
                                ),  # fmt: skip
                                dbc.Button(
                                    "Cancel queued…",
                                    id=ids.CANCEL,
                                    color="danger",
                                    outline=True,
                                    size="sm",
                                    disabled=True,
                                ),  # fmt: skip
                            ]
                        ),
                        width="auto",
                    ),
                ],
                className="align-items-center mb-1",
            ),
            html.Div(id=ids.FEEDBACK),
            dag.AgGrid(
                id=ids.GRID,
                rowData=rows,
                columnDefs=_columns(view),
                defaultColDef={
                    "sortable": True,
                    "resizable": True,
                    "comparator": _KEEP_ORDER,
                    "minWidth": 90,
                    "flex": 1,
                },
                getRowId="params.data.id",
                dashGridOptions={
                    "rowSelection": {"mode": "multiRow"},
                    "animateRows": False,
                    "tooltipShowDelay": 300,
                    "domLayout": "autoHeight",
                    "suppressCellFocus": True,
                    # Every column is drawn, also those scrolled out of view on a narrow screen.
                    "suppressColumnVirtualisation": True,
                },
                style={"width": "100%"},
                className="ag-theme-alpine",
            ),
            dbc.Row(
                [
                    dbc.Col(
                        dbc.Pagination(
                            id=ids.PAGER,
                            max_value=pages,
                            active_page=min(view.page, pages),
                            fully_expanded=False,
                            first_last=True,
                            previous_next=True,
                            size="sm",
                        ),  # fmt: skip
                    ),
                    dbc.Col(
                        dbc.Select(
                            id=ids.PAGE_SIZE,
                            options=[{"label": f"{n} a page", "value": str(n)} for n in PAGE_SIZES],
                            value=str(view.page_size),
                            size="sm",
                        ),
                        width="auto",
                    ),
                ],
                className="mt-2 align-items-center",
            ),
            _cancel_dialog(),
            dcc.Store(id=ids.VIEW, data=to_query(view)),
            dcc.Store(id=ids.QUERY),
            dcc.Location(id=ids.NAVIGATE, refresh="callback-nav"),
            dcc.Interval(id=ids.INTERVAL, interval=REFRESH_MS),
        ]
    )


def _summary(view: TableView, total: int) -> str:
    if not total:
        return (
            "No experiment matches." if view.filter != ExperimentFilter() else "No experiments yet."
        )
    first = view.offset + 1
    last = min(view.offset + view.page_size, total)
    noun = "experiment matches" if total == 1 else "experiments match"
    return f"{total:,} {noun} · showing {first:,}–{last:,} · updated every {REFRESH_MS // 1000} s"


def _cancel_dialog() -> dbc.Modal:
    return dbc.Modal(
        [
            dbc.ModalHeader(dbc.ModalTitle("Cancel these queued experiments?")),
            dbc.ModalBody(id=ids.CANCEL_LIST),
            dbc.ModalFooter(
                [
                    dbc.Button("Keep them", id=ids.CANCEL_KEEP, color="secondary"),
                    dbc.Button("Cancel them", id=ids.CANCEL_CONFIRM, color="danger"),
                ]
            ),
        ],
        id=ids.CANCEL_DIALOG,
        is_open=False,
    )


# ---------------------------------------------------------------- callbacks


def _sort_from_state(column_state: list[dict[str, Any]] | None) -> tuple[tuple[str, bool], ...]:
    """The sort keys of the grid's column state (headers clicked), in their sort order."""
    keys = [
        (state.get("sortIndex") or 0, _SORT_OF_COLUMN[state["colId"]], state["sort"] == "asc")
        for state in column_state or []
        if state.get("sort") in ("asc", "desc") and state.get("colId") in _SORT_OF_COLUMN
    ]
    return tuple((key, ascending) for _index, key, ascending in sorted(keys)) or DEFAULT_SORT


@callback(
    Output(ids.GRID, "rowData"),
    Output(ids.SUMMARY, "children"),
    Output(ids.PAGER, "max_value"),
    Output(ids.PAGER, "active_page"),
    Output(ids.VIEW, "data"),
    Input(ids.SEARCH, "value"),
    Input(ids.TECHNOLOGY, "value"),
    Input(ids.BATTERY, "value"),
    Input(ids.STATION, "value"),
    Input(ids.PROFILE, "value"),
    Input(ids.STATUS, "value"),
    Input(ids.DATES, "start_date"),
    Input(ids.DATES, "end_date"),
    Input(ids.PAGER, "active_page"),
    Input(ids.PAGE_SIZE, "value"),
    Input(ids.GRID, "columnState"),
    Input(ids.INTERVAL, "n_intervals"),
    State(ids.VIEW, "data"),
    prevent_initial_call=True,
)
def show(
    text: str | None,
    technology: str | None,
    battery: int | None,
    station: int | None,
    profile: int | None,
    statuses: list[str] | None,
    created_from: str | None,
    created_to: str | None,
    page: int | None,
    page_size: str | None,
    column_state: list[dict[str, Any]] | None,
    _n_intervals: int | None,
    stored: str | None,
) -> tuple[Any, ...]:
    """One page of the table for the view the controls describe."""
    before = from_query(stored or "")
    wanted = from_query(
        {
            "q": [text or ""],
            "technology": [technology or ""],
            "battery": [str(battery or "")],
            "station": [str(station or "")],
            "profile": [str(profile or "")],
            "status": [",".join(statuses or [])],
            "from": [(created_from or "")[:10]],
            "to": [(created_to or "")[:10]],
            "size": [page_size or ""],
        }
    ).filter
    view = TableView(
        filter=wanted,
        sort=_sort_from_state(column_state) if column_state else before.sort,
        page=page or 1,
        page_size=int(page_size) if page_size and page_size.isdigit() else before.page_size,
    )
    if (view.filter, view.sort, view.page_size) != (before.filter, before.sort, before.page_size):
        view = TableView(view.filter, view.sort, 1, view.page_size)  # another view: page 1
    with context.session() as session:
        result = experiment_page(session, view)
    pages = max(1, -(-result.total // view.page_size))
    if view.page > pages:  # fewer rows than before (a narrower filter): the last page
        view = TableView(view.filter, view.sort, pages, view.page_size)
        with context.session() as session:
            result = experiment_page(session, view)
    return (
        [_row(row) for row in result.rows],
        _summary(view, result.total),
        pages,
        view.page,
        to_query(view),
    )


# The view's query goes into the address without reloading the page (assets/clientside.js).
clientside_callback(
    ClientsideFunction("bem", "showQuery"),
    Output(ids.QUERY, "data"),
    Input(ids.VIEW, "data"),
)


@callback(
    Output(ids.SEARCH, "value"),
    Output(ids.TECHNOLOGY, "value"),
    Output(ids.BATTERY, "value"),
    Output(ids.STATION, "value"),
    Output(ids.PROFILE, "value"),
    Output(ids.STATUS, "value"),
    Output(ids.DATES, "start_date"),
    Output(ids.DATES, "end_date"),
    Input(ids.CLEAR, "n_clicks"),
    prevent_initial_call=True,
)
def clear_filters(_clicks: int | None) -> tuple[Any, ...]:
    return "", None, None, None, None, [], None, None


@callback(
    Output(ids.COMPARE, "disabled"),
    Output(ids.CANCEL, "disabled"),
    Input(ids.GRID, "selectedRows"),
)
def enable_actions(selected: list[dict[str, Any]] | None) -> tuple[bool, bool]:
    selected = selected or []
    queued = [row for row in selected if row.get("status") == ExperimentStatus.QUEUED.value]
    return not selected, not queued


@callback(
    Output(ids.NAVIGATE, "href"),
    Input(ids.COMPARE, "n_clicks"),
    Input(ids.GRID, "cellClicked"),
    State(ids.GRID, "selectedRows"),
    prevent_initial_call=True,
)
def navigate(
    _clicks: int | None, clicked: dict[str, Any] | None, selected: list[dict[str, Any]] | None
) -> Any:
    """Compare opens the ticked experiments together; a click on a row opens its page
    (the name and CSV cells are links of their own, the tick box selects)."""
    if ctx.triggered_id == ids.COMPARE:
        chosen = sorted(int(row["id"]) for row in selected or [])
        return compare_url(chosen) if chosen else no_update
    if (
        not clicked
        or clicked.get("colId") in ("name", "data", None)
        or clicked.get("rowId") is None
    ):
        return no_update
    if str(clicked.get("colId", "")).startswith("ag-Grid-"):  # the selection column
        return no_update
    return experiment_url(int(clicked["rowId"]))


@callback(
    Output(ids.CANCEL_DIALOG, "is_open"),
    Output(ids.CANCEL_LIST, "children"),
    Output(ids.FEEDBACK, "children"),
    Output(ids.INTERVAL, "n_intervals"),
    Input(ids.CANCEL, "n_clicks"),
    Input(ids.CANCEL_KEEP, "n_clicks"),
    Input(ids.CANCEL_CONFIRM, "n_clicks"),
    State(ids.GRID, "selectedRows"),
    State(ids.INTERVAL, "n_intervals"),
    prevent_initial_call=True,
)
def cancel_queued(
    _ask: int | None,
    _keep: int | None,
    _confirm: int | None,
    selected: list[dict[str, Any]] | None,
    n_intervals: int | None,
) -> tuple[Any, ...]:
    """Cancel the ticked queued experiments, after asking; say what happened to each."""
    queued = [row for row in selected or [] if row.get("status") == ExperimentStatus.QUEUED.value]
    if ctx.triggered_id == ids.CANCEL:
        names = html.Ul([html.Li(f"#{row['id']}") for row in queued])
        return (
            True,
            [
                "They will not start. Ticked experiments that are not queued stay as they are.",
                names,
            ],
            no_update,
            no_update,
        )
    if ctx.triggered_id == ids.CANCEL_KEEP:
        return False, no_update, no_update, no_update
    done, refused = [], []
    for row in queued:
        try:
            with context.session() as session:
                cancel_experiment(session, int(row["id"]))
            done.append(int(row["id"]))
            log.info("cancelled", extra=for_experiment(int(row["id"])))
        except CatalogError as error:
            refused.append(f"#{row['id']}: {error}")
    messages: list[Any] = []
    if done:
        messages.append(
            dbc.Alert(
                f"Cancelled {', '.join(f'#{i}' for i in done)}.",
                color="success",
                dismissable=True,
                className="py-2",
            )
        )
    if refused:
        messages.append(
            dbc.Alert(
                ["Not cancelled: ", "; ".join(refused)],
                color="warning",
                dismissable=True,
                className="py-2",
            )
        )
    # Moving the interval's count on refreshes the table at once.
    return False, no_update, messages, (n_intervals or 0) + 1
