"""The evidence report's figures: the mode diagram (SVG) and counterexample plots (PNG).

The mode diagram is drawn from the spec's mode table by graphviz when it is installed,
else by a small built-in SVG layout; counterexample traces are step plots drawn with
matplotlib.
"""

from __future__ import annotations

import io
import math
import re
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from typing import Any

from iabp.proofs.counterexample import columns
from iabp.proofs.report.html import esc
from iabp.spec.mode_table import MODE_NAMES
from iabp.spec.modes import PUMPING_MODES
from iabp.spec.system import ModeTransition, Property, SystemSpec


def mode_diagram_svg(table: Sequence[ModeTransition], engine: str = "auto") -> tuple[str, str]:
    """The mode diagram as inline SVG, and which engine drew it.

    ``engine``: "graphviz" (the ``dot`` program), "builtin" (our own layout), or "auto"
    (graphviz when installed, else builtin).
    """
    if engine in ("auto", "graphviz") and shutil.which("dot"):
        try:
            return _graphviz_svg(table), "graphviz (dot)"
        except (OSError, subprocess.SubprocessError):
            if engine == "graphviz":
                raise
    elif engine == "graphviz":
        raise FileNotFoundError("graphviz 'dot' is not installed")
    return _builtin_svg(table), "the built-in SVG layout"


def _edges(table: Sequence[ModeTransition]) -> dict[tuple[str, str], list[ModeTransition]]:
    edges: dict[tuple[str, str], list[ModeTransition]] = {}
    for m in table:
        for src in m.sources:
            edges.setdefault((src, m.dest), []).append(m)
    return edges


def _mode_names(table: Sequence[ModeTransition]) -> list[str]:
    used = {n for m in table for n in (*m.sources, m.dest)}
    return [n for n in MODE_NAMES if n in used] + sorted(used - set(MODE_NAMES))


def _node_fill(name: str) -> str:
    if name in {m.name for m in PUMPING_MODES}:
        return "#dbeafe"
    return "#fee2e2" if name == "HALTED" else "#f3f4f6"


def _graphviz_svg(table: Sequence[ModeTransition]) -> str:
    lines = ["digraph modes {", "rankdir=LR; nodesep=0.5; ranksep=1.4;",
             'node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=12];',
             'edge [fontname="Helvetica", fontsize=10];']
    lines += [f'"{n}" [fillcolor="{_node_fill(n)}"];' for n in _mode_names(table)]
    for (a, b), ms in _edges(table).items():
        label = "\\n".join(f"{m.trigger} [{m.guard}]" for m in ms)
        lines.append(f'"{a}" -> "{b}" [label="{label}"];')
    lines.append("}")
    out = subprocess.run(["dot", "-Tsvg"], input="\n".join(lines), capture_output=True,
                         text=True, timeout=30, check=True).stdout
    return re.sub(r"<\?xml.*?\?>|<!DOCTYPE.*?>|<!--.*?-->", "", out, flags=re.DOTALL).strip()


def _layout(names: list[str], edges: Iterable[tuple[str, str]]) -> dict[str, tuple[float, float]]:
    """Initial mode on the left, modes that only return to it along the bottom, others right."""
    initial = names[0]
    outs = {n: {b for a, b in edges if a == n} for n in names}
    bottom = [n for n in names[1:] if outs[n] == {initial}]
    right = [n for n in names[1:] if n not in bottom]
    step = 175.0
    pos = {n: (780.0, 50.0 + step * i) for i, n in enumerate(right)}
    mid = 50.0 + step * (len(right) - 1) / 2 if right else 50.0
    pos[initial] = (110.0, mid)
    low = 50.0 + step * max(len(right), 1) - 30.0
    pos.update({n: (420.0 + 190.0 * (i - (len(bottom) - 1) / 2), low)
                for i, n in enumerate(bottom)})
    return pos


def _clip(c: tuple[float, float], d: tuple[float, float]) -> tuple[float, float]:
    """Where a ray from box centre ``c`` in direction ``d`` leaves the 170x44 box."""
    dx, dy = d
    k = min(85 / abs(dx) if dx else 1e9, 22 / abs(dy) if dy else 1e9)
    return c[0] + dx * k, c[1] + dy * k


