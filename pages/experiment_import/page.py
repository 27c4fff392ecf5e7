"""Import experiment, `/experiments/import`: a file measured elsewhere becomes an experiment.

1. The chosen file is posted by assets/upload.js to the upload route, with a progress
   bar, and lands on disk under a token (files reach a gigabyte: never through a
   callback).
2. The preview (`domain.importing.preview_file`) shows the format, the first rows and
   each column as the importer reads it; the user may map a column to a quantity or a
   channel, change its unit or ignore it, and preview again.
3. The details: name, battery, optional profile, description, and a start time (UTC)
   for files that carry only elapsed time.
4. The import runs in a thread of this worker (components/import_runner.py); the page
   polls its job row for the stage and rows, can cancel it, and ends with a link to the
   new experiment or the file's problems.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, callback, ctx, dcc, html, no_update

from components import context
from components.import_runner import ImportRequest, runner
from components.uploads import (
    ACCEPTED_EXTENSIONS,
    claim_upload,
    describe_size,
    find_upload,
    upload_root,
)
from components.urls import IMPORT_UPLOAD_URL, IMPORT_URL, experiment_url
from datastore.catalog import NotFoundError, get_battery, get_profile
from datastore.import_jobs import create_job
from datastore.queries import list_batteries, list_profiles
from domain.import_form import (
    EXTRA,
    MappingRow,
    check_details,
    choices_from_rows,
    needs_start_time,
    row_of,
    target_options,
)
from domain.import_jobs import JobState, JobStatus
from domain.importing import (
    IMPORT_FORMATS,
    ColumnChoice,
    FilePreview,
    ImportFileError,
    PreviewColumn,
    preview_file,
)
from pages.experiment_import import ids

dash.register_page(__name__, path=IMPORT_URL, name="Import", title="Import experiment", order=4)

POLL_MS = 1000
AUTO = "auto"
HIDDEN = {"display": "none"}
SHOWN: dict[str, str] = {}
UPLOAD_TAKEN = "The uploaded file is being imported already, or is gone; choose it again."


# ---------------------------------------------------------------- layout


def layout(**_params: str) -> html.Div:
    with context.session() as session:
        batteries = list_batteries(session)
        profiles = list_profiles(session)
    return _page(batteries, profiles)


def validation_layout() -> html.Div:
    """The page's components without data, for checking the callbacks' ids; the mapping
    table with one column, for its pattern-matching ids."""
    page = _page([], [])
    example = FilePreview(
        "csv", (PreviewColumn("Voltage / V", "voltage", "Voltage / V", "V", "V"),), (), None, None
    )
    table = next(c for c in page._traverse() if getattr(c, "id", None) == ids.MAPPING_TABLE)
    table.children = _mapping_table(example)
    return page


def _page(batteries: list[dict[str, Any]], profiles: list[dict[str, Any]]) -> html.Div:
    return html.Div(
        [
            html.H2("Import experiment"),
            html.P(
                "An experiment measured elsewhere, from a file: CSV (this app's export, "
                "BDF labels or a cycler's headers), BDF parquet, Neware .nda/.ndax, "
                "BioLogic .mpr, or a ZIP of several. Units are converted to SI.",
                className="text-muted",
            ),
            _file_card(),
            _preview_card(),
            _details_card(batteries, profiles),
            _job_card(),
            dcc.Store(id=ids.UPLOAD),
            dcc.Store(id=ids.MAPPING),
            dcc.Store(id=ids.JOB),
            dcc.Interval(id=ids.INTERVAL, interval=POLL_MS, disabled=True),
        ]
    )


def _card(title: str, body: list[Any], card_id: str | None = None, shown: bool = True) -> dbc.Card:
    options: dict[str, Any] = {"id": card_id} if card_id else {}
    return dbc.Card(
        [dbc.CardHeader(title), dbc.CardBody(body)],
        className="mb-3",
        style=SHOWN if shown else HIDDEN,
        **options,
    )


def _file_card() -> dbc.Card:
    return _card(
        "1. File",
        [
            # assets/upload.js puts the <input type="file"> in here (Dash has no file input
            # that leaves the file alone) and posts the chosen file to the upload route.
            html.Div(
                id=ids.FILE_HOLDER,
                **{  # type: ignore[arg-type]  # data-* attributes are str, Dash types ** wider
                    "data-input-id": ids.FILE,
                    "data-accept": ",".join(ACCEPTED_EXTENSIONS),
                    "data-upload-url": IMPORT_UPLOAD_URL,
                    "data-store-id": ids.UPLOAD,
                    "data-progress-id": ids.UPLOAD_PROGRESS,
                    "data-message-id": ids.UPLOAD_MESSAGE,
                },
            ),
            dbc.FormText(f"Accepted: {' '.join(ACCEPTED_EXTENSIONS)}"),
            dbc.Progress(id=ids.UPLOAD_PROGRESS, value=0, className="mt-2", style=HIDDEN),
            html.Div(id=ids.UPLOAD_MESSAGE, className="small mt-1"),
        ],
    )


def _preview_card() -> dbc.Card:
    formats = [{"label": "from the file name", "value": AUTO}] + [
        {"label": label, "value": key} for key, label in IMPORT_FORMATS.items()
    ]
    return _card(
        "2. Preview and columns",
        [
            dbc.Row(
                dbc.Col(
                    [
                        dbc.Label("Format", html_for=ids.FORMAT),
                        dbc.Select(id=ids.FORMAT, options=formats, value=AUTO),
                    ],
                    md=5,
                ),
                className="mb-2",
            ),
            html.Div(id=ids.PREVIEW),
            html.H6("Columns", className="mt-3"),
            html.P(
                "Each column of the file and what it becomes. Change what a column is, "
                "its unit (as written in the file; it is converted to the SI unit), or "
                "ignore it, then preview again.",
                className="small text-muted",
            ),
            html.Div(id=ids.MAPPING_TABLE),
            dbc.Button("Preview with these columns", id=ids.APPLY, color="secondary", size="sm"),
            html.Div(id=ids.MAPPING_MESSAGE, className="text-danger small mt-1"),
        ],
        ids.PREVIEW_CARD,
        shown=False,
    )


def _field(label: str, control: Any, feedback_id: str | None = None, **width: Any) -> dbc.Col:
    parts = [dbc.Label(label, html_for=control.id), control]
    if feedback_id:
        parts.append(dbc.FormFeedback(id=feedback_id, type="invalid"))
    return dbc.Col(parts, className="mb-2", **width)


def _details_card(batteries: list[dict[str, Any]], profiles: list[dict[str, Any]]) -> dbc.Card:
    battery_options = [{"label": "choose a battery", "value": ""}] + [
        {"label": f"{b['name']} ({b['technology']}, no. {b['id']})", "value": str(b["id"])}
        for b in batteries
    ]
    profile_options = [{"label": "none", "value": ""}] + [
        {"label": f"{p['name']} (no. {p['id']})", "value": str(p["id"])} for p in profiles
    ]
    return _card(
        "3. Details",
        [
            dbc.Row(
                [
                    _field("Name", dbc.Input(id=ids.NAME, maxLength=200), ids.NAME_FEEDBACK, md=6),
                    _field(
                        "Battery",
                        dbc.Select(id=ids.BATTERY, options=battery_options, value=""),
                        ids.BATTERY_FEEDBACK,
                        md=6,
                    ),
                ]
            ),
            dbc.Row(
                [
                    _field(
                        "Profile (optional)",
                        dbc.Select(id=ids.PROFILE, options=profile_options, value=""),
                        ids.PROFILE_FEEDBACK,
                        md=6,
                    ),
                    _field("Description", dbc.Textarea(id=ids.DESCRIPTION, rows=1), md=6),
                ]
            ),
            dbc.Row(
                _field(
                    "Start time of the first sample (UTC)",
                    dbc.Input(id=ids.START, placeholder="2026-11-25 10:00:00 (empty: now)"),
                    ids.START_FEEDBACK,
                    md=6,
                ),
                id=ids.START_ROW,
                style=HIDDEN,
            ),
            dbc.Button("Import", id=ids.IMPORT, color="primary", disabled=True),
            html.Div(id=ids.IMPORT_MESSAGE, className="text-danger small mt-1"),
        ],
        ids.DETAILS_CARD,
        shown=False,
    )


def _job_card() -> dbc.Card:
    return _card(
        "4. Import",
        [
            dbc.Progress(id=ids.PROGRESS, value=0, striped=True, animated=True),
            html.Div(id=ids.STATUS, className="small mt-1"),
            dbc.Button(
                "Cancel", id=ids.CANCEL, color="danger", outline=True, size="sm", className="mt-2"
            ),  # fmt: skip
            html.Div(id=ids.RESULT, className="mt-2"),
        ],
        ids.JOB_CARD,
        shown=False,
    )


# ---------------------------------------------------------------- preview and mapping


def _uploaded_path(upload: dict[str, Any] | None) -> Path | None:
    if not upload:
        return None
    return find_upload(upload_root(context.current().settings), str(upload.get("token", "")))


def _format(value: str | None) -> str | None:
    return None if not value or value == AUTO else value


def _max_member_bytes() -> int:
    """The largest file a ZIP may unpack to: the largest file the import takes."""
    return context.current().settings.web.max_upload_bytes


def _preview(path: Path, format_value: str | None, choices: list[ColumnChoice]) -> FilePreview:
    return preview_file(
        path, format=_format(format_value), choices=choices, max_member_bytes=_max_member_bytes()
    )


def _mapping_state(preview: FilePreview, choices: list[ColumnChoice]) -> dict[str, Any]:
    rows = [row_of(column) for column in preview.columns]
    return {
        "sources": [column.source for column in preview.columns],
        "shown": [[row.target, row.name, row.unit] for row in rows],
        "choices": [[c.source, c.label, c.ignore] for c in choices],
        "needs_start": needs_start_time(preview.columns),
    }


def _choices(state: dict[str, Any] | None) -> list[ColumnChoice]:
    return [
        ColumnChoice(source, label, ignore)
        for source, label, ignore in (state or {}).get("choices", [])
    ]


@callback(
    Output(ids.PREVIEW_CARD, "style"),
    Output(ids.PREVIEW, "children"),
    Output(ids.MAPPING_TABLE, "children"),
    Output(ids.MAPPING, "data"),
    Output(ids.MAPPING_MESSAGE, "children"),
    Output(ids.DETAILS_CARD, "style"),
    Output(ids.START_ROW, "style"),
    Output(ids.IMPORT, "disabled"),
    Input(ids.UPLOAD, "data"),
    Input(ids.FORMAT, "value"),
    Input(ids.APPLY, "n_clicks"),
    State({"type": ids.MAP_TARGET, "column": ALL}, "value"),
    State({"type": ids.MAP_NAME, "column": ALL}, "value"),
    State({"type": ids.MAP_UNIT, "column": ALL}, "value"),
    State(ids.MAPPING, "data"),
    prevent_initial_call=True,
)
def show_preview(
    upload: dict[str, Any] | None,
    format_value: str | None,
    _apply: int | None,
    targets: list[str | None],
    names: list[str | None],
    units: list[str | None],
    state: dict[str, Any] | None,
) -> tuple[Any, ...]:
    """Preview the uploaded file with the user's column choices."""
    if not upload:
        return HIDDEN, None, None, None, "", HIDDEN, HIDDEN, True
    path = _uploaded_path(upload)
    if path is None:
        gone = dbc.Alert("The uploaded file is gone; choose it again.", color="warning")
        return SHOWN, gone, None, None, "", HIDDEN, HIDDEN, True
    choices: list[ColumnChoice] = []
    if ctx.triggered_id == ids.APPLY and state:
        edited = [
            MappingRow(target or EXTRA, name or "", unit or "")
            for target, name, unit in zip(targets, names, units, strict=True)
        ]
        shown = [MappingRow(*row) for row in state["shown"]]
        earlier = {choice.source: choice for choice in _choices(state)}
        choices, problems = choices_from_rows(state["sources"], shown, edited, earlier)
        if problems:
            return (no_update,) * 4 + ("; ".join(problems.values()),) + (no_update,) * 3
    try:
        preview = _preview(path, format_value, choices)
    except ImportFileError as error:
        message = _problem_list("The file cannot be read:", str(error))
        return SHOWN, message, None, None, "", HIDDEN, HIDDEN, True
    state = _mapping_state(preview, choices)
    start_style = SHOWN if state["needs_start"] else HIDDEN
    return (
        SHOWN,
        _preview_view(preview, str(upload.get("filename", path.name))),
        _mapping_table(preview),
        state,
        "",
        SHOWN,
        start_style,
        bool(preview.problems),
    )


