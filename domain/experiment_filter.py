"""What a view of the experiments table asks for: its filter, sort and page, as a URL query.

The experiments page keeps this state in its address (`/experiments?q=ageing&status=RUNNING
&sort=-created`), so a view can be bookmarked and shared. `from_query` reads a query
string leniently (an unknown or malformed value is dropped, never an error) and
`to_query` writes the canonical form, leaving out whatever has its default.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from urllib.parse import parse_qs, urlencode

from domain.status import ExperimentStatus

# Columns the table may be sorted by (the datastore maps each to SQL).
SORT_COLUMNS = (
    "id",
    "name",
    "status",
    "battery",
    "technology",
    "station",
    "profile",
    "created",
    "began",
    "finished",
    "samples",
)
DEFAULT_SORT: tuple[tuple[str, bool], ...] = (("created", False),)  # newest first
PAGE_SIZES = (25, 50, 100, 200)
DEFAULT_PAGE_SIZE = 50
MAX_TEXT = 200


@dataclass(frozen=True)
class ExperimentFilter:
    """Which experiments a view shows. Empty fields do not filter."""

    text: str = ""  # in the name or the description, ignoring case
    technology: str = ""
    battery_id: int | None = None
    station_id: int | None = None
    profile_id: int | None = None
    statuses: tuple[ExperimentStatus, ...] = ()
    created_from: dt.date | None = None  # inclusive, UTC days
    created_to: dt.date | None = None  # inclusive


@dataclass(frozen=True)
class TableView:
    """A filter plus the sort (column, ascending) keys and the page shown."""

    filter: ExperimentFilter = field(default_factory=ExperimentFilter)
    sort: tuple[tuple[str, bool], ...] = DEFAULT_SORT
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size

    def with_filter(self, new_filter: ExperimentFilter) -> TableView:
        """The same view on another filter, back on page 1."""
        return replace(self, filter=new_filter, page=1)


def _int(values: Sequence[str]) -> int | None:
    try:
        number = int(values[0])
    except (IndexError, ValueError):
        return None
    return number if 0 < number < 2**31 else None


def _date(values: Sequence[str]) -> dt.date | None:
    try:
        return dt.date.fromisoformat(values[0])
    except (IndexError, ValueError):
        return None


def _sort(values: Sequence[str]) -> tuple[tuple[str, bool], ...]:
    keys: list[tuple[str, bool]] = []
    for key in ",".join(values).split(","):
        key = key.strip()
        ascending = not key.startswith("-")
        name = key.lstrip("-+")
        if name in SORT_COLUMNS and name not in [k for k, _ in keys]:
            keys.append((name, ascending))
    return tuple(keys) or DEFAULT_SORT


def from_query(query: str | Mapping[str, Sequence[str]]) -> TableView:
    """The view a URL query string (with or without "?") or parsed query describes."""
    params = parse_qs(query.lstrip("?")) if isinstance(query, str) else dict(query)
    statuses = []
    for word in ",".join(params.get("status", [])).split(","):
        try:
            status = ExperimentStatus(word.strip().upper())
        except ValueError:
            continue
        if status not in statuses:
            statuses.append(status)
    page_size = _int(params.get("size", [])) or DEFAULT_PAGE_SIZE
    return TableView(
        filter=ExperimentFilter(
            text=(params.get("q") or [""])[0].strip()[:MAX_TEXT],
            technology=(params.get("technology") or [""])[0].strip()[:32],
            battery_id=_int(params.get("battery", [])),
            station_id=_int(params.get("station", [])),
            profile_id=_int(params.get("profile", [])),
            statuses=tuple(statuses),
            created_from=_date(params.get("from", [])),
            created_to=_date(params.get("to", [])),
        ),
        sort=_sort(params.get("sort", [])),
        page=_int(params.get("page", [])) or 1,
        page_size=page_size if page_size in PAGE_SIZES else DEFAULT_PAGE_SIZE,
    )


def to_query(view: TableView) -> str:
    """The canonical query string of a view ("" for the default view, else "?...")."""
    f = view.filter
    pairs: list[tuple[str, str]] = []
    if f.text:
        pairs.append(("q", f.text))
    if f.technology:
        pairs.append(("technology", f.technology))
    for key, value in (
        ("battery", f.battery_id),
        ("station", f.station_id),
        ("profile", f.profile_id),
    ):
        if value is not None:
            pairs.append((key, str(value)))
    if f.statuses:
        pairs.append(("status", ",".join(status.value for status in f.statuses)))
    if f.created_from:
        pairs.append(("from", f.created_from.isoformat()))
    if f.created_to:
        pairs.append(("to", f.created_to.isoformat()))
    if view.sort != DEFAULT_SORT:
        pairs.append(("sort", ",".join(("" if asc else "-") + key for key, asc in view.sort)))
    if view.page != 1:
        pairs.append(("page", str(view.page)))
    if view.page_size != DEFAULT_PAGE_SIZE:
        pairs.append(("size", str(view.page_size)))
    return "?" + urlencode(pairs) if pairs else ""
