"""The evidence report: one self-contained HTML file and the same content as Markdown.

Everything in it is generated: the mode diagram from the spec's mode table, the
parameter tables from ``spec.settings``, ``spec.assumptions`` and ``spec.timing``, the
properties from the spec with their proof results read back from an artifact directory,
counterexample traces drawn with matplotlib, the z3/cvc5 re-check side by side, and the
traceability matrix (:mod:`proofs.traceability`).

The HTML needs no network: CSS is inline, the diagram is inline SVG, plots are
``data:`` URIs, and a Content-Security-Policy forbids any fetch. The only links are
relative ones to the SMT-LIB2 files and traces in the artifact directory. The content
is built once as a small document model (:class:`Section` and blocks) and rendered
twice, so the HTML and the Markdown cannot drift apart.
"""

from __future__ import annotations

import base64
import html
import inspect
import io
import json
import math
import os
import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from proofs.counterexample import columns
from proofs.recheck import QueryCheck, RecheckReport
from proofs.traceability import (
    Chain,
    GapKind,
    Matrix,
    PropertyRow,
    TestLink,
    build_matrix,
    summaries_from_json,
)
from spec import assumptions as assumptions_module
from spec import timing as timing_module
from spec.assumptions import ASSUMPTIONS
from spec.expr import to_text
from spec.mode_table import MODE_NAMES
from spec.modes import PUMPING_MODES
from spec.requirements import HAZARD_BY_ID, REQUIREMENT_BY_ID
from spec.settings import SETTINGS, validator_clauses_for
from spec.system import ModeTransition, Property, SystemSpec
from spec.timing import band_table

STATUS_CLASS = {"PROVED": "ok", "VIOLATED": "bad", "UNKNOWN": "warn", "VACUOUS": "warn"}


# -- document model ---------------------------------------------------------------------

@dataclass(frozen=True)
class Span:
    """Inline text: plain, ``code``, a link, or a status badge (``cls``)."""

    text: str
    code: bool = False
    href: str | None = None
    cls: str = ""


Cell = list[Span]


@dataclass(frozen=True)
class Para:
    """A paragraph of inline spans."""

    spans: list[Span]


@dataclass(frozen=True)
class Table:
    """A table: header texts and rows of cells (each a list of spans)."""

    headers: list[str]
    rows: list[list[Cell]]


@dataclass(frozen=True)
class Code:
    """A preformatted block."""

    text: str


@dataclass(frozen=True)
class Image:
    """A figure: inline SVG text, or PNG bytes (a data: URI in HTML, a file in Markdown)."""

    name: str
    alt: str
    svg: str | None = None
    png: bytes | None = None


@dataclass(frozen=True)
class Fold:
    """Content the HTML folds away (``<details>``); Markdown shows it under a bold line."""

    summary: str
    blocks: list[Block]


Block = Para | Table | Code | Image | Fold


@dataclass
class Section:
    """A titled part of the report (level 2 in the table of contents, 3 below it)."""

    anchor: str
    title: str
    blocks: list[Block] = field(default_factory=list)
    level: int = 2


def t(text: str, **kw: Any) -> Span:
    """A span (shorthand)."""
    return Span(text, **kw)


def cell(*spans: Span | str) -> Cell:
    """A table cell from spans and plain strings."""
    return [s if isinstance(s, Span) else Span(s) for s in spans]


def badge(status: str) -> Span:
    """A status (PROVED, VIOLATED, ...) shown as a coloured badge."""
    return Span(status, cls=STATUS_CLASS.get(status, "warn"))


# -- the report -------------------------------------------------------------------------

