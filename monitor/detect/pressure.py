"""The monitor's own arterial-pressure pulse detector: slope-sum onsets, curvature notches.

In pressure trigger mode the pump deflates just before the systolic upstroke and
inflates at the dicrotic notch (aortic valve closure as seen at the catheter tip). The
runtime monitor re-checks both from the raw pressure telemetry with a detector of a
different family from the controller's (slope threshold on the upstroke, slope test
for the notch), written from scratch:

* **upstroke**: the slope-sum function (SSF) of Zong, Heldt, Moody and Mark (2003,
  "An open-source algorithm to detect onset of arterial blood pressure pulses", the
  method behind WFDB's ``wabp``): the sum of the *rising* pressure increments over the
  last 128 ms, which swells on every systolic upstroke and stays small on the
  dicrotic wave. A beat is decided as soon as the SSF crosses an adaptive threshold
  (half the median SSF peak of the last eight pulses, learnt over the first 2 s,
  falling to half after 1.5 mean pulse intervals without a pulse). The pulse onset
  (the diastolic foot, end-diastole) is the lowest pressure in the 250 ms before the
  crossing;
* **dicrotic notch**: the point of largest positive curvature (maximum of the second
  derivative of the low-passed pressure) after the systolic peak, inside a window
  predicted from the heart rate alone (Weissler's ejection-time regression,
  ``LVET = 413 - 1.7 * HR`` ms, from 0.65 to 1.35 times that after the onset, and
  never past 75 % of the pulse interval). The notch is decided at the end of that
  window; so its delay is bounded by the window length. The window does not depend on
  earlier notch estimates, so an error cannot feed itself.

One sample at a time, fixed memory; NaN, infinite or out-of-range samples (transducer
off, flush, dropout) are held at the last valid value, cancel the pending notch and
block events until the filters have settled; ``push`` never raises.
"""

from __future__ import annotations

import math
from collections import deque
from enum import IntFlag

import numpy as np

from .common import SampleClock, checked_fs_hz, samples_for_ms

#: Valid arterial pressure range (mmHg); outside it the sample is treated as invalid.
MIN_PRESSURE_MMHG = -50.0
MAX_PRESSURE_MMHG = 400.0
#: Low-pass moving-average length (ms): keeps the pulse shape, drops mains and noise.
LOWPASS_MS = 20.0
#: Slope-sum window (ms), about the length of a systolic upstroke.
SSF_WINDOW_MS = 128.0
#: Upstroke threshold as a fraction of the median SSF peak of recent pulses.
THRESHOLD_FRACTION = 0.5
#: Smallest SSF threshold (mmHg): a flat line never triggers.
MIN_THRESHOLD_MMHG = 3.0
#: Learning period after start, reset or a long dropout (ms).
LEARN_MS = 2000.0
#: A dropout this long (ms) restarts the learning period.
RELEARN_AFTER_MS = 1000.0
#: Extra settling after the last invalid sample, beyond the filter memory (ms).
SETTLE_EXTRA_MS = 200.0
#: The pulse onset is searched for in this span before the SSF crossing (ms).
ONSET_LOOKBACK_MS = 250.0
#: The onset is where the rise slows below this fraction of the rise at the crossing.
ONSET_SLOPE_FRACTION = 0.1
#: Span before the crossing whose steepest rise is the reference for the onset (ms).
SLOPE_REFERENCE_MS = 40.0
#: Longest refractory period between upstrokes (ms).
MAX_REFRACTORY_MS = 200.0
#: Shortest refractory period between upstrokes (ms).
MIN_REFRACTORY_MS = 120.0
#: Step of the second difference used for the notch curvature (ms).
CURVATURE_STEP_MS = 16.0
#: Weissler regression of left-ventricular ejection time on heart rate: ms and ms/bpm.
LVET_INTERCEPT_MS = 413.0
LVET_SLOPE_MS_PER_BPM = 1.7
#: Shortest ejection time the notch window assumes (ms).
MIN_LVET_MS = 150.0
#: Notch search window, as fractions of the predicted ejection time after the onset.
NOTCH_WINDOW_START = 0.65
NOTCH_WINDOW_END = 1.35
#: The notch window never reaches past this fraction of the mean pulse interval.
NOTCH_RR_FRACTION = 0.75
#: The notch is searched for at least this long after the systolic peak (ms).
AFTER_PEAK_MS = 20.0
#: Pulses remembered for the threshold and the mean pulse interval.
HISTORY_BEATS = 8
#: Pulse interval assumed before any has been measured (ms).
DEFAULT_RR_MS = 800.0


class PulseEvent(IntFlag):
    """What one pressure sample told the monitor (both flags may be set on one sample)."""

    NONE = 0
    UPSTROKE = 1
    """Systolic upstroke decided: a new pulse; ``last_upstroke_index`` is its onset."""
    NOTCH = 2
    """Dicrotic notch decided (aortic valve closure); ``last_notch_index`` is where."""


