"""An experiment's report: one HTML file that opens anywhere, with no network.

It holds the facts, the profile and its steps, the voltage and current over the whole
experiment and the cycle plots as interactive figures, the cycle table and the alarms.
The cycle figures are the experiment page's (`components.cycle_figures`), with the
curves of the first, middle and last cycle. Plotly's JavaScript is written into the file
once; every figure is drawn from JSON in the same file. Every piece of text from the database (names, descriptions, channel
names, alarm messages, the profile source) is escaped, in the HTML and in the figures'
legends, so nothing in the data can add markup, links or scripts to the report.

The web app serves it at `/experiments/<id>/report.html`; `bem experiment report ID`
writes the same file.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from plotly.offline import get_plotlyjs
from sqlalchemy import Engine

from components.cycle_figures import (
    capacity_figure,
    chosen_cycle_curves,
    default_cycles,
    efficiency_figure,
    mean_voltage_figure,
)
from components.vi_figure import build_figure, trace_defs
from datastore.cycles import CycleRow, experiment_cycles
from datastore.experiments import ExperimentDetail, experiment_detail
from datastore.series import DEFAULT_MAX_POINTS, read_series
from datastore.telemetry import ALARM_LIMIT, AlarmRecord, experiment_alarms, step_plan
from domain.cycles import retention
from domain.experiment_details import describe_details
from domain.formatting import format_duration, format_utc, plot_text
from domain.step_plan import StepPlan, describe_instruction

STEPS_LISTED = 400
FIGURE_HEIGHT_PX = 420
_PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem;
       color: #212529; max-width: 1200px; }
h1 { margin-bottom: 0.2rem; } h2 { margin-top: 2rem; border-bottom: 1px solid #dee2e6; }
.muted { color: #6c757d; } .status { font-weight: 600; }
table { border-collapse: collapse; font-size: 0.9rem; }
th, td { padding: 0.25rem 0.6rem; border-bottom: 1px solid #e9ecef; text-align: left; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: 0.2rem 1.2rem; }
dl.facts dt { color: #6c757d; } dl.facts dd { margin: 0; }
pre { background: #f8f9fa; border: 1px solid #dee2e6; padding: 0.6rem; }
.scroll { max-height: 420px; overflow-y: auto; }
.reason { background: #f8d7da; padding: 0.5rem 0.8rem; border-radius: 4px; }
"""


def experiment_report(engine: Engine, experiment_id: int, *, now: dt.datetime | None = None) -> str:
    """The report of one experiment as a complete HTML document.

    Raises LookupError when there is no such experiment.
    """
    detail = experiment_detail(engine, experiment_id)
    if detail is None:
        raise LookupError(f"experiment {experiment_id} does not exist")
    plan = step_plan(engine, experiment_id, detail.created_at)
    alarms = experiment_alarms(engine, experiment_id, ALARM_LIMIT)
    cycles = experiment_cycles(engine, experiment_id)
    figures = [("Voltage and current", _vi_figure(engine, detail))]
    figures += _cycle_figures(engine, detail, cycles)
    written = now or dt.datetime.now(dt.UTC)
    body = [
        _header(detail, written),
        _section("Facts", _facts(detail)),
        _section("Profile and steps", _steps(detail, plan)),
        *(
            _section(title, _figure(f"figure-{index}", figure))
            for index, (title, figure) in enumerate(figures)
            if figure is not None
        ),  # fmt: skip
        _section("Cycles", _cycle_table(cycles)),
        _section("Alarms", _alarms(alarms, detail.alarm_count)),
    ]
    return _document(f"Report: {detail.name}", body)


# ---------------------------------------------------------------- the document


def _document(title: str, body: Iterable[str]) -> str:
    # Plotly's script is inline: the file must open on a machine with no network.
    plotly_js = get_plotlyjs().replace("</script", "<\\/script")
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{_text(title)}</title>",
            f"<style>{_STYLE}</style>",
            f'<script type="text/javascript">{plotly_js}</script>',
            "</head>",
            "<body>",
            *body,
            "</body>",
            "</html>",
            "",
        ]
    )


