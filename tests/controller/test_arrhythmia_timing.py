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


def _run_with_suspicion(intervals_ms: list[int], suspect: set[int],
                        mode: OperatorCommand = OperatorCommand.START_ECG
                        ) -> list[tuple[int, bool]]:
    """Like :func:`_run`, with the detector's QRS suspicion raised on the ticks in
    ``suspect``: (tick, inflate command) for every tick."""
    c = Controller(DEFAULT_SETTINGS)
    c.step(ControllerInputs(op=mode))
    reports, t = [], 1
    for iv in intervals_ms:
        t += iv
        reports.append(t)
    out = []
    for tick in range(1, reports[-1] + 1200):
        r = tick in reports
        o = c.step(ControllerInputs(r_wave=r, activity=r, qrs_suspect=tick in suspect))
        out.append((tick, o.inflate))
    return out


def _inflated_ticks(trace: list[tuple[int, bool]]) -> set[int]:
    return {t for t, on in trace if on}


def test_a_qrs_suspicion_deflates_at_once_and_the_beat_is_not_inflated_again() -> None:
    """An early beat's QRS: the detector opens a candidate 8 ms before it decides. The
    balloon deflates on the first suspicious tick, not on the decision, and stays empty
    for the rest of that beat even after the suspicion ends without a report (noise)."""
    intervals = [800] * 6
    steady = _inflated_ticks(_run_with_suspicion(intervals, set()))
    inflated = sorted(steady)
    # a tick in the middle of an inflation after the 4th report
    reports = [1 + 800 * (k + 1) for k in range(6)]
    during = [t for t in inflated if reports[3] < t < reports[4]]
    assert len(during) > 100
    s0 = during[len(during) // 2]
    trace = _inflated_ticks(_run_with_suspicion(intervals, set(range(s0, s0 + 8))))
    assert s0 - 1 in trace and s0 not in trace, "deflated on the first suspicious tick"
    assert not [t for t in trace if s0 <= t < reports[4]], "not inflated again in that beat"
    # the next beat is assisted as before: the suspicion costs one beat's augmentation
    assert {t for t in trace if t > reports[4]} == {t for t in steady if t > reports[4]}


def test_a_qrs_suspicion_before_the_inflation_holds_it_off_only_while_it_lasts() -> None:
    intervals = [800] * 6
    reports = [1 + 800 * (k + 1) for k in range(6)]
    steady = _inflated_ticks(_run_with_suspicion(intervals, set()))
    start = min(t for t in steady if t > reports[3])
    trace = _inflated_ticks(_run_with_suspicion(intervals, set(range(start - 3, start + 5))))
    assert min(t for t in trace if t > reports[3]) == start + 5
    assert max(t for t in trace if reports[3] < t < reports[4]) == \
        max(t for t in steady if reports[3] < t < reports[4]), "deflates where it would have"


def test_the_qrs_suspicion_is_an_ecg_trigger_input_only() -> None:
    """In pressure trigger the R-wave detector's suspicion is not read: the pump times that
    mode from the pressure (upstroke, notch), and the same run with the suspicion raised
    on every tick inflates exactly as without it."""
    def run(suspect: bool) -> list[bool]:
        c = Controller(DEFAULT_SETTINGS)
        c.step(ControllerInputs(op=OperatorCommand.START_PRESSURE))
        out = []
        for tick in range(1, 8000):
            up, notch = tick % 800 == 100, tick % 800 == 420
            o = c.step(ControllerInputs(upstroke=up, notch=notch, activity=up,
                                        qrs_suspect=suspect))
            out.append(o.inflate)
        return out

    without = run(False)
    assert sum(without) > 1000, "the pressure run inflates"
    assert run(True) == without