def _builtin_svg(table: Sequence[ModeTransition]) -> str:
    names = _mode_names(table)
    edges = _edges(table)
    pos = _layout(names, edges)
    w = max(x for x, _ in pos.values()) + 110
    h = max(y for _, y in pos.values()) + 50
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w:.0f} {h:.0f}" '
             f'width="{w:.0f}" height="{h:.0f}" role="img" aria-label="mode diagram" '
             'font-family="Helvetica, Arial, sans-serif">',
             '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" '
             'markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
             'fill="#374151"/></marker></defs>']
    labels = []
    for (a, b), ms in edges.items():
        (x0, y0), (x1, y1) = pos[a], pos[b]
        dist = math.hypot(x1 - x0, y1 - y0) or 1.0
        bend = 50.0 if (b, a) in edges else 0.0
        cx = (x0 + x1) / 2 - (y1 - y0) / dist * bend
        cy = (y0 + y1) / 2 + (x1 - x0) / dist * bend
        p0 = _clip((x0, y0), (cx - x0, cy - y0))
        p2 = _clip((x1, y1), (cx - x1, cy - y1))
        title = esc("; ".join(f"{m.trigger}: guard {m.guard}" for m in ms))
        parts.append(f'<path d="M{p0[0]:.1f},{p0[1]:.1f} Q{cx:.1f},{cy:.1f} {p2[0]:.1f},'
                     f'{p2[1]:.1f}" fill="none" stroke="#374151" stroke-width="1.4" '
                     f'marker-end="url(#arrow)"><title>{title}</title></path>')
        lx, ly = 0.25 * p0[0] + 0.5 * cx + 0.25 * p2[0], 0.25 * p0[1] + 0.5 * cy + 0.25 * p2[1]
        labels.append(_svg_label(lx, ly, [m.trigger for m in ms]))
    for n, (x, y) in pos.items():
        parts.append(f'<rect x="{x - 85:.0f}" y="{y - 22:.0f}" width="170" height="44" rx="10" '
                     f'fill="{_node_fill(n)}" stroke="#111827"/><text x="{x:.0f}" '
                     f'y="{y + 5:.0f}" text-anchor="middle" font-size="14" '
                     f'font-weight="bold">{esc(n)}</text>')
    return "\n".join([*parts, *labels, "</svg>"])


def _svg_label(x: float, y: float, lines: list[str]) -> str:
    width = 6.2 * max(len(s) for s in lines) + 8
    height = 13.0 * len(lines) + 4
    top = y - height / 2
    spans = "".join(f'<tspan x="{x:.1f}" y="{top + 12 + 13 * i:.1f}">{esc(s)}</tspan>'
                    for i, s in enumerate(lines))
    return (f'<rect x="{x - width / 2:.1f}" y="{top:.1f}" width="{width:.1f}" '
            f'height="{height:.1f}" fill="white" fill-opacity="0.85"/>'
            f'<text font-size="11" text-anchor="middle" fill="#1f2937">{spans}</text>')


def _sort_of(spec: SystemSpec, name: str) -> Any:
    sorts = {v.name: v.sort for v in spec.state} | {i.name: i.sort for i in spec.inputs}
    return sorts.get(name)


def _numeric(values: list[Any], sort: Any) -> tuple[list[float], list[float], list[str]]:
    """Plot values and y-ticks for a column: booleans 0/1, enums by member order."""
    if sort is not None and sort.enum is not None:
        names = [m.name for m in sort.enum]
        return ([float(names.index(v)) if v in names else math.nan for v in values],
                [float(i) for i in range(len(names))], names)
    if all(isinstance(v, bool) for v in values):
        return [float(v) for v in values], [0.0, 1.0], ["false", "true"]
    return [float(v) if isinstance(v, int | float) else math.nan for v in values], [], []


def counterexample_png(rows: list[dict[str, Any]], prop: Property, spec: SystemSpec,
                       window: int = 300, limit: int = 10) -> tuple[bytes, int]:
    """A step plot of a counterexample's last ``window`` ticks; returns (PNG, ticks shown)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    shown = min(len(rows), window)
    tail = rows[-shown:]
    cols = columns(rows, prop, spec, window=shown, limit=limit)
    x = list(range(len(rows) - shown, len(rows)))
    fig = Figure(figsize=(10, 0.75 * len(cols) + 1.2), dpi=90)
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(cols), 1, sharex=True, squeeze=False)[:, 0]
    for ax, col in zip(axes, cols, strict=True):
        y, ticks, names = _numeric([r.get(col) for r in tail], _sort_of(spec, col))
        ax.step(x, y, where="post", linewidth=1.2, color="#1d4ed8")
        ax.axvline(x[-1], color="#dc2626", linewidth=1.0)
        ax.set_ylabel(col, rotation=0, ha="right", va="center", fontsize=8)
        if ticks:
            ax.set_yticks(ticks, names, fontsize=7)
        ax.tick_params(labelsize=7)
        ax.grid(True, linewidth=0.3)
    axes[-1].set_xlabel("tick (ms from power-on); red line: the violating step", fontsize=8)
    fig.suptitle(f"{prop.id} counterexample", fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue(), shown

