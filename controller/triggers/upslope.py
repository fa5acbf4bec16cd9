"""Fast causal R-wave triggers: decide on the QRS up-slope (one lead or two).

The balloon must be empty before ejection starts, and the pump deflates on the R-wave
decision, so the decision delay is the largest term of every deflation margin.
:class:`FastRWaveDetector` decides a few milliseconds after its QRS feature crosses an
adaptive threshold - typically before, or within a few ms of, the R peak - instead of
waiting for a 100 ms integration window to fill. :class:`TwoLeadRWaveDetector` runs
the same front end on both leads of a two-channel ECG and fuses them, weighted by a
running per-lead signal quality, so a lead that goes flat, NaN or noisy mid-run costs
no beats.

Processing chain, one sample at a time, fixed memory:

1. *Conditioning*: NaN/inf (lead off) is held at the last valid value and blocks the
   lead until its filters have settled again; samples are clipped to +-50 mV.
2. *Pacer-spike rejection*: a ``spike_ms`` delay line (3 samples at 1 kHz) on the raw
   input; an excursion that leaves the chord of the window by more than
   ``spike_min_mv`` and comes back within the window (narrower than ``spike_ms``) is
   replaced by the chord before it reaches the filters. A QRS cannot do that: it
   needs tens of ms to rise and fall. The spike never opens a candidate, so a paced
   beat triggers once, on its QRS. A recorder's filter can widen the spike past the gate
   (8-13 ms at 360 Hz, MIT-BIH 102 and 104); such a spike does open a candidate, and a
   candidate that at its decision looks like one (``pace_*``: a single narrow, steep
   deflection already back on the line) is not decided: the beat is decided on the first
   QRS candidate within ``pace_hold_ms``, or at its end. On a paced-and-normal fusion beat
   the spike comes 45-100 ms ahead of the R wave, and inflation timed from it came into
   that beat's ejection. The suspicion stays on through the hold.
3. *QRS feature*: first-order band-pass (5-25 Hz), slope (mV/s), squared and
   averaged over ``window_ms`` (20 ms, against 100 ms in :class:`RWaveDetector`),
   square root: an RMS slope that rises on the QRS up-slope.
4. *Decision*: Pan-Tompkins adaptive threshold ``NPK + f (SPK - NPK)``; a candidate
   opens when the feature crosses it and is decided ``confirm_ms`` later (on the
   up-slope) unless it is judged a T wave (early, with less than half the slope of
   the last beat) or noise (its background was already as busy as itself).
   ``refractory_ms`` (200 ms) after a decision; a prospective search-back lowers the
   threshold when a beat is overdue (a missed beat is never reported late).
   *Supersede*: inside the refractory period, once the decided candidate has closed, a
   QRS feature ``supersede_ratio`` (2) times larger, at least ``supersede_min_ms``
   (100 ms) after the decision, is reported too: the decision was a flutter wave, P wave
   or artefact ahead of the real QRS (the pump must not time inflation from it), and its
   level is learnt as noise. 100 ms keeps the larger second lobe of a wide QRS (bundle
   branch block, 80-90 ms after the first) from being reported twice.
5. *QRS suspicion* (``qrs_suspected``): on while a candidate is pending, and outside the
   refractory period whenever the feature is above its own threshold. Within the last
   beat's T-wave window (``t_wave_window_ms``, or ``t_wave_rr_fraction`` of the mean R-R
   if longer) that is a candidate's (a ventricular beat's large T wave is no early
   beat); after it a lower one (``suspect_threshold_fraction`` of the way from the noise
   to the signal level, where a candidate needs ``threshold_fraction``, or
   ``premature_threshold_fraction`` for a premature beat), which counts only when the
   feature crosses it rising QRS-fast (by ``suspect_rise_fraction`` of the level span
   within ``suspect_rise_ms``: a paced beat's slow T wave reaches the lower threshold
   too). The controller deflates on it, so it comes at least ``confirm_ms`` before every
   decision and earlier on the slow-rising QRS of a ventricular beat; the price of the
   lower threshold is a P wave or noise now and then: an early deflation, measured in
   ``benchmarks/results/trigger_timing.md``.
6. *Peak estimate*: the largest band-passed magnitude in the last
   ``peak_lookback_ms`` before the decision, shifted by the filter's group delay.
   ``decision_delay_bound_ms`` bounds decision minus estimated peak by construction.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from iabp.controller.triggers.filters import (
    MovingSum,
    RingBuffer,
    RWaveTriggerClock,
    SosFilter,
    TriggerSetupError,
    design_bandpass,
)

__all__ = [
    "FastEcgTuning",
    "FastRWaveDetector",
    "TwoLeadRWaveDetector",
    "detect_fast_r_waves",
    "detect_two_lead_r_waves",
]

_INPUT_CLIP_MV = 50.0
_NEVER = -(10**12)


@dataclass(frozen=True)
class FastEcgTuning:
    """Tuning constants of the fast detectors (ms, Hz, mV; features in mV/s of RMS slope)."""

    band_low_hz: float = 5.0
    band_high_hz: float = 25.0
    band_order: int = 1
    feature: str = "amplitude"
    window_ms: float = 20.0
    confirm_ms: float = 8.0
    refractory_ms: float = 200.0
    t_wave_window_ms: float = 360.0
    t_wave_slope_ratio: float = 0.5
    t_wave_rr_fraction: float = 0.5
    t_wave_level_ratio: float = 0.6
    t_wave_far_ms: float = 600.0
    t_wave_far_slope_ratio: float = 0.12
    threshold_fraction: float = 0.3
    premature_rr_fraction: float = 0.7
    premature_threshold_fraction: float = 0.5
    suspect_threshold_fraction: float = 0.15
    suspect_rise_ms: float = 20.0
    suspect_rise_fraction: float = 0.12
    context_ms: float = 300.0
    context_ratio: float = 0.45
    searchback_rr_factor: float = 1.66
    peak_lookback_ms: float = 80.0
    spike_ms: float = 3.0
    spike_min_mv: float = 0.5
    settle_ms: float = 300.0
    level_gain: float = 0.125
    initial_signal_mv_per_s: float = 40.0
    learn_ms: float = 2000.0
    level_decay_after_ms: float = 2000.0
    level_decay_tau_ms: float = 2000.0
    min_feature_mv_per_s: float = 4.0
    supersede_ratio: float = 2.0
    supersede_min_ms: float = 100.0
    pace_window_ms: float = 30.0
    pace_width_max_ms: float = 13.0
    pace_slope_min_mv_per_s: float = 100.0
    pace_amplitude_min_mv: float = 0.5
    pace_return_fraction: float = 0.5
    pace_hold_ms: float = 45.0


def _samples(ms: float, fs_hz: float) -> int:
    return max(1, int(round(ms * fs_hz / 1000.0)))


class _SpikeGate:
    """Delay line that replaces pacer spikes (narrower than ``width`` samples) by the chord."""

    __slots__ = ("_buf", "_w", "_min", "count")

    def __init__(self, width: int, min_mv: float) -> None:
        self._w = max(1, width)
        self._buf = RingBuffer(self._w + 2)
        self._min = min_mv
        self.count = 0

    def clear(self, fill: float = 0.0) -> None:
        self._buf.clear(fill)
        self.count = 0

    def push(self, x: float) -> float:
        """Store ``x``; return the (possibly corrected) sample ``width`` steps old."""
        buf = self._buf
        buf.push(x)
        w = self._w
        a = buf.ago(w + 1)
        # Any interior sample far from the chord a..x, with a and x close together?
        if abs(x - a) < self._min:
            step = (x - a) / (w + 1)
            far = False
            for lag in range(1, w + 1):
                chord = a + step * (w + 1 - lag)
                if abs(buf.ago(lag) - chord) > self._min:
                    far = True
                    break
            if far and abs(x - a) < 0.25 * max(abs(buf.ago(lag) - chord), self._min):
                for lag in range(1, w + 1):
                    buf._data[(buf._head - 1 - lag) % buf._capacity] = a + step * (w + 1 - lag)
                self.count += 1
        return float(buf.ago(w))


class _FrontEnd:
    """One lead: conditioning, spike gate, band-pass, RMS-slope feature, peak history."""

    __slots__ = ("fs", "_t", "_gate", "_bp", "_win", "_ctx", "_hist", "_settle_n", "_started",
                 "_last_valid", "blocked_until", "prev_y", "e", "abs_slope", "context",
                 "valid_run", "flat_run", "_prev_x", "_amp", "_amp_scale2", "_raw")

    def __init__(self, fs_hz: float, t: FastEcgTuning) -> None:
        self.fs = fs_hz
        self._t = t
        self._gate = _SpikeGate(_samples(t.spike_ms, fs_hz), t.spike_min_mv)
        self._bp = SosFilter(design_bandpass(t.band_low_hz, t.band_high_hz, fs_hz, t.band_order))
        self._win = MovingSum(_samples(t.window_ms, fs_hz))
        self._ctx = MovingSum(_samples(t.context_ms, fs_hz))
        self._hist = RingBuffer(_samples(t.peak_lookback_ms, fs_hz) + 1)
        self._raw = RingBuffer(_samples(t.pace_window_ms, fs_hz) + 1)
        self._settle_n = _samples(t.settle_ms, fs_hz)
        self._amp = t.feature == "amplitude"
        self._amp_scale2 = (2.0 * math.pi * 15.0) ** 2
        self.reset()

    def reset(self) -> None:
        self._gate.clear()
        self._win.clear()
        self._ctx.clear()
        self._hist.clear()
        self._raw.clear()
        self._started = False
        self._last_valid = 0.0
        self._prev_x = 0.0
        self.blocked_until = 0
        self.prev_y = 0.0
        self.e = 0.0
        self.abs_slope = 0.0
        self.context = 0.0
        self.valid_run = 0
        self.flat_run = 0

    def buffer_lengths(self) -> dict[str, int]:
        return {"spike_gate": len(self._gate._buf), "window": len(self._win.buffer),
                "context": len(self._ctx.buffer), "peak_history": len(self._hist),
                "pace_shape": len(self._raw)}

    def push(self, sample_mv: float, n: int) -> None:
        try:
            x = float(sample_mv)
        except (TypeError, ValueError):
            x = math.nan
        if not math.isfinite(x):
            self.blocked_until = n + self._settle_n
            self.valid_run = 0
            x = self._last_valid
        else:
            x = min(_INPUT_CLIP_MV, max(-_INPUT_CLIP_MV, x))
            if not self._started:
                self._started = True
                self._gate.clear(x)
                self._bp.settle(x)
            self._last_valid = x
            self.valid_run += 1
        if x == self._prev_x:
            self.flat_run += 1
        else:
            self.flat_run = 0
        self._prev_x = x
        gated = self._gate.push(x)
        self._raw.push(gated)
        y = self._bp.push(gated)
        slope = (y - self.prev_y) * self.fs
        self.prev_y = y
        self._hist.push(abs(y))
        win = self._win
        if self._amp:
            ms = win.push(y * y) / win._length * self._amp_scale2
        else:
            ms = win.push(slope * slope) / win._length
        self.e = math.sqrt(ms) if ms > 0.0 else 0.0
        self.abs_slope = abs(slope)
        ctx = self._ctx
        self.context = ctx.push(self.e) / ctx._length

    def pace_shaped(self) -> bool:
        """The last ``pace_window_ms`` of the (gated) input hold a pacer spike that the
        recorder's filter has widened past the spike gate: one deflection of at least
        ``pace_amplitude_min_mv`` from where the window began, rising or falling at
        ``pace_slope_min_mv_per_s`` or faster, at most ``pace_width_max_ms`` wide at half
        its height, and already back within ``pace_return_fraction`` of it, the line flat
        again. A QRS is wider and slower: at its decision it is still near its peak."""
        raw = self._raw
        k = raw.filled()
        if k < raw.capacity:
            return False
        t = self._t
        base = raw.ago(k - 1)
        peak_lag, peak = 0, 0.0
        max_step = 0.0
        for lag in range(k - 1):
            d = abs(raw.ago(lag) - base)
            if d > peak:
                peak, peak_lag = d, lag
            step = abs(raw.ago(lag) - raw.ago(lag + 1))
            if step > max_step:
                max_step = step
        if peak < t.pace_amplitude_min_mv or max_step * self.fs < t.pace_slope_min_mv_per_s:
            return False
        if abs(raw.ago(0) - base) > t.pace_return_fraction * peak:
            return False
        if abs(raw.ago(0) - raw.ago(2)) * self.fs / 2.0 > 0.5 * max_step * self.fs:
            return False
        half = 0.5 * peak
        lo = peak_lag
        while lo > 0 and abs(raw.ago(lo - 1) - base) >= half:
            lo -= 1
        hi = peak_lag
        while hi < k - 1 and abs(raw.ago(hi + 1) - base) >= half:
            hi += 1
        return (hi - lo + 1) * 1000.0 / self.fs <= t.pace_width_max_ms

    def argmax_lag(self) -> int:
        """Lag (samples) of the largest band-passed magnitude in the look-behind window."""
        h = self._hist
        best_lag = 0
        best = -1.0
        for lag in range(min(h.filled(), h.capacity)):
            v = h.ago(lag)
            if v > best:
                best = v
                best_lag = lag
        return best_lag


class _Decider:
    """Adaptive-threshold candidate logic on one (possibly fused) QRS feature."""

    def __init__(self, fs_hz: float, t: FastEcgTuning, initial_level: float, min_feature: float) -> None:
        self.fs = fs_hz
        self._t = t
        self._initial_level = initial_level
        self._min_feature = min_feature
        self._confirm_n = _samples(t.confirm_ms, fs_hz)
        self._refractory_n = _samples(t.refractory_ms, fs_hz)
        self._t_wave_n = _samples(t.t_wave_window_ms, fs_hz)
        self._decay_after_n = _samples(t.level_decay_after_ms, fs_hz)
        self._learn_n = _samples(t.learn_ms, fs_hz)
        self._t_wave_far_n = _samples(t.t_wave_far_ms, fs_hz)
        self._supersede_min_n = _samples(t.supersede_min_ms, fs_hz)
        self._decay = math.exp(-1000.0 / (t.level_decay_tau_ms * fs_hz))
        self.rr = RingBuffer(8)
        self._rise_n = _samples(t.suspect_rise_ms, fs_hz)
        self._e_hist = RingBuffer(self._rise_n + 1)
        self._pace_hold_n = _samples(t.pace_hold_ms, fs_hz)
        self.reset()

    def reset(self) -> None:
        self.rr.clear()
        self._e_hist.clear()
        self.signal_level = self._initial_level
        self.noise_level = 0.0
        self.prev_e = 0.0
        self.prev2_e = 0.0
        self.last_decision_n = _NEVER
        self.last_slope = 0.0
        self.last_e = 0.0
        self.rr_mean_n = 0.0
        self.cand_active = False
        self.cand_start_n = 0
        self.cand_peak_e = 0.0
        self.cand_slope = 0.0
        self.cand_context = 0.0
        self.cand_state = "idle"
        self.refr_max = 0.0
        self.learned = 0
        self.accepted_peak_e = 0.0
        self.signal_before_accepted = self._initial_level
        self.cand_superseding = False
        self.last_pushed_rr = False
        self.superseded = 0
        self.above_suspect_threshold = False
        self._rise_held = False
        self.pace_deadline_n = _NEVER
        self.pace_peak_e = 0.0
        self.pace_slope = 0.0
        self.pace_context = 0.0
        self.paced_holds = 0

    def threshold(self, n: int) -> float:
        t = self._t
        since = n - self.last_decision_n
        if since > self._decay_after_n:
            self.signal_level *= self._decay
            self.noise_level *= self._decay
        frac = t.threshold_fraction
        if since < t.premature_rr_fraction * self.rr_mean_n:
            frac = t.premature_threshold_fraction
        thr = self._between_levels(frac)
        if self.rr_mean_n > 0 and since > t.searchback_rr_factor * self.rr_mean_n:
            thr *= 0.5
        return max(thr, self._min_feature)

    def _t_wave_window_n(self) -> float:
        """Samples after a decision in which a wave may be that beat's T wave."""
        return max(self._t_wave_n, self._t.t_wave_rr_fraction * self.rr_mean_n)

    def _between_levels(self, fraction: float) -> float:
        """Pan-Tompkins' threshold: ``fraction`` of the way from the noise to the signal level."""
        return self.noise_level + fraction * max(0.0, self.signal_level - self.noise_level)

    def step(self, e: float, abs_slope: float, context: float, n: int, blocked: bool,
             pace_shaped: Callable[[], bool] | None = None) -> bool:
        """One sample of the feature; True if a beat is decided on it. ``pace_shaped``
        tells, when a candidate is due, whether the input just held a pacer spike."""
        decided = False
        self.above_suspect_threshold = False
        self._e_hist.push(e)
        if blocked:
            self.cand_active = False
            self.cand_superseding = False
            self.cand_state = "idle"
            self.pace_deadline_n = _NEVER
        else:
            if self.learned < self._learn_n:
                # Start-up: the signal level is at least half the largest feature so far,
                # so a P wave is not taken for the first QRS for long.
                self.learned += 1
                if 0.5 * e > self.signal_level:
                    self.signal_level = 0.5 * e
            thr = self.threshold(n)
            if self.learned >= self._learn_n and n - self.last_decision_n >= self._refractory_n:
                # The suspicion does not wait for the raised threshold of a premature beat,
                # and rises lower than a candidate: an early beat is the one the balloon
                # must get out of the way of, and a wide one rises slowly.
                # Within the T-wave window of the last beat the suspicion needs a candidate's
                # threshold: a ventricular beat's large T wave is no early beat.
                in_t_wave = n - self.last_decision_n < self._t_wave_window_n()
                suspect_thr = self._between_levels(
                    self._t.threshold_fraction if in_t_wave else self._t.suspect_threshold_fraction)
                # Below a candidate's threshold only a QRS-fast rise counts (and holds while
                # the feature stays above): a slow T wave (a paced beat's, long after its
                # QRS) crossing it is no beat.
                above = e > max(suspect_thr, self._min_feature)
                fast = e - self._e_hist.ago(self._rise_n) > self._t.suspect_rise_fraction * max(
                    0.0, self.signal_level - self.noise_level)
                self._rise_held = above and (in_t_wave or self._rise_held or fast)
                self.above_suspect_threshold = self._rise_held
            else:
                self._rise_held = False
            if not self.cand_active:
                if e > thr and n - self.last_decision_n >= self._refractory_n:
                    self._open(e, abs_slope, context, n, superseding=False)
                elif n - self.last_decision_n < self._refractory_n:
                    if e > self.refr_max:
                        self.refr_max = e
                    if self._supersedes(e, thr, n):
                        self._open(e, abs_slope, context, n, superseding=True)
                elif self.prev_e > self.prev2_e and self.prev_e >= e:
                    self.noise_level += self._t.level_gain * (self.prev_e - self.noise_level)
                if self.refr_max > 0.0 and n - self.last_decision_n >= self._refractory_n:
                    # Something much larger than the accepted beat followed it closely: the
                    # decision was on a P wave or an artefact; learn the real QRS level.
                    if self.refr_max > self.signal_level:
                        self.signal_level = self.refr_max
                    self.refr_max = 0.0
            else:
                if e > self.cand_peak_e:
                    self.cand_peak_e = e
                if abs_slope > self.cand_slope:
                    self.cand_slope = abs_slope
                if self.cand_state == "pending" and n - self.cand_start_n >= self._confirm_n:
                    if (pace_shaped is not None and not self.cand_superseding
                            and self.pace_deadline_n == _NEVER
                            and not self._cand_noisy() and pace_shaped()):
                        self._hold_for_paced_qrs(n)
                    else:
                        decided = self._decide(n)
                if e < 0.5 * thr or (e < thr and n - self.cand_start_n > self._refractory_n):
                    self._close()
            if not decided and self.pace_deadline_n != _NEVER and n >= self.pace_deadline_n:
                decided = self._decide_paced(n)
        self.prev2_e = self.prev_e
        self.prev_e = e
        return decided

    def _hold_for_paced_qrs(self, n: int) -> None:
        """The due candidate is a pacer spike: the QRS it paces (or a fusion beat's own
        QRS, up to tens of ms later) is what ejection follows, so the beat is decided on
        the first QRS candidate within ``pace_hold_ms``, or at its end. The suspicion stays
        on meanwhile (the pump deflates on the spike); the spike's level is learnt neither
        as signal nor as noise. A candidate on a busy background (noise) is never held: the
        decision rejects it as noise."""
        self.cand_state = "paced"
        self.pace_deadline_n = n + self._pace_hold_n
        self.pace_peak_e = self.cand_peak_e
        self.pace_slope = self.cand_slope
        self.pace_context = self.cand_context
        self.paced_holds += 1

    def _decide_paced(self, n: int) -> bool:
        """End of a pacer spike's hold with no QRS decided: the beat is decided now, on the
        spike's level (the paced QRS may be too slow for this feature)."""
        self.pace_deadline_n = _NEVER
        if self.cand_active and self.cand_state == "pending":
            return self._decide(n, paced=True)
        self.cand_active = True
        self.cand_superseding = False
        self.cand_peak_e = self.pace_peak_e
        self.cand_slope = self.pace_slope
        self.cand_context = self.pace_context
        decided = self._decide(n, paced=True)
        self._close()
        return decided

    def _open(self, e: float, abs_slope: float, context: float, n: int, *, superseding: bool) -> None:
        """Open a candidate on this sample (decided ``confirm_ms`` later unless rejected)."""
        self.cand_active = True
        self.cand_superseding = superseding
        self.cand_start_n = n
        self.cand_peak_e = e
        self.cand_slope = abs_slope
        self.cand_context = context
        self.cand_state = "pending"

    def _supersedes(self, e: float, thr: float, n: int) -> bool:
        """Inside the refractory period, after the accepted candidate has closed: a QRS
        feature ``supersede_ratio`` times the accepted beat's, at least
        ``supersede_min_ms`` after its decision. The accepted decision was then a flutter
        wave, a P wave or an artefact ahead of the real QRS; the real one is reported too
        (a late R wave is not what the pump times inflation from: the controller sees an
        interval no heart produces and does not inflate on that beat)."""
        ratio = self._t.supersede_ratio
        return (ratio > 0.0 and self.accepted_peak_e > 0.0 and e > thr
                and e > ratio * self.accepted_peak_e
                and n - self.last_decision_n >= self._supersede_min_n)

    def _cand_noisy(self) -> bool:
        """The open candidate's background was already as busy as itself: noise."""
        return self.cand_context > self._t.context_ratio * self.cand_peak_e

    def _decide(self, n: int, *, paced: bool = False) -> bool:
        """Accept or reject the open candidate; ``paced``: it ends a pacer spike's hold (the
        spike itself, which passed the noise test when the hold began, or the QRS candidate
        opened within the hold) and is accepted."""
        t = self._t
        since = n - self.last_decision_n
        superseding = self.cand_superseding
        t_window = self._t_wave_window_n()
        # A superseding candidate is twice the beat it follows: never a T wave.
        t_wave = not superseding and (
            (since < t_window and self.cand_slope < t.t_wave_slope_ratio * self.last_slope
             and self.cand_peak_e < t.t_wave_level_ratio * self.last_e) or (
                since < self._t_wave_far_n
                and self.cand_slope < t.t_wave_far_slope_ratio * self.last_slope))
        if (t_wave or self._cand_noisy()) and not paced:
            self.cand_state = "rejected"
            return False
        self.cand_state = "accepted"
        self.pace_deadline_n = _NEVER
        if superseding:
            if self.last_pushed_rr:
                # The superseded decision ended the last interval too early: move its end.
                self.rr.replace_newest(self.rr.ago(0) + since)
                self._update_rr_mean()
            # The superseded decision was not a QRS: its level is noise, not signal.
            self.signal_level = self.signal_before_accepted
            self.noise_level += t.level_gain * (self.accepted_peak_e - self.noise_level)
            self.superseded += 1
        else:
            self.last_pushed_rr = 0 < since < 3 * self.fs
            if self.last_pushed_rr:
                self.rr.push(float(since))
                self._update_rr_mean()
        self.last_decision_n = n
        self.last_slope = self.cand_slope
        self.last_e = self.cand_peak_e
        return True

    @property
    def suspecting(self) -> bool:
        """On the latest sample a QRS candidate is open and not yet decided (or rejected), or,
        outside the refractory period, the feature is above the suspicion threshold (after
        the T-wave window lower than a candidate's; never raised for a premature beat)."""
        return ((self.cand_active and self.cand_state == "pending") or self.above_suspect_threshold
                or self.pace_deadline_n != _NEVER)

    def _update_rr_mean(self) -> None:
        k = self.rr.filled()
        self.rr_mean_n = sum(self.rr.ago(i) for i in range(k)) / k

    def _close(self) -> None:
        self.cand_active = False
        self.cand_superseding = False
        gain = self._t.level_gain
        if self.cand_state == "accepted":
            self.accepted_peak_e = self.cand_peak_e
            self.signal_before_accepted = self.signal_level
            self.signal_level += gain * (self.cand_peak_e - self.signal_level)
        elif self.cand_state != "paced":  # a held pacer spike is learnt as neither
            self.noise_level += gain * (self.cand_peak_e - self.noise_level)
        self.cand_state = "idle"


