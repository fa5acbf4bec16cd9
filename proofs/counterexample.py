"""Counterexample traces: a readable table for the terminal, JSON and CSV for the record.

A trace is a list of rows, one per tick from power-on, each holding every state
variable and input. The table shows the last ticks before the violation and only the
columns that matter: the variables the property reads, the mode and balloon command,
the heart's clock, and whatever changed in that window.
"""

from __future__ import annotations

import csv
import json
from enum import IntEnum
from pathlib import Path
from typing import Any

from iabp.spec.engines.to_python import compile_expr
from iabp.spec.errors import SpecError
from iabp.spec.expr import Expr, Op, Operator
from iabp.spec.system import Property, SystemSpec
from iabp.spec.walker import free_vars

ALWAYS = ("mode", "inflate_cmd", "heart_t_ms")


def plain(v: Any) -> Any:
    """A JSON/CSV-friendly value: enum members by name."""
    if isinstance(v, IntEnum):
        return v.name
    return v


def _is_active(v: Any) -> bool:
    return plain(v) not in (False, 0, None, "NONE")


def columns(rows: list[dict[str, Any]], prop: Property, spec: SystemSpec,
            window: int = 12, limit: int = 10, focus: Expr | None = None) -> list[str]:
    """The state columns worth showing for ``prop`` (or for the formula ``focus``, e.g. the
    lemma whose induction step failed) over the last ``window`` rows."""
    tail = rows[-window:]
    state = [s.name for s in spec.state]
    wanted = [c for c in ALWAYS if c in state]
    for key in sorted(free_vars(prop.formula if focus is None else focus)):
        name = key.rstrip("'")
        if name in state and name not in wanted:
            wanted.append(name)
    for name in state:
        if name not in wanted and len({repr(plain(r.get(name))) for r in tail}) > 1:
            wanted.append(name)
    return wanted[:limit]


def active_inputs(row: dict[str, Any], spec: SystemSpec) -> str:
    """The inputs that are not idle on this tick, as ``name`` or ``name=value``."""
    out = []
    for i in spec.inputs:
        if i.name.startswith("req_") or i.name not in row or not _is_active(row[i.name]):
            continue
        v = plain(row[i.name])
        out.append(i.name if v is True else f"{i.name}={v}")
    return " ".join(out) or "-"


def table_text(rows: list[dict[str, Any]], prop: Property, spec: SystemSpec,
               window: int = 12, focus: Expr | None = None) -> str:
    """A plain-text table of the last ``window`` ticks: tick, the tick's active inputs,
    and the state columns that matter (the last row is the state after the violation)."""
    cols = columns(rows, prop, spec, window, focus=focus)
    header = ["tick", *cols, "inputs"]
    tail = rows[-window:]
    cells = [[str(r.get("tick", "")), *(str(plain(r.get(c, ""))) for c in cols),
              active_inputs(r, spec)] for r in tail]
    widths = [max(len(h), *(len(row[i]) for row in cells)) for i, h in enumerate(header)]
    line = "  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True))
    out = [f"property {prop.id}: {prop.title}", line, "-" * len(line)]
    out += ["  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(out)


def write_json(path: Path, rows: list[dict[str, Any]], prop: Property, how: str) -> None:
    doc = {"property": prop.id, "formula": str(prop.formula), "found_by": how,
           "ticks": len(rows), "trace": [{k: plain(v) for k, v in r.items()} for r in rows]}
    path.write_text(json.dumps(doc, indent=1, sort_keys=True))


def write_step_json(path: Path, rows: list[dict[str, Any]], subject: str, how: str) -> None:
    """A counterexample that is one step of the model, not a trace from power-on (the
    monitor theorem's no-miss half: any console state)."""
    doc = {"monitor_rule": subject, "found_by": how, "ticks": len(rows),
           "trace": [{k: plain(v) for k, v in r.items()} for r in rows]}
    path.write_text(json.dumps(doc, indent=1, sort_keys=True))


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    keys: list[str] = []
    for r in rows:
        for k in r:
            if k not in keys:
                keys.append(k)
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        for r in rows:
            w.writerow({k: plain(v) for k, v in r.items()})


def cti_text(rows: list[dict[str, Any]], query: str, prop: Property, spec: SystemSpec) -> str:
    """A counterexample to induction (``PropertyResult.cti``) as a two-row table, with the
    columns of the failing obligation: the variables of the part of the lemma it breaks
    when a lemma's step failed (``query`` names the obligation)."""
    lemma_ids = {lem.id for lem in spec.lemmas}
    owner = query.split(".")[0]
    focus = spec.lemma(owner).expr if owner in lemma_ids else None
    if focus is not None:
        focus = _broken_part(focus, rows[-1])
    return table_text(rows, prop, spec, window=2, focus=focus)


def _broken_part(e: Expr, state: dict[str, Any]) -> Expr:
    """The innermost conjunct of ``e`` that is false in ``state`` (the part of a lemma the
    counterexample breaks), or ``e`` itself."""
    while isinstance(e, Op) and e.op is Operator.AND:
        false = [a for a in e.args if _false_in(a, state)]
        if not false:
            break
        e = false[0]
    return e


def _false_in(e: Expr, state: dict[str, Any]) -> bool:
    try:
        return compile_expr(e)(state) is False
    except (KeyError, TypeError, ValueError, SpecError):
        return False
