"""The curves of one cycle: voltage against capacity, and dQ/dV against voltage.

Pure functions over one cycle's samples (docs/analysis.md). They never raise on what a
cycler can send (too few samples, a flat voltage, NaN): a curve that cannot be drawn
comes back empty.

- **V–Q.** A sample belongs to the charge when its current is above `threshold_a`, to
  the discharge when below `-threshold_a`; rests belong to neither. Capacity is the
  trapezoid integral of the charging (or discharging) current from the first sample of
  the cycle, with the same trapezoids as the cycle table (`domain.cycles`): the
  interval into a sample counts half of the current at each end, so a step from rest or
  from the other sign adds half an interval. A curve ends at its cycle's capacity less
  what the table counted of the step into the cycle's first sample and of the step out
  of the half-cycle's last one. An interval longer than `max_gap_s` is a hole and adds
  nothing.
- **dQ/dV.** Differentiating noisy samples directly divides small noise by smaller
  noise. Instead: the monotonic envelope of the voltage along the half-cycle (its
  running maximum on charge, running minimum on discharge) gives V(Q) without the
  wiggles that go back; capacity is interpolated at a uniform voltage grid of
  `step_v` (5 mV), differentiated by central differences (one-sided at the ends), and
  smoothed with a Savitzky–Golay filter (`window` points, polynomial `order`; 9 and 2 by default, i.e.
  a 45 mV window). dQ/dV keeps its sign: positive on charge, negative on discharge.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from domain.cycles import DEFAULT_MAX_GAP_S, DEFAULT_THRESHOLD_A, SECONDS_PER_HOUR

DEFAULT_STEP_V = 0.005
DEFAULT_WINDOW = 9
DEFAULT_ORDER = 2


def _empty() -> np.ndarray:
    return np.array([], dtype=np.float64)


@dataclass(frozen=True)
class HalfCycle:
    """Voltage (V) and capacity passed since the cycle began (Ah, positive, ascending)
    at each charging (or discharging) sample; `sign` +1 for charge, -1 for discharge."""

    sign: int
    voltage: np.ndarray = field(default_factory=_empty)
    capacity_ah: np.ndarray = field(default_factory=_empty)

    def __len__(self) -> int:
        return len(self.voltage)


@dataclass(frozen=True)
class CycleCurves:
    """The V–Q curves of a cycle's charge and discharge."""

    charge: HalfCycle
    discharge: HalfCycle


@dataclass(frozen=True)
class DqDv:
    """dQ/dV (Ah/V) at ascending voltages (V); empty when it cannot be computed."""

    voltage: np.ndarray = field(default_factory=_empty)
    dq_dv: np.ndarray = field(default_factory=_empty)

    def __len__(self) -> int:
        return len(self.voltage)


def voltage_capacity(
    ts: np.ndarray | list[float],
    voltage: np.ndarray | list[float],
    current: np.ndarray | list[float],
    *,
    threshold_a: float = DEFAULT_THRESHOLD_A,
    max_gap_s: float = DEFAULT_MAX_GAP_S,
) -> CycleCurves:
    """The V–Q curves of one cycle's samples (in time order, SI units)."""
    t = np.asarray(ts, dtype=np.float64)
    v = np.asarray(voltage, dtype=np.float64)
    i = np.asarray(current, dtype=np.float64)
    if not (len(t) == len(v) == len(i)):
        return CycleCurves(HalfCycle(1), HalfCycle(-1))
    usable = np.isfinite(t) & np.isfinite(v) & np.isfinite(i)
    t, v, i = t[usable], v[usable], i[usable]
    return CycleCurves(
        _half_cycle(t, v, i, 1, threshold_a, max_gap_s),
        _half_cycle(t, v, i, -1, threshold_a, max_gap_s),
    )


def _half_cycle(
    t: np.ndarray, v: np.ndarray, i: np.ndarray, sign: int, threshold_a: float, max_gap_s: float
) -> HalfCycle:
    members = sign * i > threshold_a
    if not members.any():
        return HalfCycle(sign)
    # The same trapezoids as the cycle table: the interval ending at a sample counts the
    # current of this sign at both of its ends.
    flowing = np.maximum(sign * i, 0.0)
    dt = np.diff(t)
    counted = (dt > 0) & (dt <= max_gap_s)
    parts = np.where(counted, 0.5 * (flowing[:-1] + flowing[1:]) * dt, 0.0) / SECONDS_PER_HOUR
    capacity = np.r_[0.0, np.cumsum(parts)]
    return HalfCycle(sign, v[members], capacity[members])


def savitzky_golay_coefficients(window: int, order: int) -> np.ndarray:
    """The smoothing weights of a centred Savitzky–Golay window: the value at the centre
    of the least-squares polynomial of `order` through `window` points."""
    half = window // 2
    positions = np.arange(-half, half + 1, dtype=np.float64)
    vandermonde = np.vander(positions, order + 1, increasing=True)
    coefficients: np.ndarray = np.linalg.pinv(vandermonde)[0]
    return coefficients


def smooth(
    values: np.ndarray, window: int = DEFAULT_WINDOW, order: int = DEFAULT_ORDER
) -> np.ndarray:
    """Savitzky–Golay smoothing. The ends are extended by point reflection (2·x₀ − x₋ₖ),
    so a straight line stays exactly straight to its ends. A series shorter than the
    window gets the largest odd window that fits (above `order`), and one too short for
    any is returned as it is."""
    values = np.asarray(values, dtype=np.float64)
    window = min(window, len(values) if len(values) % 2 else len(values) - 1)
    if window < 3 or window <= order:
        return values.copy()
    half = window // 2
    padded = np.r_[
        2 * values[0] - values[half:0:-1], values, 2 * values[-1] - values[-2 : -half - 2 : -1]
    ]
    weights = savitzky_golay_coefficients(window, order)
    smoothed: np.ndarray = np.convolve(padded, weights[::-1], mode="valid")
    return smoothed


def dq_dv(
    half: HalfCycle,
    *,
    step_v: float = DEFAULT_STEP_V,
    window: int = DEFAULT_WINDOW,
    order: int = DEFAULT_ORDER,
) -> DqDv:
    """dQ/dV of a half-cycle on a uniform voltage grid (see the module); empty when the
    voltage spans less than two grid steps or the capacity does not grow."""
    if len(half) < 2 or not step_v > 0:
        return DqDv()
    # Along the half-cycle u = sign × V rises; its running maximum is the envelope.
    u = np.maximum.accumulate(half.sign * half.voltage)
    q = half.capacity_ah
    # Where the envelope is flat (a plateau) several capacities share one voltage: the
    # last one counts, so Q(V) jumps there and dQ/dV peaks.
    last = np.r_[u[1:] != u[:-1], True]
    u, q = u[last], q[last]
    if len(u) < 2 or q[-1] - q[0] <= 0:
        return DqDv()
    first, end = np.ceil(u[0] / step_v - 1e-9), np.floor(u[-1] / step_v + 1e-9)
    if end - first < 2:
        return DqDv()
    grid = np.arange(first, end + 1) * step_v
    capacity = np.interp(grid, u, q)
    derivative = smooth(np.gradient(capacity, step_v), window, order)
    voltage = half.sign * grid
    order_by_voltage = np.argsort(voltage)
    return DqDv(voltage[order_by_voltage], (half.sign * derivative)[order_by_voltage])