def _problem_list(title: str, text: str) -> dbc.Alert:
    return dbc.Alert(
        [html.Strong(title), html.Ul([html.Li(line) for line in text.splitlines() if line])],
        color="danger",
        className="import-problems",
    )


def _preview_view(preview: FilePreview, filename: str) -> html.Div:
    facts = [
        f"{filename}: {describe_size(preview.size_bytes)}, read as {IMPORT_FORMATS[preview.format]}.",
    ]
    if preview.vendor_cycle_column:
        facts.append(f"Cycles from the column {preview.vendor_cycle_column!r}.")
    if preview.vendor_step_column:
        facts.append(f"Steps from the column {preview.vendor_step_column!r}.")
    parts: list[Any] = [html.P(" ".join(facts), className="small")]
    if preview.notes:
        parts.append(html.Ul([html.Li(note) for note in preview.notes], className="small"))
    if preview.problems:
        parts.append(
            _problem_list("The file cannot be imported as mapped:", "\n".join(preview.problems))
        )
    headers = [column.source for column in preview.columns]
    parts.append(
        html.Div(
            dbc.Table(
                [
                    html.Thead(html.Tr([html.Th(header) for header in headers])),
                    html.Tbody([html.Tr([html.Td(cell) for cell in row]) for row in preview.rows]),
                ],
                size="sm",
                bordered=True,
                className="small mb-0",
            ),
            className="table-responsive",
            style={"maxHeight": "18rem"},
        )
    )
    return html.Div(parts)