@dataclass
class Report:
    """A built report: sections, rendered on demand to HTML or Markdown."""

    title: str
    sections: list[Section]

    def images(self) -> list[Image]:
        """Every figure in the report, in order."""
        out: list[Image] = []

        def walk(blocks: list[Block]) -> None:
            for b in blocks:
                if isinstance(b, Image):
                    out.append(b)
                elif isinstance(b, Fold):
                    walk(b.blocks)
        for s in self.sections:
            walk(s.blocks)
        return out

    def html(self) -> str:
        """The self-contained HTML page."""
        return render_html(self.title, self.sections)

    def markdown(self) -> str:
        """The same content as Markdown."""
        return render_markdown(self.title, self.sections)

    def write(self, out_dir: Path) -> tuple[Path, Path]:
        """Write ``report.html``, ``report.md`` and the Markdown's ``img/`` files."""
        out_dir.mkdir(parents=True, exist_ok=True)
        img = out_dir / "img"
        for im in self.images():
            img.mkdir(exist_ok=True)
            if im.svg is not None:
                (img / f"{im.name}.svg").write_text(im.svg, encoding="utf-8")
            if im.png is not None:
                (img / f"{im.name}.png").write_bytes(im.png)
        h, m = out_dir / "report.html", out_dir / "report.md"
        h.write_text(self.html(), encoding="utf-8")
        m.write_text(self.markdown(), encoding="utf-8")
        return h, m


def load_results(art_dir: Path) -> dict[str, Any]:
    """An artifact directory's ``results.json``."""
    doc: dict[str, Any] = json.loads((art_dir / "results.json").read_text(encoding="utf-8"))
    return doc


def build_report(art_dir: Path, spec: SystemSpec, out_dir: Path, *,
                 recheck: RecheckReport | None = None, matrix: Matrix | None = None,
                 diagram: str = "auto", variant: str | None = None) -> Report:
    """The report on the proofs of ``spec`` stored in ``art_dir``, to be written in ``out_dir``."""
    results = load_results(art_dir)
    matrix = matrix or build_matrix(spec, summaries_from_json(results))
    link = Path(os.path.relpath(art_dir.resolve(), out_dir.resolve())).as_posix()
    by_id = {r["property_id"]: r for r in results.get("results", [])}
    ctx = _Ctx(art_dir, spec, link, by_id, recheck)
    sections = [
        _overview(ctx, results, variant, matrix),
        _modes(spec, diagram),
        _parameters(),
        _assumptions(spec),
        *_properties(ctx),
        _lemmas(spec),
        _recheck_section(ctx),
        *_matrix_sections(matrix),
    ]
    title = f"IABP safety evidence: spec '{spec.name}'" + (f" (variant {variant})"
                                                           if variant else "")
    return Report(title, sections)


@dataclass
class _Ctx:
    art_dir: Path
    spec: SystemSpec
    link: str
    results: dict[str, dict[str, Any]]
    recheck: RecheckReport | None

    def href(self, rel: str) -> str:
        return f"{self.link}/{rel}" if self.link != "." else rel


def _overview(ctx: _Ctx, results: dict[str, Any], variant: str | None,
              matrix: Matrix) -> Section:
    s = Section("overview", "Overview")
    statuses = [r["status"] for r in ctx.results.values()]
    counts = ", ".join(f"{statuses.count(k)} {k}" for k in STATUS_CLASS if statuses.count(k))
    s.blocks.append(Para([t(f"{len(statuses)} properties: {counts}. Spec '{ctx.spec.name}' "
                            "sha256 "), t(ctx.spec.sha256(), code=True), t(".")]))
    rc = ctx.recheck
    if rc is not None:
        n_ok = sum(c.ok for c in rc.checks)
        s.blocks.append(Para([t("Independent re-check: "), t(
            f"{n_ok}/{len(rc.checks)}", cls="ok" if rc.ok else "bad"), t(
            " SMT-LIB2 queries give the expected answer with both z3 and cvc5 "),
            t("(details)", href="#recheck"), t(".")]))
    s.blocks.append(Para([t("Traceability: "), t(f"{len(matrix.gaps)} gaps",
                                                  cls="ok" if not matrix.gaps else "warn"),
                          t(" "), t("(matrix)", href="#matrix"), t(".")]))
    if results.get("spec_sha256") != ctx.spec.sha256():
        s.blocks.append(Para([t("WARNING: the artifacts were made for spec sha256 "
                                f"{results.get('spec_sha256')}, not this spec. Run "
                                "'iabp audit verify' on them.", cls="bad")]))
    if variant:
        s.blocks.append(Para([t(f"This is the deliberately broken variant {variant}: "
                                "its properties are expected to fail.", cls="warn")]))
    meta = [("prover", f"{results.get('solver')} {results.get('solver_version')}"),
            ("random seed", str(results.get("random_seed"))),
            ("timeout per query", f"{results.get('timeout_s')} s"),
            ("total proof time", f"{results.get('total_seconds')} s"),
            ("python / platform", f"{results.get('python')} / {results.get('platform')}"),
            ("artifacts", ctx.link)]
    s.blocks.append(Table(["item", "value"], [[cell(k), cell(v)] for k, v in meta]))
    rows = [[cell(t(pid, href=f"#{pid}")), cell(badge(r["status"])), cell(r["method"]),
             cell(f"{r['seconds']:.2f} s"), cell(", ".join(r["requirements"])),
             cell(", ".join(r["hazards"]))] for pid, r in ctx.results.items()]
    s.blocks.append(Table(["property", "status", "method", "time", "requirements",
                           "hazards"], rows))
    return s


