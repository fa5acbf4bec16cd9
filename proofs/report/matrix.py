"""The evidence report's traceability-matrix sections (from :mod:`iabp.proofs.traceability.matrix`).

Every ID in them is a link: a hazard or requirement to its full text
(:mod:`iabp.proofs.report.requirements_section`), a property to its section (proof,
SMT-LIB2 query files, tests), a monitor rule to its row, and each tests cell to the list
of those tests with their outcomes (:mod:`iabp.proofs.report.outcomes`).
"""

from __future__ import annotations

import dataclasses

from iabp.proofs.report.model import (
    Block,
    Cell,
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
from iabp.proofs.report.outcomes import TestEvidence
from iabp.proofs.report.requirements_section import monitor_cell
from iabp.proofs.traceability.matrix import Chain, GapKind, Matrix, PropertyRow, RuleRow


def _rule_cell(p: PropertyRow) -> Cell:
    d = p.declared_unobservable
    if p.rules:
        rule = refs(p.rules)
    elif p.monitor_own:
        rule = cell("the monitor's own property (its supervisor step)")
    elif d is not None:
        rule = cell(f"partly: {', '.join(d.partly_checked_by) or 'none'}")
    else:
        rule = cell(t("GAP: no monitor rule", cls="bad") if p.observable else
                    t(f"not observable (reads {', '.join(p.unseen[:3])})"))
    if d is not None:
        rule.append(t(f" (monitor: not fully observable: {d.reason})"))
    return rule


def _chain_row(c: Chain, p: PropertyRow | None, ev: TestEvidence) -> list[Cell]:
    req = refs(c.requirement.split(", ")) if c.requirement else cell(
        t("GAP: no requirement", cls="bad"))
    if c.note:
        req.append(t(f" ({c.note})"))
    if p is None:
        what = t("-") if c.note else t("GAP: no property", cls="bad")
        return [[ref(c.hazard)], req, cell(what), cell("-"), cell("-"), cell("-")]
    proof = (dataclasses.replace(badge(p.proof.status), href=f"#{anchor_of(p.id)}")
             if p.proof else t("GAP: no proof", cls="bad"))
    return [[ref(c.hazard)], req, [ref(p.id)], cell(proof), _rule_cell(p),
            ev.summary_cell(p.tests, p.id)]


def _monitor_section(m: Matrix, ev: TestEvidence) -> Section:
    mon = Section("matrix-monitor", "Monitor requirements and rules", level=3)
    mon.blocks.append(Table(["requirement", "covered by (monitor code, rules)", "tests"], [
        [[ref(r.id)], monitor_cell(r.monitor) if r.monitor else cell(
            t("GAP: nothing cites it", cls="bad")), ev.summary_cell(r.tests, r.id)]
        for r in m.requirements if r.is_monitor]))
    if not m.rules:
        mon.blocks.append(Para([t(m.rules_note, cls="warn")]))
        return mon
    known = {p.id for p in m.properties}
    mon.blocks.append(Table(["monitor rule", "property", "requirements", "tests"], [
        [cell(t(r.rule.id, anchor=anchor_of(r.rule.id))), _rule_property(r, known),
         refs(r.rule.requirements), ev.summary_cell(r.tests, r.rule.id)] for r in m.rules]))
    folds: list[Block] = [f for r in m.rules for f in ev.tests_fold(r.tests, r.rule.id)]
    mon.blocks.extend(folds)
    return mon


def _rule_property(r: RuleRow, known: set[str]) -> Cell:
    pid = r.rule.property_id
    out = cell("-") if pid is None else [ref(pid)] if pid in known else cell(pid)
    return out + [t(f" ({r.note})")] if r.note else out


def matrix_sections(m: Matrix, ev: TestEvidence) -> list[Section]:
    """The traceability matrix, the monitor coverage and the list of gaps."""
    s = Section("matrix", "Traceability matrix")
    s.blocks.append(Para([t("Generated from spec/, the proof results, monitor/rules/ and a "
                            f"scan of tests/ ({m.tests_note}; {m.rules_note}). Every ID links "
                            "to its full text or section; a tests cell links to the list of "
                            f"those tests and their outcomes. Test-linking convention: "
                            f"{m.convention}")]))
    s.blocks.append(Table(["hazard", "what goes wrong", "requirements", "proved properties"], [
        [[ref(h.id)], cell(h.what), refs(h.requirements, "GAP"),
         cell(t(f"{len(h.proved)}/{len(h.properties)}",
                cls="ok" if h.proved else "bad"), " ") + refs(h.proved, "")]
        for h in m.hazards]))
    props = {p.id: p for p in m.properties}
    rows = [_chain_row(c, props.get(c.property or ""), ev) for c in m.chains]
    s.blocks.append(Table(["hazard", "requirement", "property", "proof", "monitor rule",
                           "tests"], rows))
    gaps = Section("gaps", f"Gaps ({len(m.gaps)})", level=3)
    gaps.blocks.append(Table(["gap", "subject", "detail"], [
        [cell(t(g.kind.value, cls="bad" if g.kind is not GapKind.NO_TEST else "warn")),
         [ref(g.subject)], cell(g.detail)] for g in m.gaps]))
    return [s, _monitor_section(m, ev), gaps]
