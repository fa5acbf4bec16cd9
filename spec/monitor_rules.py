"""The runtime monitor's rules, as spec: each proved pump property re-pointed at telemetry.

A monitor rule is the spec's own property, transformed only by named, documented
substitutions (:func:`prime` a STATE property onto this frame, :func:`drop_conjuncts` the
wire cannot show, :func:`shrink_window` by the monitor's QRS-onset error, point the
balloon plant at the gas measured on the helium line with :data:`MEASURED_GAS`, widen a
timeout by the detection tolerance). :data:`RULE_CHECKS` declares, for every rule, the
check the monitor runs on each frame (``build``) and WHEN a violation of the property
shows on the wire (``visible``: the bound of what the monitor may miss, in the pump's
true quantities). The monitor compiles ``build`` (``iabp.monitor.rules``); the prover
proves, compositionally, that the verified controller never makes a check fail (no
false stop of correct therapy) and that every visible violation makes it fail (no miss):
``iabp.proofs.monitor_theorem``. Declarations only: no solver, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from iabp.spec import assumptions as A
from iabp.spec.controller_step import ALARM_VARS, HIGH_FAULT_INPUTS, is_stopped
from iabp.spec.environment import balloon_may_hold_gas
from iabp.spec.errors import SpecError
from iabp.spec.expr import (
    BOOL,
    FALSE,
    INT,
    TRUE,
    And,
    Expr,
    Implies,
    Not,
    Op,
    Operator,
    Or,
    Sort,
    Var,
)
from iabp.spec.mode_table import MODE_TABLE
from iabp.spec.modes import Mode, OperatorCommand
from iabp.spec.settings import SETTINGS
from iabp.spec.system import PropertyKind, SystemSpec
from iabp.spec.timing import pep_hi_ms, pep_lo_ms, qs2_hi_ms
from iabp.spec.walker import free_vars, substitute

#: Error bound (ms) of the monitor's own QRS-onset estimate on the beat classes it was
#: validated on: the 99.9th percentile of |estimate - reference| over the normal, LBBB,
#: RBBB and paced beats of the 41 MIT-BIH development records (whole length, 1 kHz
#: replay), rounded up: 43.9 ms measured on 2026-12-01 by ``python -m
#: benchmarks.bench_monitor_onset`` (``benchmarks/results/monitor_onset.md``). The
#: monitor shrinks every ejection window it judges by this much at both ends.
MON_ONSET_ERROR_MAX_MS: Final = 44
#: How much later than the console's trigger the monitor's own detector may decide the
#: same beat (ms). Measured on 10 MIT-BIH records (100, 102, 105, 111, 119, 207, 208, 212,
#: 221, 231; 10 min each, 8 200 beats): the monitor decides after the pump's up-slope
#: trigger by median 30, p99 69, p99.9 100 ms (LBBB 111: p99.9 91 ms).
CONSOLE_MONITOR_DECISION_SPREAD_MS: Final = 100


@dataclass(frozen=True)
class RuleTolerances:
    """The tolerances a monitor rule's check is built with (units in the names).

    * ``detection_tolerance_ms``: spread between the console's and the monitor's R-wave
      decisions for the same beat (the pump's up-slope trigger decides first).
    * ``onset_tolerance_ms``: error of the own QRS-onset estimate; the ejection window is
      shrunk by it at both ends.
    * ``gas_trace_tolerance_ms``: the helium line may show gas moving this much longer
      than the balloon holds it (transit, transducer settling).
    * ``stop_tolerance_ms``: STOP sent -> STANDBY and deflated seen in telemetry.
    * ``beat_count_tolerance``: own beats may outnumber the console's triggers by this
      many in a count of unassisted beats (a false or missed beat on either side).
    """

    detection_tolerance_ms: int = CONSOLE_MONITOR_DECISION_SPREAD_MS
    onset_tolerance_ms: int = MON_ONSET_ERROR_MAX_MS
    gas_trace_tolerance_ms: int = A.GAS_DEFLATE_MAX_MS
    stop_tolerance_ms: int = 50
    beat_count_tolerance: int = 1


STATED_TOLERANCES: Final = RuleTolerances()
"""The tolerances the monitor runs with and the theorem's miss bounds are stated in."""


# -- the ejection window the monitor judges ----------------------------------------------


def judged_pep_ms(rr: Expr | int) -> Expr:
    """When the monitor takes ejection to start (ms after the beat's QRS onset), for the
    R-R that ended at the beat: the LONGEST pre-ejection period the rate bands allow.

    The verified controller keeps the balloon empty from the beat's TRUE pre-ejection
    period, which is at most this. A window starting at the shortest (``pep_lo``) is not
    proved: the no-false-alarm half then has a counterexample to induction, a deflation
    after the QRS onset whose helium clears by the true PEP but after ``pep_lo``.
    """
    return pep_hi_ms(rr)


def judged_qs2_ms(rr: Expr | int) -> Expr:
    """When the monitor takes ejection to end (ms after the beat's QRS onset): the LATEST
    valve closure the rate bands allow for the R-R, the edge the verified controller itself
    waits for before it inflates (P-INFL-DIASTOLE)."""
    return qs2_hi_ms(rr)


# -- transforms ---------------------------------------------------------------------------


def prime(e: Expr, inputs: frozenset[str]) -> Expr:
    """A STATE property evaluated on this frame: every state variable read as ``x'``
    (``inputs``, which have no next value, stay as they are)."""
    keys = {k: Var(k, v.sort, True) for v in _vars(e) if not v.primed and v.name not in inputs
            for k in (v.name,)}
    return substitute(e, keys)


def _vars(e: Expr) -> list[Var]:
    if isinstance(e, Var):
        return [e]
    if isinstance(e, Op):
        return [v for a in e.args for v in _vars(a)]
    return []


def _reads_any(e: Expr, names: frozenset[str]) -> bool:
    return bool({k.rstrip("'") for k in free_vars(e)} & names)


def drop_conjuncts(e: Expr, names: frozenset[str]) -> Expr:
    """Weaken a conclusion: drop each conjunct that reads one of ``names`` (unobservable)."""
    if isinstance(e, Op) and e.op is Operator.AND:
        kept = [a for a in e.args if not _reads_any(a, names)]
        return And(*kept) if kept else TRUE
    return TRUE if _reads_any(e, names) else e


def kept_conjuncts(e: Expr, names: frozenset[str]) -> Expr:
    """The conjuncts :func:`drop_conjuncts` drops (TRUE if none)."""
    parts = e.args if isinstance(e, Op) and e.op is Operator.AND else (e,)
    dropped = [a for a in parts if _reads_any(a, names)]
    return And(*dropped) if dropped else TRUE


def shrink_window(e: Expr, tol_ms: int) -> Expr:
    """The ejection window (onset + PEP .. onset + QS2) shrunk by ``tol_ms`` at both ends."""
    pep, qs2 = Var("heart_pep_ms", INT, True), Var("heart_qs2_ms", INT, True)
    return substitute(e, {pep.key: pep + tol_ms, qs2.key: qs2 - tol_ms})


MEASURED_GAS: Final[dict[str, Var]] = {
    "inflate_cmd": Var("mon_gas_inflated", BOOL), "gas_timer_ms": Var("mon_gas_timer_ms", INT),
    "gas_filled": Var("mon_gas_filled", BOOL),
}
"""The spec's plant variables pointed at the balloon state measured on the gas line."""


# -- the rules ----------------------------------------------------------------------------

Builder = Callable[[SystemSpec, RuleTolerances], Expr]


@dataclass(frozen=True)
class RuleCheck:
    """One monitor rule: the check it runs on each frame and what it is sure to catch.

    ``build(spec, tol)`` is the expression the monitor evaluates on its valuation (``x'``
    this frame, ``x`` the previous one). ``visible(spec, tol)``, on the pump's TRUE
    quantities, says when a violation of the property is visible on the wire; the
    theorem proves the check fails on every visible violation. ``property_id`` is
    ``MODE_TABLE`` for the mode-table rule (no property: its check is the table).
    """

    rule_id: str
    property_id: str
    adaptation: str
    build: Builder
    visible: Builder
    miss: str = "nothing"  #: what a violation the rule may miss looks like


def _inputs(spec: SystemSpec) -> frozenset[str]:
    return frozenset(i.name for i in spec.inputs)


def _formula(spec: SystemSpec, pid: str) -> Expr:
    return _formula_with(spec, pid, {})


def _as_proved(pid: str) -> Builder:
    return lambda spec, tol: _formula(spec, pid)


def _always(spec: SystemSpec, tol: RuleTolerances) -> Expr:
    return TRUE


def _b(name: str, primed: bool = False) -> Var:
    return Var(name, BOOL, primed)


def _i(name: str, primed: bool = False) -> Var:
    return Var(name, INT, primed)


def _no_gas(spec: SystemSpec, tol: RuleTolerances) -> Expr:
    p = spec.property("P-NO-GAS-IN-EJECTION")
    measured = substitute(p.formula, MEASURED_GAS)
    return shrink_window(prime(And(p.formula, measured), _inputs(spec)), tol.onset_tolerance_ms)


def _in_band(tol: RuleTolerances) -> Expr:
    """This beat's intervals lie in the stated rate bands (ASM-HEART), read on this frame."""
    prr = _i("heart_prev_rr_ms", True)
    return And(_i("heart_pep_ms", True) >= pep_lo_ms(prr),
               _i("heart_qs2_ms", True) <= qs2_hi_ms(prr))


def _no_gas_visible(spec: SystemSpec, tol: RuleTolerances) -> Expr:
    t, o = _i("heart_t_ms", True), tol.onset_tolerance_ms
    return And(_in_band(tol), Not(_b("heart_silent", True)),
               judged_pep_ms(_i("heart_prev_rr_ms", True)) + 2 * o <= t,
               t + 2 * o < _i("heart_qs2_ms", True))


def _infl_diastole(spec: SystemSpec, tol: RuleTolerances) -> Expr:
    return shrink_window(spec.property("P-INFL-DIASTOLE").formula, tol.onset_tolerance_ms)


def _infl_diastole_visible(spec: SystemSpec, tol: RuleTolerances) -> Expr:
    lag = A.GAS_INFLATE_LAG_MIN_MS
    return And(_in_band(tol), Or(_b("heart_silent", True),
                                 _i("heart_t_ms", True) + lag + 2 * tol.onset_tolerance_ms
                                 < _i("heart_qs2_ms", True)))


def _standby_deflated(spec: SystemSpec, tol: RuleTolerances) -> Expr:
    m = MEASURED_GAS
    after = 2 * A.GAS_DEFLATE_MAX_MS + tol.gas_trace_tolerance_ms
    measured = Implies(And(is_stopped(), _i("obs_idle_ms") >= after),
                       Not(balloon_may_hold_gas(m["inflate_cmd"], m["gas_timer_ms"],
                                                m["gas_filled"])))
    return prime(And(spec.property("P-STANDBY-DEFLATED").formula, measured), _inputs(spec))


def _contra_absolute(spec: SystemSpec, tol: RuleTolerances) -> Expr:
    evidence = Or(_b("contra_absolute"), _b("alm_contra_absolute", True))
    return substitute(spec.property("P-CONTRA-ABSOLUTE").formula, {"contra_absolute": evidence})


def _trigger_loss(spec: SystemSpec, tol: RuleTolerances) -> Expr:
    timeout = _i("set_trigger_loss_timeout_ms")
    return _formula_with(spec, "P-TRIGGER-LOSS", {
        "set_trigger_loss_timeout_ms": timeout + tol.detection_tolerance_ms})


def _trigger_loss_visible(spec: SystemSpec, tol: RuleTolerances) -> Expr:
    return _i("obs_no_trigger_ms", True) >= _i("set_trigger_loss_timeout_ms", True) \
        + tol.detection_tolerance_ms


def _formula_with(spec: SystemSpec, pid: str, mapping: dict[str, Expr]) -> Expr:
    p = spec.property(pid)
    f = substitute(p.formula, mapping)
    return prime(f, _inputs(spec)) if p.kind is PropertyKind.STATE else f


_OPERATOR_KEY: Final = frozenset({"op"})


def _internal_entry(spec: SystemSpec, tol: RuleTolerances) -> Expr:
    p = spec.property("P-INTERNAL-ENTRY")
    return Implies(p.premise, drop_conjuncts(p.conclusion, _OPERATOR_KEY))


def _internal_entry_visible(spec: SystemSpec, tol: RuleTolerances) -> Expr:
    return kept_conjuncts(spec.property("P-INTERNAL-ENTRY").conclusion, _OPERATOR_KEY)


ACTIVITY_LATE: Final = _b("mon_activity_late")
"""The monitor's view of ``activity``: its own R peak plus the ASM-ACTIVITY delay."""


def _internal_exit(spec: SystemSpec, tol: RuleTolerances) -> Expr:
    return substitute(spec.property("P-INTERNAL-EXIT").formula, {"activity": ACTIVITY_LATE})


def _no_start_over_alarm(spec: SystemSpec, tol: RuleTolerances) -> Expr:
    alarms = (*HIGH_FAULT_INPUTS.values(), "alm_contra_absolute", "alm_async_activity")
    f = spec.property("P-NO-START-OVER-ALARM").formula
    return And(f, substitute(f, {a: _b(a, True) for a in alarms}))


def _fault_halt(spec: SystemSpec, tol: RuleTolerances) -> Expr:
    return substitute(spec.property("P-FAULT-HALT").formula,
                      {i: _b(a, True) for i, a in HIGH_FAULT_INPUTS.items()})


def _fault_halt_visible(spec: SystemSpec, tol: RuleTolerances) -> Expr:
    return And(*[Implies(_b(i), _b(a, True)) for i, a in HIGH_FAULT_INPUTS.items()])


def _alarm_cause(spec: SystemSpec, tol: RuleTolerances) -> Expr:
    subst: dict[str, Expr] = {i: FALSE for i in HIGH_FAULT_INPUTS}
    subst["activity"] = ACTIVITY_LATE
    return substitute(spec.property("P-ALARM-CAUSE").formula, subst)


def _alarm_cause_visible(spec: SystemSpec, tol: RuleTolerances) -> Expr:
    return And(*[Not(_b(i)) for i in HIGH_FAULT_INPUTS])


def _assist_suspended(spec: SystemSpec, tol: RuleTolerances) -> Expr:
    return _formula_with(spec, "P-ASSIST-SUSPENDED-ALARM", {
        "set_assist_ratio": _i("set_assist_ratio") + tol.beat_count_tolerance})


def _assist_suspended_visible(spec: SystemSpec, tol: RuleTolerances) -> Expr:
    return _i("obs_unassisted_beats", True) >= _i("set_assist_ratio", True) + 3 \
        + tol.beat_count_tolerance


STOP_SENT: Final = _b("mon_stop_sent")  #: the monitor is sending STOP (it latched safe)
SINCE_STOP_MS: Final = _i("mon_since_stop_ms")  #: ms since it first sent STOP


def _stop_sent(tol: RuleTolerances) -> Expr:
    return And(STOP_SENT, tol.stop_tolerance_ms <= SINCE_STOP_MS)


def _stop_obeyed(spec: SystemSpec, tol: RuleTolerances) -> Expr:
    return Implies(_stop_sent(tol), spec.property("P-ALWAYS-STOPPABLE").conclusion)


def _stop_obeyed_visible(spec: SystemSpec, tol: RuleTolerances) -> Expr:
    return _stop_sent(tol)


def _mode_table(spec: SystemSpec, tol: RuleTolerances) -> Expr:
    """Every mode change is a source -> destination pair of the mode table."""
    mode = spec.state_var("mode")
    cur, nxt = Var("mode", mode.sort), Var("mode", mode.sort, True)
    pairs = [And(cur.eq(Mode[s]), nxt.eq(Mode[row.dest])) for row in MODE_TABLE
             for s in row.sources]
    return Or(cur.eq(nxt), *pairs)


_EJECTION_MISS = ("helium that has cleared by the longest PEP of the rate bands plus twice "
                  "the onset error, or that arrives less than twice that error before the end "
                  "of ejection (the own onset estimate may be off by that much), or a beat "
                  "whose intervals leave the stated rate bands")

RULE_CHECKS: Final[tuple[RuleCheck, ...]] = (
    RuleCheck("MON-NO-GAS-IN-EJECTION", "P-NO-GAS-IN-EJECTION",
              "own beat timing; commanded AND measured balloon (spec plant on the gas line); "
              "window shrunk by the onset tolerance; past frames re-judged per beat",
              _no_gas, _no_gas_visible, _EJECTION_MISS),
    RuleCheck("MON-INFL-DIASTOLE", "P-INFL-DIASTOLE",
              "own beat timing; window shrunk by the onset tolerance; re-judged per beat",
              _infl_diastole, _infl_diastole_visible,
              "an inflation whose helium arrives less than twice the onset error before the "
              "end of ejection, or a beat whose intervals leave the stated rate bands"),
    RuleCheck("MON-TRIGGER-FRESH", "P-TRIGGER-FRESH",
              "'detected this beat' = own detection, not later than the last R-R + margin",
              _as_proved("P-TRIGGER-FRESH"), _always),
    RuleCheck("MON-STANDBY-DEFLATED", "P-STANDBY-DEFLATED",
              "commanded as proved, plus measured: empty 2 x GAS_DEFLATE_MAX + trace tol. after",
              _standby_deflated, _always),
    RuleCheck("MON-CONTRA-ABSOLUTE", "P-CONTRA-ABSOLUTE",
              "contraindication from the patient profile or the console's alarm bit",
              _contra_absolute, _always),
    RuleCheck("MON-CONTRA-RELATIVE", "P-CONTRA-RELATIVE",
              "contraindication and override from the patient profile",
              _as_proved("P-CONTRA-RELATIVE"), _always),
    RuleCheck("MON-TRIGGER-LOSS", "P-TRIGGER-LOSS",
              "own triggers; timeout widened by the detection tolerance, and the console may "
              "clear the alarm on its own decision of the returning beat up to the detection "
              "tolerance before the monitor decides the same beat",
              _trigger_loss, _trigger_loss_visible,
              "a loss shorter than the timeout plus the detection tolerance"),
    RuleCheck("MON-INTERNAL-ENTRY", "P-INTERNAL-ENTRY",
              "operator-key conjunct dropped (unobservable); own activity detection",
              _internal_entry, _internal_entry_visible,
              "an entry without the operator's START_INTERNAL key (not on the wire)"),
    RuleCheck("MON-INTERNAL-EXIT", "P-INTERNAL-EXIT", "activity = own R peak + ASM-ACTIVITY delay",
              _internal_exit, _always),
    RuleCheck("MON-FAULT-HALT", "P-FAULT-HALT",
              "fault sensors (not on the wire) replaced by their alarm bits",
              _fault_halt, _fault_halt_visible,
              "a fault whose sensor the console did not turn into its alarm bit"),
    RuleCheck("MON-RATIO", "P-RATIO", "own beats; judged from the second observed inflation "
              "after the own detectors have learnt", _as_proved("P-RATIO"), _always),
    RuleCheck("MON-SETTINGS-SAFE", "P-SETTINGS-SAFE",
              "settings from SETTINGS records, confirmed by the telemetry CRC",
              _as_proved("P-SETTINGS-SAFE"), _always),
    RuleCheck("MON-ALARM-CAUSE", "P-ALARM-CAUSE",
              "fault sensors set False (unobservable); activity = own R peak + delay",
              _alarm_cause, _alarm_cause_visible,
              "a missing alarm for a fault sensor (the sensors are not on the wire)"),
    RuleCheck("MON-IDLE-ALARM", "P-IDLE-ALARM", "idle time counted from the monitor's start",
              _as_proved("P-IDLE-ALARM"), _always),
    RuleCheck("MON-ASSIST-SUSPENDED", "P-ASSIST-SUSPENDED-ALARM",
              "own triggers; the alarm may lag by the detection tolerance and the own count "
              "may exceed the console's by the beat-count tolerance",
              _assist_suspended, _assist_suspended_visible,
              "a missing alarm within the beat-count tolerance of the alarm point"),
    RuleCheck("MON-STOP-OBEYED", "P-ALWAYS-STOPPABLE",
              "premise = the monitor's STOP sent stop_tolerance_ms ago (operator key unseen)",
              _stop_obeyed, _stop_obeyed_visible,
              "the operator's own STANDBY key (not on the wire): only the monitor's STOP"),
    RuleCheck("MON-MODE-TABLE", "MODE_TABLE",
              "source -> destination pairs of the mode table (guards: see UNOBSERVABLE)",
              _mode_table, _always, "the guards of the mode table (operator keys, sensors)"),
    RuleCheck("MON-NO-START-OVER-ALARM", "P-NO-START-OVER-ALARM",
              "as proved (the alarm bits of the frame before the start), and also those of "
              "the entry frame itself (the verified console cannot raise one on the tick it "
              "starts: a fault or contraindication blocks the start)",
              _no_start_over_alarm, _always),
    RuleCheck("MON-TRIGGER-LOSS-BOUND", "P-TRIGGER-LOSS-BOUND",
              "own triggers; a violation counts once it has outlasted the detection tolerance "
              "(the monitor may decide the last beat before the console did)",
              _as_proved("P-TRIGGER-LOSS-BOUND"), _always),
    RuleCheck("MON-INTERNAL-RATE", "P-INTERNAL-RATE",
              "as proved: commanded mode and balloon edges", _as_proved("P-INTERNAL-RATE"),
              _always),
    RuleCheck("MON-INTERNAL-DEFLATES", "P-INTERNAL-DEFLATES",
              "as proved: commanded mode and balloon", _as_proved("P-INTERNAL-DEFLATES"),
              _always),
)
"""Every runtime rule: its check, built from its property, and the bound of what it misses."""


def rule_check(rule_id: str) -> RuleCheck:
    """The declaration of one monitor rule."""
    for r in RULE_CHECKS:
        if r.rule_id == rule_id:
            return r
    raise SpecError(f"no monitor rule {rule_id!r}; known: "
                    f"{', '.join(r.rule_id for r in RULE_CHECKS)}")


def rule_checks(spec: SystemSpec) -> tuple[RuleCheck, ...]:
    """The rules whose property is in ``spec`` (all of them for the stated spec)."""
    ids = {p.id for p in spec.properties} | {"MODE_TABLE"}
    return tuple(r for r in RULE_CHECKS if r.property_id in ids)


# -- what the monitor sees: the observation assumptions of the theorem --------------------

VIEW: Final[dict[str, Var]] = {
    "heart_t_ms'": _i("view_heart_t_ms", True),
    "heart_pep_ms'": _i("view_heart_pep_ms", True),
    "heart_qs2_ms'": _i("view_heart_qs2_ms", True),
    "heart_silent'": _b("view_heart_silent", True),
}
"""Valuation keys that hold the monitor's OWN view of the heart, not the spec's true
value: in the theorem, a rule's check reads these ``view_*`` variables, tied to the true
heart only by :data:`OBSERVATIONS`."""


@dataclass(frozen=True)
class Observation:
    """An assumption on what the monitor sees, relating its view to the pump's true state.

    The no-false-alarm and no-miss theorem holds under these; each says where its bound
    comes from (a measurement, the monitor's own computation, or the hardware).
    """

    id: str
    text: str
    build: Builder


def _onset_observed(spec: SystemSpec, tol: RuleTolerances) -> Expr:
    t, vt = _i("heart_t_ms", True), VIEW["heart_t_ms'"]
    o = tol.onset_tolerance_ms
    return And(VIEW["heart_silent'"].eq(_b("heart_silent", True)),
               Implies(Not(_b("heart_silent", True)), And(vt - t <= o, t - vt <= o)))


def _band_computed(spec: SystemSpec, tol: RuleTolerances) -> Expr:
    prr = _i("heart_prev_rr_ms", True)
    return And(VIEW["heart_pep_ms'"].eq(judged_pep_ms(prr)),
               VIEW["heart_qs2_ms'"].eq(judged_qs2_ms(prr)))


def _gas_line(spec: SystemSpec, tol: RuleTolerances) -> Expr:
    measured = {k: Var(v.name, v.sort, True) for k, v in MEASURED_GAS.items()}
    commanded = balloon_may_hold_gas(_b("inflate_cmd", True), _i("gas_timer_ms", True),
                                     _b("gas_filled", True))
    return Implies(balloon_may_hold_gas(measured["inflate_cmd"], measured["gas_timer_ms"],
                                        measured["gas_filled"]), commanded)


def _stop_delivered(spec: SystemSpec, tol: RuleTolerances) -> Expr:
    op_var = Var("op", _input_sort(spec, "op"))
    return Implies(_stop_sent(tol), op_var.eq(OperatorCommand.STANDBY))


def _input_sort(spec: SystemSpec, name: str) -> Sort:
    for i in spec.inputs:
        if i.name == name:
            return i.sort
    raise SpecError(f"the spec has no input {name!r}")


def _same_activity(spec: SystemSpec, tol: RuleTolerances) -> Expr:
    return ACTIVITY_LATE.eq(_b("activity"))


OBSERVATIONS: Final[tuple[Observation, ...]] = (
    Observation("OBS-ONSET", "the monitor's own QRS onset of this beat is within "
                "onset_tolerance_ms of the true onset (MON_ONSET_ERROR_MAX_MS, measured on "
                "the normal, bundle-branch and paced beats of all 41 development records), and "
                "it sees a beat exactly when the heart beats (retro judging places every frame "
                "in the beat it belongs to once the beat is decided)", _onset_observed),
    Observation("OBS-BAND", "the monitor's ejection window is judged_pep_ms .. judged_qs2_ms "
                "of the beat's R-R (pep_hi .. qs2_hi of the rate bands), computed from the R-R "
                "that ended at this beat (R-R measured between its own peaks, taken as exact)",
                _band_computed),
    Observation("OBS-GAS-LINE", "the helium line never shows gas the spec's balloon plant "
                "excludes for the commanded balloon (the hardware keeps ASM-GAS; the measured "
                "conjuncts are there to catch hardware that does not)", _gas_line),
    Observation("OBS-STOP", "a STOP the monitor has sent for stop_tolerance_ms reaches the "
                "console as its STANDBY key on this tick (the monitor repeats it every tick "
                "while latched)", _stop_delivered),
    Observation("OBS-SAME-BEATS", "the monitor's own R-wave and upstroke detectors report "
                "the beats the console's detectors report (trigger freshness, trigger loss, "
                "beat counts and activity are read as the console's): the spread between the "
                "two decisions is absorbed by the rules' reaction tolerances "
                "(detection_tolerance_ms), which the record benchmarks measure, not this "
                "theorem", _same_activity),
)
"""What the monitor is assumed to see; every other valuation key is the console's own
telemetry (mode, balloon command, alarms, settings) or the spec's observers replayed on
it, read exactly."""


#: Valuation keys that change only when the console's commanded state changes (mode,
#: balloon command, alarm mask, settings) or on a monitor event; rules that read only
#: these need judging only on frames flagged ``mon_changed`` and the frame after.
SLOW_KEYS: Final = frozenset(
    k for base in ("mode", "inflate_cmd", *ALARM_VARS, *(s.var.name for s in SETTINGS),
                   "mon_stop_sent")
    for k in (base, base + "'")) | frozenset(
    ("contra_absolute", "contra_relative", "contra_override", "r_wave", "upstroke", "notch",
     "activity", "mon_beat", "mon_activity_late"))

__all__ = ["CONSOLE_MONITOR_DECISION_SPREAD_MS", "MEASURED_GAS", "MON_ONSET_ERROR_MAX_MS",
           "OBSERVATIONS", "RULE_CHECKS", "VIEW", "Observation", "SLOW_KEYS", "STATED_TOLERANCES", "RuleCheck",
           "RuleTolerances", "drop_conjuncts", "kept_conjuncts", "prime",
           "rule_check", "rule_checks", "shrink_window"]
