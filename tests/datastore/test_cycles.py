"""The stored cycle table: kept by pieces it equals one computed from all samples at once."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import Connection, Engine, select
from sqlalchemy.orm import Session

from datastore.bulk import insert_rows
from datastore.cycles import advance_cycles, cycle_samples, experiment_cycles, rebuild_cycles
from datastore.models import Cycle, Experiment
from domain.cycles import cycle_totals, detection_threshold
from tests.datastore.support import add_experiment

T0 = 1_800_000_000.0


def samples(n: int, numbered: bool) -> list[tuple]:
    """(seq, ts, voltage, current, power, cycle) of a cycling test: 400 s charge at 2 A,
    400 s discharge at 1.9 A, one sample a second."""
    rows = []
    for seq in range(n):
        phase = (seq // 400) % 2
        current = 2.0 if phase == 0 else -1.9
        voltage = 3.6 + (0.3 if phase == 0 else -0.2) + (seq % 400) / 4000
        cycle = seq // 800 + 1 if numbered else None
        rows.append((seq, T0 + seq, voltage, current, voltage * current, cycle))
    return rows


def write(connection: Connection, experiment_id: int, rows: list[tuple]) -> None:
    insert_rows(
        connection,
        "measurements",
        ["experiment_id", "seq", "ts", "voltage", "current", "power", "cycle"],
        [(experiment_id, *row) for row in rows],
        ignore_existing=True,
    )


def from_scratch(rows: list[tuple], numbered: bool) -> list[tuple]:
    seq, ts, voltage, current, _power, cycle = zip(*sorted(rows), strict=True)
    totals = cycle_totals(
        seq, ts, voltage, current, cycle if numbered else None,
        threshold_a=detection_threshold(2.0),
    )  # fmt: skip
    return [
        (t.cycle, t.first_seq, t.last_seq, t.samples, pytest.approx(t.charge_ah, rel=1e-9),
         pytest.approx(t.discharge_wh, rel=1e-9), pytest.approx(t.coulombic_efficiency, rel=1e-9))
        for t in totals
    ]  # fmt: skip


@pytest.fixture
def experiment_id(session: Session) -> int:
    return add_experiment(session)


def table(engine: Engine, experiment_id: int) -> list[tuple]:
    with Session(engine) as session:
        rows = session.scalars(
            select(Cycle).where(Cycle.experiment_id == experiment_id).order_by(Cycle.cycle)
        ).all()
        return [
            (r.cycle, r.first_seq, r.last_seq, r.samples, r.charge_ah, r.discharge_wh,
             r.coulombic_efficiency)
            for r in rows
        ]  # fmt: skip


@pytest.mark.parametrize("numbered", [True, False], ids=["cycle column", "detected"])
def test_batches_committed_in_any_order_give_the_cycles_of_all_samples_at_once(
    engine: Engine, experiment_id: int, numbered: bool
) -> None:
    rows = samples(8_000, numbered)
    batches = [rows[i : i + 250] for i in range(0, len(rows), 250)]
    # Neighbouring batches swapped, as two nodes sharing the ingest may commit them, and
    # one batch delivered twice.
    for i in range(0, len(batches) - 1, 3):
        batches[i], batches[i + 1] = batches[i + 1], batches[i]
    batches.insert(7, batches[5])
    for batch in batches:
        with engine.begin() as connection:
            write(connection, experiment_id, batch)
            # Each batch holds 250 s of samples; real batches hold well under the wait.
            advance_cycles(connection, experiment_id, hole_wait_s=3_600)
    assert table(engine, experiment_id) == from_scratch(rows, numbered)
    assert len(table(engine, experiment_id)) == 10


def test_a_hole_waits_for_its_samples_then_is_crossed_when_they_do_not_come(
    engine: Engine, experiment_id: int
) -> None:
    rows = samples(2_000, True)
    with engine.begin() as connection:
        write(connection, experiment_id, rows[:1000] + rows[1010:1030])
        assert advance_cycles(connection, experiment_id) == 1000  # stops at the hole
        write(connection, experiment_id, rows[1030:1100])  # 90 s beyond the hole
        assert advance_cycles(connection, experiment_id) == 90
    lost = rows[:1000] + rows[1010:1100]
    assert table(engine, experiment_id) == from_scratch(lost, True)


def test_a_rebuild_equals_the_incremental_table(engine: Engine, experiment_id: int) -> None:
    rows = samples(3_000, False)
    with engine.begin() as connection:
        for start in range(0, 3_000, 700):
            write(connection, experiment_id, rows[start : start + 700])
            advance_cycles(connection, experiment_id)
    incremental = table(engine, experiment_id)
    with engine.begin() as connection:
        rebuild_cycles(connection, experiment_id)
    assert table(engine, experiment_id) == [
        tuple(pytest.approx(value, rel=1e-12) for value in row) for row in incremental
    ]


def test_the_cycle_table_reads_with_its_derived_figures(engine: Engine, experiment_id: int) -> None:
    with engine.begin() as connection:
        write(connection, experiment_id, samples(1_600, True))
        advance_cycles(connection, experiment_id)
    first, second = experiment_cycles(engine, experiment_id)
    assert first.cycle == 1 and second.cycle == 2
    # 399 one-second intervals at 2 A, one step to -1.9 A, then 399 at -1.9 A.
    assert first.charge_ah == pytest.approx((399 * 2.0 + 1.0) / 3600)
    assert first.discharge_ah == pytest.approx((399 * 1.9 + 0.95) / 3600)
    assert first.coulombic_efficiency == pytest.approx(first.discharge_ah / first.charge_ah)
    assert first.mean_charge_voltage == pytest.approx(first.charge_wh / first.charge_ah)
    assert first.duration_s == 799 and first.start_ts == T0
    assert np.isclose(second.start_ts, T0 + 800)


def test_the_read_gives_back_every_stored_value_exactly(engine: Engine, experiment_id: int) -> None:
    """Every value as stored, to the last bit, and None where a cycle has nothing to
    divide by (on MariaDB the rows come back as text the server writes)."""
    with engine.begin() as connection:
        write(connection, experiment_id, samples(2_500 * 800 // 400, True))
        advance_cycles(connection, experiment_id)
        connection.execute(
            Cycle.__table__.update()
            .where(Cycle.experiment_id == experiment_id, Cycle.cycle == 1)
            .values(charge_ah=0.1 + 0.2, start_voltage=1 / 3)
        )
        connection.execute(  # as a cycle that only charged is stored
            Cycle.__table__.update()
            .where(Cycle.experiment_id == experiment_id, Cycle.cycle == 7)
            .values(coulombic_efficiency=None, energy_efficiency=None, mean_discharge_voltage=None)
        )
    read = experiment_cycles(engine, experiment_id)
    assert [cycle.cycle for cycle in read] == [1, 2, 3, 4, 5, 6, 7]
    assert read[0].charge_ah == 0.1 + 0.2 and read[0].start_voltage == 1 / 3
    assert isinstance(read[0].cycle, int) and isinstance(read[0].samples, int)
    last = read[-1]
    assert last.coulombic_efficiency is None and last.energy_efficiency is None
    assert last.mean_discharge_voltage is None and last.mean_charge_voltage is not None
    with Session(engine) as session:
        stored = session.scalars(
            select(Cycle).where(Cycle.experiment_id == experiment_id).order_by(Cycle.cycle)
        ).all()
        assert [(c.charge_wh, c.discharge_ah, c.end_ts) for c in stored] == [
            (c.charge_wh, c.discharge_ah, c.end_ts) for c in read
        ]


@pytest.mark.parametrize("numbered", [True, False], ids=["cycle column", "detected"])
def test_the_samples_of_chosen_cycles_are_read_by_their_seq_range(
    engine: Engine, experiment_id: int, numbered: bool
) -> None:
    with engine.begin() as connection:
        write(connection, experiment_id, samples(4_000, numbered))
        advance_cycles(connection, experiment_id)
    read = cycle_samples(engine, experiment_id, [2, 5, 99])
    assert sorted(read) == [2, 5]  # no cycle 99
    second = read[2]
    assert second.stride == 1 and second.total == 800 and len(second.ts) == 800
    # Cycle 2 is seq 800 to 1599: 400 s charging at 2 A, then 400 s discharging at 1.9 A.
    assert second.ts[0] == T0 + 800 and second.ts[-1] == T0 + 1599
    assert second.current.tolist() == [2.0] * 400 + [-1.9] * 400
    assert second.voltage[0] == pytest.approx(3.9)


def test_a_long_cycle_is_read_evenly_decimated(engine: Engine, experiment_id: int) -> None:
    with engine.begin() as connection:
        write(connection, experiment_id, samples(1_600, True))
        advance_cycles(connection, experiment_id)
    first = cycle_samples(engine, experiment_id, [1], max_samples=300)[1]
    # 800 samples, at most 300 read: every third one, from the first.
    assert first.stride == 3 and first.total == 800 and len(first.ts) == 267
    assert (first.ts - T0).tolist() == list(range(0, 800, 3))


def test_experiments_stored_before_cycle_tables_get_them_on_upgrade(
    engine: Engine, experiment_id: int
) -> None:
    from datastore.cycles import cycle_unprocessed

    with engine.begin() as connection:
        write(connection, experiment_id, samples(900, True))
        connection.execute(
            Experiment.__table__.update()
            .where(Experiment.id == experiment_id)
            .values(sample_count=900)
        )
        assert cycle_unprocessed(connection) == [experiment_id]
        assert cycle_unprocessed(connection) == []
    assert [row[0] for row in table(engine, experiment_id)] == [1, 2]


@pytest.mark.parametrize("with_column", [True, False], ids=["cycle column", "no cycle column"])
def test_an_import_stores_the_cycles_of_its_file(engine: Engine, with_column: bool) -> None:
    from datastore.imports import import_experiment
    from domain.csvformat import parse_csv

    with Session(engine) as session:
        battery_id = session.scalar(
            select(Experiment.battery_id).where(Experiment.id == add_experiment(session))
        )
    rows = samples(4_000, numbered=True)
    header = "Unix Time / s,Voltage / V,Current / A" + (",Cycle Count / 1" if with_column else "")
    lines = [header] + [
        f"{ts!r},{v!r},{i!r}" + (f",{cycle}" if with_column else "")
        for _seq, ts, v, i, _p, cycle in rows
    ]
    experiment_id = import_experiment(
        engine, parse_csv("\n".join(lines).encode()), name="imported", battery_id=battery_id
    )
    expected = from_scratch(rows, numbered=with_column)
    assert table(engine, experiment_id) == expected and len(expected) == 5