def _modes(spec: SystemSpec, diagram: str) -> Section:
    s = Section("modes", "Modes and transitions")
    svg, engine = mode_diagram_svg(spec.mode_table, engine=diagram)
    s.blocks.append(Para([t("Drawn from the spec's mode table (spec/mode_table.py) by "
                            f"{engine}. Rows are tried in order; the first whose source "
                            "matches and whose guard holds fires.")]))
    s.blocks.append(Image("modes", "mode diagram", svg=svg))
    rows = [[cell(str(i)), cell(t(m.trigger, code=True)), cell(", ".join(m.sources)),
             cell(m.dest), cell(t(m.guard, code=True))]
            for i, m in enumerate(spec.mode_table, start=1)]
    s.blocks.append(Table(["#", "trigger", "from", "to", "guard"], rows))
    return s


def _parameters() -> Section:
    s = Section("parameters", "Parameters")
    s.blocks.append(Para([t("Operator settings (spec/settings.py). The proofs hold for every "
                            "setting the validator accepts.")]))
    s.blocks.append(Table(["setting", "unit", "min", "max", "default", "meaning"], [
        [cell(t(x.name, code=True)), cell(x.unit), cell(str(x.lo)), cell(str(x.hi)),
         cell(str(x.default)), cell(x.meaning)] for x in SETTINGS]))
    clauses = validator_clauses_for({x.name: x.var for x in SETTINGS})
    s.blocks.append(Table(["validator clause", "condition", "reason shown on rejection"], [
        [cell(c.id), cell(t(to_text(c.holds), code=True)), cell(c.reason)] for c in clauses]))
    for title, mod in (("Assumption constants (spec/assumptions.py)", assumptions_module),
                       ("Heart-timing constants (spec/timing.py)", timing_module)):
        s.blocks.append(Para([t(title)]))
        s.blocks.append(Table(["constant", "value", "meaning"], [
            [cell(t(n, code=True)), cell(str(v)), cell(d)] for n, v, d in spec_constants(mod)]))
    s.blocks.append(Para([t("Weissler band table (spec/timing.py): for each R-R band, the "
                            "shortest and longest pre-ejection period (PEP) and end of "
                            "ejection (QS2) the proofs allow, tolerance included (ms).")]))
    keys = ["rr_from_ms", "rr_to_ms", "pep_lo_ms", "pep_hi_ms", "qs2_lo_ms", "qs2_hi_ms"]
    s.blocks.append(Table(keys, [[cell(str(row[k])) for k in keys] for row in band_table()]))
    return s


def _assumptions(spec: SystemSpec) -> Section:
    s = Section("assumptions", "Assumptions")
    s.blocks.append(Para([t("Every proof rests on these. Each property's proof uses exactly "
                            "the ones listed for it (its own and its lemmas').")]))
    users = {a.id: [p.id for p in spec.properties if a.id in spec.assumptions_of(p)]
             for a in ASSUMPTIONS}
    s.blocks.append(Table(["assumption", "what is assumed", "source", "used by"], [
        [cell(t(a.id, code=True)), cell(a.text), cell(a.source),
         cell(", ".join(users[a.id]) or "-")] for a in ASSUMPTIONS]))
    return s


