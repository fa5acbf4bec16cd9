"""The evidence report's sections, built from the spec and an artifact directory.

One function per part of the page: overview, modes, parameters, assumptions, the
properties with their proofs and counterexamples, lemmas and the z3/cvc5 re-check. The
traceability matrix sections are in :mod:`iabp.proofs.report.matrix`; the page is put
together by :func:`iabp.proofs.report.build.build_report`.
"""

from __future__ import annotations

import inspect
import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from iabp.proofs.recheck import CVC5_LOGIC, QueryCheck, RecheckReport
from iabp.proofs.report.figures import counterexample_png, mode_diagram_svg
from iabp.proofs.report.model import (
    STATUS_CLASS,
    Block,
    Cell,
    Fold,
    Image,
    Para,
    Section,
    Table,
    anchor_of,
    badge,
    cell,
    ref,
    refs,
    t,
)
from iabp.proofs.report.outcomes import TestEvidence, overview_para
from iabp.proofs.traceability.matrix import Matrix
from iabp.spec import assumptions as assumptions_module
from iabp.spec import timing as timing_module
from iabp.spec.assumptions import ASSUMPTIONS
from iabp.spec.requirements import HAZARD_BY_ID, REQUIREMENT_BY_ID
from iabp.spec.settings import SETTINGS, validator_clauses_for
from iabp.spec.system import Property, SystemSpec
from iabp.spec.timing import band_table
from iabp.spec.walker import to_text


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


@dataclass
class ReportContext:
    """What the section builders share: artifacts, spec, link to them, results, re-check,
    the traceability matrix and how tests are shown (links, outcomes)."""

    art_dir: Path
    spec: SystemSpec
    link: str
    results: dict[str, dict[str, Any]]
    recheck: RecheckReport | None
    matrix: Matrix
    tests: TestEvidence

    def href(self, rel: str) -> str:
        """A link to ``rel`` inside the artifact directory, relative to the report."""
        return f"{self.link}/{rel}" if self.link != "." else rel


def overview_section(ctx: ReportContext, results: dict[str, Any],
                     variant: str | None) -> Section:
    """The overview: counts, re-check, gap and test summary, run metadata, property table."""
    matrix = ctx.matrix
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
    s.blocks.append(overview_para(matrix, ctx.tests))
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
    known = {p.id: p for p in matrix.properties}
    rows = [[[ref(pid)] if pid in known else cell(pid), cell(badge(r["status"])),
             cell(r["method"]), cell(f"{r['seconds']:.2f} s"), refs(r["requirements"]),
             refs(r["hazards"]),
             ctx.tests.summary_cell(known[pid].tests, pid) if pid in known else cell("-")]
            for pid, r in ctx.results.items()]
    s.blocks.append(Table(["property", "status", "method", "time", "requirements",
                           "hazards", "tests"], rows))
    return s


def modes_section(spec: SystemSpec, diagram: str) -> Section:
    """The mode diagram and the mode table."""
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


def parameters_section() -> Section:
    """Settings, validator clauses, spec constants and the Weissler band table."""
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


def assumptions_section(spec: SystemSpec) -> Section:
    """The assumptions and which properties use each."""
    s = Section("assumptions", "Assumptions")
    s.blocks.append(Para([t("Every proof rests on these. Each property's proof uses exactly "
                            "the ones listed for it (its own and its lemmas').")]))
    users = {a.id: [p.id for p in spec.properties if a.id in spec.assumptions_of(p)]
             for a in ASSUMPTIONS}
    s.blocks.append(Table(["assumption", "what is assumed", "source", "used by"], [
        [cell(t(a.id, code=True)), cell(a.text), cell(a.source),
         cell(", ".join(users[a.id]) or "-")] for a in ASSUMPTIONS]))
    return s


def property_sections(ctx: ReportContext) -> list[Section]:
    """The properties heading and one section per property."""
    head = Section("properties", "Properties")
    head.blocks.append(Para([t("Each property in plain words, its formula (premise => "
                               "conclusion; x' is the value after the tick), and the proof "
                               "behind it. SMT-LIB2 links open the exact queries; "
                               "'z3 FILE' or 'iabp audit verify' re-checks them.")]))
    return [head, *(_property(ctx, p) for p in ctx.spec.properties)]


