"""The closed loop: simulated patient -> causal trigger detectors -> verified controller -> balloon.

One :meth:`ClosedLoop.tick` is one 1 ms control tick:

1. the patient (:class:`iabp.sim.patient.model.Patient`) advances with the balloon drive
   command of the previous tick and shows its ECG, arterial pressure (as measured
   through the balloon catheter lumen, ``ABP_LUMEN_DELAY_MS`` behind the aortic root)
   and helium line pressure;
2. the causal detectors decide on that sample: :class:`FastRWaveDetector` on the ECG (it decides on the
   QRS up-slope, and its open QRS candidate is the controller's QRS suspicion, on
   which it deflates before the decision),
   :class:`PressureTriggerDetector` on the arterial pressure (systolic upstroke, dicrotic
   notch). Cardiac activity is an R wave or a systolic upstroke (pulsatile pressure);
3. the console's balloon sensors (:class:`BalloonSensors`) judge the helium line;
4. the verified :class:`~controller.controller.Controller` steps once on those inputs
   and the operator's key; its inflate command drives the balloon from the next tick.

Two pieces of console front end sit between the detectors and the controller, because
the balloon changes the very pressure the detectors watch. Both are stated here, not
hidden: an upstroke decided while the balloon is inflated, or within
``abp_delay_ms + UPSTROKE_BLANK_MS`` of an inflation start, is the augmentation, not a
heart beat, and is blanked (as real consoles do); and the pressure detector runs with a
notch search window of ``NOTCH_WINDOW_RR_FRACTION`` of its R-R estimate, because the
augmentation upstrokes it sees shorten that estimate. Nothing here decides *when* to
inflate: every timing rule is the controller's.

Faults plug in through :class:`LoopHooks` (see :mod:`iabp.sim.faults`); the operator
acts through a script of :class:`ScriptEvent`. A real PhysioNet recording can replace
the patient (:func:`replay_record`): the recorded ECG (and pressure) drive the detectors
and the controller, but the balloon's effect cannot be added to a recording.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from iabp.controller.controller import Controller, ControllerInputs, ControllerOutputs
from iabp.controller.triggers import (
    FastRWaveDetector,
    PressureEvent,
    PressureTriggerDetector,
    PressureTuning,
)
from iabp.sim.ecg_synth import BeatSchedule
from iabp.sim.patient.figures import assistance_figures
from iabp.sim.patient.model import BoolArray, FloatArray, Patient, PatientSample, PatientTrace
from iabp.sim.patient.params import PatientParams
from iabp.sim.records import Recording, read_record
from iabp.spec.clock import NEVER, TICK_HZ
from iabp.spec.errors import IabpError
from iabp.spec.modes import Alarm, Mode, OperatorCommand

ABP_LUMEN_DELAY_MS = 70  #: arterial pressure measured through the balloon catheter lumen (ms)
UPSTROKE_BLANK_MS = 150  #: upstrokes this long after the augmentation reaches the sensor are blanked
NOTCH_WINDOW_RR_FRACTION = 0.9  #: notch search window of the pressure detector, fraction of R-R
DEFAULT_START_MS = 1000  #: the operator presses START this long after the run begins (ms)
INTERNAL_START_MS = 2100  #: internal mode needs 2000 ms without activity first (ASYSTOLE_CONFIRM_MS)

#: The operator key that starts each pumping mode (``--mode`` on the command line).
START_KEYS: dict[str, OperatorCommand] = {
    "ecg": OperatorCommand.START_ECG,
    "pressure": OperatorCommand.START_PRESSURE,
    "internal": OperatorCommand.START_INTERNAL,
}


class SimulationError(IabpError, ValueError):
    """A closed-loop run was asked for something impossible (bad mode, ratio, duration, record)."""


@dataclass(frozen=True)
class ScriptEvent:
    """The operator acts at ``t_ms``: presses ``op`` and/or requests ``settings`` (by name)."""

    t_ms: int
    op: OperatorCommand = OperatorCommand.NONE
    settings: Mapping[str, int] | None = None


@dataclass(frozen=True)
class LoopConfig:
    """One closed-loop run: sinus rate (bpm), assist ratio 1:N, pumping mode, length (ms).

    ``mode`` is ``"ecg"``, ``"pressure"`` or ``"internal"``; internal mode is only allowed
    with no cardiac activity, so an ``"internal"`` run simulates an asystolic patient.
    ``settings`` overrides controller settings at power-on (validated by the controller).
    ``params`` overrides the patient (default: ``PatientParams(hr_bpm, abp_delay_ms=70)``).
    """

    hr_bpm: float = 80.0
    ratio: int = 1
    mode: str = "ecg"
    duration_ms: int = 30_000
    seed: int = 0
    start_ms: int = DEFAULT_START_MS
    settings: Mapping[str, int] = field(default_factory=dict)
    params: PatientParams | None = None

    def __post_init__(self) -> None:
        if self.mode not in START_KEYS:
            raise SimulationError(f"mode {self.mode!r}: expected one of {sorted(START_KEYS)}")
        if self.ratio not in (1, 2, 3):
            raise SimulationError(f"assist ratio 1:{self.ratio}: expected 1:1, 1:2 or 1:3")
        if self.duration_ms < 1 or self.start_ms < 0:
            raise SimulationError("duration_ms must be >= 1 and start_ms >= 0")

    def patient_params(self) -> PatientParams:
        """The simulated patient of this run (asystolic in internal mode)."""
        hr = 0.0 if self.mode == "internal" else self.hr_bpm
        if self.params is not None:
            return dataclasses.replace(self.params, hr_bpm=hr)
        return PatientParams(hr_bpm=hr, abp_delay_ms=ABP_LUMEN_DELAY_MS)

    def controller_settings(self) -> dict[str, int]:
        """Power-on settings: the assist ratio plus any overrides."""
        return {"assist_ratio": self.ratio, **self.settings}

    def default_script(self) -> list[ScriptEvent]:
        """Press the mode's START key at ``start_ms`` (internal: not before 2100 ms)."""
        t = max(self.start_ms, INTERNAL_START_MS) if self.mode == "internal" else self.start_ms
        return [ScriptEvent(t, START_KEYS[self.mode])]


