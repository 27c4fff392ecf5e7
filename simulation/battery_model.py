"""An equivalent-circuit battery: what the simulated cycler and the demo data charge and discharge.

The circuit is an open-circuit voltage source that depends on the state of charge (SOC),
a series resistance R0 and one RC pair (R1 parallel to C1, time constant tau1 = R1·C1).
A lumped thermal mass heated by the resistive losses and cooled towards the ambient
temperature gives the `temp_body` channel.

Every update is exact for a current held constant over the step (the RC voltage and the
temperature relax exponentially), so large steps stay stable; the cycler relies on that to
generate long experiments quickly. Plain floats and the standard library only: the model
is stepped hundreds of thousands of times per demo experiment.

Sign convention (docs/formats.md): current is positive when charging.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass

AMBIENT_C = 25.0

# Past full (or empty) charge the voltage runs away steeply, as a real cell's does when it
# is overcharged (or overdischarged), so voltage limits and the safety window are always
# reached. The run-away is capped at this many volts per cell so an unprotected simulation
# still gives finite numbers.
_MAX_RUNAWAY_CELL_V = 1.0

# Ageing stops here: the model is not meant for batteries worn past this fraction.
_MIN_CAPACITY_LEFT = 0.3

# A body's cooling time constant grows with its size; this is the time constant of a
# cell with `_REFERENCE_HEAT_CAPACITY_J_PER_K` (an 18650 cell in still air).
_REFERENCE_THERMAL_TAU_S = 1200.0
_REFERENCE_HEAT_CAPACITY_J_PER_K = 45.0


@dataclass(frozen=True)
class _Chemistry:
    """Per-cell defaults of one technology or chemistry.

    Resistances are given in Ω·Ah: a cell of capacity Q has R = r / Q, because a larger
    cell has proportionally more electrode area. The heat capacity is per Ah likewise.
    """

    ocv: tuple[tuple[float, float], ...]  # (SOC, cell volts), both strictly increasing
    ends_v: tuple[float, float]  # how far the voltage falls at empty and rises at full
    end_width: float  # the SOC span of those steep ends
    cutoff_v: tuple[float, float]  # the maker's minimum and maximum cell voltages
    r0_ohm_ah: float
    r1_ohm_ah: float
    tau1_s: float
    coulombic_efficiency: float
    heat_capacity_j_per_k_ah: float


def _vanadium_ocv() -> tuple[tuple[float, float], ...]:
    """The vanadium redox cell's Nernst curve, tabulated densely near the ends where it bends.

    E = E0' + 2·RT/F · ln(SOC / (1 - SOC)): two electrons' worth of RT/F because both
    half-cells shift. SOC is squeezed into [0.01, 0.99] so the ends stay finite; the
    steep end terms of the model continue the curve from there.
    """
    formal_potential_v = 1.38  # at 50 % SOC, with the usual proton activity of the electrolyte
    slope_v = 2 * 8.314462618 * 298.15 / 96485.33212  # 2·RT/F at 25 °C, ≈ 51.4 mV
    near_ends = (0.01, 0.02, 0.04, 0.07, 0.15)
    socs = sorted(
        {0.0, 1.0, *(i / 10 for i in range(1, 10)), *near_ends, *(1 - e for e in near_ends)}
    )
    points = []
    for soc in socs:
        squeezed = 0.01 + 0.98 * soc
        points.append((soc, formal_potential_v + slope_v * math.log(squeezed / (1 - squeezed))))
    return tuple(points)


_SOC_GRID = (0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def _on_grid(*volts: float) -> tuple[tuple[float, float], ...]:
    """Cell voltages at the SOC points of `_SOC_GRID`, as (soc, volts) pairs."""
    return tuple(zip(_SOC_GRID, volts, strict=True))


# Lithium-ion chemistries. The tables give the open-circuit voltage between the steep ends;
# table(0) - ends_v[0] and table(1) + ends_v[1] are the usual cut-off voltages.
_LITHIUM_ION: dict[str, _Chemistry] = {
    "NMC": _Chemistry(
        ocv=_on_grid(3.30, 3.45, 3.53, 3.60, 3.65, 3.69, 3.73, 3.79, 3.86, 3.94, 4.03, 4.12),
        ends_v=(0.30, 0.08),
        end_width=0.015,
        cutoff_v=(3.0, 4.2),
        r0_ohm_ah=0.075,
        r1_ohm_ah=0.060,
        tau1_s=100.0,
        coulombic_efficiency=0.999,
        heat_capacity_j_per_k_ah=18.0,
    ),
    "NCA": _Chemistry(
        ocv=_on_grid(3.20, 3.42, 3.50, 3.58, 3.64, 3.70, 3.76, 3.83, 3.90, 3.97, 4.05, 4.12),
        ends_v=(0.50, 0.08),
        end_width=0.015,
        cutoff_v=(2.7, 4.2),
        r0_ohm_ah=0.070,
        r1_ohm_ah=0.060,
        tau1_s=100.0,
        coulombic_efficiency=0.999,
        heat_capacity_j_per_k_ah=18.0,
    ),
    "LCO": _Chemistry(
        ocv=_on_grid(3.35, 3.60, 3.70, 3.76, 3.80, 3.84, 3.87, 3.91, 3.96, 4.02, 4.08, 4.13),
        ends_v=(0.35, 0.07),
        end_width=0.015,
        cutoff_v=(3.0, 4.2),
        r0_ohm_ah=0.100,
        r1_ohm_ah=0.070,
        tau1_s=100.0,
        coulombic_efficiency=0.999,
        heat_capacity_j_per_k_ah=18.0,
    ),
    "LMO": _Chemistry(
        ocv=_on_grid(3.40, 3.70, 3.80, 3.88, 3.93, 3.96, 3.99, 4.03, 4.07, 4.10, 4.13, 4.16),
        ends_v=(0.40, 0.04),
        end_width=0.015,
        cutoff_v=(3.0, 4.2),
        r0_ohm_ah=0.070,
        r1_ohm_ah=0.035,
        tau1_s=35.0,
        coulombic_efficiency=0.999,
        heat_capacity_j_per_k_ah=18.0,
    ),
    # LFP: a steep rise to a flat two-phase plateau of 3.2 to 3.35 V, then a knee at full.
    "LFP": _Chemistry(
        ocv=(
            (0.0, 3.00),
            (0.05, 3.18),
            (0.1, 3.22),
            (0.2, 3.25),
            (0.35, 3.27),
            (0.5, 3.29),
            (0.65, 3.31),
            (0.8, 3.32),
            (0.95, 3.335),
            (1.0, 3.40),
        ),
        ends_v=(0.50, 0.25),
        end_width=0.015,
        cutoff_v=(2.5, 3.65),
        r0_ohm_ah=0.060,
        r1_ohm_ah=0.030,
        tau1_s=60.0,
        coulombic_efficiency=0.9995,
        heat_capacity_j_per_k_ah=30.0,
    ),
    # LTO anode (against NMC): low voltage, long plateau, very low resistance.
    "LTO": _Chemistry(
        ocv=_on_grid(1.95, 2.10, 2.16, 2.21, 2.24, 2.265, 2.29, 2.32, 2.35, 2.40, 2.47, 2.60),
        ends_v=(0.45, 0.20),
        end_width=0.015,
        cutoff_v=(1.5, 2.8),
        r0_ohm_ah=0.050,
        r1_ohm_ah=0.025,
        tau1_s=30.0,
        coulombic_efficiency=0.9995,
        heat_capacity_j_per_k_ah=22.0,
    ),
}
_DEFAULT_LITHIUM_ION = "NMC"

_TECHNOLOGIES: dict[str, _Chemistry] = {
    # Per cell: about 1.96 V empty to 2.13 V full at rest (the acid's density sets it); the
    # gassing overvoltage near full makes the 2.4 V/cell absorption voltage reachable.
    "lead-acid": _Chemistry(
        ocv=((0.0, 1.98), (0.25, 2.02), (0.5, 2.06), (0.75, 2.10), (1.0, 2.13)),
        ends_v=(0.18, 0.25),
        end_width=0.02,
        cutoff_v=(1.75, 2.40),
        r0_ohm_ah=0.080,
        r1_ohm_ah=0.060,
        tau1_s=120.0,
        coulombic_efficiency=0.97,
        heat_capacity_j_per_k_ah=30.0,
    ),
    # Vanadium flow cell: Nernst-shaped. The thermal mass is the electrolyte's.
    "redox-flow": _Chemistry(
        ocv=_vanadium_ocv(),
        ends_v=(0.10, 0.10),
        end_width=0.01,
        cutoff_v=(1.0, 1.70),
        r0_ohm_ah=0.060,
        r1_ohm_ah=0.020,
        tau1_s=10.0,
        coulombic_efficiency=0.97,
        heat_capacity_j_per_k_ah=200.0,
    ),
    # Layered oxide against hard carbon: a sloping curve between 1.5 and 4.0 V.
    "sodium-ion": _Chemistry(
        ocv=_on_grid(2.10, 2.45, 2.65, 2.85, 2.98, 3.08, 3.17, 3.27, 3.38, 3.52, 3.68, 3.85),
        ends_v=(0.60, 0.15),
        end_width=0.02,
        cutoff_v=(1.5, 4.0),
        r0_ohm_ah=0.090,
        r1_ohm_ah=0.050,
        tau1_s=40.0,
        coulombic_efficiency=0.995,
        heat_capacity_j_per_k_ah=22.0,
    ),
}

_LEAD_ACID_RESISTANCE_FACTOR = {"AGM": 0.8, "gel": 1.2, "flooded": 1.0}


@dataclass(frozen=True)
class BatteryParameters:
    """Everything the model needs, for the whole battery (all cells in series).

    The OCV curve is per cell (`ocv_soc`, `ocv_cell_v`, linear between points) plus two
    exponential end terms: `ocv_end_low_v` below empty and `ocv_end_high_v` above full,
    over an SOC span of `ocv_end_width`. `voltage_min`/`voltage_max` are the maker's
    cut-off voltages, handy for building profiles and safety windows.
    """

    technology: str
    chemistry: str | None
    capacity_ah: float
    cells_in_series: int
    ocv_soc: tuple[float, ...]
    ocv_cell_v: tuple[float, ...]
    ocv_end_low_v: float
    ocv_end_high_v: float
    ocv_end_width: float
    r0_ohm: float
    r1_ohm: float
    tau1_s: float
    coulombic_efficiency: float
    heat_capacity_j_per_k: float
    cooling_w_per_k: float
    voltage_min: float
    voltage_max: float
    ambient_c: float = AMBIENT_C
    # Ageing: the fraction of the capacity lost per equivalent full cycle (charge
    # throughput of twice the capacity), as lithium inventory is lost to side reactions.
    fade_per_cycle: float = 0.0

    def __post_init__(self) -> None:
        positive = {
            "capacity_ah": self.capacity_ah,
            "r0_ohm": self.r0_ohm,
            "r1_ohm": self.r1_ohm,
            "tau1_s": self.tau1_s,
            "ocv_end_width": self.ocv_end_width,
            "heat_capacity_j_per_k": self.heat_capacity_j_per_k,
            "cooling_w_per_k": self.cooling_w_per_k,
        }
        for name, value in positive.items():
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name}: expected a positive number, got {value!r}")
        if not (math.isfinite(self.fade_per_cycle) and 0 <= self.fade_per_cycle < 0.1):
            raise ValueError(
                f"fade_per_cycle: expected a fraction from 0 to 0.1, got {self.fade_per_cycle!r}"
            )
        if not isinstance(self.cells_in_series, int) or self.cells_in_series < 1:
            raise ValueError(f"cells_in_series: expected 1 or more, got {self.cells_in_series!r}")
        if not 0 < self.coulombic_efficiency <= 1:
            raise ValueError(
                f"coulombic_efficiency: expected a value in (0, 1], got {self.coulombic_efficiency}"
            )
        if self.ocv_end_low_v < 0 or self.ocv_end_high_v < 0:
            raise ValueError("ocv_end_low_v, ocv_end_high_v: expected 0 V or more")
        soc, volts = self.ocv_soc, self.ocv_cell_v
        if len(soc) < 2 or len(soc) != len(volts):
            raise ValueError("ocv_soc, ocv_cell_v: expected two or more points of each, paired")
        if soc[0] != 0 or soc[-1] != 1:
            raise ValueError("ocv_soc: expected to run from 0 to 1")
        if any(b <= a for a, b in zip(soc, soc[1:], strict=False)) or any(
            b <= a for a, b in zip(volts, volts[1:], strict=False)
        ):
            # The current solvers rely on the voltage rising with the charge.
            raise ValueError("ocv_soc, ocv_cell_v: expected both to be strictly increasing")

    @property
    def c1_f(self) -> float:
        """The RC pair's capacitance in farads."""
        return self.tau1_s / self.r1_ohm


