"""The units and their stations, one card per computational unit.

Each station row says its window (with units), whether it is online, what it runs now
and how many experiments wait for it, with its Edit, Deprecate and Remove buttons
(Remove only for a station no experiment ever used).
"""

from __future__ import annotations

import datetime as dt

import dash_bootstrap_components as dbc
from dash import dcc, html
from dash.development.base_component import Component

from components.urls import experiment_url, monitor_url, new_experiment_url
from datastore.stations import StationRow, UnitRow
from domain.formatting import format_quantity, format_utc
from domain.liveness import Liveness, liveness
from pages.stations import ids

LIVENESS_COLORS = {
    Liveness.ONLINE: "success",
    Liveness.SILENT: "warning",
    Liveness.OFFLINE: "danger",
    Liveness.NEVER_SEEN: "secondary",
}


def board(units: list[UnitRow], now: dt.datetime, timeout_s: float) -> list[html.Div] | html.P:
    if not units:
        return html.P(
            "No stations yet. Create one, or start a cycler: the node registers the stations "
            "its unit announces.",
            className="text-muted",
        )
    return [_unit_card(unit, now, timeout_s) for unit in units]


def heard(last_heartbeat: dt.datetime | None, now: dt.datetime, timeout_s: float) -> Liveness:
    return liveness(last_heartbeat=last_heartbeat, now=now, timeout_s=timeout_s)


def liveness_badge(verdict: Liveness) -> dbc.Badge:
    return dbc.Badge(verdict.value, color=LIVENESS_COLORS[verdict], className="me-1")


def window_text(station: StationRow) -> str:
    """ "0.00 V – 5.00 V, −5.00 A – 5.00 A"."""
    return (
        f"{format_quantity(station.voltage_min, 'V')} – {format_quantity(station.voltage_max, 'V')}"
        f", {format_quantity(station.current_min, 'A')} – "
        f"{format_quantity(station.current_max, 'A')}"
    )


def _unit_card(unit: UnitRow, now: dt.datetime, timeout_s: float) -> dbc.Card:
    if unit.id is None:
        header = html.Div(html.Strong("Stations without a computational unit"))
    else:
        header = html.Div(
            [
                html.Strong(unit.name, className="me-2"),
                liveness_badge(heard(unit.last_heartbeat, now, timeout_s)),
                html.Span(f"host {unit.host or '–'}", className="text-muted me-3"),
                html.Span(
                    f"last heartbeat {format_utc(unit.last_heartbeat, with_date=True)}",
                    className="text-muted",
                ),
            ],
            className="d-flex flex-wrap align-items-baseline",
        )
    body = (
        dbc.Table(
            [
                html.Thead(
                    html.Tr(
                        [
                            html.Th(column)
                            for column in (
                                "ID",
                                "Name",
                                "Location",
                                "Window",
                                "Online",
                                "Runs now",
                                "Queued",
                                "",
                            )
                        ]
                    )
                ),
                html.Tbody([_station_row(s, now, timeout_s) for s in unit.stations]),
            ],
            size="sm",
            hover=True,
            className="mb-0",
        )
        if unit.stations
        else html.P("No stations.", className="text-muted mb-0")
    )
    return dbc.Card(
        [dbc.CardHeader(header), dbc.CardBody(body)],
        className="mb-3",
        id=f"stations-unit-{unit.id if unit.id is not None else 'none'}",
    )


def _station_row(station: StationRow, now: dt.datetime, timeout_s: float) -> html.Tr:
    name: list[str | Component] = [
        station.name if station.deprecated else dcc.Link(station.name, href=monitor_url(station.id))
    ]
    if station.deprecated:
        name.append(dbc.Badge("deprecated", color="secondary", className="ms-2"))
    if station.current is None:
        runs: str | Component = "–"
    else:
        experiment_id, experiment_name, status = station.current
        runs = dcc.Link(
            f"#{experiment_id} {experiment_name} ({status})", href=experiment_url(experiment_id)
        )
    return html.Tr(
        [
            html.Td(station.id),
            html.Td(name),
            html.Td(station.location or "–"),
            html.Td(window_text(station)),
            html.Td(
                [
                    liveness_badge(heard(station.last_heartbeat, now, timeout_s)),
                    html.Span(station.reported_state or "", className="text-muted"),
                ]
            ),
            html.Td(runs),
            html.Td(station.queued),
            html.Td(_actions(station), className="text-end text-nowrap"),
        ],
        id=f"stations-row-{station.id}",
        className="text-muted" if station.deprecated else "",
    )


def _actions(station: StationRow) -> list[Component]:
    buttons: list[Component] = []
    if not station.deprecated:
        buttons += [
            dbc.Button(
                "Queue…",
                href=new_experiment_url(station_id=station.id),
                color="success",
                outline=True,
                size="sm",
                className="ms-1 stations-queue",
                title="Queue a new experiment on this station",
            ),
            _button("Edit", ids.EDIT, station.id, "primary"),
            _button("Deprecate", ids.DEPRECATE, station.id, "warning"),
        ]
    if station.experiments == 0:
        buttons.append(_button("Remove", ids.REMOVE, station.id, "danger"))
    return buttons


def _button(label: str, kind: str, station_id: int, color: str) -> dbc.Button:
    return dbc.Button(
        label,
        id={"type": kind, "index": station_id},
        color=color,
        outline=True,
        size="sm",
        className="ms-1",
    )