class Tick(NamedTuple):
    """Everything one 1 ms tick of the loop showed and commanded."""

    t_ms: int
    sample: PatientSample
    ecg_seen_mv: float  #: ECG at the console input (NaN: lead off)
    abp_seen_mmhg: float  #: arterial pressure at the console input (NaN: no transducer)
    r_detected: bool
    upstroke: bool  #: after blanking
    notch: bool
    inputs: ControllerInputs
    out: ControllerOutputs
    drive: bool  #: command sent to the pneumatic drive this tick (True = inflate)


class LoopHooks:
    """Where a fault or a faulty console plugs into the loop. Every method is a no-op here."""

    def beats(self, params: PatientParams, seed: int, duration_ms: int) -> BeatSchedule | None:
        """The heart rhythm to simulate (None: the patient's own sinus rhythm)."""
        return None

    def before_tick(self, loop: ClosedLoop, t_ms: int) -> None:
        """Called before the patient steps at ``t_ms`` (inject patient faults here)."""

    def ecg_seen(self, t_ms: int, ecg_mv: float) -> float:
        """The ECG sample the console receives (mV); NaN for a lead off."""
        return ecg_mv

    def abp_seen(self, t_ms: int, abp_mmhg: float) -> float:
        """The arterial pressure sample the console receives (mmHg)."""
        return abp_mmhg

    def inputs(self, loop: ClosedLoop, t_ms: int, inputs: ControllerInputs) -> ControllerInputs:
        """The controller inputs of this tick (e.g. a contraindication recorded mid-run)."""
        return inputs

    def drive(self, loop: ClosedLoop, t_ms: int, inflate: bool) -> bool:
        """The drive command sent to the balloon for the controller's ``inflate`` (faulty console)."""
        return inflate

    def reported_alarm_mask(self, loop: ClosedLoop, t_ms: int, mask: int) -> int:
        """The alarm mask the console reports in its telemetry (faulty console)."""
        return mask