def _mapping_table(preview: FilePreview) -> dbc.Table:
    options = [{"label": label, "value": value} for value, label in target_options()]
    rows = []
    for index, column in enumerate(preview.columns):
        shown = row_of(column)
        rows.append(
            html.Tr(
                [
                    html.Td(html.Code(column.source)),
                    html.Td(
                        dbc.Select(
                            id={"type": ids.MAP_TARGET, "column": index},
                            options=options,
                            value=shown.target,
                            size="sm",
                        )
                    ),
                    html.Td(
                        dbc.Input(
                            id={"type": ids.MAP_NAME, "column": index},
                            value=shown.name,
                            placeholder="channel name",
                            size="sm",
                        )
                    ),
                    html.Td(
                        dbc.Input(
                            id={"type": ids.MAP_UNIT, "column": index},
                            value=shown.unit,
                            placeholder="unit",
                            size="sm",
                        )
                    ),
                    html.Td(column.label or "–"),
                    html.Td(column.si_unit or "–"),
                    html.Td(column.note, className="text-muted"),
                ]
            )
        )
    head = ["Column in the file", "Becomes", "Channel name", "Unit in the file", "Stored as",
            "SI unit", "Note"]  # fmt: skip
    return dbc.Table(
        [html.Thead(html.Tr([html.Th(text) for text in head])), html.Tbody(rows)],
        size="sm",
        className="small align-middle",
    )


