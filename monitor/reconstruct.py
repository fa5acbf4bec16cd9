"""Independent reconstruction of the spec's variables from raw telemetry (REQ-MON-INDEPENDENT).

The monitor must not take the console's word for when the heart ejects. From each
TELEMETRY tick it reads only the raw samples (ECG in uV, arterial and balloon gas
pressure in 0.1 mmHg), the commanded mode and balloon command, the alarm mask and the
settings in force. It ignores ``r_detected``, ``notch_detected`` and ``console_phase``.

Every frame it updates one **valuation**: a dict keyed like the spec's expressions, so
the rules of :mod:`monitor.rules` evaluate the spec's own properties (compiled with
``controller.compile``) on it. Layout, as the spec's step reads it:

* ``x'`` (primed) is the value in THIS frame (state after the console's tick);
* ``x`` (unprimed) is the value in the PREVIOUS frame, for state variables;
* inputs (``r_wave``, ``activity``, ``contra_absolute``...) are unprimed: this tick's.

What it reconstructs, and from what:

* heart: the monitor's OWN :class:`controller.triggers.RWaveDetector` at 1 kHz gives
  each R wave; ``heart_t_ms`` is ms since the detector's estimate of the R peak (so the
  detector's decision delay is corrected), ``heart_pep_ms`` / ``heart_qs2_ms`` are the
  widest ejection window the spec's rate bands allow for the measured R-R
  (``pep_lo_ms`` / ``qs2_hi_ms``, compiled from ``spec.timing``), ``heart_silent``
  means no own R wave for longer than the slowest supported beat;
* balloon: ``gas_timer_ms`` / ``gas_filled`` run the spec's plant (``plant_step``,
  compiled) on the command history; ``mon_gas_*`` run the same plant on the MEASURED
  balloon state (gas pressure away from its resting baseline), so the measured view
  uses the spec's gas-time bounds too;
* observers: the spec's observer step (compiled) driven by the monitor's own triggers
  (ms without an own R wave in a trigger mode, own beats since the last inflation, ms
  since own-detected activity, ms stopped);
* alarms from the mask (``spec.controller_step.ALARM_VARS``), settings from the SETTINGS
  records (checked against the telemetry's ``settings_crc``), contraindications from the
  patient profile.

Every buffer is bounded: the detectors have fixed memory, the rest is scalars.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from operator import itemgetter
from pathlib import Path
from typing import Any, Final

from controller.compile import compile_expr, compile_step
from controller.triggers import PressureEvent, PressureTriggerDetector, RWaveDetector
from monitor.protocol import (
    NOT_AVAILABLE,
    UINT32_MOD,
    SettingsFrame,
    TelemetryFrame,
    settings_digest,
)
from spec import assumptions as A
from spec import observers
from spec.controller_step import ALARM_VARS, inflate_cmd
from spec.environment import GAS_TIMER_CAP_MS, R_CHANNEL, UPSTROKE_CHANNEL, plant_step
from spec.errors import SpecError, UsageError
from spec.expr import BOOL, INT, Const, Expr, Op, Var
from spec.iabp import iabp_spec
from spec.modes import Mode
from spec.settings import DEFAULT_SETTINGS, SETTINGS
from spec.system import Assign, StateVar
from spec.timing import RR_MAX_MS, RR_MIN_MS, pep_lo_ms, qs2_hi_ms

FS_HZ: Final = 1000.0
"""Telemetry rate: one TELEMETRY record per 1 ms console tick."""

_NEVER: Final = -(10**9)
_NOT_DUE: Final = 10**15
_NAN: Final = math.nan
_TRIGGER_MODES: Final = (Mode.ECG_TRIGGER, Mode.PRESSURE_TRIGGER)
_STOPPED_MODES: Final = (Mode.STANDBY, Mode.HALTED)


def substitute(e: Expr, mapping: Mapping[str, Expr]) -> Expr:
    """``e`` with every variable whose key (``x`` or ``x'``) is in ``mapping`` replaced.

    Used to point a spec expression at the monitor's own quantities (e.g. the spec's
    plant run on the measured balloon state) without restating it.
    """
    if isinstance(e, Var):
        return mapping.get(e.key, e)
    if isinstance(e, Op):
        return Op(e.op, tuple(substitute(a, mapping) for a in e.args), e.sort)
    return e


# -- patient profile ------------------------------------------------------------------------


class Severity(Enum):
    """How a recorded contraindication constrains pumping (REQ-CONTRA-BLOCK)."""

    ABSOLUTE = "absolute"  #: never pump
    RELATIVE = "relative"  #: pump only with a recorded override; alarm stays visible


KNOWN_CONTRAINDICATIONS: Final[Mapping[str, Severity]] = {
    "severe aortic insufficiency": Severity.ABSOLUTE,
    "aortic dissection": Severity.ABSOLUTE,
    "aortic aneurysm": Severity.ABSOLUTE,
    "severe peripheral vascular disease": Severity.ABSOLUTE,
    "bleeding": Severity.RELATIVE,
    "coagulopathy": Severity.RELATIVE,
    "sepsis": Severity.RELATIVE,
    "severe thrombocytopenia": Severity.RELATIVE,
    "descending aortic graft": Severity.RELATIVE,
    "end-stage disease": Severity.RELATIVE,
}
"""Default severity of the contraindications named in shared/domain/iabp.md."""

TRIGGER_SOURCES: Final = ("ecg", "pressure", "internal")


class ProfileError(UsageError):
    """A patient profile file is missing, not JSON, or has a bad field (exit status 2)."""


@dataclass(frozen=True)
class Contraindication:
    """One recorded contraindication of this patient."""

    name: str
    severity: Severity


@dataclass(frozen=True)
class PatientProfile:
    """What is recorded about the patient that the monitor checks the console against.

    JSON form (every key optional)::

        {"patient_id": "bed 4", "trigger_source": "ecg", "balloon_volume_ml": 40,
         "relative_override": false,
         "contraindications": ["sepsis", {"name": "aortic dissection", "severity": "absolute"}]}

    A contraindication given as a bare string must be one of
    :data:`KNOWN_CONTRAINDICATIONS`; any other needs an explicit severity.
    ``relative_override`` is the clinician's recorded override of the relative ones (the
    operator's override key is not on the wire, so the profile is the monitor's source).
    """

    patient_id: str = "anonymous"
    contraindications: tuple[Contraindication, ...] = ()
    relative_override: bool = False
    trigger_source: str = "ecg"
    balloon_volume_ml: int = 40

    @property
    def absolute(self) -> bool:
        """An absolute contraindication is recorded: the console must not pump."""
        return any(c.severity is Severity.ABSOLUTE for c in self.contraindications)

    @property
    def relative(self) -> bool:
        """A relative contraindication is recorded: its alarm must be active."""
        return any(c.severity is Severity.RELATIVE for c in self.contraindications)

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form (for the audit log)."""
        return {
            "patient_id": self.patient_id, "trigger_source": self.trigger_source,
            "balloon_volume_ml": self.balloon_volume_ml,
            "relative_override": self.relative_override,
            "contraindications": [{"name": c.name, "severity": c.severity.value}
                                  for c in self.contraindications],
        }

    @classmethod
    def from_mapping(cls, data: Any) -> PatientProfile:
        """Build from parsed JSON; raise :class:`ProfileError` naming the bad field."""
        if not isinstance(data, Mapping):
            raise ProfileError("a patient profile must be a JSON object")
        known = {"patient_id", "contraindications", "relative_override", "trigger_source",
                 "balloon_volume_ml"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ProfileError(f"unknown profile field(s): {', '.join(unknown)}")
        pid = data.get("patient_id", "anonymous")
        source = data.get("trigger_source", "ecg")
        override = data.get("relative_override", False)
        volume = data.get("balloon_volume_ml", 40)
        if not isinstance(pid, str) or not pid.strip():
            raise ProfileError("patient_id must be a non-empty string")
        if source not in TRIGGER_SOURCES:
            raise ProfileError(f"trigger_source must be one of {TRIGGER_SOURCES}, got {source!r}")
        if not isinstance(override, bool):
            raise ProfileError("relative_override must be true or false")
        if isinstance(volume, bool) or volume not in (34, 40, 50):
            raise ProfileError(f"balloon_volume_ml must be 34, 40 or 50, got {volume!r}")
        raw = data.get("contraindications", [])
        if not isinstance(raw, list):
            raise ProfileError("contraindications must be a list")
        return cls(pid, tuple(_contraindication(x) for x in raw), override, source, volume)

    @classmethod
    def load(cls, path: str | Path) -> PatientProfile:
        """Read a profile JSON file; raise :class:`ProfileError` with a clear reason."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ProfileError(f"cannot read patient profile {str(path)!r}: {exc.strerror}") from exc
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ProfileError(f"patient profile {str(path)!r} is not valid JSON: {exc}") from exc
        return cls.from_mapping(data)


def _contraindication(item: Any) -> Contraindication:
    if isinstance(item, str):
        sev = KNOWN_CONTRAINDICATIONS.get(item.strip().lower())
        if sev is None:
            raise ProfileError(f"unknown contraindication {item!r}: give it as "
                               '{"name": ..., "severity": "absolute"|"relative"}')
        return Contraindication(item.strip().lower(), sev)
    if isinstance(item, Mapping) and set(item) <= {"name", "severity"} and "name" in item:
        name = item["name"]
        if not isinstance(name, str) or not name.strip():
            raise ProfileError("a contraindication name must be a non-empty string")
        default = KNOWN_CONTRAINDICATIONS.get(name.strip().lower())
        sev_text = item.get("severity", default.value if default else None)
        try:
            return Contraindication(name.strip().lower(), Severity(sev_text))
        except ValueError:
            raise ProfileError(f"contraindication {name!r}: severity must be 'absolute' or "
                               f"'relative', got {sev_text!r}") from None
    raise ProfileError(f"bad contraindication entry {item!r}")


# -- measured balloon state -----------------------------------------------------------------


class BalloonState(Enum):
    """The balloon as the monitor reads it off the helium line pressure."""

    EMPTY = "empty"  #: no gas: the deflation bound has passed since the plateau ended
    INFLATED = "inflated"  #: pressure above its resting baseline: gas in the balloon
    DEFLATING = "deflating"  #: plateau ended less than GAS_DEFLATE_MAX_MS ago, or undershoot
    UNKNOWN = "unknown"  #: no gas pressure signal (NA): counted as holding gas


@dataclass(frozen=True)
class ReconstructionConfig:
    """Tuning of the reconstruction; times in ms, pressures in mmHg.

    ``gas_baseline_mmhg`` is the resting helium line pressure assumed until one is
    learned (iabp.md: about 10-15 mmHg); a gas sample more than ``gas_band_mmhg`` above
    the learned baseline means gas pushed into the balloon (the inflation plateau); the
    balloon counts as no longer inflated only after ``gas_settle_ms`` below that.
    ``missed_beat_margin_ms``: an own beat longer than the last R-R by more than this
    means the next R wave was missed (the trigger is stale). ``silent_after_ms``: no own
    R wave for this long counts as asystole (``heart_silent``). ``activity_tolerance_ms``:
    the console may notice cardiac activity this long after the R peak (ASM-ACTIVITY).
    """

    gas_baseline_mmhg: float = 12.0
    gas_band_mmhg: float = 10.0
    gas_settle_ms: int = 5
    gas_baseline_gain: float = 1.0 / 64.0
    missed_beat_margin_ms: int = A.RR_STEP_MAX_MS + A.R_DETECT_JITTER_MS
    silent_after_ms: int = RR_MAX_MS + A.R_DETECT_JITTER_MS
    activity_tolerance_ms: int = A.ACTIVITY_DELAY_MAX_MS + A.TICK_MS
    max_bridge_ms: int = 64


# -- the valuation --------------------------------------------------------------------------

_MEASURED_KEYS: Final = {"gas_timer_ms": "mon_gas_timer_ms", "gas_filled": "mon_gas_filled"}
_TO_MEASURED: Final[dict[str, Expr]] = {
    **{k: Var(m, INT if k == "gas_timer_ms" else BOOL) for k, m in _MEASURED_KEYS.items()},
    **{k + "'": Var(m, INT if k == "gas_timer_ms" else BOOL, True)
       for k, m in _MEASURED_KEYS.items()},
}
#: One tick of the spec's plant on the command and of the same plant on the measured
#: balloon state; and one tick of the spec's observers. Compiled once, run every frame.
PLANT_LINES: Final[tuple[Assign, ...]] = (
    *plant_step(inflate_cmd),
    *(Assign(_MEASURED_KEYS[a.target], substitute(a.expr, _TO_MEASURED), a.is_wire, a.role)
      for a in plant_step(Var("mon_gas_inflated", BOOL))),
)
OBSERVER_LINES: Final[tuple[Assign, ...]] = tuple(observers.step())
STEP_LINES: Final[tuple[Assign, ...]] = (*PLANT_LINES, *OBSERVER_LINES)
_SETTING_PAIRS: Final = tuple((s.name, s.var.name, s.var.name + "'") for s in SETTINGS)
_ALARM_BITS: Final = tuple((name + "'", int(alarm)) for name, alarm in ALARM_VARS.items())
_R_SEEN: Final = R_CHANNEL.seen.name + "'"
_UP_SEEN: Final = UPSTROKE_CHANNEL.seen.name + "'"

#: Keys kept for this frame (``x'``) AND the previous one (``x``): what the spec's step and
#: the transition properties read of the state before the tick.
TWO_FRAME_KEYS: Final[tuple[str, ...]] = (
    "mode", "inflate_cmd", *(s.var.name for s in SETTINGS), "mon_gas_inflated",
    *(a.target for a in STEP_LINES if not a.is_wire), "mon_settings_unknown_ms",
)
#: Keys kept for this frame only (no property reads their previous value).
THIS_FRAME_KEYS: Final[tuple[str, ...]] = (
    *(k + "'" for k in ALARM_VARS), "heart_t_ms'", "heart_rr_ms'", "heart_pep_ms'",
    "heart_qs2_ms'", "heart_silent'", _R_SEEN, _UP_SEEN,
)
#: Per-tick inputs (unprimed) and monitor-only quantities.
INPUT_KEYS: Final[tuple[str, ...]] = (
    "r_wave", "upstroke", "notch", "activity", "contra_absolute", "contra_relative",
    "contra_override", "mon_beat", "mon_activity_late", "mon_t_ms", "mon_stop_sent",
    "mon_since_stop_ms", "mon_beats_seen", "mon_changed",
)


def compile_step_in_place(lines: Sequence[Assign]) -> Callable[[dict[str, Any]], None]:
    """The spec's step compiled by ``controller.compile.compile_step``, rewritten to work
    in place on the valuation: each target's current value is read from ``x'`` (this is
    the next frame now) and copied to ``x``, and its next value is written to ``x'``.

    Only the generated loads of the targets and the final ``return`` are rewritten; every
    expression is the compiled spec's. ``tests/monitor/test_reconstruct.py`` checks the
    result against the plain compiled step.
    """
    step = compile_step(lines)
    targets = set(step.targets)
    body: list[str] = []
    for line in step.source.splitlines()[1:]:
        stripped = line.strip()
        if stripped.startswith("return "):
            body += [f"    V[{t + chr(39)!r}] = n_{t}" for t in step.targets]
            continue
        name = stripped.split(" = ")[0]
        if name.startswith("v_") and name[2:] in targets and stripped.endswith(f"V[{name[2:]!r}]"):
            t = name[2:]
            line = f"    {name} = V[{t!r}] = V[{t + chr(39)!r}]"
        body.append(line)
    for t in step.targets:
        if not t.isidentifier():
            raise SpecError(f"step target {t!r} is not a plain name")
    src = "def _step_in_place(V):\n" + "\n".join(body) + "\n"
    ns: dict[str, Any] = dict(step._fn.__globals__)  # the constants the step's code names
    exec(compile(src, "<spec-step-in-place>", "exec"), ns)  # noqa: S102 - the spec's step
    fn: Callable[[dict[str, Any]], None] = ns["_step_in_place"]
    return fn


def initial_value(var: StateVar) -> Any:
    """A state variable's power-on value from its spec ``init`` (``x == c``, ``not x``,
    ``x``); without one, the low end of its domain (0) or False."""
    init = var.init
    if isinstance(init, Op) and init.op == "eq" and isinstance(init.args[1], Const):
        return init.args[1].value
    if isinstance(init, Op) and init.op == "not" and isinstance(init.args[0], Var):
        return False
    if isinstance(init, Var):
        return True
    if init is not None:
        raise SpecError(f"no simple power-on value for {var.name}: {init!r}")
    return False if var.sort == BOOL else (var.lo or 0)


class FixedPointStep:
    """An in-place compiled step that is skipped while it sits at a fixed point.

    The step is a pure function of the keys it reads. When they hold exactly the values of
    the last call and that call left its targets unchanged, calling it again would change
    nothing either, so it is not called (the plant's timers saturate: most frames).
    """

    def __init__(self, lines: Sequence[Assign]) -> None:
        self._step = compile_step_in_place(lines)
        plain = compile_step(lines)
        targets = [t for t in plain.targets]
        reads = sorted({k for k in plain.reads} | {t + "'" for t in targets})
        self._inputs = itemgetter(*reads)
        self._state = itemgetter(*[t + "'" for t in targets])
        self._last: tuple[Any, ...] | None = None

    def __call__(self, v: dict[str, Any]) -> None:
        inputs = self._inputs(v)
        if inputs == self._last:
            return
        before = self._state(v)
        self._step(v)
        self._last = inputs if self._state(v) == before else None


def _compile_band(fn: Any) -> Any:
    compiled = compile_expr(fn(Var("mon_rr_ms", INT)))
    return lambda rr_ms: int(compiled({"mon_rr_ms": rr_ms}))


class Reconstruction:
    """Turns TELEMETRY and SETTINGS records into the spec valuation, one frame at a time.

    Call :meth:`on_settings` for each SETTINGS record and :meth:`on_telemetry` for each
    TELEMETRY record (in stream order); after each telemetry frame :attr:`valuation`
    holds the spec variables for that tick (layout: see the module docstring, and
    :data:`TWO_FRAME_KEYS`, :data:`THIS_FRAME_KEYS`, :data:`INPUT_KEYS`).
    ``mon_changed`` flags a frame in which the commanded state (mode, balloon command,
    alarm mask, settings) changed or an own detection happened.
    """

    def __init__(self, profile: PatientProfile | None = None,
                 config: ReconstructionConfig | None = None) -> None:
        self.profile = profile or PatientProfile()
        self.config = config or ReconstructionConfig()
        self._pep_lo = _compile_band(pep_lo_ms)
        self._qs2_hi = _compile_band(qs2_hi_ms)
        self._plant = FixedPointStep(PLANT_LINES)
        self._observe = compile_step_in_place(OBSERVER_LINES)
        self.r_detector = RWaveDetector(FS_HZ)
        self.p_detector = PressureTriggerDetector(FS_HZ)
        self._push_ecg = self.r_detector.push
        c = self.config
        self._silent_after, self._margin = c.silent_after_ms, c.missed_beat_margin_ms
        self._band, self._settle = c.gas_band_mmhg, c.gas_settle_ms
        self.valuation: dict[str, Any] = {}
        self.reset()

    # -- state ------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget everything: detectors, beat timing, settings, the valuation."""
        self.r_detector.reset()
        self.p_detector.reset()
        self._n = -1  # index of the current 1 ms sample (detector push count - 1)
        self.now_ms = 0  #: ms of telemetry seen: the 1 ms sample index of the current frame
        self._last_time: int | None = None
        self._last_ecg_mv = 0.0
        self._last_abp = _NAN
        self._peak = _NEVER
        self._rr = 0
        self._up_n = _NEVER
        self._up_rr = 0
        self._activity_due = _NOT_DUE
        self._beats = 0
        self._baseline = self.config.gas_baseline_mmhg
        self._baseline_learned = False
        self._gas_na = False
        self._undershoot = False
        self._gas_quiet_ms = 1 << 20
        self._mask = -1
        self._settings: dict[str, int] = dict(DEFAULT_SETTINGS)
        self._expect: tuple[int, ...] = (-1,)
        self._last_key: tuple[Any, ...] = ()
        self._last_agree = False
        self._settings_confirmed_n = 0
        self._settings_dirty = 2
        self._stop_sent_n: int | None = None
        self._stop_changed = True
        self._in_pressure = False
        self.frames = 0
        self.valuation = self._initial_valuation()

    def _initial_valuation(self) -> dict[str, Any]:
        p, spec = self.profile, iabp_spec()
        v: dict[str, Any] = {
            "mode": Mode.STANDBY, "inflate_cmd": False, "mon_gas_inflated": False,
            "mon_settings_unknown_ms": 0,
            **{s.var.name: DEFAULT_SETTINGS[s.name] for s in SETTINGS},
        }
        measured = {m: k for k, m in _MEASURED_KEYS.items()}
        for target in (a.target for a in STEP_LINES if not a.is_wire):
            v[target] = initial_value(spec.state_var(measured.get(target, target)))
        for k in TWO_FRAME_KEYS:
            v[k + "'"] = v[k]
        v.update({k + "'": False for k in ALARM_VARS})
        v.update({"heart_t_ms'": RR_MAX_MS, "heart_rr_ms'": 0, "heart_silent'": True,
                  "heart_pep_ms'": self._pep_lo(RR_MIN_MS),
                  "heart_qs2_ms'": self._qs2_hi(RR_MAX_MS), _R_SEEN: False, _UP_SEEN: False})
        v.update({"r_wave": False, "upstroke": False, "notch": False, "activity": False,
                  "contra_absolute": p.absolute, "contra_relative": p.relative,
                  "contra_override": p.relative_override, "mon_beat": False,
                  "mon_activity_late": False, "mon_t_ms": 0, "mon_stop_sent": False,
                  "mon_since_stop_ms": 0, "mon_beats_seen": 0, "mon_changed": True})
        return v

    # -- public readings ----------------------------------------------------------------
    @property
    def rate_bpm(self) -> float | None:
        """Heart rate from the monitor's own last R-R (bpm), None before two own beats."""
        if self._rr <= 0 or self.valuation["heart_silent'"]:
            return None
        return 60000.0 / self._rr

    @property
    def balloon_state(self) -> BalloonState:
        """The balloon as measured on the helium line in the current frame."""
        v = self.valuation
        if self._gas_na:
            return BalloonState.UNKNOWN
        if v["mon_gas_inflated'"]:
            return BalloonState.INFLATED
        if self._undershoot or (v["mon_gas_filled'"]
                                and v["mon_gas_timer_ms'"] < A.GAS_DEFLATE_MAX_MS):
            return BalloonState.DEFLATING
        return BalloonState.EMPTY

    @property
    def gas_baseline_mmhg(self) -> float:
        """Resting helium line pressure as learned (mmHg)."""
        return self._baseline

    @property
    def settings(self) -> dict[str, int]:
        """The settings in force as last reported by a SETTINGS record (by setting name)."""
        return dict(self._settings)

    @property
    def settings_known(self) -> bool:
        """The telemetry's settings CRC, ratio, offset and lead match the last SETTINGS."""
        return bool(self.valuation["mon_settings_unknown_ms'"] == 0)

    def note_stop_sent(self) -> None:
        """The monitor sent STOP to the console during the current frame."""
        if self._stop_sent_n is None:
            self._stop_sent_n = self._n
            self._stop_changed = True

    def clear_stop(self) -> None:
        """The operator acknowledged the monitor's safe state: no STOP is pending."""
        self._stop_sent_n = None
        self._stop_changed = True

    # -- records --------------------------------------------------------------------------
    def on_settings(self, frame: SettingsFrame) -> None:
        """A SETTINGS record: the settings in force on the console."""
        s = self._settings
        for st in SETTINGS:
            s[st.name] = int(getattr(frame, st.name))
        self._expect = (settings_digest(frame), s["assist_ratio"], s["inflation_offset_ms"],
                        s["ecg_deflation_lead_ms"], s["pressure_deflation_lead_ms"])
        self._settings_dirty = 2
        self._last_key = ()

    def on_telemetry(self, f: TelemetryFrame) -> dict[str, Any]:
        """One TELEMETRY tick: update and return the valuation (the same dict every time)."""
        v = self.valuation
        self.frames += 1
        t, last = f.time_ms, self._last_time
        self._last_time = t
        if last is not None and t != last + 1:
            self._bridge((t - last) % UINT32_MOD)
        n = self._n = self.now_ms = self._n + 1
        v["mon_t_ms"] = n
        mode, inflate = f.mode, f.inflate
        prev_mode = v["mode"] = v["mode'"]
        v["mode'"] = mode
        prev_inflate = v["inflate_cmd"] = v["inflate_cmd'"]
        v["inflate_cmd'"] = inflate
        changed = mode is not prev_mode or inflate is not prev_inflate or self._stop_changed
        self._stop_changed = False
        if f.alarm_mask != self._mask:
            self._alarms(f.alarm_mask)
            changed = True
        if self._settings_in_force(f, n, mode):
            changed = True
        if self._heart(f, n, mode):
            changed = True
        v["mon_changed"] = changed
        self._balloon(f, mode)
        self._plant(v)
        self._observe(v)
        stop = self._stop_sent_n
        if stop is not None:
            v["mon_stop_sent"] = True
            v["mon_since_stop_ms"] = n - stop
        elif v["mon_stop_sent"]:
            v["mon_stop_sent"] = False
            v["mon_since_stop_ms"] = 0
        return v

    # -- pieces ---------------------------------------------------------------------------
    def _bridge(self, dt: int) -> None:
        """Lost ticks (a sequence gap below the fail-safe's threshold): hold the last samples
        so the beat clock stays in step with console time."""
        if not 1 < dt <= self.config.max_bridge_ms:
            return
        for _ in range(dt - 1):
            self._push_ecg(self._last_ecg_mv)
            if self._in_pressure:
                self.p_detector.push(self._last_abp)
        self._n += dt - 1
        self.now_ms = self._n

    def _alarms(self, mask: int) -> None:
        v = self.valuation
        self._mask = mask
        for key, bit in _ALARM_BITS:
            v[key] = bool(mask >> bit & 1)

    def _settings_in_force(self, f: TelemetryFrame, n: int, mode: Mode) -> bool:
        """Settings in force: the last SETTINGS record, confirmed by the telemetry's CRC,
        ratio, offset and lead; the assist ratio is taken from each tick. True if a
        setting in force changed in this frame."""
        v = self.valuation
        key = (f.settings_crc, f.assist_ratio, f.inflation_offset_ms, f.deflation_lead_ms, mode)
        if key == self._last_key and not self._settings_dirty and self._last_agree \
                and not v["mon_settings_unknown_ms"]:
            self._settings_confirmed_n = n
            return False  # the common frame: the same confirmed settings as the last one
        e = self._expect
        agree = (f.settings_crc == e[0] and f.assist_ratio == e[1]
                 and f.inflation_offset_ms == e[2]
                 and f.deflation_lead_ms == (e[3] if mode is Mode.ECG_TRIGGER else
                                             e[4] if mode is Mode.PRESSURE_TRIGGER else 0))
        self._last_key, self._last_agree = key, agree
        old = v["mon_settings_unknown_ms"] = v["mon_settings_unknown_ms'"]
        if agree:
            self._settings_confirmed_n = n
            if old:
                v["mon_settings_unknown_ms'"] = 0
        else:
            v["mon_settings_unknown_ms'"] = min(n - self._settings_confirmed_n + 1,
                                                A.TRIGGER_TIMER_CAP_MS)
        if f.assist_ratio != v["set_assist_ratio'"]:
            self._settings_dirty = 2
        if not self._settings_dirty:
            return False
        self._settings_dirty -= 1
        s, changed = self._settings, False
        for name, var, varp in _SETTING_PAIRS:
            old = v[var] = v[varp]
            new = v[varp] = s[name] if name != "assist_ratio" else f.assist_ratio
            changed = changed or new != old
        return changed

    def _heart(self, f: TelemetryFrame, n: int, mode: Mode) -> bool:
        """Own R-wave (and, in pressure mode, upstroke) detection and the beat clock;
        True if an own-detection event happened in this frame."""
        v = self.valuation
        ecg = f.ecg_uv
        if ecg == NOT_AVAILABLE:
            r = self._push_ecg(_NAN)
        else:
            mv = self._last_ecg_mv = ecg * 0.001
            r = self._push_ecg(mv)
        if mode is Mode.PRESSURE_TRIGGER:
            up = self._pressure(f)
            v[_UP_SEEN] = n - self._up_n < self._up_rr + self._margin
        else:
            up = False
            if self._in_pressure:
                self._in_pressure, self._up_n = False, _NEVER
                v[_UP_SEEN] = False
        if r:
            self._new_beat(n)
        heart_t = n - self._peak
        v["heart_t_ms'"] = heart_t
        v["heart_silent'"] = heart_t >= self._silent_after
        v[_R_SEEN] = heart_t < self._rr + self._margin
        if mode is Mode.PRESSURE_TRIGGER:
            # The monitor's own upstroke detector is fooled by the balloon's augmentation
            # (it looks like an upstroke); its own R-wave detection on the ECG is as
            # independent and shows the beat is real and fresh, so either counts.
            v[_UP_SEEN] = bool(v[_UP_SEEN] or v[_R_SEEN])
        late = self._activity_due <= n
        if late:
            self._activity_due = _NOT_DUE
        if r or up or late or v["activity"] or v["mon_activity_late"]:
            v["r_wave"] = v["mon_beat"] = r
            v["upstroke"] = up
            v["activity"] = r or up
            v["mon_activity_late"] = late
            return r or up or late
        return False

    def _new_beat(self, n: int) -> None:
        """An own-detected R wave: measure R-R, set this beat's conservative ejection window."""
        v = self.valuation
        peak = self.r_detector.last_peak_index
        prev, self._peak = self._peak, peak
        self._beats += 1
        v["mon_beats_seen"] = self._beats
        if prev > _NEVER:
            self._rr = peak - prev
        rr = self._rr
        if self._beats >= 2 and rr > 0:
            pep, qs2 = self._pep_lo(rr), self._qs2_hi(rr)
        else:  # first beat: no R-R yet, the widest window of the whole supported range
            pep, qs2 = self._pep_lo(RR_MIN_MS), self._qs2_hi(RR_MAX_MS)
        v["heart_rr_ms'"], v["heart_pep_ms'"], v["heart_qs2_ms'"] = rr, pep, qs2
        self._activity_due = peak + self.config.activity_tolerance_ms

    def _pressure(self, f: TelemetryFrame) -> bool:
        """Own systolic-upstroke detection (run only in PRESSURE_TRIGGER mode)."""
        raw = f.arterial_pressure_mmhg_x10
        if not self._in_pressure:
            self._in_pressure = True
            self.p_detector.reset()
        x = self._last_abp = _NAN if raw == NOT_AVAILABLE else raw * 0.1
        if self.p_detector.push(x) & PressureEvent.UPSTROKE:
            est = self.p_detector.last_upstroke_index
            if self._up_n > _NEVER:
                self._up_rr = est - self._up_n
            self._up_n = est
            return True
        return False

    def _balloon(self, f: TelemetryFrame, mode: Mode) -> None:
        """Measured balloon state from the helium line pressure (input of the measured plant).

        "Inflated" means the line pressure stands above its resting baseline (gas pushed
        into the balloon); once it falls, the spec's deflation bound runs from there. The
        undershoot while the gas rushes back is part of that deflation, shown as
        DEFLATING but not counted twice.
        """
        v = self.valuation
        raw = f.balloon_pressure_mmhg_x10
        if raw == NOT_AVAILABLE:
            self._gas_na = True
            inflated = True  # blind to the balloon: count it as holding gas (HZ-BLIND)
        else:
            self._gas_na = False
            off = raw * 0.1 - self._baseline
            band = self._band
            self._undershoot = off < -band
            if off > band:
                self._gas_quiet_ms = 0
                inflated = True
            else:
                self._gas_quiet_ms += 1
                inflated = self._gas_quiet_ms < self._settle
                if not (inflated or self._undershoot or f.inflate) \
                        and v["gas_timer_ms'"] >= GAS_TIMER_CAP_MS:
                    self._learn_baseline(raw * 0.1, mode)
        v["mon_gas_inflated"] = v["mon_gas_inflated'"]
        v["mon_gas_inflated'"] = inflated

    def _learn_baseline(self, p: float, mode: Mode) -> None:
        """Track the resting line pressure (balloon commanded empty, line at rest)."""
        if not self._baseline_learned and mode in _STOPPED_MODES:
            self._baseline, self._baseline_learned = p, True
        else:
            self._baseline += self.config.gas_baseline_gain * (p - self._baseline)
