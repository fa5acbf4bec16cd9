"""No alarm before its cause: alarms that stop therapy or teach staff to ignore them.

P-TRIGGER-LOSS-CAUSE and P-IDLE-ALARM-CAUSE are the other direction of P-TRIGGER-LOSS and
P-IDLE-ALARM; the broken variants V-TRIGGER-TIMER-KEPT-ON-ENTRY,
V-ACCEPT-SHORT-TRIGGER-LOSS-TIMEOUT and V-IDLE-COUNTED-DOUBLE break them
(tests/proofs/test_variants.py). Here the real spec and the concrete Controller run the
slowest heart the console supports, detected at the extremes of the decision delay.
"""

from __future__ import annotations

from typing import Any

import pytest

from iabp.proofs.scenarios import least_accepted
from iabp.proofs.simulate import (
    BeatChoice,
    HeartScript,
    Scenario,
    ejection_bounds,
    steady_heart,
)
from iabp.spec import assumptions as A
from iabp.spec.settings import DEFAULT_SETTINGS
from iabp.spec.timing import RR_MAX_MS
from tests.proofs.ecg_runs import SIM, SPEC, run_ecg


def _slowest_heart_widest_gaps() -> HeartScript:
    """40 bpm, the R-wave decision alternating between its earliest and latest: every
    other interval between two reports is the longest a detected heart leaves."""
    def script(i: int, prev_rr: int, prev_pep: int) -> BeatChoice:
        plo, _, qlo, qhi = ejection_bounds(prev_rr)
        delay = A.R_DETECT_DELAY_MAX_MS if i % 2 else A.R_DETECT_DELAY_MIN_MS
        return BeatChoice(RR_MAX_MS, max(plo, prev_pep - 10), (qlo + qhi) // 2,
                          r_delay_ms=delay)
    return script


@pytest.mark.property("P-TRIGGER-LOSS-CAUSE")
def test_a_slow_heart_detected_on_every_beat_never_raises_trigger_loss() -> None:
    timeout = least_accepted("trigger_loss_timeout_ms")
    assert timeout == RR_MAX_MS + A.R_DETECT_JITTER_MS + 1
    settings = {**DEFAULT_SETTINGS, "trigger_loss_timeout_ms": timeout}
    prop = SPEC.property("P-TRIGGER-LOSS-CAUSE")
    run = run_ecg(_slowest_heart_widest_gaps(), 16_000, RR_MAX_MS, [prop], settings=settings)
    assert prop.id not in run.violation_tick
    gaps = _report_gaps(run.rows)
    assert max(gaps) == RR_MAX_MS + A.R_DETECT_JITTER_MS  # the widest gap was reached
    assert not any(r["alm_trigger_loss"] for r in run.rows)


def _report_gaps(rows: list[dict[str, Any]]) -> list[int]:
    ticks = [r["tick"] for r in rows if r.get("r_wave")]
    return [b - a for a, b in zip(ticks, ticks[1:], strict=False)]


@pytest.mark.property("P-IDLE-ALARM-CAUSE")
def test_the_idle_alarm_comes_at_the_limit_not_before() -> None:
    limit = least_accepted("idle_limit_ms")
    sc = Scenario("idle", limit + 50, steady_heart(750), lambda tick, state: {},
                  {**DEFAULT_SETTINGS, "idle_limit_ms": limit})
    props = [SPEC.property("P-IDLE-ALARM-CAUSE"), SPEC.property("P-IDLE-ALARM")]
    run = SIM.run(sc, props)
    assert run.violation_tick == {}
    first = next(r["tick"] for r in run.rows if r["alm_idle"])
    assert first == next(r["tick"] for r in run.rows if r["obs_idle_ms"] >= limit)
