"""The evidence report's traceability-matrix sections (from :mod:`iabp.proofs.traceability.matrix`)."""

from __future__ import annotations

from iabp.proofs.report.model import Cell, Para, Section, Table, badge, cell, t
from iabp.proofs.traceability.matrix import Chain, GapKind, Matrix, PropertyRow, TestLink


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


def matrix_sections(m: Matrix) -> list[Section]:
    """The traceability matrix, the monitor coverage and the list of gaps."""
    s = Section("matrix", "Traceability matrix")
    s.blocks.append(Para([t("Generated from spec/, the proof results, monitor/rules/ and a "
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
