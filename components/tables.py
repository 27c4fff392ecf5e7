"""Tables of records (AG Grid), shared by the list pages."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import dcc, html, no_update


def record_grid(
    grid_id: str,
    rows: Sequence[dict[str, Any]],
    columns: Sequence[dict[str, Any]],
    *,
    height: int = 520,
) -> dag.AgGrid:
    """A sortable, filterable grid; `columns` are AG Grid column definitions."""
    return dag.AgGrid(
        id=grid_id,
        rowData=list(rows),
        columnDefs=list(columns),
        defaultColDef={
            "sortable": True,
            "filter": True,
            "resizable": True,
            "flex": 1,
            "minWidth": 90,
        },
        dashGridOptions={"pagination": True, "paginationPageSize": 50, "animateRows": False},
        style={"height": f"{height}px", "width": "100%"},
        className="ag-theme-alpine",
    )


# Every ASCII punctuation character: CommonMark lets a backslash escape any of them.
_MARKDOWN_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")


def markdown_link(text: str, url: str) -> str:
    """A markdown link (a grid's "markdown" cell) showing `text` as typed: its punctuation
    is escaped, so a name can neither end the link early (`a\\](https://…)`), point it
    elsewhere, nor add markup."""
    escaped = _MARKDOWN_PUNCTUATION.sub(r"\\\1", text)
    return f"[{escaped}]({url})"


def record_list(
    *,
    title: str,
    new_label: str,
    new_id: str,
    new_url: str,
    intro: str,
    grid_id: str,
    rows: Sequence[dict[str, Any]],
    columns: Sequence[dict[str, Any]],
    navigate_id: str,
) -> html.Div:
    """A list page: its title with a "New …" button, a line on what a row opens, the grid
    (rows keyed by their id, for `clicked_row_url`) and the location a row click sets."""
    grid = record_grid(grid_id, rows, columns)
    grid.getRowId = "params.data.id"
    return html.Div(
        [
            html.Div(
                [
                    html.H2(title, className="mb-0"),
                    dbc.Button(
                        [html.I(className="bi bi-plus-lg me-1"), new_label],
                        id=new_id,
                        href=new_url,
                        color="primary",
                        size="sm",
                    ),
                ],
                className="d-flex align-items-center gap-3 mb-3",
            ),
            html.P(intro, className="small text-muted"),
            grid,
            dcc.Location(id=navigate_id, refresh="callback-nav"),
        ]
    )


def clicked_row_url(clicked: dict[str, Any] | None, url_of: Callable[[int], str]) -> Any:
    """Where a click on a list's row goes (`url_of(row id)`); nothing for a click on the
    name cell, which is a link of its own."""
    if not clicked or clicked.get("colId") in ("name", None) or clicked.get("rowId") is None:
        return no_update
    return url_of(int(clicked["rowId"]))
