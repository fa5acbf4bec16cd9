"""The monitor theorem: no false stop of correct therapy, no miss of a visible violation.

Compositional, per runtime rule ``r`` of :data:`iabp.spec.monitor_rules.RULE_CHECKS`, whose
check ``C_r`` the monitor compiles from the same declaration:

* **No false alarm.** In every step of the verified controller between states that satisfy
  the proved lemmas and the rule's property (all proved invariants, so every reachable
  step is one), with the monitor seeing the pump as :data:`~iabp.spec.monitor_rules.
  OBSERVATIONS` state, ``C_r`` holds: ``L(s) & P(s) & T(s, t) & L(t) & P(t) & O => C_r``
  must be unsat when negated. The monitor's ejection window is NOT the heart's: it is the
  widest the rate bands allow, from an onset off by up to the measured error, so this is
  more than "the rule restates the property": it is the controller's lemmas that keep the
  balloon out of the wider window.
* **No miss.** For ANY console state (the console may be faulty: no controller step, no
  lemmas), if the property is violated and the violation is visible on the wire
  (``visible_r``: e.g. deeper than twice the onset error inside the ejection window), the
  check fails: ``O & not P & visible_r & C_r`` must be unsat.

Three satisfiability checks keep each half honest: the hypotheses with the observations
must be satisfiable (a contradiction would prove anything), the controller must reach
what the rule judges under them (the property's premise: else no-false-alarm holds
because the rule never has to judge), and a visible violation must exist (else the
no-miss half says nothing). Together with the properties' own proofs this
gives: every trace of the verified controller inside the assumptions passes every rule,
and every console trace that visibly breaks a property trips one. Outside the theorem
(stated, measured, not proved): the reaction tolerances in frames, the warm-up, and how
often the monitor's own detectors disagree with the console's (OBS-SAME-BEATS).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import z3

from iabp.proofs.engine import ProofContext, Query, QueryOutcome, model_rows, z3_scalar
from iabp.proofs.results import Answer, PropertyResult, QueryRecord, Status
from iabp.proofs.to_z3 import Translator, domains, z3_sort
from iabp.spec.expr import Expr, Var
from iabp.spec.iabp import iabp_spec
from iabp.spec.monitor_rules import (
    OBSERVATIONS,
    STATED_TOLERANCES,
    VIEW,
    RuleCheck,
    RuleTolerances,
    rule_check,
    rule_checks,
)
from iabp.spec.system import Lemma, Property, PropertyKind, SystemSpec
from iabp.spec.walker import substitute, walk

METHOD = "compositional: proved invariants => check (no false alarm); check => no visible " \
         "violation (no miss)"


@dataclass(frozen=True)
class MonitorVariant:
    """A deliberately broken monitor: one rule built with other tolerances than stated.

    ``breaks`` is the rule and ``half`` which half of the theorem must then fail
    (``no-false-alarm`` for a rule stricter than the spec, ``no-miss`` for a laxer one).
    """

    id: str
    title: str
    breaks: str
    half: str
    tolerances: RuleTolerances


def _tol(**changes: int) -> RuleTolerances:
    return RuleTolerances(**{**STATED_TOLERANCES.__dict__, **changes})


_S = STATED_TOLERANCES
MONITOR_VARIANTS: tuple[MonitorVariant, ...] = (
    MonitorVariant("mon-window-wide", "the ejection window is widened by the onset error "
                   "instead of shrunk (stops inflation at the notch)",
                   "MON-INFL-DIASTOLE", "no-false-alarm",
                   _tol(onset_tolerance_ms=-_S.onset_tolerance_ms)),
    MonitorVariant("mon-gas-window-wide", "the gas window is widened by the onset error",
                   "MON-NO-GAS-IN-EJECTION", "no-false-alarm",
                   _tol(onset_tolerance_ms=-_S.onset_tolerance_ms)),
    MonitorVariant("mon-window-narrow", "the ejection window is shrunk by three times the "
                   "onset error (misses helium the console puts in ejection)",
                   "MON-NO-GAS-IN-EJECTION", "no-miss",
                   _tol(onset_tolerance_ms=3 * _S.onset_tolerance_ms)),
    MonitorVariant("mon-trigger-loss-early", "trigger loss judged 1 ms before the console "
                   "must react", "MON-TRIGGER-LOSS", "no-false-alarm",
                   _tol(detection_tolerance_ms=-1)),
    MonitorVariant("mon-trigger-loss-late", "trigger loss judged 1 ms after the stated bound",
                   "MON-TRIGGER-LOSS", "no-miss",
                   _tol(detection_tolerance_ms=_S.detection_tolerance_ms + 1)),
    MonitorVariant("mon-assist-early", "assist-suspended alarm demanded one beat early",
                   "MON-ASSIST-SUSPENDED", "no-false-alarm", _tol(beat_count_tolerance=-1)),
    MonitorVariant("mon-assist-late", "assist-suspended alarm demanded one beat later than "
                   "the stated bound", "MON-ASSIST-SUSPENDED", "no-miss",
                   _tol(beat_count_tolerance=_S.beat_count_tolerance + 1)),
)


_VARIANTS_BY_ID = {v.id: v for v in MONITOR_VARIANTS}


def monitor_variant(vid: str) -> MonitorVariant:
    """A broken monitor by its ID (KeyError naming the known ones)."""
    if vid not in _VARIANTS_BY_ID:
        raise KeyError(f"no monitor variant {vid!r}; known: {', '.join(_VARIANTS_BY_ID)}")
    return _VARIANTS_BY_ID[vid]


@dataclass
class RuleQueries:
    """The queries of one rule, in the order they run."""

    consistent: Query
    premise: Query
    no_false_alarm: Query
    violation_exists: Query | None
    no_miss: Query | None
    view: dict[str, z3.ExprRef] = field(default_factory=dict)
    lemmas: tuple[str, ...] = ()  #: the invariants the no-false-alarm half assumes

    def all(self) -> list[Query]:
        return [q for q in (self.consistent, self.premise, self.no_false_alarm,
                            self.violation_exists, self.no_miss) if q is not None]


def _extra_vars(exprs: Sequence[Expr], known: set[str]) -> dict[str, Var]:
    out: dict[str, Var] = {}
    for e in exprs:
        for node in walk(e):
            if isinstance(node, Var) and node.name not in known:
                out[node.key] = node
    return out


def usable_invariants(spec: SystemSpec, assumptions: frozenset[str],
                      proved: frozenset[str]) -> tuple[list[Lemma], list[Property]]:
    """The ``proved`` properties whose proofs need no assumption outside ``assumptions``,
    and the lemmas those proofs proved (each property's proof proves its lemma closure by
    induction): all hold in every reachable state (step) of the system constrained by
    ``assumptions``. A lemma no proved property uses is never assumed."""
    props = [p for p in spec.properties
             if p.id in proved and set(spec.assumptions_of(p)) <= assumptions]
    lemmas = spec.lemma_closure({lid for p in props for lid in p.lemmas})
    return lemmas, props


def rule_queries(ctx: ProofContext, check: RuleCheck,
                 tolerances: RuleTolerances = STATED_TOLERANCES,
                 proved: frozenset[str] = frozenset()) -> RuleQueries:
    """The queries of the theorem for one rule, its check built with ``tolerances`` (the
    stated ones, or a broken variant's); observations and miss bounds are always stated.
    The no-false-alarm half assumes every property in ``proved`` (the run's PROVED ones)
    whose proof stays inside the rule's property's assumptions, and the lemmas their proofs
    proved; if the rule's own property is not among them, nothing says the controller keeps
    it and the half fails, as it should."""
    spec = ctx.spec
    prop: Property | None = None if check.property_id == "MODE_TABLE" else \
        spec.property(check.property_id)
    assumptions = frozenset(spec.assumptions_of(prop)) if prop is not None else \
        frozenset(c.assumption for c in spec.env)
    lemmas, props = usable_invariants(spec, assumptions, proved)
    trans, ttr = ctx.trans(assumptions)
    c_view = substitute(check.build(spec, tolerances), VIEW)
    observed = [o.build(spec, STATED_TOLERANCES) for o in OBSERVATIONS]
    visible = check.visible(spec, STATED_TOLERANCES)
    names = {s.name for s in spec.state} | {i.name for i in spec.inputs}
    extra = _extra_vars([c_view, *observed, visible], names)
    consts = {k: z3.Const(f"{v.key}@view", z3_sort(v.sort, ctx.enums)) for k, v in extra.items()}
    base = ttr.lookup
    tr = Translator(lambda k: consts[k] if k in consts else base(k), ctx.enums)
    obs = [tr(o) for o in observed]
    name = check.rule_id

    hyp = [ctx.state(lem.expr) for lem in lemmas] + trans \
        + [ctx.state(lem.expr, primed=True) for lem in lemmas]
    for p in props:
        if p.kind is PropertyKind.STATE:
            hyp += [ctx.state(p.formula), ctx.state(p.formula, primed=True)]
        else:
            hyp.append(ttr(p.formula))
    consistent = Query(f"{name}.consistent", "the proved invariants, one controller step and "
                       "the observations are satisfiable together", Answer.SAT, [*hyp, *obs])
    if prop is None:  # the mode table judges mode changes
        mode = spec.state_var("mode")
        judged = tr(Var("mode", mode.sort).ne(Var("mode", mode.sort, True)))
    elif prop.kind is PropertyKind.STATE:
        judged = ctx.state(prop.premise, primed=True)
    else:
        judged = ttr(prop.premise)
    premise = Query(f"{name}.premise", "the verified controller reaches what the rule judges "
                    "(the property's premise) under the same hypotheses", Answer.SAT,
                    [*hyp, *obs, judged])
    nfa = Query(f"{name}.no-false-alarm", "no step of the verified controller fails the "
                "rule's check", Answer.UNSAT, [*hyp, *obs, z3.Not(tr(c_view))])
    exists = miss = None
    if prop is not None:
        violated = z3.Not(ctx.state(prop.formula, primed=True)
                          if prop.kind is PropertyKind.STATE else ttr(prop.formula))
        ranges = domains(spec, ctx.cur, ctx.enums) + domains(spec, ctx.nxt, ctx.enums)
        exists = Query(f"{name}.violation-exists", "a console state that visibly violates the "
                       "property exists", Answer.SAT, [*ranges, *obs, violated, tr(visible)])
        miss = Query(f"{name}.no-miss", "every visible violation of the property fails the "
                     "rule's check", Answer.UNSAT,
                     [*ranges, *obs, violated, tr(visible), tr(c_view)])
    return RuleQueries(consistent, premise, nfa, exists, miss, consts,
                       (*(lem.id for lem in lemmas), *(p.id for p in props)))


def prove_rule(ctx: ProofContext, check: RuleCheck,
               tolerances: RuleTolerances = STATED_TOLERANCES,
               keep: list[Query] | None = None,
               proved: frozenset[str] = frozenset()) -> PropertyResult:
    """Both halves of the theorem for one rule (PROVED only if all four answers are as
    expected)."""
    t0 = time.perf_counter()
    spec = ctx.spec
    prop = None if check.property_id == "MODE_TABLE" else spec.property(check.property_id)
    result = PropertyResult(
        check.rule_id, f"monitor rule {check.rule_id} on {check.property_id}: no false alarm, "
        "no miss", list(prop.requirements if prop else ("REQ-MON-FAILSAFE",)),
        list(prop.hazards if prop else ()), Status.UNKNOWN, METHOD, 1, 0.0,
        sorted({*(spec.assumptions_of(prop) if prop else ()), *(o.id for o in OBSERVATIONS)}),
        [])
    qs = rule_queries(ctx, check, tolerances, proved)
    frames = [ctx.cur, ctx.nxt]
    result.lemmas = [*qs.lemmas]
    for q in qs.all():
        o: QueryOutcome = ctx.run(q)
        result.queries.append(QueryRecord(q.name, q.purpose, q.expected, o.answer, o.seconds))
        if keep is not None:
            keep.append(q)
        if o.answer is q.expected:
            continue
        result.seconds = time.perf_counter() - t0
        if o.answer is Answer.UNKNOWN:
            result.reason = f"{q.name}: the solver gave up ({o.reason})"
            return result
        rows = _rows(ctx, o.model, frames, qs.view) if o.model is not None else None
        if q is qs.no_miss:
            result.status = Status.VIOLATED
            result.counterexample = rows
            result.reason = ("a console state violates the property visibly and the rule's "
                             "check still holds: the monitor would miss it")
        elif q is qs.no_false_alarm:
            result.cti, result.cti_query = rows, q.name
            result.reason = ("a step of the verified controller between states satisfying every "
                             "proved invariant fails the rule's check: a possible false stop "
                             "of correct therapy (not shown reachable from power-on)")
        else:
            result.status = Status.VACUOUS
            result.reason = f"{q.name} is {o.answer}: {q.purpose} does not hold"
        return result
    result.status = Status.PROVED
    result.reason = "no-false-alarm and no-miss obligations unsat; both halves non-vacuous"
    result.seconds = time.perf_counter() - t0
    return result


def _rows(ctx: ProofContext, model: z3.ModelRef, frames: list[Any],
          view: dict[str, z3.ExprRef]) -> list[dict[str, Any]]:
    rows = model_rows(ctx, model, frames)
    for key, c in view.items():
        v = model.eval(c, model_completion=True)
        scalar = z3_scalar(v)
        rows[-1 if key.endswith("'") else 0][key.rstrip("'")] = \
            str(v) if scalar is None else scalar
    return rows


def prove_monitor_rules(ctx: ProofContext, proved: frozenset[str],
                        keep: dict[str, list[Query]] | None = None) -> list[PropertyResult]:
    """The theorem for every rule of ``ctx.spec`` (stated tolerances), assuming the
    ``proved`` properties."""
    out = []
    for check in rule_checks(ctx.spec):
        kept: list[Query] = []
        out.append(prove_rule(ctx, check, keep=kept, proved=proved))
        if keep is not None:
            keep[check.rule_id] = kept
    return out


def prove_monitor_variant(vid: str, timeout_s: float = 60.0) -> PropertyResult:
    """The theorem for the rule a broken monitor variant targets, built as that variant
    (the spec's properties taken as proved: ``iabp prove`` proves them)."""
    v = monitor_variant(vid)
    spec = iabp_spec()
    ctx = ProofContext(spec, timeout_s=timeout_s)
    return prove_rule(ctx, rule_check(v.breaks), v.tolerances,
                      proved=frozenset(p.id for p in spec.properties))