# ---------------------------------------------------------------- import


@callback(
    Output(ids.NAME, "invalid"),
    Output(ids.NAME_FEEDBACK, "children"),
    Output(ids.BATTERY, "invalid"),
    Output(ids.BATTERY_FEEDBACK, "children"),
    Output(ids.PROFILE, "invalid"),
    Output(ids.PROFILE_FEEDBACK, "children"),
    Output(ids.START, "invalid"),
    Output(ids.START_FEEDBACK, "children"),
    Output(ids.IMPORT_MESSAGE, "children"),
    Output(ids.JOB, "data"),
    Output(ids.INTERVAL, "disabled"),
    Output(ids.JOB_CARD, "style"),
    Output(ids.IMPORT, "disabled", allow_duplicate=True),
    Output(ids.CANCEL, "disabled", allow_duplicate=True),
    Output(ids.CANCEL, "children", allow_duplicate=True),
    Input(ids.IMPORT, "n_clicks"),
    State(ids.NAME, "value"),
    State(ids.BATTERY, "value"),
    State(ids.PROFILE, "value"),
    State(ids.DESCRIPTION, "value"),
    State(ids.START, "value"),
    State(ids.UPLOAD, "data"),
    State(ids.FORMAT, "value"),
    State(ids.MAPPING, "data"),
    prevent_initial_call=True,
)
def start_import(
    _clicks: int | None,
    name: str | None,
    battery: str | None,
    profile: str | None,
    description: str | None,
    start: str | None,
    upload: dict[str, Any] | None,
    format_value: str | None,
    state: dict[str, Any] | None,
) -> tuple[Any, ...]:
    """Check the details on the server, then start the import in the background."""
    details, problems = check_details(
        name=name,
        battery_id=battery,
        profile_id=profile,
        description=description,
        start_text=start,
        needs_start=bool(state and state.get("needs_start")),
    )
    if details is not None:
        with context.session() as session:
            for field, ask, wanted in (
                ("battery", get_battery, details.battery_id),
                ("profile", get_profile, details.profile_id),
            ):
                if wanted is None:
                    continue
                try:
                    ask(session, wanted)
                except NotFoundError:
                    problems[field] = f"There is no {field} {wanted}; reload the page."
    message = ""
    path = _uploaded_path(upload)
    choices = _choices(state)
    if path is None:
        message = UPLOAD_TAKEN
    elif not problems:
        try:
            preview = _preview(path, format_value, choices)
        except ImportFileError as error:
            message = str(error)
        else:
            if preview.problems:
                message = "The file cannot be imported as mapped: " + "; ".join(preview.problems)
    fields = (
        "name" in problems, problems.get("name"),
        "battery" in problems, problems.get("battery"),
        "profile" in problems, problems.get("profile"),
        "start" in problems, problems.get("start"),
    )  # fmt: skip
    if problems or message or details is None or path is None:
        return (*fields, message, no_update, True, no_update, no_update, no_update, no_update)
    assert upload is not None
    # One upload, one import: a second click (or a second tab) finds it claimed.
    claimed = claim_upload(upload_root(context.current().settings), str(upload["token"]))
    if claimed is None:
        message = UPLOAD_TAKEN
        return (*fields, message, no_update, True, no_update, no_update, no_update, no_update)
    path = claimed
    engine = context.current().store.engine
    job_id = create_job(
        engine,
        token=str(upload["token"]),
        filename=str(upload.get("filename") or path.name),
        bytes_total=path.stat().st_size,
    )
    runner().start(
        job_id,
        ImportRequest(
            path=path,
            name=details.name,
            battery_id=details.battery_id,
            profile_id=details.profile_id,
            description=details.description,
            format=_format(format_value),
            choices=tuple(choices),
            start_time=details.start_time,
            max_member_bytes=_max_member_bytes(),
        ),
    )
    return (*fields, "", {"id": job_id}, False, SHOWN, True, False, "Cancel")


