"""The proof engine: induction with proved lemmas, vacuity checks, counterexample search.

For a property P with assumptions A and lemma closure L (all from the spec):

1. *Non-vacuity of the assumptions*: power-on states exist, and a step exists from a
   state satisfying L under A (both queries must be ``sat``).
2. *Lemmas*: each lemma holds at power-on and is preserved by every step from a state
   satisfying all of L (joint 1-induction); each query must be ``unsat``.
3. *The property*: a STATE property joins the induction; a TRANSITION property must
   follow from L on every step (``unsat``).
4. *Non-vacuity of the premise*: the premise must not contradict L, and a witness trace
   from power-on that reaches it must exist (see :mod:`iabp.proofs.search`).

Every query is kept as a standalone SMT-LIB2 text, so ``z3 file.smt2`` re-checks it
without this code. When induction fails, :mod:`iabp.proofs.search` looks for a real trace
from power-on; only such a trace makes a property VIOLATED.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import z3

from iabp.proofs.results import Answer, PropertyResult, QueryRecord, Status
from iabp.proofs.to_z3 import EnumSorts, Frame, Translator, domains, step_relation
from iabp.spec.expr import Expr
from iabp.spec.system import Lemma, Property, PropertyKind, SystemSpec

DEFAULT_SEED = 20261125


@dataclass
class Query:
    """One satisfiability question with its purpose and expected answer."""

    name: str
    purpose: str
    expected: Answer
    assertions: list[z3.BoolRef]

    def smt2(self, header: str) -> str:
        s = z3.Solver()
        for a in self.assertions:
            s.add(a)
        text = s.to_smt2()
        return f"; {header}\n; query: {self.name}\n; purpose: {self.purpose}\n" \
               f"; expected: {self.expected}\n{text}"


@dataclass
class QueryOutcome:
    """The solver's answer to one :class:`Query`, with its time, model (sat) or reason (unknown)."""

    answer: Answer
    seconds: float
    model: z3.ModelRef | None
    reason: str = ""


@dataclass
class ProofContext:
    """Z3 frames for the current and next state, with cached transition relations."""

    spec: SystemSpec
    timeout_s: float = 60.0
    seed: int = DEFAULT_SEED
    enums: EnumSorts = field(default_factory=EnumSorts)
    on_query: Callable[[Query, QueryOutcome], None] | None = None

    def __post_init__(self) -> None:
        self.cur = Frame(self.spec, "s", self.enums)
        self.nxt = Frame(self.spec, "t", self.enums)
        self._trans: dict[frozenset[str], tuple[list[z3.BoolRef], Translator]] = {}
        self.state_tr = Translator(lambda k: self.cur.consts[k], self.enums)
        self.next_tr = Translator(lambda k: self.nxt.consts[k], self.enums)

    # -- building blocks ----------------------------------------------------------------
    def trans(self, assumptions: frozenset[str]) -> tuple[list[z3.BoolRef], Translator]:
        if assumptions not in self._trans:
            self._trans[assumptions] = step_relation(self.spec, self.cur, self.nxt, self.enums,
                                                     set(assumptions))
        return self._trans[assumptions]

    def init(self) -> list[z3.BoolRef]:
        out = [self.state_tr(e) for e in self.spec.init]
        out += [self.state_tr(s.init) for s in self.spec.state if s.init is not None]
        return out + domains(self.spec, self.cur, self.enums)

    def state(self, e: Expr, primed: bool = False) -> z3.BoolRef:
        return (self.next_tr if primed else self.state_tr)(e)

    def run(self, q: Query) -> QueryOutcome:
        s = z3.Solver()
        s.set("timeout", int(self.timeout_s * 1000))
        s.set("random_seed", self.seed)
        for a in q.assertions:
            s.add(a)
        t0 = time.perf_counter()
        r = s.check()
        dt = time.perf_counter() - t0
        out = QueryOutcome(Answer(str(r)), dt, s.model() if r == z3.sat else None,
                      s.reason_unknown() if r == z3.unknown else "")
        if self.on_query is not None:
            self.on_query(q, out)
        return out

    # -- lemma induction -----------------------------------------------------------------
    def obligations(self, prop: Property) -> list[Query]:
        """The queries that must all be unsat for ``prop`` to be PROVED: base and step of
        every lemma of its closure (with the property itself when it is a state property),
        and for a transition property its step under the lemmas."""
        assumptions = property_assumptions(self.spec, prop)
        lemmas = self.spec.lemma_closure(prop.lemmas)
        extra = [(prop.id, prop.formula)] if prop.kind is PropertyKind.STATE else []
        queries = self.lemma_queries(lemmas, extra, assumptions)
        if prop.kind is PropertyKind.TRANSITION:
            trans, ttr = self.trans(assumptions)
            hyp = [self.state(lem.expr) for lem in lemmas]
            queries.append(Query(f"{prop.id}.step", f"{prop.id} holds on every step",
                                 Answer.UNSAT, [*hyp, *trans, z3.Not(ttr(prop.formula))]))
        return queries

    def lemma_queries(self, lemmas: list[Lemma], extra: list[tuple[str, Expr]],
                      assumptions: frozenset[str]) -> list[Query]:
        """Base and step queries proving ``lemmas`` plus ``extra`` invariants jointly."""
        invs = [(lem.id, lem.expr) for lem in lemmas] + extra
        trans, _ = self.trans(assumptions)
        hyp = [self.state(e) for _, e in invs]
        qs: list[Query] = []
        for name, e in invs:
            qs.append(Query(f"{name}.base", f"{name} holds at power-on", Answer.UNSAT,
                            [*self.init(), z3.Not(self.state(e))]))
            qs.append(Query(f"{name}.step", f"{name} is preserved by every step", Answer.UNSAT,
                            [*hyp, *trans, z3.Not(self.state(e, primed=True))]))
        return qs


