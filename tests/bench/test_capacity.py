"""The capacity benchmark at a tiny scale, against the real MariaDB and Mosquitto: a node
in its own process, cyclers publishing in real time, every sample stored and its lag
measured."""

from __future__ import annotations

import math

import pytest
from sqlalchemy import text

from bench import Result
from bench.bench_capacity import BENCHMARK, Level, Plan, measure_plan, results
from datastore import make_engine

pytestmark = pytest.mark.slow


def test_a_tiny_plan_stores_every_sample_and_measures_its_lag(
    mariadb_url: str, mqtt_broker: tuple[str, int]
) -> None:
    plan = Plan(series=((Level(4, 5), Level(3, 4, per_sample=True)),), duration_s=2.0)

    figures = measure_plan(mariadb_url, plan, broker=mqtt_broker, echo=False)

    assert [measured.level for measured in figures] == [Level(4, 5), Level(3, 4, per_sample=True)]
    for measured in figures:
        level = measured.level
        # Every sample of every station published, acknowledged and stored: none lost.
        assert measured.published == level.stations * round(level.rate_hz * plan.duration_s)
        assert measured.stored == measured.published
        assert measured.lost == 0
        assert measured.drain_s is not None and measured.drain_s >= 0
        for lag in (measured.lag_p50_s, measured.lag_p95_s, measured.lag_max_s):
            assert math.isfinite(lag) and lag >= 0
        assert measured.lag_p50_s <= measured.lag_p95_s <= measured.lag_max_s
        assert math.isfinite(measured.lag_growth_s)
        assert measured.offered_per_s == pytest.approx(level.stations * level.rate_hz)
        assert measured.node_cpu_percent > 0 and measured.node_peak_rss_mib > 0
        assert measured.broker_dropped in (0, None)  # nothing lost, nothing dropped
        assert level.label() in measured.line()
    # One message per station and second, or one per sample.
    stations_x_seconds = 4 * plan.duration_s
    assert figures[0].messages == pytest.approx(stations_x_seconds, abs=4)
    assert figures[1].messages == 3 * 4 * plan.duration_s
    # The rows are in the database under the levels' experiments, one per (experiment, seq).
    engine = make_engine(mariadb_url)
    with engine.connect() as connection:
        duplicates = connection.execute(
            text(
                "SELECT COUNT(*) FROM (SELECT experiment_id, seq FROM measurements "
                "GROUP BY experiment_id, seq HAVING COUNT(*) > 1) d"
            )
        ).scalar_one()
    engine.dispose()
    assert duplicates == 0

    reported = results(figures)
    assert len(reported) == 3 * len(figures)
    assert all(isinstance(result, Result) for result in reported)
    assert [result.unit for result in reported[:3]] == ["samples/s", "s", "%"]
    # The first level is every figure's baseline.
    assert {result.baseline for result in reported[0::3]} == {figures[0].committed_per_s}
    assert all(result.met is None for result in reported[2::3])
    assert f"stored {4 * 5 * 2} of {4 * 5 * 2}" in reported[0].what
    assert "[MET]" in reported[0].line() or "[MISSED]" in reported[0].line()


def test_the_benchmark_is_discovered() -> None:
    from bench import discover

    assert discover()["capacity"] is BENCHMARK
