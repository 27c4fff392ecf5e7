"""The cycle table: kept current as samples arrive or are imported, read in one query.

`advance_cycles` integrates an experiment's samples after the point where it last
stopped (`CycleProgress`), in sequence order, and rewrites the cycles they touched. The
node calls it for each experiment in every batch it writes, in the same transaction.
Samples can commit out of order (two nodes sharing the ingest), so integration stops at
a hole in the sequence numbers and goes on once it is filled; a hole still open when
samples `hole_wait_s` newer have arrived is taken as lost and crossed.

The arithmetic is `domain.cycles`; this module only reads and writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Connection, delete, insert, select

from datastore.bulk import insert_rows
from datastore.engine import Bind, connection_of
from datastore.models import Battery, Cycle, CycleProgress, Experiment, Measurement
from domain.cycles import CycleIntegrator, CycleTotals, IntegratorState, detection_threshold

# Samples read per query while integrating.
_CHUNK = 200_000
DEFAULT_HOLE_WAIT_S = 60.0
_CYCLE_COLUMNS = [c.name for c in Cycle.__table__.columns]


@dataclass(frozen=True)
class CycleRow:
    """One row of the cycle table, as pages and exports read it."""

    cycle: int
    start_ts: float
    end_ts: float
    duration_s: float
    samples: int
    start_voltage: float
    end_voltage: float
    charge_ah: float
    discharge_ah: float
    charge_wh: float
    discharge_wh: float
    coulombic_efficiency: float | None
    energy_efficiency: float | None
    mean_charge_voltage: float | None
    mean_discharge_voltage: float | None


def experiment_cycles(bind: Bind, experiment_id: int) -> list[CycleRow]:
    """The experiment's cycles in order (one indexed read of the stored table)."""
    c = Cycle.__table__.c
    with connection_of(bind) as connection:
        rows = connection.execute(
            select(*[c[name] for name in CycleRow.__dataclass_fields__])
            .where(c.experiment_id == experiment_id)
            .order_by(c.cycle)
        ).all()
    return [CycleRow(*row) for row in rows]


def advance_cycles(
    connection: Connection, experiment_id: int, *, hole_wait_s: float = DEFAULT_HOLE_WAIT_S
) -> int:
    """Integrate the samples stored since the last call; returns how many were added."""
    progress = _load_progress(connection, experiment_id)
    integrator = CycleIntegrator(
        threshold_a=_threshold(connection, experiment_id),
        state=progress.state if progress else IntegratorState(),
    )
    numbered = progress.numbered if progress else None
    m = Measurement.__table__.c
    added = 0
    totals: dict[int, CycleTotals] = {}
    while True:
        rows = connection.execute(
            select(m.seq, m.ts, m.voltage, m.current, m.cycle)
            .where(m.experiment_id == experiment_id, m.seq > integrator.state.last_seq)
            .order_by(m.seq)
            .limit(_CHUNK)
        ).all()
        if not rows:
            break
        seq = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
        ts = np.fromiter((row[1] for row in rows), dtype=np.float64, count=len(rows))
        usable = _before_open_hole(integrator.state.last_seq, seq, ts, hole_wait_s)
        if usable == 0:
            break
        cycles = [row[4] for row in rows[:usable]]
        if numbered is None:
            numbered = any(number is not None for number in cycles)
        wanted = {integrator.state.cycle}
        if numbered:
            wanted |= {number for number in cycles if number is not None}
        _load_cycles(connection, experiment_id, totals, wanted)
        integrator.add(
            seq[:usable],
            ts[:usable],
            [row[2] for row in rows[:usable]],
            [row[3] for row in rows[:usable]],
            cycles if numbered else None,
            totals,
        )
        added += usable
        if usable < len(rows):
            break
    if added:
        _store(connection, experiment_id, totals, integrator.state, bool(numbered))
    return added


def store_cycles(
    connection: Connection,
    experiment_id: int,
    seq: np.ndarray,
    ts: np.ndarray,
    voltage: np.ndarray,
    current: np.ndarray,
    cycle: Sequence[int | None] | None,
) -> None:
    """The cycle table of a new experiment whose samples are all given here (an import),
    in ascending seq; `cycle` is the file's cycle column (None: detect the cycles)."""
    numbered = cycle is not None and any(number is not None for number in cycle)
    integrator = CycleIntegrator(threshold_a=_threshold(connection, experiment_id))
    totals = integrator.add(seq, ts, voltage, current, cycle if numbered else None)
    if totals:
        _store(connection, experiment_id, totals, integrator.state, numbered)


def rebuild_cycles(connection: Connection, experiment_id: int) -> None:
    """Recompute the experiment's cycle table from all its samples."""
    connection.execute(delete(Cycle).where(Cycle.experiment_id == experiment_id))
    connection.execute(delete(CycleProgress).where(CycleProgress.experiment_id == experiment_id))
    advance_cycles(connection, experiment_id, hole_wait_s=0.0)


