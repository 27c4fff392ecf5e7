"""Tables of records (AG Grid), shared by the list pages."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dash_ag_grid as dag


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