def z3_scalar(v: z3.ExprRef) -> bool | int | None:
    """A model value as a Python bool or int; None when it is neither (an enum constant)."""
    if z3.is_true(v):
        return True
    if z3.is_false(v):
        return False
    if z3.is_int_value(v):
        return int(v.as_long())
    return None


def model_value(ctx: ProofContext, name: str, v: z3.ExprRef) -> Any:
    """A model's value of a spec variable as Python: bool, int, or the enum member."""
    scalar = z3_scalar(v)
    if scalar is not None:
        return scalar
    sorts = {s.name: s.sort for s in ctx.spec.state} | {i.name: i.sort for i in ctx.spec.inputs}
    sort = sorts.get(name)
    if sort is not None and sort.enum is not None:
        return ctx.enums.decode(sort.enum, v)
    return str(v)


def model_rows(ctx: ProofContext, model: z3.ModelRef,
               frames: Sequence[Frame]) -> list[dict[str, Any]]:
    """A model's values of every variable of each frame, one row per frame (``tick`` 0, 1,
    ...), the way traces are kept."""
    return [{"tick": k, **{name: model_value(ctx, name, model.eval(c, model_completion=True))
                           for name, c in f.consts.items()}}
            for k, f in enumerate(frames)]


def induction_counterexample(ctx: ProofContext, q: Query,
                             model: z3.ModelRef) -> list[dict[str, Any]]:
    """The state (and, for a step query, its successor) in which a failed obligation
    breaks: rows like a trace's (tick 0 and 1), NOT shown reachable from power-on."""
    return model_rows(ctx, model, [ctx.cur] if q.name.endswith(".base") else [ctx.cur, ctx.nxt])


def property_assumptions(spec: SystemSpec, prop: Property) -> frozenset[str]:
    return frozenset(spec.assumptions_of(prop))


