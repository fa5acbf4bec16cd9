"""The spec's monitor-rule transforms, bound to the verified spec, and the rule set's
scheduling helpers.

The transforms themselves (:func:`iabp.spec.monitor_rules.prime`, ``drop_conjuncts``,
``shrink_window``, ``MEASURED_GAS``) and every rule's check are declared in
:mod:`iabp.spec.monitor_rules`, where the prover reads them too; here :data:`SPEC` is
the spec they are built from, :func:`prime` binds its inputs, and :func:`gate_key` and
:func:`fast_part` let the rule set skip frames a rule cannot fail on (:data:`SLOW_KEYS`
change only with the console's commanded state).
"""

from __future__ import annotations

from typing import Final

from iabp.spec import monitor_rules
from iabp.spec.expr import BOOL, TRUE, And, Expr, Op, Operator, Var
from iabp.spec.iabp import iabp_spec
from iabp.spec.monitor_rules import MEASURED_GAS, SLOW_KEYS, drop_conjuncts, shrink_window
from iabp.spec.walker import free_vars

SPEC: Final = iabp_spec()
"""The verified pump specification (modes, balloon plant, heart timing, alarms) whose
proved properties the rules check, built once and shared by every rule."""
_INPUTS: Final = frozenset(i.name for i in SPEC.inputs)

__all__ = ["MEASURED_GAS", "SLOW_KEYS", "SPEC", "drop_conjuncts", "fast_part", "gate_key",
           "prime", "shrink_window"]


def prime(e: Expr) -> Expr:
    """A STATE property evaluated on this frame: every state variable read as ``x'``."""
    return monitor_rules.prime(e, _INPUTS)


def gate_key(premise: Expr) -> str | None:
    """A Boolean variable that is a conjunct of ``premise`` (e.g. the inflate command, a
    fault alarm): while it is False the implication holds and the compiled check can be
    skipped. None if the premise has no such conjunct."""
    stack, found = [premise], []
    while stack:
        node = stack.pop()
        if isinstance(node, Op) and node.op is Operator.AND:
            stack.extend(node.args)
        elif isinstance(node, Var) and node.sort == BOOL:
            found.append(node.key)
    return found[0] if found else None


def fast_part(e: Expr) -> Expr:
    """The conjuncts of ``e`` that read some key outside SLOW_KEYS (TRUE if none does)."""
    parts = e.args if isinstance(e, Op) and e.op is Operator.AND else (e,)
    fast = [p for p in parts if free_vars(p) - SLOW_KEYS]
    return And(*fast) if fast else TRUE
