"""How the runtime rules re-point the spec's proved pump properties at telemetry.

Each transform keeps the spec's rule and only re-points or weakens it, by name: read a
STATE property on this frame (:func:`prime`), drop a conclusion conjunct the wire cannot
show (:func:`drop_conjuncts`, e.g. the operator's keys), shrink the ventricle's ejection
window by the own QRS-onset error (:func:`shrink_window`), or point the balloon plant at
the gas measured on the helium line (:data:`MEASURED_GAS`). :data:`SLOW_KEYS` are the
valuation keys that change only with the console's commanded state (mode, balloon
command, alarms, settings), which lets the rule set skip quiet frames.
"""

from __future__ import annotations

from typing import Final

from iabp.monitor.reconstruct.step import substitute
from iabp.spec.controller_step import ALARM_VARS
from iabp.spec.expr import BOOL, INT, TRUE, And, Expr, Op, Operator, Var
from iabp.spec.iabp import iabp_spec
from iabp.spec.settings import SETTINGS
from iabp.spec.walker import free_vars

SPEC: Final = iabp_spec()
"""The verified pump specification (modes, balloon plant, heart timing, alarms) whose
proved properties the rules check, built once and shared by every rule."""
_INPUTS: Final = frozenset(i.name for i in SPEC.inputs)

#: Valuation keys that change only when the console's commanded state changes (mode,
#: balloon command, alarm mask, settings) or on a monitor event; rules that read only
#: these need judging only on frames flagged ``mon_changed`` and the frame after.
SLOW_KEYS: Final = frozenset(
    k for base in ("mode", "inflate_cmd", *ALARM_VARS, *(s.var.name for s in SETTINGS),
                   "mon_stop_sent")
    for k in (base, base + "'")) | frozenset(
    ("contra_absolute", "contra_relative", "contra_override", "r_wave", "upstroke", "notch",
     "activity", "mon_beat", "mon_activity_late"))


def prime(e: Expr) -> Expr:
    """A STATE property evaluated on this frame: every state variable read as ``x'``."""
    keys = {k: Var(k, s, True) for n in _walk_vars(e) if not n.primed and n.name not in _INPUTS
            for k, s in [(n.name, n.sort)]}
    return substitute(e, keys)


def _walk_vars(e: Expr) -> list[Var]:
    if isinstance(e, Var):
        return [e]
    if isinstance(e, Op):
        return [v for a in e.args for v in _walk_vars(a)]
    return []


def drop_conjuncts(e: Expr, names: frozenset[str]) -> Expr:
    """Weaken a conclusion: drop each conjunct that reads one of ``names`` (unobservable)."""
    if isinstance(e, Op) and e.op is Operator.AND:
        kept = [a for a in e.args if not {k.rstrip("'") for k in free_vars(a)} & names]
        return And(*kept) if kept else TRUE
    return TRUE if {k.rstrip("'") for k in free_vars(e)} & names else e


def shrink_window(e: Expr, tol_ms: int) -> Expr:
    """The ejection window (onset + PEP .. onset + QS2) shrunk by ``tol_ms`` at both ends."""
    pep, qs2 = Var("heart_pep_ms", INT, True), Var("heart_qs2_ms", INT, True)
    return substitute(e, {pep.key: pep + tol_ms, qs2.key: qs2 - tol_ms})


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


MEASURED_GAS: Final[dict[str, Expr]] = {
    "inflate_cmd": Var("mon_gas_inflated", BOOL), "gas_timer_ms": Var("mon_gas_timer_ms", INT),
    "gas_filled": Var("mon_gas_filled", BOOL),
}
"""The spec's plant variables pointed at the balloon state measured on the gas line."""
