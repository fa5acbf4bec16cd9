"""The monitor's own QRS-onset estimate: where each beat's curve length starts to rise.

What it is for: the left ventricle starts to eject one pre-ejection period (PEP) after
the ONSET of the QRS complex, not after its R peak (Weissler, Harris and Schoenfeld
1968, "Systolic time intervals in heart failure in man": the PEP is measured from the
Q onset). The balloon must be deflated before ejection starts, so the runtime monitor
judges the pump's deflation against ``QRS onset + PEP``. Its R-wave detector
(:class:`~iabp.monitor.detect.r_wave.MonitorRWaveDetector`) reports the R *peak*, which
comes 10-80 ms after the onset (longer in bundle branch block, paced and ventricular
beats); this module gives the monitor its own per-beat onset, from the raw ECG it
receives, without any code of the controller or of the benchmarks.

Method: the onset of the length transform, after Zong, Moody and Jiang (2003, "A
robust open-source algorithm to detect onset and duration of QRS complexes",
Computers in Cardiology 30:737-740, the method behind WFDB's ``wqrs``), adapted to
work backwards on a buffered segment. ``push`` only stores samples (a ring buffer of
the last ``BUFFER_MS``); all the work is done in :meth:`QrsOnsetEstimator.onset_before`,
once per beat, with numpy on that past segment, so zero-phase processing is allowed:

1. smoothing: two passes of a centred ``SMOOTH_MS`` moving average (a symmetric
   triangle, no delay, about 30 Hz bandwidth), slope ``v`` in mV/s;
2. the QRS's maximum slope ``s_max`` within +-``PEAK_SLOPE_WINDOW_MS`` of the peak; if
   it is under ``SNR_MIN`` times the median slope of the segment (the baseline slope),
   the beat is unmeasurable (noise, flat line);
3. the length transform: each sample adds ``sqrt(1 + (v / S)**2) - 1`` with the scale
   ``S`` = ``SLOPE_SCALE_FRACTION`` of ``s_max`` (at least ``NOISE_SLOPE_K`` times the
   baseline slope), summed over the trailing ``LENGTH_WINDOW_MS``. Slopes well under
   ``S`` (baseline, noise, P wave) add almost nothing, steep ones add their absolute
   slope. A *trailing* window makes the transform start to rise exactly where the
   steep part begins, not half a window early;
4. the QRS upstroke is the largest transform value in the ``SEARCH_BACK_MS`` before the
   peak (the peak is the R or the S, whichever the detector took; the part after it is
   not used, so the plateau of a wide complex is never taken for its baseline) -- unless
   that is under ``DOMINANT_FRACTION`` of the largest value in the ``RISE_AFTER_MS``
   after the peak (the peak estimate sat on a P wave or a q nadir before the main
   deflection), then that later one; the search starts from where the transform last
   crossed half its rise before the upstroke;
5. the pre-QRS baseline is the lowest transform value in the ``BASELINE_WINDOW_MS``
   before that crossing; walking back from the crossing, the onset is the first sample
   after the last one at which the transform was within ``epsilon`` of that baseline,
   ``epsilon`` = ``ONSET_FRACTION`` of the complex's whole rise (up to
   ``RISE_AFTER_MS`` after the peak), but at least ``FLOOR_K`` times the segment's
   typical transform excess (its median minus its minimum: noise);
6. a constant ``BIAS_MS`` is subtracted (the median lag of this estimate behind the
   reference onsets: its error bound is declared in the spec as
   ``iabp.spec.monitor_rules.MON_ONSET_ERROR_MAX_MS``).

The method differs from the benchmarks' reference onset (``benchmarks/qrs_onset.py``:
a walk back from the annotated R on a 1-40 Hz band-passed slope against a threshold of
8 % of its maximum, until a 10 ms quiet stretch), so comparing the two is a comparison
of independent measurements: an integral (curve-length) criterion against a pointwise
slope threshold, on one lead against the earlier of two leads.

NaN, infinite or out-of-range samples (lead-off, saturation) are held at the last valid
value by ``push``, which never raises; while one lies in the buffer, ``onset_before``
returns None (unmeasurable), as it does for a peak too old for the buffer.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from .common import SampleClock, checked_fs_hz, odd_samples_for_ms, samples_for_ms
from .r_wave import MAX_ECG_MV

FloatArray = npt.NDArray[np.float64]

#: Samples kept (ms). A peak is measurable up to ``BUFFER_MS`` minus the look-back the
#: method needs before it (about 255 ms at 1 kHz, :attr:`QrsOnsetEstimator.max_peak_age`)
#: after it was pushed; the R-wave detector decides at most ~185 ms after its peak.
BUFFER_MS = 600.0
#: Width of each of the two centred moving averages (ms): a zero-phase triangle.
SMOOTH_MS = 11.0
#: The QRS's maximum slope is searched for within +- this of the peak (ms).
PEAK_SLOPE_WINDOW_MS = 40.0
#: A QRS whose maximum slope is under this multiple of the baseline (median) slope is
#: unmeasurable. Segments of white or random-walk noise alone stayed under 7 (3000 each).
SNR_MIN = 8.0
#: Percentile of the segment's absolute slope taken as its baseline slope.
NOISE_PERCENTILE = 50.0
#: Length-transform scale, as a fraction of the QRS's maximum slope.
SLOPE_SCALE_FRACTION = 0.1
#: The scale is at least this multiple of the baseline (median) slope.
NOISE_SLOPE_K = 3.0
#: Trailing window of the length transform (ms).
LENGTH_WINDOW_MS = 20.0
#: The QRS upstroke is searched for in this span before the peak (ms): the longest
#: Q-to-peak time measured.
SEARCH_BACK_MS = 200.0
#: ... and up to this long after it (ms; the peak estimate is rounded to a few ms).
SEARCH_AFTER_MS = 5.0
#: The search starts where the transform last rose through this fraction of its rise.
RISE_FRACTION = 0.5
#: If the transform's largest value before the peak is under this fraction of its largest
#: value in the ``RISE_AFTER_MS`` after it, the upstroke is searched for after the peak.
DOMINANT_FRACTION = 0.3
#: The pre-QRS baseline of the transform is its minimum in this span before that (ms).
BASELINE_WINDOW_MS = 100.0
#: The complex's whole rise is measured up to this long after the peak (ms).
RISE_AFTER_MS = 40.0
#: The onset is where the transform leaves its baseline by this fraction of the rise...
ONSET_FRACTION = 0.03
#: ... or by this multiple of its typical excess (median minus minimum), if larger.
FLOOR_K = 2.0
#: Median lag (ms) of the estimate behind the reference onsets, subtracted.
BIAS_MS = 3.0



class QrsOnsetEstimator(SampleClock):
    """Per-beat QRS onset of the monitor's ECG (length-transform onset, Zong et al. 2003).

    The pump's ejection timing counts from the QRS onset (Weissler's pre-ejection period
    starts there), so the monitor places ejection at ``onset + PEP`` from this estimate.
    Feed every raw ECG sample (mV) with :meth:`push`, the same stream the R-wave
    detector gets; when the detector decides a beat, call
    :meth:`onset_before` with its ``last_peak_index``. Sample indices count from the
    first sample pushed (after :meth:`reset`, from the first pushed since), like the
    detector's. Memory is fixed (one ring buffer of ``BUFFER_MS``); ``push`` is O(1) and
    never raises; the work (numpy, zero-phase on the buffered past) is in
    :meth:`onset_before`.
    """

    def __init__(self, fs_hz: float) -> None:
        fs = checked_fs_hz(fs_hz)
        self._fs_hz = fs
        self._buf_n = samples_for_ms(BUFFER_MS, fs)
        self._smooth_n = odd_samples_for_ms(SMOOTH_MS, fs)
        #: the smoothed signal is kept where both passes lie wholly inside the segment
        self._edge_n = self._smooth_n - 1
        self._peak_win_n = samples_for_ms(PEAK_SLOPE_WINDOW_MS, fs)
        self._window_n = samples_for_ms(LENGTH_WINDOW_MS, fs)
        self._back_n = samples_for_ms(SEARCH_BACK_MS, fs)
        self._after_n = samples_for_ms(SEARCH_AFTER_MS, fs)
        self._base_n = samples_for_ms(BASELINE_WINDOW_MS, fs)
        self._rise_after_n = samples_for_ms(RISE_AFTER_MS, fs)
        self._bias_n = int(round(BIAS_MS * fs / 1000.0))
        #: samples needed before the peak: search, baseline, transform window, smoothing
        self._need_before_n = (
            self._back_n + self._base_n + self._window_n + 2 * self._smooth_n
        )
        self.reset()

    # ------------------------------------------------------------------ properties

    @property
    def max_peak_age(self) -> int:
        """Oldest measurable peak, in samples before the last pushed sample."""
        return self._buf_n - 1 - self._need_before_n

    def buffer_lengths(self) -> dict[str, int]:
        """Capacity of every buffer the estimator holds (fixed at construction)."""
        return {"ecg": len(self._buf)}

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        """Forget everything: the estimator behaves as if newly built."""
        self._n = 0
        self._buf = [0.0] * self._buf_n
        self._last_valid_mv = 0.0
        self._last_invalid_n = -1

    # ------------------------------------------------------------------ streaming
    def push(self, sample_mv: float) -> None:
        """Store one raw ECG sample (mV); an invalid one is held and marks lead-off."""
        n = self._n
        self._n = n + 1
        try:
            x = float(sample_mv)
        except (TypeError, ValueError, OverflowError):
            x = math.nan
        if -MAX_ECG_MV <= x <= MAX_ECG_MV:  # False for NaN and infinities
            self._last_valid_mv = x
        else:
            x = self._last_valid_mv
            self._last_invalid_n = n
        self._buf[n % self._buf_n] = x

    def onset_before(self, peak_n: int) -> int | None:
        """Sample index of the QRS onset of the beat whose R peak is at ``peak_n``.

        ``peak_n`` must not be later than the last pushed sample. None when the onset is
        unmeasurable: a QRS too small for the noise (or a flat line), an invalid sample
        (lead-off) in the buffer, or a peak older than :attr:`max_peak_age` (or not yet
        pushed). Never raises.
        """
        try:
            peak = int(peak_n)
        except (TypeError, ValueError, OverflowError):
            return None
        n = self._n
        count = min(n, self._buf_n)
        start = n - count
        if peak >= n or peak - start < self._need_before_n or self._last_invalid_n >= start:
            return None
        k = n % self._buf_n
        buf = np.asarray(self._buf, dtype=np.float64)
        seg = buf[:count] if count < self._buf_n else np.concatenate((buf[k:], buf[:k]))
        onset = self._locate(seg, peak - start)
        return None if onset is None else start + onset

    # ------------------------------------------------------------------ the method
    def _smooth(self, seg: FloatArray) -> FloatArray:
        """Two passes of a centred moving average (zero phase), only where fully inside.

        Element ``j`` of the result is centred on ``seg[j + self._edge_n]``: no padding,
        so the ends of the segment carry no artefact.
        """
        kernel = np.full(self._smooth_n, 1.0 / self._smooth_n)
        y = np.convolve(np.convolve(seg, kernel, mode="valid"), kernel, mode="valid")
        return np.asarray(y, dtype=np.float64)

    def _locate(self, seg: FloatArray, peak: int) -> int | None:
        """Onset (index into ``seg``) of the QRS whose peak is ``seg[peak]``, or None."""
        off = self._edge_n
        v = np.gradient(self._smooth(seg)) * self._fs_hz
        count = v.size
        # indices below are into the smoothed signal; a peak decided within the last
        # smoothing half-width is searched up to the end of the smoothed part
        p = min(peak - off, count - 1)
        slope = np.abs(v)
        noise = float(np.percentile(slope, NOISE_PERCENTILE))
        s_max = float(slope[p - self._peak_win_n:p + self._peak_win_n + 1].max())
        if not (s_max > 0.0 and s_max >= SNR_MIN * noise):
            return None
        scale = max(SLOPE_SCALE_FRACTION * s_max, NOISE_SLOPE_K * noise)
        excess = np.hypot(1.0, v / scale) - 1.0
        csum = np.concatenate(([0.0], np.cumsum(excess)))
        w = self._window_n
        lt = np.full(count, np.nan)
        lt[w - 1:] = csum[w:] - csum[:-w]  # lt[t]: curve length over (t - w, t]
        valid = lt[w - 1:]
        floor = FLOOR_K * (float(np.median(valid)) - float(valid.min()))
        # the QRS upstroke: the largest transform value before the peak
        s0 = p - self._back_n
        i_top = s0 + int(np.argmax(lt[s0:p + self._after_n + 1]))
        top = float(lt[i_top])
        i_late = p + int(np.argmax(lt[p:p + self._rise_after_n + 1]))
        if top < DOMINANT_FRACTION * float(lt[i_late]):
            # the peak estimate sits before the QRS's main deflection (on a P wave, a
            # q nadir): the upstroke is the rise after it
            i_top, top = i_late, float(lt[i_late])
        low = float(lt[s0:i_top + 1].min())
        if not top > low:
            return None
        half = low + RISE_FRACTION * (top - low)
        i_cross = s0 + int(np.flatnonzero(lt[s0:i_top + 1] < half)[-1])
        # the pre-QRS baseline, and the walk back from the crossing to it
        m0 = i_cross - self._base_n
        i_min = m0 + int(np.argmin(lt[m0:i_cross + 1]))
        base = float(lt[i_min])
        rise = float(lt[s0:p + self._rise_after_n + 1].max()) - base
        threshold = base + max(ONSET_FRACTION * rise, floor)
        quiet = np.flatnonzero(lt[i_min:i_cross + 1] <= threshold)
        onset = i_min + int(quiet[-1]) + 1 + off - self._bias_n
        return onset if onset <= peak else None
