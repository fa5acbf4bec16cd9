"""The monitor's own R-wave detector: a curve-length (length-transform) detector.

The runtime monitor re-checks when the pump deflates against the R waves it finds
itself. The controller's trigger is a Pan-Tompkins-like detector (band-pass, squared
derivative, moving-window integration); a fault in that family of code must not
blind the monitor too, so this detector belongs to a different family: the *length
transform* of Zong, Moody and Jiang (2003, "A robust open-source algorithm to detect
onset and duration of QRS complexes", the method behind WFDB's ``wqrs``), written
from scratch, causal and with its own threshold logic.

Processing chain, one sample at a time, fixed memory:

1. two cascaded moving averages, 1/60 s and 1/50 s long: a low-pass whose zeros sit
   on both mains frequencies (60 and 50 Hz), with no high-pass at all (the length
   transform only looks at sample-to-sample differences, so baseline wander hardly
   counts);
2. the *curve length* of that signal over the last 120 ms, in units of a reference
   slope ``S``: each sample adds ``sqrt(1 + (v / S)**2) - 1`` with ``v`` the slope in
   mV/s. Slow waves (P, T, wander: ``v << S``) add almost nothing (quadratically
   small), a QRS (``v >> S``) adds its absolute slope (linearly);
3. an adaptive threshold: 0.3 of the median curve length of the last eight beats
   (0.6 in the T-wave zone: the first 360 ms after a beat, or 60 % of the mean R-R
   interval if shorter); if no beat comes for 1.5 mean R-R intervals it falls linearly to half (a
   prospective search-back, never a late report). The level is learnt over the first
   2 s (after start, reset or a lead-off longer than 1 s); from 300 ms into that period
   beats are already reported, provisionally, against the largest curve length so far;
4. a candidate is rejected as noise (or flutter) if the curve length never fell below
   40 % of the candidate's own in the 250 ms before it: between real beats it does;
5. when the curve length crosses the threshold, the QRS is localised on the raw ECG
   (lightly smoothed): the largest deviation from the isoelectric level measured just
   before the complex, R or S, whichever is larger. The beat is decided as soon as that
   extremum has stood for ``confirm`` (30 ms), or at the latest 70 ms after the
   crossing; so ``decision_delay_bound_ms`` (decision minus estimated peak) holds by
   construction;
6. the detector re-arms when the curve length falls back under the threshold, and a
   new beat is allowed 200 ms (or half the mean R-R interval if shorter, at least
   120 ms) after the last peak: early PVCs and AF beats are reported.

NaN, infinite or out-of-range samples (lead-off, saturation) are held at the last valid
value and block detections until the filters have settled again; ``push`` never raises.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from .common import SampleClock, checked_fs_hz, odd_samples_for_ms, samples_for_ms

#: Samples larger than this (mV) are not ECG: treated as lead-off / saturation.
MAX_ECG_MV = 50.0
#: Reference slope of the length transform (mV/s): slower slopes count quadratically.
REFERENCE_SLOPE_MV_PER_S = 12.0
#: Length-transform window (ms), about one QRS complex.
LENGTH_WINDOW_MS = 120.0
#: Threshold as a fraction of the median curve length of recent beats.
THRESHOLD_FRACTION = 0.3
#: Smallest threshold (dimensionless curve length): a flat line never triggers.
MIN_THRESHOLD = 0.02
#: Learning period after start, reset or a long lead-off (ms); no beat is reported in it.
LEARN_MS = 2000.0
#: While learning, beats are reported (provisionally) from this long after its start (ms).
PROVISIONAL_AFTER_MS = 300.0
#: Extra settling after the last invalid sample, beyond the filter memory (ms).
SETTLE_EXTRA_MS = 200.0
#: A lead-off this long (ms) restarts the learning period.
RELEARN_AFTER_MS = 1000.0
#: Search for the R peak from this long before the threshold crossing (ms).
PEAK_LOOKBACK_MS = 110.0
#: The extremum must have stood this long before the beat is decided (ms).
CONFIRM_MS = 30.0
#: Latest decision after the threshold crossing (ms).
MAX_HOLD_MS = 70.0
#: Width of the smoother used to localise the peak (ms).
PEAK_SMOOTH_MS = 7.0
#: Early zone after a beat (ms, and at most ``EARLY_ZONE_RR_FRACTION`` of the mean R-R
#: interval) where a T wave would fall: a candidate there needs a higher threshold.
EARLY_ZONE_MS = 360.0
#: The early zone never covers more than this fraction of the mean R-R interval.
EARLY_ZONE_RR_FRACTION = 0.6
#: Threshold in the early zone, as a fraction of the median beat curve length.
EARLY_THRESHOLD_FRACTION = 0.6
#: Longest refractory period (ms), never more than a heart's own.
MAX_REFRACTORY_MS = 200.0
#: Shortest refractory period (ms).
MIN_REFRACTORY_MS = 120.0
#: Background window before a threshold crossing (ms): between real beats the curve
#: length falls close to zero at least once in it; on noise or flutter it does not.
BACKGROUND_MS = 250.0
#: A candidate is noise if the background minimum exceeds this fraction of its own
#: curve length at decision time.
NOISE_FRACTION = 0.4
#: Beats remembered for the threshold and the mean R-R interval.
HISTORY_BEATS = 8
#: R-R interval assumed before any has been measured (ms).
DEFAULT_RR_MS = 800.0


class MonitorRWaveDetector(SampleClock):
    """Causal R-wave detector of the runtime monitor (length-transform family).

    ``push(sample_mv)`` returns True exactly once per detected R wave, on the sample at
    which the decision is made; ``last_peak_index`` then holds the estimated R-peak
    sample index, counted from the first pushed sample (after :meth:`reset`, from the
    first sample pushed since). ``decision_delay_bound_ms`` is the largest possible
    time from that estimated peak to the decision, by construction.
    """

    def __init__(self, fs_hz: float) -> None:
        fs = checked_fs_hz(fs_hz)
        self._fs_hz = fs
        self._box1_n = samples_for_ms(1000.0 / 60.0, fs)
        self._box2_n = samples_for_ms(1000.0 / 50.0, fs)
        self._window_n = samples_for_ms(LENGTH_WINDOW_MS, fs)
        self._smooth_n = odd_samples_for_ms(PEAK_SMOOTH_MS, fs)
        self._smooth_half_n = (self._smooth_n - 1) // 2
        self._lookback_n = samples_for_ms(PEAK_LOOKBACK_MS, fs)
        self._confirm_n = samples_for_ms(CONFIRM_MS, fs)
        self._max_hold_n = samples_for_ms(MAX_HOLD_MS, fs)
        self._base_n = samples_for_ms(20.0, fs)
        self._history_n = self._lookback_n + self._base_n + self._max_hold_n + self._smooth_n + 2
        self._settle_n = (
            self._box1_n + self._box2_n + self._window_n + samples_for_ms(SETTLE_EXTRA_MS, fs)
        )
        self._learn_n = samples_for_ms(LEARN_MS, fs)
        self._provisional_n = samples_for_ms(PROVISIONAL_AFTER_MS, fs)
        self._relearn_n = samples_for_ms(RELEARN_AFTER_MS, fs)
        self._max_refractory_n = samples_for_ms(MAX_REFRACTORY_MS, fs)
        self._early_zone_n = samples_for_ms(EARLY_ZONE_MS, fs)
        self._background_n = samples_for_ms(BACKGROUND_MS, fs)
        self._min_refractory_n = samples_for_ms(MIN_REFRACTORY_MS, fs)
        self._slope_scale = fs / REFERENCE_SLOPE_MV_PER_S
        self._decision_delay_bound_ms = (
            1000.0 * (self._lookback_n + self._max_hold_n + self._smooth_half_n) / fs
        )
        self.reset()

    # ------------------------------------------------------------------ properties

    @property
    def decision_delay_bound_ms(self) -> float:
        """Largest possible time (ms) from the estimated R peak to the decision."""
        return self._decision_delay_bound_ms

    @property
    def last_peak_index(self) -> int:
        """Sample index of the last estimated R peak (-1 before the first beat)."""
        return self._last_peak_n

    @property
    def learning(self) -> bool:
        """True while the level is being learnt (after start, reset or a long lead-off):
        beats reported now are provisional, against the largest feature seen so far."""
        return self._learning

    @property
    def rr_mean_ms(self) -> float:
        """Median of the recent R-R intervals (ms) the threshold logic uses."""
        return 1000.0 * self._rr_n / self._fs_hz

    @property
    def lead_off(self) -> bool:
        """True while detections are blocked after invalid samples (lead-off, saturation)."""
        return self._n < self._blocked_until_n

    def buffer_lengths(self) -> dict[str, int]:
        """Capacity of every buffer the detector holds (fixed at construction)."""
        return {
            "box1": len(self._box1),
            "box2": len(self._box2),
            "length_window": len(self._segments),
            "smoother": len(self._smooth_buf),
            "history": len(self._history),
            "background": len(self._lengths),
            "beat_levels": self._levels.maxlen or 0,
            "rr_intervals": self._rr_intervals.maxlen or 0,
        }

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        """Forget everything: the detector behaves as if newly built."""
        self._n = 0
        self._last_valid_mv = 0.0
        self._have_valid = False
        self._invalid_run_n = 0
        self._box1 = [0.0] * self._box1_n
        self._box1_sum = 0.0
        self._box2 = [0.0] * self._box2_n
        self._box2_sum = 0.0
        self._prev_lp = 0.0
        self._segments = [0.0] * self._window_n
        self._seg_sum = 0.0
        self._smooth_buf = [0.0] * self._smooth_n
        self._smooth_sum = 0.0
        self._history = [0.0] * self._history_n
        self._lengths = [0.0] * self._background_n
        self._background = 0.0
        self._levels: deque[float] = deque(maxlen=HISTORY_BEATS)
        self._rr_intervals: deque[int] = deque(maxlen=HISTORY_BEATS)
        self._rr_n = samples_for_ms(DEFAULT_RR_MS, self._fs_hz)
        self._threshold = math.inf
        self._early_threshold = math.inf
        self._blocked_until_n = self._settle_n
        self._learn_start_n = self._settle_n
        self._learning = True
        self._learn_max = 0.0
        self._last_peak_n = -1
        self._armed = True
        self._in_candidate = False
        self._cross_n = 0
        self._base_mv = 0.0
        self._best_dev = -1.0
        self._best_n = 0
        self._tracking_level = False
        self._beat_level = 0.0

    # ------------------------------------------------------------------ streaming
    def push(self, sample_mv: float) -> bool:
        """Feed one ECG sample (mV); True if an R wave is decided on this sample."""
        n = self._n
        self._n = n + 1
        x = self._condition(sample_mv, n)
        # 1. low-pass: moving averages over 1/60 s and 1/50 s (mains nulls)
        i = n % self._box1_n
        self._box1_sum += x - self._box1[i]
        self._box1[i] = x
        y1 = self._box1_sum / self._box1_n
        j = n % self._box2_n
        self._box2_sum += y1 - self._box2[j]
        self._box2[j] = y1
        lp = self._box2_sum / self._box2_n
        # 2. curve length over the window, in units of the reference slope
        v = (lp - self._prev_lp) * self._slope_scale
        self._prev_lp = lp
        seg = math.sqrt(1.0 + v * v) - 1.0
        k = n % self._window_n
        self._seg_sum += seg - self._segments[k]
        self._segments[k] = seg
        if k == self._window_n - 1:
            self._seg_sum = math.fsum(self._segments)  # no drift over long runs
        length = self._seg_sum / self._window_n
        # smoothed raw ECG for peak localisation, stored at its centre time
        s = n % self._smooth_n
        self._smooth_sum += x - self._smooth_buf[s]
        self._smooth_buf[s] = x
        if s == self._smooth_n - 1:
            self._smooth_sum = math.fsum(self._smooth_buf)
        centre_n = n - self._smooth_half_n
        smooth = self._smooth_sum / self._smooth_n
        self._history[centre_n % self._history_n] = smooth
        decided = self._step(length, smooth, centre_n, n)
        self._lengths[n % self._background_n] = length
        return decided

    def _condition(self, sample_mv: float, n: int) -> float:
        """The sample to process: invalid ones are held and block detections."""
        try:
            x = float(sample_mv)
        except (TypeError, ValueError, OverflowError):
            x = math.nan
        if math.isfinite(x) and abs(x) <= MAX_ECG_MV:
            if not self._have_valid:
                self._have_valid = True
                self._prime(x)
            self._last_valid_mv = x
            self._invalid_run_n = 0
            return x
        self._invalid_run_n += 1
        self._blocked_until_n = max(self._blocked_until_n, n + 1 + self._settle_n)
        self._in_candidate = False
        self._tracking_level = False
        if self._invalid_run_n >= self._relearn_n and not self._learning:
            self._learning = True
            self._learn_max = 0.0
        if self._learning:
            self._learn_start_n = n + 1 + self._settle_n
        return self._last_valid_mv

    def _prime(self, x: float) -> None:
        """Fill the filters with the first valid sample, so start-up is no step."""
        self._box1 = [x] * self._box1_n
        self._box1_sum = x * self._box1_n
        self._box2 = [x] * self._box2_n
        self._box2_sum = x * self._box2_n
        self._prev_lp = x
        self._smooth_buf = [x] * self._smooth_n
        self._smooth_sum = x * self._smooth_n
        self._history = [x] * self._history_n

    def _refractory_n(self) -> int:
        return max(self._min_refractory_n, min(self._max_refractory_n, self._rr_n // 2))

    def _current_threshold(self, n: int) -> float:
        """Threshold now: the beat-level fraction, decaying after a long pause."""
        thr = self._threshold
        if self._last_peak_n >= 0:
            since = n - self._last_peak_n
            if since < min(self._early_zone_n, EARLY_ZONE_RR_FRACTION * self._rr_n):
                thr = max(thr, self._early_threshold)
            late = since - (3 * self._rr_n) // 2
            if late > 0:
                thr *= max(0.5, 1.0 - 0.5 * late / (1.5 * self._rr_n))
        return max(thr, MIN_THRESHOLD)

    def _step(self, length: float, smooth: float, centre_n: int, n: int) -> bool:
        if self._learning:
            if n < self._learn_start_n:
                return False
            self._learn_max = max(self._learn_max, length)
            if n - self._learn_start_n >= self._learn_n:
                self._learning = False
                self._levels.clear()
                self._levels.extend([self._learn_max] * HISTORY_BEATS)
                self._set_threshold()
                thr = self._current_threshold(n)
                rearm = max(self._threshold, MIN_THRESHOLD)
            elif n - self._learn_start_n < self._provisional_n:
                return False
            else:
                # provisional: beats are reported while learning, against the largest
                # curve length so far; they do not feed the beat levels
                rearm = max(MIN_THRESHOLD, THRESHOLD_FRACTION * self._learn_max)
                thr = rearm
                if self._last_peak_n >= 0 and n - self._last_peak_n < self._early_zone_n:
                    thr = max(thr, EARLY_THRESHOLD_FRACTION * self._learn_max)
        else:
            thr = self._current_threshold(n)
            rearm = max(self._threshold, MIN_THRESHOLD)
        if self._tracking_level:
            self._beat_level = max(self._beat_level, length)
        if not self._armed:
            if length < rearm:
                self._armed = True
                if self._tracking_level:
                    self._tracking_level = False
                    if not self._learning:
                        self._levels.append(self._beat_level)
                        self._set_threshold()
            return False
        if self._in_candidate:
            dev = abs(smooth - self._base_mv)
            if dev > self._best_dev:
                self._best_dev = dev
                self._best_n = centre_n
            held = n - self._cross_n
            if held >= self._max_hold_n or (
                centre_n - self._best_n >= self._confirm_n and held >= 1
            ):
                return self._decide()
            return False
        if (
            length > thr
            and n >= self._blocked_until_n
            and (self._last_peak_n < 0 or n - self._last_peak_n >= self._refractory_n())
        ):
            self._open_candidate(length, centre_n, n)
        return False

    def _open_candidate(self, length: float, centre_n: int, n: int) -> None:
        """The curve length crossed the threshold: look back for the QRS extremum."""
        self._in_candidate = True
        self._cross_n = n
        self._background = min(self._lengths)
        self._tracking_level = True
        self._beat_level = length
        h = self._history_n
        start = centre_n - self._lookback_n
        if self._last_peak_n >= 0:
            start = max(start, self._last_peak_n + self._min_refractory_n // 2)
        start = min(start, centre_n)
        base = [self._history[(start - 1 - m) % h] for m in range(self._base_n)]
        self._base_mv = float(np.median(np.asarray(base)))
        idx = np.arange(start, centre_n + 1)
        seg = np.asarray([self._history[m % h] for m in idx])
        dev = np.abs(seg - self._base_mv)
        best = int(np.argmax(dev))
        self._best_dev = float(dev[best])
        self._best_n = int(idx[best])

    def _decide(self) -> bool:
        self._in_candidate = False
        self._armed = False
        if self._background > NOISE_FRACTION * self._beat_level:
            self._tracking_level = False  # noise or flutter: not a beat, not a level
            return False
        peak = self._best_n
        if self._last_peak_n >= 0:
            rr = peak - self._last_peak_n
            if 0 < rr < 3 * self._fs_hz:
                self._rr_intervals.append(rr)
                self._rr_n = int(np.median(np.asarray(self._rr_intervals)))
        self._last_peak_n = peak
        return True

    def _set_threshold(self) -> None:
        level = float(np.median(np.asarray(self._levels)))
        self._threshold = max(MIN_THRESHOLD, THRESHOLD_FRACTION * level)
        self._early_threshold = max(MIN_THRESHOLD, EARLY_THRESHOLD_FRACTION * level)


def detect_r_peaks(ecg_mv: np.ndarray, fs_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """Run a fresh :class:`MonitorRWaveDetector` over a whole recording.

    Returns ``(decision_indices, peak_indices)``: for each detected beat, the sample on
    which it was decided and its estimated R-peak sample (both int64 arrays).
    """
    det = MonitorRWaveDetector(fs_hz)
    decisions: list[int] = []
    peaks: list[int] = []
    push = det.push
    for i, x in enumerate(np.asarray(ecg_mv, dtype=np.float64).tolist()):
        if push(x):
            decisions.append(i)
            peaks.append(det.last_peak_index)
    return np.asarray(decisions, dtype=np.int64), np.asarray(peaks, dtype=np.int64)