def _text(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _section(title: str, content: str) -> str:
    return f"<section><h2>{_text(title)}</h2>\n{content}\n</section>"


def _header(detail: ExperimentDetail, written: dt.datetime) -> str:
    parts = [
        f"<h1>{_text(detail.name)}</h1>",
        f'<div class="status">{_text(detail.status.value)}'
        + (" · imported from a file" if detail.imported else "")
        + "</div>",
    ]
    if detail.description:
        parts.append(f'<p class="muted">{_text(detail.description)}</p>')
    if detail.status_message and detail.status.value in ("ERROR", "CANCELLED"):
        parts.append(f'<p class="reason">Why it ended: {_text(detail.status_message)}</p>')
    parts.append(
        f'<p class="muted">Experiment {detail.id}; report written '
        f"{_text(format_utc(written.timestamp(), with_date=True))} by Battery Experiments "
        "Manager.</p>"
    )
    return "\n".join(parts)


def _facts(detail: ExperimentDetail) -> str:
    battery = detail.battery_name
    kind = " · ".join(
        part
        for part in (
            detail.technology,
            detail.chemistry,
            detail.manufacturer,
            detail.model,
            f"{detail.nominal_capacity_ah:g} Ah nominal" if detail.nominal_capacity_ah else None,
        )
        if part
    )
    facts = [
        ("Battery", f"{battery} ({kind})" if kind else battery),
        ("Station", "imported from a file" if detail.imported else detail.station_name or "–"),
        ("Profile", detail.profile_name or "–"),
        ("Samples", f"{detail.sample_count:,}"),
        ("Alarms", f"{detail.alarm_count:,}"),
        ("Duration", format_duration(detail.duration_s)),
        ("Created", format_utc(detail.created_at, with_date=True)),
        ("Began", format_utc(detail.began_at, with_date=True)),
        ("Finished", format_utc(detail.finished_at, with_date=True)),
        ("First sample", format_utc(detail.first_sample_at, with_date=True)),
        ("Last sample", format_utc(detail.last_sample_at, with_date=True)),
        *describe_details(detail.details),
    ]
    rows = "".join(f"<dt>{_text(label)}</dt><dd>{_text(value)}</dd>" for label, value in facts)
    return f'<dl class="facts">{rows}</dl>'


def _steps(detail: ExperimentDetail, plan: StepPlan) -> str:
    parts = []
    if detail.profile_source:
        parts.append(f"<pre>{_text(detail.profile_source)}</pre>")
    if plan.total:
        listed = plan.steps[:STEPS_LISTED]
        note = f"{plan.total:,} steps once expanded, in {plan.cycles:,} cycles"
        if plan.total > STEPS_LISTED:
            note += f"; the first {STEPS_LISTED} are listed"
        rows = "".join(
            f'<tr><td class="num">{step.step}</td><td class="num">{step.cycle or 1}</td>'
            f"<td>{_text(describe_instruction(step))}</td></tr>"
            for step in listed
        )
        parts.append(f'<p class="muted">{_text(note)}.</p>')
        parts.append(
            '<div class="scroll"><table><thead><tr><th class="num">Step</th>'
            '<th class="num">Cycle</th><th>Does</th></tr></thead>'
            f"<tbody>{rows}</tbody></table></div>"
        )
    if not parts:
        return '<p class="muted">No profile was run: the samples were imported from a file.</p>'
    return "\n".join(parts)


_CYCLE_HEADERS = (
    ("Cycle", "{:d}", "cycle"),
    ("Start (UTC)", None, "start_ts"),
    ("Duration", None, "duration_s"),
    ("Charge / Ah", "{:.4f}", "charge_ah"),
    ("Discharge / Ah", "{:.4f}", "discharge_ah"),
    ("Charge / Wh", "{:.4f}", "charge_wh"),
    ("Discharge / Wh", "{:.4f}", "discharge_wh"),
    ("Coulombic eff. / %", "{:.2f}", "coulombic_efficiency"),
    ("Energy eff. / %", "{:.2f}", "energy_efficiency"),
    ("Mean charge V", "{:.4f}", "mean_charge_voltage"),
    ("Mean discharge V", "{:.4f}", "mean_discharge_voltage"),
)


def _cycle_cell(cycle: CycleRow, pattern: str | None, field: str) -> str:
    value = getattr(cycle, field)
    if value is None:
        return "–"
    if field == "start_ts":
        return format_utc(value, with_date=True).removesuffix(" UTC")
    if field == "duration_s":
        return format_duration(value)
    if field.endswith("efficiency"):
        value = 100.0 * value
    return pattern.format(value) if pattern else str(value)


def _cycle_table(cycles: Sequence[CycleRow]) -> str:
    if not cycles:
        return '<p class="muted">No cycles: the experiment has no charge and discharge yet.</p>'
    head = "".join(f'<th class="num">{_text(title)}</th>' for title, _p, _f in _CYCLE_HEADERS)
    rows = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{_text(_cycle_cell(cycle, pattern, field))}</td>'
            for _t, pattern, field in _CYCLE_HEADERS
        )
        + "</tr>"
        for cycle in cycles
    )
    return (
        f'<p class="muted">{len(cycles):,} cycles.</p><div class="scroll"><table>'
        f"<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>"
    )