def _properties(ctx: _Ctx) -> list[Section]:
    head = Section("properties", "Properties")
    head.blocks.append(Para([t("Each property in plain words, its formula (premise => "
                               "conclusion; x' is the value after the tick), and the proof "
                               "behind it. SMT-LIB2 links open the exact queries; "
                               "'z3 FILE' or 'iabp audit verify' re-checks them.")]))
    return [head, *(_property(ctx, p) for p in ctx.spec.properties)]


def _property(ctx: _Ctx, p: Property) -> Section:
    r = ctx.results.get(p.id)
    s = Section(p.id, f"{p.id}: {p.title}", level=3)
    s.blocks.append(Para([badge(r["status"] if r else "NOT RUN"), t(" " + p.plain)]))
    facts = [
        ("kind", p.kind.value), ("requirements", ", ".join(
            f"{x} ({REQUIREMENT_BY_ID[x].text[:60]}...)" for x in p.requirements)),
        ("hazards", ", ".join(f"{x} ({HAZARD_BY_ID[x].what})" for x in p.hazards)),
        ("assumptions", ", ".join(ctx.spec.assumptions_of(p)) or "none"),
        ("lemmas", ", ".join(x.id for x in ctx.spec.lemma_closure(p.lemmas)) or "none")]
    if r:
        facts += [("method", f"{r['method']} (k = {r['k']})"),
                  ("time", f"{r['seconds']:.3f} s"), ("verdict", r["reason"])]
    rows = [[cell(k), cell(v)] for k, v in facts]
    rows.insert(1, [cell("premise"), cell(t(to_text(p.premise), code=True))])
    rows.insert(2, [cell("conclusion"), cell(t(to_text(p.conclusion), code=True))])
    s.blocks.append(Table(["fact", "value"], rows))
    if r:
        s.blocks.append(_query_table(ctx, r))
        if r.get("counterexample_ticks"):
            s.blocks.extend(_counterexample(ctx, p))
    return s


def _query_table(ctx: _Ctx, r: dict[str, Any]) -> Fold:
    rows = []
    for q in r["queries"]:
        f = q.get("smt2_file")
        rows.append([cell(t(f"{q['name']}.smt2", href=ctx.href(f)) if f else t(q["name"])),
                     cell(q["purpose"]), cell(q["expected"]),
                     cell(t(q["answer"], cls="ok" if q["answer"] == q["expected"] else "bad")),
                     cell(f"{q['seconds']:.3f} s")])
    return Fold(f"{len(rows)} SMT-LIB2 queries", [Table(
        ["query file", "purpose", "expected", "z3 (prover)", "time"], rows)])


def _counterexample(ctx: _Ctx, p: Property) -> list[Block]:
    doc = json.loads((ctx.art_dir / p.id / "counterexample.json").read_text(encoding="utf-8"))
    png, shown = counterexample_png(doc["trace"], p, ctx.spec)
    return [Para([t(f"Counterexample: {doc['ticks']} ticks from power-on, found by "
                    f"{doc['found_by']}; the plot shows the last {shown} ticks and these "
                    "variables. Full trace: "),
                  t("CSV", href=ctx.href(f"{p.id}/counterexample.csv")), t(", "),
                  t("JSON", href=ctx.href(f"{p.id}/counterexample.json")), t(".")]),
            Image(f"cex-{p.id}", f"counterexample trace of {p.id}", png=png)]


def _lemmas(spec: SystemSpec) -> Section:
    s = Section("lemmas", "Lemmas")
    s.blocks.append(Para([t("Auxiliary invariants, each proved by induction with the lemmas "
                            "it uses, under the assumptions it names.")]))
    s.blocks.append(Table(["lemma", "meaning", "assumptions", "uses"], [
        [cell(t(x.id, code=True)), cell(x.meaning), cell(", ".join(x.assumptions) or "-"),
         cell(", ".join(x.uses) or "-")] for x in spec.lemmas]))
    s.blocks.append(Fold("lemma formulas", [Table(["lemma", "formula"], [
        [cell(x.id), cell(t(to_text(x.expr), code=True))] for x in spec.lemmas])]))
    return s


