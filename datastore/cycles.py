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

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import Connection, delete, func, literal, literal_column, select

from datastore.bulk import upsert_rows
from datastore.engine import Bind, connection_of
from datastore.models import Battery, Cycle, CycleProgress, Experiment, Measurement
from datastore.packed import Lines
from domain.cycles import (
    DEFAULT_THRESHOLD_A,
    CycleIntegrator,
    CycleTotals,
    IntegratorState,
    detection_threshold,
)

# Samples read per query while integrating.
_CHUNK = 200_000
DEFAULT_HOLE_WAIT_S = 60.0
_CYCLE_COLUMNS = [c.name for c in Cycle.__table__.columns]
_PROGRESS_COLUMNS = [
    "experiment_id", "numbered", "blocked", "last_seq", "last_ts", "last_voltage",
    "last_current", "cycle", "discharged",
]  # fmt: skip


@dataclass(slots=True)  # not frozen: thousands are built per read, and frozen doubles that cost
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


_ROW_FIELDS = tuple(CycleRow.__dataclass_fields__)
_INTEGER_FIELDS = frozenset({"cycle", "samples"})
_OPTIONAL_FIELDS = frozenset(
    {"coulombic_efficiency", "energy_efficiency", "mean_charge_voltage", "mean_discharge_voltage"}
)
# Cycles per packed block on MariaDB: about 150 kB of text, well within GROUP_CONCAT's
# default limit of 1 MiB (the read checks that no block was cut).
_PACKED_BLOCK_CYCLES = 500


def experiment_cycles(bind: Bind, experiment_id: int) -> list[CycleRow]:
    """The experiment's cycles in order (one indexed read of the stored table)."""
    c = Cycle.__table__.c
    with connection_of(bind) as connection:
        if connection.dialect.name in ("mysql", "mariadb"):
            return _packed_cycles(connection, experiment_id)
        rows = connection.execute(
            select(*[c[name] for name in _ROW_FIELDS])
            .where(c.experiment_id == experiment_id)
            .order_by(c.cycle)
        ).all()
    return [CycleRow(*row) for row in rows]


def _packed_cycles(connection: Connection, experiment_id: int) -> list[CycleRow]:
    """The cycle table read as blocks of text the server writes (`datastore.packed`): a
    long cycle-life test has thousands of cycles of 15 values each."""
    c = Cycle.__table__.c
    cells = [
        func.ifnull(c[name], literal("nan")) if name in _OPTIONAL_FIELDS else c[name]
        for name in _ROW_FIELDS
    ]
    block = c.cycle.op("DIV")(literal_column(str(_PACKED_BLOCK_CYCLES)))
    blocks = connection.execute(
        select(func.count(), Lines(func.concat_ws(",", *cells), c.cycle))
        .where(c.experiment_id == experiment_id)
        .group_by(block)
        .order_by(block)
    ).all()
    cycles: list[CycleRow] = []
    for count, lines in blocks:
        texts = lines.replace("\n", ",").split(",")
        if len(texts) != count * len(_ROW_FIELDS):  # GROUP_CONCAT cut the block at its limit
            raise RuntimeError(f"the server cut a block of {count} cycles short")
        table = np.array(texts, dtype=float).reshape(count, len(_ROW_FIELDS))
        cycles.extend(_cycle_row(values) for values in table.tolist())
    return cycles


_INTEGER_POSITIONS = [i for i, name in enumerate(_ROW_FIELDS) if name in _INTEGER_FIELDS]
_OPTIONAL_POSITIONS = [i for i, name in enumerate(_ROW_FIELDS) if name in _OPTIONAL_FIELDS]


def _cycle_row(values: list[Any]) -> CycleRow:
    for position in _INTEGER_POSITIONS:
        values[position] = int(values[position])
    for position in _OPTIONAL_POSITIONS:
        if math.isnan(values[position]):
            values[position] = None
    return CycleRow(*values)


# The most samples read for one cycle's curves: above it, every k-th sample is read.
MAX_CURVE_SAMPLES = 20_000


@dataclass(frozen=True)
class CycleSamples:
    """The samples of one cycle for its curves, in seq order: every `stride`-th of the
    `total` samples in the cycle's seq range (stride 1: all of them)."""

    cycle: int
    ts: np.ndarray
    voltage: np.ndarray
    current: np.ndarray
    stride: int
    total: int


