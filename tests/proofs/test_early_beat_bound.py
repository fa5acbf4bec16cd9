"""P-EARLY-BEAT-BOUND by execution: any rhythm, the concrete controller, the stated bound.

The prover shows the property for every reachable state; these runs show the same claim
on concrete traces outside ASM-RR-STEP (premature beats, AF-like irregularity, pauses),
with the executable :class:`Controller` shadowing the spec step, and measure the helium
in ejection per beat against the bound the prover prints.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iabp.proofs.engine import property_assumptions
from iabp.proofs.simulate import BeatChoice, ejection_bounds
from iabp.spec import assumptions as A
from iabp.spec.controller_step import inflate_cmd
from iabp.spec.engines.to_python import compile_expr
from iabp.spec.environment import balloon_may_hold_gas, in_ejection
from iabp.spec.modes import Mode
from iabp.spec.properties import early_beat_helium_bound_ms
from tests.proofs.ecg_runs import SPEC, run_ecg

PROP = next(p for p in SPEC.properties if p.id == "P-EARLY-BEAT-BOUND")
SINUS = next(p for p in SPEC.properties if p.id == "P-NO-GAS-IN-EJECTION")
ASSUMPTIONS = property_assumptions(SPEC, PROP)
#: The spec's own gas model and ejection window, evaluated on each recorded state.
HELIUM_IN_EJECTION = compile_expr(balloon_may_hold_gas(inflate_cmd) & in_ejection())


def _bound_ms(prev_rr_ms: int) -> int:
    return next(ms for lo, hi, ms in early_beat_helium_bound_ms() if lo <= prev_rr_ms <= hi)


def _any_rhythm(beats: list[tuple[int, float, float, int]]):
    """A heart with no limit on the R-R or PEP step: each beat any R-R that outlasts its own
    ejection, ejection anywhere in the bands of the interval before it, any detector delay
    in range."""
    def script(i: int, prev_rr: int, prev_pep: int) -> BeatChoice:
        rr, pep_pos, qs2_pos, r_delay = beats[i % len(beats)]
        plo, phi, qlo, qhi = ejection_bounds(prev_rr)
        pep = round(plo + pep_pos * (phi - plo))
        qs2 = max(pep + 1, round(qlo + qs2_pos * (qhi - qlo)))
        # ASM-EJECTION: a beat's ejection ends inside the beat (the next QRS cannot come
        # before this one's aortic valve closes)
        return BeatChoice(max(rr, qs2 + 1), pep, qs2, r_delay_ms=r_delay)
    return script


def _run(beats: list[tuple[int, float, float, int]], ticks: int) -> tuple[Any, list[int]]:
    """START_ECG and the heart; returns the run and, per beat in ECG mode, the ms of
    helium in ejection (checked against the concrete Controller on every tick)."""
    run = run_ecg(_any_rhythm(beats), ticks, beats[0][0], [PROP, SINUS], ASSUMPTIONS)
    overlaps: list[tuple[int, int]] = []
    for row in run.rows:
        if row.get("heart_t_ms") == 0:
            overlaps.append((row["heart_prev_rr_ms"], 0))
        if overlaps and row["mode"] is Mode.ECG_TRIGGER and HELIUM_IN_EJECTION(row):
            prev_rr, ms = overlaps[-1]
            overlaps[-1] = (prev_rr, ms + 1)
    for prev_rr, ms in overlaps:
        assert ms <= _bound_ms(prev_rr), (prev_rr, ms)
    return run, [ms for _, ms in overlaps]


def test_a_premature_beat_puts_helium_in_ejection_within_the_bound_and_sinus_proof_fails() -> None:
    # four 800 ms beats, then one 560 ms after them: the balloon, inflated for an 800 ms
    # beat, is full when the premature beat ejects; the R wave (decided at the latest
    # allowed delay) deflates it
    late = A.R_DETECT_DELAY_MAX_MS
    beats = [(800, 0.0, 0.5, late)] * 4 + [(560, 0.0, 0.5, late)] + [(800, 0.0, 0.5, late)] * 3
    run, overlaps = _run(beats, 7000)
    assert PROP.id not in run.violation_tick
    assert SINUS.id in run.violation_tick, "outside ASM-RR-STEP the zero result does not hold"
    assert max(overlaps) > 0


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(334, 1500), st.floats(0, 1), st.floats(0, 1),
                          st.integers(A.R_DETECT_DELAY_MIN_MS, A.R_DETECT_DELAY_MAX_MS)),
                min_size=3, max_size=12))
def test_on_any_rhythm_helium_in_ejection_stays_within_the_printed_bound(beats) -> None:
    run, _ = _run(beats, 6000)
    assert PROP.id not in run.violation_tick, run.violation_tick