def _verdict_cell(v: Any, expected: str | None) -> Cell:
    cls = "ok" if v.answer == expected else ("warn" if not v.definite else "bad")
    extra = f" ({v.detail})" if v.detail and not v.definite else ""
    return cell(t(v.answer, cls=cls), f" {v.seconds:.2f} s{extra}")


def _recheck_section(ctx: _Ctx) -> Section:
    s = Section("recheck", "Independent re-check: z3 and cvc5 side by side")
    rc = ctx.recheck
    if rc is None:
        s.blocks.append(Para([t("Not re-checked in this report. Run 'iabp audit verify "
                                f"{ctx.link}' to re-solve every query with z3 and cvc5.",
                                cls="warn")]))
        return s
    recorded = {q["smt2_file"]: q["answer"] for r in ctx.results.values()
                for q in r["queries"] if q.get("smt2_file")}
    tally = Counter(c.agreement.value for c in rc.checks)
    same = sum(c.path in recorded and c.reproduces(recorded[c.path]) for c in rc.checks)
    s.blocks.append(Para([t(f"{len(rc.checks)} queries re-solved from their SMT-LIB2 files "
                            f"alone: {rc.z3_version} ({rc.z3_how}, {rc.total('z3'):.1f} s) and "
                            f"{rc.cvc5_version} (logic ALL, models off, "
                            f"{rc.total('cvc5'):.1f} s); {rc.timeout_s:g} s limit per query. "
                            + "; ".join(f"{n} {k}" for k, n in sorted(tally.items()))
                            + f". Both solvers reproduce the prover's recorded answer on "
                            f"{same} of {len(rc.checks)}. 'agree': both give the answer the "
                            "file's header expects; 'refuted': both say the obligation fails "
                            "(a VIOLATED property); 'disagree' or 'inconclusive': see the "
                            "rows.", cls="" if rc.ok else "warn")]))
    groups: dict[str, list[QueryCheck]] = {}
    for c in rc.checks:
        groups.setdefault(c.path.split("/")[0], []).append(c)
    for pid, checks in groups.items():
        rows = [[cell(t(c.path.split("/")[-1], href=ctx.href(c.path))),
                 cell(c.expected or "?"), cell(recorded.get(c.path, "?")),
                 _verdict_cell(c.z3, c.expected), _verdict_cell(c.cvc5, c.expected),
                 cell(t(c.agreement.value, cls="ok" if c.ok else "bad"))] for c in checks]
        bad = sum(not c.ok for c in checks)
        s.blocks.append(Fold(f"{pid}: {len(checks)} queries, " + (
            "all agree" if not bad else f"{bad} NOT agreeing"), [Table(
                ["query", "expected", "prover", "z3 (file)", "cvc5 (file)", "agreement"],
                rows)]))
    return s


def _tests_cell(tests: tuple[TestLink, ...], limit: int = 3) -> Cell:
    if not tests:
        return cell(t("GAP: no test", cls="bad"))
    names = ", ".join(x.test for x in tests[:limit])
    return cell(names + (f" (+{len(tests) - limit} more)" if len(tests) > limit else ""))


def _chain_row(c: Chain, p: PropertyRow | None) -> list[Cell]:
    req = cell(c.requirement or t("GAP: no requirement", cls="bad"))
    if c.note:
        req.append(t(f" ({c.note})"))
    if p is None:
        what = t("-") if c.note else t("GAP: no property", cls="bad")
        return [cell(c.hazard), req, cell(what), cell("-"), cell("-"), cell("-")]
    proof = badge(p.proof.status) if p.proof else t("GAP: no proof", cls="bad")
    d = p.declared_unobservable
    if p.rules:
        rule = cell(", ".join(p.rules))
    elif p.monitor_own:
        rule = cell("the monitor's own property (its supervisor step)")
    elif d is not None:
        rule = cell(f"partly: {', '.join(d.partly_checked_by) or 'none'}")
    else:
        rule = cell(t("GAP: no monitor rule", cls="bad") if p.observable else
                    t(f"not observable (reads {', '.join(p.unseen[:3])})"))
    if d is not None:
        rule.append(t(f" (monitor: not fully observable: {d.reason})"))
    return [cell(c.hazard), req, cell(p.id), cell(proof), rule, _tests_cell(p.tests)]