class FastRWaveDetector(RWaveTriggerClock):
    """Detect R waves in one ECG lead, deciding on the QRS up-slope.

    Same interface as :class:`iabp.controller.triggers.ecg.RWaveDetector`: ``push``
    returns True once per detected R wave, on the deciding sample; ``last_peak_index``
    then holds the estimated R-peak sample (it may lie after the decision: the
    decision is usually taken on the up-slope).
    """

    def __init__(self, fs_hz: float, tuning: FastEcgTuning | None = None) -> None:
        if not isinstance(fs_hz, int | float) or not math.isfinite(fs_hz) or fs_hz < 100.0:
            raise TriggerSetupError(f"sampling rate must be at least 100 Hz, got {fs_hz}")
        self._fs_hz = float(fs_hz)
        t = self._t = tuning or FastEcgTuning()
        self._front = _FrontEnd(self._fs_hz, t)
        self._decider = _Decider(self._fs_hz, t, t.initial_signal_mv_per_s, t.min_feature_mv_per_s)
        self._lag_n = _samples(t.spike_ms, self._fs_hz)
        lookback_n = _samples(t.peak_lookback_ms, self._fs_hz)
        self._decision_delay_bound_ms = 1000.0 * (lookback_n + self._lag_n) / self._fs_hz
        self.reset()

    @property
    def rr_mean_ms(self) -> float:
        """Mean of the last (up to 8) detected R-R intervals (ms); 0 before two beats."""
        return 1000.0 * self._decider.rr_mean_n / self._fs_hz

    @property
    def spikes_rejected(self) -> int:
        """Pacer-like spikes removed from the input since the last reset."""
        return self._front._gate.count

    @property
    def superseded_decisions(self) -> int:
        """Decisions followed by a larger QRS that was reported too, since the last reset."""
        return self._decider.superseded

    @property
    def pacer_spike_holds(self) -> int:
        """Candidates shaped like a (recorder-widened) pacer spike, whose decision waited for
        the QRS they pace (``pace_hold_ms``), since the last reset."""
        return self._decider.paced_holds

    def buffer_lengths(self) -> dict[str, int]:
        """Sizes of every internal history buffer (fixed at construction: the memory bound)."""
        return {**self._front.buffer_lengths(), "rr": len(self._decider.rr)}

    def reset(self) -> None:
        """Forget everything learned (filters, levels, R-R history)."""
        self._n = 0
        self._last_peak_n = -1
        self._last_crossing_n = -1
        self._front.reset()
        self._decider.reset()

    def push(self, sample_mv: float) -> bool:
        """Feed one ECG sample (mV); True if an R wave is decided on this sample."""
        n = self._n
        self._n = n + 1
        f = self._front
        f.push(sample_mv, n)
        if self._decider.step(f.e, f.abs_slope, f.context, n, n < f.blocked_until,
                              f.pace_shaped):
            self._last_peak_n = max(0, n - f.argmax_lag() - self._lag_n)
            self._last_crossing_n = max(0, self._decider.cand_start_n - self._lag_n)
            return True
        return False

    @property
    def qrs_suspected(self) -> bool:
        """True on every sample from the threshold crossing that opens a QRS candidate until
        that candidate is decided or rejected (``confirm_ms``, 8 ms, at most), and outside
        the refractory period whenever the QRS feature is above the suspicion threshold
        (after the last beat's T-wave window lower than a candidate's, on a QRS-fast rise;
        never raised for a premature beat): the pump may deflate on it without waiting
        for the decision. Noise, a P or a T wave raises it too: for the pump that is an
        early deflation, never a beat."""
        return self._decider.suspecting

    @property
    def last_crossing_index(self) -> int:
        """Sample index at which the QRS feature of the last decided beat crossed the
        detection threshold (input time, the spike gate's delay removed); -1 before the
        first beat. The start of the QRS up-slope as this detector sees it."""
        return self._last_crossing_n


