"""The shape of the whole specification: variables, the ordered step, assumptions, properties.

A :class:`SystemSpec` is plain data. The controller compiles its step to Python, the
prover translates the same step to Z3, and the report renders it; none of them adds a
rule of its own. Broken variants (see :mod:`iabp.spec.variants`) are made by replacing one
named piece of a spec with :meth:`SystemSpec.replace_assign` and friends, so a variant
differs from the real spec in exactly the rule it breaks.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from iabp.spec.errors import SpecError
from iabp.spec.expr import BOOL, And, Expr, Sort, Var
from iabp.spec.walker import free_vars, to_sexpr


class VarRole(Enum):
    """Who owns a state variable."""

    CONTROLLER = "controller"  #: the console software: runs on the pump
    ENVIRONMENT = "environment"  #: the heart and the detectors: non-deterministic
    PLANT = "plant"  #: the pneumatics, driven by the controller's command
    OBSERVER = "observer"  #: bookkeeping for properties only; nothing reads it back
    MONITOR = "monitor"  #: the runtime monitor's fail-safe supervisor (a separate device)


@dataclass(frozen=True)
class StateVar:
    """A state variable with its domain. ``init`` None means any value of the domain."""

    name: str
    sort: Sort
    role: VarRole
    meaning: str
    lo: int | None = None
    hi: int | None = None
    init: Expr | None = None

    @property
    def var(self) -> Var:
        return Var(self.name, self.sort)

    def domain(self, primed: bool = False) -> Expr | None:
        """``lo <= x <= hi`` for bounded integers (None for other sorts)."""
        v = self.var.nxt if primed else self.var
        parts = []
        if self.lo is not None:
            parts.append(v >= self.lo)
        if self.hi is not None:
            parts.append(v <= self.hi)
        if not parts:
            return None
        from iabp.spec.expr import And

        return And(*parts)

    def power_on_value(self) -> Any:
        """The value ``init`` fixes at power-on (``x == c`` gives c, ``not x`` False), or
        None when ``init`` is None or not of that form (any value of the domain)."""
        from iabp.spec.expr import Const, Op, Operator

        e = self.init
        if not isinstance(e, Op) or not isinstance(e.args[0], Var) or e.args[0].name != self.name:
            return None
        if e.op is Operator.EQ and isinstance(e.args[1], Const):
            return e.args[1].value
        if e.op is Operator.NOT:
            return False
        return None


@dataclass(frozen=True)
class InputVar:
    """A value read during a tick: a sensor, a detector output, an operator key."""

    name: str
    sort: Sort
    meaning: str
    lo: int | None = None
    hi: int | None = None

    @property
    def var(self) -> Var:
        return Var(self.name, self.sort)


@dataclass(frozen=True)
class Assign:
    """One line of the step: a wire (named intermediate) or a state variable's next value."""

    target: str
    expr: Expr
    is_wire: bool
    role: VarRole = VarRole.CONTROLLER


@dataclass(frozen=True)
class EnvConstraint:
    """A constraint the environment keeps (over current state, inputs, next state)."""

    assumption: str
    expr: Expr
    text: str


@dataclass(frozen=True)
class ModeTransition:
    """One row of the mode table: on ``trigger``, from any of ``sources`` to ``dest``.

    Rows are tried in table order; the first whose source matches and whose guard holds
    fires. ``guard`` names a wire ``guard.<name>`` of the step.
    """

    trigger: str
    sources: tuple[str, ...]
    dest: str
    guard: str


class PropertyKind(Enum):
    STATE = "state"  #: holds in every reachable state
    TRANSITION = "transition"  #: holds on every step from a reachable state


