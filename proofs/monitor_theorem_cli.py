"""How ``iabp prove`` shows the monitor theorem: a table, the reasons, JSON, a broken variant.

The theorem itself is :mod:`iabp.proofs.monitor_theorem`; this module only renders its
results (one :class:`~iabp.proofs.results.PropertyResult` per runtime rule).
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from iabp.proofs.monitor_theorem import MONITOR_VARIANTS, monitor_variant, prove_monitor_variant
from iabp.proofs.results import STATUS_STYLE, PropertyResult, Status
from iabp.spec.monitor_rules import OBSERVATIONS, rule_check

STYLE = STATUS_STYLE

HEADING = ("Monitor theorem: every step of the verified controller passes each runtime rule "
           "(no false stop of correct therapy), and every console step that visibly breaks "
           "a rule's property fails it (no miss)")


def rule_line(r: PropertyResult) -> str:
    """One rule's verdict as a progress line (rich markup)."""
    answers = " ".join(f"{q.name.rsplit('.', 1)[-1]}={q.answer.value}" for q in r.queries)
    return f"  [{STYLE[r.status]}]{r.status.value:9s}[/] {r.property_id:26s} " \
           f"{r.seconds:6.2f}s  {answers}"


def table(results: list[PropertyResult]) -> Table:
    t = Table(title="Monitor theorem: runtime rules")
    for col in ("rule", "property", "status", "may miss", "seconds"):
        t.add_column(col)
    for r in results:
        check = rule_check(r.property_id)
        t.add_row(r.property_id, check.property_id, f"[{STYLE[r.status]}]{r.status.value}[/]",
                  check.miss, f"{r.seconds:.2f}")
    return t


def explain(console: Console, results: list[PropertyResult]) -> None:
    """The table, the observations it rests on, and why a rule is not PROVED."""
    console.print(table(results))
    console.print("Observations assumed (what the monitor sees):", markup=False)
    for o in OBSERVATIONS:
        console.print(f"  {o.id}: {o.text}", markup=False, soft_wrap=True)
    for r in results:
        if r.status is Status.PROVED:
            continue
        console.print(f"\n[{STYLE[r.status]}]{r.property_id} {r.status.value}[/]: {r.reason}")
        rows = r.counterexample or r.cti
        if rows:
            last = rows[-1]
            shown = {k: v for k, v in last.items() if k.startswith(("view_", "mon_", "heart_"))
                     or k in ("mode", "inflate_cmd", "gas_timer_ms", "gas_filled")}
            console.print("  the step's values (tick 1): " + ", ".join(
                f"{k}={getattr(v, 'name', v)}" for k, v in shown.items()), markup=False,
                soft_wrap=True)


def document(results: list[PropertyResult]) -> list[dict[str, Any]]:
    """The rules' results for ``iabp prove --json``."""
    return [{"rule": r.property_id, "property": rule_check(r.property_id).property_id,
             "status": r.status.value, "seconds": round(r.seconds, 3),
             "reason": r.reason or None, "may_miss": rule_check(r.property_id).miss,
             "queries": {q.name: q.answer.value for q in r.queries}} for r in results]


def variant_lines() -> list[str]:
    """``--list-variants``: the broken monitors."""
    return [f"{v.id:36s} breaks {v.breaks:22s} ({v.half}) {v.title}" for v in MONITOR_VARIANTS]


def is_variant(vid: str | None) -> bool:
    return vid is not None and any(v.id == vid for v in MONITOR_VARIANTS)


def run_variant(console: Console, vid: str, timeout_s: float) -> int:
    """``iabp prove --variant mon-...``: the theorem for the rule a broken monitor targets.
    Exit 1 when it is not proved (as it must not be), 0 if it is."""
    v = monitor_variant(vid)
    console.print(f"Monitor variant {v.id}: {v.title} (must fail the {v.half} half of "
                  f"{v.breaks})", markup=False)
    r = prove_monitor_variant(vid, timeout_s)
    console.print(rule_line(r))
    explain(console, [r])
    return 0 if r.status is Status.PROVED else 1