class BalloonSensors:
    """The console's helium-line fault sensors, judged once per inflation.

    At the end of every drive inflation that lasted at least ``PLATEAU_MIN_MS`` (the
    balloon is full), the *plateau* is the mean helium line pressure over its last
    ``PLATEAU_WINDOW_MS``, and the reference is the mean measured arterial pressure over
    the same window. A full balloon's line pressure is about the arterial pressure plus
    the membrane tension, and scales with the helium left in the system:

    * **gas loss** when plateau < ``GAS_LOSS_RATIO`` x reference (helium missing);
    * **catheter kink** when plateau > reference + ``KINK_MARGIN_MMHG`` (gas flow restricted);
    * **blood detected** straight from the blood-in-gas-line sensor.

    Gas loss and kink latch until :meth:`reset` (a refill or a new catheter): once the
    balloon stops, no plateau can show that the fault went away.
    """

    PLATEAU_MIN_MS = 120
    PLATEAU_WINDOW_MS = 20
    GAS_LOSS_RATIO = 0.8
    KINK_MARGIN_MMHG = 20.0

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Clear the latched faults (helium refilled, catheter checked)."""
        self.gas_loss = False
        self.catheter_kink = False
        self.blood_detected = False
        self.last_plateau_mmhg = float("nan")
        self._on_ms = 0
        self._gas: list[float] = []
        self._abp: list[float] = []

    def update(self, drive: bool, gas_mmhg: float, abp_mmhg: float, blood: bool) -> None:
        """Feed one tick: the drive command in force, line and arterial pressure (mmHg)."""
        self.blood_detected = blood
        if drive:
            self._on_ms += 1
            self._gas.append(gas_mmhg)
            self._abp.append(abp_mmhg)
            if len(self._gas) > self.PLATEAU_WINDOW_MS:
                del self._gas[0], self._abp[0]
            return
        if self._on_ms >= self.PLATEAU_MIN_MS and self._gas:
            plateau = sum(self._gas) / len(self._gas)
            ref = sum(self._abp) / len(self._abp)
            self.last_plateau_mmhg = plateau
            if ref == ref:  # a NaN reference (no transducer) judges nothing
                self.gas_loss |= plateau < self.GAS_LOSS_RATIO * ref
                self.catheter_kink |= plateau > ref + self.KINK_MARGIN_MMHG
        self._on_ms = 0
        self._gas.clear()
        self._abp.clear()


class ClosedLoop:
    """Patient, detectors, sensors and the verified controller, stepped one 1 ms tick at a time."""

    def __init__(self, config: LoopConfig, hooks: LoopHooks | None = None) -> None:
        self.config = config
        self.hooks = hooks if hooks is not None else LoopHooks()
        self.params = config.patient_params()
        beats = self.hooks.beats(self.params, config.seed, config.duration_ms)
        self.patient = Patient(self.params, seed=config.seed, beats=beats)
        self.controller = Controller(config.controller_settings())
        self.r_detector = FastRWaveDetector(TICK_HZ)
        tuning = PressureTuning(notch_window_rr_fraction=NOTCH_WINDOW_RR_FRACTION)
        self.p_detector = PressureTriggerDetector(TICK_HZ, tuning)
        self.sensors = BalloonSensors()
        self.blank_ms = self.params.abp_delay_ms + UPSTROKE_BLANK_MS
        self.drive_cmd = False
        #: the patient's true state in the tick being run (hooks may read the physiology,
        #: e.g. an ideal console timing inflation on the true valve closure)
        self.sample: PatientSample | None = None
        self.t_ms = 0
        self._inflated_at = NEVER

    def tick(self, op: OperatorCommand = OperatorCommand.NONE,
             settings: Mapping[str, int] | None = None) -> Tick:
        """Run one tick with the operator's key ``op`` and settings request, if any."""
        t, hooks = self.t_ms, self.hooks
        hooks.before_tick(self, t)
        s = self.sample = self.patient.step(self.drive_cmd)
        ecg = hooks.ecg_seen(t, s.ecg_mv)
        abp = hooks.abp_seen(t, s.abp_mmhg)
        r = self.r_detector.push(ecg)
        ev = self.p_detector.push(abp)
        up = bool(ev & PressureEvent.UPSTROKE) and not (
            self.drive_cmd or t - self._inflated_at < self.blank_ms)
        notch = bool(ev & PressureEvent.DICROTIC_NOTCH)
        self.sensors.update(self.drive_cmd, s.balloon_gas_pressure_mmhg, abp, s.blood_detected)
        sen = self.sensors
        inputs = ControllerInputs(
            r_wave=r, qrs_suspect=self.r_detector.qrs_suspected, upstroke=up, notch=notch,
            activity=r or up, op=op,
            gas_loss=sen.gas_loss, blood_detected=sen.blood_detected,
            catheter_kink=sen.catheter_kink, settings_request=settings)
        inputs = hooks.inputs(self, t, inputs)
        out = self.controller.step(inputs)
        drive = hooks.drive(self, t, out.inflate)
        if drive and not self.drive_cmd:
            self._inflated_at = t
        self.drive_cmd = drive
        self.t_ms = t + 1
        return Tick(t, s, ecg, abp, r, up, notch, inputs, out, drive)


