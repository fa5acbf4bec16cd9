"""The monitor's own beat clock: when the heart ejects, judged independently of the console.

REQ-MON-INDEPENDENT: the balloon must not hold gas while the ventricle ejects, so the
monitor times each beat with its OWN R-wave detector on the raw ECG (and, in pressure
trigger mode, its own systolic-upstroke detector on the arterial line) rather than the
console's ``r_detected``. From each own beat it sets ``heart_t_ms`` (ms since the QRS
onset, as the spec counts a beat: its own estimate of that beat's onset, from the
buffered ECG; when the onset cannot be measured, the estimated R peak minus the last
measured Q-to-R time, clamped to the spec's ``Q_TO_R_MIN_MS``..``Q_TO_R_MAX_MS``), the
ejection window the monitor judges for the measured R-R (``judged_pep_ms`` ..
``judged_qs2_ms`` of ``iabp.spec.monitor_rules``, the window the no-false-alarm theorem
is proved for), whether the
trigger is fresh, asystole, and when cardiac activity must have been noticed.

:class:`OwnBeatClock` is an online operator that owns its state and its detectors (given
through the one seam, :func:`iabp.monitor.reconstruct.detectors.beat_detectors`);
:class:`iabp.monitor.reconstruct.reconstruction.Reconstruction` owns one, resets it and
calls :meth:`OwnBeatClock.update` once per frame.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Final

from iabp.monitor.protocol import NOT_AVAILABLE, TelemetryFrame
from iabp.monitor.reconstruct.config import FS_HZ, NEVER_MS, NOT_DUE_MS, ReconstructionConfig
from iabp.monitor.reconstruct.detectors import UPSTROKE, BeatDetectors, beat_detectors
from iabp.monitor.reconstruct.layout import R_SEEN_KEY, UP_SEEN_KEY
from iabp.spec.assumptions import Q_TO_R_MAX_MS, Q_TO_R_MIN_MS
from iabp.spec.engines.to_python import compile_expr
from iabp.spec.expr import INT, Expr, Var
from iabp.spec.modes import Mode
from iabp.spec.monitor_rules import judged_pep_ms, judged_qs2_ms
from iabp.spec.timing import RR_MAX_MS, RR_MIN_MS

_NAN: Final = math.nan


def _compile_band(fn: Callable[[Expr], Expr]) -> Callable[[int], int]:
    """One of the spec's rate bands (ms as a function of R-R), compiled for an int R-R."""
    compiled = compile_expr(fn(Var("mon_rr_ms", INT)))
    return lambda rr_ms: int(compiled({"mon_rr_ms": rr_ms}))


def _fresh_interval(last_ms: int, before_ms: int) -> int:
    """The interval a trigger stays fresh for: the longer of the last two own intervals.
    One false own beat (noise the own detector took for a QRS) splits an interval in two
    and would otherwise make the next real beat look stale as soon as the console
    inflated in it (MON-TRIGGER-FRESH false alarms on noisy records); a missed beat still
    leaves the trigger older than both."""
    return max(last_ms, before_ms)


