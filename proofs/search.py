"""Looking for real traces from power-on: witnesses for premises, counterexamples for failures.

- :class:`WitnessFinder` runs the scenario library on the spec and remembers, for each
  property and each of its named cases (``Property.cases``, e.g. one per trigger mode), a
  scenario and tick at which that premise holds (non-vacuity).
- :class:`CounterexampleFinder` first unrolls the transition relation from power-on with
  Z3 for a few ticks (bounded model checking: finds faults that need no heart history),
  then runs the scenario library on the spec (with the failing settings of the
  induction counterexample too) and checks the property on every tick.
Both produce traces that start at power-on and obey every assumption, so a
counterexample found here is real, never an artefact of weak lemmas.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import z3

from iabp.proofs.engine import ProofContext, model_rows, property_assumptions
from iabp.proofs.scenarios import assumption_breaking, corner_scenarios, scenarios
from iabp.proofs.simulate import Scenario, SpecSimulator
from iabp.proofs.to_z3 import Frame, domains, state_translator, step_relation
from iabp.spec.engines.to_python import compile_expr
from iabp.spec.errors import SpecError
from iabp.spec.settings import DEFAULT_SETTINGS, SETTINGS, current_settings, settings_valid
from iabp.spec.system import Property, PropertyKind, SystemSpec

Trace = list[dict[str, Any]]


@dataclass
class Witness:
    scenario: str
    tick: int


class WitnessFinder:
    """Finds, per property and per named case of its premise (``Property.case``), a
    scenario tick at which that premise holds."""

    def __init__(self, spec: SystemSpec) -> None:
        self.spec = spec
        self.sim = SpecSimulator(spec)
        self.found: dict[str, Witness] = {}
        self._pending = list(scenarios())
        self._targets = [t for p in spec.properties
                         for t in (p, *(p.case(name, e) for name, e in p.cases))]

    def __call__(self, prop: Property) -> int | None:
        while prop.id not in self.found and self._pending:
            sc = self._pending.pop(0)
            todo = [p for p in self._targets if p.id not in self.found]
            run = self.sim.run(sc, todo, stop_when_all_reached=True, keep_rows=False)
            for pid, tick in run.premise_tick.items():
                self.found.setdefault(pid, Witness(sc.name, tick))
        w = self.found.get(prop.id)
        return None if w is None else w.tick


class CounterexampleFinder:
    """Looks for a real trace from power-on that breaks a property."""

    def __init__(self, ctx: ProofContext, bmc_depth: int = 6, corners: bool = True) -> None:
        self.ctx = ctx
        self.spec = ctx.spec
        self.bmc_depth = bmc_depth
        #: also search the corner library (about 30 s once per spec) for properties that
        #: rest on the R-wave detector's timing
        self.corners = corners
        self._sim: SpecSimulator | None = None
        self.cti_settings: dict[str, int] | None = None
        #: corner scenario name -> the properties it breaks (each corner is run once,
        #: against every property, however many properties fail)
        self._breaks: dict[str, frozenset[str]] = {}

    def __call__(self, prop: Property, cti: z3.ModelRef | None = None
                 ) -> tuple[str, Trace | None]:
        self.cti_settings = None if cti is None else settings_from_model(cti, self.ctx)
        trace = self.bmc(prop)
        if trace is not None:
            return f"bounded model checking from power-on, {len(trace) - 1} ticks", trace
        found = self.scenario_search(prop)
        if found is not None:
            name, trace = found
            return f"scenario '{name}' from power-on, {len(trace) - 1} ticks", trace
        return "no trace found", None

    # -- bounded model checking ---------------------------------------------------------
    def bmc(self, prop: Property) -> Trace | None:
        spec, enums = self.spec, self.ctx.enums
        asm = set(property_assumptions(spec, prop))
        frames = [Frame(spec, "b0", enums)]
        solver = z3.Solver()
        solver.set("timeout", int(self.ctx.timeout_s * 1000))
        init_tr = state_translator(frames[0], enums)
        for e in spec.init:
            solver.add(init_tr(e))
        for s in spec.state:
            if s.init is not None:
                solver.add(init_tr(s.init))
        solver.add(*domains(spec, frames[0], enums))
        for k in range(1, self.bmc_depth + 1):
            frames.append(Frame(spec, f"b{k}", enums))
            trans, ttr = step_relation(spec, frames[k - 1], frames[k], enums, asm)
            solver.add(*trans)
            if prop.kind is PropertyKind.TRANSITION:
                bad = z3.Not(ttr(prop.formula))
            else:
                bad = z3.Not(state_translator(frames[k], enums)(prop.formula))
            if solver.check(bad) == z3.sat:
                return model_rows(self.ctx, solver.model(), frames)
        return None

    # -- scenarios ----------------------------------------------------------------------
    def scenario_search(self, prop: Property) -> tuple[str, Trace] | None:
        if self._sim is None:
            try:
                self._sim = SpecSimulator(self.spec)
            except SpecError:
                return None
        base = list(scenarios())
        reached: set[str] = set()  #: base scenarios in which the premise held
        found = self._first_break(prop, [*base, *assumption_breaking()], reached)
        if found is not None:
            return found
        # the induction counterexample's settings, and each setting at the extremes this
        # spec's validator accepts: all of them on (up to four of) the scenarios that
        # reached the premise (a setting may matter in one mode only), then the first few
        first = [sc for sc in base if sc.name in reached][:4]
        ordered = first + [sc for sc in base[:6] if sc not in first]
        candidates = self._candidate_settings()
        tries = [replace(sc, name=f"{sc.name} ({label})", settings=settings)
                 for sc in ordered for label, settings in candidates]
        found = self._first_break(prop, tries, set())
        if found is not None:
            return found
        # the corner library is long: each corner runs once against every property
        if not self.corners or "ASM-R-DETECT" not in property_assumptions(self.spec, prop):
            return None
        corners = [sc for sc in corner_scenarios() if prop.id in self._scenario_breaks(sc)]
        return self._first_break(prop, corners, set())

    def _first_break(self, prop: Property, tries: list[Scenario], reached: set[str]
                     ) -> tuple[str, Trace] | None:
        """The first of ``tries`` that breaks ``prop`` (name, trace); notes in ``reached``
        the scenarios in which its premise held."""
        assert self._sim is not None
        for sc in tries:
            try:
                run = self._sim.run(sc, [prop], stop_on_violation=True,
                                    assumptions=property_assumptions(self.spec, prop))
            except SpecError:
                continue
            if prop.id in run.violation_tick:
                return sc.name, run.rows
            if prop.id in run.premise_tick:
                reached.add(sc.name)
        return None

    def _scenario_breaks(self, sc: Scenario) -> frozenset[str]:
        """The properties a legal corner scenario breaks (its trace obeys every assumption,
        so it is a counterexample for any of them): run once against all, then remembered."""
        if sc.name not in self._breaks:
            assert self._sim is not None
            try:
                run = self._sim.run(sc, list(self.spec.properties), keep_rows=False)
                self._breaks[sc.name] = frozenset(run.violation_tick)
            except SpecError:
                self._breaks[sc.name] = frozenset()
        return self._breaks[sc.name]


    def _candidate_settings(self) -> list[tuple[str, dict[str, int]]]:
        """Settings worth trying: the induction counterexample's, and every single-setting
        extreme that this spec's power-on accepts but the real validator rejects (where a
        broken validator lets an unsafe setting through)."""
        out: list[tuple[str, dict[str, int]]] = []
        if self.cti_settings is not None:
            out.append(("counterexample settings", self.cti_settings))
        accepts = compile_expr(self.spec.init[0])
        real = compile_expr(settings_valid(current_settings()))

        def ok(check: Any, name: str, value: int) -> bool:
            return bool(check({f"set_{k}": v for k, v in
                               {**DEFAULT_SETTINGS, name: value}.items()}))

        for st in SETTINGS:
            span = st.hi - st.lo

            def takes(v: int, n: str = st.name) -> bool:
                return ok(accepts, n, v)
            for value in (_extreme(takes, st.default, st.lo - 4 * span, -1),
                          _extreme(takes, st.default, st.hi + 4 * span, +1)):
                if not ok(real, st.name, value):
                    out.append((f"{st.name}={value}", {**DEFAULT_SETTINGS, st.name: value}))
        return out


def _extreme(accepted: Callable[[int], bool], start: int, bound: int, direction: int) -> int:
    """The farthest value from ``start`` towards ``bound`` that ``accepted`` (an interval
    containing ``start``) still takes: a broken validator's widest setting."""
    good, bad = start, bound + direction
    if accepted(bound):
        return bound
    while abs(bad - good) > 1:
        mid = (good + bad) // 2
        good, bad = (mid, bad) if accepted(mid) else (good, mid)
    return good


def settings_from_model(model: z3.ModelRef, ctx: ProofContext) -> dict[str, int] | None:
    """The settings in force in an induction counterexample, if all are concrete numbers."""
    out: dict[str, int] = {}
    for s in SETTINGS:
        v = model.eval(ctx.cur.consts[s.var.name], model_completion=True)
        if not z3.is_int_value(v):
            return None
        out[s.name] = v.as_long()
    return out
