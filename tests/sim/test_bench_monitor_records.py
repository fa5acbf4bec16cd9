"""The monitor record benchmark's trip counting (``benchmarks/bench_monitor_records.py``).

The monitor latches at its first trip; the benchmark's operator acknowledges each trip so
that every later violation is counted as a trip of its own. Checked on the simulated
console: clean (no trip) and with a late-deflation fault from 3 s (helium in every
ejection after it: a trip per beat, each acknowledged and re-armed).
"""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.bench_monitor_records import (
    FALSE,
    LOOK,
    RIGHT,
    RecordResult,
    TripRecord,
    auto_triage,
    monitor_trips,
    render_md,
    result_from_json,
    to_json,
)
from tests.monitor.test_reconstruct import console_bytes


def test_a_clean_console_has_no_trip() -> None:
    trips, mon = monitor_trips(console_bytes(6.0), "clean")
    assert trips == [] and mon.report.frames > 5900


def test_every_violation_after_an_acknowledge_is_a_trip_of_its_own() -> None:
    trips, mon = monitor_trips(console_bytes(6.0, "late-deflation", 3000), "late")
    assert len(trips) >= 3  # one per beat after the fault (80 bpm, 3 s)
    assert {t.rule for t in trips} == {"MON-NO-GAS-IN-EJECTION"}
    assert all(t.console_ms >= 3000 for t in trips)
    assert all(t.acknowledged_ms is not None and t.acknowledged_ms - t.console_ms <= 10
               for t in trips)
    assert [t.console_ms for t in trips] == sorted(t.console_ms for t in trips)
    assert "MON-STOP-OBEYED" not in {r["rule"] for t in trips for r in t.reasons}
    assert all(t.message.startswith("MON-NO-GAS-IN-EJECTION: ") for t in trips)


def test_results_survive_their_json_form(tmp_path: Path) -> None:
    trip = TripRecord(3113, "MON-NO-GAS-IN-EJECTION", "RULE_VIOLATION", "m", 3109,
                      [{"rule": "MON-NO-GAS-IN-EJECTION", "console_ms": 3109, "message": "m"}],
                      3121, evidence={"beats": [], "inflations": [(3023, 3072)],
                                      "reference_says_helium_in_ejection": False,
                                      "worst_helium_in_ejection_ms": 0.0})
    res = RecordResult("mitdb/233", "PVC-heavy", 60.0, 60000, [trip],
                       {"MON-NO-GAS-IN-EJECTION": 1}, {}, "atr", 8.0, 2.0)
    meta = {"command": "x", "generated": "now", "git_head": "abc", "uncommitted_files": 0,
            "machine": "m", "uptime": "u", "jobs": 1, "seconds": 60.0, "wall_s": 10.0}
    out = json.loads(json.dumps(to_json([res], meta)))
    assert out["pooled"]["trips"] == 1 and out["pooled"]["trips_per_hour"] == 60.0
    back = result_from_json(out["records"][0])
    assert back.trips_by_rule == {"MON-NO-GAS-IN-EJECTION": 1}
    assert back.trips[0].console_ms == 3113
    md = render_md(out)
    assert "mitdb/233 trip 1: MON-NO-GAS-IN-EJECTION at 3113 ms" in md
    assert "look: no evidence rule decides it" in md


def _beat(r_ms: int, own: bool = True) -> dict[str, object]:
    """A reference beat at ``r_ms`` ejecting over [R + 60, R + 360) (Q-to-R 30 ms)."""
    return {"r_ms": r_ms, "symbol": "N", "rhythm": "", "qr_ms": 30.0,
            "ejection_ms": [r_ms + 60, r_ms + 360], "monitor_beats": [{}] if own else []}


def _trip(about: int, beats: list[dict[str, object]], inflations: list[list[int]],
          unmatched: int = 0, rule: str = "MON-NO-GAS-IN-EJECTION",
          **evidence: object) -> dict[str, object]:
    return {"console_ms": about + 5, "about_ms": about, "rule": rule, "evidence": {
        "beats": beats, "inflations": inflations,
        "monitor_beats_unmatched": [{"onset_ms": 900}] * unmatched, **evidence}}


def test_the_evidence_rule() -> None:
    # helium from on + 20 to off + 40: an inflation at 1200 puts helium in the ejection of
    # the beat at 1000 ([1060, 1360)) from 1220: 140 ms (strict); the lenient judge ends
    # ejection at R + QS2, 15 ms later with a 30 ms Q-to-R: 155 ms
    verdict, why = auto_triage(_trip(1200, [_beat(1000)], [[1200, 1500]], unmatched=1), "atr")
    assert verdict == RIGHT and "N@1000 (140 ms strict, 155 ms lenient)" in why
    # inflation after the ejection: no helium in it; a false own beat explains the trip
    assert auto_triage(_trip(1400, [_beat(1000)], [[1400, 1700]], unmatched=1),
                       "atr")[0] == FALSE
    verdict, why = auto_triage(_trip(1400, [_beat(1000, own=False)], [[1400, 1700]]), "atr")
    assert verdict == FALSE and "missed reference beat N@1000" in why
    verdict, why = auto_triage(_trip(1400, [_beat(1000)], [[1400, 1700]]), "xqrs")
    assert verdict == LOOK and "not a reference" in why


def test_an_inflation_in_systole_is_the_monitor_right_even_if_helium_left_in_time() -> None:
    # QRS onset at 970; inflated 975-990: helium [995, 1030), gone before ejection (1060)
    verdict, why = auto_triage(_trip(975, [_beat(1000)], [[975, 990]], unmatched=1,
                                     rule="MON-INFL-DIASTOLE"), "atr")
    assert verdict == RIGHT and "began 5 ms after the QRS onset of N@1000" in why


def test_suspended_assist_and_trigger_loss_are_counted_on_the_reference() -> None:
    trip = _trip(5000, [_beat(4600)], [], unmatched=1, rule="MON-ASSIST-SUSPENDED",
                 reference_beats_since_last_inflation=4, last_reference_r_ms=4600)
    assert auto_triage(trip, "atr")[0] == RIGHT
    trip["evidence"]["reference_beats_since_last_inflation"] = 3  # type: ignore[index]
    assert auto_triage(trip, "atr")[0] == FALSE  # the monitor's own extra beat
    loss = _trip(5000, [], [], rule="MON-TRIGGER-LOSS", last_reference_r_ms=2000)
    verdict, why = auto_triage(loss, "atr")
    assert verdict == RIGHT and "no reference beat for 3005 ms" in why