def abbreviate(text: str, chars: int = 60) -> str:
    """``text`` cut to about ``chars`` characters at a word boundary (``…`` marks the cut)."""
    if len(text) <= chars:
        return text
    return text[:chars].rsplit(" ", 1)[0] + " …"


def _linked(ids: tuple[str, ...], what: dict[str, str]) -> Cell:
    """IDs linked to their full text, each followed by ``what`` it says (in brackets)."""
    out: Cell = []
    for i, x in enumerate(ids):
        out += [t(", ")] if i else []
        out += [ref(x), t(f" ({what[x]})")] if x in what else [ref(x)]
    return out


def _property(ctx: ReportContext, p: Property) -> Section:
    r = ctx.results.get(p.id)
    row = next((x for x in ctx.matrix.properties if x.id == p.id), None)
    s = Section(anchor_of(p.id), f"{p.id}: {p.title}", level=3)
    s.blocks.append(Para([badge(r["status"] if r else "NOT RUN"), t(" " + p.plain)]))
    facts: list[tuple[str, Cell]] = [
        ("kind", cell(p.kind.value)),
        ("premise", cell(t(to_text(p.premise), code=True))),
        ("conclusion", cell(t(to_text(p.conclusion), code=True))),
        ("requirements", _linked(p.requirements, {
            x: abbreviate(q.text) for x, q in REQUIREMENT_BY_ID.items()})),
        ("hazards", _linked(p.hazards, {x: h.what for x, h in HAZARD_BY_ID.items()})),
        ("assumptions", cell(", ".join(ctx.spec.assumptions_of(p)) or "none")),
        ("lemmas", cell(", ".join(x.id for x in ctx.spec.lemma_closure(p.lemmas)) or "none"))]
    if r:
        facts += [("method", cell(f"{r['method']} (k = {r['k']})")),
                  ("time", cell(f"{r['seconds']:.3f} s")), ("verdict", cell(r["reason"]))]
    if row is not None:
        facts += [("monitor rules", refs(row.rules, "none")),
                  ("tests", ctx.tests.summary_cell(row.tests, p.id))]
    s.blocks.append(Table(["fact", "value"], [[cell(k), v] for k, v in facts]))
    if r:
        s.blocks.append(_query_table(ctx, r))
        if r.get("counterexample_ticks"):
            s.blocks.extend(_counterexample(ctx, p))
    if row is not None:
        s.blocks.extend(ctx.tests.tests_fold(row.tests, p.id))
    return s


def _query_table(ctx: ReportContext, r: dict[str, Any]) -> Fold:
    rows = []
    for q in r["queries"]:
        f = q.get("smt2_file")
        rows.append([cell(t(f"{q['name']}.smt2", href=ctx.href(f)) if f else t(q["name"])),
                     cell(q["purpose"]), cell(q["expected"]),
                     cell(t(q["answer"], cls="ok" if q["answer"] == q["expected"] else "bad")),
                     cell(f"{q['seconds']:.3f} s")])
    return Fold(f"{len(rows)} SMT-LIB2 queries", [Table(
        ["query file", "purpose", "expected", "z3 (prover)", "time"], rows)])


def _counterexample(ctx: ReportContext, p: Property) -> list[Block]:
    doc = json.loads((ctx.art_dir / p.id / "counterexample.json").read_text(encoding="utf-8"))
    png, shown = counterexample_png(doc["trace"], p, ctx.spec)
    return [Para([t(f"Counterexample: {doc['ticks']} ticks from power-on, found by "
                    f"{doc['found_by']}; the plot shows the last {shown} ticks and these "
                    "variables. Full trace: "),
                  t("CSV", href=ctx.href(f"{p.id}/counterexample.csv")), t(", "),
                  t("JSON", href=ctx.href(f"{p.id}/counterexample.json")), t(".")]),
            Image(f"cex-{p.id}", f"counterexample trace of {p.id}", png=png)]


def lemmas_section(spec: SystemSpec) -> Section:
    """The lemmas and their formulas."""
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


def recheck_section(ctx: ReportContext) -> Section:
    """The z3 and cvc5 re-check of every SMT-LIB2 query, side by side."""
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
                            f"{rc.cvc5_version} (logic {CVC5_LOGIC}, models off, "
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
