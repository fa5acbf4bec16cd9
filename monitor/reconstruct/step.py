"""The spec's own expressions and steps, made runnable on the monitor's valuation.

The monitor never restates the pump's logic by hand: it re-points the spec's
expressions at its own quantities (:func:`iabp.spec.walker.substitute`, e.g. the balloon plant run on
the MEASURED helium line instead of the inflate command), runs the spec's plant and
observer steps in place on the valuation (:func:`compile_step_in_place`,
:class:`FixedPointStep`) and starts every state variable at the spec's power-on value
(:func:`initial_value`, e.g. balloon deflated, no gas in the line).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any

from iabp.spec.engines.to_python import compile_step
from iabp.spec.errors import SpecError
from iabp.spec.expr import BOOL, Const, Op, Operator, Var
from iabp.spec.system import Assign, StateVar


def compile_step_in_place(lines: Sequence[Assign]) -> Callable[[dict[str, Any]], None]:
    """The spec's step compiled by ``iabp.spec.engines.to_python.compile_step``, rewritten to work
    in place on the valuation: each target's current value is read from ``x'`` (this is
    the next frame now) and copied to ``x``, and its next value is written to ``x'``.

    Only the generated loads of the targets and the final ``return`` are rewritten; every
    expression is the compiled spec's. ``tests/monitor/test_reconstruct.py`` checks the
    result against the plain compiled step.
    """
    step = compile_step(lines)
    targets = set(step.targets)
    body: list[str] = []
    for line in step.source.splitlines()[1:]:
        stripped = line.strip()
        if stripped.startswith("return "):
            body += [f"    V[{t + chr(39)!r}] = n_{t}" for t in step.targets]
            continue
        name = stripped.split(" = ")[0]
        if name.startswith("v_") and name[2:] in targets and stripped.endswith(f"V[{name[2:]!r}]"):
            t = name[2:]
            line = f"    {name} = V[{t!r}] = V[{t + chr(39)!r}]"
        body.append(line)
    for t in step.targets:
        if not t.isidentifier():
            raise SpecError(f"step target {t!r} is not a plain name")
    src = "def _step_in_place(V):\n" + "\n".join(body) + "\n"
    ns: dict[str, Any] = dict(step._fn.__globals__)  # the constants the step's code names
    exec(compile(src, "<spec-step-in-place>", "exec"), ns)  # noqa: S102 - the spec's step
    fn: Callable[[dict[str, Any]], None] = ns["_step_in_place"]
    return fn


def initial_value(var: StateVar) -> Any:
    """A state variable's power-on value from its spec ``init`` (``x == c``, ``not x``,
    ``x``); without one, the low end of its domain (0) or False."""
    init = var.init
    if isinstance(init, Op) and init.op is Operator.EQ and isinstance(init.args[1], Const):
        return init.args[1].value
    if isinstance(init, Op) and init.op is Operator.NOT and isinstance(init.args[0], Var):
        return False
    if isinstance(init, Var):
        return True
    if init is not None:
        raise SpecError(f"no simple power-on value for {var.name}: {init!r}")
    return False if var.sort == BOOL else (var.lo or 0)


class FixedPointStep:
    """An in-place compiled step that is skipped while it sits at a fixed point.

    The step is a pure function of the keys it reads. When they hold exactly the values of
    the last call and that call left its targets unchanged, calling it again would change
    nothing either, so it is not called (the plant's timers saturate: most frames).
    """

    def __init__(self, lines: Sequence[Assign]) -> None:
        self._step = compile_step_in_place(lines)
        plain = compile_step(lines)
        targets = [t for t in plain.targets]
        reads = sorted({k for k in plain.reads} | {t + "'" for t in targets})
        self._inputs = itemgetter(*reads)
        self._state = itemgetter(*[t + "'" for t in targets])
        self._last: tuple[Any, ...] | None = None

    def __call__(self, v: dict[str, Any]) -> None:
        inputs = self._inputs(v)
        if inputs == self._last:
            return
        before = self._state(v)
        self._step(v)
        self._last = inputs if self._state(v) == before else None