def alarm_mask(out: ControllerOutputs) -> int:
    """The wire alarm mask of the controller's active alarms (bit n = ``Alarm`` value n)."""
    m = 0
    for a in out.alarms:
        m |= 1 << int(a)
    return m


def script_by_tick(script: Sequence[ScriptEvent]) -> dict[int, ScriptEvent]:
    """Index a script by tick; two events on one tick is an error (one key per tick)."""
    out: dict[int, ScriptEvent] = {}
    for ev in script:
        if ev.t_ms in out:
            raise SimulationError(f"two operator events at t = {ev.t_ms} ms; one key per tick")
        out[ev.t_ms] = ev
    return out



#: Bits of ``ClosedLoopTrace.fault_inputs``: the controller's fault and contraindication inputs.
FAULT_INPUT_BITS: dict[str, int] = {"gas_loss": 0, "catheter_kink": 1, "blood_detected": 2,
                                    "contra_absolute": 3}



class _Row(NamedTuple):
    """One recorded tick: each field becomes the :class:`ClosedLoopTrace` column of its name."""

    ecg_mv: float
    abp_mmhg: float
    aortic_root_mmhg: float
    lv_pressure_mmhg: float
    lv_volume_ml: float
    balloon_volume_ml: float
    gas_pressure_mmhg: float
    inflate_cmd: bool
    drive_cmd: bool
    r_true: bool
    r_detected: bool
    upstroke: bool
    notch: bool
    in_ejection: bool
    mode: int
    alarm_mask: int
    fault_inputs: int


#: The trace dtype of each :class:`_Row` column that is not float64 (rows are kept as numbers).
_COLUMN_DTYPES: dict[str, type[np.generic]] = {
    **dict.fromkeys(("inflate_cmd", "drive_cmd", "r_true", "r_detected", "upstroke", "notch",
                     "in_ejection"), np.bool_),
    "mode": np.int8, "alarm_mask": np.uint16, "fault_inputs": np.uint8,
}


@dataclass(frozen=True)
class ClosedLoopTrace:
    """A closed-loop run as 1 kHz arrays (sample ``i`` at ``t_ms[i]``).

    Pressures in mmHg, volumes in mL, ECG in mV. ``ecg_mv`` and ``abp_mmhg`` are what
    the console received (NaN: lead off); ``aortic_root_mmhg`` is the model's true aortic
    root pressure, with no lumen delay. ``inflate_cmd`` is the verified controller's
    command, ``drive_cmd`` what reached the pneumatic drive (they differ only under a
    faulty-console fault). ``r_true`` marks the patient's true R peaks (a replay: the
    reference annotations); ``in_ejection`` the true aortic valve opening. In a replay
    (``replay=True``) every patient-model channel is NaN: the balloon's effect cannot be
    added to a recording.
    """

    t_ms: npt.NDArray[np.int64]
    ecg_mv: FloatArray
    abp_mmhg: FloatArray
    aortic_root_mmhg: FloatArray
    lv_pressure_mmhg: FloatArray
    lv_volume_ml: FloatArray
    balloon_volume_ml: FloatArray
    gas_pressure_mmhg: FloatArray
    inflate_cmd: BoolArray
    drive_cmd: BoolArray
    r_true: BoolArray
    r_detected: BoolArray
    upstroke: BoolArray
    notch: BoolArray
    in_ejection: BoolArray
    mode: npt.NDArray[np.int8]  #: ``iabp.spec.modes.Mode`` after each tick
    alarm_mask: npt.NDArray[np.uint16]  #: controller alarms after each tick (bit = Alarm value)
    fault_inputs: npt.NDArray[np.uint8]  #: fault inputs given to the controller, ``FAULT_INPUT_BITS``
    label: str = ""
    replay: bool = False
    source: str = ""  #: replay: citation of the recording
    notes: tuple[tuple[int, str], ...] = ()  #: (t_ms, text): operator keys, fault onsets
    abp_delay_ms: int = 0  #: measured arterial pressure lags the aortic root by this (ms)

    @property
    def duration_ms(self) -> int:
        """Length of the run (ms)."""
        return int(self.t_ms.size)

    def inflations(self, *, drive: bool = True) -> list[tuple[int, int]]:
        """(start, end) tick of every inflation of the drive (or the controller) command."""
        cmd = (self.drive_cmd if drive else self.inflate_cmd).astype(np.int8)
        edges = np.diff(np.concatenate(([0], cmd, [0])))
        return list(zip(np.flatnonzero(edges == 1).tolist(),
                        np.flatnonzero(edges == -1).tolist(), strict=True))

    def fault_input(self, name: str) -> BoolArray:
        """Per tick: was the controller's fault input ``name`` (``FAULT_INPUT_BITS``) true?"""
        return (self.fault_inputs >> FAULT_INPUT_BITS[name] & 1).astype(bool)

    def alarm(self, alarm: Alarm) -> BoolArray:
        """Per tick: is ``alarm`` active after the tick?"""
        return (self.alarm_mask >> int(alarm) & 1).astype(bool)

    def mode_changes(self) -> list[tuple[int, Mode]]:
        """(tick, new mode) of every mode change, the starting mode first."""
        m = self.mode
        idx = [0, *(np.flatnonzero(np.diff(m) != 0) + 1).tolist()] if m.size else []
        return [(int(i), Mode(int(m[i]))) for i in idx]

    def patient_trace(self) -> PatientTrace:
        """The run as a :class:`PatientTrace`, for :func:`assistance_figures`."""
        if self.replay:
            raise SimulationError("a replayed recording has no patient model to read figures from")
        ej = self.in_ejection.astype(np.int8)
        d = np.diff(np.concatenate(([0], ej)))
        return PatientTrace(
            0, self.ecg_mv, self.abp_mmhg, self.aortic_root_mmhg, self.lv_pressure_mmhg,
            self.lv_volume_ml, self.balloon_volume_ml, self.gas_pressure_mmhg,
            self.in_ejection, self.drive_cmd, np.flatnonzero(self.r_true).astype(np.int64),
            np.flatnonzero(d == 1).astype(np.int64), np.flatnonzero(d == -1).astype(np.int64))

    def figures(self, skip_ms: int | None = None) -> dict[str, float]:
        """SYS, DIA, AUG, ADIA, ASYS (mmHg) and extras of ``assistance_figures``, over the beats
        after ``skip_ms`` (default: the first inflation)."""
        if skip_ms is None:
            inf = self.inflations()
            skip_ms = inf[0][0] if inf else 0
        return assistance_figures(self.patient_trace(), skip_ms=skip_ms)