def _matrix_sections(m: Matrix) -> list[Section]:
    s = Section("matrix", "Traceability matrix")
    s.blocks.append(Para([t("Generated from spec/, the proof results, monitor/rules.py and a "
                            f"scan of tests/ ({m.tests_note}; {m.rules_note}). "
                            f"Test-linking convention: {m.convention}")]))
    s.blocks.append(Table(["hazard", "what goes wrong", "requirements", "proved properties"], [
        [cell(h.id), cell(h.what), cell(", ".join(h.requirements) or "GAP"),
         cell(t(f"{len(h.proved)}/{len(h.properties)}",
                cls="ok" if h.proved else "bad"), " " + ", ".join(h.proved))]
        for h in m.hazards]))
    props = {p.id: p for p in m.properties}
    rows = [_chain_row(c, props.get(c.property or "")) for c in m.chains]
    s.blocks.append(Table(["hazard", "requirement", "property", "proof", "monitor rule",
                           "tests"], rows))
    mon = Section("matrix-monitor", "Monitor requirements and rules", level=3)
    mon.blocks.append(Table(["requirement", "covered by (monitor code, rules)", "tests"], [
        [cell(r.id), cell(", ".join(r.monitor) if r.monitor else
                          t("GAP: nothing cites it", cls="bad")), _tests_cell(r.tests)]
        for r in m.requirements if r.is_monitor]))
    mon.blocks.append(Table(["monitor rule", "property", "requirements", "tests"], [
        [cell(r.rule.id), cell(r.rule.property_id or "-", f" ({r.note})" if r.note else ""),
         cell(", ".join(r.rule.requirements) or "-"), _tests_cell(r.tests)]
        for r in m.rules]) if m.rules else Para([t(m.rules_note, cls="warn")]))
    gaps = Section("gaps", f"Gaps ({len(m.gaps)})", level=3)
    gaps.blocks.append(Table(["gap", "subject", "detail"], [
        [cell(t(g.kind.value, cls="bad" if g.kind is not GapKind.NO_TEST else "warn")),
         cell(g.subject), cell(g.detail)] for g in m.gaps]))
    return [s, mon, gaps]


# -- figures ----------------------------------------------------------------------------

def spec_constants(module: ModuleType) -> list[tuple[str, int, str]]:
    """Integer constants of a spec module with their ``#:`` doc comments, in source order."""
    out: list[tuple[str, int, str]] = []
    doc: list[str] = []
    fresh = False
    for line in inspect.getsource(module).splitlines():
        s = line.strip()
        if s.startswith("#:"):
            doc = (doc if fresh else []) + [s[2:].strip()]
            fresh = True
            continue
        fresh = False
        if not s:
            doc = []
            continue
        m = re.match(r"([A-Z][A-Z0-9_]*)\s*=", line)
        if m and isinstance(getattr(module, m.group(1), None), int):
            text = " ".join(doc).replace("``", "")
            out.append((m.group(1), int(getattr(module, m.group(1))), text))
    return out


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


# -- rendering --------------------------------------------------------------------------

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;
 margin:0 auto;max-width:1320px;padding:0 24px 60px;color:#111827;background:#fff}
h1{font-size:24px;margin:24px 0 8px}h2{border-bottom:2px solid #e5e7eb;padding-bottom:4px;
 margin-top:36px}h3{margin-top:26px}nav a{margin-right:12px}
