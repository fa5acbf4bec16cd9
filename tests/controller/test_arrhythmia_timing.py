"""Arrhythmia timing (issue 13): after an early beat the balloon is timed for a beat as early.

The controller deflates before the earliest next ejection the R-R FLOOR allows (the
shortest recent trigger interval, rising by at most ``RR_FLOOR_RISE_MS`` per beat), so an
early beat (a PVC, an AF beat) does not find the balloon full on the beats after it.
"""

from __future__ import annotations

from iabp.controller.controller import Controller, ControllerInputs
from iabp.spec.controller_step import RR_FLOOR_RISE_MS, ecg_deflate_at_ms
from iabp.spec.modes import OperatorCommand
from iabp.spec.settings import DEFAULT_SETTINGS


def _run(intervals_ms: list[int]) -> tuple[Controller, list[tuple[int, int]], list[int]]:
    """START_ECG, then R-wave reports at the given intervals; returns the inflations
    (start, end tick) and the report ticks."""
    c = Controller(DEFAULT_SETTINGS)
    c.step(ControllerInputs(op=OperatorCommand.START_ECG))
    reports, t = [], 1
    for iv in intervals_ms:
        t += iv
        reports.append(t)
    inflations: list[tuple[int, int]] = []
    start = None
    for tick in range(1, reports[-1] + 1200):
        out = c.step(ControllerInputs(r_wave=tick in reports, activity=tick in reports))
        if out.inflate and start is None:
            start = tick
        elif not out.inflate and start is not None:
            inflations.append((start, tick))
            start = None
    return c, inflations, reports


def _inflation_after(inflations: list[tuple[int, int]], report: int) -> tuple[int, int]:
    return next((a, b) for a, b in inflations if a > report)


def test_the_floor_follows_a_short_interval_at_once_and_climbs_back_slowly() -> None:
    c, _, _ = _run([800] * 5 + [600] + [800] * 3)
    floor = c.state["rr_floor_ms"]
    assert floor == 600 + 3 * RR_FLOOR_RISE_MS
    assert c.state["rr_est_ms"] == 800


def test_after_an_early_beat_inflation_ends_in_time_for_another_as_early() -> None:
    lead = DEFAULT_SETTINGS["ecg_deflation_lead_ms"]
    steady, infl_steady, rep_steady = _run([800] * 8)
    early, infl_early, rep_early = _run([800] * 5 + [640] + [800] * 2)
    # the beat after the early one (report index 6): same interval as the steady run
    a_s, b_s = _inflation_after(infl_steady, rep_steady[6])
    a_e, b_e = _inflation_after(infl_early, rep_early[6])
    assert a_e - rep_early[6] == a_s - rep_steady[6], "inflation starts at the same point"
    # ...but deflates where a 640 + RR_FLOOR_RISE_MS ms beat would need it, not an 800 ms one
    assert b_s - rep_steady[6] == ecg_deflate_at_ms_int(800, lead)
    assert b_e - rep_early[6] == ecg_deflate_at_ms_int(640 + RR_FLOOR_RISE_MS, lead)
    assert b_e < b_s - 100


def test_sinus_rhythm_keeps_the_floor_at_the_measured_interval() -> None:
    c, _, _ = _run([800, 790, 780, 790, 800, 810, 820, 830])
    # a longer interval raises the floor by at most RR_FLOOR_RISE_MS: steps of 10 ms keep it
    # equal to the measured interval
    assert c.state["rr_est_ms"] == 830
    assert c.state["rr_floor_ms"] == 830


def ecg_deflate_at_ms_int(rr_ms: int, lead_ms: int) -> int:
    """The spec's ECG deflation point (ms after the report) for a concrete interval."""
    from iabp.spec.engines.to_python import compile_expr
    from iabp.spec.expr import INT, Var

    f = compile_expr(ecg_deflate_at_ms(Var("rr", INT), Var("lead", INT)))
    return int(f({"rr": rr_ms, "lead": lead_ms}))


def test_a_false_report_splitting_a_beat_leaves_the_floor_alone() -> None:
    # a false report 450 ms after an R wave at 80 bpm: 450 + 300 ms; 300 ms is shorter than
    # any R-R the heart can produce, so the 450 ms update is undone
    c, _, _ = _run([750] * 5 + [450, 300] + [750] * 2)
    assert c.state["rr_floor_ms"] == 750
    # the same at 150 ms: 150 is impossible (undo), its other half (600) is skipped
    c, _, _ = _run([750] * 5 + [150, 600] + [750] * 2)
    assert c.state["rr_floor_ms"] == 750


def test_a_real_early_beat_with_its_compensatory_pause_lowers_the_floor() -> None:
    c, _, _ = _run([750] * 5 + [450, 1050] + [750] * 2)
    assert c.state["rr_floor_ms"] == 450 + 3 * RR_FLOOR_RISE_MS
