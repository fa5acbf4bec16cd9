"""Scripted scenarios for witness traces and counterexample search.

Each scenario is a legal environment (checked tick by tick against the spec's
assumptions by :class:`iabp.proofs.simulate.SpecSimulator`) plus an operator. Together they
reach every property's premise; they are also the first place a broken variant's
counterexample is looked for.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from iabp.proofs.simulate import BeatChoice, HeartScript, OperatorScript, Scenario, steady_heart
from iabp.spec import assumptions as A
from iabp.spec.engines.to_python import compile_expr
from iabp.spec.modes import OperatorCommand as Op
from iabp.spec.settings import DEFAULT_SETTINGS, SETTINGS, current_settings, settings_valid


def _press(at: dict[int, Mapping[str, Any]]) -> OperatorScript:
    """Operator inputs at given ticks (each a dict of input values), idle otherwise."""
    def script(tick: int, _state: Mapping[str, Any]) -> Mapping[str, Any]:
        return at.get(tick, {})
    return script


def _hold(at: dict[int, Mapping[str, Any]], spans: list[tuple[int, int, Mapping[str, Any]]]
          ) -> OperatorScript:
    """Inputs at single ticks plus inputs held over [start, end) spans."""
    def script(tick: int, _state: Mapping[str, Any]) -> Mapping[str, Any]:
        out: dict[str, Any] = {}
        for start, end, values in spans:
            if start <= tick < end:
                out.update(values)
        out.update(at.get(tick, {}))
        return out
    return script


def _with_misses(base: HeartScript, every: int, field: str = "r_missed") -> HeartScript:
    """Miss one beat in ``every`` (isolated misses: legal under ASM-MISS-SPACING)."""
    def script(i: int, prev_rr: int, prev_pep: int) -> BeatChoice:
        b = base(i, prev_rr, prev_pep)
        if i % every == every - 1:
            return BeatChoice(**{**b.__dict__, field: True})
        return b
    return script


def _lost_between(base: HeartScript, first: int, last: int, field: str = "r_missed"
                  ) -> HeartScript:
    """The detector misses every beat from ``first`` to ``last`` (a lost lead)."""
    def script(i: int, prev_rr: int, prev_pep: int) -> BeatChoice:
        b = base(i, prev_rr, prev_pep)
        if first <= i <= last:
            return BeatChoice(**{**b.__dict__, field: True})
        return b
    return script


def _silent_between(base: HeartScript, first: int, last: int) -> HeartScript:
    def script(i: int, prev_rr: int, prev_pep: int) -> BeatChoice:
        b = base(i, prev_rr, prev_pep)
        if first <= i <= last:
            return BeatChoice(**{**b.__dict__, "silent": True})
        return b
    return script


def _varying(rrs: list[int], **kw: Any) -> HeartScript:
    """A heart whose R-R follows ``rrs`` cyclically (steps must respect ASM-RR-STEP)."""
    def script(i: int, prev_rr: int, prev_pep: int) -> BeatChoice:
        return steady_heart(rrs[i % len(rrs)], **kw)(i, prev_rr, prev_pep)
    return script


def _while_inflated(start: Mapping[str, Any], acts: list[tuple[int, Mapping[str, Any], int]],
                    start_at: int = 5) -> OperatorScript:
    """``start`` at tick ``start_at``; then each act ``(not_before, inputs, hold_ms)`` in turn: at the
    first tick from ``not_before`` on which the balloon is inflated, ``inputs`` are held for
    ``hold_ms`` ticks (a fault or STANDBY that lands mid-inflation); ``start`` is pressed
    again 300 ms after each act (the operator acknowledges 200 ms after it)."""
    todo = list(acts)
    held: dict[int, Mapping[str, Any]] = {start_at: start}

    def script(tick: int, state: Mapping[str, Any]) -> Mapping[str, Any]:
        if todo and tick >= todo[0][0] and state["inflate_cmd"]:
            _, inputs, hold = todo.pop(0)
            for t in range(tick, tick + hold):
                held[t] = inputs
            held[tick + hold + 200] = {"op": Op.ACKNOWLEDGE}
            held[tick + hold + 300] = start
        return held.get(tick, {})
    return script


def scenarios() -> list[Scenario]:
    """The standard library of scenarios (about 70 s of simulated time in all)."""
    s = dict(DEFAULT_SETTINGS)
    ratio2 = {**s, "assist_ratio": 2}
    ratio3 = {**s, "assist_ratio": 3}
    ack = {"op": Op.ACKNOWLEDGE}
    bad_request = {"set_request": True, "req_ecg_deflation_lead_ms": 10}
    good_request = {"set_request": True, "req_inflation_offset_ms": 20}
    long_timeout_request = {"set_request": True, "req_trigger_loss_timeout_ms": 20_000}
    return [
        Scenario("ecg-80bpm", 6000, steady_heart(750), _press({5: {"op": Op.START_ECG}})),
        Scenario("ecg-100bpm-late-detector-early-ejection", 6000,
                 steady_heart(600, pep_pos=0.0, qs2_pos=1.0, r_delay_ms=A.R_DETECT_DELAY_MAX_MS),
                 _press({5: {"op": Op.START_ECG}}), first_rr_ms=600),
        Scenario("ecg-80bpm-fast-detector-late-closure", 6000,
                 steady_heart(750, qs2_pos=1.0, r_delay_ms=A.R_DETECT_DELAY_MIN_MS),
                 _press({5: {"op": Op.START_ECG}})),
        Scenario("ecg-150bpm-no-window", 5000, steady_heart(400),
                 _press({5: {"op": Op.START_ECG}}), first_rr_ms=400),
        Scenario("ecg-varying-rate", 8000, _varying([700, 660, 620, 660, 700, 740]),
                 _press({5: {"op": Op.START_ECG}}), first_rr_ms=700),
        Scenario("ecg-ratio-1:2", 6000, steady_heart(750), _press({5: {"op": Op.START_ECG}}),
                 ratio2),
        Scenario("ecg-ratio-1:3", 6000, steady_heart(750), _press({5: {"op": Op.START_ECG}}),
                 ratio3),
        Scenario("ecg-missed-beats", 8000, _with_misses(steady_heart(700), 5),
                 _press({5: {"op": Op.START_ECG}}), first_rr_ms=700),
        # the operator acknowledges while the lead is still off (the alarm must stay)
        Scenario("ecg-lead-off", 9000, _lost_between(steady_heart(750), 5, 9),
                 _press({5: {"op": Op.START_ECG}, 6000: ack})),
        Scenario("ecg-long-lead-off-after-long-timeout-request", 12_000,
                 _lost_between(steady_heart(750), 6, 14),
                 _press({5: {"op": Op.START_ECG}, 2500: long_timeout_request})),
        Scenario("pressure-80bpm", 6000, steady_heart(750),
                 _press({5: {"op": Op.START_PRESSURE}})),
        Scenario("pressure-lead-off", 9000,
                 _lost_between(steady_heart(750), 5, 9, "upstroke_missed"),
                 _press({5: {"op": Op.START_PRESSURE}, 6000: ack})),
        Scenario("pressure-long-lead-off-after-long-timeout-request", 12_000,
                 _lost_between(steady_heart(750), 6, 14, "upstroke_missed"),
                 _press({5: {"op": Op.START_PRESSURE}, 2500: long_timeout_request})),
        Scenario("pressure-150bpm-no-window", 5000, steady_heart(400),
                 _press({5: {"op": Op.START_PRESSURE}}), first_rr_ms=400),
        Scenario("pressure-missed-upstrokes", 8000,
                 _with_misses(steady_heart(700), 5, "upstroke_missed"),
                 _press({5: {"op": Op.START_PRESSURE}}), first_rr_ms=700),
        Scenario("asystole-internal", 9000, _silent_between(steady_heart(1000), 2, 6),
                 _press({4500: {"op": Op.START_INTERNAL}}), first_rr_ms=1000),
        # an operator pressing START_INTERNAL every 50 ms from the first silent beat on: the
        # console enters internal mode exactly when its asystole guard allows
        Scenario("asystole-operator-keeps-pressing-internal", 5000,
                 _silent_between(steady_heart(1000), 2, 5),
                 _press({t: {"op": Op.START_INTERNAL} for t in range(2000, 5000, 50)}),
                 first_rr_ms=1000),
        # the heart beats again while the balloon is inflated, its activity reported as late
        # as allowed: helium in the first ejection (P-INTERNAL-RESTART's bound)
        Scenario("asystole-internal-heart-restarts-mid-inflation", 8000,
                 _silent_between(steady_heart(1000, activity_delay_ms=A.ACTIVITY_DELAY_MAX_MS),
                                 2, 5),
                 _press({4500: {"op": Op.START_INTERNAL}}), first_rr_ms=1000),
        # a longer internal inflation time requested 400 ms into a 750 ms cycle, after its
        # 300 ms inflation has ended: it must wait for the next cycle
        Scenario("asystole-internal-settings-change", 6000,
                 _silent_between(steady_heart(1000), 2, 6),
                 _press({4500: {"op": Op.START_INTERNAL},
                         4900: {"set_request": True, "req_internal_inflation_ms": 600}}),
                 first_rr_ms=1000),
        Scenario("faults-while-pumping", 9000, steady_heart(750), _hold(
            {5: {"op": Op.START_ECG}, 4000: ack, 4500: {"op": Op.START_ECG}, 7000: ack},
            [(3000, 3500, {"gas_loss": True}), (6000, 6100, {"catheter_kink": True}),
             (6100, 6200, {"blood_detected": True}), (6200, 6300, {"system_fault": True})])),
        Scenario("contraindication-recorded", 7000, steady_heart(750), _hold(
            {5: {"op": Op.START_ECG}, 4000: ack, 4100: {"op": Op.START_ECG}},
            [(3000, 3600, {"contra_absolute": True}),
             (4050, 7000, {"contra_relative": True, "contra_override": True})])),
        # a fault or STANDBY mid-inflation in each pumping mode (P-FAULT-HALT and
        # P-ALWAYS-STOPPABLE are checked for vacuity per mode, balloon inflated)
        Scenario("ecg-fault-while-inflated", 5000, steady_heart(750),
                 _while_inflated({"op": Op.START_ECG}, [(3000, {"gas_loss": True}, 50)])),
        Scenario("pressure-standby-then-fault-while-inflated", 8000, steady_heart(750),
                 _while_inflated({"op": Op.START_PRESSURE},
                                 [(3000, {"op": Op.STANDBY}, 1),
                                  (5500, {"catheter_kink": True}, 50)])),
        Scenario("internal-standby-then-fault-while-inflated", 7000,
                 _silent_between(steady_heart(1000), 2, 7),
                 _while_inflated({"op": Op.START_INTERNAL},
                                 [(4600, {"op": Op.STANDBY}, 1),
                                  (5300, {"system_fault": True}, 50)], start_at=4500),
                 first_rr_ms=1000),
        Scenario("operator-standby-mid-beat", 4000, steady_heart(750),
                 _press({5: {"op": Op.START_ECG}, 3500: {"op": Op.STANDBY}})),
        Scenario("settings-changes", 5000, steady_heart(750), _press(
            {5: {"op": Op.START_ECG}, 2500: good_request, 3500: bad_request})),
        Scenario("monitor-silence-then-ack", 2000, steady_heart(750), _hold(
            {1500: {"mon_ack": True}}, [(1000, 1100, {"mon_frame": False}),
                                        (1200, 1210, {"mon_integrity_error": True})])),
        Scenario("idle-balloon", 10_200, steady_heart(750), _press({}),
                 {**s, "idle_limit_ms": 10_000}),
        # a start after a pause in standby longer than the trigger-loss timeout: the timer
        # must start from the mode's entry, not count the pause (P-TRIGGER-LOSS-CAUSE)
        Scenario("ecg-start-after-standby-pause", 4000, steady_heart(750),
                 _press({2600: {"op": Op.START_ECG}})),
        # last (the longest run, and only the efficacy properties need it): long enough for the R-R floor to climb from the shortest possible interval: the
        # efficacy envelope (P-ASSIST-EVERY-BEAT) is reached after about 16 steady beats
        Scenario("ecg-80bpm-steady-20s", 20_000, steady_heart(750),
                 _press({5: {"op": Op.START_ECG}})),
    ]


def assumption_breaking() -> list[Scenario]:
    """Hearts and detectors OUTSIDE the assumptions: used only to show that a proof that
    drops an assumption really fails (counterexample search), never as witnesses."""
    premature = _varying([800, 800, 800, 800, 600], pep_pos=0.0, r_delay_ms=A.R_DETECT_DELAY_MAX_MS)
    return [
        Scenario("premature-beats (breaks ASM-RR-STEP)", 8000, premature,
                 _press({5: {"op": Op.START_ECG}}), first_rr_ms=800, legal=False),
        Scenario("alternate-beats-missed (breaks ASM-MISS-SPACING)", 8000,
                 _alternate_misses(steady_heart(400, pep_pos=0.0)),
                 _press({5: {"op": Op.START_ECG}}), first_rr_ms=400, legal=False),
    ]


def _alternate_misses(base: HeartScript) -> HeartScript:
    def script(i: int, prev_rr: int, prev_pep: int) -> BeatChoice:
        b = base(i, prev_rr, prev_pep)
        return BeatChoice(**{**b.__dict__, "r_missed": i % 2 == 1})
    return script


def least_accepted(name: str, base: Mapping[str, int] = DEFAULT_SETTINGS) -> int:
    """The smallest value of setting ``name`` the validator accepts, the others at ``base``:
    the corner the proofs must hold at (e.g. the shortest deflation lead)."""
    valid = compile_expr(settings_valid(current_settings()))
    st = next(x for x in SETTINGS if x.name == name)
    return next(v for v in range(st.lo, st.hi + 1)
                if valid({f"set_{k}": val for k, val in {**base, name: v}.items()}))


def _delays_alternating(base: HeartScript) -> HeartScript:
    """The R-wave decision alternates between the earliest and the latest allowed delay:
    the measured R-R alternates by twice the jitter."""
    def script(i: int, prev_rr: int, prev_pep: int) -> BeatChoice:
        b = base(i, prev_rr, prev_pep)
        delay = A.R_DETECT_DELAY_MIN_MS if i % 2 else A.R_DETECT_DELAY_MAX_MS
        return BeatChoice(**{**b.__dict__, "r_delay_ms": delay})
    return script


#: R-R intervals of the corner hearts: the edges of the rate bands the controller pumps in.
CORNER_RR_MS = (500, 545, 600, 670, 750, 860, 1000, 1200, 1500)


def corner_scenarios() -> list[Scenario]:
    """Hearts and settings at the edges of what the assumptions and the validator allow, for
    the counterexample search only (a failed induction whose trace needs a corner): per
    band-edge R-R, ejection as early and valve closure as late as the bands allow with the
    detector at its latest, the decision delay alternating between its extremes, and the
    R-R stepping by the largest step the rhythm assumption allows; each at the default
    settings and with the shortest deflation lead and earliest inflation offset the
    validator accepts."""
    tight = {**DEFAULT_SETTINGS,
             "ecg_deflation_lead_ms": least_accepted("ecg_deflation_lead_ms"),
             "inflation_offset_ms": least_accepted("inflation_offset_ms")}
    start = _press({5: {"op": Op.START_ECG}})
    out: list[Scenario] = []
    for label, settings in (("default settings", dict(DEFAULT_SETTINGS)),
                            ("tightest settings", tight)):
        for rr in CORNER_RR_MS:
            step = min(A.RR_STEP_MAX_MS, rr - 500)
            hearts = {
                "late detector, early ejection, late closure":
                    steady_heart(rr, pep_pos=0.0, qs2_pos=1.0,
                                 r_delay_ms=A.R_DETECT_DELAY_MAX_MS),
                "decision delay alternating":
                    _delays_alternating(steady_heart(rr, pep_pos=0.0, qs2_pos=1.0)),
                "R-R stepping, delay alternating":
                    _delays_alternating(_varying([rr, rr - step], pep_pos=0.0, qs2_pos=1.0)),
            }
            out += [Scenario(f"corner {rr} ms: {name} ({label})", 8 * rr, heart, start,
                             settings, first_rr_ms=rr) for name, heart in hearts.items()]
    # isolated missed beats at the fastest rates each trigger accepts, and just below
    for rr in (450, 480, 520, 540, 560):
        out.append(Scenario(f"corner {rr} ms: missed R waves", 16 * rr,
                            _with_misses(steady_heart(rr, pep_pos=0.0), 4), start,
                            first_rr_ms=rr))
        out.append(Scenario(f"corner {rr} ms: missed upstrokes", 16 * rr,
                            _with_misses(steady_heart(rr, pep_pos=0.0), 4, "upstroke_missed"),
                            _press({5: {"op": Op.START_PRESSURE}}), first_rr_ms=rr))
    return out
