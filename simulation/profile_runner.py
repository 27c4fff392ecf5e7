"""Runs an expanded cycling profile on a `BatteryModel` and records what a cycler would log.

Used by the simulated cycler, which calls `ProfileRunner.advance` as real (possibly
accelerated) time passes, and by the demo-data generator through `run_to_completion`.
No clocks and no I/O: time passes only when the caller says so.

Steps are `domain.profiles.ExpandedStep`s, as the profile expander makes them and the
MQTT start command carries them (REPEAT unrolled, C-rates resolved, SI units, positive =
charge). The window is a `domain.window.Window`, checked with `Window.checked`.

How the runner behaves:
- Samples fall on a fixed grid (t = 0, T, 2T, ... for sample period T), plus one at the
  moment each step ends, labelled with that step, so every step's end is visible. The
  first sample (t = 0) is the rest reading before any current flows.
- The current is held constant over internal sub-steps that end on sample times, step
  ends and the caller's time, and are never longer than `max_substep_s`; in CV and CP
  they shrink further while the current changes fast (by more than
  `current_change_per_substep`, 1 % by default, per sub-step).
  A limit crossed inside a sub-step is located by bisection, so steps end on their
  limit, not after it. How often the caller calls `advance` barely matters.
- CC set points (and the current a CP step needs) outside the safety window's currents
  are clamped, with a non-stopping OVER_CURRENT alarm once per step; a CV step's current
  is clamped silently (the usual current-limited start of a CV hold).
- A terminal voltage beyond the safety window by more than `voltage_margin_v` raises
  OVER_VOLTAGE or UNDER_VOLTAGE and ends the run with outcome ERROR.
- A step with a non-TIME limit that has not met it after `max_step_duration_s` raises
  STEP_TIMEOUT and ends the run with outcome ERROR. TIME limits always end on their own.
- Pause: `pause()` switches the current off while time keeps passing (the battery relaxes
  and cools, and samples keep coming with current 0 and mode WAIT, still labelled with
  the paused step); the step's clock, Ah and Wh stand still. `resume()` continues the
  step where it stopped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from domain.profiles.expansion import ExpandedStep
from domain.profiles.language import Limit, Mode
from domain.status import ExperimentStatus
from domain.window import Window
from simulation.battery_model import BatteryModel

TEMPERATURE_CHANNEL = "temp_body"
DEFAULT_MAX_STEP_DURATION_S = 24 * 3600.0
DEFAULT_MAX_SUBSTEP_S = 30.0
# Time comparisons tolerate this much float round-off, in seconds.
_TIME_EPS = 1e-9
# Limit crossings are located to within this many seconds.
_CROSSING_TOLERANCE_S = 1e-6
# CV and CP sub-steps are shortened so the current changes by at most this fraction
# within one, but never below the minimum length.
_REGULATED_MODES = frozenset({Mode.CV, Mode.CP})
DEFAULT_CURRENT_CHANGE_PER_SUBSTEP = 0.01
_MIN_ADAPTIVE_SUBSTEP_S = 0.05

# Which limits the runner can stop each mode on: the profile language's choices plus the
# ones that still mean something (a CV or CP step moving a given Ah or Wh, a CP step's
# current falling to a value). The rest could never be met.
_RUNNABLE_LIMITS: dict[Mode, frozenset[Limit]] = {
    Mode.WAIT: frozenset({Limit.TIME}),
    Mode.CC: frozenset({Limit.TIME, Limit.VOLTAGE, Limit.CAPACITY, Limit.ENERGY}),
    Mode.CV: frozenset({Limit.TIME, Limit.CURRENT, Limit.CAPACITY, Limit.ENERGY}),
    Mode.CP: frozenset({Limit.TIME, Limit.VOLTAGE, Limit.CURRENT, Limit.CAPACITY, Limit.ENERGY}),
}


class AlarmCode(StrEnum):
    OVER_VOLTAGE = "OVER_VOLTAGE"
    UNDER_VOLTAGE = "UNDER_VOLTAGE"
    OVER_CURRENT = "OVER_CURRENT"
    STEP_TIMEOUT = "STEP_TIMEOUT"


class StepError(ValueError):
    """An expanded step the runner cannot execute; the message names the step."""


# The model's output (time since the start): sent as protocol.Sample, demo data stores a SampleRow.
@dataclass(slots=True)
class Sample:
    """One logged measurement, as the MQTT measures message and the datastore want it."""

    seq: int
    t: float  # seconds since the run started
    voltage: float
    current: float
    power: float
    instruction: int  # 1-based step number in the expanded list
    cycle: int | None
    mode: str
    extra: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Alarm:
    t: float  # seconds since the run started
    code: AlarmCode
    value: float  # the offending voltage (V), current (A) or step duration (s)
    message: str
    instruction: int | None = None


@dataclass(frozen=True, slots=True)
class _Step:
    """An expanded step as the runner executes it."""

    number: int
    cycle: int | None
    mode: Mode
    setpoint: float  # 0 for WAIT
    limit: Limit
    limit_value: float
    charging: bool  # which way a VOLTAGE limit is crossed
    source: ExpandedStep


def _runnable(step: ExpandedStep) -> _Step:
    """The step, or StepError if the runner cannot execute it."""
    where = f"step {step.step}" + (f" (line {step.line})" if step.line else "")
    mode, limit, limit_value = step.mode, step.limit, step.limit_value
    if limit not in _RUNNABLE_LIMITS[mode]:
        choices = ", ".join(sorted(_RUNNABLE_LIMITS[mode]))
        raise StepError(f"{where}: a {mode} step stops on {choices}, got {str(limit)!r}")
    if not (math.isfinite(limit_value) and limit_value >= 0):
        raise StepError(f"{where}: limit_value must be 0 or more, got {limit_value}")
    setpoint = 0.0
    if mode != Mode.WAIT:
        if step.setpoint is None:
            raise StepError(f"{where}: {mode} needs a numeric setpoint, got None")
        setpoint = step.setpoint
        if not math.isfinite(setpoint):
            raise StepError(f"{where}: setpoint must be finite, got {setpoint}")
        if mode == Mode.CV and setpoint <= 0:
            raise StepError(f"{where}: CV needs a positive voltage, got {setpoint}")
    return _Step(
        number=step.step,
        cycle=step.cycle,
        mode=mode,
        setpoint=setpoint,
        limit=limit,
        limit_value=limit_value,
        charging=setpoint >= 0,
        source=step,
    )


# What ended a trial sub-step: nothing, the step's limit, or a safety alarm.
_NO_EVENT = 0
_LIMIT_MET = 1
_OVER_VOLTAGE = 2
_UNDER_VOLTAGE = 3


class ProfileRunner:
    """Executes expanded steps on a battery model; see the module docstring for the rules."""

    def __init__(
        self,
        steps: Sequence[ExpandedStep],
        model: BatteryModel,
        window: Window,
        sample_period_s: float,
        *,
        max_step_duration_s: float = DEFAULT_MAX_STEP_DURATION_S,
        max_substep_s: float = DEFAULT_MAX_SUBSTEP_S,
        current_change_per_substep: float = DEFAULT_CURRENT_CHANGE_PER_SUBSTEP,
        voltage_margin_v: float | None = None,
    ) -> None:
        if not (math.isfinite(sample_period_s) and sample_period_s > 0):
            raise ValueError(f"sample_period_s: expected a positive number, got {sample_period_s}")
        if not max_step_duration_s > 0:
            raise ValueError(
                f"max_step_duration_s: expected a positive number, got {max_step_duration_s}"
            )
        if not (math.isfinite(max_substep_s) and max_substep_s > 0):
            raise ValueError(f"max_substep_s: expected a positive number, got {max_substep_s}")
        self._steps = [_runnable(step) for step in steps]
        self._model = model
        self._window = window.checked()
        self._period = float(sample_period_s)
        self._max_step_s = float(max_step_duration_s)
        self._max_substep = float(max_substep_s)
        if not 0 < current_change_per_substep <= 1:
            raise ValueError(
                "current_change_per_substep: expected a fraction in (0, 1], got "
                f"{current_change_per_substep}"
            )
        self._current_change = float(current_change_per_substep)
        if voltage_margin_v is None:
            # 1 % of the upper bound: small against the window, above measurement noise.
            voltage_margin_v = 0.01 * abs(self._window.voltage_max)
        self._alarm_high_v = self._window.voltage_max + voltage_margin_v
        self._alarm_low_v = self._window.voltage_min - voltage_margin_v

        self._t = 0.0
        self._seq = 0
        self._next_sample_t = 0.0
        self._index = 0
        self._step_started = False
        self._step_t = 0.0
        self._step_ah = 0.0
        self._step_wh = 0.0
        self._step_warned = False
        self._paused = False
        self._finished = not self._steps
        self._outcome: ExperimentStatus | None = (
            ExperimentStatus.FINISHED if self._finished else None
        )
        self._alarms: list[Alarm] = []
        self._unread = 0

    # ------------------------------------------------------------------ what callers read

    @property
    def finished(self) -> bool:
        return self._finished

    @property
    def outcome(self) -> ExperimentStatus | None:
        """FINISHED, ERROR, or None while the run goes on."""
        return self._outcome

    @property
    def current_step(self) -> ExpandedStep | None:
        """The step being executed, as given; None once the run is over."""
        if self._finished:
            return None
        return self._steps[self._index].source

    @property
    def elapsed_s(self) -> float:
        """Seconds simulated since the start (including pauses); frozen once finished."""
        return self._t

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def model(self) -> BatteryModel:
        return self._model

    @property
    def alarms(self) -> list[Alarm]:
        """Every alarm of the run so far (a copy)."""
        return list(self._alarms)

    def pop_alarms(self) -> list[Alarm]:
        """The alarms raised since the last call."""
        new = self._alarms[self._unread :]
        self._unread = len(self._alarms)
        return new

    def pause(self) -> None:
        """Switch the current off; time and sampling go on, the step's progress stands still."""
        if not self._finished:
            self._paused = True

    def resume(self) -> None:
        self._paused = False

    # ------------------------------------------------------------------ running

    def advance(self, dt_s: float) -> list[Sample]:
        """Simulate `dt_s` more seconds and return the samples they produced."""
        if not (math.isfinite(dt_s) and dt_s >= 0):
            raise ValueError(f"dt_s: expected a finite number of seconds, 0 or more, got {dt_s}")
        out: list[Sample] = []
        if self._finished:
            return out
        if self._seq == 0:
            self._model.step(0.0, 0.0)  # the rest reading before the channel switches on
            self._emit(out, self._steps[0])
        target = self._t + dt_s
        while not self._finished:
            if not self._step_started:
                self._start_step(out)
                continue
            remaining = target - self._t
            if remaining <= _TIME_EPS:
                break
            dt = min(remaining, self._next_sample_t - self._t, self._max_substep)
            if self._paused:
                self._model.step(0.0, dt)
                self._tick(dt, target)
                if self._t >= self._next_sample_t - _TIME_EPS:
                    self._emit(out, self._steps[self._index], mode=Mode.WAIT.value)
                continue
            self._substep(dt, target, out)
        return out

    def _start_step(self, out: list[Sample]) -> None:
        step = self._steps[self._index]
        self._step_started = True
        self._step_t = self._step_ah = self._step_wh = 0.0
        self._step_warned = False
        # A limit that already holds, or a window already left, ends the step at once.
        current, clamped, v_start, v_end, event = self._trial(step, 0.0)
        if event == _NO_EVENT and not (step.limit == Limit.TIME and step.limit_value <= 0):
            return
        self._model.step(current, 0.0)
        self._finish_substep(step, event, v_end, out)
        if event == _NO_EVENT:  # a zero-length TIME step
            self._end_step(step, out)

    def _substep(self, dt: float, target: float, out: list[Sample]) -> None:
        step = self._steps[self._index]
        # Cut the sub-step at the step's own end of time, or at its timeout.
        if step.limit == Limit.TIME:
            step_end = step.limit_value - self._step_t
        else:
            step_end = self._max_step_s - self._step_t
        dt = min(dt, step_end)
        current, clamped, v_start, v_end, event = self._trial(step, dt)
        if step.mode in _REGULATED_MODES and dt > _MIN_ADAPTIVE_SUBSTEP_S:
            # A real cycler regulates voltage or power continuously; a constant current
            # stands in for that only while it would barely change. Shorten the sub-step
            # (the change grows about linearly with its length) where the current moves fast.
            start_current = self._control(step, 0.0)[0]
            change = abs(current - start_current)
            allowed = self._current_change * max(abs(start_current), abs(current), 1e-9)
            if change > allowed:
                dt = max(dt * allowed / change, _MIN_ADAPTIVE_SUBSTEP_S)
                current, clamped, v_start, v_end, event = self._trial(step, dt)
        if event != _NO_EVENT:
            dt, current, clamped, v_start, v_end, event = self._locate_crossing(step, dt)
        if clamped and not self._step_warned:
            self._step_warned = True
            self._raise(
                AlarmCode.OVER_CURRENT,
                current,
                f"step {step.number}: {step.mode} needs more current than the window allows; "
                f"clamped to {current:.4g} A",
                step,
            )
        self._model.step(current, dt)
        self._step_ah += abs(current) * dt / 3600.0
        self._step_wh += self._energy_wh(step, current, v_start, v_end, dt)
        self._step_t = (
            step.limit_value if dt == step_end and step.limit == Limit.TIME else self._step_t + dt
        )
        self._tick(dt, target)
        if event != _NO_EVENT:
            self._finish_substep(step, event, v_end, out)
        elif step.limit == Limit.TIME and self._step_t >= step.limit_value - _TIME_EPS:
            self._end_step(step, out)
        elif step.limit != Limit.TIME and self._step_t >= self._max_step_s - _TIME_EPS:
            self._raise(
                AlarmCode.STEP_TIMEOUT,
                self._step_t,
                f"step {step.number}: {step.mode} did not reach its {step.limit} limit of "
                f"{step.limit_value:g} within {self._max_step_s:g} s",
                step,
            )
            self._fail(step, out)
        elif self._t >= self._next_sample_t - _TIME_EPS:
            self._emit(out, step)

    def _control(self, step: _Step, dt: float) -> tuple[float, bool]:
        """The current the step applies over the next `dt`, and whether the window clamped it."""
        window = self._window
        mode = step.mode
        if mode == Mode.CC:
            wanted = step.setpoint
        elif mode == Mode.CV:
            # Clamping here is the usual current-limited start of a CV hold, not a fault.
            current = self._model.current_for_voltage(
                step.setpoint, dt, window.current_min, window.current_max
            )
            return current, False
        elif mode == Mode.CP:
            wanted = self._model.current_for_power(step.setpoint, dt)
        else:
            return 0.0, False
        current = min(max(wanted, window.current_min), window.current_max)
        return current, current != wanted

    def _trial(self, step: _Step, dt: float) -> tuple[float, bool, float, float, int]:
        """What holding this step's control for `dt` would give, without changing any state.

        Returns the current, whether it was clamped to the window, the terminal voltage at
        the start and at the end, and the event the end state triggers.
        """
        model = self._model
        current, clamped = self._control(step, dt)
        v_start = model.voltage_after(current, 0.0)
        v_end = model.voltage_after(current, dt) if dt > 0 else v_start
        if v_end > self._alarm_high_v:
            return current, clamped, v_start, v_end, _OVER_VOLTAGE
        if v_end < self._alarm_low_v:
            return current, clamped, v_start, v_end, _UNDER_VOLTAGE
        limit = step.limit
        value = step.limit_value
        if limit == Limit.VOLTAGE:
            met = v_end >= value if step.charging else v_end <= value
        elif limit == Limit.CURRENT:
            met = abs(current) <= value
        elif limit == Limit.CAPACITY:
            met = self._step_ah + abs(current) * dt / 3600.0 >= value
        elif limit == Limit.ENERGY:
            met = self._step_wh + self._energy_wh(step, current, v_start, v_end, dt) >= value
        else:
            met = False  # TIME: sub-steps are cut to end exactly on it
        return current, clamped, v_start, v_end, _LIMIT_MET if met else _NO_EVENT

    @staticmethod
    def _energy_wh(step: _Step, current: float, v_start: float, v_end: float, dt: float) -> float:
        """Wh moved in a sub-step: mean voltage times current, except in CP.

        A CP step stands for power regulated continuously at its set point, which the
        sub-step's current meets at its end; counting P·t makes the ENERGY limit agree
        with the logged power.
        """
        if step.mode == Mode.CP:
            return abs(current * v_end) * dt / 3600.0
        return abs(current) * (v_start + v_end) * dt / 7200.0

    def _locate_crossing(
        self, step: _Step, dt: float
    ) -> tuple[float, float, bool, float, float, int]:
        """The shortest sub-step that still triggers an event, by bisection of its length."""
        low, high = 0.0, dt
        while high - low > _CROSSING_TOLERANCE_S:
            middle = 0.5 * (low + high)
            if self._trial(step, middle)[4] != _NO_EVENT:
                high = middle
            else:
                low = middle
        return (high, *self._trial(step, high))

    def _finish_substep(self, step: _Step, event: int, voltage: float, out: list[Sample]) -> None:
        if event == _LIMIT_MET:
            self._end_step(step, out)
            return
        if event == _NO_EVENT:
            return
        if event == _OVER_VOLTAGE:
            code, bound, side = AlarmCode.OVER_VOLTAGE, self._window.voltage_max, "above"
        else:
            code, bound, side = AlarmCode.UNDER_VOLTAGE, self._window.voltage_min, "below"
        self._raise(
            code,
            voltage,
            f"step {step.number}: terminal voltage {voltage:.4g} V is {side} the safety "
            f"limit {bound:g} V",
            step,
        )
        self._fail(step, out)

    def _tick(self, dt: float, target: float) -> None:
        """Move the clock, landing exactly on the sample time or target it was cut to."""
        self._t += dt
        if abs(self._t - self._next_sample_t) <= _TIME_EPS:
            self._t = self._next_sample_t
        elif abs(self._t - target) <= _TIME_EPS:
            self._t = target

    def _end_step(self, step: _Step, out: list[Sample]) -> None:
        self._emit(out, step)
        self._index += 1
        self._step_started = False
        if self._index >= len(self._steps):
            self._finished = True
            self._outcome = ExperimentStatus.FINISHED

    def _fail(self, step: _Step, out: list[Sample]) -> None:
        self._emit(out, step)
        self._finished = True
        self._outcome = ExperimentStatus.ERROR

    def _raise(self, code: AlarmCode, value: float, message: str, step: _Step) -> None:
        self._alarms.append(Alarm(self._t, code, value, message, step.number))

    def _emit(self, out: list[Sample], step: _Step, mode: str | None = None) -> None:
        model = self._model
        voltage = model.voltage
        current = model.current
        out.append(
            Sample(
                self._seq,
                self._t,
                voltage,
                current,
                voltage * current,
                step.number,
                step.cycle,
                str(step.mode) if mode is None else mode,
                {TEMPERATURE_CHANNEL: model.temperature},
            )
        )
        self._seq += 1
        # The next grid time strictly after now (a step end on a grid time takes its place).
        self._next_sample_t = (math.floor(self._t / self._period + _TIME_EPS) + 1) * self._period


def run_to_completion(
    steps: Sequence[ExpandedStep],
    model: BatteryModel,
    window: Window,
    sample_period_s: float,
    max_samples: int | None = None,
    **runner_options: Any,
) -> tuple[list[Sample], ExperimentStatus | None, list[Alarm]]:
    """Run a whole experiment at once: its samples, its outcome and its alarms.

    With `max_samples`, stops after that many samples; the outcome is then None if the
    profile had not ended. `runner_options` go to `ProfileRunner` (e.g. max_step_duration_s).
    """
    runner = ProfileRunner(steps, model, window, sample_period_s, **runner_options)
    samples: list[Sample] = []
    # Large chunks keep the per-call overhead negligible; max_samples is checked between them.
    chunk_s = sample_period_s * (1000 if max_samples is None else max(1, min(1000, max_samples)))
    while not runner.finished:
        samples.extend(runner.advance(chunk_s))
        if max_samples is not None and len(samples) >= max_samples:
            del samples[max_samples:]
            break
    return samples, runner.outcome, runner.alarms
