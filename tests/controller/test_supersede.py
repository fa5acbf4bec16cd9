"""The fast R-wave trigger reports the real QRS when its decision was taken on a smaller
wave ahead of it (a flutter wave, a P wave, an artefact).

Without this the real QRS fell inside the refractory period: the pump timed the next
inflation from the wave 100-130 ms ahead of the R peak and put helium into that beat's
ejection (mitdb/222, atrial flutter: 35 of 366 beats in the first five minutes,
``benchmarks/bench_rhythms.py``). A wide QRS (bundle branch block) whose second lobe is
larger than its first must still trigger once.
"""

from __future__ import annotations

import numpy as np
import pytest

from iabp.controller.triggers.upslope import (
    FastEcgTuning,
    FastRWaveDetector,
    TwoLeadRWaveDetector,
)
from iabp.sim.records import read_record
from tests.controller.test_triggers import FS_1K, run_fast, second_lead, synthetic_ecg

OFF = FastEcgTuning(supersede_ratio=0.0)


def _with_wave_ahead(amp_mv: float, ahead_ms: int) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic sinus ECG with a narrow wave ``ahead_ms`` before every R from the 6th beat."""
    x, ref = synthetic_ecg(FS_1K, 30.0, 75.0, seed=3)
    t = np.arange(x.size) / FS_1K
    for r in ref[5:].tolist():
        x = x + amp_mv * np.exp(-0.5 * ((t - (r - ahead_ms) / FS_1K) / 0.012) ** 2)
    return x, ref[5:]


def _on_qrs(decisions: np.ndarray, ref: np.ndarray) -> int:
    """Reference beats with a decision on their QRS (15 ms before to 40 ms after R)."""
    return sum(bool(np.any((decisions >= r - 15) & (decisions <= r + 40))) for r in ref.tolist())


@pytest.mark.parametrize("amp_mv", [0.5, 0.6])
def test_a_wave_decided_ahead_of_the_qrs_is_superseded_by_the_qrs(amp_mv: float) -> None:
    y, ref = _with_wave_ahead(amp_mv, 120)
    for det, off, leads in ((FastRWaveDetector(FS_1K), FastRWaveDetector(FS_1K, OFF), (y,)),
                            (TwoLeadRWaveDetector(FS_1K), TwoLeadRWaveDetector(FS_1K, OFF),
                             (y, second_lead(y)))):
        before, _ = run_fast(off, *leads)
        after, _ = run_fast(det, *leads)
        # Without the rule the wave ahead is decided and the QRS is lost in the refractory period.
        assert _on_qrs(before, ref) == 0, type(det).__name__
        assert _on_qrs(after, ref) == len(ref), type(det).__name__
        assert det.superseded_decisions >= len(ref) // 2


def _early_only(decisions: np.ndarray, ref: np.ndarray) -> int:
    """Reference beats whose only decisions came more than 50 ms ahead of the R peak."""
    n = 0
    for r in ref.tolist():
        near = decisions[(decisions >= r - 150) & (decisions < r + 150)]
        n += int(near.size > 0 and not np.any(near >= r - 50))
    return n


def _decisions(det: FastRWaveDetector, x: np.ndarray) -> np.ndarray:
    return np.asarray([i for i, v in enumerate(x.tolist()) if det.push(v)], dtype=np.int64)


def test_atrial_flutter_triggers_on_the_qrs_not_on_the_flutter_wave() -> None:
    rec = read_record("mitdb/222", duration_s=120.0)
    assert rec.r_peaks is not None
    ref = rec.r_peaks[rec.r_peaks > 1000]
    before = _early_only(_decisions(FastRWaveDetector(FS_1K, OFF), rec.ecg_mv), ref)
    after = _early_only(_decisions(FastRWaveDetector(FS_1K), rec.ecg_mv), ref)
    assert before >= 20, before  # the failure this rule removes is real on this record
    assert after <= 0.25 * before, (before, after)


def test_a_wide_qrs_triggers_once() -> None:
    # LBBB: the decision comes on the first lobe, the larger second lobe follows 80-90 ms
    # later; the rule must not report it as a second beat.
    rec = read_record("mitdb/111", duration_s=120.0)
    det = FastRWaveDetector(FS_1K)
    dec = _decisions(det, rec.ecg_mv)
    assert det.superseded_decisions == 0
    assert int(np.min(np.diff(dec))) >= 200


@pytest.mark.parametrize("record", ["100", "119", "208"])
def test_every_decision_is_suspected_first_for_the_confirmation_time(record: str) -> None:
    """The QRS suspicion (the controller deflates on it) rises no later than the
    candidate's threshold crossing: every decided beat was suspected on each of the
    ``confirm_ms`` samples before it. It is brief and belongs to beats: about one run per
    decision, nearly every run followed by a decision within 60 ms, and on for a small
    share of the time (the pump loses augmentation only while it is on). Fixture excerpts
    (sinus; bigeminy; multiform PVCs), resampled to 1 kHz."""
    from tests.controller.test_triggers import load_mitdb

    x, _, fs = load_mitdb(record)
    x1k = np.interp(np.arange(0, x.size * 1000.0 / fs) * fs / 1000.0, np.arange(x.size), x)
    det = FastRWaveDetector(FS_1K)
    confirm = int(round(FastEcgTuning().confirm_ms))
    suspected: list[bool] = []
    decisions: list[int] = []
    for i, v in enumerate(x1k.tolist()):
        if det.push(v):
            decisions.append(i)
        suspected.append(det.qrs_suspected)
    s = np.asarray(suspected)
    d = np.asarray(decisions)
    assert d.size > 20
    for k in decisions:
        assert s[k - confirm:k].all(), k
    edges = np.flatnonzero(np.diff(np.r_[0, s.astype(int), 0]))
    starts = edges[::2]
    lone = [a for a in starts if not ((d >= a) & (d <= a + 60)).any()]
    assert len(starts) <= d.size + 2 and len(lone) <= 2, (len(starts), d.size, lone)
    assert s.mean() < 0.03


def _suspicion_rises(det: FastRWaveDetector, x: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """(samples where the suspicion rises, decision samples) over ``x``."""
    rises, decisions, was = [], [], False
    for i, v in enumerate(x):
        if det.push(v):
            decisions.append(i)
        now = det.qrs_suspected
        if now and not was:
            rises.append(i)
        was = now
    return np.asarray(rises), np.asarray(decisions)


def test_a_paced_beats_slow_t_wave_does_not_raise_the_lower_suspicion() -> None:
    """mitdb/107 (paced, wide complexes, a slow T wave about 430 ms after each R, past the
    T-wave window): with the fast-rise condition switched off the T wave crosses the
    lower suspicion threshold on most beats (the pump would end every inflation there);
    with it, rises away from a decision stay rare."""
    from dataclasses import replace

    x = read_record("mitdb/107", duration_s=120.0).ecg_mv.tolist()

    def stray(tuning: FastEcgTuning) -> tuple[int, int]:
        rises, dec = _suspicion_rises(FastRWaveDetector(FS_1K, tuning), x)
        # a rise in the diastole (past the T-wave window of the beat before) that no
        # decision follows within 60 ms
        late = [r for r in rises if (dec < r).any() and r - dec[dec < r][-1] >= 400
                and not ((dec >= r) & (dec <= r + 60)).any()]
        return len(late), dec.size

    off, beats = stray(replace(FastEcgTuning(), suspect_rise_fraction=-1e9))
    on, _ = stray(FastEcgTuning())
    assert beats > 100
    assert off > beats // 2, (off, beats)
    assert on < beats // 10, (on, beats)


def test_the_lower_suspicion_comes_earlier_on_ventricular_beats() -> None:
    """mitdb/116, ventricular beats whose QRS starts 90-100 ms before their R peak: the
    suspicion leads the decision by a median of more than the confirmation time plus 25 ms
    (about 55 ms; with a candidate's threshold for the suspicion it was about 18 ms)."""
    rec = read_record("mitdb/116", duration_s=300.0)
    assert rec.r_peaks is not None and rec.r_symbols is not None
    rises, dec = _suspicion_rises(FastRWaveDetector(FS_1K), rec.ecg_mv.tolist())
    confirm = int(round(FastEcgTuning().confirm_ms))
    leads = []
    for r, sym in zip(rec.r_peaks.tolist(), rec.r_symbols, strict=True):
        if sym != "V":
            continue
        k = np.flatnonzero((dec >= r - 150) & (dec <= r + 150))
        if k.size:
            d = int(dec[k[0]])
            before = rises[rises <= d]
            leads.append(d - int(before[-1]))
    assert len(leads) >= 10
    assert np.median(leads) > confirm + 25, leads
