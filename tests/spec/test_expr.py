"""The expression language: typing rules, rendering, tables and the canonical hash."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iabp.spec.engines.to_python import compile_expr
from iabp.spec.errors import SpecError
from iabp.spec.expr import BOOL, FALSE, INT, And, Ite, Var, enum_sort, step_table
from iabp.spec.iabp import iabp_spec
from iabp.spec.modes import Mode
from iabp.spec.walker import to_sexpr, to_text

x, y, b = Var("x", INT), Var("y", INT), Var("b", BOOL)


def test_ill_typed_expressions_are_rejected() -> None:
    with pytest.raises(SpecError):
        And(x, b)
    with pytest.raises(SpecError):
        _ = b + 1
    with pytest.raises(SpecError):
        Ite(b, x, b)
    with pytest.raises(SpecError):
        Var("m", enum_sort(Mode)).eq(3)
    with pytest.raises(SpecError, match="linear"):
        _ = x * y
    with pytest.raises(SpecError, match="truth value"):
        bool(x < y)


def test_rendering() -> None:
    e = Ite(b, x + 1, y)
    assert to_text(e) == "(if b then (x + 1) else y)"
    assert to_sexpr(e) == "(ite b (add x 1) y)"
    assert to_text(x.nxt >= 3) == "(x' >= 3)"


@given(st.integers(-100, 3000))
def test_step_table_is_the_piecewise_lookup(v: int) -> None:
    edges, values = [0, 100, 1000], [5, 7, 9]
    got = compile_expr(step_table(x, edges, values))({"x": v})
    want = values[max([i for i, e in enumerate(edges) if v >= e], default=0)]
    assert got == want


def test_spec_hash_changes_with_any_rule() -> None:
    spec = iabp_spec()
    assert spec.sha256() == iabp_spec().sha256()
    line = spec.assign("alm_idle")
    changed = spec.replace_assign("alm_idle", line.expr | FALSE)
    assert changed.sha256() != spec.sha256()
    renamed = dataclasses.replace(spec, name="other")
    assert renamed.sha256() != spec.sha256()
