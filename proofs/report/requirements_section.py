"""The report's "Hazards and requirements" section: every hazard and requirement in full.

The matrix and the property sections abbreviate a requirement to its ID; each such ID
links here (``#req-infl-diastole``), where the requirement's whole text stands with its
hazards, the properties that state it (with their proof status), the monitor code
citing it, and its tests with their outcomes.
"""

from __future__ import annotations

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
from iabp.proofs.traceability.model import Matrix, RequirementRow
from iabp.spec.requirements import HAZARD_BY_ID


def requirements_sections(m: Matrix, ev: TestEvidence) -> list[Section]:
    """The hazards table, then one section per requirement with its full text."""
    s = Section("requirements", "Hazards and requirements")
    s.blocks.append(Para([t("Every hazard (spec/requirements.py, from shared/domain/hazards.md) "
                            "and every requirement in full. An ID anywhere in the report "
                            "links here.")]))
    s.blocks.append(Table(["hazard", "what goes wrong", "harm", "requirements",
                           "proved properties"], [
        [cell(t(h.id, anchor=anchor_of(h.id))), cell(h.what),
         cell(HAZARD_BY_ID[h.id].harm if h.id in HAZARD_BY_ID else "-"),
         refs(h.requirements, "GAP: no requirement"), refs(h.proved, "none")]
        for h in m.hazards]))
    return [s, *(_requirement(m, ev, r) for r in m.requirements)]


def monitor_cell(monitor: tuple[str, ...]) -> Cell:
    """The monitor modules and rules citing a requirement, each rule linked to its row."""
    if not monitor:
        return cell("-")
    out: Cell = []
    for i, x in enumerate(monitor):
        out += [t(", ")] if i else []
        rule = x.removeprefix("rule ")
        out += [t("rule "), ref(rule)] if rule != x else [t(x)]
    return out


def _requirement(m: Matrix, ev: TestEvidence, r: RequirementRow) -> Section:
    s = Section(anchor_of(r.id), r.id, level=3)
    props: Cell = []
    for i, pid in enumerate(r.properties):
        p = m.property_row(pid)
        props += [t(", ")] if i else []
        props += [ref(pid), t(" "), badge(p.proof.status) if p.proof else t("not proved")]
    facts: list[list[Cell]] = [
        [cell("hazards"), refs(r.hazards)],
        [cell("properties"), props or cell("none" if r.is_monitor else
                                           t("GAP: no property", cls="bad"))],
        [cell("monitor code and rules"), monitor_cell(r.monitor)],
        [cell("tests"), ev.summary_cell(r.tests, r.id)]]
    blocks: list[Block] = [Para([t(r.text)]), Table(["fact", "value"], facts),
                           *ev.tests_fold(r.tests, r.id)]
    s.blocks.extend(blocks)
    return s
