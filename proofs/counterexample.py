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

from spec.expr import free_vars
from spec.system import Property, SystemSpec

ALWAYS = ("mode", "inflate_cmd", "heart_t_ms")


def plain(v: Any) -> Any:
    """A JSON/CSV-friendly value: enum members by name."""
    if isinstance(v, IntEnum):
        return v.name
    return v


def columns(rows: list[dict[str, Any]], prop: Property, spec: SystemSpec,
            window: int = 12, limit: int = 16) -> list[str]:
    """The columns worth showing for ``prop`` over the last ``window`` rows."""
    tail = rows[-window:]
    known = {s.name for s in spec.state} | {i.name for i in spec.inputs}
    wanted = [c for c in ALWAYS if c in known]
    for key in sorted(free_vars(prop.formula)):
        name = key.rstrip("'")
        if name in known and name not in wanted:
            wanted.append(name)
    inputs = {i.name for i in spec.inputs}
    for name in sorted(known - set(wanted)):
        vals = {repr(plain(r.get(name))) for r in tail}
        active_input = name in inputs and any(r.get(name) not in (False, 0, None, "NONE")
                                              and plain(r.get(name)) != "NONE" for r in tail)
        if len(vals) > 1 or active_input:
            wanted.append(name)
    return wanted[:limit]


def table_text(rows: list[dict[str, Any]], prop: Property, spec: SystemSpec,
               window: int = 12) -> str:
    """A plain-text table of the last ``window`` ticks (for logs and non-TTY output)."""
    cols = ["tick", *columns(rows, prop, spec, window)]
    tail = rows[-window:]
    cells = [[str(plain(r.get(c, ""))) for c in cols] for r in tail]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    line = "  ".join(c.rjust(w) for c, w in zip(cols, widths, strict=True))
    out = [line, "-" * len(line)]
    out += ["  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(out)


def write_json(path: Path, rows: list[dict[str, Any]], prop: Property, how: str) -> None:
    doc = {"property": prop.id, "formula": str(prop.formula), "found_by": how,
           "ticks": len(rows), "trace": [{k: plain(v) for k, v in r.items()} for r in rows]}
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
