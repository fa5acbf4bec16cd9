"""One walker base for every translation of a spec expression, and the two text renderings.

Every backend that turns an expression tree into something else (readable text, the
canonical S-expression hashed into the proof manifest, Python source for the controller
and the monitor, Z3 terms for the prover) subclasses :class:`ExprWalker` and defines
one ``op_<name>`` method per :class:`~iabp.spec.expr.Operator`. The base checks that
when the subclass is DEFINED: a backend that misses an operator cannot even be imported,
so an operator added to the language cannot silently fall through one translation
(the idea of pySMT's ``is_complete`` walkers).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from enum import IntEnum
from typing import Any, ClassVar, Generic, TypeVar

from iabp.spec.errors import SpecError
from iabp.spec.expr import Const, Expr, Op, Operator, Var

T = TypeVar("T")


class ExprWalker(Generic[T]):
    """Bottom-up translation: ``walker(e)`` maps constants with :meth:`const`, variables with
    :meth:`var`, and an operator node with ``op_<name>(args)`` on its translated arguments.

    A subclass that is meant to be used must define all ``op_*`` methods; one that leaves
    some to a further subclass says so with ``partial=True`` in its class line.
    """

    handlers: ClassVar[dict[Operator, str]] = {op: f"op_{op.value}" for op in Operator}

    def __init_subclass__(cls, partial: bool = False, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if partial:
            return
        missing = [name for name in cls.handlers.values() if not callable(getattr(cls, name, None))]
        if missing:
            raise TypeError(f"{cls.__name__} does not translate every operator of the spec's "
                            f"expression language: missing {', '.join(sorted(missing))}")

    def __call__(self, e: Expr) -> T:
        return self.translate(e)

    def translate(self, e: Expr) -> T:
        if isinstance(e, Const):
            return self.const(e)
        if isinstance(e, Var):
            return self.var(e)
        if not isinstance(e, Op):
            raise SpecError(f"not an expression node: {e!r}")
        handler: Callable[[Sequence[T]], T] = getattr(self, self.handlers[e.op])
        return handler([self(a) for a in e.args])

    def const(self, c: Const) -> T:
        raise NotImplementedError

    def var(self, v: Var) -> T:
        raise NotImplementedError


def substitute(e: Expr, mapping: Mapping[str, Expr]) -> Expr:
    """``e`` with every variable whose key (``x`` or ``x'``) is in ``mapping`` replaced.

    Used to point a spec expression at other quantities (e.g. the spec's balloon plant
    run on the MEASURED helium line, or a monitor rule's view of the heart) without
    restating it.
    """
    if isinstance(e, Var):
        return mapping.get(e.key, e)
    if isinstance(e, Op):
        return Op(e.op, tuple(substitute(a, mapping) for a in e.args), e.sort)
    return e


def walk(e: Expr) -> Iterator[Expr]:
    """Every node of ``e``, parents before children."""
    stack = [e]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, Op):
            stack.extend(reversed(node.args))


def free_vars(e: Expr) -> set[str]:
    """The keys (``x`` or ``x'``) of every variable ``e`` reads."""
    return {n.key for n in walk(e) if isinstance(n, Var)}


def _infix(symbol: str) -> Callable[[Any, Sequence[str]], str]:
    def render(self: Any, a: Sequence[str]) -> str:
        return "(" + f" {symbol} ".join(a) + ")"

    return render


class InfixWalker(ExprWalker[str], partial=True):
    """Base of the string backends whose arithmetic, comparisons and connectives are infix
    with the same symbols (the readable text and the Python source)."""

    op_add = _infix("+")
    op_sub = _infix("-")
    op_mul = _infix("*")
    op_lt = _infix("<")
    op_le = _infix("<=")
    op_gt = _infix(">")
    op_ge = _infix(">=")
    op_eq = _infix("==")
    op_and = _infix("and")
    op_or = _infix("or")


class TextRenderer(InfixWalker):
    """A readable infix rendering, for reports and counterexample tables."""

    def const(self, c: Const) -> str:
        v = c.value
        return v.name if isinstance(v, IntEnum) else str(v)

    def var(self, v: Var) -> str:
        return v.key

    op_implies = _infix("=>")

    def op_not(self, a: Sequence[str]) -> str:
        return f"not {a[0]}"

    def op_neg(self, a: Sequence[str]) -> str:
        return f"-{a[0]}"

    def op_ite(self, a: Sequence[str]) -> str:
        return f"(if {a[0]} then {a[1]} else {a[2]})"

    def op_min(self, a: Sequence[str]) -> str:
        return f"min({', '.join(a)})"

    def op_max(self, a: Sequence[str]) -> str:
        return f"max({', '.join(a)})"


def _prefix(op: Operator) -> Callable[[Any, Sequence[str]], str]:
    def render(self: Any, a: Sequence[str]) -> str:
        return "(" + " ".join([op.value, *a]) + ")"

    return render


class SexprRenderer(ExprWalker[str]):
    """The canonical S-expression: the spec's hash and the artifacts' manifest are built on it."""

    def const(self, c: Const) -> str:
        v = c.value
        if isinstance(v, IntEnum):
            return f"{type(v).__name__}.{v.name}"
        if isinstance(v, bool):
            return "true" if v else "false"
        return str(v)

    def var(self, v: Var) -> str:
        return v.key

    op_add = _prefix(Operator.ADD)
    op_sub = _prefix(Operator.SUB)
    op_mul = _prefix(Operator.MUL)
    op_neg = _prefix(Operator.NEG)
    op_min = _prefix(Operator.MIN)
    op_max = _prefix(Operator.MAX)
    op_lt = _prefix(Operator.LT)
    op_le = _prefix(Operator.LE)
    op_gt = _prefix(Operator.GT)
    op_ge = _prefix(Operator.GE)
    op_eq = _prefix(Operator.EQ)
    op_and = _prefix(Operator.AND)
    op_or = _prefix(Operator.OR)
    op_not = _prefix(Operator.NOT)
    op_implies = _prefix(Operator.IMPLIES)
    op_ite = _prefix(Operator.ITE)


_TEXT = TextRenderer()
_SEXPR = SexprRenderer()


def to_text(e: Expr) -> str:
    """A readable infix rendering, for reports and counterexample tables."""
    return _TEXT(e)


def to_sexpr(e: Expr) -> str:
    """A canonical S-expression: the spec's hash and the artifacts' manifest are built on it."""
    return _SEXPR(e)