class MonitorPressureDetector(SampleClock):
    """Causal pulse detector of the runtime monitor: SSF upstrokes, curvature notches.

    ``push(sample_mmhg)`` returns the events decided on that sample.
    ``last_upstroke_index`` is the estimated pulse onset (diastolic foot) and
    ``last_notch_index`` the estimated dicrotic notch, as sample indices counted from
    the first pushed sample. The upstroke is decided at most
    ``upstroke_delay_bound_ms`` after its onset estimate and the notch at most
    ``notch_delay_bound_ms`` after its estimate, by construction.
    """

    def __init__(self, fs_hz: float) -> None:
        fs = checked_fs_hz(fs_hz)
        self._fs_hz = fs
        self._lp_n = samples_for_ms(LOWPASS_MS, fs)
        self._lp_delay_n = (self._lp_n - 1) // 2
        self._ssf_n = samples_for_ms(SSF_WINDOW_MS, fs)
        self._step_n = samples_for_ms(CURVATURE_STEP_MS, fs)
        self._lookback_n = samples_for_ms(ONSET_LOOKBACK_MS, fs)
        self._slope_ref_n = samples_for_ms(SLOPE_REFERENCE_MS, fs)
        self._max_notch_window_n = samples_for_ms(
            (NOTCH_WINDOW_END - NOTCH_WINDOW_START) * LVET_INTERCEPT_MS, fs
        )
        self._history_n = self._lookback_n + 2
        self._settle_n = (
            self._lp_n + self._ssf_n + 2 * self._step_n + samples_for_ms(SETTLE_EXTRA_MS, fs)
        )
        self._learn_n = samples_for_ms(LEARN_MS, fs)
        self._relearn_n = samples_for_ms(RELEARN_AFTER_MS, fs)
        self._max_refractory_n = samples_for_ms(MAX_REFRACTORY_MS, fs)
        self._min_refractory_n = samples_for_ms(MIN_REFRACTORY_MS, fs)
        self._after_peak_n = samples_for_ms(AFTER_PEAK_MS, fs)
        self._upstroke_bound_ms = 1000.0 * (self._lookback_n + self._lp_delay_n) / fs
        self._notch_bound_ms = (
            1000.0 * (self._max_notch_window_n + self._step_n + self._lp_delay_n + 1) / fs
        )
        self.reset()

    # ------------------------------------------------------------------ properties

    @property
    def upstroke_delay_bound_ms(self) -> float:
        """Largest possible time (ms) from the estimated pulse onset to its decision."""
        return self._upstroke_bound_ms

    @property
    def notch_delay_bound_ms(self) -> float:
        """Largest possible time (ms) from the estimated notch to its decision."""
        return self._notch_bound_ms

    @property
    def decision_delay_bound_ms(self) -> float:
        """Largest possible delay (ms) of either event after its estimate."""
        return max(self._upstroke_bound_ms, self._notch_bound_ms)

    @property
    def last_upstroke_index(self) -> int:
        """Sample index of the last estimated pulse onset (-1 before the first)."""
        return self._last_onset_n

    @property
    def last_notch_index(self) -> int:
        """Sample index of the last estimated dicrotic notch (-1 before the first)."""
        return self._last_notch_n

    @property
    def learning(self) -> bool:
        """True while the upstroke threshold is being learnt (after start, reset or a long
        dropout): no upstroke is reported then."""
        return self._learning

    @property
    def rr_mean_ms(self) -> float:
        """Median of the recent pulse intervals (ms)."""
        return 1000.0 * self._rr_n / self._fs_hz

    def buffer_lengths(self) -> dict[str, int]:
        """Capacity of every buffer the detector holds (fixed at construction)."""
        return {
            "lowpass": len(self._lp_buf),
            "ssf_window": len(self._rises),
            "curvature": len(self._lp_hist),
            "history": len(self._history),
            "pulse_levels": self._levels.maxlen or 0,
            "pulse_intervals": self._rr_intervals.maxlen or 0,
        }

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        """Forget everything: the detector behaves as if newly built."""
        self._n = 0
        self._last_valid = 0.0
        self._have_valid = False
        self._invalid_run_n = 0
        self._lp_buf = [0.0] * self._lp_n
        self._lp_sum = 0.0
        self._prev_lp = 0.0
        self._rises = [0.0] * self._ssf_n
        self._ssf_sum = 0.0
        self._lp_hist = [0.0] * (2 * self._step_n + 1)
        self._history = [0.0] * self._history_n
        self._levels: deque[float] = deque(maxlen=HISTORY_BEATS)
        self._rr_intervals: deque[int] = deque(maxlen=HISTORY_BEATS)
        self._rr_n = samples_for_ms(DEFAULT_RR_MS, self._fs_hz)
        self._threshold = math.inf
        self._blocked_until_n = self._settle_n
        self._learn_start_n = self._settle_n
        self._learning = True
        self._learn_max = 0.0
        self._armed = True
        self._tracking_level = False
        self._pulse_level = 0.0
        self._last_cross_n = -1
        self._last_onset_n = -1
        self._last_notch_n = -1
        # pending notch search of the current pulse
        self._notch_pending = False
        self._peak_mmhg = -math.inf
        self._peak_n = 0
        self._window_start_n = 0
        self._window_end_n = 0
        self._best_curv = -math.inf
        self._best_n = -1

    # ------------------------------------------------------------------ streaming
    def push(self, sample_mmhg: float) -> PulseEvent:
        """Feed one arterial pressure sample (mmHg); return the events decided on it."""
        n = self._n
        self._n = n + 1
        x = self._condition(sample_mmhg, n)
        i = n % self._lp_n
        self._lp_sum += x - self._lp_buf[i]
        self._lp_buf[i] = x
        if i == self._lp_n - 1:
            self._lp_sum = math.fsum(self._lp_buf)
        lp = self._lp_sum / self._lp_n
        lp_n = n - self._lp_delay_n  # the time lp describes
        rise = lp - self._prev_lp
        self._prev_lp = lp
        rise = rise if rise > 0.0 else 0.0
        k = n % self._ssf_n
        self._ssf_sum += rise - self._rises[k]
        self._rises[k] = rise
        if k == self._ssf_n - 1:
            self._ssf_sum = math.fsum(self._rises)
        ssf = self._ssf_sum
        self._history[lp_n % self._history_n] = lp
        h = len(self._lp_hist)
        self._lp_hist[n % h] = lp
        curv_n = lp_n - self._step_n  # centre of the second difference
        curv = (
            self._lp_hist[n % h]
            - 2.0 * self._lp_hist[(n - self._step_n) % h]
            + self._lp_hist[(n - 2 * self._step_n) % h]
        )
        if self._notch_pending:
            notch = self._notch_step(lp, lp_n, curv, curv_n, n)
            up = self._upstroke_step(ssf, n)
            return notch | up if notch and up else notch or up
        return self._upstroke_step(ssf, n)  # no flag arithmetic on the common path

    def _condition(self, sample_mmhg: float, n: int) -> float:
        """The sample to process: invalid ones are held and block events."""
        try:
            x = float(sample_mmhg)
        except (TypeError, ValueError, OverflowError):
            x = math.nan
        if math.isfinite(x) and MIN_PRESSURE_MMHG <= x <= MAX_PRESSURE_MMHG:
            if not self._have_valid:
                self._have_valid = True
                self._prime(x)
            self._last_valid = x
            self._invalid_run_n = 0
            return x
        self._invalid_run_n += 1
        self._blocked_until_n = max(self._blocked_until_n, n + 1 + self._settle_n)
        self._notch_pending = False
        self._tracking_level = False
        if self._invalid_run_n >= self._relearn_n and not self._learning:
            self._learning = True
            self._learn_max = 0.0
        if self._learning:
            self._learn_start_n = n + 1 + self._settle_n
        return self._last_valid

    def _prime(self, x: float) -> None:
        """Fill the filters with the first valid sample, so start-up is no step."""
        self._lp_buf = [x] * self._lp_n
        self._lp_sum = x * self._lp_n
        self._prev_lp = x
        self._lp_hist = [x] * len(self._lp_hist)
        self._history = [x] * self._history_n

    def _current_threshold(self, n: int) -> float:
        thr = self._threshold
        if self._last_cross_n >= 0:
            late = n - self._last_cross_n - (3 * self._rr_n) // 2
            if late > 0:
                thr *= max(0.5, 1.0 - 0.5 * late / (1.5 * self._rr_n))
        return max(thr, MIN_THRESHOLD_MMHG)

    def _refractory_n(self) -> int:
        return max(self._min_refractory_n, min(self._max_refractory_n, self._rr_n // 2))

    def _upstroke_step(self, ssf: float, n: int) -> PulseEvent:
        if self._learning:
            if n >= self._learn_start_n:
                self._learn_max = max(self._learn_max, ssf)
                if n - self._learn_start_n >= self._learn_n:
                    self._learning = False
                    self._levels.clear()
                    self._levels.extend([self._learn_max] * HISTORY_BEATS)
                    self._set_threshold()
            return PulseEvent.NONE
        if self._tracking_level:
            self._pulse_level = max(self._pulse_level, ssf)
        thr = self._current_threshold(n)
        if not self._armed:
            if ssf < max(self._threshold, MIN_THRESHOLD_MMHG):
                self._armed = True
                if self._tracking_level:
                    self._tracking_level = False
                    self._levels.append(self._pulse_level)
                    self._set_threshold()
            return PulseEvent.NONE
        if (
            ssf > thr
            and n >= self._blocked_until_n
            and (self._last_cross_n < 0 or n - self._last_cross_n >= self._refractory_n())
        ):
            return self._upstroke(ssf, n)
        return PulseEvent.NONE

    def _upstroke(self, ssf: float, n: int) -> PulseEvent:
        """SSF crossed the threshold: a new pulse. Find its onset and open the notch window."""
        self._armed = False
        self._tracking_level = True
        self._pulse_level = ssf
        if self._last_cross_n >= 0:
            rr = n - self._last_cross_n
            if rr < 3 * self._fs_hz:
                self._rr_intervals.append(rr)
                self._rr_n = int(np.median(np.asarray(self._rr_intervals)))
        self._last_cross_n = n
        end = n - self._lp_delay_n
        start = end - self._lookback_n + 1
        if self._last_onset_n >= 0:
            start = max(start, self._last_onset_n + self._min_refractory_n)
        start = min(start, end)
        seg = np.asarray([self._history[m % self._history_n] for m in range(start, end + 1)])
        onset = start + self._onset_offset(seg)
        self._last_onset_n = onset
        # a pending notch search of the previous pulse ends here (no notch found)
        self._notch_pending = True
        rr_ms = 1000.0 * self._rr_n / self._fs_hz
        hr_bpm = 60_000.0 / max(rr_ms, 1.0)
        lvet_ms = max(MIN_LVET_MS, LVET_INTERCEPT_MS - LVET_SLOPE_MS_PER_BPM * hr_bpm)
        self._window_start_n = onset + samples_for_ms(NOTCH_WINDOW_START * lvet_ms, self._fs_hz)
        self._window_end_n = min(
            onset + samples_for_ms(NOTCH_WINDOW_END * lvet_ms, self._fs_hz),
            onset + int(NOTCH_RR_FRACTION * self._rr_n),
            self._window_start_n + self._max_notch_window_n,
        )
        self._peak_mmhg = -math.inf
        self._peak_n = onset
        self._best_curv = -math.inf
        self._best_n = -1
        return PulseEvent.UPSTROKE

    def _onset_offset(self, seg: np.ndarray) -> int:
        """Offset in ``seg`` (low-passed pressure up to the crossing) of the pulse onset.

        Walking back from the crossing, the onset is where the rise slows to less than
        ``ONSET_SLOPE_FRACTION`` of the steepest rise seen just before the crossing:
        the foot of the upstroke, not an earlier trough.
        """
        if seg.size < 2:
            return 0
        rises = np.diff(seg)
        recent = rises[-max(1, self._slope_ref_n) :]
        limit = ONSET_SLOPE_FRACTION * float(np.max(recent))
        slow = np.flatnonzero(rises <= limit)
        if slow.size == 0:
            return 0
        return int(slow[-1]) + 1

    def _notch_step(self, lp: float, lp_n: int, curv: float, curv_n: int, n: int) -> PulseEvent:
        """Follow the systolic peak, then the curvature maximum inside the notch window."""
        if lp > self._peak_mmhg and self._best_n < 0:
            self._peak_mmhg = lp
            self._peak_n = lp_n
        if (
            curv_n >= self._window_start_n
            and curv_n >= self._peak_n + self._after_peak_n
            and curv_n <= self._window_end_n
            and curv > self._best_curv
        ):
            self._best_curv = curv
            self._best_n = curv_n
        if curv_n < self._window_end_n:
            return PulseEvent.NONE
        self._notch_pending = False
        if self._best_n < 0 or self._best_curv <= 0.0:
            return PulseEvent.NONE  # no concave-up point after the peak: no notch
        self._last_notch_n = self._best_n
        return PulseEvent.NOTCH

    def _set_threshold(self) -> None:
        level = float(np.median(np.asarray(self._levels)))
        self._threshold = max(MIN_THRESHOLD_MMHG, THRESHOLD_FRACTION * level)


def detect_pulses(abp_mmhg: np.ndarray, fs_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """Run a fresh :class:`MonitorPressureDetector` over a whole recording.

    Returns ``(upstroke_indices, notch_indices)``: the estimated pulse onsets and
    dicrotic notches (sample indices, int64 arrays), in the order they were decided.
    """
    det = MonitorPressureDetector(fs_hz)
    ups: list[int] = []
    notches: list[int] = []
    push = det.push
    for x in np.asarray(abp_mmhg, dtype=np.float64).tolist():
        ev = push(x)
        if ev & PulseEvent.NOTCH:
            notches.append(det.last_notch_index)
        if ev & PulseEvent.UPSTROKE:
            ups.append(det.last_upstroke_index)
    return np.asarray(ups, dtype=np.int64), np.asarray(notches, dtype=np.int64)