def parameters_for(
    technology: str,
    capacity_ah: float,
    cells_in_series: int = 1,
    chemistry: str | None = None,
) -> BatteryParameters:
    """Plausible parameters for a battery of a technology key from `domain.batteries`.

    `chemistry` picks the lithium-ion curve (NMC when absent or unknown) or the lead-acid
    construction (flooded, gel, AGM); other technologies keep it only as a label. The
    technology "other" is simulated as an NMC lithium-ion battery.
    """
    key = technology.strip().lower()
    if key in ("lithium-ion", "other"):
        chosen = _LITHIUM_ION.get((chemistry or "").upper(), _LITHIUM_ION[_DEFAULT_LITHIUM_ION])
    elif key in _TECHNOLOGIES:
        chosen = _TECHNOLOGIES[key]
    else:
        known = ", ".join(["lithium-ion", *_TECHNOLOGIES, "other"])
        raise ValueError(f"technology: expected one of {known}, got {technology!r}")
    if not (
        isinstance(capacity_ah, (int, float)) and math.isfinite(capacity_ah) and capacity_ah > 0
    ):
        raise ValueError(f"capacity_ah: expected a positive number, got {capacity_ah!r}")
    if not isinstance(cells_in_series, int) or cells_in_series < 1:
        raise ValueError(f"cells_in_series: expected 1 or more, got {cells_in_series!r}")

    resistance_factor = 1.0
    if key == "lead-acid" and chemistry:
        resistance_factor = _LEAD_ACID_RESISTANCE_FACTOR.get(chemistry, 1.0)
    heat_capacity = chosen.heat_capacity_j_per_k_ah * capacity_ah * cells_in_series
    # Bigger bodies cool more slowly: the surface grows as size², the mass as size³.
    thermal_tau = _REFERENCE_THERMAL_TAU_S * (heat_capacity / _REFERENCE_HEAT_CAPACITY_J_PER_K) ** (
        1 / 3
    )
    return BatteryParameters(
        technology=key,
        chemistry=chemistry,
        capacity_ah=float(capacity_ah),
        cells_in_series=cells_in_series,
        ocv_soc=tuple(soc for soc, _ in chosen.ocv),
        ocv_cell_v=tuple(volts for _, volts in chosen.ocv),
        ocv_end_low_v=chosen.ends_v[0],
        ocv_end_high_v=chosen.ends_v[1],
        ocv_end_width=chosen.end_width,
        r0_ohm=chosen.r0_ohm_ah * resistance_factor * cells_in_series / capacity_ah,
        r1_ohm=chosen.r1_ohm_ah * resistance_factor * cells_in_series / capacity_ah,
        tau1_s=chosen.tau1_s,
        coulombic_efficiency=chosen.coulombic_efficiency,
        heat_capacity_j_per_k=heat_capacity,
        cooling_w_per_k=heat_capacity / thermal_tau,
        voltage_min=chosen.cutoff_v[0] * cells_in_series,
        voltage_max=chosen.cutoff_v[1] * cells_in_series,
    )


