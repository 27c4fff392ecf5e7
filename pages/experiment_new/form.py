"""The new-experiment form's layout, and the pieces the callbacks fill in.

The form reads nothing itself: `page.layout` gives it the options, and
`page.validation_layout` lays it out empty for checking the callbacks' ids. Every field
has a slot below it for the server's message about it (`ids.error(field)`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html

from components.profile_text import TextCheck, demand_summary
from datastore.experiment_choices import ProfileChoice
from domain.experiment_details import EXPERIMENT_FIELDS
from domain.profiles import MAX_TEXT_LENGTH, Compatibility, format_value
from pages.experiment_new import ids
from pages.experiment_new.choices import Option, technology_options
from pages.experiment_new.submit import STORED, WRITTEN

# The fields the server may comment on, each with its message slot.
FIELDS = ("battery", "station", "profile", "name", "form")

PROFILE_PLACEHOLDER = "REPEAT 10\n    CC, 1C, VOLTAGE, 4.2\n    CV, 4.2, CURRENT, 0.05C\n    CC, -1C, VOLTAGE, 3.0\nEND"


def _error(field: str) -> html.Div:
    return html.Div(id=ids.error(field), className="small text-danger mt-1")


def _section(number: int, title: str, body: list[Any], **kwargs: Any) -> html.Div:
    return html.Div(
        [html.H5(f"{number}. {title}", className="mt-4 mb-2"), *body],
        **kwargs,
    )


def form(
    *,
    technology: str | None = None,
    battery: str | None = None,
    battery_options: Sequence[Option] = (),
    station: str | None = None,
    station_options: Sequence[Option] = (),
) -> html.Div:
    """The whole page: the six choices in order, then Queue."""
    return html.Div(
        [
            html.H2("New experiment"),
            html.P(
                "Choose the battery, the station and a profile that fits both; the experiment "
                "is queued on the station and starts when the station and the battery are free.",
                className="text-muted",
            ),
            dbc.Row(
                dbc.Col(
                    [
                        _section(
                            1,
                            "Technology",
                            [
                                dbc.Select(
                                    id=ids.TECHNOLOGY,
                                    options=technology_options(),
                                    value=technology,
                                    placeholder="Choose a technology",
                                )
                            ],
                        ),
                        _section(
                            2,
                            "Battery",
                            [
                                dbc.Select(
                                    id=ids.BATTERY,
                                    options=list(battery_options),
                                    value=battery,
                                    placeholder="Choose a battery",
                                ),
                                _error("battery"),
                            ],
                        ),
                        _section(
                            3,
                            "Station",
                            [
                                dbc.Select(
                                    id=ids.STATION,
                                    options=list(station_options),
                                    value=station,
                                    placeholder="Choose a station",
                                ),
                                html.Div(id=ids.STATION_NOTE, className="small mt-1"),
                                _error("station"),
                            ],
                        ),
                        _section(4, "Profile", _profile_section()),
                        _section(
                            5,
                            "Name and description",
                            [
                                dbc.Label("Name", html_for=ids.NAME),
                                dbc.Input(
                                    id=ids.NAME, maxlength=200, placeholder="e.g. ageing at 25 °C"
                                ),
                                _error("name"),
                                dbc.Label(
                                    "Description (optional)",
                                    html_for=ids.DESCRIPTION,
                                    className="mt-2",
                                ),
                                dbc.Textarea(id=ids.DESCRIPTION, rows=2),
                            ],
                        ),
                        *[_conditions(technology_key) for technology_key in EXPERIMENT_FIELDS],
                        html.Div(
                            [
                                dbc.Button(
                                    [html.I(className="bi bi-send me-1"), "Queue experiment"],
                                    id=ids.SUBMIT,
                                    color="primary",
                                ),
                                _error("form"),
                            ],
                            className="mt-4",
                        ),
                    ],
                    lg=9,
                    xl=7,
                )
            ),
            dcc.Store(id=ids.SAVED_PROFILE),
            dcc.Location(id=ids.NAVIGATE, refresh="callback-nav"),
        ]
    )


def _profile_section() -> list[Any]:
    stored = html.Div(
        [
            dbc.Select(id=ids.PROFILE, options=[], placeholder="Choose a profile"),
            html.Div(id=ids.PROFILE_HINT, className="small text-muted mt-1"),
            dbc.Button(
                "Why are others not listed?",
                id=ids.WHY_TOGGLE,
                color="link",
                size="sm",
                className="px-0",
            ),
            dbc.Collapse(html.Div(id=ids.WHY_LIST), id=ids.WHY_COLLAPSE, is_open=False),
        ],
        id=ids.STORED_SECTION,
    )
    written = html.Div(
        [
            dcc.Upload(
                html.Div(
                    [
                        html.I(className="bi bi-upload me-1"),
                        "Drop a .txt profile here or click to choose one",
                    ]
                ),
                id=ids.UPLOAD,
                accept=".txt,text/plain",
                max_size=MAX_TEXT_LENGTH * 4,
                className="border border-secondary-subtle rounded p-2 text-center small text-muted mb-2",
            ),
            html.Div(id=ids.UPLOAD_NOTE, className="small text-danger"),
            dbc.Textarea(
                id=ids.PROFILE_TEXT,
                rows=8,
                placeholder=PROFILE_PLACEHOLDER,
                className="font-monospace",
                spellcheck=False,
                # Checked as typed, once the typing pauses; Enter makes a new line.
                debounce=300,
                submit_on_enter=False,
            ),
            html.Div(id=ids.PROFILE_CHECK, className="small mt-1"),
            dbc.InputGroup(
                [
                    dbc.Input(
                        id=ids.NEW_PROFILE_NAME,
                        placeholder="Name of the new profile",
                        maxlength=100,
                    ),
                    dbc.Button("Save profile", id=ids.SAVE_PROFILE, color="secondary"),
                ],
                className="mt-2",
            ),
        ],
        id=ids.WRITE_SECTION,
        style={"display": "none"},
    )
    return [
        dbc.RadioItems(
            id=ids.PROFILE_SOURCE,
            options=[
                {"label": "A stored profile that fits", "value": STORED},
                {"label": "Write or upload one", "value": WRITTEN},
            ],
            value=STORED,
            inline=True,
            className="mb-2",
        ),
        stored,
        written,
        # Outside the written profile's section, which closes once the profile is saved.
        html.Div(id=ids.SAVE_FEEDBACK, className="small mt-1"),
        _error("profile"),
    ]


def _conditions(technology: str) -> html.Div:
    """The run conditions of one technology, shown only when its battery is chosen."""
    rows = []
    for field in EXPERIMENT_FIELDS[technology]:
        rows.append(
            dbc.Row(
                [
                    dbc.Label(
                        f"{field.label} ({field.unit})", html_for=ids.condition(field.name), width=5
                    ),
                    dbc.Col(
                        [
                            dbc.InputGroup(
                                [
                                    dbc.Input(
                                        id=ids.condition(field.name),
                                        type="text",
                                        inputmode="decimal",
                                    ),
                                    dbc.InputGroupText(field.unit),
                                ]
                            ),
                            _error(field.name),
                        ],
                        width=7,
                    ),
                ],
                className="mb-2",
            )
        )
    return _section(
        6,
        "Run conditions",
        [
            html.P(
                "Stored with the experiment and shown on its page and report.",
                className="small text-muted",
            ),
            *rows,
        ],
        id=ids.conditions(technology),
        style={"display": "none"},
    )


# ---------------------------------------------------------------- what the callbacks show


def why_list(others: Sequence[ProfileChoice]) -> Any:
    """Each stored profile that does not fit, with every bound it exceeds."""
    if not others:
        return html.P(
            "Every stored profile fits this battery and station.", className="small text-muted"
        )
    return html.Ul(
        [
            html.Li(
                [
                    html.Span(f"{profile.name} (id {profile.id})", className="fw-semibold"),
                    html.Ul(
                        [html.Li(problem) for problem in profile.problems]
                        or [html.Li("does not fit")]
                    ),
                ]
            )
            for profile in others
        ],
        className="small",
    )


def _range(low: float | None, high: float | None, unit: str) -> str | None:
    if low is None or high is None:
        return None
    return f"{format_value(low)} to {format_value(high)} {unit}"


def text_check(check: TextCheck, verdict: Compatibility | None) -> Any:
    """The live verdict on the written text (`verdict`: on the chosen battery and station)."""
    if check.problems:
        return html.Div(
            [
                html.Div("The profile has problems:", className="text-danger"),
                html.Ul(
                    [html.Li(problem) for problem in check.problems],
                    id=ids.PROFILE_PROBLEMS,
                    className="text-danger mb-0",
                ),
            ]
        )
    if check.demand is None:
        return html.Span(
            "Type a profile or upload a .txt file; it is checked as you type.",
            className="text-muted",
        )
    lines: list[Any] = [
        html.Div(
            f"Valid: {check.step_count} steps once expanded. Envelope: {demand_summary(check.demand)}.",
            className="text-success",
        )
    ]
    if verdict is None:
        lines.append(
            html.Div(
                "Choose a battery and a station to check that it fits.",
                className="text-muted",
                id=ids.PROFILE_VERDICT,
            )
        )
    elif verdict.fits:
        envelope = verdict.envelope
        resolved = ", ".join(
            part
            for part in (
                _range(envelope.voltage_min, envelope.voltage_max, "V"),
                _range(envelope.current_min, envelope.current_max, "A"),
            )
            if part
        )
        lines.append(
            html.Div(
                "Fits this battery and station"
                + (f" (on this battery: {resolved})." if resolved else "."),
                className="text-success",
                id=ids.PROFILE_VERDICT,
            )
        )
    else:
        lines.append(
            html.Div(
                [
                    "Does not fit this battery and station:",
                    html.Ul([html.Li(p) for p in verdict.problems], className="mb-0"),
                ],
                className="text-danger",
                id=ids.PROFILE_VERDICT,
            )
        )
    return html.Div(lines)
