"""The live monitor and the overview, in a browser, with simulated cyclers running.

Each test starts the app on the test database, an in-process node and a simulated
two-station unit (tests/web/monitor_helpers.py), queues experiments with short steps
and watches the pages as an operator would.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import time
from pathlib import Path

import numpy as np
import pytest
from dash.testing.wait import until
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from config import default_settings
from datastore import catalog, ingest
from datastore.models import Alarm, Experiment, Measurement, RejectedMessage
from domain.status import ExperimentStatus
from pages.monitor import chart
from pages.monitor.chart import refresh
from tests.web.monitor_helpers import (
    GRAPH,
    SHORT_PROFILE,
    LiveLab,
    last_x_ms,
    select_option,
    trace_names,
    trace_points,
    x_range_ms,
    x_range_s,
)

# The site's cap on expanded profile steps (profiles.max_steps).
MAX_STEPS = default_settings().profiles.max_steps

WAIT_S = 20


@pytest.fixture
def monitor(browser, app_factory, live_lab: LiveLab):
    """The browser on the app of the live lab (start a page with `open(path)`)."""
    browser.start_server(app_factory(live_lab.settings))

    def open_page(path: str) -> None:
        browser.wait_for_page(f"{browser.server_url}{path}", timeout=10)

    browser.open = open_page
    return browser


def open_running_experiment(monitor, lab: LiveLab, station: str = "ch1", **queue) -> int:
    experiment_id = lab.queue(station, **queue)
    lab.wait_for_status(experiment_id, ExperimentStatus.RUNNING)
    lab.wait_for_samples(experiment_id, 5)
    monitor.open(f"/monitor/{lab.station_ids[station]}")
    monitor.wait_for_element("#monitor-status", timeout=WAIT_S)
    return experiment_id


def graph_state(monitor) -> tuple[int, float]:
    """(points, newest x) of the voltage trace, read at the same instant."""
    return monitor.driver.execute_script(
        "const x = document.querySelector(arguments[0]).data[0].x;"
        "return [x.length, x[x.length - 1]];",
        GRAPH,
    )


def set_refresh(monitor, seconds: str) -> None:
    select_option(monitor, "#monitor-refresh", seconds)


def choose_extra(monitor, label: str) -> None:
    """Pick an option of the "also show" dropdown (a multi dropdown stays open after a pick)."""
    if not monitor.find_elements(".dash-dropdown-options"):
        monitor.find_element("#monitor-extras").click()
    menu = monitor.wait_for_element(".dash-dropdown-options", timeout=5)
    (option,) = [
        o for o in menu.find_elements("css selector", ".dash-dropdown-option") if o.text == label
    ]
    option.click()


# ---------------------------------------------------------------- the graph


@pytest.mark.browser
def test_new_points_appear_on_each_refresh(monitor, live_lab):
    open_running_experiment(monitor, live_lab)
    set_refresh(monitor, "1")
    until(lambda: trace_points(monitor) > 0, WAIT_S)
    first_count, first_last_x = graph_state(monitor)
    until(lambda: graph_state(monitor)[0] >= first_count + 10, WAIT_S)
    count, last_x = graph_state(monitor)
    assert last_x > first_last_x
    # Each refresh appended only samples after the last one shown: no point twice.
    x = monitor.driver.execute_script(
        "return document.querySelector(arguments[0]).data[0].x;", GRAPH
    )
    assert len(x) == count and all(a < b for a, b in zip(x, x[1:], strict=False))
    # Voltage and current hold the same samples.
    until(lambda: trace_points(monitor, 1) == trace_points(monitor, 0), 5)
    assert monitor.get_logs() == []


@pytest.mark.browser
def test_the_window_selector_sets_the_x_range_in_real_time(monitor, live_lab):
    open_running_experiment(monitor, live_lab)
    until(lambda: x_range_s(monitor) is not None, WAIT_S)

    def span() -> float:
        start, end = x_range_s(monitor)
        return end - start

    until(lambda: abs(span() - 300) < 0.01, WAIT_S)  # the default: 5 minutes
    select_option(monitor, "#monitor-window", "30")
    until(lambda: abs(span() - 30) < 0.01, WAIT_S)
    # The range ends at the newest sample.
    until(lambda: abs(x_range_s(monitor)[1] * 1000 - last_x_ms(monitor)) < 1, WAIT_S)
    select_option(monitor, "#monitor-window", "3600")
    until(lambda: abs(span() - 3600) < 0.01, WAIT_S)


@pytest.mark.browser
def test_zoom_is_kept_across_refreshes_until_follow_live_is_pressed(monitor, live_lab):
    open_running_experiment(monitor, live_lab)
    set_refresh(monitor, "1")
    until(lambda: trace_points(monitor) > 0, WAIT_S)
    start, end = x_range_s(monitor)
    zoomed = [(start + 100) * 1000, (start + 200) * 1000]
    # What a drag-to-zoom does: plotly relayouts, the page stops following.
    monitor.driver.execute_script(
        "Plotly.relayout(document.querySelector(arguments[0]), {'xaxis.range': arguments[1]});",
        GRAPH,
        zoomed,
    )
    until(lambda: monitor.find_element("#monitor-follow-button").is_enabled(), 10)
    points = trace_points(monitor)
    until(lambda: trace_points(monitor) >= points + 20, WAIT_S)  # refreshes went on
    assert x_range_s(monitor) == pytest.approx((start + 100, start + 200), abs=1e-3)

    monitor.find_element("#monitor-follow-button").click()
    until(lambda: abs(x_range_s(monitor)[1] * 1000 - last_x_ms(monitor)) < 1, WAIT_S)
    assert x_range_s(monitor)[1] - x_range_s(monitor)[0] == pytest.approx(300, abs=1e-3)
    assert not monitor.find_element("#monitor-follow-button").is_enabled()


@pytest.mark.browser
def test_power_and_extra_channels_can_be_added_with_their_units(monitor, live_lab):
    open_running_experiment(monitor, live_lab)
    set_refresh(monitor, "1")
    until(lambda: trace_points(monitor) > 0, WAIT_S)
    choose_extra(monitor, "Power / W")
    until(lambda: trace_names(monitor)[2:] == ["Power / W"], WAIT_S)
    choose_extra(monitor, "temp_body / °C")
    until(lambda: trace_names(monitor)[2:] == ["Power / W", "temp_body / °C"], WAIT_S)
    until(lambda: trace_points(monitor, 3) > 0, WAIT_S)
    points = trace_points(monitor, 3)
    until(lambda: trace_points(monitor, 3) > points, WAIT_S)  # extras grow live too
    assert monitor.get_logs() == []


def download(monitor) -> tuple[str, list[dict[str, str]]]:
    """Click "Download CSV"; (file name, rows) of what the browser saved."""
    folder = Path(monitor.download_path)
    for old in folder.glob("*"):
        old.unlink()
    monitor.find_element("#monitor-download-button").click()
    until(lambda: [p for p in folder.glob("*.csv")], WAIT_S)
    (downloaded,) = folder.glob("*.csv")
    until(lambda: downloaded.stat().st_size > 0, 5)
    text = downloaded.read_text(encoding="utf-8")
    return downloaded.name, list(csv.DictReader(io.StringIO(text)))


def assert_rows_are(rows: list[dict[str, str]], expected: list[tuple]) -> None:
    assert list(rows[0])[:5] == [
        "Test Time / s",
        "Unix Time / s",
        "Voltage / V",
        "Current / A",
        "Power / W",
    ]
    assert len(rows) == len(expected)
    for row, (ts, voltage, current, power) in zip(rows, expected, strict=True):
        assert float(row["Unix Time / s"]) == ts
        assert float(row["Voltage / V"]) == voltage
        assert float(row["Current / A"]) == current
        assert float(row["Power / W"]) == power


def settle(monitor) -> float:
    """Wait until a refresh already on its way has landed; the newest x shown (ms)."""
    seen = []

    def settled() -> bool:
        seen.append(last_x_ms(monitor))
        return len(seen) > 1 and seen[-1] == seen[-2]

    until(settled, 10, poll=1.0)
    return seen[-1]


@pytest.mark.browser
def test_the_csv_download_has_exactly_the_samples_of_the_window(monitor, live_lab):
    experiment_id = open_running_experiment(monitor, live_lab)
    live_lab.wait_for_samples(experiment_id, 60)
    select_option(monitor, "#monitor-window", "30")
    until(lambda: x_range_s(monitor) and x_range_s(monitor)[1] - x_range_s(monitor)[0] < 31, 10)
    set_refresh(monitor, "0")  # paused: the window stays where it is
    shown_until_ms = settle(monitor)
    name, rows = download(monitor)

    last_ts = float(rows[-1]["Unix Time / s"])
    assert abs(last_ts * 1000 - shown_until_ms) < 1  # it ends where the graph ends
    expected = live_lab.samples_shown(experiment_id, x_range_ms(monitor))
    assert len(expected) > 50
    assert_rows_are(rows, expected)
    assert name.startswith(f"experiment-{experiment_id}_")


@pytest.mark.browser
def test_the_csv_download_has_exactly_the_samples_of_the_zoomed_range(monitor, live_lab):
    experiment_id = open_running_experiment(monitor, live_lab)
    live_lab.wait_for_samples(experiment_id, 60)
    set_refresh(monitor, "0")
    settle(monitor)
    x = monitor.driver.execute_script(
        "return document.querySelector(arguments[0]).data[0].x;", GRAPH
    )

    def zoom(start, end) -> None:
        before = monitor.find_element("#monitor-download-button").get_attribute("href")
        monitor.driver.execute_script(
            "Plotly.relayout(document.querySelector(arguments[0]),"
            " {'xaxis.range[0]': arguments[1], 'xaxis.range[1]': arguments[2]});",
            GRAPH,
            start,
            end,
        )
        until(
            lambda: (
                monitor.find_element("#monitor-download-button").get_attribute("href") != before
            ),
            10,
        )

    # Both ends exactly on a sample's point: both samples are shown, and downloaded.
    zoom(x[10], x[40])
    assert x_range_ms(monitor) == (x[10], x[40])
    _name, rows = download(monitor)
    expected = live_lab.samples_shown(experiment_id, (x[10], x[40]))
    assert len(expected) == 31
    assert_rows_are(rows, expected)
    assert float(rows[0]["Unix Time / s"]) * 1000 == pytest.approx(x[10], abs=0.05)
    assert float(rows[-1]["Unix Time / s"]) * 1000 == pytest.approx(x[40], abs=0.05)

    # Ends between samples, given as plotly's date strings (as after a drag): the samples
    # in between, which are also those whose time is within the range.
    start_ms, end_ms = x[20] + 50.0, x[50] + 50.0
    zoom(plotly_date(start_ms), plotly_date(end_ms))
    assert x_range_ms(monitor) == pytest.approx((start_ms, end_ms), abs=1e-3)
    _name, rows = download(monitor)
    expected = live_lab.samples_shown(experiment_id, (start_ms, end_ms))
    assert len(expected) == 30
    assert expected == live_lab.samples(experiment_id, start_ms / 1000, end_ms / 1000)
    assert_rows_are(rows, expected)

    # Follow live again: the download is the window once more.
    monitor.find_element("#monitor-follow-button").click()
    until(lambda: x_range_s(monitor)[1] - x_range_s(monitor)[0] > 299, WAIT_S)
    settle(monitor)
    _name, rows = download(monitor)
    assert_rows_are(rows, live_lab.samples_shown(experiment_id, x_range_ms(monitor)))
    assert monitor.get_logs() == []


def plotly_date(ms: float) -> str:
    """Unix ms as plotly writes a date axis value: "2026-11-25 10:00:01.2345" (UTC)."""
    tenths = round(ms * 10)
    moment = dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=tenths * 100)
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")[:-2]


# ---------------------------------------------------------------- what the cycler does


@pytest.mark.browser
def test_the_step_text_follows_the_cycler(monitor, live_lab):
    open_running_experiment(monitor, live_lab, profile_text=SHORT_PROFILE)
    set_refresh(monitor, "1")
    monitor.wait_for_contains_text("#monitor-step", "step 1 of 4 · cycle 1 of 2", timeout=WAIT_S)
    assert "CC 0.20 A for 3 s" in monitor.find_element("#monitor-step").text
    monitor.wait_for_contains_text(
        "#monitor-step", "step 2 of 4 · cycle 1 of 2 · WAIT for 2 s", timeout=WAIT_S
    )
    monitor.wait_for_contains_text("#monitor-step", "step 3 of 4 · cycle 2 of 2", timeout=WAIT_S)


@pytest.mark.browser
def test_a_finishing_experiment_is_shown_as_finished_with_a_link_to_its_preview(monitor, live_lab):
    experiment_id = open_running_experiment(monitor, live_lab, profile_text=SHORT_PROFILE)
    set_refresh(monitor, "1")
    monitor.wait_for_text_to_equal("#monitor-status", "FINISHED", timeout=WAIT_S)
    monitor.wait_for_contains_text("#monitor-ended", "The experiment finished at", timeout=5)
    assert monitor.find_element("#monitor-step-label").text == "Last step executed"
    link = monitor.find_element("#monitor-ended a")
    assert link.text == "Open its preview"
    assert link.get_attribute("href").endswith(("/experiments", f"/experiments/{experiment_id}"))
    for button in ("#monitor-pause", "#monitor-resume", "#monitor-stop"):
        assert not monitor.find_element(button).is_enabled()
    assert live_lab.status(experiment_id) == ExperimentStatus.FINISHED


@pytest.mark.browser
def test_a_silent_station_shows_a_warning(monitor, live_lab):
    open_running_experiment(monitor, live_lab)
    set_refresh(monitor, "1")
    monitor.wait_for_text_to_equal("#monitor-status", "RUNNING", timeout=WAIT_S)
    assert monitor.find_elements("#monitor-silent") == []
    live_lab.silence("ch1")
    monitor.wait_for_element("#monitor-silent, #monitor-offline", timeout=WAIT_S)
    # Without heartbeats the station ends up offline, which the page says too.
    monitor.wait_for_contains_text("#monitor-offline", "Station offline", timeout=WAIT_S)


# ---------------------------------------------------------------- operator actions


@pytest.mark.browser
def test_pause_then_resume_go_through_the_node_to_the_cycler(monitor, live_lab):
    experiment_id = open_running_experiment(monitor, live_lab)
    set_refresh(monitor, "1")
    monitor.wait_for_text_to_equal("#monitor-status", "RUNNING", timeout=WAIT_S)
    assert not monitor.find_element("#monitor-resume").is_enabled()

    monitor.find_element("#monitor-pause").click()
    monitor.wait_for_contains_text("#monitor-command-feedback", "Pause requested", timeout=5)
    monitor.wait_for_text_to_equal("#monitor-status", "PAUSED", timeout=WAIT_S)
    assert live_lab.status(experiment_id) == ExperimentStatus.PAUSED
    until(lambda: monitor.find_element("#monitor-resume").is_enabled(), 5)
    assert not monitor.find_element("#monitor-pause").is_enabled()

    monitor.find_element("#monitor-resume").click()
    monitor.wait_for_text_to_equal("#monitor-status", "RUNNING", timeout=WAIT_S)
    assert live_lab.status(experiment_id) == ExperimentStatus.RUNNING


@pytest.mark.browser
def test_stop_asks_for_confirmation_first(monitor, live_lab):
    experiment_id = open_running_experiment(monitor, live_lab)
    set_refresh(monitor, "1")
    until(lambda: monitor.find_element("#monitor-stop").is_enabled(), WAIT_S)

    monitor.find_element("#monitor-stop").click()
    monitor.wait_for_element("#monitor-stop-cancel", timeout=5).click()
    until(lambda: not monitor.find_elements("#monitor-stop-confirm"), 5)
    assert live_lab.status(experiment_id) == ExperimentStatus.RUNNING

    monitor.find_element("#monitor-stop").click()
    monitor.wait_for_element("#monitor-stop-confirm", timeout=5).click()
    monitor.wait_for_text_to_equal("#monitor-status", "FINISHED", timeout=WAIT_S)
    monitor.wait_for_contains_text("#monitor-ended", "Stopped by the operator.", timeout=5)


def store_hostile_rows(lab: LiveLab, experiment_id: int) -> None:
    """Samples and an alarm with times no calendar holds, written straight to the database
    as the node stored them before it refused such times."""
    with lab.sessions.begin() as session:
        session.add_all(
            [
                Measurement(
                    experiment_id=experiment_id,
                    seq=900_000 + index,
                    ts=ts,
                    voltage=3.7,
                    current=0.2,
                    power=0.74,
                )
                for index, ts in enumerate([1e20, 1e300, time.time() * 1000])
            ]
            + [Alarm(experiment_id=experiment_id, ts=1e300, code="BAD_CLOCK", message="")]
        )
        session.execute(
            update(Experiment).where(Experiment.id == experiment_id).values(last_sample_at=1e20)
        )


def publish_hostile_samples(lab: LiveLab, station: str, experiment_id: int) -> None:
    """A measures message through the node: hostile times around one good sample."""
    now = time.time()
    samples = [
        {"seq": 950_000 + index, "ts": ts, "voltage": 3.7, "current": 0.2}
        for index, ts in enumerate([1e300, 1e20, now * 1000, 946_684_799.0, now + 2 * 86_400, now])
    ]
    lab.cycler.transport.publish(
        f"bem/stations/{lab.station_ids[station]}/measures",
        json.dumps({"experiment_id": experiment_id, "samples": samples}).encode(),
    )


@pytest.mark.browser
def test_hostile_timestamps_do_not_stop_the_operator_from_stopping_the_experiment(
    monitor, live_lab
):
    experiment_id = live_lab.queue("ch1")
    live_lab.wait_for_status(experiment_id, ExperimentStatus.RUNNING)
    live_lab.wait_for_samples(experiment_id, 5)
    store_hostile_rows(live_lab, experiment_id)
    publish_hostile_samples(live_lab, "ch1", experiment_id)

    def refused_by_the_node() -> list[str]:
        with live_lab.sessions() as session:
            return list(session.scalars(select(RejectedMessage.reason)))

    until(lambda: refused_by_the_node(), WAIT_S)
    [reason] = refused_by_the_node()
    assert reason.startswith("sample time refused: 5 of 6 samples refused, the other 1 stored")
    with live_lab.sessions() as session:
        assert session.get(Measurement, (experiment_id, 950_005)) is not None
        assert session.get(Measurement, (experiment_id, 950_000)) is None

    monitor.open(f"/monitor/{live_lab.station_ids['ch1']}")
    monitor.wait_for_text_to_equal("#monitor-status", "RUNNING", timeout=WAIT_S)
    # The stored bad time reads as such instead of breaking the panel.
    monitor.wait_for_contains_text("#monitor-last-sample", "invalid time", timeout=WAIT_S)
    until(lambda: monitor.find_element("#monitor-stop").is_enabled(), WAIT_S)

    monitor.find_element("#monitor-stop").click()
    monitor.wait_for_element("#monitor-stop-confirm", timeout=5).click()
    monitor.wait_for_contains_text("#monitor-command-feedback", "Stop requested", timeout=5)
    live_lab.wait_for_status(experiment_id, ExperimentStatus.FINISHED)
    monitor.wait_for_text_to_equal("#monitor-status", "FINISHED", timeout=WAIT_S)
    monitor.wait_for_contains_text("#monitor-ended", "Stopped by the operator.", timeout=WAIT_S)
    assert not monitor.find_element("#monitor-stop").is_enabled()


# ---------------------------------------------------------------- overview and picker


@pytest.mark.browser
def test_the_overview_has_a_card_per_station_that_opens_its_monitor(monitor, live_lab):
    experiment_id = live_lab.queue("ch1", name="overview run")
    live_lab.wait_for_status(experiment_id, ExperimentStatus.RUNNING)
    live_lab.wait_for_samples(experiment_id, 5)
    ch1, ch2 = live_lab.station_ids["ch1"], live_lab.station_ids["ch2"]

    monitor.open("/")
    monitor.wait_for_contains_text(f"#overview-station-{ch1}", "overview run", timeout=WAIT_S)
    running = monitor.find_element(f"#overview-station-{ch1}").text
    assert "RUNNING" in running and "monitor test cell" in running
    assert "step 1 of 100 · cycle 1 of 50 · CC 0.20 A for 1 min" in running
    assert " V" in running and " A" in running and "last sample" in running
    idle = monitor.find_element(f"#overview-station-{ch2} .station-card")
    assert "station-card--idle" in idle.get_attribute("class")

    live_lab.silence("ch2")  # the idle station goes offline
    monitor.wait_for_contains_text(f"#overview-station-{ch2}", "offline", timeout=WAIT_S)
    assert "station-card--offline" in monitor.find_element(
        f"#overview-station-{ch2} .station-card"
    ).get_attribute("class")

    monitor.find_element(f"#overview-station-{ch1} a").click()
    monitor.wait_for_contains_text("#_pages_content h2", "Live monitor · ch1", timeout=10)
    monitor.wait_for_text_to_equal("#monitor-status", "RUNNING", timeout=WAIT_S)
    assert monitor.get_logs() == []


@pytest.mark.browser
def test_an_unknown_station_gets_a_friendly_message_and_the_picker(monitor, live_lab):
    monitor.open("/monitor/9999")
    monitor.wait_for_contains_text(
        "#monitor-unknown", "There is no station with id 9999", timeout=10
    )
    assert monitor.find_element(f"#monitor-picker-station-{live_lab.station_ids['ch1']}")
    monitor.open("/monitor")
    monitor.wait_for_text_to_equal("#_pages_content h2", "Live monitor", timeout=10)
    assert monitor.find_element(f"#monitor-picker-station-{live_lab.station_ids['ch2']}")
    assert monitor.get_logs() == []


# ---------------------------------------------------------------- refresh logic (no browser)

T0 = 1_750_000_000.0


@pytest.fixture
def running(sqlite_engine: Engine) -> tuple[Engine, int, int, int]:
    """(engine, station id, experiment id, channel id) of a running experiment, no samples."""
    with Session(sqlite_engine) as session, session.begin():
        battery = catalog.create_battery(
            session,
            name="cell",
            technology="lithium-ion",
            voltage_min=2.5,
            voltage_max=4.2,
            current_min=-5.0,
            current_max=5.0,
        )
        station = catalog.create_station(
            session, name="ch1", voltage_min=0, voltage_max=5, current_min=-10, current_max=10
        )
        profile = catalog.create_profile(
            session, name="p", source="CC, 1, TIME, 100000\n", max_steps=MAX_STEPS
        )
        experiment = catalog.queue_experiment(
            session,
            name="run",
            battery_id=battery.id,
            station_id=station.id,
            profile_id=profile.id,
            max_steps=MAX_STEPS,
        )
        ids = station.id, experiment.id
    with sqlite_engine.begin() as connection:
        ingest.set_status(
            connection, ids[1], ExperimentStatus.RUNNING, dt.datetime.now(dt.UTC), set_began=True
        )
        channel = ingest.channel_ids(connection, ids[1], {"temp_body": "°C"})["temp_body"]
    return sqlite_engine, ids[0], ids[1], channel


def add_samples(
    engine: Engine,
    experiment_id: int,
    seqs: range,
    channel: int | None = None,
    spike_at: int | None = None,
) -> None:
    """Samples at 10 Hz from T0; a voltage spike of 9.9 V at `spike_at`."""
    rows = [
        ingest.SampleRow(
            seq,
            T0 + seq * 0.1,
            9.9 if seq == spike_at else 3.7 + 0.1 * np.sin(seq / 500),
            1.0,
            3.7,
            1,
            1,
            "CC",
        )
        for seq in seqs
    ]
    extras = [ingest.ExtraValueRow(channel, seq, 25.0) for seq in seqs] if channel else []
    with engine.begin() as connection:
        ingest.insert_samples(connection, experiment_id, rows, extras)


def operations(patch) -> list[dict]:
    return patch.to_plotly_json()["operations"]


def sent_points(patch, trace: int = 0) -> list[float]:
    return [
        value
        for op in operations(patch)
        if op["location"] == ["data", trace, "y"]
        for value in op["params"]["value"]
    ]


def test_a_refresh_sends_only_the_samples_after_the_last_one_sent(running):
    engine, station_id, experiment_id, _channel = running
    add_samples(engine, experiment_id, range(0, 100))
    with engine.connect() as connection:
        first = refresh(connection, station_id, None, window_s=300, extra_keys=[], follow=True)
    assert isinstance(first.figure, dict) and len(first.figure["data"][0]["x"]) == 100
    assert first.figure["layout"]["xaxis"]["range"] == [
        round((T0 + 9.9 - 300) * 1000, 1),
        round((T0 + 9.9) * 1000, 1),
    ]

    add_samples(engine, experiment_id, range(100, 130))
    with engine.connect() as connection:
        second = refresh(
            connection, station_id, first.view, window_s=300, extra_keys=[], follow=True
        )
        third = refresh(
            connection, station_id, second.view, window_s=300, extra_keys=[], follow=True
        )
    assert len(sent_points(second.figure, 0)) == 30 and len(sent_points(second.figure, 1)) == 30
    assert {op["operation"] for op in operations(second.figure)} == {"Extend", "Assign"}
    assert second.view.last_seq == 129 and second.view.points == 130
    assert third.figure is None  # nothing new: nothing sent


def test_a_zoomed_view_gets_new_points_but_keeps_its_range(running):
    engine, station_id, experiment_id, _channel = running
    add_samples(engine, experiment_id, range(0, 100))
    with engine.connect() as connection:
        first = refresh(connection, station_id, None, window_s=300, extra_keys=[], follow=True)
        add_samples(engine, experiment_id, range(100, 110))
        second = refresh(
            connection, station_id, first.view, window_s=300, extra_keys=[], follow=False
        )
    assert all(op["location"][0] == "data" for op in operations(second.figure))


def test_a_smaller_window_within_the_held_samples_only_moves_the_range(running):
    engine, station_id, experiment_id, _channel = running
    add_samples(engine, experiment_id, range(0, 1000))
    with engine.connect() as connection:
        first = refresh(connection, station_id, None, window_s=300, extra_keys=[], follow=True)
        narrower = refresh(
            connection, station_id, first.view, window_s=30, extra_keys=[], follow=True
        )
    (only,) = operations(narrower.figure)
    assert only["location"] == ["layout", "xaxis", "range"]
    start, end = only["params"]["value"]
    assert end - start == pytest.approx(30_000)


def test_the_browser_holds_a_bounded_number_of_points_and_keeps_extremes(running, monkeypatch):
    monkeypatch.setattr(chart, "MAX_POINTS_PER_TRACE", 400)
    monkeypatch.setattr(chart, "BASE_POINTS", 100)
    engine, station_id, experiment_id, _channel = running
    add_samples(engine, experiment_id, range(0, 50))
    view = None
    held = 0
    with engine.connect() as connection:
        for start in range(50, 2050, 50):
            add_samples(engine, experiment_id, range(start, start + 50), spike_at=777)
            update = refresh(connection, station_id, view, window_s=0, extra_keys=[], follow=True)
            view = update.view
            if isinstance(update.figure, dict):
                held = len(update.figure["data"][0]["y"])
            else:
                replaced = [
                    op
                    for op in operations(update.figure)
                    if op["operation"] == "Assign" and op["location"] == ["data", 0, "y"]
                ]
                if replaced:
                    held = len(replaced[0]["params"]["value"])
                    if view.last_seq >= 777:
                        assert 9.9 in replaced[0]["params"]["value"]  # the spike survives
                else:
                    held += len(sent_points(update.figure))
            assert held <= 400 and view.points == held


def test_the_whole_experiment_is_an_overview_of_at_most_5000_points_with_its_spike(running):
    engine, station_id, experiment_id, _channel = running
    add_samples(engine, experiment_id, range(0, 60_000), spike_at=31_337)
    with engine.connect() as connection:
        update = refresh(connection, station_id, None, window_s=0, extra_keys=[], follow=True)
    voltage = update.figure["data"][0]["y"]
    assert len(voltage) <= 5000 and max(voltage) == 9.9
    start, end = update.figure["layout"]["xaxis"]["range"]
    assert (start, end) == (T0 * 1000, round((T0 + 5999.9) * 1000, 1))


def test_power_and_extra_channels_go_to_a_lower_panel_with_their_units(running):
    engine, station_id, experiment_id, channel = running
    add_samples(engine, experiment_id, range(0, 20), channel=channel)
    keys = ["power", f"ch:{channel}"]
    with engine.connect() as connection:
        update = refresh(connection, station_id, None, window_s=300, extra_keys=keys, follow=True)
        add_samples(engine, experiment_id, range(20, 25), channel=channel)
        more = refresh(
            connection, station_id, update.view, window_s=300, extra_keys=keys, follow=True
        )
    names = [trace["name"] for trace in update.figure["data"]]
    assert names == ["Voltage / V", "Current / A", "Power / W", "temp_body / °C"]
    assert [trace["yaxis"] for trace in update.figure["data"]] == ["y", "y2", "y3", "y3"]
    assert update.figure["layout"]["yaxis3"]["title"]["text"] == "W, °C"
    assert sent_points(more.figure, 3) == [25.0] * 5


class CountingStore:
    """The datastore module as the chart sees it, counting the calls to each function."""

    def __init__(self, module) -> None:
        self.module = module
        self.calls: list[str] = []

    def __getattr__(self, name: str):
        value = getattr(self.module, name)
        if not callable(value) or isinstance(value, type):
            return value

        def counted(*args, **kwargs):
            self.calls.append(name)
            return value(*args, **kwargs)

        return counted

    def take(self) -> list[str]:
        calls, self.calls = self.calls, []
        return sorted(calls)


def test_each_refresh_reads_the_header_once_and_its_samples_in_one_call(running, monkeypatch):
    engine, station_id, experiment_id, _channel = running
    store = CountingStore(chart.store)
    monkeypatch.setattr(chart, "store", store)
    monkeypatch.setattr(chart, "MAX_POINTS_PER_TRACE", 300)
    monkeypatch.setattr(chart, "BASE_POINTS", 100)
    add_samples(engine, experiment_id, range(0, 100))

    def again(view, window_s=300):
        with engine.connect() as connection:
            return refresh(
                connection, station_id, view, window_s=window_s, extra_keys=[], follow=True
            )

    first = again(None)  # the traces are built
    assert store.take() == ["experiment_channels", "monitor_header", "window_series"]
    add_samples(engine, experiment_id, range(100, 150))
    second = again(first.view)  # new samples are appended
    assert store.take() == ["monitor_header", "samples_after"]
    add_samples(engine, experiment_id, range(150, 400))
    third = again(second.view)  # too many points held: the window is reloaded
    assert store.take() == ["monitor_header", "window_series"]
    assert third.view.last_seq == 399 and third.view.points <= 100

    # The experiment ends, its battery is queued again and starts: the monitor moves to it.
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as connection:
        ingest.set_status(connection, experiment_id, ExperimentStatus.FINISHED, now)
    with Session(engine) as session, session.begin():
        ended = session.get(Experiment, experiment_id)
        following = catalog.queue_experiment(
            session,
            name="next run",
            battery_id=ended.battery_id,
            station_id=station_id,
            profile_id=ended.profile_id,
            max_steps=MAX_STEPS,
        ).id
    with engine.begin() as connection:
        ingest.set_status(connection, following, ExperimentStatus.RUNNING, now, set_began=True)
    add_samples(engine, following, range(0, 10))
    fourth = again(third.view)
    assert fourth.view.experiment_id == following and fourth.view.last_seq == 9
    assert store.take() == ["experiment_channels", "monitor_header", "window_series"]


def test_a_zoom_is_read_from_plotly_dates_or_milliseconds():
    assert chart.x_range_of(
        {"xaxis.range[0]": "2026-11-25 10:00:01.2345", "xaxis.range[1]": "2026-11-25 10:00:02"}
    ) == [1795600801234.5, 1795600802000.0]
    assert chart.x_range_of({"xaxis.range": [1_800_000_000_200.5, 1_800_000_000_100]}) == [
        1_800_000_000_100.0,
        1_800_000_000_200.5,
    ]
    assert chart.x_range_of({"yaxis.range[0]": 1, "yaxis.range[1]": 2}) is None
    assert chart.x_range_of({"xaxis.range[0]": "soon", "xaxis.range[1]": "later"}) is None
    assert chart.x_range_of(None) is None


def test_the_seconds_of_a_time_range_hold_exactly_the_samples_drawn_inside_it():
    rng = np.random.default_rng(7)
    ts = np.sort(T0 + rng.uniform(0, 100, 5000))  # irregular times, down to microseconds
    drawn = np.round(ts * 1000.0, chart.X_DECIMALS_MS)  # where the points sit (ms)
    ranges = [sorted(rng.uniform(T0, T0 + 100, 2) * 1000.0) for _ in range(300)]
    ranges += [sorted(rng.choice(drawn, 2)) for _ in range(300)]  # ends on points
    ranges += [[x - 1e-4, x + 1e-4] for x in rng.choice(drawn, 100)]  # a point, a few ulps off
    for start_ms, end_ms in ranges:
        start_s, end_s = chart.samples_shown_s([start_ms, end_ms])
        shown = (drawn >= start_ms) & (drawn <= end_ms)
        selected = (ts >= start_s) & (ts <= end_s)
        assert np.array_equal(selected, shown), (start_ms, end_ms)
