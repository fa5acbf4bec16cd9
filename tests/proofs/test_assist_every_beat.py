"""P-ASSIST-EVERY-BEAT and P-INFLATION-HELD by execution: the efficacy envelope is
reached, its edge is real, and each inflation lasts what the README's table says.

Runs the spec (and the concrete Controller beside it) on steady hearts: inside the
envelope every beat gets an inflation once the run is long enough; at 100 bpm, just
outside it, the detector jitter the assumptions allow really makes the controller skip
beats, so the envelope is not only the proof being cautious.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iabp.proofs.readme import least_inflation_ms
from iabp.proofs.simulate import BeatChoice, steady_heart
from iabp.spec import assumptions as A
from iabp.spec.settings import DEFAULT_SETTINGS
from tests.proofs.ecg_runs import SPEC, run_ecg

PROP = SPEC.property("P-ASSIST-EVERY-BEAT")
HELD = SPEC.property("P-INFLATION-HELD")


def _run(rr_ms: int, delays_ms: list[int], beats: int, ratio: int = 1
         ) -> tuple[Any, list[int]]:
    """START_ECG on a steady heart whose R-wave delays cycle through ``delays_ms``;
    returns the run (P-ASSIST-EVERY-BEAT and P-INFLATION-HELD checked on every tick) and,
    per beat, how many inflations started in it."""
    base = steady_heart(rr_ms)

    def heart(i: int, prev_rr: int, prev_pep: int) -> BeatChoice:
        b = base(i, prev_rr, prev_pep)
        return BeatChoice(**{**b.__dict__, "r_delay_ms": delays_ms[i % len(delays_ms)]})

    run = run_ecg(heart, rr_ms * beats, rr_ms, [PROP, HELD],
                  settings={**DEFAULT_SETTINGS, "assist_ratio": ratio})
    per_beat: list[int] = []
    prev = False
    for row in run.rows:
        if row["heart_t_ms"] == 0:
            per_beat.append(0)
        if row["inflate_cmd"] and not prev and per_beat:
            per_beat[-1] += 1
        prev = row["inflate_cmd"]
    return run, per_beat


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([1000, 857, 750, 667]),
       st.lists(st.integers(A.R_DETECT_DELAY_MIN_MS, A.R_DETECT_DELAY_MAX_MS), min_size=1,
                max_size=6))
def test_inside_the_envelope_every_beat_is_inflated_once_the_run_is_long(rr, delays) -> None:
    run, per_beat = _run(rr, delays, 24)
    assert PROP.id in run.premise_tick, "the run reaches the envelope"
    assert PROP.id not in run.violation_tick
    # from the first beat the property speaks about on (README table: at most 17 beats at
    # these rates, plus the beat the console starts in), every beat is inflated
    assert all(n >= 1 for n in per_beat[18:-1]), per_beat


def test_at_1_to_3_every_third_beat_is_inflated() -> None:
    run, per_beat = _run(750, [40, 70], 26, ratio=3)
    assert PROP.id in run.premise_tick and PROP.id not in run.violation_tick
    late = per_beat[18:-1]
    assert all(sum(late[i:i + 3]) == 1 for i in range(len(late) - 2)), late


def test_just_outside_the_envelope_the_allowed_jitter_really_skips_beats() -> None:
    # 100 bpm, decisions alternating between the earliest and latest allowed delay: the
    # measured interval alternates 665 / 535 ms; after a 535 the floor closes the window
    # before a 665-ms estimate opens it
    _, per_beat = _run(600, [A.R_DETECT_DELAY_MIN_MS, A.R_DETECT_DELAY_MAX_MS], 30)
    steady = per_beat[20:-1]
    assert 0 in steady, steady
    # with a steady detector the same rhythm is assisted on every beat
    _, per_beat = _run(600, [50], 12)
    assert all(n >= 1 for n in per_beat[5:-1]), per_beat


def _inflation_lengths_ms(run: Any, from_tick: int) -> list[int]:
    """Length of every inflation that starts at or after ``from_tick`` and ends in the run."""
    out, start, prev = [], None, False
    for row in run.rows:
        on = row["inflate_cmd"]
        if on and not prev:
            start = row["tick"]
        if prev and not on and start is not None and start >= from_tick:
            out.append(row["tick"] - start)
        prev = on
    return out


def test_each_inflation_lasts_at_least_what_the_readme_table_says() -> None:
    least = least_inflation_ms(750, 750)
    shortest = {}
    # 80 bpm with decisions alternating between the earliest and the latest allowed delay
    # (measured intervals alternate 815 / 685 ms: the case the table is built on), and a
    # steady detector
    for delays in ((A.R_DETECT_DELAY_MIN_MS, A.R_DETECT_DELAY_MAX_MS), (50,)):
        run, _ = _run(750, list(delays), 30)
        assert HELD.id in run.premise_tick and HELD.id not in run.violation_tick
        lengths = _inflation_lengths_ms(run, from_tick=750 * 18)
        assert len(lengths) >= 10
        shortest[delays] = min(lengths)
    assert min(shortest.values()) >= least, shortest
    # the jittery detector comes within 25 ms of the bound (measured 125 vs 105 ms): the
    # table is tight, not only cautious; a steady detector gets much longer inflations
    jittery = shortest[(A.R_DETECT_DELAY_MIN_MS, A.R_DETECT_DELAY_MAX_MS)]
    assert jittery <= least + 25 < shortest[(50,)], shortest