class BatteryModel:
    """A battery whose state moves with the current applied to it.

    `step(current, dt)` holds a current for dt seconds. `voltage` is the terminal voltage
    with the last applied current still flowing. `current_for_voltage` and
    `current_for_power` give the constant current that ends a step of dt at a terminal
    voltage (CV) or a power (CP), so a cycler can hold either without overshoot.

    SOC is reported clipped to [0, 1]. Charge forced past full or empty is still counted
    internally, so the voltage keeps running away until something stops the current.
    """

    __slots__ = (
        "_params",
        "_charge",  # SOC, unclipped: past 0 or 1 when over-(dis)charged
        "_v1",  # voltage across the RC pair
        "_current",
        "_temperature",
        "_ocv_now",
        "_soc_points",
        "_cell_points",
        "_slopes",
        "_cells",
        "_low_v",
        "_high_v",
        "_width",
        "_low_cap",
        "_high_cap",
        "_ah_to_soc",
        "_throughput_as",  # charge moved in either direction since new, A·s
    )

    def __init__(
        self,
        parameters: BatteryParameters,
        soc: float = 0.5,
        temperature_c: float | None = None,
    ) -> None:
        self._params = parameters
        self._soc_points = list(parameters.ocv_soc)
        self._cell_points = list(parameters.ocv_cell_v)
        self._slopes = [
            (v2 - v1) / (s2 - s1)
            for s1, s2, v1, v2 in zip(
                self._soc_points,
                self._soc_points[1:],
                self._cell_points,
                self._cell_points[1:],
                strict=False,
            )
        ]
        self._cells = parameters.cells_in_series
        self._low_v = parameters.ocv_end_low_v
        self._high_v = parameters.ocv_end_high_v
        self._width = parameters.ocv_end_width
        # Exponent caps so that each end term stops growing at _MAX_RUNAWAY_CELL_V.
        self._low_cap = math.log(_MAX_RUNAWAY_CELL_V / self._low_v) if self._low_v > 0 else 0.0
        self._high_cap = math.log(_MAX_RUNAWAY_CELL_V / self._high_v) if self._high_v > 0 else 0.0
        self._ah_to_soc = 1.0 / (3600.0 * parameters.capacity_ah)
        self._throughput_as = 0.0
        self._charge = min(max(float(soc), 0.0), 1.0)
        self._v1 = 0.0
        self._current = 0.0
        self._temperature = parameters.ambient_c if temperature_c is None else float(temperature_c)
        self._ocv_now = self._ocv(self._charge)

    # ------------------------------------------------------------------ state

    @property
    def parameters(self) -> BatteryParameters:
        return self._params

    @property
    def soc(self) -> float:
        """State of charge, 0 (empty) to 1 (full)."""
        return min(max(self._charge, 0.0), 1.0)

    @soc.setter
    def soc(self, value: float) -> None:
        self._charge = min(max(float(value), 0.0), 1.0)
        self._ocv_now = self._ocv(self._charge)

    @property
    def capacity_ah(self) -> float:
        """The capacity now: the new battery's, less what ageing has taken (`fade_per_cycle`)."""
        return 1.0 / (3600.0 * self._ah_to_soc)

    @property
    def current(self) -> float:
        """The current applied by the last `step`, A (positive = charging)."""
        return self._current

    @property
    def voltage(self) -> float:
        """Terminal voltage with the last applied current still flowing, V."""
        return self._ocv_now + self._current * self._params.r0_ohm + self._v1

    @property
    def open_circuit_voltage(self) -> float:
        """The voltage the battery would settle to at rest at its present charge, V."""
        return self._ocv_now

    @property
    def temperature(self) -> float:
        """Body temperature, °C."""
        return self._temperature

    def ocv(self, soc: float) -> float:
        """Open-circuit voltage of the whole battery at a state of charge (clipped to [0, 1])."""
        return self._ocv(min(max(float(soc), 0.0), 1.0))

    # ------------------------------------------------------------------ dynamics

    def step(self, current_a: float, dt_s: float) -> None:
        """Hold `current_a` (positive = charging) for `dt_s` seconds."""
        if dt_s < 0:
            raise ValueError(f"dt_s: expected 0 s or more, got {dt_s}")
        p = self._params
        decay = math.exp(-dt_s / p.tau1_s)
        v1_start = self._v1
        v1_end = v1_start * decay + current_a * p.r1_ohm * (1.0 - decay)
        efficiency = p.coulombic_efficiency if current_a > 0 else 1.0
        self._charge += current_a * efficiency * dt_s * self._ah_to_soc
        if p.fade_per_cycle:
            # The state of charge stays a fraction of what the battery holds now.
            self._throughput_as += abs(current_a) * dt_s
            cycles = self._throughput_as / (7200.0 * p.capacity_ah)
            faded = max(1.0 - p.fade_per_cycle * cycles, _MIN_CAPACITY_LEFT)
            self._ah_to_soc = 1.0 / (3600.0 * p.capacity_ah * faded)
        self._v1 = v1_end
        self._current = current_a
        self._ocv_now = self._ocv(self._charge)
        if dt_s > 0:
            # Joule heat in R0 plus the RC pair's heat, whose voltage relaxes exponentially
            # from v1_start towards I·R1: the time average of v1² over the step, exactly,
            # so a long rest after a load does not keep heating. The temperature then
            # relaxes exactly towards where cooling balances that mean heat.
            settle_v = current_a * p.r1_ohm
            gap_v = v1_start - settle_v
            tau_over_dt = p.tau1_s / dt_s
            v1_squared = (
                settle_v * settle_v
                + 2.0 * settle_v * gap_v * tau_over_dt * (1.0 - decay)
                + gap_v * gap_v * 0.5 * tau_over_dt * (1.0 - decay * decay)
            )
            heat_w = current_a * current_a * p.r0_ohm + v1_squared / p.r1_ohm
            settled = p.ambient_c + heat_w / p.cooling_w_per_k
            relax = math.exp(-dt_s * p.cooling_w_per_k / p.heat_capacity_j_per_k)
            self._temperature = settled + (self._temperature - settled) * relax

    def voltage_after(self, current_a: float, dt_s: float) -> float:
        """The terminal voltage at the end of holding `current_a` for `dt_s`; state unchanged."""
        p = self._params
        if dt_s <= 0:
            return self._ocv_now + current_a * p.r0_ohm + self._v1
        decay = math.exp(-dt_s / p.tau1_s)
        efficiency = p.coulombic_efficiency if current_a > 0 else 1.0
        charge = self._charge + current_a * efficiency * dt_s * self._ah_to_soc
        return (
            self._ocv(charge) + current_a * (p.r0_ohm + p.r1_ohm * (1.0 - decay)) + self._v1 * decay
        )

    def current_for_voltage(
        self,
        voltage_v: float,
        dt_s: float,
        current_min: float = -math.inf,
        current_max: float = math.inf,
    ) -> float:
        """The constant current that brings the terminal voltage to `voltage_v` after `dt_s`.

        The end voltage rises strictly with the current, so a safeguarded Newton search
        always converges; the answer is then clamped to [current_min, current_max] (a
        clamped CV step is current-limited, as on a real cycler).
        """
        p = self._params
        decay = math.exp(-dt_s / p.tau1_s) if dt_s > 0 else 1.0
        linear_ohm = p.r0_ohm + p.r1_ohm * (1.0 - decay)
        rc_v = self._v1 * decay
        soc_per_a = dt_s * self._ah_to_soc
        # First guess from the local slope of the OCV curve.
        current = (voltage_v - self._ocv_now - rc_v) / (
            linear_ohm + self._ocv_slope(self._charge) * soc_per_a
        )
        low, high = -math.inf, math.inf
        for _ in range(60):
            per_a = soc_per_a * (p.coulombic_efficiency if current > 0 else 1.0)
            charge = self._charge + current * per_a
            error = self._ocv(charge) + current * linear_ohm + rc_v - voltage_v
            if abs(error) < 1e-10:
                break
            if error > 0:
                high = current
            else:
                low = current
            candidate = current - error / (linear_ohm + self._ocv_slope(charge) * per_a)
            if not low < candidate < high:
                # Newton left the bracket (a kink of the curve): bisect instead. Both ends
                # are finite here because `current` itself just became one of them.
                candidate = 0.5 * (low + high)
            if high - low < 1e-12 * (1.0 + abs(current)):
                break
            current = candidate
        return min(max(current, current_min), current_max)

    def current_for_power(
        self,
        power_w: float,
        dt_s: float,
        current_min: float = -math.inf,
        current_max: float = math.inf,
    ) -> float:
        """The constant current at which V·I equals `power_w` at the end of `dt_s`.

        Around a guess the terminal voltage is nearly linear in the current, V ≈ v0 + r·I,
        so V·I = P is a quadratic; its root nearer zero (the one a battery operates on) is
        taken in the cancellation-free form 2P / (v0 + sqrt(v0² + 4rP)) and the guess
        refined until it stops moving. Asking more than the battery can give returns the
        current of maximum power. The answer is clamped to [current_min, current_max].
        """
        if power_w == 0:
            return min(max(0.0, current_min), current_max)
        p = self._params
        decay = math.exp(-dt_s / p.tau1_s) if dt_s > 0 else 1.0
        linear_ohm = p.r0_ohm + p.r1_ohm * (1.0 - decay)
        rc_v = self._v1 * decay
        soc_per_a = dt_s * self._ah_to_soc
        current = power_w / max(self._ocv_now + rc_v, 1e-6)
        for _ in range(40):
            per_a = soc_per_a * (p.coulombic_efficiency if current > 0 else 1.0)
            charge = self._charge + current * per_a
            voltage = self._ocv(charge) + current * linear_ohm + rc_v
            slope_ohm = linear_ohm + self._ocv_slope(charge) * per_a
            intercept_v = voltage - current * slope_ohm
            discriminant = intercept_v * intercept_v + 4.0 * slope_ohm * power_w
            if discriminant < 0 or intercept_v <= 0:
                candidate = intercept_v / (-2.0 * slope_ohm) if intercept_v > 0 else current
            else:
                candidate = 2.0 * power_w / (intercept_v + math.sqrt(discriminant))
            converged = abs(candidate - current) <= 1e-12 + 1e-11 * abs(current)
            current = candidate
            if converged:
                break
        return min(max(current, current_min), current_max)

    # ------------------------------------------------------------------ the OCV curve

    def _ocv(self, charge: float) -> float:
        """Battery OCV at an unclipped charge state: table between ends, exponential at ends."""
        points = self._soc_points
        soc = 0.0 if charge < 0.0 else 1.0 if charge > 1.0 else charge
        index = bisect_right(points, soc) - 1
        if index >= len(self._slopes):
            index = len(self._slopes) - 1
        cell_v = self._cell_points[index] + self._slopes[index] * (soc - points[index])
        width = self._width
        cell_v -= self._low_v * math.exp(min(-charge / width, self._low_cap))
        cell_v += self._high_v * math.exp(min((charge - 1.0) / width, self._high_cap))
        return max(cell_v * self._cells, 0.0)

    def _ocv_slope(self, charge: float) -> float:
        """d(OCV)/d(charge state) of the whole battery, V per unit SOC."""
        width = self._width
        slope = 0.0
        if 0.0 <= charge <= 1.0:
            index = bisect_right(self._soc_points, charge) - 1
            slope = self._slopes[min(index, len(self._slopes) - 1)]
        if -charge / width < self._low_cap:
            slope += self._low_v / width * math.exp(-charge / width)
        if (charge - 1.0) / width < self._high_cap:
            slope += self._high_v / width * math.exp((charge - 1.0) / width)
        return slope * self._cells
