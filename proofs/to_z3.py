"""Translate spec expressions and the spec's step into Z3 terms.

This is the Z3 translation of :mod:`iabp.spec.expr` (the Python one, which the
controller and the monitor run, is :mod:`iabp.spec.engines.to_python`); both are
:class:`iabp.spec.walker.ExprWalker` backends, which must handle every operator.
Enumerations become Z3 enumeration sorts; integers, booleans and reals map to Z3's. A ``Frame`` holds the Z3 constants of one copy of the state
(current or next) and the tick's inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from fractions import Fraction
from typing import Any

import z3

from iabp.spec.errors import ProofError
from iabp.spec.expr import Const, Expr, Sort, Var
from iabp.spec.system import SystemSpec
from iabp.spec.walker import ExprWalker

_ENUM_SORTS: dict[type[IntEnum], tuple[z3.SortRef, dict[IntEnum, z3.ExprRef]]] = {}


class EnumSorts:
    """One Z3 enumeration sort per Python IntEnum. Z3 allows a sort name once per context,
    so the sorts are shared by every translator (all use Z3's main context)."""

    def __init__(self) -> None:
        self._sorts = _ENUM_SORTS

    def get(self, enum: type[IntEnum]) -> tuple[z3.SortRef, dict[IntEnum, z3.ExprRef]]:
        if enum not in self._sorts:
            members = list(enum)
            # Members are prefixed with the sort name: Mode.STANDBY and
            # OperatorCommand.STANDBY must stay distinct symbols in SMT-LIB2 text.
            sort, consts = z3.EnumSort(enum.__name__,
                                       [f"{enum.__name__}_{m.name}" for m in members])
            self._sorts[enum] = (sort, dict(zip(members, consts, strict=True)))
        return self._sorts[enum]

    def decode(self, enum: type[IntEnum], value: z3.ExprRef) -> IntEnum:
        _, consts = self.get(enum)
        for member, c in consts.items():
            if z3.eq(c, value):
                return member
        raise ProofError(f"{value} is not a member of {enum.__name__}")


def z3_sort(sort: Sort, enums: EnumSorts) -> z3.SortRef:
    if sort.kind == "bool":
        return z3.BoolSort()
    if sort.kind == "int":
        return z3.IntSort()
    if sort.kind == "real":
        return z3.RealSort()
    assert sort.enum is not None
    return enums.get(sort.enum)[0]


def _binary(f: Callable[[z3.ExprRef, z3.ExprRef], z3.ExprRef]
            ) -> Callable[[Any, Sequence[z3.ExprRef]], z3.ExprRef]:
    """A handler folding ``f`` over the arguments from the left (the operators are binary)."""

    def fold(self: Any, args: Sequence[z3.ExprRef]) -> z3.ExprRef:
        out = args[0]
        for a in args[1:]:
            out = f(out, a)
        return out

    return fold


@dataclass
class Translator(ExprWalker[z3.ExprRef]):
    """Translate expressions given a lookup from variable key (``x``, ``x'``) to Z3 term."""

    lookup: Callable[[str], z3.ExprRef]
    enums: EnumSorts
    cache: dict[int, tuple[Expr, z3.ExprRef]] = field(default_factory=dict)

    def __call__(self, e: Expr) -> z3.ExprRef:
        # Keyed by id() for speed; the node is kept in the entry so its id is never reused.
        hit = self.cache.get(id(e))
        if hit is not None:
            return hit[1]
        out = self.translate(e)
        self.cache[id(e)] = (e, out)
        return out

    def var(self, v: Var) -> z3.ExprRef:
        return self.lookup(v.key)

    def const(self, c: Const) -> z3.ExprRef:
        v = c.value
        if isinstance(v, IntEnum):
            return self.enums.get(type(v))[1][v]
        if isinstance(v, bool):
            return z3.BoolVal(v)
        if isinstance(v, int):
            return z3.IntVal(v)
        if isinstance(v, Fraction):
            return z3.RealVal(f"{v.numerator}/{v.denominator}")
        raise ProofError(f"no Z3 constant for {v!r}")

    def op_and(self, args: Sequence[z3.ExprRef]) -> z3.ExprRef:
        return z3.And(*args)

    def op_or(self, args: Sequence[z3.ExprRef]) -> z3.ExprRef:
        return z3.Or(*args)

    def op_not(self, args: Sequence[z3.ExprRef]) -> z3.ExprRef:
        return z3.Not(args[0])

    def op_neg(self, args: Sequence[z3.ExprRef]) -> z3.ExprRef:
        return -args[0]

    def op_ite(self, args: Sequence[z3.ExprRef]) -> z3.ExprRef:
        return z3.If(args[0], args[1], args[2])

    op_add = _binary(lambda a, b: a + b)
    op_sub = _binary(lambda a, b: a - b)
    op_mul = _binary(lambda a, b: a * b)
    op_lt = _binary(lambda a, b: a < b)
    op_le = _binary(lambda a, b: a <= b)
    op_gt = _binary(lambda a, b: a > b)
    op_ge = _binary(lambda a, b: a >= b)
    op_eq = _binary(lambda a, b: a == b)
    op_implies = _binary(z3.Implies)
    op_min = _binary(lambda a, b: z3.If(a <= b, a, b))
    op_max = _binary(lambda a, b: z3.If(a >= b, a, b))


@dataclass
class Frame:
    """Z3 constants for one state copy plus inputs, named ``<var>@<tag>``."""

    spec: SystemSpec
    tag: str
    enums: EnumSorts
    consts: dict[str, z3.ExprRef] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for s in self.spec.state:
            self.consts[s.name] = z3.Const(f"{s.name}@{self.tag}", z3_sort(s.sort, self.enums))
        for i in self.spec.inputs:
            self.consts[i.name] = z3.Const(f"{i.name}@{self.tag}", z3_sort(i.sort, self.enums))


def domains(spec: SystemSpec, frame: Frame, enums: EnumSorts) -> list[z3.ExprRef]:
    """Declared integer ranges of the state variables in ``frame``."""
    out = []
    tr = state_translator(frame, enums)
    for s in spec.state:
        d = s.domain()
        if d is not None:
            out.append(tr(d))
    return out


def step_relation(spec: SystemSpec, cur: Frame, nxt: Frame, enums: EnumSorts,
                  assumptions: set[str] | None) -> tuple[list[z3.ExprRef], Translator]:
    """The transition relation between ``cur`` and ``nxt``: the step's next values (wires
    inlined) and the environment constraints of the chosen ``assumptions`` (None: all).

    Returns the constraints and a translator that reads current state, inputs, wires and
    next state, for translating transition properties.
    """
    wires: dict[str, z3.ExprRef] = {}

    def lookup(key: str) -> z3.ExprRef:
        if key.endswith("'"):
            return nxt.consts[key[:-1]]
        if key in wires:
            return wires[key]
        return cur.consts[key]

    tr = Translator(lookup, enums)
    out: list[z3.ExprRef] = []
    for a in spec.step:
        term = tr(a.expr)
        if a.is_wire:
            wires[a.target] = term
        else:
            out.append(nxt.consts[a.target] == term)
    for c in spec.env:
        if assumptions is None or c.assumption in assumptions:
            out.append(tr(c.expr))
    return out, tr


def state_translator(frame: Frame, enums: EnumSorts) -> Translator:
    """Translate state-only expressions over ``frame``."""

    def lookup(key: str) -> z3.ExprRef:
        if key.endswith("'"):
            raise ProofError(f"{key} is a next-state value in a state-only expression")
        return frame.consts[key]

    return Translator(lookup, enums)
