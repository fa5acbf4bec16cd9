"""Independent reconstruction of the spec's variables from raw telemetry (REQ-MON-INDEPENDENT).

The monitor must not take the console's word for when the heart ejects. From each
TELEMETRY tick it reads only the raw samples (ECG in uV, arterial and balloon gas
pressure in 0.1 mmHg), the commanded mode and balloon command, the alarm mask and the
settings in force. It ignores ``r_detected``, ``notch_detected`` and ``console_phase``.

Every frame it updates one **valuation**: a dict keyed like the spec's expressions, so
the rules of :mod:`iabp.monitor.rules.ruleset` evaluate the spec's own properties (compiled with
``iabp.spec.engines.to_python``) on it. Layout, as the spec's step reads it:

* ``x'`` (primed) is the value in THIS frame (state after the console's tick);
* ``x`` (unprimed) is the value in the PREVIOUS frame, for state variables;
* inputs (``r_wave``, ``activity``, ``contra_absolute``...) are unprimed: this tick's.

What it reconstructs, and from what:

* heart: the monitor's OWN R-wave detector at 1 kHz (:mod:`iabp.monitor.reconstruct.heart`,
  its detectors from the one seam :mod:`iabp.monitor.reconstruct.detectors`) gives each
  R wave; ``heart_t_ms`` is ms since the detector's estimate of the R peak (so the
  detector's decision delay is corrected), ``heart_pep_ms`` / ``heart_qs2_ms`` are the
  ejection window the monitor judges for the measured R-R (``judged_pep_ms`` /
  ``judged_qs2_ms`` of ``iabp.spec.monitor_rules``: the longest PEP and the latest
  valve closure of the rate bands, a window the verified controller provably keeps
  empty), ``heart_silent``
  means no own R wave for longer than the slowest supported beat;
* balloon: ``gas_timer_ms`` / ``gas_filled`` run the spec's plant (``plant_step``,
  compiled) on the command history; ``mon_gas_*`` run the same plant on the MEASURED
  balloon state (gas pressure away from its resting baseline), so the measured view
  uses the spec's gas-time bounds too;
* observers: the spec's observer step (compiled) driven by the monitor's own triggers
  (ms without an own R wave in a trigger mode, own beats since the last inflation, ms
  since own-detected activity, ms stopped);
* alarms from the mask (``iabp.spec.controller_step.ALARM_VARS``), settings from the SETTINGS
  records (checked against the telemetry's ``settings_crc``), contraindications from the
  patient profile.

Every buffer is bounded: the detectors have fixed memory, the rest is scalars.
"""

from __future__ import annotations

from typing import Any

from iabp.monitor.profile import (
    KNOWN_CONTRAINDICATIONS,
    TRIGGER_SOURCES,
    Contraindication,
    PatientProfile,
    ProfileError,
    Severity,
)
from iabp.monitor.protocol import (
    UINT32_MOD,
    SettingsFrame,
    TelemetryFrame,
    settings_digest,
)
from iabp.monitor.reconstruct.balloon import BalloonState, MeasuredBalloon
from iabp.monitor.reconstruct.config import FS_HZ, ReconstructionConfig
from iabp.monitor.reconstruct.heart import OwnBeatClock
from iabp.monitor.reconstruct.layout import (
    ALARM_BITS,
    INPUT_KEYS,
    MEASURED_KEYS,
    OBSERVER_LINES,
    PLANT_LINES,
    SETTING_PAIRS,
    STEP_LINES,
    THIS_FRAME_KEYS,
    TWO_FRAME_KEYS,
)
from iabp.monitor.reconstruct.step import (
    FixedPointStep,
    compile_step_in_place,
    initial_value,
)
from iabp.spec import assumptions as A
from iabp.spec.controller_step import ALARM_VARS
from iabp.spec.iabp import iabp_spec
from iabp.spec.modes import Mode
from iabp.spec.settings import DEFAULT_SETTINGS, SETTINGS
from iabp.spec.walker import substitute

__all__ = [
    "FS_HZ", "INPUT_KEYS", "KNOWN_CONTRAINDICATIONS", "OBSERVER_LINES", "PLANT_LINES",
    "STEP_LINES", "THIS_FRAME_KEYS", "TRIGGER_SOURCES", "TWO_FRAME_KEYS", "BalloonState",
    "Contraindication", "FixedPointStep", "MeasuredBalloon", "OwnBeatClock",
    "PatientProfile", "ProfileError", "Reconstruction", "ReconstructionConfig", "Severity",
    "compile_step_in_place", "initial_value", "substitute",
]