class _Recorder:
    """Collects one row per tick; builds the trace's arrays at the end."""

    def __init__(self) -> None:
        self.rows: list[_Row] = []

    def add(self, k: Tick) -> None:
        s, out, i = k.sample, k.out, k.inputs
        self.rows.append(_Row(
            ecg_mv=k.ecg_seen_mv, abp_mmhg=k.abp_seen_mmhg, aortic_root_mmhg=s.aortic_root_mmhg,
            lv_pressure_mmhg=s.lv_pressure_mmhg, lv_volume_ml=s.lv_volume_ml,
            balloon_volume_ml=s.balloon_volume_ml, gas_pressure_mmhg=s.balloon_gas_pressure_mmhg,
            inflate_cmd=out.inflate, drive_cmd=k.drive, r_true=s.r_peak,
            r_detected=k.r_detected, upstroke=k.upstroke, notch=k.notch,
            in_ejection=s.in_ejection, mode=int(out.mode), alarm_mask=alarm_mask(out),
            fault_inputs=sum(getattr(i, name) << bit for name, bit in FAULT_INPUT_BITS.items())))

    def finish(self, **meta: object) -> ClosedLoopTrace:
        a = np.array(self.rows, dtype=np.float64).reshape(-1, len(_Row._fields))
        cols: dict[str, object] = {"t_ms": np.arange(a.shape[0], dtype=np.int64)}
        for name, col in zip(_Row._fields, a.T, strict=True):
            dtype = _COLUMN_DTYPES.get(name, np.float64)
            cols[name] = col > 0.5 if dtype is np.bool_ else col.astype(dtype)
        return ClosedLoopTrace(**cols, **meta)  # type: ignore[arg-type]


def _note(ev: ScriptEvent) -> str:
    parts = [] if ev.op is OperatorCommand.NONE else [f"operator {ev.op.name}"]
    if ev.settings:
        parts.append("settings " + ", ".join(f"{k}={v}" for k, v in ev.settings.items()))
    return "; ".join(parts)


