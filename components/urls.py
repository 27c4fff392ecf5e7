"""Where things live in the web app: every URL a page links to is built here.

Pages import these helpers instead of writing paths, so a route changes in one place.
The server routes that answer some of them are in `components.routes`.
"""

from __future__ import annotations

from urllib.parse import urlencode

EXPERIMENT_CSV_ROUTE = "/export/experiments/<int:experiment_id>.csv"
COMPARE_CSV_ROUTE = "/export/compare.csv"
CYCLE_CSV_ROUTE = "/experiments/<int:experiment_id>/cycles.csv"
OVERVIEW_URL = "/"
EXPERIMENTS_URL = "/experiments"
EXPERIMENT_REPORT_ROUTE = "/experiments/<int:experiment_id>/report.html"
VENDOR_URL = "/_vendor/bootstrap5"
IMPORT_URL = "/experiments/import"
# The import page posts the chosen file here (multipart, field "file"); see components.uploads.
IMPORT_UPLOAD_URL = "/experiments/import/upload"


def experiment_csv_url(
    experiment_id: int, start_ts: float | None = None, end_ts: float | None = None
) -> str:
    """Where the browser downloads an experiment's samples (optionally a time window) as CSV."""
    query = urlencode(
        {
            name: repr(value)
            for name, value in (("start", start_ts), ("end", end_ts))
            if value is not None
        }
    )
    return f"/export/experiments/{experiment_id}.csv" + (f"?{query}" if query else "")


def cycle_csv_url(experiment_id: int) -> str:
    """Where the browser downloads an experiment's cycle table as CSV."""
    return f"/experiments/{experiment_id}/cycles.csv"


def monitor_url(station_id: int) -> str:
    """The live monitor of one station."""
    return f"/monitor/{station_id}"


def experiment_url(experiment_id: int) -> str:
    """An experiment's own page."""
    return f"{EXPERIMENTS_URL}/{experiment_id}"


def compare_url(experiment_ids: list[int]) -> str:
    """The comparison of several experiments."""
    return f"{EXPERIMENTS_URL}/compare?" + urlencode({"ids": ",".join(map(str, experiment_ids))})


def experiment_report_url(experiment_id: int, *, download: bool = False) -> str:
    """An experiment's HTML report: shown in the browser, or saved with `download`."""
    return f"{EXPERIMENTS_URL}/{experiment_id}/report.html" + ("?download=1" if download else "")


def compare_csv_url(view_query: str) -> str:
    """Where the browser downloads the cycle data of a comparison; `view_query` is the
    compare page's own query string ("?ids=1,2&color=…"), so the file matches the view."""
    return COMPARE_CSV_ROUTE + view_query


PROFILES_URL = "/profiles"
NEW_PROFILE_URL = "/profiles/new"


def profile_url(profile_id: int) -> str:
    """A stored profile's own page."""
    return f"{PROFILES_URL}/{profile_id}"


def profile_edit_url(profile_id: int) -> str:
    """The profile editor opened on a stored profile."""
    return f"{PROFILES_URL}/{profile_id}/edit"


BATTERIES_URL = "/batteries"
NEW_BATTERY_URL = "/batteries/new"


def battery_url(battery_id: int) -> str:
    """A battery's own page."""
    return f"{BATTERIES_URL}/{battery_id}"


def new_experiment_url(battery_id: int | None = None, station_id: int | None = None) -> str:
    """The new-experiment form, with a battery and a station chosen already when given."""
    chosen = {"battery": battery_id, "station": station_id}
    query = urlencode({name: value for name, value in chosen.items() if value is not None})
    return f"{EXPERIMENTS_URL}/new{'?' + query if query else ''}"
