"""The monitor's own beat clock: when the heart ejects, judged independently of the console.

REQ-MON-INDEPENDENT: the balloon must not hold gas while the ventricle ejects, so the
monitor times each beat with its OWN R-wave detector on the raw ECG (and, in pressure
trigger mode, its own systolic-upstroke detector on the arterial line) rather than the
console's ``r_detected``. From each own beat it sets ``heart_t_ms`` (ms since the
estimated R peak), the widest ejection window the spec's rate bands allow for the
measured R-R, whether the trigger is fresh, asystole, and when cardiac activity must
have been noticed. :class:`OwnBeatClock` is a part of
:class:`monitor.reconstruct.Reconstruction`, which owns and resets its state.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from controller.triggers import PressureEvent, PressureTriggerDetector, RWaveDetector
from monitor.protocol import NOT_AVAILABLE, TelemetryFrame
from monitor.reconstruct_layout import _R_SEEN, _UP_SEEN
from spec.modes import Mode
from spec.timing import RR_MAX_MS, RR_MIN_MS

if TYPE_CHECKING:
    from monitor.reconstruct import ReconstructionConfig

_NEVER: Final = -(10**9)
_NOT_DUE: Final = 10**15
_NAN: Final = math.nan


class OwnBeatClock:
    """Own R-wave and upstroke detection and the beat clock of a reconstruction."""

    config: ReconstructionConfig
    valuation: dict[str, Any]
    r_detector: RWaveDetector
    p_detector: PressureTriggerDetector
    _push_ecg: Callable[[float], bool]
    _pep_lo: Callable[[int], int]
    _qs2_hi: Callable[[int], int]
    _silent_after: int
    _margin: int
    _last_ecg_mv: float
    _last_abp: float
    _in_pressure: bool
    _peak: int
    _rr: int
    _up_n: int
    _up_rr: int
    _activity_due: int
    _beats: int

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