class OwnBeatClock:
    """Own R-wave and upstroke detection and the beat clock (an online operator).

    :meth:`update` takes one TELEMETRY frame and writes the heart's keys of the valuation
    (``heart_*'``, the trigger-seen keys, ``r_wave``, ``upstroke``, ``activity``,
    ``mon_beat``, ``mon_activity_late``, ``mon_beats_seen``); :meth:`hold` bridges lost
    ticks; :meth:`reset` forgets everything, detectors included.
    """

    def __init__(self, config: ReconstructionConfig,
                 detectors: BeatDetectors | None = None) -> None:
        self.config = config
        self.detectors = detectors if detectors is not None else beat_detectors(FS_HZ)
        self._r = self.detectors.r_wave
        self._p = self.detectors.upstroke
        self._q = self.detectors.onset
        self._push_ecg = self._r.push
        self._push_onset = self._q.push
        self._push_abp = self._p.push
        self._pep = _compile_band(judged_pep_ms)
        self._qs2 = _compile_band(judged_qs2_ms)
        self._silent_after = config.silent_after_ms
        self._margin = config.missed_beat_margin_ms
        self.reset()

    def reset(self) -> None:
        """Forget every beat (as at monitor start), detectors included."""
        self._r.reset()
        self._p.reset()
        self._q.reset()
        self._qr = Q_TO_R_MIN_MS
        self._last_ecg_mv = 0.0
        self._last_abp = _NAN
        self._peak = NEVER_MS
        self._onset = NEVER_MS
        self._rr = 0
        self._fresh_rr = 0
        self._up_n = NEVER_MS
        self._up_rr = 0
        self._up_fresh_rr = 0
        self._activity_due = NOT_DUE_MS
        self._beats = 0
        self._confirmed = 0  #: own beats decided after the R-wave detector had learnt
        self._in_pressure = False
        self._upstrokes_visible = False  #: the upstroke detector has finished its first learning

    def initial_values(self) -> dict[str, Any]:
        """The heart's this-frame keys before any telemetry: silent, no R-R yet, and the
        earliest judged window of the whole supported rate range."""
        return {"heart_t_ms'": RR_MAX_MS, "heart_rr_ms'": 0, "heart_silent'": True,
                "heart_pep_ms'": self._pep(RR_MIN_MS),
                "heart_qs2_ms'": self._qs2(RR_MAX_MS), R_SEEN_KEY: False, UP_SEEN_KEY: False}

    @property
    def upstrokes_visible(self) -> bool:
        """False from the monitor's start until its upstroke detector has first learnt the
        pulse (2000 ms): until then it cannot see a pressure trigger, present or missing.
        A later relearn (after an arterial dropout) does not count: a lost line must still
        be judged as lost triggers."""
        if not self._upstrokes_visible and not self._p.learning:
            self._upstrokes_visible = True
        return self._upstrokes_visible

    @property
    def rr_ms(self) -> int:
        """The last R-R between two own R peaks (ms), 0 before two own beats."""
        return self._rr

    def hold(self, samples: int) -> None:
        """``samples`` lost ticks: feed the detectors the last samples again so the beat
        clock stays in step with console time."""
        for _ in range(samples):
            self._push_ecg(self._last_ecg_mv)
            self._push_onset(self._last_ecg_mv)
            self._push_abp(self._last_abp)

    def update(self, f: TelemetryFrame, n: int, mode: Mode, v: dict[str, Any]) -> bool:
        """Own R-wave and upstroke detection (upstrokes counted in pressure mode only) and the beat clock for
        the frame of sample index ``n``, written into the valuation ``v``; True if an
        own-detection event happened in this frame."""
        ecg = f.ecg_uv
        if ecg == NOT_AVAILABLE:
            r = self._push_ecg(_NAN)
            self._push_onset(_NAN)
        else:
            mv = self._last_ecg_mv = ecg * 0.001
            r = self._push_ecg(mv)
            self._push_onset(mv)
        up = self._pressure(f, mode is Mode.PRESSURE_TRIGGER, v["mon_gas_inflated'"])
        if mode is Mode.PRESSURE_TRIGGER:
            self._in_pressure = True
            v[UP_SEEN_KEY] = n - self._up_n < self._up_fresh_rr + self._margin
        elif self._in_pressure:
            self._in_pressure, self._up_n = False, NEVER_MS
            v[UP_SEEN_KEY] = False
        if r:
            self._new_beat(n, v)
        heart_t = n - self._onset
        v["heart_t_ms'"] = heart_t
        v["heart_silent'"] = heart_t >= self._silent_after
        v[R_SEEN_KEY] = heart_t < self._fresh_rr + self._margin
        if mode is Mode.PRESSURE_TRIGGER:
            # Its own R-wave detection on the ECG is as independent as its own upstrokes
            # (augmentations blanked, see _pressure) and shows the beat is real and fresh,
            # so either counts.
            v[UP_SEEN_KEY] = bool(v[UP_SEEN_KEY] or v[R_SEEN_KEY])
        late = self._activity_due <= n
        if late:
            self._activity_due = NOT_DUE_MS
        if r or up or late or v["activity"] or v["mon_activity_late"]:
            v["r_wave"] = v["mon_beat"] = r
            v["upstroke"] = up
            v["activity"] = r or up
            v["mon_activity_late"] = late
            return r or up or late
        return False

    def _new_beat(self, n: int, v: dict[str, Any]) -> None:
        """An own-detected R wave: measure R-R, set this beat's conservative ejection window."""
        peak = self._r.last_peak_index
        prev, self._peak = self._peak, peak
        onset = self._q.onset_before(peak)
        if onset is not None:
            self._qr = min(Q_TO_R_MAX_MS, max(Q_TO_R_MIN_MS, peak - onset))
        self._onset = peak - self._qr
        self._beats += 1
        if not self._r.learning:  # a provisional beat of the first learning may be a P wave
            self._confirmed += 1
            v["mon_beats_seen"] = self._confirmed
        if prev > NEVER_MS:
            self._fresh_rr = _fresh_interval(peak - prev, self._rr)
            self._rr = peak - prev
        rr = self._rr
        if self._beats >= 2 and rr > 0:
            pep, qs2 = self._pep(rr), self._qs2(rr)
        else:  # first beat: no R-R yet: from the earliest judged start to the latest end
            pep, qs2 = self._pep(RR_MIN_MS), self._qs2(RR_MAX_MS)
        v["heart_rr_ms'"], v["heart_pep_ms'"], v["heart_qs2_ms'"] = rr, pep, qs2
        self._activity_due = self._onset + self.config.activity_tolerance_ms

    def _pressure(self, f: TelemetryFrame, counted: bool, balloon_inflated: bool) -> bool:
        """Own systolic-upstroke detection on the arterial pressure. The detector runs on
        every frame from the monitor's start, whatever the mode, so it has learnt the
        pulse when the console enters PRESSURE_TRIGGER (restarted at each entry, its 2 s of
        learning plus one slow beat outlasted the shortest trigger-loss timeout: the
        verified console entering pressure mode at 50 bpm was stopped for "no pressure
        upstroke"); its indices are the R-wave detector's (both see every frame). An
        upstroke counts as a beat only while ``counted`` (the console is in
        PRESSURE_TRIGGER) and not while the monitor's own measured balloon holds gas (the
        last frame's helium line): that is the augmentation of an inflation, not a beat
        (as the console's controller blanks its own upstrokes while inflated; a
        late-deflation fault is the timing rules' to judge, with the R waves)."""
        raw = f.arterial_pressure_mmhg_x10
        x = self._last_abp = _NAN if raw == NOT_AVAILABLE else raw * 0.1
        ev = self._push_abp(x)  # almost always NONE: test it before any flag arithmetic
        if ev and counted and not balloon_inflated and ev & UPSTROKE:
            est = self._p.last_upstroke_index
            if self._up_n > NEVER_MS:
                self._up_fresh_rr = _fresh_interval(est - self._up_n, self._up_rr)
                self._up_rr = est - self._up_n
            self._up_n = est
            return True
        return False
