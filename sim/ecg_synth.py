"""Synthetic surface ECG for the pump's R-wave trigger: P-QRS-T beats from an R-peak schedule.

Each beat is a sum of Gaussian waves (P, Q, R, S, T) laid out in time around its R peak,
the closed-form cousin of McSharry's ECGSYN (McSharry et al., IEEE TBME 50(3):289-294,
2003). The T wave moves with the rate: QT = 400 ms * sqrt(RR / 1000 ms) (Bazett, QTc
400 ms), clamped to 220-480 ms. Rhythm generators give the beat schedules the pump has
to cope with: sinus with variability, atrial fibrillation (irregular R-R, no P waves,
fibrillatory baseline), premature ventricular beats (wide QRS, compensatory pause) and
paced beats (pacing spike, wide QRS). The same schedule can drive
:class:`iabp.sim.patient.model.Patient`, so the synthetic ECG and the simulated pressure
belong to the same heart beats.

Everything is deterministic given the seed. Noise is generated in one-second blocks of
absolute time, so rendering a window on its own gives exactly the samples that
rendering the whole record would give there.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np
import numpy.typing as npt

from iabp.spec.clock import TICK_HZ

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Slowest and fastest rates the generators produce (bpm) and the matching R-R (ms).
HR_MIN_BPM = 30.0
HR_MAX_BPM = 180.0
RR_MIN_MS = 60000.0 / HR_MAX_BPM
RR_MAX_MS = 60000.0 / HR_MIN_BPM


class BeatKind(IntEnum):
    """Electrical origin of one beat; it sets the QRS width and whether a P wave precedes it."""

    NORMAL = 0  #: sinus beat: P wave, narrow QRS (about 80 ms)
    PVC = 1  #: premature ventricular beat: no P, wide QRS (about 140 ms), discordant T
    PACED = 2  #: ventricular paced beat: pacing spike 40 ms before R, wide QRS
    AF = 3  #: conducted beat in atrial fibrillation: narrow QRS, no P wave


@dataclass(frozen=True)
class BeatSchedule:
    """True R-peak times of a heart, in ms from the start of the record, with each beat's kind.

    ``af`` marks a record in atrial fibrillation (fibrillatory baseline in the ECG).
    An empty schedule is asystole.
    """

    r_ms: IntArray
    kinds: npt.NDArray[np.int8]
    af: bool = False
    name: str = "custom"

    def __post_init__(self) -> None:
        r = np.asarray(self.r_ms, dtype=np.int64)
        k = np.asarray(self.kinds, dtype=np.int8)
        if r.shape != k.shape or r.ndim != 1:
            raise ValueError("r_ms and kinds must be 1-D arrays of the same length")
        if r.size > 1 and np.any(np.diff(r) <= 0):
            raise ValueError("R-peak times must be strictly increasing")
        object.__setattr__(self, "r_ms", r)
        object.__setattr__(self, "kinds", k)

    @classmethod
    def from_times(
        cls, r_ms: npt.ArrayLike, kind: BeatKind = BeatKind.NORMAL, name: str = "custom"
    ) -> BeatSchedule:
        """A schedule whose beats all have one kind (``kind``), from R-peak times in ms."""
        r = np.asarray(r_ms, dtype=np.int64).reshape(-1)
        return cls(r, np.full(r.size, int(kind), dtype=np.int8), kind == BeatKind.AF, name)

    @classmethod
    def asystole(cls) -> BeatSchedule:
        """No beats at all: no R waves, no ejection."""
        return cls.from_times(np.zeros(0, dtype=np.int64), name="asystole")

    def __len__(self) -> int:
        return int(self.r_ms.size)

    def __iter__(self) -> Iterator[tuple[int, BeatKind]]:
        for r, k in zip(self.r_ms.tolist(), self.kinds.tolist(), strict=True):
            yield int(r), BeatKind(k)

    def rr_before_ms(self, default_ms: float = 800.0) -> FloatArray:
        """R-R interval (ms) ending at each beat; the first beat gets the next one, or ``default_ms``."""
        r = self.r_ms.astype(np.float64)
        rr = np.empty_like(r)
        if r.size:
            rr[1:] = np.diff(r)
            rr[0] = rr[1] if r.size > 1 else default_ms
        return rr


@dataclass(frozen=True)
class EcgNoise:
    """Additive disturbances of the surface ECG, amplitudes in mV (all zero = a clean trace)."""

    white_mv: float = 0.01  #: broadband (EMG-like) Gaussian noise, standard deviation
    wander_mv: float = 0.08  #: baseline wander amplitude (respiration)
    wander_hz: float = 0.25  #: baseline wander frequency
    mains_mv: float = 0.01  #: mains hum amplitude
    mains_hz: float = 50.0  #: mains frequency (50 or 60 Hz)
    af_mv: float = 0.06  #: fibrillatory-wave amplitude, used only for AF schedules

    @classmethod
    def clean(cls) -> EcgNoise:
        """No noise, no wander, no hum, no f-waves: only the P-QRS-T beats."""
        return cls(0.0, 0.0, 0.25, 0.0, 50.0, 0.0)


@dataclass(frozen=True)
class SynthEcg:
    """A rendered ECG: ``mV`` at ``fs_hz``, sample 0 at ``t0_ms``, and the true R-peak sample indices."""

    mv: FloatArray
    r_idx: IntArray
    fs_hz: float
    t0_ms: int = 0
    kinds: npt.NDArray[np.int8] = field(default_factory=lambda: np.zeros(0, dtype=np.int8))


# --- beat morphology -------------------------------------------------------------------

#: One wave: (centre ms from R, width sigma ms, amplitude mV).
Wave = tuple[float, float, float]


def qt_ms(rr_ms: float) -> float:
    """QT interval (ms) for an R-R interval, Bazett with QTc 400 ms, clamped to 220-480 ms."""
    return min(480.0, max(220.0, 400.0 * math.sqrt(rr_ms / 1000.0)))


def beat_waves(kind: BeatKind, rr_ms: float) -> list[Wave]:
    """The Gaussian waves of one beat of ``kind`` after an R-R of ``rr_ms`` (centres in ms from R)."""
    rr = min(RR_MAX_MS, max(250.0, rr_ms))
    qt = qt_ms(rr)
    t_sigma = 0.11 * qt
    t_centre = -40.0 + qt - 2.5 * t_sigma  # T peak; T ends about 2.5 sigma later, at Q + QT
    if kind in (BeatKind.NORMAL, BeatKind.AF):
        waves: list[Wave] = [
            (-28.0, 9.0, -0.12), (0.0, 10.0, 1.2), (28.0, 10.0, -0.35),
            (t_centre, t_sigma, 0.30),
        ]
        if kind == BeatKind.NORMAL:
            waves.insert(0, (-(120.0 + 50.0 * math.sqrt(rr / 1000.0)), 22.0, 0.15))
        return waves
    wide_t = (t_centre + 40.0, 1.3 * t_sigma, -0.45)
    if kind == BeatKind.PVC:
        return [(0.0, 32.0, 1.6), (75.0, 25.0, -0.45), wide_t]
    return [(-40.0, 0.8, 2.5), (0.0, 26.0, 1.3), (65.0, 22.0, -0.40), wide_t]  # PACED


def beat_template(kind: BeatKind, rr_ms: float, fs_hz: float) -> tuple[int, FloatArray]:
    """One beat sampled at ``fs_hz``: (offset of the first sample from R, in samples; waveform in mV)."""
    waves = beat_waves(kind, rr_ms)
    lo = min(c - 4.0 * s for c, s, _ in waves)
    hi = max(c + 4.0 * s for c, s, _ in waves)
    first = math.floor(lo * fs_hz / 1000.0)
    n = math.ceil(hi * fs_hz / 1000.0) - first + 1
    t_ms = (np.arange(n, dtype=np.float64) + first) * (1000.0 / fs_hz)
    y = np.zeros(n, dtype=np.float64)
    for c, s, a in waves:
        y += a * np.exp(-0.5 * ((t_ms - c) / s) ** 2)
    return first, y


# --- rhythm generators -----------------------------------------------------------------


def _clamp_rr(rr: float) -> float:
    return min(RR_MAX_MS, max(RR_MIN_MS, rr))


def sinus_stream(
    hr_bpm: float, *, hrv_sd_ms: float = 15.0, resp_hz: float = 0.25, seed: int = 0,
    first_r_ms: int = 200,
) -> Iterator[tuple[int, BeatKind]]:
    """Endless sinus rhythm at ``hr_bpm``: R-peak time (ms) and kind, one beat per ``next()``.

    Variability: respiratory sinus arrhythmia (amplitude ``hrv_sd_ms``) plus a slowly
    wandering AR(1) component with the same standard deviation, so consecutive R-R
    intervals differ by a few ms only. R-R stays within 333-2000 ms (30-180 bpm).
    """
    if not HR_MIN_BPM <= hr_bpm <= HR_MAX_BPM:
        raise ValueError(f"sinus rate {hr_bpm} bpm outside {HR_MIN_BPM:g}-{HR_MAX_BPM:g} bpm")
    rng = np.random.default_rng(seed)
    rr0 = 60000.0 / hr_bpm
    ar, phi = 0.0, 0.95
    innov = hrv_sd_ms * math.sqrt(1.0 - phi * phi)
    t = float(first_r_ms)
    while True:
        yield int(round(t)), BeatKind.NORMAL
        ar = phi * ar + innov * float(rng.standard_normal())
        rsa = hrv_sd_ms * math.sin(2.0 * math.pi * resp_hz * t / 1000.0)
        t += _clamp_rr(rr0 + rsa + ar)


def _collect(stream: Iterator[tuple[int, BeatKind]], duration_ms: int) -> tuple[list[int], list[int]]:
    times: list[int] = []
    kinds: list[int] = []
    for r, k in stream:
        if r >= duration_ms:
            break
        times.append(r)
        kinds.append(int(k))
    return times, kinds


def sinus_rhythm(
    hr_bpm: float, duration_ms: int, *, hrv_sd_ms: float = 15.0, seed: int = 0,
    first_r_ms: int = 200,
) -> BeatSchedule:
    """Sinus rhythm at ``hr_bpm`` (30-180) for ``duration_ms``; see :func:`sinus_stream`."""
    t, k = _collect(sinus_stream(hr_bpm, hrv_sd_ms=hrv_sd_ms, seed=seed, first_r_ms=first_r_ms),
                    duration_ms)
    return BeatSchedule(np.array(t, dtype=np.int64), np.array(k, dtype=np.int8),
                        name=f"sinus {hr_bpm:g} bpm")


def af_rhythm(
    mean_hr_bpm: float, duration_ms: int, *, irregularity: float = 0.25, seed: int = 0,
    first_r_ms: int = 200,
) -> BeatSchedule:
    """Atrial fibrillation: independent R-R intervals (log-normal, coefficient of variation
    ``irregularity``) around ``60000 / mean_hr_bpm`` ms, clamped to 30-180 bpm; no P waves."""
    rng = np.random.default_rng(seed)
    rr0 = 60000.0 / mean_hr_bpm
    s = math.sqrt(math.log1p(irregularity * irregularity))
    times: list[int] = []
    t = float(first_r_ms)
    while t < duration_ms:
        times.append(int(round(t)))
        t += _clamp_rr(rr0 * math.exp(s * float(rng.standard_normal()) - 0.5 * s * s))
    r = np.array(times, dtype=np.int64)
    return BeatSchedule(r, np.full(r.size, int(BeatKind.AF), dtype=np.int8), af=True,
                        name=f"AF {mean_hr_bpm:g} bpm")


def pvc_rhythm(
    hr_bpm: float, duration_ms: int, *, every: int = 4, coupling: float = 0.6,
    hrv_sd_ms: float = 10.0, seed: int = 0, first_r_ms: int = 200,
) -> BeatSchedule:
    """Sinus rhythm with a premature ventricular beat replacing every ``every``-th beat
    (2 = bigeminy, 3 = trigeminy). The PVC comes ``coupling`` x R-R after the previous
    beat, and a full compensatory pause follows: the next sinus beat falls two R-R
    after the last sinus beat before the PVC."""
    if every < 2:
        raise ValueError("every must be >= 2 (at least one sinus beat between PVCs)")
    base = sinus_stream(hr_bpm, hrv_sd_ms=hrv_sd_ms, seed=seed, first_r_ms=first_r_ms)
    times: list[int] = []
    kinds: list[int] = []
    prev = None
    for i, (r, _) in enumerate(base):
        if r >= duration_ms:
            break
        if i % every == every - 1 and prev is not None:
            pvc = prev + max(RR_MIN_MS * 0.75, coupling * (r - prev))
            times.append(int(round(pvc)))
            kinds.append(int(BeatKind.PVC))
        else:
            times.append(r)
            kinds.append(int(BeatKind.NORMAL))
        prev = r
    return BeatSchedule(np.array(times, dtype=np.int64), np.array(kinds, dtype=np.int8),
                        name=f"sinus {hr_bpm:g} bpm with PVC 1 in {every}")


def paced_rhythm(rate_bpm: float, duration_ms: int, *, first_r_ms: int = 200) -> BeatSchedule:
    """Fixed-rate ventricular pacing at ``rate_bpm``: every beat has a spike and a wide QRS."""
    rr = _clamp_rr(60000.0 / rate_bpm)
    r = np.round(np.arange(float(first_r_ms), float(duration_ms), rr)).astype(np.int64)
    return BeatSchedule(r, np.full(r.size, int(BeatKind.PACED), dtype=np.int8),
                        name=f"paced {rate_bpm:g} bpm")


# --- rendering -------------------------------------------------------------------------

_BLOCK_S = 1.0  # noise is drawn per block of this many seconds of absolute time


def _noise(noise: EcgNoise, af: bool, fs_hz: float, n0: int, n: int, seed: int) -> FloatArray:
    """Noise, wander, hum (and f-waves if ``af``) for absolute samples ``n0 .. n0+n-1``."""
    t_s = (np.arange(n, dtype=np.float64) + n0) / fs_hz
    phases = np.random.default_rng([seed, 7]).uniform(0.0, 2.0 * math.pi, 4)
    y: FloatArray = noise.wander_mv * np.sin(2.0 * math.pi * noise.wander_hz * t_s + phases[0])
    y += 0.5 * noise.wander_mv * np.sin(2.0 * math.pi * 0.07 * t_s + phases[1])
    y += noise.mains_mv * np.sin(2.0 * math.pi * noise.mains_hz * t_s + phases[2])
    if af and noise.af_mv > 0.0:
        # 5.2-6.8 Hz f-waves: phase is the integral of 6 + 0.8 sin(2 pi 0.13 t) Hz
        w = 2.0 * math.pi * 0.13
        inst = 2.0 * math.pi * (6.0 * t_s - 0.8 * np.cos(w * t_s) / w)
        amp = noise.af_mv * (0.7 + 0.3 * np.sin(2.0 * math.pi * 0.31 * t_s + phases[3]))
        y += amp * np.sin(inst)
    if noise.white_mv > 0.0:
        block = int(round(fs_hz * _BLOCK_S))
        b0, b1 = n0 // block, (n0 + n - 1) // block
        parts = [np.random.default_rng([seed, b]).standard_normal(block) for b in range(b0, b1 + 1)]
        white = np.concatenate(parts)[n0 - b0 * block: n0 - b0 * block + n]
        y += noise.white_mv * white
    return y


def synth_ecg(
    beats: BeatSchedule, duration_ms: int, *, fs_hz: float = TICK_HZ,
    noise: EcgNoise | None = None, seed: int = 0, t0_ms: int = 0,
    rr_before_ms: npt.ArrayLike | None = None,
) -> SynthEcg:
    """Render the ECG (mV) of ``beats`` over ``[t0_ms, t0_ms + duration_ms)`` at ``fs_hz``.

    Returns the samples and the true R-peak indices (``round(r_ms * fs / 1000)`` relative to
    the window start) of the beats inside the window. ``noise=None`` uses
    :class:`EcgNoise` defaults; pass ``EcgNoise.clean()`` for a noise-free trace.
    ``rr_before_ms`` overrides the R-R (ms) that sets each beat's QT (default: from ``beats``).
    """
    if duration_ms <= 0 or fs_hz <= 0:
        raise ValueError("duration_ms and fs_hz must be positive")
    noise = EcgNoise() if noise is None else noise
    n0 = int(round(t0_ms * fs_hz / 1000.0))
    n = int(round(duration_ms * fs_hz / 1000.0))
    y = _noise(noise, beats.af, fs_hz, n0, n, seed)
    rr = (beats.rr_before_ms() if rr_before_ms is None
          else np.asarray(rr_before_ms, dtype=np.float64).reshape(-1))
    if rr.size != len(beats):
        raise ValueError("rr_before_ms must have one entry per beat")
    r_abs = np.round(beats.r_ms.astype(np.float64) * fs_hz / 1000.0).astype(np.int64)
    near = (r_abs >= n0 - 2 * fs_hz) & (r_abs < n0 + n + fs_hz)  # beats that reach the window
    cache: dict[tuple[int, int], tuple[int, FloatArray]] = {}
    for r, kind, rr_k in zip(r_abs[near].tolist(), beats.kinds[near].tolist(),
                             rr[near].tolist(), strict=True):
        key = (kind, int(round(rr_k)))
        if key not in cache:
            cache[key] = beat_template(BeatKind(kind), float(key[1]), fs_hz)
        first, tmpl = cache[key]
        a = r + first - n0
        lo, hi = max(a, 0), min(a + tmpl.size, n)
        if lo < hi:
            y[lo:hi] += tmpl[lo - a: hi - a]
    inside = (r_abs >= n0) & (r_abs < n0 + n)
    return SynthEcg(y, r_abs[inside] - n0, fs_hz, t0_ms, beats.kinds[inside])