def cycle_samples(
    bind: Bind,
    experiment_id: int,
    cycles: Sequence[int],
    *,
    max_samples: int = MAX_CURVE_SAMPLES,
) -> dict[int, CycleSamples]:
    """The samples of the chosen cycles (at most `max_samples` each, evenly spaced), by
    cycle; a cycle the table does not have is left out.

    Each cycle is one range of the primary key, from its first to its last seq, so the
    read costs the cycle's size, not the experiment's. When samples carry cycle numbers
    that go back (an imported file), the range may hold samples of another cycle: only
    those numbered with this cycle, or not numbered, are kept."""
    c = Cycle.__table__.c
    m = Measurement.__table__.c
    found: dict[int, CycleSamples] = {}
    with connection_of(bind) as connection:
        ranges = connection.execute(
            select(c.cycle, c.first_seq, c.last_seq).where(
                c.experiment_id == experiment_id, c.cycle.in_(sorted(set(cycles)))
            )
        ).all()
        for number, first, last in ranges:
            total = last - first + 1
            stride = max(1, -(-total // max(1, max_samples)))
            conditions = [
                m.experiment_id == experiment_id,
                m.seq >= first,
                m.seq <= last,
                (m.cycle.is_(None)) | (m.cycle == number),
            ]
            if stride > 1:
                conditions.append((m.seq - first) % stride == 0)
            rows = connection.execute(
                select(m.ts, m.voltage, m.current).where(*conditions).order_by(m.seq)
            ).all()
            values = np.array(rows, dtype=np.float64).reshape(-1, 3)
            found[number] = CycleSamples(
                number, values[:, 0], values[:, 1], values[:, 2], stride, total
            )
    return found


@dataclass(frozen=True)
class NewSamples:
    """Samples of one experiment just written, as the writer has them (any order, maybe
    repeated): integrated from memory when they follow on from the stored progress."""

    seq: Sequence[int]
    ts: Sequence[float]
    voltage: Sequence[float]
    current: Sequence[float]
    cycle: Sequence[int | None]


def advance_cycles(
    connection: Connection, experiment_id: int, *, hole_wait_s: float = DEFAULT_HOLE_WAIT_S
) -> int:
    """Integrate the samples stored since the last call; returns how many were added."""
    return advance_cycles_of(connection, {experiment_id: None}, hole_wait_s=hole_wait_s)


def advance_cycles_of(
    connection: Connection,
    experiments: Mapping[int, NewSamples | None],
    *,
    hole_wait_s: float = DEFAULT_HOLE_WAIT_S,
) -> int:
    """Advance the cycle tables of several experiments in a few statements; with the
    samples just written (`NewSamples`) they are integrated without reading them back
    when they continue the stored progress. Returns how many samples were added."""
    ids = sorted(experiments)
    if not ids:
        return 0
    progress, thresholds, stored = _load_state(connection, ids)
    added = 0
    results: list[_Advanced] = []
    for experiment_id in ids:
        known = progress.get(experiment_id)
        integrator = CycleIntegrator(
            threshold_a=thresholds.get(experiment_id, DEFAULT_THRESHOLD_A),
            state=known.state if known else IntegratorState(),
        )
        totals = {cycle: row for (owner, cycle), row in stored.items() if owner == experiment_id}
        advanced = _Advanced(experiment_id, integrator, totals, known.numbered if known else None)
        advanced.looked_up |= set(totals) | {integrator.state.cycle}
        new = experiments[experiment_id]
        from_memory = None if known and known.blocked else _continuation(new, integrator.state)
        if from_memory is not None:
            try:
                advanced.add(*from_memory)
            except _NeedStoredCycles as needed:
                advanced.look_up(connection, needed.numbers)
                advanced.add(*from_memory)
        else:
            advanced.read_stored(connection, hole_wait_s)
        if advanced.count:
            added += advanced.count
            results.append(advanced)
    if results:
        _store(connection, results)
    return added


@dataclass
class _Advanced:
    """One experiment's integration in progress."""

    experiment_id: int
    integrator: CycleIntegrator
    totals: dict[int, CycleTotals]
    numbered: bool | None
    count: int = 0
    blocked: bool = False
    # Cycle numbers whose stored rows were looked for already (found or not).
    looked_up: set[int] = field(default_factory=set)

    def add(
        self,
        seq: np.ndarray,
        ts: np.ndarray,
        voltage: Sequence[float] | np.ndarray,
        current: Sequence[float] | np.ndarray,
        cycles: Sequence[int | None],
    ) -> None:
        if self.numbered is None:
            self.numbered = any(number is not None for number in cycles)
        if self.numbered:
            unknown = {n for n in cycles if n is not None} - set(self.totals) - self.looked_up
            if unknown:
                raise _NeedStoredCycles(unknown)
        self.integrator.add(
            seq, ts, voltage, current, cycles if self.numbered else None, self.totals
        )
        self.count += len(seq)

    def look_up(self, connection: Connection, numbers: set[int]) -> None:
        self.totals.update(_load_cycles(connection, self.experiment_id, numbers))
        self.looked_up |= numbers

    def read_stored(self, connection: Connection, hole_wait_s: float) -> None:
        """Integrate from the stored samples after the progress, up to an open hole."""
        m = Measurement.__table__.c
        while True:
            rows = connection.execute(
                select(m.seq, m.ts, m.voltage, m.current, m.cycle)
                .where(
                    m.experiment_id == self.experiment_id, m.seq > self.integrator.state.last_seq
                )
                .order_by(m.seq)
                .limit(_CHUNK)
            ).all()
            if not rows:
                self.blocked = False
                return
            seq = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
            ts = np.fromiter((row[1] for row in rows), dtype=np.float64, count=len(rows))
            usable = _before_open_hole(self.integrator.state.last_seq, seq, ts, hole_wait_s)
            if usable == 0:
                self.blocked = True
                return
            cycles = [row[4] for row in rows[:usable]]
            try:
                self.add(
                    seq[:usable],
                    ts[:usable],
                    [row[2] for row in rows[:usable]],
                    [row[3] for row in rows[:usable]],
                    cycles,
                )
            except _NeedStoredCycles as needed:
                self.look_up(connection, needed.numbers)
                continue
            if usable < len(rows):
                self.blocked = True
                return


class _NeedStoredCycles(Exception):
    """Samples of cycles whose stored rows were not loaded (numbers that went back)."""

    def __init__(self, numbers: set[int]) -> None:
        super().__init__(numbers)
        self.numbers = numbers


def _continuation(
    new: NewSamples | None, state: IntegratorState
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[int | None]] | None:
    """The new samples in seq order, when they follow the progress without a hole (the
    usual case: a cycler sends in order); None when they must be read back instead."""
    if new is None or not len(new.seq):
        return None
    seq = np.asarray(new.seq, dtype=np.int64)
    order = np.argsort(seq, kind="stable")
    seq = seq[order]
    keep = np.r_[True, seq[1:] != seq[:-1]] & (seq > state.last_seq)
    if not keep.any():
        return None
    seq = seq[keep]
    if seq[0] != state.last_seq + 1 or (len(seq) > 1 and np.any(np.diff(seq) != 1)):
        return None
    picked = order[keep]
    cycles = [new.cycle[i] for i in picked.tolist()]
    return (
        seq,
        np.asarray(new.ts, dtype=np.float64)[picked],
        np.asarray(new.voltage, dtype=np.float64)[picked],
        np.asarray(new.current, dtype=np.float64)[picked],
        cycles,
    )


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
    threshold = _load_state(connection, [experiment_id])[1].get(experiment_id, DEFAULT_THRESHOLD_A)
    advanced = _Advanced(experiment_id, CycleIntegrator(threshold_a=threshold), {}, numbered)
    advanced.looked_up |= {number for number in cycle or () if number is not None}  # all new
    advanced.add(seq, ts, voltage, current, list(cycle) if cycle is not None else [None] * len(seq))
    if advanced.count:
        _store(connection, [advanced])


class ImportedCycles:
    """The cycle table of a new experiment whose samples arrive in chunks, in seq order
    (an import read chunk by chunk): the same table `store_cycles` gives for all the
    samples at once, from the small per-cycle totals kept here.

    The file's cycle numbers are used when any row has one; until one is seen, both
    ways are integrated (detected cycles, and numbered ones with every row in cycle 1),
    and the first number decides."""

    def __init__(self, connection: Connection, experiment_id: int) -> None:
        self.experiment_id = experiment_id
        threshold = _load_state(connection, [experiment_id])[1].get(
            experiment_id, DEFAULT_THRESHOLD_A
        )
        self._detected: _Advanced | None = _Advanced(
            experiment_id, CycleIntegrator(threshold_a=threshold), {}, False
        )
        self._numbered = _Advanced(experiment_id, CycleIntegrator(threshold_a=threshold), {}, True)
        self.numbered = False

    def add(
        self,
        seq: np.ndarray,
        ts: np.ndarray,
        voltage: np.ndarray,
        current: np.ndarray,
        cycle: np.ndarray,
    ) -> None:
        """The next samples; `cycle` holds the file's numbers, -1 where a row has none."""
        if not len(seq):
            return
        if not self.numbered and bool((cycle >= 0).any()):
            self.numbered, self._detected = True, None
        numbered = self._numbered
        numbered.integrator.add(seq, ts, voltage, current, cycle, numbered.totals)
        numbered.count += len(seq)
        if self._detected is not None:
            detected = self._detected
            detected.integrator.add(seq, ts, voltage, current, None, detected.totals)
            detected.count += len(seq)

    def store(self, connection: Connection) -> None:
        """Write the table and the progress (after the last chunk)."""
        advanced = self._numbered if self.numbered else self._detected
        if advanced is not None and advanced.count:
            _store(connection, [advanced])


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
    blocked: bool
    state: IntegratorState


def _load_state(
    connection: Connection, ids: Sequence[int]
) -> tuple[dict[int, _Progress], dict[int, float], dict[tuple[int, int], CycleTotals]]:
    """For each experiment: its progress, its detection threshold (from the battery) and
    the stored row of the cycle in progress, in one query."""
    p = CycleProgress.__table__.c
    c = Cycle.__table__.c
    query = (
        select(
            Experiment.id.label("owner"),
            Battery.nominal_capacity_ah.label("capacity"),
            *[column.label(f"p_{column.name}") for column in p],
            *[column.label(f"c_{column.name}") for column in c],
        )
        .join(Battery, Experiment.battery_id == Battery.id)
        .outerjoin(CycleProgress.__table__, p.experiment_id == Experiment.id)
        .outerjoin(Cycle.__table__, (c.experiment_id == p.experiment_id) & (c.cycle == p.cycle))
        .where(Experiment.id.in_(ids))
    )
    progress: dict[int, _Progress] = {}
    thresholds: dict[int, float] = {}
    stored: dict[tuple[int, int], CycleTotals] = {}
    for row in connection.execute(query).mappings():
        owner = row["owner"]
        thresholds[owner] = detection_threshold(row["capacity"])
        if row["p_experiment_id"] is None:
            continue
        progress[owner] = _Progress(
            bool(row["p_numbered"]),
            bool(row["p_blocked"]),
            IntegratorState(
                last_seq=row["p_last_seq"],
                last_ts=row["p_last_ts"],
                last_voltage=row["p_last_voltage"],
                last_current=row["p_last_current"],
                cycle=row["p_cycle"],
                discharged=bool(row["p_discharged"]),
            ),
        )
        if row["c_cycle"] is not None:
            stored[(owner, row["c_cycle"])] = _totals(
                {name: row[f"c_{name}"] for name in _CYCLE_COLUMNS}
            )
    return progress, thresholds, stored


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


_TOTALS_FIELDS = (
    "cycle", "first_seq", "last_seq", "start_ts", "end_ts", "start_voltage", "end_voltage",
    "charge_ah", "discharge_ah", "charge_wh", "discharge_wh", "samples",
)  # fmt: skip


def _totals(row: Mapping[Any, Any]) -> CycleTotals:
    return CycleTotals(**{name: row[name] for name in _TOTALS_FIELDS})


def _load_cycles(
    connection: Connection, experiment_id: int, numbers: set[int]
) -> dict[int, CycleTotals]:
    c = Cycle.__table__.c
    rows = connection.execute(
        select(Cycle.__table__).where(
            c.experiment_id == experiment_id, c.cycle.in_(sorted(numbers))
        )
    )
    return {row["cycle"]: _totals(row) for row in rows.mappings()}


def _store(connection: Connection, advanced: Sequence[_Advanced]) -> None:
    """Write the cycles each integration touched and its progress: two upserts."""
    upsert_rows(
        connection,
        Cycle.__tablename__,
        _CYCLE_COLUMNS,
        ("experiment_id", "cycle"),
        [_cycle_values(a.experiment_id, a.totals[n]) for a in advanced for n in sorted(a.totals)],
    )
    upsert_rows(
        connection,
        CycleProgress.__tablename__,
        _PROGRESS_COLUMNS,
        ("experiment_id",),
        [
            (
                a.experiment_id,
                bool(a.numbered),
                a.blocked,
                a.integrator.state.last_seq,
                a.integrator.state.last_ts,
                a.integrator.state.last_voltage,
                a.integrator.state.last_current,
                a.integrator.state.cycle,
                a.integrator.state.discharged,
            )
            for a in advanced
        ],
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
