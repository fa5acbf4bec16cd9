"""The report's "Monitor theorem" section, from ``results.json``'s ``monitor_rules``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from iabp.proofs.report.model import Para, Section, Table, anchor_of, badge, cell, t
from iabp.spec.monitor_rules import OBSERVATIONS, RULE_CHECKS


def monitor_theorem_section(results: dict[str, Any],
                            link: Callable[[str], str]) -> Section:
    """Per runtime rule: its property, the verdict of both halves, what it may miss, and
    the observations the theorem assumes. ``link`` maps an artifact path to an href."""
    s = Section("monitor-theorem", "Monitor theorem: no false stop, no miss")
    rules = results.get("monitor_rules") or []
    if not rules:
        s.blocks.append(Para([t("Not in these artifacts: "), t("iabp prove", code=True),
                              t(" proves it on a full run of the stated spec.")]))
        return s
    s.blocks.append(Para([t(
        "For each runtime rule the monitor compiles from its declaration in "),
        t("spec/monitor_rules.py", code=True), t(
        ", two obligations. No false alarm: in every step of the verified controller "
        "between states satisfying every proved lemma and property (so every reachable "
        "step), with the monitor seeing the pump as the observations below say, the rule's "
        "check holds. No miss: in any console state (no controller, no lemmas) that violates "
        "the rule's property visibly, the check fails. Three satisfiability checks keep the "
        "halves from holding vacuously: the hypotheses with the observations are "
        "consistent, the controller reaches the property's premise under them, and a "
        "visible violation exists. What the theorem does not cover, measured "
        "instead: the reaction tolerances in frames, the warm-up, and how often the "
        "monitor's own detectors disagree with the console's (the monitor records "
        "benchmark).")]))
    by_id = {c.rule_id: c for c in RULE_CHECKS}
    rows = []
    for r in rules:
        rid = str(r["property_id"])
        check = by_id.get(rid)
        answers = [cell(t(f"{q['name'].rsplit('.', 1)[-1]}: {q['answer']}",
                          href=link(q["smt2_file"]) if q.get("smt2_file") else None))
                   for q in r.get("queries", [])]
        rows.append([cell(t(rid, code=True)),
                     cell(t(check.property_id if check else "?",
                            href=f"#{anchor_of(check.property_id)}"
                            if check and check.property_id != "MODE_TABLE" else None)),
                     [badge(str(r["status"]))],
                     [span for a in answers for span in (*a, t(" "))],
                     cell(check.miss if check else "?"),
                     cell(check.adaptation if check else "?")])
    s.blocks.append(Table(["rule", "property", "status", "queries", "may miss",
                           "adapted to telemetry"], rows))
    s.blocks.append(Table(["observation", "what the monitor is assumed to see"],
                          [[cell(t(o.id, code=True)), cell(o.text)] for o in OBSERVATIONS]))
    return s
