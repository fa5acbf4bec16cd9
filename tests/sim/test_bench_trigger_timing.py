"""The trigger-timing benchmark's count of QRS suspicions outside every reference QRS."""

from __future__ import annotations

import numpy as np

from benchmarks.bench_trigger_timing import (
    DIASTOLE_FROM_MS,
    MATCH_MS,
    SUSPECT_QRS_BEFORE_MS,
    _suspicions_outside_qrs,
)


def _count(rises: list[int], ref: list[int], qr: list[float]) -> tuple[int, int]:
    return _suspicions_outside_qrs(np.asarray(rises, dtype=np.int64),
                                   np.asarray(ref, dtype=np.int64),
                                   np.asarray(qr, dtype=np.float64))


def test_a_suspicion_inside_a_qrs_window_is_not_counted() -> None:
    ref, qr = [1000, 2000], [40.0, 40.0]
    onset = 2000 - 40
    inside = [onset - SUSPECT_QRS_BEFORE_MS, onset, 2000, 2000 + MATCH_MS, 1000 + MATCH_MS]
    assert _count(inside, ref, qr) == (0, 0)


def test_a_p_wave_and_a_t_wave_are_outside_and_only_the_p_wave_is_in_the_diastole() -> None:
    ref, qr = [1000, 2000], [40.0, 40.0]
    p_wave = 2000 - 40 - SUSPECT_QRS_BEFORE_MS - 100   # 1840: diastole of the first beat
    t_wave = 1000 + 250                                 # 1250: systole, before the diastole
    assert p_wave >= 1000 + DIASTOLE_FROM_MS
    assert _count([p_wave], ref, qr) == (1, 1)
    assert _count([t_wave], ref, qr) == (1, 0)
    assert _count([p_wave, t_wave, 1990], ref, qr) == (2, 1)


def test_an_unmeasurable_onset_counts_30_ms_before_the_r() -> None:
    ref, qr = [1000, 2000], [40.0, float("nan")]
    assert _count([2000 - 30 - SUSPECT_QRS_BEFORE_MS], ref, qr) == (0, 0)
    assert _count([2000 - 30 - SUSPECT_QRS_BEFORE_MS - 1], ref, qr) == (1, 1)


def test_rises_before_the_first_or_after_the_last_beat_are_outside_but_not_in_a_diastole() -> None:
    assert _count([100, 9000], [1000, 2000], [40.0, 40.0]) == (2, 0)
    assert _count([5], [], []) == (0, 0)
