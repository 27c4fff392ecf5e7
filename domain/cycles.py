"""Cycle statistics: charge and discharge capacity and energy, efficiencies, mean voltages.

Pure functions over samples in sequence order. Capacity is the integral of current over
time and energy the integral of power (voltage × current), each split by the sign of the
current: charge while it is positive, discharge while negative (docs/analysis.md).

- **Integration.** Trapezoids between consecutive samples: 2 A held from t = 0 to
  t = 3,600 s gives 2 Ah. A step from one sample to the next is counted in the cycle of
  the later sample. An interval longer than `max_gap_s` is a hole in the data (a lost
  connection, a pause that sent nothing) and is not integrated.
- **Cycles.** When the samples carry a cycle number (from the profile, or an imported
  file's cycle column) it is used as it is. Otherwise a new cycle begins where a charge
  follows a discharge: a sample charging by more than `threshold_a` after the last
  sample that discharged by more than it.

`CycleIntegrator` does this incrementally: feed it the samples as they arrive, in order,
and it keeps one `CycleTotals` per cycle, exactly as if all samples were given at once.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

SECONDS_PER_HOUR = 3600.0
DEFAULT_MAX_GAP_S = 300.0
# The smallest current that counts as charging or discharging when cycles are detected,
# as a fraction of the battery's nominal capacity per hour (C/1000), or this many amperes.
THRESHOLD_C_RATE = 0.001
DEFAULT_THRESHOLD_A = 0.001


def detection_threshold(capacity_ah: float | None) -> float:
    """The current that marks charge or discharge for cycle detection on this battery."""
    if capacity_ah and capacity_ah > 0:
        return capacity_ah * THRESHOLD_C_RATE
    return DEFAULT_THRESHOLD_A


@dataclass
class CycleTotals:
    """What one cycle adds up to. Capacities in Ah, energies in Wh, both positive."""

    cycle: int
    first_seq: int
    last_seq: int
    start_ts: float
    end_ts: float
    start_voltage: float
    end_voltage: float
    charge_ah: float = 0.0
    discharge_ah: float = 0.0
    charge_wh: float = 0.0
    discharge_wh: float = 0.0
    samples: int = 0

    @property
    def duration_s(self) -> float:
        return self.end_ts - self.start_ts

    @property
    def coulombic_efficiency(self) -> float | None:
        """Discharge over charge capacity; None without a charge."""
        return self.discharge_ah / self.charge_ah if self.charge_ah > 0 else None

    @property
    def energy_efficiency(self) -> float | None:
        return self.discharge_wh / self.charge_wh if self.charge_wh > 0 else None

    @property
    def mean_charge_voltage(self) -> float | None:
        """Charge energy over charge capacity: the voltage averaged over the charge passed."""
        return self.charge_wh / self.charge_ah if self.charge_ah > 0 else None

    @property
    def mean_discharge_voltage(self) -> float | None:
        return self.discharge_wh / self.discharge_ah if self.discharge_ah > 0 else None


@dataclass
class IntegratorState:
    """Where an integration stopped: enough to continue it with the next samples."""

    last_seq: int = -1
    last_ts: float = math.nan
    last_voltage: float = math.nan
    last_current: float = math.nan
    cycle: int = 0  # the cycle of the last sample (0: no sample yet)
    discharged: bool = False  # detection: a discharge was seen in the current cycle


@dataclass
class CycleIntegrator:
    """Cycle totals built from samples given in sequence order, a few at a time."""

    threshold_a: float = DEFAULT_THRESHOLD_A
    max_gap_s: float = DEFAULT_MAX_GAP_S
    state: IntegratorState = field(default_factory=IntegratorState)

    def add(
        self,
        seq: Sequence[int] | np.ndarray,
        ts: Sequence[float] | np.ndarray,
        voltage: Sequence[float] | np.ndarray,
        current: Sequence[float] | np.ndarray,
        cycle: Sequence[int | None] | np.ndarray | None = None,
        totals: dict[int, CycleTotals] | None = None,
    ) -> dict[int, CycleTotals]:
        """Add samples (ascending seq, all after `state.last_seq`) to `totals` (the cycles
        so far, changed in place; a new dict when None); returns the totals."""
        totals = {} if totals is None else totals
        if len(seq) == 0:
            return totals
        state = self.state
        seqs = np.asarray(seq, dtype=np.int64)
        t = np.asarray(ts, dtype=np.float64)
        v = np.asarray(voltage, dtype=np.float64)
        i = np.asarray(current, dtype=np.float64)
        numbers = self._cycles(i, cycle)

        # Each interval ends at a sample and counts in that sample's cycle; the first one
        # starts at the last sample of the previous call (none before the first call).
        t0 = np.r_[state.last_ts, t[:-1]]
        v0 = np.r_[state.last_voltage, v[:-1]]
        i0 = np.r_[state.last_current, i[:-1]]
        with np.errstate(invalid="ignore"):
            dt = t - t0
            counted = (dt > 0) & (dt <= self.max_gap_s)  # NaN (no sample before) is False
        hours = np.where(counted, dt, 0.0) / SECONDS_PER_HOUR
        v0, i0 = np.nan_to_num(v0), np.nan_to_num(i0)
        charge0, charge1 = np.maximum(i0, 0.0), np.maximum(i, 0.0)
        discharge0, discharge1 = np.maximum(-i0, 0.0), np.maximum(-i, 0.0)
        parts = {
            "charge_ah": 0.5 * (charge0 + charge1) * hours,
            "discharge_ah": 0.5 * (discharge0 + discharge1) * hours,
            "charge_wh": 0.5 * (v0 * charge0 + v * charge1) * hours,
            "discharge_wh": 0.5 * (v0 * discharge0 + v * discharge1) * hours,
        }

        starts = np.flatnonzero(np.r_[True, numbers[1:] != numbers[:-1]])
        ends = np.r_[starts[1:], len(numbers)] - 1
        sums = {name: np.add.reduceat(values, starts).tolist() for name, values in parts.items()}
        for run, (first, last) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
            number = int(numbers[first])
            row = totals.get(number)
            if row is None:
                row = totals[number] = CycleTotals(
                    cycle=number,
                    first_seq=int(seqs[first]),
                    last_seq=int(seqs[first]),
                    start_ts=float(t[first]),
                    end_ts=float(t[first]),
                    start_voltage=float(v[first]),
                    end_voltage=float(v[first]),
                )
            row.charge_ah += sums["charge_ah"][run]
            row.discharge_ah += sums["discharge_ah"][run]
            row.charge_wh += sums["charge_wh"][run]
            row.discharge_wh += sums["discharge_wh"][run]
            row.last_seq, row.end_ts = int(seqs[last]), float(t[last])
            row.end_voltage = float(v[last])
            row.samples += last - first + 1
        state.last_seq, state.last_ts = int(seqs[-1]), float(t[-1])
        state.last_voltage, state.last_current = float(v[-1]), float(i[-1])
        return totals

    def _cycles(
        self, current: np.ndarray, given: Sequence[int | None] | np.ndarray | None
    ) -> np.ndarray:
        """The cycle of each sample: the given numbers, or detected (see the module)."""
        state = self.state
        if given is not None:
            if isinstance(given, np.ndarray):  # an import's chunk: -1 where a row has none
                numbers = given.astype(np.int64)
            else:
                numbers = np.array([-1 if g is None else g for g in given], dtype=np.int64)
            # A sample without a number keeps the cycle of the sample before it.
            index = np.where(numbers >= 0, np.arange(len(numbers)), -1)
            np.maximum.accumulate(index, out=index)
            numbers = np.where(index >= 0, numbers[np.maximum(index, 0)], max(state.cycle, 1))
            state.cycle = int(numbers[-1])
            return numbers
        # Charge (+1), discharge (-1) or neither (0); then, before each sample, the last
        # non-zero sign (carried over from the previous call).
        sign = np.where(current > self.threshold_a, 1, np.where(current < -self.threshold_a, -1, 0))
        signs = np.r_[-1 if state.discharged else 0, sign]
        index = np.where(signs != 0, np.arange(len(signs)), 0)
        np.maximum.accumulate(index, out=index)
        last_nonzero = signs[index]
        # A new cycle starts at a charging sample whose last non-zero sign before it was -1.
        new_cycle = (sign == 1) & (last_nonzero[:-1] == -1)
        numbers = max(state.cycle, 1) + np.cumsum(new_cycle)
        state.cycle = int(numbers[-1])
        state.discharged = bool(last_nonzero[-1] == -1)
        return numbers


def cycle_totals(
    seq: Sequence[int],
    ts: Sequence[float],
    voltage: Sequence[float],
    current: Sequence[float],
    cycle: Sequence[int | None] | None = None,
    *,
    threshold_a: float = DEFAULT_THRESHOLD_A,
    max_gap_s: float = DEFAULT_MAX_GAP_S,
) -> list[CycleTotals]:
    """The cycles of a whole experiment at once, in cycle order."""
    integrator = CycleIntegrator(threshold_a=threshold_a, max_gap_s=max_gap_s)
    return sorted(integrator.add(seq, ts, voltage, current, cycle).values(), key=_number)


def _number(totals: CycleTotals) -> int:
    return totals.cycle


# ---------------------------------------------------------------- figures over cycles


class CycleCapacities(Protocol):
    """What retention needs of a cycle: the stored row or the totals computed here."""

    @property
    def cycle(self) -> int: ...
    @property
    def charge_ah(self) -> float: ...
    @property
    def discharge_ah(self) -> float: ...


@dataclass(frozen=True)
class Retention:
    """Discharge capacity of each cycle as a percentage of a reference."""

    reference_ah: float
    reference: str  # what the reference is, in words
    percent: list[float | None]
    cycles_to_80: int | None  # the first cycle below 80 %, when one is


def retention(
    cycles: Iterable[CycleCapacities],
    nominal_ah: float | None = None,
    *,
    of_nominal: bool = False,
) -> Retention | None:
    """Retention against the first full cycle (one with both a charge and a discharge) or,
    with `of_nominal`, against the battery's nominal capacity. None without a reference."""
    cycles = list(cycles)
    if of_nominal:
        if not nominal_ah or nominal_ah <= 0:
            return None
        reference, words = nominal_ah, f"nominal capacity ({nominal_ah:g} Ah)"
    else:
        full = next((c for c in cycles if c.charge_ah > 0 and c.discharge_ah > 0), None)
        if full is None:
            return None
        reference, words = full.discharge_ah, f"cycle {full.cycle} ({full.discharge_ah:.4g} Ah)"
    percent = [100 * c.discharge_ah / reference if c.discharge_ah > 0 else None for c in cycles]
    below = next(
        (c.cycle for c, p in zip(cycles, percent, strict=True) if p is not None and p < 80),
        None,
    )
    return Retention(reference, words, percent, below)