def run_closed_loop(config: LoopConfig, script: Sequence[ScriptEvent] | None = None,
                    hooks: LoopHooks | None = None, *, label: str = "",
                    notes: Sequence[tuple[int, str]] = ()) -> ClosedLoopTrace:
    """Simulate ``config.duration_ms`` ticks of the closed loop and record every channel.

    ``script``: the operator's actions (default: press the mode's START key at
    ``config.start_ms``). ``hooks``: a fault (see :mod:`iabp.sim.faults`).
    """
    loop = ClosedLoop(config, hooks)
    events = script_by_tick(script if script is not None else config.default_script())
    rec = _Recorder()
    none = OperatorCommand.NONE
    for t in range(config.duration_ms):
        ev = events.get(t)
        rec.add(loop.tick(ev.op, ev.settings) if ev is not None else loop.tick(none))
    all_notes = sorted([*((e.t_ms, _note(e)) for e in events.values()), *notes])
    return rec.finish(label=label or f"{config.mode.upper()} 1:{config.ratio}",
                      notes=tuple(all_notes), abp_delay_ms=loop.params.abp_delay_ms)


def resolve_record(path: str) -> str:
    """``--record PATH`` as a record name for :func:`read_record`: an existing file path (with
    or without ``.hea``) becomes absolute; anything else is a name under the PhysioNet data
    folder, such as ``mitdb/100``."""
    p = Path(path)
    if p.suffix in (".hea", ".dat", ".atr"):
        p = p.with_suffix("")
    return str(p.resolve()) if p.with_suffix(".hea").is_file() else path


def replay_record(path: str, *, mode: str = "ecg", ratio: int = 1, seconds: float | None = 30.0,
                  start_s: float = 0.0, start_ms: int = DEFAULT_START_MS,
                  settings: Mapping[str, int] | None = None) -> ClosedLoopTrace:
    """Drive the detectors and the verified controller with a real recording.

    The recorded ECG (and arterial pressure, if the record has one) feed the detectors
    exactly as the patient model's would; the controller's command is recorded but acts
    on nothing: a recording cannot show the balloon. Raises :class:`RecordError` for a
    missing or unreadable record, :class:`SimulationError` for an impossible request.
    """
    cfg = LoopConfig(ratio=ratio, mode=mode, start_ms=start_ms, settings=settings or {})
    if mode == "internal":
        raise SimulationError("internal mode needs asystole; a recording has a heart beat")
    rec = read_record(resolve_record(path), start_s=start_s, duration_s=seconds)
    if mode == "pressure" and rec.abp_mmhg is None:
        raise SimulationError(f"record {path!r} has no arterial pressure: pressure trigger impossible")
    return _replay(rec, cfg)


def _replay(rec: Recording, cfg: LoopConfig) -> ClosedLoopTrace:
    n = rec.duration_ms
    ctrl = Controller(cfg.controller_settings())
    rdet = FastRWaveDetector(TICK_HZ)
    pdet = PressureTriggerDetector(TICK_HZ)
    abp = rec.abp_mmhg if rec.abp_mmhg is not None else np.full(n, np.nan)
    events = script_by_tick(cfg.default_script())
    cols = np.zeros((n, 6), dtype=np.float64)
    ecg_l, abp_l = rec.ecg_mv.tolist(), abp.tolist()
    for t in range(n):
        r = rdet.push(ecg_l[t])
        ev = pdet.push(abp_l[t]) if rec.abp_mmhg is not None else PressureEvent.NONE
        up, notch = bool(ev & PressureEvent.UPSTROKE), bool(ev & PressureEvent.DICROTIC_NOTCH)
        key = events.get(t)
        out = ctrl.step(ControllerInputs(r_wave=r, qrs_suspect=rdet.qrs_suspected, upstroke=up,
                                         notch=notch, activity=r or up,
                                         op=key.op if key else OperatorCommand.NONE))
        cols[t] = (out.inflate, r, up, notch, int(out.mode), alarm_mask(out))
    r_true = np.zeros(n, dtype=bool)
    if rec.r_peaks is not None:
        r_true[rec.r_peaks[rec.r_peaks < n]] = True
    nan = np.full(n, np.nan)
    col_inflate, col_r, col_up, col_notch, col_mode, col_mask = cols.T
    cmd = col_inflate > 0.5
    return ClosedLoopTrace(
        np.arange(n, dtype=np.int64), rec.ecg_mv, abp, nan, nan, nan, nan, nan, cmd, cmd.copy(),
        r_true, col_r > 0.5, col_up > 0.5, col_notch > 0.5, np.zeros(n, dtype=bool),
        col_mode.astype(np.int8), col_mask.astype(np.uint16), np.zeros(n, dtype=np.uint8),
        label=f"replay {rec.name} ({cfg.mode.upper()} 1:{cfg.ratio})", replay=True,
        source=rec.source, notes=tuple((e.t_ms, _note(e)) for e in events.values()))