def _alarms(alarms: Sequence[AlarmRecord], total: int) -> str:
    if not alarms:
        return '<p class="muted">No alarms raised.</p>'
    rows = "".join(
        f"<tr><td>{_text(format_utc(alarm.ts, with_date=True))}</td><td>{_text(alarm.code)}</td>"
        f'<td class="num">{"" if alarm.value is None else _text(f"{alarm.value:g}")}</td>'
        f"<td>{_text(alarm.message)}</td></tr>"
        for alarm in alarms
    )
    note = f'<p class="muted">The latest {len(alarms)} of {total} alarms.</p>' if total > len(
        alarms
    ) else ""  # fmt: skip
    return (
        f"{note}<table><thead><tr><th>Time (UTC)</th><th>Code</th><th>Value</th><th>Message</th>"
        f"</tr></thead><tbody>{rows}</tbody></table>"
    )


# ---------------------------------------------------------------- figures


def _vi_figure(engine: Engine, detail: ExperimentDetail) -> dict[str, Any] | None:
    if not detail.sample_count:
        return None
    traces = trace_defs([], [])
    with engine.connect() as connection:
        series = read_series(
            connection,
            detail.id,
            None,
            None,
            [],
            quantities=[trace.key for trace in traces],
            max_points=DEFAULT_MAX_POINTS,
        )
    if not len(series.ts):
        return None
    lines = {trace.key: (series.ts, series.values[trace.series_key]) for trace in traces}
    return build_figure(
        traces, lines, None, f"report-{detail.id}", line_shape="hv", height=FIGURE_HEIGHT_PX
    )


def _cycle_figures(
    engine: Engine, detail: ExperimentDetail, cycles: Sequence[CycleRow]
) -> list[tuple[str, dict[str, Any] | None]]:
    """Capacity and retention, efficiencies and mean voltages per cycle, and the V–Q and
    dQ/dV curves of the first, middle and last cycle, as the experiment page shows them."""
    if not cycles:
        return []
    chosen = default_cycles([cycle.cycle for cycle in cycles])
    curves = chosen_cycle_curves(engine, detail.id, chosen, detail.nominal_capacity_ah)
    which = ", ".join(str(number) for number in chosen)
    return [
        ("Capacity and retention", capacity_figure(cycles, retention(cycles))),
        ("Efficiency", efficiency_figure(cycles)),
        ("Mean voltages", mean_voltage_figure(cycles)),
        (f"Voltage against capacity, cycles {which}", curves.voltage_capacity),
        (f"dQ/dV, cycles {which}", curves.dq_dv),
    ]


def _figure(element_id: str, figure: dict[str, Any]) -> str:
    """A div and the script that draws `figure` in it."""
    data = json.dumps(_escaped(figure), default=_json_default, allow_nan=False)
    # JSON inside a script element: "<", ">" and "&" as \\u escapes, so no string in the
    # data can close the element or start another.
    data = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    config = json.dumps(_PLOTLY_CONFIG)
    height = int(figure.get("layout", {}).get("height") or FIGURE_HEIGHT_PX)
    return (
        f'<div id="{element_id}" style="height:{height}px"></div>\n'
        f"<script>(function(){{var f={data};"
        f'Plotly.newPlot("{element_id}", f.data, f.layout || {{}}, {config});}})();</script>'
    )


# Plotly templates whose markup the figure builders write themselves (`<extra>`).
_TEMPLATES = frozenset({"hovertemplate", "texttemplate"})


def _escaped(value: Any) -> Any:
    """Plotly draws a subset of HTML in names and titles (links among it): every string
    of the figure is escaped, so a channel named `<a href=…>` shows as typed. Numbers
    that are not finite become gaps (JSON has no NaN)."""
    if isinstance(value, str):
        # The figure builders escape what they take from the data (`plot_text`); this
        # escapes the rest, without escaping their escapes a second time.
        return plot_text(html.unescape(value))
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: item if key in _TEMPLATES else _escaped(item) for key, item in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_escaped(item) for item in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} into a figure")
