"""A small typed expression language in which every guard, update and property is written once.

Expressions are immutable trees with no solver behind them. Two translations live
outside ``spec/``: ``iabp.proofs.to_z3`` turns a tree into a Z3 term, and
``iabp.spec.engines.to_python`` turns it into a fast Python callable. A hypothesis test checks
that both give the same value on random states, so the controller runs exactly what
the prover proved.

Sorts: Bool, Int, Real, and enumerations (any ``IntEnum``). Integers stand for whole
milliseconds, beats and mmHg; Reals are allowed where a quantity is truly continuous.
A variable may be read in its current value (``x``) or its value after the tick
(``x.nxt``); the step defines next values in order, so a later update may read an
earlier one's next value.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum, IntEnum
from fractions import Fraction

from iabp.spec.errors import SpecError


@dataclass(frozen=True)
class Sort:
    """The type of an expression: ``bool``, ``int``, ``real`` or an enumeration."""

    kind: str
    enum: type[IntEnum] | None = None

    def __str__(self) -> str:
        return self.enum.__name__ if self.enum is not None else self.kind.capitalize()

    @property
    def is_numeric(self) -> bool:
        return self.kind in ("int", "real")


BOOL = Sort("bool")
INT = Sort("int")
REAL = Sort("real")


def enum_sort(enum: type[IntEnum]) -> Sort:
    """The sort whose values are the members of ``enum`` (compared by identity, not order)."""
    return Sort("enum", enum)


Value = bool | int | Fraction | IntEnum


class Operator(str, Enum):
    """Every operator of the language; the value is its name in the canonical S-expression.

    A translation (:class:`iabp.spec.walker.ExprWalker`) must handle each member, or its
    class cannot be defined: a new operator cannot be missed by one backend.
    """

    ADD = "add"
    SUB = "sub"
    MUL = "mul"  #: one factor must be a constant (linear arithmetic)
    NEG = "neg"
    MIN = "min"
    MAX = "max"
    LT = "lt"
    LE = "le"
    GT = "gt"
    GE = "ge"
    EQ = "eq"  #: any sort, both sides the same sort (Int and Real mix)
    AND = "and"
    OR = "or"
    NOT = "not"
    IMPLIES = "implies"
    ITE = "ite"  #: if-then-else

    def __str__(self) -> str:
        return self.value


class Expr:
    """Base of every node. Operators build new nodes; ``==`` keeps Python's meaning (use ``eq``)."""

    sort: Sort

    # -- arithmetic -------------------------------------------------------------------
    def __add__(self, other: ExprLike) -> Expr:
        return _arith(Operator.ADD, self, other)

    def __radd__(self, other: ExprLike) -> Expr:
        return _arith(Operator.ADD, other, self)

    def __sub__(self, other: ExprLike) -> Expr:
        return _arith(Operator.SUB, self, other)

    def __rsub__(self, other: ExprLike) -> Expr:
        return _arith(Operator.SUB, other, self)

    def __mul__(self, other: ExprLike) -> Expr:
        return _arith(Operator.MUL, self, other)

    def __rmul__(self, other: ExprLike) -> Expr:
        return _arith(Operator.MUL, other, self)

    def __neg__(self) -> Expr:
        a = lift(self)
        _need_numeric(a, "neg")
        return Op(Operator.NEG, (a,), a.sort)

    # -- comparisons ------------------------------------------------------------------
    def __lt__(self, other: ExprLike) -> Expr:
        return _compare(Operator.LT, self, other)

    def __le__(self, other: ExprLike) -> Expr:
        return _compare(Operator.LE, self, other)

    def __gt__(self, other: ExprLike) -> Expr:
        return _compare(Operator.GT, self, other)

    def __ge__(self, other: ExprLike) -> Expr:
        return _compare(Operator.GE, self, other)

    def eq(self, other: ExprLike) -> Expr:
        """``self == other`` as an expression (any sort, both sides the same sort)."""
        return eq(self, other)

    def ne(self, other: ExprLike) -> Expr:
        """``self != other`` as an expression."""
        return Not(eq(self, other))

    # -- boolean ----------------------------------------------------------------------
    def __and__(self, other: ExprLike) -> Expr:
        return And(self, other)

    def __rand__(self, other: ExprLike) -> Expr:
        return And(other, self)

    def __or__(self, other: ExprLike) -> Expr:
        return Or(self, other)

    def __ror__(self, other: ExprLike) -> Expr:
        return Or(other, self)

    def __invert__(self) -> Expr:
        return Not(self)

    def implies(self, other: ExprLike) -> Expr:
        return Implies(self, other)

    def isin(self, values: Iterable[ExprLike]) -> Expr:
        """True when ``self`` equals one of ``values``."""
        return Or(*[eq(self, v) for v in values])

    def __bool__(self) -> bool:
        raise SpecError("an expression has no truth value in Python; use And/Or/Ite")

    __hash__ = object.__hash__


@dataclass(frozen=True, eq=True)
class Const(Expr):
    """A literal: ``True``, ``42`` (ms), ``Fraction(1, 3)``, or an enum member."""

    value: Value
    sort: Sort

    def __repr__(self) -> str:
        return repr(self.value)


@dataclass(frozen=True, eq=True)
class Var(Expr):
    """A named variable: state, input or observer. ``nxt`` is its value after the tick."""

    name: str
    sort: Sort
    primed: bool = False

    @property
    def nxt(self) -> Var:
        if self.primed:
            raise SpecError(f"{self.name}' is already a next-state value")
        return Var(self.name, self.sort, True)

    @property
    def key(self) -> str:
        """The name under which a valuation stores this variable (``x`` or ``x'``)."""
        return self.name + "'" if self.primed else self.name

    def __repr__(self) -> str:
        return self.key


