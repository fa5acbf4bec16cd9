"""The two translations of the spec (Z3 terms, compiled Python) agree on random states.

For random valuations of every state variable, input and next-state value, every step
line, environment constraint, lemma and property evaluates to the same value in the
compiled Python the controller runs and in the Z3 term the prover reasons about.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

import z3
from hypothesis import given, settings
from hypothesis import strategies as st

from iabp.proofs.to_z3 import EnumSorts, Translator
from iabp.spec.engines.to_python import compile_expr
from iabp.spec.expr import Expr
from iabp.spec.iabp import iabp_spec

SPEC = iabp_spec()
ENUMS = EnumSorts()


def _values_strategy() -> st.SearchStrategy[dict[str, Any]]:
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for v in (*SPEC.state, *SPEC.inputs):
        keys = [v.name, v.name + "'"] if v in SPEC.state else [v.name]
        for key in keys:
            if v.sort.kind == "bool":
                fields[key] = st.booleans()
            elif v.sort.kind == "enum":
                assert v.sort.enum is not None
                fields[key] = st.sampled_from(list(v.sort.enum))
            else:
                lo = -50 if v.lo is None else v.lo - 5
                hi = 6000 if v.hi is None else min(v.hi + 5, 2_000_000)
                fields[key] = st.integers(lo, hi)
    return st.fixed_dictionaries(fields)


def _z3_value(v: Any) -> z3.ExprRef:
    if isinstance(v, IntEnum):
        return ENUMS.get(type(v))[1][v]
    if isinstance(v, bool):
        return z3.BoolVal(v)
    return z3.IntVal(v)


def _z3_eval(e: Expr, values: dict[str, Any]) -> Any:
    term = z3.simplify(Translator(lambda k: _z3_value(values[k]), ENUMS)(e))
    if z3.is_true(term):
        return True
    if z3.is_false(term):
        return False
    if z3.is_int_value(term):
        return term.as_long()  # type: ignore[attr-defined]
    for _enum, (_, consts) in list(ENUMS._sorts.items()):
        for member, c in consts.items():
            if z3.eq(c, term):
                return member
    raise AssertionError(f"Z3 did not reduce {e!r} to a value: {term}")


EXPRESSIONS: list[tuple[str, Expr]] = (
    [(f"step:{a.target}", a.expr) for a in SPEC.step]
    + [(f"env:{c.assumption}:{c.text}", c.expr) for c in SPEC.env]
    + [(f"lemma:{lem.id}", lem.expr) for lem in SPEC.lemmas]
    + [(f"property:{p.id}", p.formula) for p in SPEC.properties]
)
COMPILED = [(name, e, compile_expr(e)) for name, e in EXPRESSIONS]


@settings(max_examples=25, deadline=None)
@given(_values_strategy())
def test_compiled_python_and_z3_agree_on_random_states(values: dict[str, Any]) -> None:
    env = dict(values)
    for a in SPEC.step:  # wires are read by later lines: define them from the Python side
        if a.is_wire:
            env[a.target] = compile_expr(a.expr)(env)
    for name, e, fn in COMPILED:
        py = fn(env)
        zv = _z3_eval(e, env)
        assert py == zv, f"{name}: python {py!r} != z3 {zv!r}"


def test_the_agreement_check_notices_a_difference() -> None:
    """A sanity check of the check itself: a different expression gives a different value."""
    e = SPEC.assign("interval_ms").expr
    env = {"since_trigger_ms": 10}
    assert compile_expr(e)(env) == 11
    assert _z3_eval(e + 1, env) == 12
