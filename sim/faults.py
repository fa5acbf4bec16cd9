"""Faults and timing errors injected into the closed loop, and what the console does about them.

Two families, kept apart because they test different things:

* **Timing errors of a faulty console** (``early-inflation``, ``late-inflation``,
  ``early-deflation``, ``late-deflation``): the verified controller commands correct
  timing, and a broken pneumatic drive moves the balloon anyway. They are forced *past*
  the controller (:class:`TimingErrorFault` rewrites the drive command), so they show the
  classic waveforms and what the monitor has to catch; the controller cannot prevent them.
* **Patient and sensor faults** the controller must answer as the spec says:
  ``trigger-loss`` (ECG lead off, or pressure line off in pressure mode: inflation stops,
  TRIGGER_LOSS after ``trigger_loss_timeout_ms``), ``gas-leak``, ``kink``, ``blood``
  (helium-line faults judged by :class:`iabp.sim.closed_loop.BalloonSensors`: HALTED
  within one tick of the fault input), ``contraindication`` (an absolute
  contraindication recorded mid-run: STANDBY and CONTRA_ABSOLUTE) and ``asystole`` (the
  heart stops; the operator stops and starts INTERNAL; the heart resumes and the
  controller leaves INTERNAL with ASYNC_ACTIVITY).

:func:`run_fault` runs one by name; :func:`timing_error_table` gives the timing-card
figures (AUG, SYS, ADIA, DIA, ASYS) of normal 1:2 pumping and of each timing error.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator
from enum import Enum

import numpy as np

from iabp.controller.controller import ControllerInputs
from iabp.sim.closed_loop import (
    ClosedLoop,
    ClosedLoopTrace,
    LoopConfig,
    LoopHooks,
    ScriptEvent,
    SimulationError,
    run_closed_loop,
)
from iabp.sim.ecg_synth import BeatKind, BeatSchedule, sinus_stream
from iabp.sim.patient.params import PatientParams
from iabp.spec.clock import NEVER
from iabp.spec.modes import Mode, OperatorCommand


class Fault(str, Enum):
    """Every fault the simulator can inject; the value is its name on the command line.

    A member compares and hashes as its value, so ``Fault.GAS_LEAK == "gas-leak"``.
    ``silence``, ``garbage`` and ``settings-silent`` exist only on a faulty console's wire
    (:mod:`iabp.sim.console`), not in the closed loop (:func:`run_fault`).
    """

    EARLY_INFLATION = "early-inflation"
    LATE_INFLATION = "late-inflation"
    EARLY_DEFLATION = "early-deflation"
    LATE_DEFLATION = "late-deflation"
    TRIGGER_LOSS = "trigger-loss"
    GAS_LEAK = "gas-leak"
    KINK = "kink"
    BLOOD = "blood"
    CONTRAINDICATION = "contraindication"
    ASYSTOLE = "asystole"
    SILENCE = "silence"  #: the console sends nothing any more
    GARBAGE = "garbage"  #: the console sends noise bytes instead of frames
    #: the console's periodic SETTINGS record stops (its 1000 ms sender died; changes are
    #: still sent): a monitor started now could not learn the settings in force
    SETTINGS_SILENT = "settings-silent"

    def __str__(self) -> str:
        return self.value


#: How far each faulty drive moves the balloon against the controller's command (ms).
TIMING_SHIFT_MS: dict[Fault, int] = {
    Fault.EARLY_INFLATION: 110,  # into the last third of ejection
    Fault.LATE_INFLATION: 120,  # the notch shows before the augmentation
    Fault.EARLY_DEFLATION: 170,  # balloon empties mid-diastole
    Fault.LATE_DEFLATION: 300,  # balloon still full when the aortic valve opens
}
PATIENT_FAULTS: tuple[Fault, ...] = (Fault.TRIGGER_LOSS, Fault.GAS_LEAK, Fault.KINK, Fault.BLOOD,
                                     Fault.CONTRAINDICATION, Fault.ASYSTOLE)
#: The faults :func:`run_fault` injects into the closed loop.
FAULTS: tuple[Fault, ...] = (*TIMING_SHIFT_MS, *PATIENT_FAULTS)
FAULT_DELAY_MS = 4000  #: default fault onset after the operator's START (pumping established)
GAS_LEAK_ML_PER_S = 20.0  #: helium lost while the balloon holds gas (perforation)
KINK_SEVERITY = 0.8  #: helium flow cut to 20 % of normal
ASYSTOLE_MS = 8000  #: how long the heart stops in the asystole scenario


class TimingErrorFault(LoopHooks):
    """A faulty pneumatic drive that moves the controller's inflation or deflation by ``shift_ms``.

    From ``at_ms`` on, per controller inflation (the controller's command is unchanged):

    * ``late-inflation``: the drive inflates ``shift_ms`` after the controller does;
    * ``late-deflation``: the drive stays inflated ``shift_ms`` after the controller deflates;
    * ``early-deflation``: the drive deflates ``shift_ms`` before the controller would, using
      the length of the controller's previous inflation;
    * ``early-inflation``: on a beat the controller has armed for inflation, the drive
      inflates ``shift_ms`` before the controller would, using the previous
      trigger-to-inflation delay (a console running its own, wrong, timing).
    """

    def __init__(self, kind: str, shift_ms: int | None = None, at_ms: int = 0) -> None:
        if kind not in TIMING_SHIFT_MS:
            raise SimulationError(f"timing error {kind!r}: expected one of "
                                  f"{sorted(f.value for f in TIMING_SHIFT_MS)}")
        self.kind = Fault(kind)
        self.shift_ms = TIMING_SHIFT_MS[self.kind] if shift_ms is None else shift_ms
        self.at_ms = at_ms
        self._ctrl = False
        self._on = self._off = self._trigger = NEVER
        self._on_delay: int | None = None
        self._last_len: int | None = None

    def inputs(self, loop: ClosedLoop, t_ms: int, inputs: ControllerInputs) -> ControllerInputs:
        mode = loop.controller.mode
        if (mode is Mode.ECG_TRIGGER and inputs.r_wave) or (
                mode is Mode.PRESSURE_TRIGGER and inputs.upstroke):
            self._trigger = t_ms
        return inputs

    def _learn(self, t_ms: int, inflate: bool) -> None:
        if inflate and not self._ctrl:
            self._on = t_ms
            self._on_delay = t_ms - self._trigger if self._trigger > NEVER else None
        elif self._ctrl and not inflate:
            self._off = t_ms
            self._last_len = t_ms - self._on
        self._ctrl = inflate

    def drive(self, loop: ClosedLoop, t_ms: int, inflate: bool) -> bool:
        self._learn(t_ms, inflate)
        if t_ms < self.at_ms:
            return inflate
        k, n = self.kind, self.shift_ms
        if k is Fault.LATE_INFLATION:
            return inflate and t_ms - self._on >= n
        if k is Fault.LATE_DEFLATION:
            return inflate or t_ms - self._off < n
        if k is Fault.EARLY_DEFLATION:
            return inflate and (self._last_len is None or t_ms - self._on < self._last_len - n)
        if inflate:
            return True
        armed = bool(loop.controller.state.get("armed", False))
        return armed and self._on_delay is not None and t_ms - self._trigger >= self._on_delay - n


class TriggerLossFault(LoopHooks):
    """The trigger signal is lost from ``at_ms`` until ``until_ms`` (None: for good): the ECG
    lead falls off (samples NaN) in ECG mode, the pressure line in pressure mode."""

    def __init__(self, at_ms: int, until_ms: int | None = None, *, signal: str = "ecg") -> None:
        self.at_ms, self.until_ms, self.signal = at_ms, until_ms, signal

    def _lost(self, t_ms: int) -> bool:
        return t_ms >= self.at_ms and (self.until_ms is None or t_ms < self.until_ms)

    def ecg_seen(self, t_ms: int, ecg_mv: float) -> float:
        return math.nan if self.signal == "ecg" and self._lost(t_ms) else ecg_mv

    def abp_seen(self, t_ms: int, abp_mmhg: float) -> float:
        return math.nan if self.signal == "pressure" and self._lost(t_ms) else abp_mmhg


class BalloonFault(LoopHooks):
    """A helium-line fault injected into the patient at ``at_ms``: ``gas-leak``, ``kink`` or
    ``blood``. The console's sensors (``BalloonSensors``) must notice it by themselves."""

    def __init__(self, kind: str, at_ms: int) -> None:
        self.kind, self.at_ms = Fault(kind), at_ms

    def before_tick(self, loop: ClosedLoop, t_ms: int) -> None:
        if t_ms != self.at_ms:
            return
        if self.kind is Fault.GAS_LEAK:
            loop.patient.inject_gas_leak(GAS_LEAK_ML_PER_S)
        elif self.kind is Fault.KINK:
            loop.patient.inject_kink(KINK_SEVERITY)
        else:
            loop.patient.inject_blood()


class ContraindicationFault(LoopHooks):
    """An absolute contraindication (e.g. aortic dissection) is recorded at ``at_ms``."""

    def __init__(self, at_ms: int) -> None:
        self.at_ms = at_ms

    def inputs(self, loop: ClosedLoop, t_ms: int, inputs: ControllerInputs) -> ControllerInputs:
        if t_ms >= self.at_ms:
            return dataclasses.replace(inputs, contra_absolute=True)
        return inputs


class AsystoleFault(LoopHooks):
    """The heart stops at ``at_ms`` and beats again at ``resume_ms`` (sinus, same rate)."""

    def __init__(self, at_ms: int, resume_ms: int) -> None:
        self.at_ms, self.resume_ms = at_ms, resume_ms

    def beats(self, params: PatientParams, seed: int, duration_ms: int) -> BeatSchedule:
        hr = params.hr_bpm if params.hr_bpm > 0 else 80.0
        first = sinus_stream(hr, hrv_sd_ms=params.hrv_sd_ms, seed=seed)
        again = sinus_stream(hr, hrv_sd_ms=params.hrv_sd_ms, seed=seed + 1,
                             first_r_ms=self.resume_ms)
        r = [t for t, _ in _until(first, self.at_ms)]
        r += [t for t, _ in _until(again, duration_ms + 3000)]
        return BeatSchedule.from_times(np.array(r, dtype=np.int64), name="sinus with asystole")


def _until(stream: Iterator[tuple[int, BeatKind]], end_ms: int) -> Iterator[tuple[int, BeatKind]]:
    for r, k in stream:
        if r >= end_ms:
            return
        yield r, k


def fault_scenario(name: str, config: LoopConfig, at_ms: int | None = None
                   ) -> tuple[LoopHooks, list[ScriptEvent], list[tuple[int, str]]]:
    """Hooks, operator script and plot notes of fault ``name`` (one of ``FAULTS``).

    ``at_ms``: fault onset (default: timing errors from the start, the others
    ``FAULT_DELAY_MS`` after the operator's START key).
    """
    if name not in FAULTS:
        raise SimulationError(f"unknown fault {name!r}; expected one of {', '.join(FAULTS)}")
    fault = Fault(name)
    script = config.default_script()
    if fault in TIMING_SHIFT_MS:
        t = 0 if at_ms is None else at_ms
        n = TIMING_SHIFT_MS[fault]
        return TimingErrorFault(fault, n, t), script, [(t, f"faulty drive: {fault} {n} ms")]
    t = script[0].t_ms + FAULT_DELAY_MS if at_ms is None else at_ms
    if fault is Fault.TRIGGER_LOSS:
        signal = "pressure" if config.mode == "pressure" else "ecg"
        what = "ECG lead off" if signal == "ecg" else "pressure line off"
        return TriggerLossFault(t, signal=signal), script, [(t, what)]
    if fault in (Fault.GAS_LEAK, Fault.KINK, Fault.BLOOD):
        return BalloonFault(fault, t), script, [(t, f"{fault} injected")]
    if fault is Fault.CONTRAINDICATION:
        return ContraindicationFault(t), script, [(t, "absolute contraindication recorded")]
    resume = t + ASYSTOLE_MS
    script += [ScriptEvent(t + 2600, OperatorCommand.STANDBY),
               ScriptEvent(t + 2700, OperatorCommand.START_INTERNAL)]
    return AsystoleFault(t, resume), script, [(t, "asystole"), (resume, "heart beats again")]


def run_fault(name: str, config: LoopConfig, *, at_ms: int | None = None) -> ClosedLoopTrace:
    """Run ``config`` with fault ``name`` injected (see :func:`fault_scenario`)."""
    hooks, script, notes = fault_scenario(name, config, at_ms)
    label = f"{config.mode.upper()} 1:{config.ratio}, {name}"
    return run_closed_loop(config, script, hooks, label=label, notes=notes)


def timing_error_table(*, hr_bpm: float = 80.0, ratio: int = 2, mode: str = "ecg",
                       duration_ms: int = 20_000, seed: int = 0,
                       on_run: Callable[[str], None] | None = None
                       ) -> dict[str, dict[str, float]]:
    """Timing-card figures (mmHg) of normal pumping and of each timing error, from closed-loop
    runs at ``1:ratio`` (figures over the beats after the first inflation). The table has
    :data:`TIMING_TABLE_RUNS` rows, one closed-loop run each; ``on_run`` gets each row's
    name when its run is done (progress)."""
    cfg = LoopConfig(hr_bpm=hr_bpm, ratio=ratio, mode=mode, duration_ms=duration_ms, seed=seed)
    out: dict[str, dict[str, float]] = {}

    def row(name: str, tr: ClosedLoopTrace) -> None:
        out[name] = tr.figures()
        if on_run is not None:
            on_run(name)

    row("normal", run_closed_loop(cfg))
    for fault in TIMING_SHIFT_MS:
        row(fault.value, run_fault(fault, cfg))
    return out


TIMING_TABLE_RUNS = 1 + len(TIMING_SHIFT_MS)  #: rows of :func:`timing_error_table`


FIGURE_COLUMNS = ("AUG", "SYS", "ADIA", "DIA", "ASYS")


def figures_markdown(table: dict[str, dict[str, float]], *, caption: str = "") -> str:
    """The figures as a Markdown table (mmHg, one decimal; "-" where a run has no such beat)."""
    def cell(v: float | None) -> str:
        return "-" if v is None or v != v else f"{v:.1f}"

    head = "| run | " + " | ".join(f"{c} (mmHg)" for c in FIGURE_COLUMNS) + " |"
    rule = "|---|" + "---|" * len(FIGURE_COLUMNS)
    rows = [f"| {name} | " + " | ".join(cell(fig.get(c)) for c in FIGURE_COLUMNS) + " |"
            for name, fig in table.items()]
    lines = [caption, ""] if caption else []
    return "\n".join([*lines, head, rule, *rows]) + "\n"