@dataclass(frozen=True, eq=True)
class Op(Expr):
    """An operator applied to arguments: arithmetic, comparison, boolean, ``ite``, ``eq``."""

    op: Operator
    args: tuple[Expr, ...]
    sort: Sort = field(default=BOOL)

    def __repr__(self) -> str:
        return f"{self.op}({', '.join(map(repr, self.args))})"


ExprLike = Expr | bool | int | Fraction | IntEnum


def lift(x: ExprLike) -> Expr:
    """Turn a Python literal into a ``Const``; leave expressions alone."""
    if isinstance(x, Expr):
        return x
    if isinstance(x, bool):
        return Const(x, BOOL)
    if isinstance(x, IntEnum):
        return Const(x, enum_sort(type(x)))
    if isinstance(x, int):
        return Const(x, INT)
    if isinstance(x, Fraction):
        return Const(x, REAL)
    raise SpecError(f"cannot use {x!r} ({type(x).__name__}) in an expression")


def _need_numeric(e: Expr, op: str) -> None:
    if not e.sort.is_numeric:
        raise SpecError(f"{op} needs a numeric argument, got {e.sort}: {e!r}")


def _join_numeric(a: Expr, b: Expr, op: str) -> Sort:
    _need_numeric(a, op)
    _need_numeric(b, op)
    return REAL if REAL in (a.sort, b.sort) else INT


def _arith(op: Operator, x: ExprLike, y: ExprLike) -> Expr:
    a, b = lift(x), lift(y)
    sort = _join_numeric(a, b, op)
    if op is Operator.MUL and not (isinstance(a, Const) or isinstance(b, Const)):
        raise SpecError(f"mul must have a constant factor to stay linear: {a!r} * {b!r}")
    return Op(op, (a, b), sort)


def _compare(op: Operator, x: ExprLike, y: ExprLike) -> Expr:
    a, b = lift(x), lift(y)
    _join_numeric(a, b, op)
    return Op(op, (a, b), BOOL)


def _need_bool(args: Sequence[Expr], op: str) -> None:
    for a in args:
        if a.sort != BOOL:
            raise SpecError(f"{op} needs Bool arguments, got {a.sort}: {a!r}")


def eq(x: ExprLike, y: ExprLike) -> Expr:
    """Equality of two expressions of the same sort (Int and Real mix)."""
    a, b = lift(x), lift(y)
    if a.sort != b.sort and not (a.sort.is_numeric and b.sort.is_numeric):
        raise SpecError(f"cannot compare {a.sort} with {b.sort}: {a!r} == {b!r}")
    return Op(Operator.EQ, (a, b), BOOL)


def And(*xs: ExprLike) -> Expr:
    args = tuple(lift(x) for x in xs)
    _need_bool(args, "and")
    if not args:
        return TRUE
    return args[0] if len(args) == 1 else Op(Operator.AND, args, BOOL)


def Or(*xs: ExprLike) -> Expr:
    args = tuple(lift(x) for x in xs)
    _need_bool(args, "or")
    if not args:
        return FALSE
    return args[0] if len(args) == 1 else Op(Operator.OR, args, BOOL)


def Not(x: ExprLike) -> Expr:
    a = lift(x)
    _need_bool((a,), "not")
    return Op(Operator.NOT, (a,), BOOL)


def Implies(x: ExprLike, y: ExprLike) -> Expr:
    a, b = lift(x), lift(y)
    _need_bool((a, b), "implies")
    return Op(Operator.IMPLIES, (a, b), BOOL)


def Ite(c: ExprLike, t: ExprLike, e: ExprLike) -> Expr:
    """If ``c`` then ``t`` else ``e``; both branches must have the same sort."""
    cc, tt, ee = lift(c), lift(t), lift(e)
    _need_bool((cc,), "ite")
    if tt.sort != ee.sort:
        if tt.sort.is_numeric and ee.sort.is_numeric:
            sort = REAL
        else:
            raise SpecError(f"ite branches differ: {tt.sort} vs {ee.sort}")
    else:
        sort = tt.sort
    return Op(Operator.ITE, (cc, tt, ee), sort)


def Min(x: ExprLike, y: ExprLike) -> Expr:
    a, b = lift(x), lift(y)
    return Op(Operator.MIN, (a, b), _join_numeric(a, b, "min"))


def Max(x: ExprLike, y: ExprLike) -> Expr:
    a, b = lift(x), lift(y)
    return Op(Operator.MAX, (a, b), _join_numeric(a, b, "max"))


def Between(x: ExprLike, lo: ExprLike, hi: ExprLike) -> Expr:
    """``lo <= x <= hi`` (both ends included)."""
    return And(lift(lo) <= x, lift(x) <= hi)


def Abs(x: ExprLike) -> Expr:
    a = lift(x)
    return Ite(a >= 0, a, -a)


def step_table(x: ExprLike, edges: Sequence[int], values: Sequence[int]) -> Expr:
    """A piecewise-constant lookup: ``values[i]`` for ``edges[i] <= x < edges[i+1]``.

    Below ``edges[0]`` the first value applies, at or above the last edge the last one.
    ``len(values) == len(edges)``. Used for the rate-dependent timing bands.
    """
    if len(edges) != len(values) or not edges:
        raise SpecError("step_table needs one value per edge")
    if list(edges) != sorted(edges):
        raise SpecError("step_table edges must be increasing")
    result: Expr = lift(values[-1])
    for edge, value in zip(reversed(edges[1:]), reversed(values[:-1]), strict=True):
        result = Ite(lift(x) < edge, value, result)
    return result


TRUE = Const(True, BOOL)
FALSE = Const(False, BOOL)
