"""CSV downloads from the browser: the streamed export route."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from components.urls import experiment_csv_url
from config import default_settings
from datastore import catalog, ingest, make_session_factory
from domain.csvformat import parse_csv

# The site's cap on expanded profile steps (profiles.max_steps).
MAX_STEPS = default_settings().profiles.max_steps

SAMPLES = [
    ingest.SampleRow(seq, 1_800_000_000.0 + seq, 3.5 + seq / 1000, -1.0, -3.5, 2, 1, "CC")
    for seq in range(300)
]


@pytest.fixture
def client_and_experiment(app_factory, settings):
    app = app_factory()
    engine: Engine = app.server.extensions["bem"].store.engine
    with make_session_factory(engine).begin() as session:
        battery = catalog.create_battery(
            session, name="cell", technology="lithium-ion", voltage_min=2.5, voltage_max=4.2,
            current_min=-2, current_max=2, nominal_capacity_ah=1.0,
        )  # fmt: skip
        station = catalog.create_station(
            session, name="ch1", voltage_min=0, voltage_max=5, current_min=-5, current_max=5
        )
        profile = catalog.create_profile(
            session, name="p", source="CC, -1, VOLTAGE, 3.0\n", max_steps=MAX_STEPS
        )
        experiment = catalog.queue_experiment(
            session,
            name="e",
            battery_id=battery.id,
            station_id=station.id,
            profile_id=profile.id,
            max_steps=MAX_STEPS,
        )
        experiment_id = experiment.id
    with engine.begin() as connection:
        channels = ingest.channel_ids(connection, experiment_id, {"temp_body": "°C"})
        extras = [
            ingest.ExtraValueRow(channels["temp_body"], sample.seq, 20.0 + sample.seq / 10)
            for sample in SAMPLES
        ]
        ingest.insert_samples(connection, experiment_id, SAMPLES, extras)
    return app.server.test_client(), experiment_id


def test_the_whole_experiment_downloads_as_csv(client_and_experiment, tmp_path) -> None:
    client, experiment_id = client_and_experiment
    response = client.get(experiment_csv_url(experiment_id))
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="experiment-{experiment_id}.csv"'
    )
    path = tmp_path / "download.csv"
    path.write_bytes(response.data)
    parsed = parse_csv(path)
    assert list(parsed.samples["voltage"]) == [sample.voltage for sample in SAMPLES]
    assert list(parsed.extras[("temp_body", "°C")]) == [20.0 + seq / 10 for seq in range(300)]


def test_a_time_window_downloads_only_its_samples(client_and_experiment, tmp_path) -> None:
    client, experiment_id = client_and_experiment
    start, end = 1_800_000_100.0, 1_800_000_149.0
    response = client.get(experiment_csv_url(experiment_id, start, end))
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="experiment-{experiment_id}_20270115T080140Z-20270115T080229Z.csv"'
    )
    path = tmp_path / "window.csv"
    path.write_bytes(response.data)
    parsed = parse_csv(path)
    assert list(parsed.samples["ts"]) == [1_800_000_000.0 + seq for seq in range(100, 150)]
    # Test time stays relative to the experiment's first sample.
    assert response.data.decode().splitlines()[1].startswith("100.0,")


def test_an_unknown_experiment_is_a_plain_404(client_and_experiment) -> None:
    client, _experiment_id = client_and_experiment
    response = client.get("/export/experiments/999.csv")
    assert response.status_code == 404
    assert response.data == b"There is no experiment 999.\n"


def test_a_bad_window_bound_is_a_plain_400(client_and_experiment) -> None:
    client, experiment_id = client_and_experiment
    response = client.get(f"/export/experiments/{experiment_id}.csv?end=soon")
    assert response.status_code == 400
    assert b"end: expected Unix seconds" in response.data


def test_the_experiments_table_links_each_experiment_with_samples(client_and_experiment) -> None:
    from pages.experiments import ids, page

    client, experiment_id = client_and_experiment
    with client.application.app_context():
        layout = page.layout()
    grid = next(
        component
        for component in layout._traverse()  # noqa: SLF001  # Dash's walk of a layout tree
        if getattr(component, "id", None) == ids.GRID
    )
    row = next(row for row in grid.rowData if row["id"] == experiment_id)
    assert row["data"] == f"[CSV]({experiment_csv_url(experiment_id)})"
