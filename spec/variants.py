"""Deliberately broken variants of the spec: each one must make a proof FAIL.

A variant replaces exactly one rule of the real spec (a step line, a guard, the
validator, or an assumption) with the mistake a faulty console would make. For every
property there is at least one variant the prover must report VIOLATED, with a
counterexample that breaks that property. These are the proofs' own tests: a proof
that still passes on its broken variant proves nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from iabp.spec.assumptions import IDLE_TIMER_CAP_MS, TRIGGER_TIMER_CAP_MS
from iabp.spec.controller_step import (
    ecg_inflate_at_ms,
    ecg_inflate_until_ms,
    inflate_cmd,
    mode,
    op,
    pressure_inflate_until_ms,
)
from iabp.spec.expr import BOOL, FALSE, INT, And, Between, Expr, Ite, Min, Not, Or, Var
from iabp.spec.iabp import iabp_spec
from iabp.spec.modes import STOPPED_MODES, Mode, OperatorCommand
from iabp.spec.settings import SETTINGS, requested_settings, validator_clauses_for
from iabp.spec.system import SystemSpec


@dataclass(frozen=True)
class Variant:
    """A named mistake, the property it must break, and how to make it.

    ``expected`` is how the proof must fail: ``VIOLATED`` (a counterexample trace from
    power-on) for a mistake that does harm, ``VACUOUS`` for one that takes a whole case of
    the property away (a mode that never inflates is safe, and the property about its
    inflations proves nothing: the prover must say so, not PROVED).
    """

    id: str
    breaks: str
    mistake: str
    build: Callable[[SystemSpec], SystemSpec]
    expected: str = "VIOLATED"

    def spec(self) -> SystemSpec:
        return self.build(iabp_spec())


def _b(name: str) -> Var:
    return Var(name, BOOL)


def _i(name: str) -> Var:
    return Var(name, INT)


def _n(name: str, sort: str = "int") -> Var:
    return (_i(name) if sort == "int" else _b(name)).nxt


def _inflate_without_ecg_timing() -> Expr:
    """The inflate decision with the ECG 'after the end of ejection' condition left out."""
    ecg, press = mode.nxt.eq(Mode.ECG_TRIGGER), mode.nxt.eq(Mode.PRESSURE_TRIGGER)
    window, since_n, floor_n = _b("inflation_window"), _n("since_trigger_ms"), _n("rr_floor_ms")
    return Or(And(ecg, window, since_n < ecg_inflate_until_ms(floor_n)),
              And(press, window, _b("notch"), since_n < pressure_inflate_until_ms(floor_n)))


def _pressure_never_inflates() -> Expr:
    """The inflate decision with pressure trigger's branch gone (ECG trigger unchanged)."""
    ecg = mode.nxt.eq(Mode.ECG_TRIGGER)
    window, since_n, floor_n = _b("inflation_window"), _n("since_trigger_ms"), _n("rr_floor_ms")
    return And(ecg, window, since_n >= ecg_inflate_at_ms(_n("rr_est_ms"),
                                                         _n("set_inflation_offset_ms")),
               since_n < ecg_inflate_until_ms(floor_n))


def _one_tick_inflations() -> Expr:
    """The balloon command in a trigger mode without its hold: on only on the tick the
    inflation starts (internal mode unchanged)."""
    internal = mode.nxt.eq(Mode.INTERNAL)
    return Ite(internal, _n("internal_phase_ms") < _n("internal_cycle_inflation_ms"),
               And(_b("trigger_mode"), Not(_b("mode_entered")), Not(_b("trigger")),
                   Not(_b("deflation_due")), Not(_b("trigger_lost")), _b("inflate_now")))


def _weaker_validator(spec: SystemSpec, drop: str, name: str) -> SystemSpec:
    clauses = [c.holds for c in validator_clauses_for(requested_settings()) if c.id != drop]
    accepted = And(_b("set_request"), *clauses)
    cur = {k: Var(f"set_{k}", INT) for k in requested_settings()}
    init_clauses = [c.holds for c in validator_clauses_for(cur) if c.id != drop]
    out = spec.replace_assign("settings_accepted", accepted, name)
    return dataclasses.replace(out, init=(And(*init_clauses), *out.init[1:])).checked()