class Reconstruction:
    """Turns TELEMETRY and SETTINGS records into the spec valuation, one frame at a time.

    Call :meth:`on_settings` for each SETTINGS record and :meth:`on_telemetry` for each
    TELEMETRY record (in stream order); after each telemetry frame :attr:`valuation`
    holds the spec variables for that tick (layout: see the module docstring, and
    :data:`TWO_FRAME_KEYS`, :data:`THIS_FRAME_KEYS`, :data:`INPUT_KEYS`).
    ``mon_changed`` flags a frame in which the commanded state (mode, balloon command,
    alarm mask, settings) changed or an own detection happened.

    It is composed of online operators, each owning its state: :attr:`heart` (the own
    beat clock, :class:`OwnBeatClock`, with the detectors of the seam
    :func:`iabp.monitor.reconstruct.detectors.beat_detectors`) and :attr:`balloon` (the
    measured balloon, :class:`MeasuredBalloon`), plus the spec's compiled plant and
    observer steps; the settings in force, alarms and STOP are kept here.
    """

    def __init__(self, profile: PatientProfile | None = None,
                 config: ReconstructionConfig | None = None) -> None:
        self.profile = profile or PatientProfile()
        self.config = config or ReconstructionConfig()
        self.heart = OwnBeatClock(self.config)
        self.balloon = MeasuredBalloon(self.config)
        self._plant = FixedPointStep(PLANT_LINES)
        self._observe = compile_step_in_place(OBSERVER_LINES)
        self.valuation: dict[str, Any] = {}
        self.reset()

    # -- state ------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget everything: detectors, beat timing, settings, the valuation."""
        self.heart.reset()
        self.balloon.reset()
        self._n = -1  # index of the current 1 ms sample (detector push count - 1)
        self.now_ms = 0  #: ms of telemetry seen: the 1 ms sample index of the current frame
        self._last_time: int | None = None
        self._mask = -1
        self._alarms_moved = False  #: the alarm mask changed last frame: ``x`` catches up
        self._settings: dict[str, int] = dict(DEFAULT_SETTINGS)
        self._expect: tuple[int, ...] = (-1,)
        self._last_key: tuple[Any, ...] = ()
        self._last_agree = False
        self._settings_confirmed_n = 0
        self._settings_dirty = 2
        self._stop_sent_n: int | None = None
        self._stop_changed = True
        self.frames = 0
        self.valuation = self._initial_valuation()

    def _initial_valuation(self) -> dict[str, Any]:
        p, spec = self.profile, iabp_spec()
        v: dict[str, Any] = {
            "mode": Mode.STANDBY, "inflate_cmd": False, "mon_gas_inflated": False,
            "mon_settings_unknown_ms": 0,
            **{s.var.name: DEFAULT_SETTINGS[s.name] for s in SETTINGS},
        }
        measured = {m: k for k, m in MEASURED_KEYS.items()}
        for target in (a.target for a in STEP_LINES if not a.is_wire):
            v[target] = initial_value(spec.state_var(measured.get(target, target)))
        for k in TWO_FRAME_KEYS:
            v[k + "'"] = v[k]
        v.update({k + "'": False for k in ALARM_VARS})
        v.update({k: False for k in ALARM_VARS})
        v.update(self.heart.initial_values())
        v.update({"r_wave": False, "upstroke": False, "notch": False, "activity": False,
                  "contra_absolute": p.absolute, "contra_relative": p.relative,
                  "contra_override": p.relative_override, "mon_beat": False,
                  "mon_activity_late": False, "mon_t_ms": 0, "mon_stop_sent": False,
                  "mon_since_stop_ms": 0, "mon_beats_seen": 0, "mon_changed": True,
                  "mon_upstrokes_visible": False})
        return v

    # -- public readings ----------------------------------------------------------------
    @property
    def rate_bpm(self) -> float | None:
        """Heart rate from the monitor's own last R-R (bpm), None before two own beats."""
        rr = self.heart.rr_ms
        if rr <= 0 or self.valuation["heart_silent'"]:
            return None
        return 60000.0 / rr

    @property
    def balloon_state(self) -> BalloonState:
        """The balloon as measured on the helium line in the current frame."""
        return self.balloon.state(self.valuation)

    @property
    def gas_baseline_mmhg(self) -> float:
        """Resting helium line pressure as learned (mmHg)."""
        return self.balloon.baseline_mmhg

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
        elif self._alarms_moved:
            self._alarms_moved = False
            for key, _bit in ALARM_BITS:
                v[key[:-1]] = v[key]
        if self._settings_in_force(f, n, mode):
            changed = True
        if self.heart.update(f, n, mode, v):
            changed = True
        v["mon_changed"] = changed
        self.balloon.update(f, mode, v)
        self._plant(v)
        self._observe(v)
        visible = v["mon_upstrokes_visible"] = self.heart.upstrokes_visible
        if mode is Mode.PRESSURE_TRIGGER and not visible:
            # The spec's trigger-loss clock counts from mode entry; the monitor's counts from
            # when it can see an upstroke at all (its detector's first 2000 ms of learning):
            # a monitor started beside a console pumping in pressure mode does not blame the
            # console for beats it could not yet see.
            v["obs_no_trigger_ms'"] = 0
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
        self.heart.hold(dt - 1)
        self._n += dt - 1
        self.now_ms = self._n

    def _alarms(self, mask: int) -> None:
        """The alarm bits of this frame (``x'``) and of the frame before (``x``)."""
        v = self.valuation
        self._mask = mask
        self._alarms_moved = True
        for key, bit in ALARM_BITS:
            v[key[:-1]] = v[key]
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
        for name, var, varp in SETTING_PAIRS:
            old = v[var] = v[varp]
            new = v[varp] = s[name] if name != "assist_ratio" else f.assist_ratio
            changed = changed or new != old
        return changed