class TwoLeadRWaveDetector(RWaveTriggerClock):
    """Two-lead fast R-wave trigger: per-lead quality-weighted fusion of the QRS feature."""

    def __init__(self, fs_hz: float, tuning: FastEcgTuning | None = None) -> None:
        if not isinstance(fs_hz, int | float) or not math.isfinite(fs_hz) or fs_hz < 100.0:
            raise TriggerSetupError(f"sampling rate must be at least 100 Hz, got {fs_hz}")
        self._fs_hz = float(fs_hz)
        t = self._t = tuning or FastEcgTuning()
        self._fronts = (_FrontEnd(self._fs_hz, t), _FrontEnd(self._fs_hz, t))
        self._decider = _Decider(self._fs_hz, t, 0.5, 0.05)
        self._lag_n = _samples(t.spike_ms, self._fs_hz)
        lookback_n = _samples(t.peak_lookback_ms, self._fs_hz)
        self._decision_delay_bound_ms = 1000.0 * (lookback_n + self._lag_n) / self._fs_hz
        self._flat_n = _samples(200.0, self._fs_hz)
        self._learn_n = _samples(t.learn_ms, self._fs_hz)
        self.reset()

    @property
    def superseded_decisions(self) -> int:
        """Decisions followed by a larger QRS that was reported too, since the last reset."""
        return self._decider.superseded

    @property
    def pacer_spike_holds(self) -> int:
        """Candidates shaped like a (recorder-widened) pacer spike, whose decision waited for
        the QRS they pace (``pace_hold_ms``), since the last reset."""
        return self._decider.paced_holds

    @property
    def qrs_suspected(self) -> bool:
        """As :attr:`FastRWaveDetector.qrs_suspected`, on the fused feature."""
        return self._decider.suspecting

    @property
    def lead_weights(self) -> tuple[float, float]:
        """Current fusion weight of each lead (0: not used)."""
        return self._w[0], self._w[1]

    def buffer_lengths(self) -> dict[str, int]:
        out: dict[str, int] = {"rr": len(self._decider.rr)}
        for i, f in enumerate(self._fronts):
            out.update({f"lead{i}_{k}": v for k, v in f.buffer_lengths().items()})
        return out

    def reset(self) -> None:
        self._n = 0
        self._last_peak_n = -1
        for f in self._fronts:
            f.reset()
        self._decider.reset()
        init = self._t.initial_signal_mv_per_s
        self._level = [init, init]
        self._noise = [0.0, 0.0]
        self._w = [1.0, 1.0]
        self._cand_e = [0.0, 0.0]
        self._learned = [0, 0]

    def _weight(self, i: int, n: int) -> float:
        f = self._fronts[i]
        if n < f.blocked_until or f.flat_run > self._flat_n:
            return 0.0
        level = max(self._level[i], 1e-6)
        busy = f.context / level
        return 1.0 / (1.0 + (busy / 0.15) ** 2)

    def _pace_shaped(self) -> bool:
        """A lead in use just held a widened pacer spike (see ``_FrontEnd.pace_shaped``)."""
        return any(f.pace_shaped() for f, w in zip(self._fronts, self._w, strict=True) if w > 0.0)

    def push(self, sample_lead0_mv: float, sample_lead1_mv: float) -> bool:
        n = self._n
        self._n = n + 1
        f0, f1 = self._fronts
        f0.push(sample_lead0_mv, n)
        f1.push(sample_lead1_mv, n)
        for i, f in ((0, f0), (1, f1)):
            if n < f.blocked_until:
                # Lead off or settling: relearn its level when it comes back.
                self._learned[i] = 0
            elif self._learned[i] < self._learn_n:
                if self._learned[i] == 0:
                    self._level[i] = self._t.initial_signal_mv_per_s
                self._learned[i] += 1
                if 0.5 * f.e > self._level[i]:
                    self._level[i] = 0.5 * f.e
        w0 = self._w[0] = self._weight(0, n)
        w1 = self._w[1] = self._weight(1, n)
        d = self._decider
        tot = w0 + w1
        if tot <= 1e-3:
            d.step(0.0, 0.0, 0.0, n, True)
            return False
        l0 = max(self._level[0], 1e-6)
        l1 = max(self._level[1], 1e-6)
        e = (w0 * f0.e / l0 + w1 * f1.e / l1) / tot
        s = (w0 * f0.abs_slope / l0 + w1 * f1.abs_slope / l1) / tot
        c = (w0 * f0.context / l0 + w1 * f1.context / l1) / tot
        was_active = d.cand_active
        decided = d.step(e, s, c, n, False, self._pace_shaped)
        if d.cand_active:
            if not was_active:
                self._cand_e = [f0.e, f1.e]
            else:
                self._cand_e[0] = max(self._cand_e[0], f0.e)
                self._cand_e[1] = max(self._cand_e[1], f1.e)
        if decided:
            gain = self._t.level_gain
            for i in (0, 1):
                if self._w[i] > 0.0:
                    self._level[i] += gain * (self._cand_e[i] - self._level[i])
            best = f0 if w0 >= w1 else f1
            self._last_peak_n = max(0, n - best.argmax_lag() - self._lag_n)
        return decided