def _wider_range(spec: SystemSpec, name: str, lo: int | None = None,
                 hi: int | None = None) -> SystemSpec:
    """The validator with setting ``name``'s range clause widened to ``[lo, hi]``."""
    st = next(s for s in SETTINGS if s.name == name)
    new_lo, new_hi = st.lo if lo is None else lo, st.hi if hi is None else hi

    def clauses(values: Mapping[str, Expr]) -> list[Expr]:
        return [Between(values[name], new_lo, new_hi) if c.id == f"RANGE-{name}" else c.holds
                for c in validator_clauses_for(values)]
    accepted = And(_b("set_request"), *clauses(requested_settings()))
    cur = {k: Var(f"set_{k}", INT) for k in requested_settings()}
    out = spec.replace_assign("settings_accepted", accepted, f"iabp-broken-range-{name}")
    return dataclasses.replace(out, init=(And(*clauses(cur)), *out.init[1:])).checked()


def _replace(target: str, expr: Expr) -> Callable[[SystemSpec], SystemSpec]:
    return lambda spec: spec.replace_assign(target, expr, f"iabp-broken-{target}")


def _drop_assumption(asm: str) -> Callable[[SystemSpec], SystemSpec]:
    return lambda spec: spec.replace_env(asm, [])


def variants() -> list[Variant]:
    ack = op.eq(OperatorCommand.ACKNOWLEDGE)
    return [
        Variant("V-INFLATE-ON-R-WAVE", "P-INFL-DIASTOLE",
                "inflates right after the detected R wave instead of after the end of ejection",
                _replace("inflate_now", _inflate_without_ecg_timing())),
        Variant("V-ACCEPT-EARLY-INFLATION-OFFSET", "P-INFL-DIASTOLE",
                "the settings validator accepts an inflation offset that inflates before the "
                "aortic valve closes",
                lambda s: _weaker_validator(s, "SAFE-INFLATION-OFFSET", "iabp-broken-offset")),
        Variant("V-NO-PREDICTIVE-DEFLATION", "P-NO-GAS-IN-EJECTION",
                "deflates only on the next detected R wave (no predictive deflation)",
                _replace("deflation_due", FALSE)),
        Variant("V-ACCEPT-SHORT-DEFLATION-LEAD", "P-NO-GAS-IN-EJECTION",
                "the settings validator accepts a deflation lead too short for the gas time",
                lambda s: _weaker_validator(s, "SAFE-ECG-DEFLATION-LEAD", "iabp-broken-lead")),
        Variant("V-IGNORE-ABSOLUTE-CONTRA", "P-CONTRA-ABSOLUTE",
                "an absolute contraindication does not block pumping",
                _replace("contra_blocks", And(_b("contra_relative"), Not(_b("contra_override"))))),
        Variant("V-RELATIVE-CONTRA-NO-OVERRIDE", "P-CONTRA-RELATIVE",
                "a relative contraindication is ignored without an override",
                _replace("contra_blocks", _b("contra_absolute"))),
        Variant("V-NO-TRIGGER-LOSS-ALARM", "P-TRIGGER-LOSS",
                "no trigger-loss alarm and pumping continues on the timer",
                _replace("trigger_lost", FALSE)),
        Variant("V-ACK-CLEARS-TRIGGER-LOSS", "P-TRIGGER-LOSS",
                "acknowledge clears the trigger-loss alarm while the trigger is still lost "
                "(issue 14's mutation, UNKNOWN only before)",
                _replace("alm_trigger_loss", And(_b("trigger_lost"), Not(ack)))),
        Variant("V-ACCEPT-LONG-TRIGGER-LOSS-TIMEOUT", "P-TRIGGER-LOSS-BOUND",
                "the settings validator lets the trigger-loss timeout grow without limit "
                "(a permanent lead-off pumps on without an alarm)",
                lambda s: _weaker_validator(s, "RANGE-trigger_loss_timeout_ms",
                                            "iabp-broken-loss-range")),
        Variant("V-FLYWHEEL-INFLATION", "P-TRIGGER-FRESH",
                "when a beat is missed, a predicted beat stands in for the trigger",
                _replace("trigger", And(Not(_b("mode_entered")), Or(
                    And(mode.nxt.eq(Mode.ECG_TRIGGER),
                        Or(_b("r_wave"), And((_i("since_trigger_ms") + 1).eq(_i("rr_est_ms")),
                                             _i("triggers_seen") >= 2))),
                    And(mode.nxt.eq(Mode.PRESSURE_TRIGGER), _b("upstroke")))))),
        Variant("V-INTERNAL-WITHOUT-ASYSTOLE", "P-INTERNAL-ENTRY",
                "internal mode starts on the key alone, with the heart beating",
                _replace("guard.may_start_internal",
                         And(op.eq(OperatorCommand.START_INTERNAL), _b("pumping_permitted")))),
        Variant("V-INTERNAL-SHORT-ASYSTOLE-GUARD", "P-INTERNAL-ENTRY",
                "the asystole confirmation is 1000 ms instead of 2000: a heart beating at "
                "40-60 bpm looks dead between two beats (issue 14's shared-constant mutation; "
                "the property now states the gap from physiology)",
                _replace("guard.may_start_internal", And(
                    op.eq(OperatorCommand.START_INTERNAL), _b("pumping_permitted"),
                    _i("since_activity_ms") >= 1000, Not(_b("activity"))))),
        Variant("V-INTERNAL-FILLS-PERIOD", "P-INTERNAL-DEFLATES",
                "the validator lets one internal inflation fill the whole period: the balloon "
                "is never let down in internal mode (issue 14's mutation)",
                lambda s: _weaker_validator(s, "SAFE-INTERNAL-DEFLATION",
                                            "iabp-broken-internal-deflation")),
        Variant("V-INTERNAL-FAST-RATE", "P-INTERNAL-RATE",
                "the validator accepts an internal period down to 100 ms: asynchronous pumping "
                "far above 120 /min (issue 14's mutation)",
                lambda s: _wider_range(s, "internal_period_ms", lo=100)),
        Variant("V-IDLE-LIMIT-ONE-HOUR", "P-SETTINGS-BOUNDS",
                "the validator accepts an idle limit up to 1 hour (the idle alarm is in effect "
                "switched off)", lambda s: _wider_range(s, "idle_limit_ms", hi=3_600_000)),
        Variant("V-CONTRA-OVERRIDE-IGNORED", "P-START-TAKES-EFFECT",
                "a relative contraindication blocks pumping even with the clinician's "
                "override: the prescribed therapy never starts",
                _replace("contra_blocks", Or(_b("contra_absolute"), _b("contra_relative")))),
        Variant("V-REJECTION-ALARM-UNLATCHED", "P-ALARM-LATCH",
                "the settings-rejected alarm shows for one tick only: the operator may never "
                "see that a requested change was refused",
                _replace("alm_settings_rejected", And(_b("set_request"),
                                                      Not(_b("settings_accepted"))))),
        Variant("V-INTERNAL-IGNORES-ACTIVITY", "P-INTERNAL-EXIT",
                "internal pumping continues when the heart starts beating",
                _replace("guard.cardiac_activity", FALSE)),
        Variant("V-INTERNAL-FINISHES-INFLATION", "P-INTERNAL-RESTART",
                "on cardiac activity internal mode waits for the balloon to be deflated (to "
                "finish the cycle) before it stops: the restarted heart ejects into helium",
                _replace("guard.cardiac_activity", And(_b("activity"), Not(inflate_cmd)))),
        Variant("V-INTERNAL-SETTINGS-MID-CYCLE", "P-INTERNAL-RATE",
                "a settings change in internal mode applies at once, mid-cycle (a longer "
                "inflation time set after the deflation re-inflates within the same cycle)",
                lambda s: _replace("internal_cycle_inflation_ms",
                                   Var("set_internal_inflation_ms", INT).nxt)(
                    _replace("internal_cycle_period_ms",
                             Var("set_internal_period_ms", INT).nxt)(s))),
        Variant("V-KINK-DOES-NOT-HALT", "P-FAULT-HALT",
                "only gas loss and blood halt; a kink or system fault does not",
                _replace("guard.high_fault", Or(_b("gas_loss"), _b("blood_detected")))),
        Variant("V-HALT-CLEARS-WITHOUT-ACK", "P-HALT-LATCH",
                "the halt clears as soon as the sensors are quiet, without acknowledge",
                _replace("guard.fault_cleared_and_acknowledged", Not(_b("high_fault")))),
        Variant("V-STANDBY-KEEPS-INFLATION", "P-STANDBY-DEFLATED",
                "entering standby leaves an inflated balloon inflated",
                lambda s: s.replace_assign("inflate_cmd", Or(
                    s.assign("inflate_cmd").expr,
                    And(inflate_cmd, mode.nxt.eq(Mode.STANDBY))), "iabp-broken-standby")),
        Variant("V-RATIO-IGNORED", "P-RATIO",
                "every consistent beat is assisted whatever the ratio",
                _replace("arm_on_trigger", And(_b("interval_consistent"),
                                               Not(_b("settings_accepted"))))),
        Variant("V-SETTINGS-UNVALIDATED", "P-SETTINGS-SAFE",
                "a settings request is applied without validation",
                _replace("settings_accepted", _b("set_request"))),
        Variant("V-REJECTION-SILENT", "P-SETTINGS-REJECT",
                "a rejected settings request raises no alarm",
                _replace("alm_settings_rejected", FALSE)),
        Variant("V-STANDBY-WAITS-FOR-DEFLATION", "P-ALWAYS-STOPPABLE",
                "standby is ignored while the balloon is inflated",
                _replace("guard.operator_standby",
                         And(op.eq(OperatorCommand.STANDBY), Not(inflate_cmd)))),
        Variant("V-GAS-ALARM-UNLATCHED", "P-ALARM-LATCH",
                "the gas-loss alarm clears by itself when the sensor goes quiet",
                _replace("alm_gas_loss", _b("gas_loss"))),
        Variant("V-ACK-SILENCES-CAUSE", "P-ALARM-CAUSE",
                "acknowledge clears the gas-loss alarm while gas is still being lost",
                _replace("alm_gas_loss", And(Or(_b("gas_loss"), _b("alm_gas_loss")),
                                             Not(ack)))),
        Variant("V-START-OVER-LATCHED-ALARM", "P-NO-START-OVER-ALARM",
                "START is accepted while a high-priority alarm is still latched, "
                "unacknowledged, once its cause has gone",
                _replace("pumping_permitted", And(Not(_b("high_fault")),
                                                  Not(_b("contra_blocks"))))),
        Variant("V-IDLE-ALARM-LATE", "P-IDLE-ALARM",
                "the idle alarm comes a second after the idle limit",
                _replace("alm_idle", _n("idle_ms") >= _n("set_idle_limit_ms") + 1000)),
        Variant("V-IDLE-COUNTED-DOUBLE", "P-IDLE-ALARM-CAUSE",
                "the idle timer counts 2 ms per tick: the idle alarm comes at half the limit "
                "(issue 14's mutation)",
                _replace("idle_ms", Ite(mode.nxt.isin(STOPPED_MODES),
                                        Min(_i("idle_ms") + 2, IDLE_TIMER_CAP_MS), 0))),
        Variant("V-TRIGGER-TIMER-KEPT-ON-ENTRY", "P-TRIGGER-LOSS-CAUSE",
                "the trigger timer is not restarted when a trigger mode is entered: the time "
                "spent in standby counts, and a start after a pause raises a trigger-loss "
                "alarm at once (issue 14's mutation)",
                _replace("since_trigger_ms", Ite(_b("trigger"), 0,
                                                 Min(_i("since_trigger_ms") + 1,
                                                     TRIGGER_TIMER_CAP_MS)))),
        Variant("V-ACCEPT-SHORT-TRIGGER-LOSS-TIMEOUT", "P-TRIGGER-LOSS-CAUSE",
                "the validator accepts a trigger-loss timeout shorter than the slowest beat: "
                "a well-detected slow heart raises trigger-loss alarms and stops therapy "
                "(issue 14's mutation)",
                lambda s: _weaker_validator(s, "SAFE-LOSS-TIMEOUT", "iabp-broken-loss-timeout")),
        Variant("V-ASSIST-STOPS-SILENTLY", "P-ASSIST-SUSPENDED-ALARM",
                "the console stops assisting (rate too high) without telling anyone",
                _replace("alm_assist_suspended", FALSE)),
        Variant("V-MON-IGNORES-SILENCE", "P-MON-SILENCE",
                "the monitor does not trip when the console falls silent",
                _replace("mon_trip_cause", Or(_b("mon_rule_violation"), _b("mon_port_lost"),
                                              _b("mon_internal_error")))),
        Variant("V-MON-IGNORES-GARBAGE", "P-MON-FAILSAFE",
                "the monitor counts integrity errors but never trips on them",
                _replace("mon_trip_cause", Or(_b("mon_rule_violation"), _b("mon_port_lost"),
                                              _b("mon_internal_error"),
                                              _n("mon_silence_ms") > 50))),
        Variant("V-MON-UNLATCHED", "P-MON-LATCH",
                "the safe state clears by itself when the cause goes away",
                _replace("mon_safe", _b("mon_trip_cause"))),
        Variant("V-MON-INTERLOCK-STUCK-ON", "P-MON-ENERGISE-TO-RUN",
                "the interlock output stays energised whatever the monitor decides",
                _replace("mon_interlock_energised", _b("mon_trip_cause") | ~_b("mon_trip_cause"))),
        Variant("V-NO-R-WAVE-DEFLATION", "P-EARLY-BEAT-BOUND",
                "neither a detected R wave nor the QRS suspicion before it deflates the "
                "balloon (only the predicted deflation point does)",
                lambda s: s.replace_assign("qrs_suspected", FALSE, "iabp-broken-suspicion")
                .replace_assign("inflate_cmd", Or(
                    s.assign("inflate_cmd").expr,
                    And(inflate_cmd, _b("trigger"), Not(_b("deflation_due")),
                        mode.nxt.eq(Mode.ECG_TRIGGER), Not(_b("mode_entered")))),
                    "iabp-broken-r-wave-deflation")),
        Variant("V-QRS-SUSPICION-IGNORED", "P-EARLY-BEAT-BOUND",
                "the QRS suspicion does not deflate the balloon: an early beat's helium waits "
                "for the R-wave decision, 8 ms later",
                lambda s: s.replace_assign("qrs_suspected", FALSE,
                                           "iabp-broken-qrs-suspicion-ignored")),
        Variant("V-ONE-TO-ONE-SKIPS-BEATS", "P-ASSIST-EVERY-BEAT",
                "arming counts the ratio one beat late: 1:1 silently assists every other beat "
                "(issue 14's mutation)",
                lambda s: s.replace_assign("arm_on_trigger", And(
                    s.assign("arm_on_trigger").expr,
                    _i("beats_since_inflation") >= _n("set_assist_ratio")),
                    "iabp-broken-ratio-late")),
        Variant("V-PRESSURE-NEVER-INFLATES", "P-INFL-DIASTOLE",
                "pressure trigger never inflates (no therapy in that mode; issue 14's "
                "mutation): the inflation properties must not stay PROVED on ECG trigger's "
                "witnesses alone", _replace("inflate_now", _pressure_never_inflates()),
                expected="VACUOUS"),
        Variant("V-ONE-TICK-INFLATIONS", "P-INFLATION-HELD",
                "every trigger-mode inflation lasts 1 ms (no augmentation; each one also resets "
                "the unassisted-beat count, so the assist-suspended alarm never fires; issue "
                "14's mutation)", _replace("inflate_cmd", _one_tick_inflations())),
        Variant("V-ASSUME-NO-RR-STEP-LIMIT", "P-NO-GAS-IN-EJECTION",
                "the proof is run without ASM-RR-STEP (premature beats allowed)",
                _drop_assumption("ASM-RR-STEP")),
        Variant("V-ASSUME-ANY-MISSES", "P-NO-GAS-IN-EJECTION",
                "the proof is run without ASM-MISS-SPACING (a detector may miss every other "
                "beat)", _drop_assumption("ASM-MISS-SPACING")),
    ]


def variant(vid: str) -> Variant:
    for v in variants():
        if v.id == vid:
            return v
    raise KeyError(vid)