def prove_property(ctx: ProofContext, prop: Property,
                   find_trace: Callable[[Property, z3.ModelRef | None],
                                        tuple[str, list[dict[str, Any]] | None]]
                   | None = None,
                   find_witness: Callable[[Property], int | None] | None = None,
                   keep: list[Query] | None = None) -> PropertyResult:
    """Prove one property; see the module docstring for the steps."""
    spec = ctx.spec
    t0 = time.perf_counter()
    assumptions = property_assumptions(spec, prop)
    lemmas = spec.lemma_closure(prop.lemmas)
    result = PropertyResult(prop.id, prop.title, list(prop.requirements), list(prop.hazards),
                            Status.UNKNOWN, "1-induction with lemmas", 1, 0.0,
                            sorted(assumptions), [lem.id for lem in lemmas])

    def record(q: Query, o: QueryOutcome) -> None:
        result.queries.append(QueryRecord(q.name, q.purpose, q.expected, o.answer, o.seconds))
        if keep is not None:
            keep.append(q)

    trans, ttr = ctx.trans(assumptions)
    lemma_hyp = [ctx.state(lem.expr) for lem in lemmas]

    sanity = [
        Query(f"{prop.id}.assumptions-init", "power-on states exist", Answer.SAT, ctx.init()),
        Query(f"{prop.id}.assumptions-step", "a step exists from every lemma state", Answer.SAT,
              [*lemma_hyp, *trans]),
    ]
    for q in sanity:
        o = ctx.run(q)
        record(q, o)
        if o.answer is not Answer.SAT:
            status = Status.VACUOUS if o.answer is Answer.UNSAT else Status.UNKNOWN
            return _finish(result, t0, status, f"{q.purpose}: solver says {o.answer} {o.reason}")

    obligations = ctx.obligations(prop)
    failed: tuple[Query, QueryOutcome] | None = None
    for q in obligations:
        o = ctx.run(q)
        record(q, o)
        if o.answer is not Answer.UNSAT and failed is None:
            failed = (q, o)
            break
    if failed is not None:
        q, o = failed
        reason = f"{q.name} is {o.answer}" + (f" ({o.reason})" if o.reason else "")
        if o.model is not None:
            result.cti_query = q.name
            result.cti = induction_counterexample(ctx, q, o.model)
        if find_trace is not None:
            how, trace = find_trace(prop, o.model)
            if trace is not None:
                result.counterexample = trace
                result.method = how
                return _finish(result, t0, Status.VIOLATED,
                               f"{reason}; a trace from power-on breaks it ({how})")
        return _finish(result, t0, Status.UNKNOWN,
                       f"{reason}; no trace from power-on found: the lemmas may be too weak")

    transition = prop.kind is PropertyKind.TRANSITION
    reachable = [*lemma_hyp, *(trans if transition else [])]
    translate = ttr if transition else ctx.state_tr
    premise_q = Query(f"{prop.id}.premise", "the premise does not contradict the lemmas",
                      Answer.SAT, [*reachable, translate(prop.premise)])
    o = ctx.run(premise_q)
    record(premise_q, o)
    if o.answer is Answer.UNSAT:
        return _finish(result, t0, Status.VACUOUS, "the premise is unreachable: it contradicts "
                       "the proved invariants")
    for name, case in prop.cases:
        narrowed = prop.case(name, case)
        case_q = Query(f"{prop.id}.premise-{_slug(name)}",
                       f"the premise is reachable in the case '{name}'", Answer.SAT,
                       [*reachable, translate(narrowed.premise)])
        o = ctx.run(case_q)
        record(case_q, o)
        if o.answer is Answer.UNSAT:
            return _finish(result, t0, Status.VACUOUS, f"the premise is unreachable in the case "
                           f"'{name}': the property says nothing there")
    if find_witness is not None:
        result.witness_ticks = find_witness(prop)
        if result.witness_ticks is None:
            return _finish(result, t0, Status.UNKNOWN, "proved, but no witness trace reaching the "
                           "premise was found, so vacuity is not excluded")
        for name, case in prop.cases:
            if find_witness(prop.case(name, case)) is None:
                return _finish(result, t0, Status.UNKNOWN, f"proved, but no witness trace "
                               f"reaches the premise in the case '{name}', so vacuity there is "
                               "not excluded")
    return _finish(result, t0, Status.PROVED, "all obligations unsat")


def _slug(name: str) -> str:
    """A case name as part of a query (and SMT-LIB2 file) name."""
    return "-".join("".join(c if c.isalnum() else " " for c in name.lower()).split())


def _finish(r: PropertyResult, t0: float, status: Status, reason: str) -> PropertyResult:
    r.status = status
    r.reason = reason
    r.seconds = time.perf_counter() - t0
    return r
