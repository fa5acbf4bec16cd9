"""Causal arterial-pressure trigger: systolic upstroke and dicrotic notch.

When the ECG is unusable the pump runs on the pressure trigger: the systolic
**upstroke** marks a new beat (deflation must already be complete by then), and the
**dicrotic notch** marks aortic-valve closure, the moment to inflate. Both are found
sample by sample from a low-passed pressure and its slope, with a delay bounded by
construction (``decision_delay_bound_ms``) and fixed memory.

Note for the pump: a notch seen on a catheter or radial line lags the aortic root
(about 70 ms through the balloon lumen, 170 ms radial); this detector reports the
notch on the trace it is given and leaves that transport delay to the caller.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntFlag

import numpy as np

from iabp.controller.triggers.filters import (
    RingBuffer,
    SosFilter,
    TriggerSetupError,
    design_lowpass,
    group_delay_ms,
)
from iabp.spec.clock import NEVER

__all__ = [
    "PressureEvent",
    "PressureTuning",
    "PressureTriggerDetector",
    "detect_dicrotic_notches",
    "detect_systolic_upstrokes",
    "detect_pressure_events",
]

_INPUT_CLIP_MMHG = (-50.0, 400.0)


class PressureEvent(IntFlag):
    """What a pressure sample told the pump (several flags may be set on one sample)."""

    NONE = 0
    UPSTROKE = 1
    """Systolic upstroke decided: a new beat (the pressure trigger)."""
    SYSTOLIC_PEAK = 2
    """Systolic maximum passed (informational)."""
    DICROTIC_NOTCH = 4
    """Dicrotic notch decided: aortic valve closure, the inflation point."""


@dataclass(frozen=True)
class PressureTuning:
    """Tuning constants of :class:`PressureTriggerDetector` (ms, Hz, mmHg/s)."""

    lowpass_hz: float = 12.0
    upstroke_fraction: float = 0.4
    min_upstroke_mmhg_per_s: float = 100.0
    refractory_ms: float = 250.0
    notch_min_after_peak_ms: float = 30.0
    notch_window_rr_fraction: float = 0.7
    notch_window_max_ms: float = 550.0
    shoulder_max_slope_mmhg_per_s: float = 30.0
    settle_ms: float = 300.0
    level_gain: float = 0.125


class PressureTriggerDetector:
    """Find systolic upstrokes and dicrotic notches in an arterial pressure trace (mmHg).

    ``push(sample_mmHg)`` returns the :class:`PressureEvent` flags decided on that
    sample. The upstroke point is where dP/dt first exceeds 40 % of the typical
    beat's steepest rise (a steady fiducial high on the upstroke, not the foot). ``last_upstroke_index`` / ``last_notch_index`` hold the estimated sample
    index (from the first pushed sample) of the most recent event, compensated for
    the filter delay. The notch is the local pressure minimum between the systolic
    peak and the dicrotic wave or, when the notch is only a shoulder, the point where
    the descending slope is flattest.
    """

    def __init__(self, fs: float, tuning: PressureTuning | None = None) -> None:
        if not math.isfinite(fs) or fs < 50.0:
            raise TriggerSetupError(f"sampling rate must be at least 50 Hz, got {fs}")
        self._fs_hz = float(fs)
        self._t = tuning or PressureTuning()
        sos = design_lowpass(self._t.lowpass_hz, fs, order=2)
        self._lowpass = SosFilter(sos)
        self._delay_n = int(round(group_delay_ms(sos, [1.0, 3.0, 5.0], fs) * fs / 1000.0))
        self._refractory_n = self._samples(self._t.refractory_ms)
        self._notch_min_n = self._samples(self._t.notch_min_after_peak_ms)
        self._notch_max_n = self._samples(self._t.notch_window_max_ms)
        self._settle_n = self._samples(self._t.settle_ms)
        self._slopes = RingBuffer(3)
        self._rr = RingBuffer(8)
        self._decision_delay_bound_ms = 1000.0 * (self._delay_n + 2) / fs
        self.reset()

    def _samples(self, ms: float) -> int:
        return max(1, int(round(ms * self._fs_hz / 1000.0)))

    @property
    def decision_delay_bound_ms(self) -> float:
        """Largest time (ms) from the estimated upstroke or notch to its decision, by construction."""
        return self._decision_delay_bound_ms

    @property
    def last_upstroke_index(self) -> int:
        """Estimated sample index of the latest systolic upstroke (-1 before the first)."""
        return self._last_upstroke_est

    @property
    def last_notch_index(self) -> int:
        """Estimated sample index of the latest dicrotic notch (-1 before the first)."""
        return self._last_notch_est

    def buffer_lengths(self) -> dict[str, int]:
        """Sizes of every internal history buffer (fixed: the memory bound)."""
        return {"slopes": len(self._slopes), "rr": len(self._rr)}

    def reset(self) -> None:
        """Forget filters, levels and beat history."""
        self._n = 0
        self._slopes.clear()
        self._rr.clear()
        self._started = False
        self._last_valid = 0.0
        self._blocked_until = self._settle_n
        self._prev_p = 0.0
        self._upstroke_level = 0.0
        self._beat_max_slope = 0.0
        self._in_upstroke = False
        self._last_upstroke_n = NEVER
        self._last_upstroke_est = -1
        self._last_notch_est = -1
        self._rr_mean_n = 0.0
        self._after_peak = False
        self._peak_n = 0
        self._notch_done = True

    def push(self, sample_mmHg: float) -> PressureEvent:  # noqa: N803 - unit in the name
        """Feed one pressure sample (mmHg); return the events decided on this sample."""
        n = self._n
        self._n = n + 1
        p = self._lowpass.push(self._condition(sample_mmHg, n))
        slope = (p - self._prev_p) * self._fs_hz
        self._prev_p = p
        self._slopes.push(slope)
        if n < self._blocked_until or self._slopes.filled() < 3:
            self._after_peak = False
            self._notch_done = True
            return PressureEvent.NONE
        events = self._upstroke(slope, n)
        events |= self._peak_and_notch(n)
        return events

    def _condition(self, sample_mmhg: float, n: int) -> float:
        try:
            x = float(sample_mmhg)
        except (TypeError, ValueError):
            x = math.nan
        if not math.isfinite(x):
            self._blocked_until = max(self._blocked_until, n + self._settle_n)
            return self._last_valid
        lo, hi = _INPUT_CLIP_MMHG
        x = min(hi, max(lo, x))
        if not self._started:
            self._started = True
            self._lowpass.settle(x)
            self._prev_p = x
        self._last_valid = x
        return x

    def _threshold(self) -> float:
        """Upstroke threshold on dP/dt (mmHg/s): a fraction of the typical beat's steepest rise."""
        return max(self._t.min_upstroke_mmhg_per_s, self._t.upstroke_fraction * self._upstroke_level)

    def _upstroke(self, slope: float, n: int) -> PressureEvent:
        if self._in_upstroke:
            self._beat_max_slope = max(self._beat_max_slope, slope)
            if slope <= 0.0:
                self._in_upstroke = False
                gain = self._t.level_gain if self._upstroke_level > 0 else 1.0
                self._upstroke_level += gain * (self._beat_max_slope - self._upstroke_level)
            return PressureEvent.NONE
        if slope > self._threshold() and n - self._last_upstroke_n >= self._refractory_n:
            if self._last_upstroke_n >= 0 and n - self._last_upstroke_n < 3 * self._fs_hz:
                self._rr.push(float(n - self._last_upstroke_n))
                k = self._rr.filled()
                self._rr_mean_n = sum(self._rr.ago(i) for i in range(k)) / k
            self._in_upstroke = True
            self._beat_max_slope = slope
            self._last_upstroke_n = n
            self._last_upstroke_est = n - self._delay_n
            self._after_peak = False
            self._notch_done = False
            return PressureEvent.UPSTROKE
        return PressureEvent.NONE

    def _notch_deadline(self) -> int:
        if self._rr_mean_n > 0:
            span = min(self._notch_max_n, int(self._t.notch_window_rr_fraction * self._rr_mean_n))
        else:
            span = self._notch_max_n
        return self._last_upstroke_n + span

    def _peak_and_notch(self, n: int) -> PressureEvent:
        s0, s1, s2 = self._slopes.ago(0), self._slopes.ago(1), self._slopes.ago(2)
        if self._notch_done:
            return PressureEvent.NONE
        if not self._after_peak:
            if s1 > 0.0 >= s0 and not self._in_upstroke:
                self._after_peak = True
                self._peak_n = n
                return PressureEvent.SYSTOLIC_PEAK
            return PressureEvent.NONE
        if n > self._notch_deadline():
            self._notch_done = True
            return PressureEvent.NONE
        if n - self._peak_n < self._notch_min_n:
            return PressureEvent.NONE
        if s1 <= 0.0 < s0:
            return self._notch(n, lag=1)
        flattest = s2 < s1 >= s0 and s1 < 0.0
        if flattest and s1 > -self._t.shoulder_max_slope_mmhg_per_s:
            return self._notch(n, lag=1)
        return PressureEvent.NONE

    def _notch(self, n: int, lag: int) -> PressureEvent:
        self._notch_done = True
        self._last_notch_est = n - lag - self._delay_n
        return PressureEvent.DICROTIC_NOTCH


def detect_pressure_events(abp_mmhg: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """Run the detector over a whole trace; return (upstroke estimates, notch estimates) as indices."""
    det = PressureTriggerDetector(fs)
    ups: list[int] = []
    notches: list[int] = []
    for value in np.asarray(abp_mmhg, dtype=float).tolist():
        ev = det.push(value)
        if ev & PressureEvent.UPSTROKE:
            ups.append(det.last_upstroke_index)
        if ev & PressureEvent.DICROTIC_NOTCH:
            notches.append(det.last_notch_index)
    return np.asarray(ups, dtype=np.int64), np.asarray(notches, dtype=np.int64)


def detect_systolic_upstrokes(abp: np.ndarray, fs: float) -> np.ndarray:
    """Estimated sample indices of systolic upstrokes (beat triggers) in ``abp`` (mmHg)."""
    return detect_pressure_events(abp, fs)[0]


def detect_dicrotic_notches(abp: np.ndarray, fs: float) -> np.ndarray:
    """Estimated sample indices of dicrotic notches (inflation points) in ``abp`` (mmHg)."""
    return detect_pressure_events(abp, fs)[1]
