"""Tests of the monitor's own QRS-onset estimate (iabp.monitor.detect.onset).

Synthetic beats with a known onset built here (piecewise-linear QRS complexes on a
flat or noisy baseline), and one real check on the first minute of MIT-BIH record 100
(skipped when the PhysioNet data are not installed). The accuracy over the whole
development set is measured by ``benchmarks/bench_monitor_onset.py``.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iabp.monitor.detect.common import DetectorSetupError
from iabp.monitor.detect.onset import QrsOnsetEstimator
from iabp.monitor.detect.r_wave import MonitorRWaveDetector
from iabp.spec.monitor_rules import MON_ONSET_ERROR_MAX_MS as ONSET_ERROR_BOUND_MS
from tests.strategies import ecg_garbage


# ---------------------------------------------------------------- helpers
def qrs_beat(
    fs_hz: float, onset_s: float, end_s: float, rise_ms: float = 40.0, noise_mv: float = 0.005,
    seed: int = 0,
) -> tuple[np.ndarray, int, int]:
    """Flat baseline, then a QRS starting at ``onset_s``: a straight rise to +1.5 mV in
    ``rise_ms``, down to -0.4 mV in 25 ms, back to 0 in 20 ms. Returns (ECG, onset, peak)
    with onset and peak as sample indices."""
    t = np.arange(int(round(end_s * fs_hz))) / fs_hz
    knots_s = onset_s + np.array([0.0, rise_ms, rise_ms + 25.0, rise_ms + 45.0]) / 1000.0
    x = np.zeros_like(t)
    inside = (t >= knots_s[0]) & (t <= knots_s[-1])
    x[inside] = np.interp(t[inside], knots_s, [0.0, 1.5, -0.4, 0.0])
    x += np.random.default_rng(seed).normal(0.0, noise_mv, t.size)
    onset = int(math.ceil(onset_s * fs_hz))
    peak = int(round((onset_s + rise_ms / 1000.0) * fs_hz))
    return x, onset, peak


def synth_ecg(beats_s: list[float], fs_hz: float = 1000.0, seed: int = 0) -> np.ndarray:
    """P-QRS-T ECG (mV) whose QRS complexes start exactly at ``beats_s``.

    QRS: a q wave (-0.15 mV at 12 ms), R (+1.4 mV at 40 ms), S (-0.35 mV at 62 ms),
    back to baseline at 80 ms, piecewise linear; a P wave 160 ms and a T wave 300 ms
    after the onset; baseline wander (0.3 Hz, 0.15 mV) and white noise (0.01 mV).
    """
    end = beats_s[-1] + 1.0
    t = np.arange(int(end * fs_hz)) / fs_hz
    x = 0.15 * np.sin(2 * np.pi * 0.3 * t)
    knots = np.array([0.0, 12.0, 40.0, 62.0, 80.0]) / 1000.0
    levels = [0.0, -0.15, 1.4, -0.35, 0.0]
    for b in beats_s:
        inside = (t >= b) & (t <= b + knots[-1])
        x[inside] += np.interp(t[inside], b + knots, levels)
        x += 0.12 * np.exp(-0.5 * ((t - (b - 0.16)) / 0.025) ** 2)
        x += 0.3 * np.exp(-0.5 * ((t - (b + 0.30)) / 0.05) ** 2)
    return x + np.random.default_rng(seed).normal(0.0, 0.01, t.size)


def push_all(est: QrsOnsetEstimator, x: np.ndarray) -> None:
    for v in x.tolist():
        est.push(v)


# ---------------------------------------------------------------- construction
@pytest.mark.parametrize("fs", [0.0, -1.0, 50.0, math.nan, math.inf, "fast"])
def test_bad_sampling_rate_is_a_setup_error(fs: object) -> None:
    with pytest.raises(DetectorSetupError):
        QrsOnsetEstimator(fs)  # type: ignore[arg-type]


def test_error_bound_is_set() -> None:
    """The bound comes from the benchmark; zero or absurd would mean it was never measured."""
    assert isinstance(ONSET_ERROR_BOUND_MS, int)
    assert 5 <= ONSET_ERROR_BOUND_MS <= 100


# ---------------------------------------------------------------- accuracy
@pytest.mark.parametrize("fs_hz", [360.0, 1000.0])
@pytest.mark.parametrize("rise_ms", [20.0, 40.0, 80.0])
@pytest.mark.parametrize("seed", [0, 1])
def test_known_onset_is_found(fs_hz: float, rise_ms: float, seed: int) -> None:
    x, onset, peak = qrs_beat(fs_hz, 0.8, 0.8 + (rise_ms + 60.0) / 1000.0, rise_ms, seed=seed)
    est = QrsOnsetEstimator(fs_hz)
    push_all(est, x)
    got = est.onset_before(peak)
    assert got is not None
    assert abs(got - onset) * 1000.0 / fs_hz <= 6.0, (got, onset)


def test_onset_does_not_depend_on_when_it_is_asked() -> None:
    """Asked 20 ms or 200 ms after the peak (the detector's decision delay varies), the
    onset is the same: only the segment before the peak decides it."""
    x, onset, peak = qrs_beat(1000.0, 0.8, 1.1)
    got = []
    for late_ms in (20, 60, 120, 200):
        est = QrsOnsetEstimator(1000.0)
        push_all(est, x[: peak + late_ms + 1])
        got.append(est.onset_before(peak))
    assert all(g is not None for g in got)
    assert max(got) - min(got) <= 2, got  # type: ignore[type-var, operator]
    assert abs(got[0] - onset) <= 6  # type: ignore[operator]


def test_detector_and_estimator_together_on_synthetic_ecg() -> None:
    """The monitor's chain: every decided beat gets an onset within 10 ms of the truth.

    The complexes start with a small q wave (0.15 mV in 12 ms), which the curve length
    needs a few ms to pick up (measured: 7-8 ms late); the spread from beat to beat
    must stay small."""
    onsets_s = [0.6 + 0.8 * i + 0.03 * math.sin(i) for i in range(12)]
    x = synth_ecg(onsets_s)
    det = MonitorRWaveDetector(1000.0)
    est = QrsOnsetEstimator(1000.0)
    truth = np.ceil(np.asarray(onsets_s) * 1000.0).astype(int)
    found: list[tuple[int, int]] = []
    for v in x.tolist():
        est.push(v)
        if det.push(v):
            peak = det.last_peak_index
            got = est.onset_before(peak)
            assert got is not None and got <= peak
            found.append((peak, got))
    assert len(found) >= 10  # provisional beats from 0.3 s after settling, then all
    errors = []
    for peak, got in found:
        k = int(np.argmin(np.abs(truth - got)))
        errors.append(got - int(truth[k]))
        assert abs(got - truth[k]) <= 10, (peak, got, truth[k])
        assert 25 <= peak - got <= 70  # R 40 ms after the onset, S 62 ms
    assert max(errors) - min(errors) <= 3, errors


def test_peak_on_the_s_wave_gives_the_same_onset() -> None:
    """The detector takes the R or the S, whichever is larger: the onset is the same."""
    x, onset, r_peak = qrs_beat(1000.0, 0.8, 1.0)
    s_peak = r_peak + 25
    est = QrsOnsetEstimator(1000.0)
    push_all(est, x)
    from_r, from_s = est.onset_before(r_peak), est.onset_before(s_peak)
    assert from_r is not None and from_s is not None
    assert abs(from_r - from_s) <= 2
    assert abs(from_s - onset) <= 6


# ---------------------------------------------------------------- unmeasurable
def test_flat_line_is_unmeasurable() -> None:
    est = QrsOnsetEstimator(1000.0)
    push_all(est, np.full(1500, 0.3))
    assert all(est.onset_before(p) is None for p in range(1250, 1500, 7))


@pytest.mark.parametrize("seed", range(5))
def test_noise_only_is_unmeasurable(seed: int) -> None:
    rng = np.random.default_rng(seed)
    white = rng.normal(0.0, 0.1, 3000)
    walk = np.cumsum(rng.normal(0.0, 0.01, 3000)) + rng.normal(0.0, 0.05, 3000)
    for noise in (white, walk):
        est = QrsOnsetEstimator(1000.0)
        asked = 0
        for i, v in enumerate(noise.tolist()):
            est.push(v)
            if i >= 700 and i % 10 == 0:
                asked += 1
                assert est.onset_before(i - 40) is None, i
        assert asked > 200


def test_all_nan_stream_is_unmeasurable_and_never_raises() -> None:
    est = QrsOnsetEstimator(1000.0)
    for i in range(1500):
        est.push(math.nan)
        if i > 400:
            assert est.onset_before(i - 50) is None


def test_lead_off_in_the_buffer_blocks_then_recovers() -> None:
    x, onset, peak = qrs_beat(1000.0, 0.8, 0.9)
    est = QrsOnsetEstimator(1000.0)
    push_all(est, x)
    assert est.onset_before(peak) is not None
    est.push(math.nan)  # one invalid sample: the buffer is no longer trusted
    assert est.onset_before(peak) is None
    # a fresh beat after the invalid sample has left the buffer is measured again
    y, onset2, peak2 = qrs_beat(1000.0, 0.8, 0.9, seed=3)
    base = est.sample_count
    push_all(est, y)
    got = est.onset_before(base + peak2)
    assert got is not None and abs(got - (base + onset2)) <= 6


def test_invalid_samples_are_held_not_used() -> None:
    """inf, huge values and non-numbers are held at the last valid sample and never raise."""
    est = QrsOnsetEstimator(1000.0)
    for v in (math.inf, -math.inf, 1e6, None, "x", 0.2):
        est.push(v)  # type: ignore[arg-type]
    assert est.sample_count == 6
    assert est.onset_before(5) is None


@pytest.mark.parametrize("bad", [-1, 10_000, 1_000_000])
def test_peak_outside_the_pushed_samples_is_none(bad: int) -> None:
    x, _, _ = qrs_beat(1000.0, 0.8, 0.9)
    est = QrsOnsetEstimator(1000.0)
    push_all(est, x)
    assert est.onset_before(bad) is None


def test_peak_older_than_the_buffer_is_none() -> None:
    x, onset, peak = qrs_beat(1000.0, 0.8, 3.0)
    est = QrsOnsetEstimator(1000.0)
    push_all(est, x[: peak + est.max_peak_age + 1])
    assert est.onset_before(peak) is not None  # just young enough
    est.push(0.0)
    assert est.onset_before(peak) is None  # one sample too old
    push_all(est, x[peak + est.max_peak_age + 2:])
    assert est.onset_before(peak) is None  # long gone


def test_peak_too_early_in_the_stream_is_none() -> None:
    """Right after start there is not enough history before the peak to find a baseline."""
    x, _, peak = qrs_beat(1000.0, 0.1, 0.25)
    est = QrsOnsetEstimator(1000.0)
    push_all(est, x)
    assert est.onset_before(peak) is None


@settings(max_examples=60, deadline=None)
@given(
    samples=ecg_garbage(1500),
    ask=st.lists(st.integers(min_value=-10, max_value=2000), max_size=20),
)
def test_never_raises(samples: list[float], ask: list[int]) -> None:
    est = QrsOnsetEstimator(1000.0)
    for v in samples:
        est.push(v)
    for p in ask:
        got = est.onset_before(p)
        assert got is None or (isinstance(got, int) and got <= p)


# ---------------------------------------------------------------- memory, state, cost
def test_memory_is_fixed() -> None:
    est = QrsOnsetEstimator(1000.0)
    before = est.buffer_lengths()
    assert before == {"ecg": 600}
    x = synth_ecg([0.6 + 0.8 * i for i in range(20)])
    det = MonitorRWaveDetector(1000.0)
    for v in x.tolist():
        est.push(v)
        if det.push(v):
            est.onset_before(det.last_peak_index)
    assert est.sample_count == x.size
    assert est.buffer_lengths() == before
    assert len(est._buf) == 600


def test_reset_restores_initial_behaviour() -> None:
    x, _, peak = qrs_beat(1000.0, 0.8, 0.9)
    est = QrsOnsetEstimator(1000.0)
    push_all(est, x)
    first = est.onset_before(peak)
    assert first is not None
    est.push(math.nan)
    est.reset()
    assert est.sample_count == 0
    assert est.onset_before(peak) is None  # nothing pushed since the reset
    push_all(est, x)
    assert est.onset_before(peak) == first


def test_push_is_cheap() -> None:
    """The monitor runs at 1 kHz in pure Python: push must be a few microseconds."""
    est = QrsOnsetEstimator(1000.0)
    xs = synth_ecg([0.6, 1.4, 2.2]).tolist() * 5
    t0 = time.perf_counter()
    for v in xs:
        est.push(v)
    per_sample_us = 1e6 * (time.perf_counter() - t0) / len(xs)
    assert per_sample_us < 20.0, per_sample_us


# ---------------------------------------------------------------- real data
def test_mitdb_100_q_to_r_times_are_physiological() -> None:
    """First 60 s of MIT-BIH 100 (MLII, normal sinus rhythm): the estimated Q-to-R time
    (detector's peak minus estimated onset) of the detected beats is mostly 10-80 ms."""
    from iabp.sim.records import read_record
    from iabp.spec.errors import RecordError

    try:
        rec = read_record("mitdb/100", duration_s=60.0)
    except RecordError as exc:  # the PhysioNet data live outside the repository
        pytest.skip(f"MIT-BIH data not available: {exc}")
    det = MonitorRWaveDetector(1000.0)
    est = QrsOnsetEstimator(1000.0)
    qr: list[float] = []
    missing = 0
    for v in rec.ecg_mv.tolist():
        est.push(v)
        if det.push(v):
            peak = det.last_peak_index
            got = est.onset_before(peak)
            if got is None:
                missing += 1
                continue
            assert got <= peak
            qr.append(peak - got)
    assert len(qr) >= 60  # about 75 beats a minute, the first ~2.3 s spent learning
    assert missing <= 0.02 * (len(qr) + missing)
    q = np.asarray(qr, dtype=float)
    assert np.mean((q >= 10) & (q <= 80)) >= 0.95
    assert 20.0 <= float(np.median(q)) <= 50.0