@dataclass(frozen=True)
class Property:
    """A named safety property, traced to requirements and hazards.

    ``formula`` may read current state, inputs and (for TRANSITION properties) next state.
    ``premise`` is the part that must be reachable for the property not to be vacuous.
    ``assumptions`` and ``lemmas`` are exactly what the proof may use.
    ``cases`` names parts of the premise that must EACH be reachable (e.g. one per trigger
    mode): a property about inflations in ECG and pressure trigger proves nothing about
    pressure trigger if pressure trigger never inflates, so the prover checks
    ``premise and case`` for vacuity, and finds a witness trace for it, case by case.
    """

    id: str
    title: str
    requirements: tuple[str, ...]
    hazards: tuple[str, ...]
    kind: PropertyKind
    premise: Expr
    conclusion: Expr
    assumptions: tuple[str, ...]
    lemmas: tuple[str, ...]
    plain: str
    cases: tuple[tuple[str, Expr], ...] = ()

    @property
    def formula(self) -> Expr:
        return self.premise.implies(self.conclusion)

    def case(self, name: str, expr: Expr) -> Property:
        """This property with its premise narrowed to one named case (a witness target:
        the same id with ``@name`` appended, no cases of its own)."""
        return dataclasses.replace(self, id=f"{self.id}@{name}", premise=And(self.premise, expr),
                                   cases=())


@dataclass(frozen=True)
class Lemma:
    """An auxiliary state invariant, proved by induction with the other lemmas it names."""

    id: str
    expr: Expr
    assumptions: tuple[str, ...]
    uses: tuple[str, ...]
    meaning: str


