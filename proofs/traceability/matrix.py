"""The traceability matrix: hazard -> requirement -> property -> proof -> monitor rule -> tests.

Nothing here is written by hand. The matrix is generated from ``spec/`` (HAZARDS,
REQUIREMENTS, the spec's properties and broken variants), from the proof results, from
``iabp.monitor.rules.ruleset.RULES`` (when that module exists) and from a scan of ``tests/``. Every
missing link is listed as a :class:`Gap`, never silently left blank.

**How a test is linked to an ID** (the convention the scan follows; use it in new
tests). A test function (``test_*``, also as a method of a ``Test*`` class) exercises
every hazard, requirement, property, variant or monitor-rule ID that appears in

1. a marker on it or on its module (``pytestmark``), e.g.
   ``@pytest.mark.property("P-FAULT-HALT")``; any string argument of any marker counts,
   so ``@pytest.mark.parametrize("vid", ["V-KINK-DOES-NOT-HALT"])`` links too;
2. its name, with ``-`` written ``_`` (``test_p_fault_halt_on_kink``);
3. its docstring, its class's docstring, or its module's docstring (the last two link
   every test of the class or module);
4. its parameter id, when pytest collects it (``test_x[V-KINK-DOES-NOT-HALT]``; only
   with ``collect=True``, which runs ``pytest --collect-only``).

IDs that only appear in a test's body (as data) do not link it: a test of the audit log
that writes the string ``"REQ-INFL-DIASTOLE"`` does not exercise that requirement. A
test that names a broken variant (``V-*``) exercises the property the variant breaks.

**Which properties the monitor can observe**: a property is observable when every
variable it reads is published on the console link (PROTOCOL.md sections 6-7) or can
be rebuilt by the monitor from the raw signals and records (REQ-MON-INDEPENDENT); see
:data:`VISIBILITY`. A property that reads console-internal inputs (recorded
contraindications, fault sensors, requested settings) is not observable, so a missing
monitor rule for it is not a gap.

This module builds the matrix (:func:`build_matrix`); the parts live in

- :mod:`iabp.proofs.traceability.model`: the data model (rows, chains, gaps, proof summaries);
- :mod:`iabp.proofs.traceability.tested_by`: the scan of ``tests/`` and pytest's collected ids;
- :mod:`iabp.proofs.traceability.monitor`: the monitor's rules, citations and visibility.

Every public name of those modules that used to live here is re-exported.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from iabp.proofs.traceability.model import (
    MONITOR_REQ_PREFIX,
    TEST_CONVENTION,
    Chain,
    Gap,
    GapKind,
    HazardRow,
    Matrix,
    ProofSummary,
    PropertyRow,
    RequirementRow,
    RuleRef,
    RuleRow,
    TestLink,
    Unobservable,
    summaries,
    summaries_from_json,
)
from iabp.proofs.traceability.monitor import (
    VISIBILITY,
    describe_rule,
    load_rules,
    load_unobservable,
    monitor_sources_citing,
    unseen_vars,
    visibility,
)
from iabp.proofs.traceability.tested_by import collect_node_ids, scan_test_file, scan_tests
from iabp.spec.requirements import HAZARDS, REQUIREMENTS
from iabp.spec.system import Property, SystemSpec
from iabp.spec.variants import variants

__all__ = [
    "MONITOR_REQ_PREFIX", "ROOT", "TEST_CONVENTION", "VISIBILITY", "Chain", "Gap", "GapKind",
    "HazardRow", "Matrix", "ProofSummary", "PropertyRow", "RequirementRow", "RuleRef",
    "RuleRow", "TestLink", "Unobservable", "build_matrix", "collect_node_ids",
    "describe_rule", "load_rules", "load_unobservable", "monitor_sources_citing",
    "scan_test_file", "scan_tests", "summaries", "summaries_from_json", "unseen_vars",
    "visibility",
]

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class _Inputs:
    spec: SystemSpec
    proofs: Mapping[str, ProofSummary]
    tests: Mapping[str, list[TestLink]]
    rules: list[RuleRef]
    monitor_cites: Mapping[str, list[str]]
    declared: Mapping[str, Unobservable] = field(default_factory=dict)
    gaps: list[Gap] = field(default_factory=list)


def build_matrix(spec: SystemSpec, proofs: Mapping[str, ProofSummary] | None = None, *,
                 tests_dir: Path | None = None, rules: list[RuleRef] | None = None,
                 rules_note: str | None = None, monitor_dir: Path | None = None,
                 unobservable: Mapping[str, Unobservable] | None = None,
                 collect: bool = False) -> Matrix:
    """Generate the matrix for ``spec`` from its proof summaries, the rules and ``tests/``.

    ``collect`` also asks pytest for the collected node ids (slower: a subprocess), so
    parametrized tests link through their parameter ids.
    """
    tests_dir = ROOT / "tests" if tests_dir is None else tests_dir
    monitor_dir = ROOT / "monitor" if monitor_dir is None else monitor_dir
    if rules is None:
        rules, note = load_rules()
        rules_note = rules_note or note
        unobservable = load_unobservable() if unobservable is None else unobservable
    known = ({h.id for h in HAZARDS} | {r.id for r in REQUIREMENTS}
             | {p.id for p in spec.properties} | {r.id for r in rules})
    breaks = {v.id: v.breaks for v in variants()}
    if tests_dir.is_dir():
        node_ids = collect_node_ids(tests_dir) if collect else None
        tests = scan_tests(tests_dir, known, breaks, node_ids)
        tests_note = f"tests scanned under {tests_dir.name}/" + (
            f", {len(node_ids)} collected node ids" if node_ids is not None else "")
    else:
        tests, tests_note = {}, f"{tests_dir} not found: no test links"
    mon_ids = [r.id for r in REQUIREMENTS if r.id.startswith(MONITOR_REQ_PREFIX)]
    cites = monitor_sources_citing(monitor_dir, mon_ids) if monitor_dir.is_dir() else {}
    inp = _Inputs(spec, proofs or {}, tests, rules, cites, unobservable or {})
    props = tuple(_property_row(inp, p) for p in spec.properties)
    reqs = tuple(_requirement_row(inp, props, r.id) for r in REQUIREMENTS)
    hazards = tuple(_hazard_row(inp, reqs, props, h.id, h.what) for h in HAZARDS)
    rule_rows = tuple(_rule_row(inp, r) for r in rules)
    return Matrix(hazards, reqs, props, rule_rows, _chains(hazards, reqs, props),
                  tuple(inp.gaps), rules_note or f"{len(rules)} rules given", tests_note)


def _dedupe(links: Iterable[TestLink]) -> tuple[TestLink, ...]:
    out: dict[str, TestLink] = {}
    for t in links:
        out.setdefault(t.test, t)
    return tuple(out.values())


def _property_row(inp: _Inputs, p: Property) -> PropertyRow:
    proof = inp.proofs.get(p.id)
    unseen = unseen_vars(p)
    rules = tuple(r.id for r in inp.rules if r.property_id == p.id)
    tests = _dedupe(inp.tests.get(p.id, []))
    if proof is None:
        inp.gaps.append(Gap(GapKind.NOT_PROVED, p.id, "no proof result"))
    elif proof.status != "PROVED":
        inp.gaps.append(Gap(GapKind.NOT_PROVED, p.id, f"{proof.status}: {proof.reason}"))
    own = all(r.startswith(MONITOR_REQ_PREFIX) for r in p.requirements)
    declared = inp.declared.get(p.id)
    if not unseen and not rules and not own and declared is None:
        inp.gaps.append(Gap(GapKind.NO_MONITOR_RULE, p.id,
                            "observable on the console link, but no monitor rule checks it"))
    if not tests:
        inp.gaps.append(Gap(GapKind.NO_TEST, p.id, "no test names this property"))
    return PropertyRow(p.id, p.title, p.requirements, p.hazards, proof, not unseen, unseen,
                       rules, tests, declared)


def _requirement_row(inp: _Inputs, props: tuple[PropertyRow, ...], rid: str) -> RequirementRow:
    req = next(r for r in REQUIREMENTS if r.id == rid)
    pids = tuple(p.id for p in props if rid in p.requirements)
    tests = _dedupe([*inp.tests.get(rid, []), *(t for p in props if p.id in pids
                                                 for t in p.tests)])
    monitor = tuple(inp.monitor_cites.get(rid, [])) + tuple(
        f"rule {r.id}" for r in inp.rules if rid in r.requirements)
    if rid.startswith(MONITOR_REQ_PREFIX):
        if not monitor:
            inp.gaps.append(Gap(GapKind.MONITOR_UNCOVERED, rid,
                                "no monitor module or rule cites this requirement"))
    elif not pids:
        inp.gaps.append(Gap(GapKind.NO_PROPERTY, rid, "no property states this requirement"))
    if not tests:
        inp.gaps.append(Gap(GapKind.NO_TEST, rid, "no test names this requirement or its "
                            "properties"))
    return RequirementRow(rid, req.text, req.hazards, pids, monitor, tests)


def _hazard_row(inp: _Inputs, reqs: tuple[RequirementRow, ...], props: tuple[PropertyRow, ...],
                hid: str, what: str) -> HazardRow:
    rids = tuple(r.id for r in reqs if hid in r.hazards)
    pids = tuple(p.id for p in props
                 if hid in p.hazards or any(r in rids for r in p.requirements))
    proved = tuple(p.id for p in props if p.id in pids and p.proved)
    if not rids:
        inp.gaps.append(Gap(GapKind.NO_REQUIREMENT, hid, "no requirement answers this hazard"))
    if not proved:
        inp.gaps.append(Gap(GapKind.NO_PROVED_PROPERTY, hid,
                            "no proved property covers this hazard" + (
                                f" (properties: {', '.join(pids)})" if pids else
                                " (only monitor requirements answer it)")))
    return HazardRow(hid, what, rids, pids, proved)


def _rule_row(inp: _Inputs, rule: RuleRef) -> RuleRow:
    tests = _dedupe(inp.tests.get(rule.id, []))
    if not tests and rule.property_id is not None:
        tests = _dedupe(t for t in inp.tests.get(rule.property_id, [])
                        if t.test.startswith("tests/monitor/"))
    if not tests:
        inp.gaps.append(Gap(GapKind.RULE_UNTESTED, rule.id, "no test names this rule (or its "
                            "property, under tests/monitor/)"))
    note = ""
    pid = rule.property_id
    if pid is not None and pid not in {p.id for p in inp.spec.properties}:
        if pid.startswith("P-"):
            inp.gaps.append(Gap(GapKind.RULE_UNKNOWN_PROPERTY, rule.id,
                                f"property {pid} is not in the spec"))
        else:
            note = f"checks {pid} (spec structure, not a property)"
    return RuleRow(rule, tests, note)


def _chains(hazards: tuple[HazardRow, ...], reqs: tuple[RequirementRow, ...],
            props: tuple[PropertyRow, ...]) -> tuple[Chain, ...]:
    out: list[Chain] = []
    for h in hazards:
        if not h.requirements:
            out.append(Chain(h.id, None, None))
        for rid in h.requirements:
            req = next(r for r in reqs if r.id == rid)
            note = "monitor requirement: see monitor coverage" if req.is_monitor else ""
            out += [Chain(h.id, rid, pid) for pid in req.properties] or [
                Chain(h.id, rid, None, note)]
        listed = {c.property for c in out if c.hazard == h.id}
        out += [Chain(h.id, ", ".join(p.requirements), p.id,
                      f"the property names {h.id}; its requirement does not")
                for p in props if h.id in p.hazards and p.id not in listed]
    return tuple(out)