def cycle_unprocessed(connection: Connection) -> list[int]:
    """Cycle tables for every experiment with samples and none yet (a database written
    before cycle tables existed); returns their ids."""
    done = select(CycleProgress.experiment_id).where(CycleProgress.experiment_id == Experiment.id)
    experiment_ids = connection.scalars(
        select(Experiment.id).where(Experiment.sample_count > 0, ~done.exists())
    ).all()
    for experiment_id in experiment_ids:
        rebuild_cycles(connection, experiment_id)
    return list(experiment_ids)


# ---------------------------------------------------------------- helpers


@dataclass
class _Progress:
    numbered: bool
    state: IntegratorState


def _load_progress(connection: Connection, experiment_id: int) -> _Progress | None:
    row = connection.execute(
        select(CycleProgress.__table__).where(CycleProgress.experiment_id == experiment_id)
    ).first()
    if row is None:
        return None
    return _Progress(
        bool(row.numbered),
        IntegratorState(
            last_seq=row.last_seq,
            last_ts=row.last_ts,
            last_voltage=row.last_voltage,
            last_current=row.last_current,
            cycle=row.cycle,
            discharged=bool(row.discharged),
        ),
    )


def _threshold(connection: Connection, experiment_id: int) -> float:
    capacity = connection.scalar(
        select(Battery.nominal_capacity_ah)
        .join(Experiment, Experiment.battery_id == Battery.id)
        .where(Experiment.id == experiment_id)
    )
    return detection_threshold(capacity)


def _before_open_hole(last_seq: int, seq: np.ndarray, ts: np.ndarray, wait_s: float) -> int:
    """How many of the samples (ascending seq after `last_seq`) can be integrated now: all
    up to the first hole in the numbering (the first sample is seq 0), or past it once
    samples newer by `wait_s` seconds show that what is missing is not coming."""
    expected = np.r_[last_seq + 1, seq[:-1] + 1]
    holes = np.flatnonzero(seq != expected)
    usable = len(seq)
    for hole in holes.tolist():
        if ts[-1] - ts[hole] < wait_s:
            usable = hole
            break
    return usable


def _load_cycles(
    connection: Connection, experiment_id: int, totals: dict[int, CycleTotals], numbers: set[int]
) -> None:
    """Put the stored rows of these cycles into `totals`, to be continued."""
    missing = sorted(number for number in numbers if number and number not in totals)
    if not missing:
        return
    c = Cycle.__table__.c
    for row in connection.execute(
        select(Cycle.__table__).where(c.experiment_id == experiment_id, c.cycle.in_(missing))
    ):
        totals[row.cycle] = CycleTotals(
            cycle=row.cycle,
            first_seq=row.first_seq,
            last_seq=row.last_seq,
            start_ts=row.start_ts,
            end_ts=row.end_ts,
            start_voltage=row.start_voltage,
            end_voltage=row.end_voltage,
            charge_ah=row.charge_ah,
            discharge_ah=row.discharge_ah,
            charge_wh=row.charge_wh,
            discharge_wh=row.discharge_wh,
            samples=row.samples,
        )


def _store(
    connection: Connection,
    experiment_id: int,
    totals: dict[int, CycleTotals],
    state: IntegratorState,
    numbered: bool,
) -> None:
    """Rewrite the cycles in `totals` (whole rows; cycles met again were loaded first)."""
    numbers = sorted(totals)
    for start in range(0, len(numbers), 1_000):
        connection.execute(
            delete(Cycle).where(
                Cycle.experiment_id == experiment_id,
                Cycle.cycle.in_(numbers[start : start + 1_000]),
            )
        )
    insert_rows(
        connection,
        Cycle.__tablename__,
        _CYCLE_COLUMNS,
        [_cycle_values(experiment_id, totals[number]) for number in numbers],
    )
    connection.execute(delete(CycleProgress).where(CycleProgress.experiment_id == experiment_id))
    connection.execute(
        insert(CycleProgress).values(
            experiment_id=experiment_id,
            numbered=numbered,
            last_seq=state.last_seq,
            last_ts=state.last_ts,
            last_voltage=state.last_voltage,
            last_current=state.last_current,
            cycle=state.cycle,
            discharged=state.discharged,
        )
    )


def _cycle_values(experiment_id: int, cycle: CycleTotals) -> Sequence[object]:
    values = {
        "experiment_id": experiment_id,
        "cycle": cycle.cycle,
        "first_seq": cycle.first_seq,
        "last_seq": cycle.last_seq,
        "samples": cycle.samples,
        "start_ts": cycle.start_ts,
        "end_ts": cycle.end_ts,
        "duration_s": cycle.duration_s,
        "start_voltage": cycle.start_voltage,
        "end_voltage": cycle.end_voltage,
        "charge_ah": cycle.charge_ah,
        "discharge_ah": cycle.discharge_ah,
        "charge_wh": cycle.charge_wh,
        "discharge_wh": cycle.discharge_wh,
        "coulombic_efficiency": cycle.coulombic_efficiency,
        "energy_efficiency": cycle.energy_efficiency,
        "mean_charge_voltage": cycle.mean_charge_voltage,
        "mean_discharge_voltage": cycle.mean_discharge_voltage,
    }
    return [values[name] for name in _CYCLE_COLUMNS]
