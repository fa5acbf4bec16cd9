"""The rhythm benchmark's judge (``benchmarks/bench_rhythms.py``): its arithmetic on synthetic beats.

A steady 60 bpm heart (R every 1000 ms): Weissler PEP = 131 - 0.4 x 60 = 107 ms, minus the
10 ms tolerance = 97 ms; QS2 = 546 - 2.1 x 60 = 420 ms, plus the 15 ms tolerance = 435 ms,
both from the QRS onset. With a Q-to-R time of 40 ms, beat R ejects over
[R - 40 + 97, R - 40 + 435) = [R + 57, R + 395) (strict judge), over [R + 57, R + 420)
(previous strict judge, end from the R peak) and over [R + 97, R + 420) (lenient judge). Helium is in the balloon from the inflate
command + 20 ms to the deflate command + 40 ms.
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.bench_rhythms import (
    ejection_windows,
    helium_intervals,
    judge_beats,
    overlap_ms,
    rr_before,
    summarize,
)

R = np.arange(1000, 9000, 1000, dtype=np.int64)  # 8 beats at 60 bpm
QR = np.full(R.size, 40.0)


def test_steady_60_bpm_windows() -> None:
    a, b = ejection_windows(R, QR)
    assert a == pytest.approx(R + 57.0)
    assert b == pytest.approx(R + 395.0)
    a_prev, b_prev = ejection_windows(R, QR, end_from_r=True)
    assert a_prev == pytest.approx(R + 57.0)
    assert b_prev == pytest.approx(R + 420.0)
    a_len, b_len = ejection_windows(R, QR, from_r=True)
    assert a_len == pytest.approx(R + 97.0)
    assert b_len == pytest.approx(R + 420.0)


def test_balloon_still_full_at_ejection_start_counts_the_overlap() -> None:
    # command on in the diastole after the beat at 2000, off at 3030: helium until 3070,
    # the beat at 3000 ejects from 3057 -> 13 ms of helium in ejection
    j = judge_beats(R, QR, [(2430, 3030)], end_ms=9000)
    k = int(np.flatnonzero(R == 3000)[0])
    assert j.overlap[k] == pytest.approx(13.0)
    assert j.overlap.sum() == pytest.approx(13.0)
    # the same inflation judged from the R peak (ejection from 3097) does not overlap
    lenient = judge_beats(R, QR, [(2430, 3030)], from_r=True, end_ms=9000)
    assert lenient.overlap.sum() == 0.0
    # the beat at 2000 is assisted: helium [2450, 3057) lies in its diastole [2395, 3057)
    assert j.diastole_helium[k - 1] == pytest.approx(3057 - 2450)
    assert j.assisted.tolist() == [False, True] + [False] * 6


def test_inflating_before_the_end_of_ejection_counts_from_the_helium_arrival() -> None:
    # command on at 3360: helium from 3380, ejection of the beat at 3000 ends at 3395
    j = judge_beats(R, QR, [(3360, 3900)], end_ms=9000)
    assert j.overlap.tolist() == pytest.approx([0, 0, 15, 0, 0, 0, 0, 0])
    # judged with the end from the R peak (3420) the same inflation overlaps 40 ms
    prev = judge_beats(R, QR, [(3360, 3900)], end_from_r=True, end_ms=9000)
    assert prev.overlap.tolist() == pytest.approx([0, 0, 40, 0, 0, 0, 0, 0])


def test_a_clean_beat_counts_zero() -> None:
    # helium [2450, 3030): deflated 27 ms before the next ejection (3057)
    j = judge_beats(R, QR, [(2430, 2990)], end_ms=9000)
    assert j.overlap.sum() == 0.0
    s = summarize(j)
    assert s["beats_helium_in_ejection"] == 0
    assert s["worst_overlap_ms"] == 0.0
    assert s["pct_assisted"] == pytest.approx(100.0 / 8)


def test_assisted_beats_one_in_two() -> None:
    # 1:2: inflate in the diastole of every other beat, helium [R + 450, R + 990)
    inf = [(int(r) + 430, int(r) + 950) for r in R[::2]]
    j = judge_beats(R, QR, inf, end_ms=9000)
    assert j.assisted.tolist() == [True, False] * 4
    assert j.diastole_helium[::2] == pytest.approx(np.full(4, 540.0))
    s = summarize(j)
    assert s["beats"] == 8
    assert s["pct_assisted"] == pytest.approx(50.0)
    assert s["mean_augmentation_ms"] == pytest.approx(540.0)
    assert s["beats_helium_in_ejection"] == 0
    # beats before the START key are left out of the summary
    assert summarize(j, skip_before_ms=2500)["beats"] == 6


def test_rate_from_the_rr_that_ended_at_the_beat_clamped_to_the_spec_range() -> None:
    r = np.array([1000, 1250, 2250], dtype=np.int64)  # a beat 250 ms early (240 bpm)
    assert rr_before(r).tolist() == [250.0, 250.0, 1000.0]  # first beat: the R-R after it
    a, b = ejection_windows(r, np.zeros(3))
    hr = 60000.0 / 334  # 250 ms is clamped to the spec's shortest R-R
    assert a[1] - 1250 == pytest.approx(131 - 0.4 * hr - 10)
    assert b[1] - 1250 == pytest.approx(546 - 2.1 * hr + 15)
    assert a[2] - 2250 == pytest.approx(97.0)  # after a 1000 ms R-R: 60 bpm


def test_helium_intervals_merge_and_overlap_sums() -> None:
    he = helium_intervals([(0, 100), (110, 200), (500, 510)])
    assert he.tolist() == [[20, 240], [520, 550]]
    ov = overlap_ms(he, np.array([0.0, 230.0, 600.0]), np.array([30.0, 530.0, 700.0]))
    assert ov.tolist() == [10.0, 20.0, 0.0]