def _run(det: FastRWaveDetector, x: list[float]) -> tuple[list[int], list[int]]:
    dec: list[int] = []
    peaks: list[int] = []
    push = det.push
    for i, v in enumerate(x):
        if push(v):
            dec.append(i)
            peaks.append(det.last_peak_index)
    return dec, peaks


def detect_fast_r_waves(ecg_mv: object, fs_hz: float,
                        tuning: FastEcgTuning | None = None) -> tuple[list[int], list[int]]:
    """Run :class:`FastRWaveDetector` over a whole trace: (decision samples, peak samples)."""
    import numpy as np

    x = np.asarray(ecg_mv, dtype=float).ravel().tolist()
    return _run(FastRWaveDetector(fs_hz, tuning), x)


def detect_two_lead_r_waves(lead0_mv: object, lead1_mv: object, fs_hz: float,
                            tuning: FastEcgTuning | None = None) -> tuple[list[int], list[int]]:
    """Run :class:`TwoLeadRWaveDetector` over two traces: (decision samples, peak samples)."""
    import numpy as np

    a = np.asarray(lead0_mv, dtype=float).ravel().tolist()
    b = np.asarray(lead1_mv, dtype=float).ravel().tolist()
    det = TwoLeadRWaveDetector(fs_hz, tuning)
    dec: list[int] = []
    peaks: list[int] = []
    push = det.push
    for i, (u, v) in enumerate(zip(a, b, strict=True)):
        if push(u, v):
            dec.append(i)
            peaks.append(det.last_peak_index)
    return dec, peaks
