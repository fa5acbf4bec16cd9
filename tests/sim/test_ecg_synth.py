"""Synthetic ECG: R peaks where scheduled, rate range, rhythms, determinism."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iabp.sim.ecg_synth import (
    BeatKind,
    BeatSchedule,
    EcgNoise,
    af_rhythm,
    beat_template,
    paced_rhythm,
    pvc_rhythm,
    sinus_rhythm,
    synth_ecg,
)


def _peak_offsets(y: np.ndarray, r_idx: np.ndarray, half: int) -> list[int]:
    out = []
    for i in r_idx.tolist():
        lo = max(0, i - half)
        out.append(int(np.argmax(y[lo:i + half])) + lo - i)
    return out


@settings(max_examples=25, deadline=None)
@given(st.floats(30.0, 180.0), st.integers(0, 2**31 - 1))
def test_r_peaks_at_the_scheduled_places(hr: float, seed: int) -> None:
    beats = sinus_rhythm(hr, 8000, seed=seed)
    clean = synth_ecg(beats, 8000, noise=EcgNoise.clean())
    assert np.array_equal(clean.r_idx, beats.r_ms)
    assert max(abs(d) for d in _peak_offsets(clean.mv, clean.r_idx, 60)) <= 1
    noisy = synth_ecg(beats, 8000, seed=seed)
    assert max(abs(d) for d in _peak_offsets(noisy.mv, noisy.r_idx, 60)) <= 5


@pytest.mark.parametrize("hr", [30.0, 60.0, 120.0, 180.0])
def test_sinus_rate_and_variability(hr: float) -> None:
    rr = np.diff(sinus_rhythm(hr, 120000, seed=3).r_ms)
    assert abs(60000.0 / rr.mean() - hr) < 0.03 * hr
    assert rr.min() >= 333 and rr.max() <= 2000
    assert 0.0 < rr.std() / rr.mean() < 0.06
    assert np.abs(np.diff(rr)).max() < 40  # sinus: no sudden jumps


def test_rate_outside_range_rejected() -> None:
    with pytest.raises(ValueError):
        sinus_rhythm(200.0, 1000)
    with pytest.raises(ValueError):
        sinus_rhythm(20.0, 1000)


def test_af_is_irregular_and_has_no_p_waves() -> None:
    af = af_rhythm(100.0, 60000, seed=5)
    rr = np.diff(af.r_ms)
    assert af.af and set(af.kinds.tolist()) == {int(BeatKind.AF)}
    assert rr.std() / rr.mean() > 0.15
    assert np.abs(np.diff(rr)).mean() > 60  # successive R-R differ a lot
    first, t = beat_template(BeatKind.AF, 600.0, 1000.0)
    assert first > -100  # nothing before the Q wave: no P
    ecg = synth_ecg(af, 10000, seed=1, noise=EcgNoise(0.0, 0.0, 0.25, 0.0, 50.0, 0.06))
    spec = np.abs(np.fft.rfft(ecg.mv - ecg.mv.mean()))
    f = np.fft.rfftfreq(ecg.mv.size, 1e-3)
    assert spec[(f > 5.0) & (f < 7.0)].max() > 3.0 * np.median(spec[(f > 20) & (f < 40)])


def test_pvc_is_wide_and_followed_by_compensatory_pause() -> None:
    s = pvc_rhythm(75.0, 30000, every=4, hrv_sd_ms=0.0)
    r, k = s.r_ms, s.kinds
    i = np.flatnonzero(k == int(BeatKind.PVC))
    i = i[(i > 0) & (i < r.size - 1)]
    assert i.size > 3
    assert np.all(r[i + 1] - r[i - 1] == pytest.approx(2 * 800, abs=2))
    assert np.all(r[i] - r[i - 1] < 0.7 * 800)

    def width(kind: BeatKind) -> int:
        _, y = beat_template(kind, 800.0, 1000.0)
        return int((y > 0.5 * y.max()).sum())

    assert width(BeatKind.PVC) > 2 * width(BeatKind.NORMAL)


def test_paced_beats_have_a_spike() -> None:
    s = paced_rhythm(70.0, 5000)
    e = synth_ecg(s, 5000, noise=EcgNoise.clean())
    for i in e.r_idx.tolist():
        assert e.mv[i - 40] > 2.0


def test_qt_shortens_with_rate() -> None:
    def t_peak(rr: float) -> int:
        first, y = beat_template(BeatKind.NORMAL, rr, 1000.0)
        after = y[-first + 100:]
        return int(np.argmax(after)) + 100

    assert t_peak(1500.0) > t_peak(800.0) > t_peak(333.0) > 100


def test_deterministic_by_seed_and_windows_match() -> None:
    s = sinus_rhythm(90.0, 10000, seed=11)
    a = synth_ecg(s, 10000, seed=4)
    b = synth_ecg(sinus_rhythm(90.0, 10000, seed=11), 10000, seed=4)
    c = synth_ecg(s, 10000, seed=5)
    assert np.array_equal(a.mv, b.mv)
    assert not np.array_equal(a.mv, c.mv)
    w = synth_ecg(s, 2500, seed=4, t0_ms=3500)
    assert np.allclose(w.mv, a.mv[3500:6000])
    assert np.array_equal(w.r_idx + 3500, a.r_idx[(a.r_idx >= 3500) & (a.r_idx < 6000)])


def test_other_sampling_rate() -> None:
    s = sinus_rhythm(60.0, 6000, seed=2)
    e = synth_ecg(s, 6000, fs_hz=360.0, noise=EcgNoise.clean())
    assert e.mv.size == 2160
    assert np.array_equal(e.r_idx, np.round(s.r_ms * 0.36).astype(np.int64))


def test_schedule_validation_and_asystole() -> None:
    with pytest.raises(ValueError):
        BeatSchedule.from_times([100, 100])
    e = synth_ecg(BeatSchedule.asystole(), 2000, noise=EcgNoise.clean())
    assert e.r_idx.size == 0 and np.all(e.mv == 0.0)