@callback(
    Output(ids.PROGRESS, "value"),
    Output(ids.PROGRESS, "label"),
    Output(ids.PROGRESS, "color"),
    Output(ids.STATUS, "children"),
    Output(ids.CANCEL, "style"),
    Output(ids.RESULT, "children"),
    Output(ids.INTERVAL, "disabled", allow_duplicate=True),
    Input(ids.INTERVAL, "n_intervals"),
    State(ids.JOB, "data"),
    prevent_initial_call=True,
)
def follow_job(_tick: int | None, job: dict[str, Any] | None) -> tuple[Any, ...]:
    """Show how far the import has got; at its end, the experiment or the problems."""
    if not job:
        return (no_update,) * 7
    status = runner().status(int(job["id"]))
    if status is None:
        return 0, "", "danger", "This import is unknown.", HIDDEN, None, True
    return _job_view(status)


def job_status_text(status: JobStatus) -> str:
    """One line on the job: its stage while it runs, how it ended once it has."""
    rows = f"{status.rows_done:,} rows".replace(",", "\u202f")
    if status.state is JobState.QUEUED:
        return "Waiting to start"
    if status.state is JobState.RUNNING:
        return f"{status.stage[:1].upper()}{status.stage[1:]}: {rows} so far"
    if status.state is JobState.DONE:
        return f"Imported {rows}"
    if status.state is JobState.CANCELLED:
        return f"Cancelled after {rows}; nothing was stored"
    return f"Failed after {rows}; nothing was stored"


def _job_view(status: JobStatus) -> tuple[Any, ...]:
    fraction = status.fraction
    percent = round(100 * fraction) if fraction is not None else 100
    label = f"{percent} %" if fraction is not None else ""
    text = job_status_text(status)
    if status.bytes_total:
        text += f" ({describe_size(status.bytes_done)} of {describe_size(status.bytes_total)})"
    if not status.state.is_finished:
        return percent, label, "primary", text, SHOWN, None, False
    if status.state is JobState.DONE and status.experiment_id is not None:
        link = html.A(
            f"Open the imported experiment no. {status.experiment_id}",
            href=experiment_url(status.experiment_id),
            id=ids.RESULT_LINK,
        )
        result: Any = dbc.Alert(["Imported. ", link], color="success")
        return 100, "100 %", "success", text, HIDDEN, result, True
    if status.state is JobState.CANCELLED:
        result = dbc.Alert(status.message or "Cancelled: nothing was stored.", color="secondary")
        return percent, label, "secondary", text, HIDDEN, result, True
    result = _problem_list("The import failed; nothing was stored.", status.message)
    return percent, label, "danger", text, HIDDEN, result, True


@callback(
    Output(ids.CANCEL, "disabled"),
    Output(ids.CANCEL, "children"),
    Input(ids.CANCEL, "n_clicks"),
    State(ids.JOB, "data"),
    prevent_initial_call=True,
)
def cancel_import(_clicks: int | None, job: dict[str, Any] | None) -> tuple[bool, str]:
    """Ask the import to stop; it rolls back and the page shows it cancelled."""
    if not job:
        return False, "Cancel"
    runner().cancel(int(job["id"]))
    return True, "Cancelling…"
