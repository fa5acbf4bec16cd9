"""Tests of the pump's trigger detectors (controller.triggers).

They run on the small excerpts shipped in ``tests/fixtures`` (cut by
``tests/fixtures/make_fixtures.py``) and on synthetic ECGs built here, so they need
nothing outside the repository. The one test that reads ``../shared`` skips when it
is absent.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.signal import resample_poly

from iabp.controller.triggers import (
    EcgTuning,
    PressureEvent,
    PressureTriggerDetector,
    RWaveDetector,
    TriggerSetupError,
    detect_dicrotic_notches,
    detect_pressure_events,
    detect_r_waves,
    detect_r_waves_with_peaks,
    detect_systolic_upstrokes,
)
from iabp.controller.triggers.filters import MovingSum, RingBuffer
from iabp.spec.errors import IabpError
from tests.strategies import ecg_garbage

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
REPO = Path(__file__).resolve().parents[2]
MATCH_MS = 150.0
RATES_HZ = (250.0, 360.0, 500.0, 1000.0)


# ---------------------------------------------------------------- helpers


def load_mitdb(record: str) -> tuple[np.ndarray, np.ndarray, float]:
    """ECG (mV), reference beat samples and rate of a shipped MIT-BIH excerpt."""
    d = np.load(FIXTURES / f"mitdb_{record}.npz")
    x = (d["adc"].astype(float) - float(d["baseline"])) / float(d["gain"])
    return x, d["ref"].astype(np.int64), float(d["fs"])


def load_mixed(key: str) -> tuple[np.ndarray, float]:
    """``abp`` (mmHg) or ``ecg`` (mV) of the mixedsignals excerpt, NaN where the WFDB had none."""
    d = np.load(FIXTURES / "mixedsignals_abp.npz")
    adc = d[f"{key}_adc"]
    x = (adc.astype(float) - float(d[f"{key}_baseline"])) / float(d[f"{key}_gain"])
    x[adc == int(d["nan_sentinel"])] = np.nan
    return x, float(d[f"{key}_fs"])


def match(ref: np.ndarray, det: np.ndarray, fs: float) -> tuple[int, int, int]:
    """(TP, FN, FP) with one-to-one matching inside the 150 ms window."""
    tol = MATCH_MS * fs / 1000.0
    used = np.zeros(len(det), dtype=bool)
    tp = 0
    for r in ref:
        close = np.flatnonzero((np.abs(det - r) <= tol) & ~used)
        if close.size:
            used[close[np.argmin(np.abs(det[close] - r))]] = True
            tp += 1
    return tp, len(ref) - tp, len(det) - tp


def synthetic_ecg(fs: float, seconds: float, hr_bpm: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A PQRST train (Gaussian waves, mV) with baseline wander and noise; returns (ecg, R samples)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * fs)) / fs
    x = 0.15 * np.sin(2 * np.pi * 0.25 * t) + 0.02 * rng.standard_normal(t.size)
    waves = ((-0.20, 0.025, 0.12), (-0.03, 0.010, -0.10), (0.0, 0.012, 1.2),
             (0.03, 0.010, -0.25), (0.28, 0.060, 0.30))
    r_times = []
    beat = 0.5
    while beat < seconds - 0.5:
        r_times.append(beat)
        for offset, width, amp in waves:
            x += amp * np.exp(-0.5 * ((t - beat - offset) / width) ** 2)
        beat += 60.0 / hr_bpm * (1.0 + 0.05 * rng.standard_normal())
    return x, np.round(np.asarray(r_times) * fs).astype(np.int64)


def run_ecg(x: np.ndarray, fs: float) -> tuple[RWaveDetector, list[int], list[int]]:
    det = RWaveDetector(fs)
    decisions: list[int] = []
    peaks: list[int] = []
    for i, v in enumerate(x.tolist()):
        if det.push(v):
            decisions.append(i)
            peaks.append(det.last_peak_index)
    return det, decisions, peaks


# ---------------------------------------------------------------- R-wave accuracy


@pytest.mark.parametrize(("record", "min_se", "min_ppv"), [
    ("100", 1.0, 1.0),      # clean sinus rhythm, detector start-up included
    ("119", 1.0, 1.0),      # ventricular bigeminy
    ("208", 0.98, 1.0),     # multiform PVCs, couplets, fusion beats
])
def test_fixture_sensitivity_and_predictivity(record: str, min_se: float, min_ppv: float) -> None:
    x, ref, fs = load_mitdb(record)
    _, peaks = detect_r_waves_with_peaks(x, fs)
    tp, fn, fp = match(ref, peaks, fs)
    assert tp / (tp + fn) >= min_se, (tp, fn, fp)
    assert tp / (tp + fp) >= min_ppv, (tp, fn, fp)


def test_batch_helpers_agree_with_push() -> None:
    x, _, fs = load_mitdb("100")
    decisions, peaks = detect_r_waves_with_peaks(x, fs)
    _, pushed_dec, pushed_peaks = run_ecg(x, fs)
    assert decisions.tolist() == pushed_dec
    assert peaks.tolist() == pushed_peaks
    assert detect_r_waves(x, fs).tolist() == pushed_dec
    assert decisions.dtype == np.int64


@pytest.mark.parametrize("fs_out", RATES_HZ)
@pytest.mark.parametrize("record", ["100", "119"])
def test_resampled_fixture_at_every_console_rate(record: str, fs_out: float) -> None:
    x, ref, fs = load_mitdb(record)
    y = resample_poly(x, int(fs_out), int(fs))
    ref_out = np.round(ref * fs_out / fs).astype(np.int64)
    _, peaks = detect_r_waves_with_peaks(y, fs_out)
    tp, fn, fp = match(ref_out, peaks, fs_out)
    assert fn <= 1 and fp <= 1, (fs_out, tp, fn, fp)


@pytest.mark.parametrize("fs", RATES_HZ)
@pytest.mark.parametrize("hr_bpm", [45.0, 80.0, 150.0])
def test_synthetic_ecg_at_every_rate(fs: float, hr_bpm: float) -> None:
    x, r = synthetic_ecg(fs, 20.0, hr_bpm, seed=int(fs + hr_bpm))
    _, peaks = detect_r_waves_with_peaks(x, fs)
    tp, fn, fp = match(r, peaks, fs)
    assert fn == 0 and fp == 0, (tp, fn, fp)


# ---------------------------------------------------------------- delay


@pytest.mark.parametrize("record", ["100", "119", "208"])
def test_decision_never_later_than_bound_after_estimated_peak(record: str) -> None:
    x, _, fs = load_mitdb(record)
    det, decisions, peaks = run_ecg(x, fs)
    bound_n = det.decision_delay_bound_ms * fs / 1000.0
    lags = np.asarray(decisions) - np.asarray(peaks)
    assert lags.size > 0
    assert np.all(lags <= bound_n + 1e-9)
    assert np.all(lags >= 0)


@pytest.mark.parametrize("record", ["100", "119"])
def test_decision_delay_from_annotated_r_peak_within_bound(record: str) -> None:
    x, ref, fs = load_mitdb(record)
    det, decisions, peaks = run_ecg(x, fs)
    dec = np.asarray(decisions)
    tol = MATCH_MS * fs / 1000.0
    delays_ms = [(dec[np.argmin(np.abs(np.asarray(peaks) - r))] - r) * 1000.0 / fs for r in ref
                 if np.min(np.abs(np.asarray(peaks) - r)) <= tol]
    assert len(delays_ms) == len(ref)
    assert max(delays_ms) <= det.decision_delay_bound_ms
    assert float(np.percentile(delays_ms, 95)) <= 50.0


@pytest.mark.parametrize("fs", RATES_HZ)
def test_delay_bound_is_the_same_time_at_every_rate(fs: float) -> None:
    assert RWaveDetector(fs).decision_delay_bound_ms == pytest.approx(140.0, abs=3.0)


# ---------------------------------------------------------------- robustness


@settings(max_examples=40, deadline=None)
@given(
    fs=st.sampled_from(RATES_HZ),
    samples=ecg_garbage(3000),
)
def test_push_never_raises_and_returns_bool(fs: float, samples: list[float]) -> None:
    det = RWaveDetector(fs)
    for v in samples:
        assert det.push(v) in (True, False)
    assert det.sample_count == len(samples)


@settings(max_examples=25, deadline=None)
@given(
    fs=st.sampled_from(RATES_HZ),
    level=st.one_of(st.floats(min_value=-1e6, max_value=1e6), st.sampled_from([0.0, 1e308, -1e308])),
)
def test_flat_line_never_detects(fs: float, level: float) -> None:
    det = RWaveDetector(fs)
    assert not any(det.push(level) for _ in range(int(5 * fs)))


def test_nan_stream_never_detects() -> None:
    det = RWaveDetector(360.0)
    assert not any(det.push(math.nan) for _ in range(3600))
    assert not any(det.push(math.inf) for _ in range(360))


def test_step_then_flat_line_detects_at_most_once() -> None:
    det = RWaveDetector(500.0)
    hits = sum(det.push(0.0 if i < 1000 else 3.0) for i in range(10000))
    assert hits <= 1


def test_nan_gap_blocks_detections_and_recovers() -> None:
    x, ref, fs = load_mitdb("100")
    gap = slice(int(5 * fs), int(8 * fs))
    y = x.copy()
    y[gap] = np.nan
    det, decisions, peaks = run_ecg(y, fs)
    settle_n = int(0.3 * fs)
    assert not any(gap.start <= d < gap.stop + settle_n for d in decisions)
    after = ref[ref > gap.stop + int(1.0 * fs)]
    tp, fn, _ = match(after, np.asarray([p for p in peaks if p > gap.stop], dtype=np.int64), fs)
    assert fn == 0


def test_ecg_with_real_dropout_at_start() -> None:
    ecg, fs = load_mixed("ecg")
    dropout_end = int(np.flatnonzero(np.isnan(ecg))[-1])
    decisions = detect_r_waves(ecg, fs)
    assert np.all(decisions > dropout_end)
    rr_s = np.diff(decisions) / fs
    assert len(decisions) >= 25
    assert np.median(rr_s) == pytest.approx(60.0 / 104.0, rel=0.1)


def test_bounded_memory_after_1e5_samples() -> None:
    rng = np.random.default_rng(1)
    det = RWaveDetector(1000.0)
    before = det.buffer_lengths()
    sizes_before = {k: len(v) for k, v in vars(det).items() if isinstance(v, list | dict | tuple)}
    x, _ = synthetic_ecg(1000.0, 60.0, 90.0)
    noise = rng.normal(0.0, 2.0, 40_000)
    for v in np.concatenate([x, noise]).tolist():
        det.push(v)
    assert det.sample_count == 100_000
    assert det.buffer_lengths() == before
    sizes_after = {k: len(v) for k, v in vars(det).items() if isinstance(v, list | dict | tuple)}
    assert sizes_after == sizes_before


def test_reset_restarts_from_scratch() -> None:
    x, _, fs = load_mitdb("119")
    det = RWaveDetector(fs)
    first = [i for i, v in enumerate(x.tolist()) if det.push(v)]
    det.reset()
    again = [i for i, v in enumerate(x.tolist()) if det.push(v)]
    assert first == again
    assert det.sample_count == len(x)


def test_rr_mean_tracks_the_rhythm() -> None:
    x, _ = synthetic_ecg(500.0, 20.0, 75.0, seed=3)
    det = RWaveDetector(500.0)
    for v in x.tolist():
        det.push(v)
    assert det.rr_mean_ms == pytest.approx(800.0, rel=0.1)


def test_noise_gates_only_ever_make_the_detector_stricter() -> None:
    t = EcgTuning()
    # Threshold fraction: clean background <= noisy background <= premature candidate.
    assert t.threshold_fraction <= t.noisy_threshold_fraction <= t.premature_threshold_fraction
    # Context limit: a premature candidate must sit on a quieter background than an on-time one.
    assert 0.0 < t.premature_context_ratio <= t.context_ratio
    assert 0.0 < t.premature_context_rr_fraction <= 1.0


def test_premature_event_on_busy_background_is_rejected() -> None:
    fs = 360.0
    x, ref = synthetic_ecg(fs, 12.0, 60.0, seed=5)
    # Low-level 17 Hz artefact after beat 6, ending in an 80 ms burst at 55 % of the R-R
    # interval: a premature event on a busy background, the record-105 failure pattern.
    a = int(ref[6] + 0.15 * fs)
    b = int(ref[6] + 0.55 * (ref[7] - ref[6]))
    k = np.arange(b - a)
    envelope = np.full(k.size, 0.2)
    envelope[-int(0.08 * fs):] = 0.5
    noisy = x.copy()
    noisy[a:b] += envelope * np.sin(2 * np.pi * 17.0 * k / fs)

    def false_positives(tuning: EcgTuning) -> int:
        det = RWaveDetector(fs, tuning)
        peaks = []
        for v in noisy.tolist():
            if det.push(v):
                peaks.append(det.last_peak_index)
        tp, fn, fp = match(ref, np.asarray(peaks, dtype=np.int64), fs)
        assert fn == 0
        return fp

    assert false_positives(EcgTuning()) == 0
    # Without the premature-context gate the burst is taken for a beat: the test exercises it.
    assert false_positives(EcgTuning(premature_context_ratio=EcgTuning().context_ratio)) == 1


@pytest.mark.parametrize("fs", [0.0, -360.0, 50.0, math.nan, math.inf])
def test_impossible_sampling_rate_is_an_iabp_error(fs: float) -> None:
    with pytest.raises(TriggerSetupError) as info:
        RWaveDetector(fs)
    assert isinstance(info.value, IabpError)


def test_ring_buffer_and_moving_sum_are_bounded_and_exact() -> None:
    buf = RingBuffer(4)
    for v in range(10):
        buf.push(float(v))
    assert len(buf) == 4 and buf.ago(0) == 9.0 and buf.ago(3) == 6.0
    ms = MovingSum(3)
    out = [ms.push(v) for v in (1e12, 1.0, 1.0, 1.0, 2.0)]
    assert out[-1] == 4.0 and out[-2] == 3.0
    with pytest.raises(TriggerSetupError):
        RingBuffer(0)


# ---------------------------------------------------------------- pressure trigger


def test_one_notch_per_beat_on_abp_fixture() -> None:
    abp, fs = load_mixed("abp")
    ups, notches = detect_pressure_events(abp, fs)
    assert len(ups) >= 25
    for a, b in zip(ups[:-1], ups[1:], strict=True):
        inside = notches[(notches > a) & (notches < b)]
        assert len(inside) == 1, (a, b, inside)
        peak = a + int(np.argmax(abp[a:b]))
        assert peak < inside[0] < b
        assert 150.0 <= (inside[0] - a) * 1000.0 / fs <= 450.0


def test_pressure_batch_helpers_and_heart_rate() -> None:
    abp, fs = load_mixed("abp")
    ups = detect_systolic_upstrokes(abp, fs)
    both = detect_pressure_events(abp, fs)
    assert ups.tolist() == both[0].tolist()
    assert detect_dicrotic_notches(abp, fs).tolist() == both[1].tolist()
    assert np.median(np.diff(ups)) / fs == pytest.approx(60.0 / 104.0, rel=0.1)
    ecg, fs_ecg = load_mixed("ecg")
    r = detect_r_waves(ecg, fs_ecg) / fs_ecg
    later = ups[ups / fs > r[0]] / fs
    assert abs(len(later) - len(r)) <= 2


def test_pressure_decisions_within_their_bound() -> None:
    abp, fs = load_mixed("abp")
    det = PressureTriggerDetector(fs)
    bound_n = det.decision_delay_bound_ms * fs / 1000.0
    seen = 0
    for i, v in enumerate(abp.tolist()):
        ev = det.push(v)
        if ev & PressureEvent.UPSTROKE:
            assert 0 <= i - det.last_upstroke_index <= bound_n
            seen += 1
        if ev & PressureEvent.DICROTIC_NOTCH:
            assert 0 <= i - det.last_notch_index <= bound_n
    assert seen > 0


@settings(max_examples=30, deadline=None)
@given(
    fs=st.sampled_from([125.0, 250.0, 1000.0]),
    samples=st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=2000),
)
def test_pressure_push_never_raises(fs: float, samples: list[float]) -> None:
    det = PressureTriggerDetector(fs)
    for v in samples:
        assert isinstance(det.push(v), PressureEvent)


@settings(max_examples=20, deadline=None)
@given(level=st.one_of(st.floats(min_value=-1e6, max_value=1e6), st.just(math.nan)))
def test_flat_pressure_has_no_events(level: float) -> None:
    det = PressureTriggerDetector(125.0)
    assert all(det.push(level) == PressureEvent.NONE for _ in range(2000))
    assert det.buffer_lengths() == {"slopes": 3, "rr": 8}


def test_pressure_rejects_impossible_rate() -> None:
    with pytest.raises(TriggerSetupError):
        PressureTriggerDetector(10.0)


# ---------------------------------------------------------------- shared data (optional)


def _shared_dir() -> Path:
    env = os.environ.get("IABP_PHYSIONET_DIR")
    return Path(env) if env else REPO.parent / "shared" / "data" / "physionet"


@pytest.mark.skipif(not (_shared_dir() / "mitdb" / "100.hea").exists(), reason="../shared absent")
def test_shipped_fixture_is_a_faithful_cut_of_shared_record() -> None:
    wfdb = pytest.importorskip("wfdb")
    x, ref, fs = load_mitdb("100")
    rec = wfdb.rdrecord(str(_shared_dir() / "mitdb" / "100"), channels=[0], sampto=len(x))
    assert np.allclose(rec.p_signal[:, 0], x)
    ann = wfdb.rdann(str(_shared_dir() / "mitdb" / "100"), "atr", sampto=len(x) - 1)
    beats = [s for s, c in zip(ann.sample, ann.symbol, strict=True) if c in "NLRBAaJSVrFejnE/fQ?"]
    assert beats == ref.tolist()


# ---------------------------------------------------------------- fast up-slope triggers
# FastRWaveDetector / TwoLeadRWaveDetector (controller/triggers/upslope.py), run at the
# controller's 1 kHz on the fixtures resampled as iabp.sim.records.read_record does.

from iabp.controller.triggers.upslope import (  # noqa: E402
    FastRWaveDetector,
    TwoLeadRWaveDetector,
)

FS_1K = 1000.0


def mitdb_1k(record: str) -> tuple[np.ndarray, np.ndarray]:
    """Fixture excerpt at 1 kHz (mV) and its reference beats as 1 kHz samples."""
    x, ref, fs = load_mitdb(record)
    y = resample_poly(x, 25, 9, padtype="line")
    return y, np.round(ref * FS_1K / fs).astype(np.int64)


def second_lead(x: np.ndarray, seed: int = 0) -> np.ndarray:
    """A plausible second lead: inverted, smaller, slightly smoothed copy with its own noise."""
    rng = np.random.default_rng(seed)
    k = np.ones(5) / 5.0
    return -0.6 * np.convolve(x, k, mode="same") + 0.01 * rng.standard_normal(x.size)


def run_fast(det: FastRWaveDetector | TwoLeadRWaveDetector, *leads: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
    decisions: list[int] = []
    peaks: list[int] = []
    for i, v in enumerate(zip(*(lead.tolist() for lead in leads), strict=True)):
        if det.push(*v):
            decisions.append(i)
            peaks.append(det.last_peak_index)
    return np.asarray(decisions, dtype=np.int64), np.asarray(peaks, dtype=np.int64)


@pytest.mark.parametrize(("record", "max_fn", "max_fp"), [("100", 0, 0), ("119", 0, 0),
                                                          ("208", 1, 1)])
def test_fast_detectors_on_fixtures(record: str, max_fn: int, max_fp: int) -> None:
    x, ref = mitdb_1k(record)
    for det, leads in ((FastRWaveDetector(FS_1K), (x,)),
                       (TwoLeadRWaveDetector(FS_1K), (x, second_lead(x)))):
        _, peaks = run_fast(det, *leads)
        tp, fn, fp = match(ref, peaks, FS_1K)
        assert fn <= max_fn and fp <= max_fp, (type(det).__name__, tp, fn, fp)


@pytest.mark.parametrize("record", ["100", "119", "208"])
def test_fast_decision_is_early_and_within_its_bound(record: str) -> None:
    x, ref = mitdb_1k(record)
    det = FastRWaveDetector(FS_1K)
    decisions, peaks = run_fast(det, x)
    lags = decisions - peaks
    assert np.all(lags <= det.decision_delay_bound_ms * FS_1K / 1000.0)
    delays = [decisions[np.argmin(np.abs(peaks - r))] - r for r in ref
              if np.min(np.abs(peaks - r)) <= MATCH_MS]
    assert len(delays) >= len(ref) - 1
    # Decided on the up-slope or within a few ms of the annotated peak.
    assert float(np.percentile(delays, 95)) <= 20.0, sorted(delays)[-5:]
    assert det.decision_delay_bound_ms < RWaveDetector(FS_1K).decision_delay_bound_ms


def _pvc(t: np.ndarray, at_s: float) -> np.ndarray:
    """A wide, tall, biphasic ventricular complex centred at ``at_s``."""
    return 1.6 * np.exp(-0.5 * ((t - at_s) / 0.030) ** 2) - 0.6 * np.exp(
        -0.5 * ((t - at_s - 0.09) / 0.05) ** 2)


@pytest.mark.parametrize("coupling_ms", [280.0, 330.0, 400.0])
def test_fast_early_pvc_is_reported(coupling_ms: float) -> None:
    x, ref = synthetic_ecg(FS_1K, 20.0, 70.0, seed=11)
    t = np.arange(x.size) / FS_1K
    pvc_n = int(ref[8] + coupling_ms)
    y = x + _pvc(t, pvc_n / FS_1K)
    beats = np.sort(np.append(ref, pvc_n))
    for det, leads in ((FastRWaveDetector(FS_1K), (y,)),
                       (TwoLeadRWaveDetector(FS_1K), (y, second_lead(y)))):
        _, peaks = run_fast(det, *leads)
        assert np.any(np.abs(peaks - pvc_n) <= MATCH_MS), (coupling_ms, type(det).__name__)
        tp, fn, fp = match(beats, peaks, FS_1K)
        assert fn == 0 and fp == 0, (tp, fn, fp)


def test_fast_pacer_spikes_are_rejected_and_paced_beats_trigger_once() -> None:
    x, ref = synthetic_ecg(FS_1K, 20.0, 72.0, seed=4)
    paced = x.copy()
    spike_n = ref - 40  # pacer stimulus 40 ms before each R peak, 2 samples at 1 kHz
    for s in spike_n.tolist():
        paced[s:s + 2] += 6.0
    det = FastRWaveDetector(FS_1K)
    decisions, peaks = run_fast(det, paced)
    assert det.spikes_rejected >= len(ref) - 1
    tp, fn, fp = match(ref, peaks, FS_1K)
    assert fn == 0 and fp == 0, (tp, fn, fp)
    # Each trigger is on the QRS, not on the spike: no decision within 5 ms of a stimulus.
    gaps = np.min(np.abs(decisions[:, None] - spike_n[None, :]), axis=1)
    assert np.all(gaps > 5), gaps.min()


def test_fast_spikes_without_capture_never_trigger() -> None:
    rng = np.random.default_rng(2)
    x = 0.02 * rng.standard_normal(10_000)
    for s in range(500, 10_000, 800):
        x[s:s + 1 + (s // 800) % 3] += 8.0 if (s // 800) % 2 else -8.0
    det = FastRWaveDetector(FS_1K)
    assert not any(det.push(v) for v in x.tolist())


def test_two_lead_survives_lead_off_flat_and_noise_mid_run() -> None:
    x, ref = mitdb_1k("100")
    lead1 = second_lead(x, seed=3)
    rng = np.random.default_rng(5)
    lead0 = x.copy()
    lead0[4000:9000] = np.nan                    # lead off
    lead0[11000:13000] = lead0[10999]            # flat line
    k = np.arange(3000)
    lead0[15000:18000] += 1.5 * np.sin(2 * np.pi * 9.0 * k / FS_1K) * rng.uniform(0.5, 1.0, k.size)
    det = TwoLeadRWaveDetector(FS_1K)
    _, peaks = run_fast(det, lead0, lead1)
    tp, fn, fp = match(ref, peaks, FS_1K)
    assert fn == 0 and fp <= 1, (tp, fn, fp)
    # ...and symmetrically when the other lead fails.
    det = TwoLeadRWaveDetector(FS_1K)
    _, peaks = run_fast(det, lead1, lead0)
    tp, fn, fp = match(ref, peaks, FS_1K)
    assert fn == 0 and fp <= 1, (tp, fn, fp)


def test_fast_recovers_within_one_beat_after_noise_burst() -> None:
    x, ref = mitdb_1k("100")
    rng = np.random.default_rng(9)
    from scipy import signal as sg

    sos = sg.butter(2, [3.0, 15.0], btype="bandpass", fs=FS_1K, output="sos")
    burst = sg.sosfilt(sos, rng.standard_normal(3000))
    burst *= 1.0 / np.std(burst)
    y = x.copy()
    y[6000:9000] += burst
    for det, leads in ((FastRWaveDetector(FS_1K), (y,)),
                       (TwoLeadRWaveDetector(FS_1K), (y, y.copy()))):
        _, peaks = run_fast(det, *leads)
        after = ref[ref > 9000][1:]  # every beat from the second one after the burst
        tp, fn, _ = match(after, peaks[peaks > 9000], FS_1K)
        assert fn == 0, (type(det).__name__, fn)


@pytest.mark.parametrize("cls", [FastRWaveDetector, TwoLeadRWaveDetector])
def test_fast_bounded_memory_and_reset(cls: type) -> None:
    x, _ = synthetic_ecg(FS_1K, 40.0, 90.0)
    noise = np.random.default_rng(1).normal(0.0, 2.0, 60_000)
    sig = np.concatenate([x, noise])
    det = cls(FS_1K)
    before = det.buffer_lengths()
    nargs = 1 if cls is FastRWaveDetector else 2
    first = [i for i, v in enumerate(sig.tolist()) if det.push(*([v] * nargs))]
    assert det.sample_count == sig.size
    assert det.buffer_lengths() == before
    det.reset()
    again = [i for i, v in enumerate(sig.tolist()) if det.push(*([v] * nargs))]
    assert first == again


@settings(max_examples=30, deadline=None)
@given(
    fs=st.sampled_from(RATES_HZ),
    samples=st.lists(
        st.tuples(st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                            st.floats(min_value=-5.0, max_value=5.0)),
                  st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                            st.floats(min_value=-5.0, max_value=5.0))),
        min_size=1, max_size=2000),
)
def test_fast_push_never_raises(fs: float, samples: list[tuple[float, float]]) -> None:
    one = FastRWaveDetector(fs)
    two = TwoLeadRWaveDetector(fs)
    for a, b in samples:
        assert one.push(a) in (True, False)
        assert two.push(a, b) in (True, False)
    assert one.sample_count == two.sample_count == len(samples)


def test_fast_nan_and_flat_streams_never_detect() -> None:
    one = FastRWaveDetector(FS_1K)
    two = TwoLeadRWaveDetector(FS_1K)
    assert not any(one.push(math.nan) for _ in range(3000))
    assert not any(two.push(math.nan, 1.0) for _ in range(3000))
    assert not any(one.push(2.0) for _ in range(3000))


@pytest.mark.parametrize("fs", [0.0, -1.0, 50.0, math.nan, math.inf])
def test_fast_impossible_rate_is_an_iabp_error(fs: float) -> None:
    for cls in (FastRWaveDetector, TwoLeadRWaveDetector):
        with pytest.raises(TriggerSetupError) as info:
            cls(fs)
        assert isinstance(info.value, IabpError)
