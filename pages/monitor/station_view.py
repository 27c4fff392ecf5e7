"""The monitor's components for one station, and its station picker.

These build the page as it first arrives, before any refresh: headings, the "now
executing" card, the controls, the graph, the alarms, the stop dialog and the stores.
They read nothing from the database, so the app can also lay them out for checking the
callbacks' ids (see `page.validation_layout`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html

from components.vi_figure import empty_figure
from domain.time_windows import DEFAULT_WINDOW_S, WINDOWS
from pages.monitor import ids

# The refresh selector: (seconds, label); 0 means paused.
PAUSED = 0
REFRESH_PERIODS: tuple[tuple[int, str], ...] = (
    (1, "1 s"),
    (2, "2 s"),
    (5, "5 s"),
    (10, "10 s"),
    (30, "30 s"),
    (PAUSED, "paused"),
)
DEFAULT_REFRESH_S = 5

GRAPH_CONFIG: Any = {"displaylogo": False, "scrollZoom": False, "responsive": True}


def station_view(
    station_id: int,
    name: str,
    subtitle: str,
    extra_options: Sequence[dict[str, str]],
    queue: Any = None,
) -> html.Div:
    """The monitor of one station; each refresh fills it in (`panels.refresh_outputs`).
    `queue` is the queue panel as it first shows (`queue.queue_panel`)."""
    return html.Div(
        [
            html.Div(
                [
                    html.H2(f"Live monitor · {name}", className="mb-0"),
                    html.Span(subtitle, className="text-muted"),
                ],
                className="d-flex align-items-baseline gap-3 flex-wrap mb-2",
            ),
            _now_card(),
            html.Div(id=ids.WARNING),
            html.Div(id=ids.ENDED_SLOT),
            html.Div(queue, id=ids.QUEUE),
            _controls(extra_options),
            dcc.Graph(
                id=ids.GRAPH,
                figure=empty_figure("Loading…"),
                config=GRAPH_CONFIG,
                className="monitor-graph",
            ),
            html.Div(
                [html.H5("Alarms", className="mt-3"), html.Div(id=ids.ALARMS)],
            ),
            _stop_dialog(),
            dcc.Store(id=ids.STATION, data=station_id),
            dcc.Store(id=ids.VIEW),
            dcc.Store(id=ids.EXPERIMENT),
            dcc.Store(id=ids.FOLLOW, data=True),
            dcc.Store(id=ids.ZOOM),
            dcc.Store(id=ids.AXIS_EVENT),
            dcc.Interval(id=ids.INTERVAL, interval=DEFAULT_REFRESH_S * 1000),
        ]
    )


def picker(message: str, grid: Any, *, warn: bool = False) -> html.Div:
    """The station picker: a message (a warning after a bad address) above station cards."""
    return html.Div(
        [
            html.H2("Live monitor"),
            dbc.Alert(message, color="warning", id=ids.UNKNOWN_STATION)
            if warn
            else html.P(message, className="text-muted"),
            grid,
        ]
    )


def _now_card() -> dbc.Card:
    buttons = dbc.ButtonGroup(
        [
            dbc.Button(
                [html.I(className="bi bi-pause-fill me-1"), "Pause"],
                id=ids.PAUSE,
                color="warning",
                outline=True,
                disabled=True,
            ),
            dbc.Button(
                [html.I(className="bi bi-play-fill me-1"), "Resume"],
                id=ids.RESUME,
                color="success",
                outline=True,
                disabled=True,
            ),
            dbc.Button(
                [html.I(className="bi bi-stop-fill me-1"), "Stop…"],
                id=ids.STOP,
                color="danger",
                outline=True,
                disabled=True,
            ),
        ],
        size="sm",
        className="monitor-actions",
    )
    return dbc.Card(
        dbc.CardBody(
            [
                html.Div(
                    [
                        html.Div(
                            [
                                html.Div(
                                    "Now executing",
                                    id=ids.STEP_LABEL,
                                    className="text-muted small",
                                ),
                                html.Div("…", id=ids.STEP, className="monitor-step"),
                            ],
                            className="flex-grow-1",
                        ),
                        html.Div(buttons, className="ms-3"),
                    ],
                    className="d-flex align-items-start",
                ),
                html.Div(id=ids.FACTS, className="small mt-2 d-flex flex-wrap"),
                html.Div(id=ids.COMMAND_FEEDBACK, className="small text-muted mt-1"),
            ]
        ),
        className="mb-2",
    )


def _controls(extra_options: Sequence[dict[str, str]]) -> dbc.Row:
    def labelled(label: str, control: Any, width: Any = "auto") -> dbc.Col:
        return dbc.Col([dbc.Label(label, className="small text-muted mb-0"), control], width=width)

    return dbc.Row(
        [
            labelled(
                "Window (real time)",
                dbc.Select(
                    id=ids.WINDOW,
                    options=[{"label": label, "value": str(value)} for value, label in WINDOWS],
                    value=str(DEFAULT_WINDOW_S),
                    size="sm",
                ),
            ),
            labelled(
                "Refresh",
                dbc.Select(
                    id=ids.REFRESH,
                    options=[
                        {"label": label, "value": str(value)} for value, label in REFRESH_PERIODS
                    ],
                    value=str(DEFAULT_REFRESH_S),
                    size="sm",
                ),
            ),
            labelled(
                "Also show",
                dcc.Dropdown(
                    id=ids.EXTRAS,
                    options=list(extra_options),
                    value=[],
                    multi=True,
                    placeholder="power, temperatures, cell voltages…",
                    className="monitor-extras",
                ),
                width=True,
            ),
            dbc.Col(
                dbc.ButtonGroup(
                    [
                        dbc.Button(
                            [html.I(className="bi bi-skip-end-fill me-1"), "Follow live"],
                            id=ids.FOLLOW_BUTTON,
                            color="secondary",
                            outline=True,
                            size="sm",
                            disabled=True,
                        ),
                        dbc.Button(
                            [html.I(className="bi bi-download me-1"), "Download CSV"],
                            id=ids.DOWNLOAD_BUTTON,
                            # A plain link to the export route (streamed), not a page.
                            external_link=True,
                            disabled=True,
                            color="primary",
                            outline=True,
                            size="sm",
                        ),
                    ]
                ),
                width="auto",
                className="align-self-end",
            ),
        ],
        className="g-2 mb-1 align-items-end",
    )


def _stop_dialog() -> dbc.Modal:
    return dbc.Modal(
        [
            dbc.ModalHeader(dbc.ModalTitle("Stop the experiment?")),
            dbc.ModalBody(
                "The cycler ends the experiment now and it is marked finished. "
                "A stopped experiment cannot be resumed."
            ),
            dbc.ModalFooter(
                [
                    dbc.Button("Keep running", id=ids.STOP_CANCEL, color="secondary"),
                    dbc.Button("Stop the experiment", id=ids.STOP_CONFIRM, color="danger"),
                ]
            ),
        ],
        id=ids.STOP_DIALOG,
        is_open=False,
    )
