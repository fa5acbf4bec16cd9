"""Tests of the monitor's own arterial-pressure detector (iabp.monitor.detect.pressure).

Synthetic pressure pulses with a known onset and dicrotic notch, built here, and the
``mixedsignals`` ABP excerpt shipped in ``tests/fixtures`` (no beat annotations exist for
it: its pulses are checked against the R waves of the same excerpt).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iabp.monitor.detect import (
    DetectorSetupError,
    MonitorPressureDetector,
    PulseEvent,
    detect_pulses,
    detect_r_peaks,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
LEARN_S = 2.6


def synth_abp(
    onsets_s: list[float],
    fs_hz: float = 1000.0,
    lvet_s: float = 0.3,
    noise_mmhg: float = 0.2,
    seed: int = 0,
) -> np.ndarray:
    """Arterial pressure (mmHg): 80 diastolic, 40 pulse pressure, notch at onset + LVET.

    Per pulse: a 120 ms raised-cosine upstroke, a systolic decay to 55 % of the pulse
    pressure at the end of ejection (the notch, a sharp kink), a 150 ms dicrotic wave,
    then an exponential diastolic run-off.
    """
    end = onsets_s[-1] + 1.2
    t = np.arange(int(end * fs_hz)) / fs_hz
    shape = np.zeros_like(t)
    bounds = [*onsets_s[1:], end]
    for o, nxt in zip(onsets_s, bounds, strict=True):
        u = t - o
        m = (u >= 0) & (t < nxt)
        uu = u[m]
        s = np.where(
            uu < 0.12,
            0.5 - 0.5 * np.cos(np.pi * uu / 0.12),
            1.0 - 0.45 * np.clip((uu - 0.12) / (lvet_s - 0.12), 0, 1) ** 1.5,
        )
        after = uu >= lvet_s
        d = uu[after] - lvet_s
        s[after] = 0.55 * np.exp(-d / 0.18) + 0.08 * np.sin(np.pi * np.clip(d / 0.15, 0, 1))
        shape[m] = s
    rng = np.random.default_rng(seed)
    return 80.0 + 40.0 * shape + rng.normal(0.0, noise_mmhg, t.size)


def run(det: MonitorPressureDetector, x: np.ndarray) -> list[tuple[int, PulseEvent, int, int]]:
    out = []
    for i, v in enumerate(x.tolist()):
        ev = det.push(v)
        if ev:
            out.append((i, ev, det.last_upstroke_index, det.last_notch_index))
    return out


@pytest.mark.parametrize("fs", [0.0, -125.0, 10.0, math.nan, math.inf])
def test_bad_sampling_rate_is_a_setup_error(fs: float) -> None:
    with pytest.raises(DetectorSetupError):
        MonitorPressureDetector(fs)


@pytest.mark.parametrize("fs_hz", [125.0, 250.0, 1000.0])
def test_synthetic_onsets_and_notches(fs_hz: float) -> None:
    onsets = [0.3 + 0.8 * i for i in range(20)]
    x = synth_abp(onsets, fs_hz)
    ups, notches = detect_pulses(x, fs_hz)
    true_on = np.asarray([o for o in onsets if o > LEARN_S]) * fs_hz
    ups_s = ups[ups > (LEARN_S - 0.1) * fs_hz]
    assert len(ups_s) == len(true_on)
    assert float(np.max(np.abs(ups_s - true_on))) * 1000.0 / fs_hz <= 15.0
    true_notch = true_on + 0.3 * fs_hz
    notch_s = notches[notches > (LEARN_S - 0.1) * fs_hz]
    assert len(notch_s) == len(true_notch)
    # 20 ms, or 3 samples at low rates (125 Hz: the curvature step is 2 samples)
    tol_ms = max(20.0, 3000.0 / fs_hz)
    assert float(np.max(np.abs(notch_s - true_notch))) * 1000.0 / fs_hz <= tol_ms


def test_one_notch_per_pulse_and_delay_bounds() -> None:
    onsets = [0.3 + 0.65 * i for i in range(25)]
    x = synth_abp(onsets, lvet_s=0.27)
    det = MonitorPressureDetector(1000.0)
    events = run(det, x)
    last_up = -1
    notches_since_up = 0
    for i, ev, up, notch in events:
        if ev & PulseEvent.NOTCH:
            notches_since_up += 1
            assert 0 <= i - notch <= det.notch_delay_bound_ms
            assert notch > last_up
        if ev & PulseEvent.UPSTROKE:
            assert 0 <= i - up <= det.upstroke_delay_bound_ms
            if last_up >= 0:
                assert notches_since_up == 1
            last_up, notches_since_up = up, 0
    assert det.decision_delay_bound_ms <= 400.0


def test_early_pulse_is_reported() -> None:
    onsets = [0.3 + 0.8 * i for i in range(12)]
    early = onsets[8] + 0.6 * 0.8
    x = synth_abp(sorted([*onsets, early]), lvet_s=0.25)
    ups, _ = detect_pulses(x, 1000.0)
    assert np.min(np.abs(ups - early * 1000.0)) <= 20


def test_mixedsignals_abp_pulses_follow_the_r_waves() -> None:
    d = np.load(FIXTURES / "mixedsignals_abp.npz")

    def load(key: str) -> tuple[np.ndarray, float]:
        adc = d[f"{key}_adc"]
        x = (adc.astype(float) - float(d[f"{key}_baseline"])) / float(d[f"{key}_gain"])
        x[adc == int(d["nan_sentinel"])] = np.nan
        return x, float(d[f"{key}_fs"])

    abp, fs = load("abp")
    ecg, fs_ecg = load("ecg")
    ups, notches = detect_pulses(abp, fs)
    _, r_peaks = detect_r_peaks(ecg, fs_ecg)
    dropout_end_s = float(np.flatnonzero(np.isnan(abp))[-1]) / fs
    assert ups.min() / fs > dropout_end_s
    # one notch per pulse (except possibly the last, still pending at the end)
    counts = np.histogram(notches, bins=np.append(ups, len(abp) + 1))[0]
    assert np.all(counts[:-1] == 1)
    # every pulse onset comes 100-200 ms after an R wave (pulse transit + pre-ejection)
    r_s = r_peaks / fs_ecg
    for u in ups / fs:
        if u < r_s.min() + 0.7:
            continue
        lag = u - r_s[r_s < u].max()
        assert 0.10 <= lag <= 0.20, lag
    on_notch_ms = (notches - ups[np.searchsorted(ups, notches) - 1]) * 1000.0 / fs
    assert np.all((on_notch_ms > 150) & (on_notch_ms < 300))


def test_nan_run_blocks_and_recovers() -> None:
    onsets = [0.3 + 0.8 * i for i in range(30)]
    x = synth_abp(onsets)
    x[9000:12_000] = np.nan
    det = MonitorPressureDetector(1000.0)
    events = run(det, x)
    assert not any(9000 <= i < 12_000 for i, *_ in events)
    late = [o for o in onsets if o > 12.0 + 2.0 + 0.6]
    ups = [up for _, ev, up, _ in events if ev & PulseEvent.UPSTROKE]
    assert late and all(min(abs(u - o * 1000.0) for u in ups) <= 15 for o in late)


def test_buffers_stay_bounded_and_reset_restores() -> None:
    onsets = [0.3 + 0.7 * i for i in range(30)]
    x = synth_abp(onsets, seed=2)
    x[5000:5200] = np.inf
    det = MonitorPressureDetector(1000.0)
    sizes = det.buffer_lengths()
    first = run(det, x)
    assert det.buffer_lengths() == sizes
    det.reset()
    assert det.sample_count == 0 and det.last_upstroke_index == -1
    assert run(det, x) == first == run(MonitorPressureDetector(1000.0), x)


@settings(max_examples=150, deadline=None)
@given(
    samples=st.lists(
        st.one_of(
            st.floats(allow_nan=True, allow_infinity=True),
            st.floats(min_value=40.0, max_value=160.0),
        ),
        min_size=1,
        max_size=3000,
    )
)
def test_push_never_raises(samples: list[float]) -> None:
    det = MonitorPressureDetector(125.0)
    for v in samples:
        ev = det.push(v)
        assert isinstance(ev, PulseEvent)
