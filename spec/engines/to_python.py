"""Compile spec expressions and the spec's step into fast Python functions.

This is the Python translation of :mod:`iabp.spec.expr` (the Z3 one is :mod:`iabp.proofs.to_z3`;
both are :class:`iabp.spec.walker.ExprWalker` backends, which must handle every operator):
the controller and the monitor run the code generated here, and a hypothesis test
checks that it computes the same values as the Z3 translation on random states.

The generated code is plain Python source (kept in ``.source`` for inspection): one
local variable per state variable, input and wire, no interpretation at run time.
"""

from __future__ import annotations

import keyword
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from fractions import Fraction
from typing import Any

from iabp.spec.errors import SpecError
from iabp.spec.expr import Const, Expr, Var
from iabp.spec.system import Assign
from iabp.spec.walker import InfixWalker


def _local(key: str) -> str:
    """A Python identifier for a variable key: ``x`` -> ``v_x``, ``x'`` -> ``n_x``."""
    base = key[:-1] if key.endswith("'") else key
    prefix = "n_" if key.endswith("'") else "v_"
    name = prefix + "".join(ch if ch.isalnum() else "_" for ch in base)
    if keyword.iskeyword(name) or not name.isidentifier():
        raise SpecError(f"cannot make a Python name for {key!r}")
    return name


class _Emitter(InfixWalker):
    """Turns expression trees into Python source, collecting the constants they need."""

    def __init__(self) -> None:
        self.constants: dict[str, Any] = {"Fraction": Fraction}
        self.reads: set[str] = set()

    def const(self, c: Const) -> str:
        v = c.value
        if isinstance(v, IntEnum):
            name = f"C_{type(v).__name__}_{v.name}"
            self.constants[name] = v
            return name
        if isinstance(v, bool):
            return "True" if v else "False"
        if isinstance(v, int):
            return repr(v)
        if isinstance(v, Fraction):
            return f"Fraction({v.numerator}, {v.denominator})"
        raise SpecError(f"cannot compile constant {v!r}")

    def var(self, v: Var) -> str:
        self.reads.add(v.key)
        return _local(v.key)

    def op_not(self, a: Sequence[str]) -> str:
        return f"(not {a[0]})"

    def op_implies(self, a: Sequence[str]) -> str:
        return f"((not {a[0]}) or {a[1]})"

    def op_neg(self, a: Sequence[str]) -> str:
        return f"(-{a[0]})"

    def op_ite(self, a: Sequence[str]) -> str:
        return f"({a[1]} if {a[0]} else {a[2]})"

    def op_min(self, a: Sequence[str]) -> str:
        return f"min({a[0]}, {a[1]})"

    def op_max(self, a: Sequence[str]) -> str:
        return f"max({a[0]}, {a[1]})"

    def expr(self, e: Expr) -> str:
        return self.translate(e)


def compile_expr(e: Expr) -> Callable[[Mapping[str, Any]], Any]:
    """A function evaluating ``e`` on a valuation keyed by ``x`` / ``x'`` / wire names."""
    em = _Emitter()
    body = em.expr(e)
    loads = "".join(f"    {_local(k)} = V[{k!r}]\n" for k in sorted(em.reads))
    src = f"def _f(V):\n{loads}    return {body}\n"
    ns: dict[str, Any] = dict(em.constants)
    exec(compile(src, "<spec-expr>", "exec"), ns)  # noqa: S102 - generated from the spec
    fn: Callable[[Mapping[str, Any]], Any] = ns["_f"]
    return fn


def compile_many(exprs: Sequence[Expr]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """One function evaluating all ``exprs`` on a valuation, returning their values in order
    (each variable is loaded once: much faster than one function per expression)."""
    em = _Emitter()
    bodies = [em.expr(e) for e in exprs]
    loads = "".join(f"    {_local(k)} = V[{k!r}]\n" for k in sorted(em.reads))
    src = f"def _f(V):\n{loads}    return ({', '.join(bodies)}{',' if len(bodies) == 1 else ''})\n"
    ns: dict[str, Any] = dict(em.constants)
    exec(compile(src, "<spec-exprs>", "exec"), ns)  # noqa: S102 - generated from the spec
    fn: Callable[[Mapping[str, Any]], tuple[Any, ...]] = ns["_f"]
    return fn


@dataclass
class CompiledStep:
    """A compiled list of step lines.

    Calling it with the current values of everything it reads returns the next values
    of its state targets and the values of its wires.
    """

    source: str
    targets: tuple[str, ...]
    wires: tuple[str, ...]
    reads: tuple[str, ...]
    _fn: Callable[[Mapping[str, Any]], tuple[dict[str, Any], dict[str, Any]]]

    def __call__(self, values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        return self._fn(values)


def compile_step(lines: Sequence[Assign], given: Sequence[str] = ()) -> CompiledStep:
    """Compile ``lines`` in order. ``given`` lists keys (e.g. ``mode'``) supplied by the
    caller instead of computed, for a caller that decides some next values itself."""
    em = _Emitter()
    body: list[str] = []
    defined: set[str] = set()
    for a in lines:
        key = a.target if a.is_wire else a.target + "'"
        if key in given:
            continue
        body.append(f"    {_local(key)} = {em.expr(a.expr)}")
        defined.add(key)
    outside = sorted((em.reads - defined) | set(given))
    loads = [f"    {_local(k)} = V[{k!r}]" for k in outside]
    targets = tuple(a.target for a in lines if not a.is_wire)
    wires = tuple(a.target for a in lines if a.is_wire)
    nxt = ", ".join(f"{t!r}: {_local(t + chr(39))}" for t in targets)
    wv = ", ".join(f"{w!r}: {_local(w)}" for w in wires)
    src = "def _step(V):\n" + "\n".join(loads + body) + f"\n    return {{{nxt}}}, {{{wv}}}\n"
    ns: dict[str, Any] = dict(em.constants)
    exec(compile(src, "<spec-step>", "exec"), ns)  # noqa: S102 - generated from the spec
    return CompiledStep(src, targets, wires, tuple(outside), ns["_step"])