table{border-collapse:collapse;margin:8px 0 14px;font-size:13px}
th,td{border:1px solid #d1d5db;padding:3px 7px;vertical-align:top;text-align:left}
th{background:#f3f4f6}tr:nth-child(even) td{background:#fafafa}
.tw{overflow-x:auto}code{font:12px/1.35 ui-monospace,Menlo,Consolas,monospace;
 white-space:pre-wrap;word-break:break-word;background:#f6f8fa;padding:0 2px}
.ok,.bad,.warn{font-weight:600;padding:0 5px;border-radius:4px}
.ok{color:#065f46;background:#d1fae5}.bad{color:#991b1b;background:#fee2e2}
.warn{color:#92400e;background:#fef3c7}figure{margin:10px 0}figure svg,figure img{max-width:100%;
 height:auto}details{margin:6px 0}summary{cursor:pointer;font-weight:600}
pre{background:#f6f8fa;padding:8px;overflow-x:auto}
"""
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def _span_html(s: Span) -> str:
    text = f"<code>{esc(s.text)}</code>" if s.code else esc(s.text)
    if s.cls:
        text = f'<span class="{s.cls}">{text}</span>'
    return f'<a href="{esc(s.href)}">{text}</a>' if s.href else text


def _block_html(b: Block) -> str:
    if isinstance(b, Para):
        return "<p>" + "".join(_span_html(s) for s in b.spans) + "</p>"
    if isinstance(b, Table):
        head = "".join(f"<th>{esc(h)}</th>" for h in b.headers)
        body = "".join("<tr>" + "".join("<td>" + "".join(_span_html(s) for s in c) + "</td>"
                                        for c in row) + "</tr>" for row in b.rows)
        return f'<div class="tw"><table><thead><tr>{head}</tr></thead><tbody>{body}' \
               "</tbody></table></div>"
    if isinstance(b, Code):
        return f"<pre>{esc(b.text)}</pre>"
    if isinstance(b, Image):
        inner = b.svg if b.svg is not None else f'<img alt="{esc(b.alt)}" src="{data_uri(b.png)}">'
        return f"<figure>{inner}<figcaption>{esc(b.alt)}</figcaption></figure>"
    return f"<details><summary>{esc(b.summary)}</summary>" + "".join(
        _block_html(x) for x in b.blocks) + "</details>"


def render_html(title: str, sections: list[Section]) -> str:
    """One self-contained HTML page: inline CSS and figures, no external reference."""
    nav = "".join(f'<a href="#{s.anchor}">{esc(s.title)}</a>' for s in sections if s.level == 2)
    body = "".join(f'<section id="{esc(s.anchor)}"><h{s.level}>{esc(s.title)}</h{s.level}>'
                   + "".join(_block_html(b) for b in s.blocks) + "</section>"
                   for s in sections)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)}</title><style>{CSS}</style></head><body><header>"
            f"<h1>{esc(title)}</h1><nav>{nav}</nav></header><main>{body}</main></body></html>\n")


def _md_text(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def _span_md(s: Span) -> str:
    if s.code:
        fence = "``" if "`" in s.text else "`"
        text = f"{fence}{_md_text(s.text)}{fence}"
    else:
        text = _md_text(s.text)
    if s.cls and not s.code:
        text = f"**{text.strip()}**" + (" " if s.text.endswith(" ") else "")
    return f"[{text}]({s.href})" if s.href else text


def _block_md(b: Block) -> list[str]:
    if isinstance(b, Para):
        return ["".join(_span_md(s) for s in b.spans), ""]
    if isinstance(b, Table):
        rows = ["| " + " | ".join(_md_text(h) for h in b.headers) + " |",
                "|" + "---|" * len(b.headers)]
        rows += ["| " + " | ".join("".join(_span_md(s) for s in c) for c in r) + " |"
                 for r in b.rows]
        return [*rows, ""]
    if isinstance(b, Code):
        return ["```text", b.text, "```", ""]
    if isinstance(b, Image):
        return [f"![{b.alt}](img/{b.name}.{'svg' if b.svg is not None else 'png'})", ""]
    return [f"**{_md_text(b.summary)}**", "", *(x for y in b.blocks for x in _block_md(y))]


def render_markdown(title: str, sections: list[Section]) -> str:
    """The same content as Markdown (figures as files under ``img/``)."""
    out = [f"# {title}", ""]
    out += [f"- [{s.title}](#{s.anchor})" for s in sections if s.level == 2] + [""]
    for s in sections:
        out += [f'<a id="{s.anchor}"></a>', "", f"{'#' * s.level} {s.title}", ""]
        for b in s.blocks:
            out += _block_md(b)
    return "\n".join(out)


def data_uri(png: bytes | None) -> str:
    """A ``data:`` URI for PNG bytes (no file, no fetch)."""
    return "data:image/png;base64," + base64.b64encode(png or b"").decode("ascii")


def esc(s: str) -> str:
    """HTML-escape text (quotes included)."""
    return html.escape(s, quote=True)