@dataclass(frozen=True)
class SystemSpec:
    """The complete, solver-free description of controller, environment, plant and observers."""

    name: str
    state: tuple[StateVar, ...]
    inputs: tuple[InputVar, ...]
    step: tuple[Assign, ...]
    env: tuple[EnvConstraint, ...]
    init: tuple[Expr, ...]
    mode_table: tuple[ModeTransition, ...]
    properties: tuple[Property, ...]
    lemmas: tuple[Lemma, ...]
    notes: dict[str, str] = field(default_factory=dict)

    # -- lookups ------------------------------------------------------------------------
    def state_var(self, name: str) -> StateVar:
        for s in self.state:
            if s.name == name:
                return s
        raise SpecError(f"no state variable {name!r}")

    def property(self, pid: str) -> Property:
        for p in self.properties:
            if p.id == pid:
                return p
        raise SpecError(f"no property {pid!r}; known: {', '.join(x.id for x in self.properties)}")

    def lemma(self, lid: str) -> Lemma:
        for lem in self.lemmas:
            if lem.id == lid:
                return lem
        raise SpecError(f"no lemma {lid!r}")

    def assign(self, target: str) -> Assign:
        for a in self.step:
            if a.target == target:
                return a
        raise SpecError(f"no step line for {target!r}")

    def chosen(self) -> list[StateVar]:
        """State variables the environment chooses freely each tick (within its constraints)."""
        assigned = {a.target for a in self.step if not a.is_wire}
        return [s for s in self.state if s.name not in assigned]

    def lemma_closure(self, ids: Iterable[str]) -> list[Lemma]:
        """The named lemmas and every lemma they use, transitively, in declaration order."""
        want: set[str] = set()
        stack = list(ids)
        while stack:
            lid = stack.pop()
            if lid in want:
                continue
            want.add(lid)
            stack.extend(self.lemma(lid).uses)
        return [lem for lem in self.lemmas if lem.id in want]

    def assumptions_of(self, prop: Property) -> list[str]:
        """Every assumption a property's proof may use: its own and its lemmas'."""
        ids = set(prop.assumptions)
        for lem in self.lemma_closure(prop.lemmas):
            ids.update(lem.assumptions)
        return sorted(ids)

    # -- variants -----------------------------------------------------------------------
    def replace_assign(self, target: str, expr: Expr, name: str | None = None) -> SystemSpec:
        """A copy in which the step line for ``target`` computes ``expr`` instead."""
        old = self.assign(target)
        step = tuple(dataclasses.replace(a, expr=expr) if a is old else a for a in self.step)
        return dataclasses.replace(self, step=step, name=name or self.name).checked()

    def replace_env(self, assumption: str, exprs: list[EnvConstraint]) -> SystemSpec:
        """A copy with the constraints of ``assumption`` replaced by ``exprs``."""
        env = tuple(e for e in self.env if e.assumption != assumption) + tuple(exprs)
        return dataclasses.replace(self, env=env).checked()

    # -- well-formedness ----------------------------------------------------------------
    def checked(self) -> SystemSpec:
        """Raise SpecError unless every name is declared and every read is defined first."""
        state = {s.name for s in self.state}
        inputs = {i.name for i in self.inputs}
        if len(state) != len(self.state) or state & inputs:
            raise SpecError("duplicate variable names")
        defined: set[str] = set(state) | inputs
        nexts: set[str] = set()
        for a in self.step:
            for key in free_vars(a.expr):
                if key.endswith("'"):
                    if key[:-1] not in nexts:
                        raise SpecError(f"{a.target} reads {key} before it is defined")
                elif key not in defined:
                    raise SpecError(f"{a.target} reads undeclared {key!r}")
            if a.is_wire:
                if a.target in defined:
                    raise SpecError(f"wire {a.target!r} defined twice")
                defined.add(a.target)
            else:
                if a.target not in state or a.target in nexts:
                    raise SpecError(f"bad or repeated next-state target {a.target!r}")
                nexts.add(a.target)
        missing = {s.name for s in self.state if s.role is not VarRole.ENVIRONMENT} - nexts
        if missing:
            raise SpecError(f"state variables without a next value: {sorted(missing)}")
        ctrl_state = {s.name for s in self.state if s.role is VarRole.CONTROLLER}
        wires = {a.target for a in self.step if a.is_wire}
        for a in self.step:
            if a.role is VarRole.CONTROLLER:
                bad = {k.rstrip("'") for k in free_vars(a.expr)} - ctrl_state - inputs - wires
                if bad:
                    raise SpecError(f"controller line {a.target} reads non-controller "
                                    f"variables {sorted(bad)}: the console cannot see them")
        for p in self.properties:
            if p.formula.sort != BOOL:
                raise SpecError(f"property {p.id} is not Boolean")
            for name, case in p.cases:
                if case.sort != BOOL:
                    raise SpecError(f"property {p.id}: case {name!r} is not Boolean")
            for lid in p.lemmas:
                self.lemma(lid)
        return self

    # -- canonical form -----------------------------------------------------------------
    def canonical(self) -> str:
        """A canonical text of everything that decides a proof: hashed into the manifest."""
        lines = [f"spec {self.name}"]
        lines += [f"state {s.name} {s.sort} {s.role.value} {s.lo} {s.hi} "
                  f"{to_sexpr(s.init) if s.init is not None else '*'}" for s in self.state]
        lines += [f"input {i.name} {i.sort} {i.lo} {i.hi}" for i in self.inputs]
        lines += [f"{'wire' if a.is_wire else 'next'} {a.target} {to_sexpr(a.expr)}"
                  for a in self.step]
        lines += [f"env {e.assumption} {to_sexpr(e.expr)}" for e in self.env]
        lines += [f"init {to_sexpr(e)}" for e in self.init]
        lines += [f"mode {m.trigger} {','.join(m.sources)} {m.dest} {m.guard}"
                  for m in self.mode_table]
        lines += [f"lemma {lem.id} {','.join(lem.assumptions)} {','.join(lem.uses)} "
                  f"{to_sexpr(lem.expr)}" for lem in self.lemmas]
        lines += [f"property {p.id} {p.kind.value} {','.join(p.assumptions)} "
                  f"{','.join(p.lemmas)} {to_sexpr(p.premise)} {to_sexpr(p.conclusion)}"
                  + "".join(f" case {name!r} {to_sexpr(e)}" for name, e in p.cases)
                  for p in self.properties]
        return "\n".join(lines) + "\n"

    def sha256(self) -> str:
        return hashlib.sha256(self.canonical().encode()).hexdigest()
