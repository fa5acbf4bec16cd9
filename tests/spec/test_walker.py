"""Every translation of the spec handles every operator, or it cannot be defined at all."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from iabp.proofs.to_z3 import Translator
from iabp.spec.engines.to_python import compile_expr
from iabp.spec.expr import INT, Operator, Var
from iabp.spec.walker import ExprWalker, SexprRenderer, TextRenderer, to_sexpr, to_text


def _one_of_each() -> list[tuple[Operator, object]]:
    x, y, b = Var("x", INT), Var("y", INT), Var("b", INT) > 0
    from iabp.spec.expr import And, Implies, Ite, Max, Min, Not, Or
    return [
        (Operator.ADD, x + y), (Operator.SUB, x - y), (Operator.MUL, 2 * x), (Operator.NEG, -x),
        (Operator.MIN, Min(x, y)), (Operator.MAX, Max(x, y)), (Operator.LT, x < y),
        (Operator.LE, x <= y), (Operator.GT, x > y), (Operator.GE, x >= y),
        (Operator.EQ, x.eq(y)), (Operator.AND, And(b, x < y)), (Operator.OR, Or(b, x < y)),
        (Operator.NOT, Not(b)), (Operator.IMPLIES, Implies(b, x < y)),
        (Operator.ITE, Ite(b, x, y)),
    ]


def test_the_sample_covers_every_operator() -> None:
    assert {op for op, _ in _one_of_each()} == set(Operator)


@pytest.mark.parametrize("backend", [TextRenderer, SexprRenderer, Translator])
def test_every_backend_defines_a_handler_for_every_operator(backend: type) -> None:
    for op in Operator:
        assert callable(getattr(backend, f"op_{op.value}")), (backend.__name__, op)


def test_a_backend_missing_an_operator_cannot_be_defined() -> None:
    with pytest.raises(TypeError, match="missing op_ite"):
        class Incomplete(TextRenderer):  # noqa: F841 - defining it is the test
            op_ite = None  # type: ignore[assignment]


def test_a_partial_base_may_leave_operators_to_its_subclasses() -> None:
    class Base(ExprWalker[str], partial=True):
        def op_add(self, a: Sequence[str]) -> str:
            return "+"

    with pytest.raises(TypeError, match="missing"):
        class Child(Base):  # noqa: F841
            pass


def test_renderings_of_every_operator() -> None:
    texts = {op: (to_text(e), to_sexpr(e)) for op, e in _one_of_each()}  # type: ignore[arg-type]
    assert texts[Operator.ITE] == ("(if (b > 0) then x else y)", "(ite (gt b 0) x y)")
    assert texts[Operator.IMPLIES] == ("((b > 0) => (x < y))", "(implies (gt b 0) (lt x y))")
    assert texts[Operator.MUL] == ("(2 * x)", "(mul 2 x)")
    assert texts[Operator.NEG] == ("-x", "(neg x)")
    assert texts[Operator.MIN] == ("min(x, y)", "(min x y)")


@pytest.mark.parametrize(("xv", "yv", "bv"), [(1, 2, 1), (5, -3, 0), (0, 0, -1)])
def test_python_backend_evaluates_every_operator(xv: int, yv: int, bv: int) -> None:
    py = {"x": xv, "y": yv, "b": bv}
    expected = {
        Operator.ADD: xv + yv, Operator.SUB: xv - yv, Operator.MUL: 2 * xv, Operator.NEG: -xv,
        Operator.MIN: min(xv, yv), Operator.MAX: max(xv, yv), Operator.LT: xv < yv,
        Operator.LE: xv <= yv, Operator.GT: xv > yv, Operator.GE: xv >= yv, Operator.EQ: xv == yv,
        Operator.AND: bv > 0 and xv < yv, Operator.OR: bv > 0 or xv < yv, Operator.NOT: not bv > 0,
        Operator.IMPLIES: (not bv > 0) or xv < yv, Operator.ITE: xv if bv > 0 else yv,
    }
    for op, e in _one_of_each():
        assert compile_expr(e)(py) == expected[op], op  # type: ignore[arg-type]
