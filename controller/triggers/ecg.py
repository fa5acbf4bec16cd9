"""Causal R-wave detector: the ECG trigger of the balloon pump.

The pump deflates on (or just before) the R wave, so what matters is not only *that*
a beat is found but *when*: :class:`RWaveDetector` decides sample by sample, never
looks ahead, and reports each R wave exactly once, at most
``decision_delay_bound_ms`` after its own estimate of the R peak.

Processing chain (Pan-Tompkins-like, re-designed for low delay):

1. first-order band-pass 5-25 Hz (designed from ``fs``) keeps the QRS slopes with
   little group delay;
2. derivative, squaring, 100 ms moving-window integration and a square root: the
   *QRS feature*, the RMS slope of the band-passed ECG (mV/s);
3. adaptive thresholds from running signal and noise peak levels (Pan-Tompkins
   ``NPK + f (SPK - NPK)``). ``f`` is the textbook Pan-Tompkins 0.25 while the
   background is clean; a signal-quality gate raises it to 0.3 while the mean feature
   over the last 300 ms (the *context*) exceeds 15 % of the signal level (noise
   bursts, motion artefact), and to 0.5 for a candidate that comes before 70 % of the
   mean R-R interval;
4. a candidate is decided ``confirm_ms`` after the feature crosses the threshold.
   It is rejected as a T wave (within 360 ms of the last beat, less than half its
   slope) or as noise: the preceding 300 ms already carried 60 % of its feature, or
   45 % if it comes before 80 % of the mean R-R interval (an early event on a busy
   background is more likely an artefact than an ectopic beat, and accepting it would
   also blank the real QRS that follows for the refractory period);
   a rejected candidate whose feature then grows 1.5-fold is judged again, so a real
   QRS riding on the tail of an artefact is not lost;
5. refractory period 200 ms; if no beat comes for 1.66 mean R-R intervals the
   threshold is halved (a *prospective* search-back: a missed beat is never reported
   late, because a late trigger is worse for the pump than a missed one), and after
   2 s without a beat the signal level decays so a smaller ECG is picked up.

NaN or infinite samples (lead-off, dropout) are held at the last valid value and
block detections until the filters have settled again (``settle_ms``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from iabp.controller.triggers.filters import (
    MovingSum,
    RingBuffer,
    RWaveTriggerClock,
    SosFilter,
    TriggerSetupError,
    design_bandpass,
)
from iabp.spec.clock import NEVER

__all__ = ["RWaveDetector", "EcgTuning", "detect_r_waves", "detect_r_waves_with_peaks"]

_INPUT_CLIP_MV = 50.0


@dataclass(frozen=True)
class EcgTuning:
    """Tuning constants of :class:`RWaveDetector` (ms, Hz; features in mV/s of RMS slope)."""

    band_low_hz: float = 5.0
    band_high_hz: float = 25.0
    band_order: int = 1
    integration_ms: float = 100.0
    confirm_ms: float = 20.0
    refractory_ms: float = 200.0
    t_wave_window_ms: float = 360.0
    t_wave_slope_ratio: float = 0.5
    threshold_fraction: float = 0.25
    noisy_threshold_fraction: float = 0.3
    noisy_context_level_ratio: float = 0.15
    premature_rr_fraction: float = 0.7
    premature_threshold_fraction: float = 0.5
    context_ms: float = 300.0
    context_ratio: float = 0.6
    premature_context_ratio: float = 0.45
    premature_context_rr_fraction: float = 0.8
    reopen_ratio: float = 1.5
    searchback_rr_factor: float = 1.66
    peak_lookback_ms: float = 120.0
    settle_ms: float = 300.0
    level_gain: float = 0.125
    initial_signal_mv_per_s: float = 40.0
    level_decay_after_ms: float = 2000.0
    level_decay_tau_ms: float = 2000.0
    min_feature_mv_per_s: float = 1.0


class RWaveDetector(RWaveTriggerClock):
    """Detect R waves in one ECG lead, one sample at a time, with bounded delay and memory.

    ``push(sample_mV)`` returns True exactly once per detected R wave, on the sample at
    which the decision is made; ``last_peak_index`` then holds the sample index (counted
    from the first pushed sample) of the estimated R peak. The pump may trigger on that
    decision: ``decision_delay_bound_ms`` is, by construction, the largest possible time
    between the estimated R peak and the decision.
    """

    def __init__(self, fs: float, tuning: EcgTuning | None = None) -> None:
        if not math.isfinite(fs) or fs < 100.0:
            raise TriggerSetupError(f"sampling rate must be at least 100 Hz, got {fs}")
        self._fs_hz = float(fs)
        t = self._t = tuning or EcgTuning()
        self._bandpass = SosFilter(design_bandpass(t.band_low_hz, t.band_high_hz, fs, t.band_order))
        self._integration = MovingSum(self._samples(t.integration_ms))
        self._context = MovingSum(self._samples(t.context_ms))
        self._confirm_n = self._samples(t.confirm_ms)
        self._refractory_n = self._samples(t.refractory_ms)
        self._t_wave_n = self._samples(t.t_wave_window_ms)
        self._settle_n = self._samples(t.settle_ms)
        self._decay_after_n = self._samples(t.level_decay_after_ms)
        self._decay = math.exp(-1000.0 / (t.level_decay_tau_ms * self._fs_hz))
        lookback_n = self._samples(t.peak_lookback_ms)
        self._history = RingBuffer(lookback_n + self._confirm_n + 1)
        self._rr = RingBuffer(8)
        self._decision_delay_bound_ms = 1000.0 * (lookback_n + self._confirm_n) / self._fs_hz
        self.reset()

    def _samples(self, ms: float) -> int:
        return max(1, int(round(ms * self._fs_hz / 1000.0)))





    @property
    def rr_mean_ms(self) -> float:
        """Mean of the last (up to 8) detected R-R intervals (ms); 0 before two beats."""
        return 1000.0 * self._rr_mean_n / self._fs_hz

    def buffer_lengths(self) -> dict[str, int]:
        """Sizes of every internal history buffer (fixed at construction: the memory bound)."""
        return {
            "peak_history": len(self._history),
            "integration": len(self._integration.buffer),
            "context": len(self._context.buffer),
            "rr": len(self._rr),
        }

    def reset(self) -> None:
        """Forget everything learned: filters, levels, R-R history (e.g. after a lead change)."""
        self._n = 0
        for buf in (self._history, self._rr):
            buf.clear()
        self._integration.clear()
        self._context.clear()
        self._started = False
        self._last_valid_mv = 0.0
        self._blocked_until = 0
        self._signal_level = self._t.initial_signal_mv_per_s
        self._noise_level = 0.0
        self._prev_y = 0.0
        self._prev_e = 0.0
        self._prev2_e = 0.0
        self._prev_context = 0.0
        self._last_decision_n = NEVER
        self._last_peak_n = -1
        self._last_slope = 0.0
        self._rr_mean_n = 0.0
        self._cand_active = False
        self._cand_start_n = 0
        self._cand_peak_e = 0.0
        self._cand_slope = 0.0
        self._cand_context = 0.0
        self._cand_reject_e = 0.0
        self._cand_state = "idle"

    def push(self, sample_mV: float) -> bool:  # noqa: N803 - unit in the name, by style
        """Feed one ECG sample (mV); True if an R wave is decided on this sample."""
        n = self._n
        self._n = n + 1
        x = self._condition(sample_mV, n)
        y = self._bandpass.push(x)
        slope = (y - self._prev_y) * self._fs_hz
        self._prev_y = y
        self._history.push(abs(y))
        mean_sq = self._integration.push(slope * slope) / self._integration.buffer.capacity
        e = math.sqrt(mean_sq) if mean_sq > 0.0 else 0.0
        context = self._context.push(e) / self._context.buffer.capacity
        detected = False
        if n >= self._blocked_until:
            detected = self._step(e, abs(slope), n)
        self._prev_context = context
        self._prev2_e = self._prev_e
        self._prev_e = e
        return detected

    def _condition(self, sample_mv: float, n: int) -> float:
        """Clip to a physical range; hold NaN/inf at the last valid value and block detections."""
        try:
            x = float(sample_mv)
        except (TypeError, ValueError):
            x = math.nan
        if not math.isfinite(x):
            self._blocked_until = max(self._blocked_until, n + self._settle_n)
            self._cand_active = False
            return self._last_valid_mv
        x = min(_INPUT_CLIP_MV, max(-_INPUT_CLIP_MV, x))
        if not self._started:
            self._started = True
            self._bandpass.settle(x)
        self._last_valid_mv = x
        return x

    def _threshold(self, n: int) -> float:
        """Detection threshold on the QRS feature (mV/s) for sample ``n``."""
        t = self._t
        since = n - self._last_decision_n
        if since > self._decay_after_n:
            self._signal_level *= self._decay
            self._noise_level *= self._decay
        frac = t.threshold_fraction
        if self._prev_context > t.noisy_context_level_ratio * self._signal_level:
            frac = t.noisy_threshold_fraction
        if since < t.premature_rr_fraction * self._rr_mean_n:
            frac = t.premature_threshold_fraction
        thr = self._noise_level + frac * max(0.0, self._signal_level - self._noise_level)
        if self._rr_mean_n > 0 and since > t.searchback_rr_factor * self._rr_mean_n:
            thr *= 0.5
        return max(thr, t.min_feature_mv_per_s)

    def _step(self, e: float, abs_slope: float, n: int) -> bool:
        thr = self._threshold(n)
        if not self._cand_active:
            if e > thr and n - self._last_decision_n >= self._refractory_n:
                self._open_candidate(e, abs_slope, n)
            elif self._prev_e > self._prev2_e and self._prev_e >= e:
                self._noise_level += self._t.level_gain * (self._prev_e - self._noise_level)
            return False
        if self._cand_state == "rejected" and e > self._t.reopen_ratio * self._cand_reject_e:
            self._close_candidate()
            if n - self._last_decision_n >= self._refractory_n:
                self._open_candidate(e, abs_slope, n)
            return False
        self._cand_peak_e = max(self._cand_peak_e, e)
        self._cand_slope = max(self._cand_slope, abs_slope)
        decided = False
        if self._cand_state == "pending" and n - self._cand_start_n >= self._confirm_n:
            decided = self._decide(n)
        if e < 0.5 * thr or (e < thr and n - self._cand_start_n > self._refractory_n):
            self._close_candidate()
        return decided

    def _open_candidate(self, e: float, abs_slope: float, n: int) -> None:
        self._cand_active = True
        self._cand_start_n = n
        self._cand_peak_e = e
        self._cand_slope = abs_slope
        self._cand_context = self._prev_context
        self._cand_state = "pending"

    def _decide(self, n: int) -> bool:
        """Accept or reject the pending candidate; True if it is an R wave."""
        t = self._t
        since = n - self._last_decision_n
        t_wave = (
            since < self._t_wave_n and self._cand_slope < t.t_wave_slope_ratio * self._last_slope
        )
        ratio = t.context_ratio
        if self._rr_mean_n > 0 and since < t.premature_context_rr_fraction * self._rr_mean_n:
            ratio = t.premature_context_ratio
        noisy = self._cand_context > ratio * self._cand_peak_e
        if t_wave or noisy:
            self._cand_state = "rejected"
            self._cand_reject_e = self._cand_peak_e
            return False
        self._cand_state = "accepted"
        if 0 < since < 3 * self._fs_hz:
            self._rr.push(float(since))
            k = self._rr.filled()
            self._rr_mean_n = sum(self._rr.ago(i) for i in range(k)) / k
        self._last_decision_n = n
        self._last_slope = self._cand_slope
        self._last_peak_n = n - self._argmax_history()
        return True

    def _argmax_history(self) -> int:
        """Lag (samples) of the largest band-passed magnitude in the look-behind window."""
        best_lag = 0
        best = -1.0
        for lag in range(self._history.filled()):
            v = self._history.ago(lag)
            if v > best:
                best = v
                best_lag = lag
        return best_lag

    def _close_candidate(self) -> None:
        self._cand_active = False
        gain = self._t.level_gain
        if self._cand_state == "accepted":
            self._signal_level += gain * (self._cand_peak_e - self._signal_level)
        else:
            self._noise_level += gain * (self._cand_peak_e - self._noise_level)
        self._cand_state = "idle"


def detect_r_waves_with_peaks(ecg_mv: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """Run :class:`RWaveDetector` over a whole trace, sample by sample.

    Returns ``(decision_idx, peak_idx)``: for each detected R wave, the sample on which
    the pump would have been triggered and the estimated R-peak sample (int64 arrays of
    equal length, in detection order). Accuracy is judged on ``peak_idx``, latency on
    ``decision_idx``.
    """
    det = RWaveDetector(fs)
    decisions: list[int] = []
    peaks: list[int] = []
    push = det.push
    for i, value in enumerate(np.asarray(ecg_mv, dtype=float).ravel().tolist()):
        if push(value):
            decisions.append(i)
            peaks.append(det.last_peak_index)
    return np.asarray(decisions, dtype=np.int64), np.asarray(peaks, dtype=np.int64)


def detect_r_waves(ecg_mv: np.ndarray, fs: float) -> np.ndarray:
    """Decision sample indices (int64) of every R wave :class:`RWaveDetector` finds in ``ecg_mv``."""
    return detect_r_waves_with_peaks(ecg_mv, fs)[0]
