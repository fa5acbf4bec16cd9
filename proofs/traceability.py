"""The traceability matrix: hazard -> requirement -> property -> proof -> monitor rule -> tests.

Nothing here is written by hand. The matrix is generated from ``spec/`` (HAZARDS,
REQUIREMENTS, the spec's properties and broken variants), from the proof results, from
``monitor.rules.RULES`` (when that module exists) and from a scan of ``tests/``. Every
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
"""

from __future__ import annotations

import ast
import importlib
import re
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from proofs.results import PropertyResult
from spec.expr import free_vars
from spec.requirements import HAZARDS, REQUIREMENTS
from spec.system import Property, SystemSpec
from spec.variants import variants

ROOT = Path(__file__).resolve().parents[1]
MONITOR_REQ_PREFIX = "REQ-MON-"

#: How the monitor sees a spec variable: (exact name or ``prefix*``, where it comes from).
VISIBILITY: tuple[tuple[str, str], ...] = (
    ("mode", "TELEMETRY mode"),
    ("inflate_cmd", "TELEMETRY flags.inflate, balloon_pressure"),
    ("alm_*", "TELEMETRY alarm_mask"),
    ("set_request", "EVENT SETTINGS_ACCEPTED / SETTINGS_REJECTED"),
    ("set_*", "SETTINGS record"),
    ("op", "EVENT OPERATOR_KEY"),
    ("heart_*", "the monitor's own R-wave and pressure detection (REQ-MON-INDEPENDENT)"),
    ("r_wave_seen", "the monitor's own R-wave detection"),
    ("upstroke_seen", "the monitor's own upstroke detection"),
    ("activity", "the monitor's own R-wave / pulsatility detection"),
    ("gas_filled", "TELEMETRY balloon_pressure"),
    ("gas_timer_ms", "TELEMETRY balloon_pressure (time since the command changed)"),
    ("obs_*", "the monitor's own counters over the telemetry"),
)

TEST_CONVENTION = (
    "A test exercises an ID (hazard, requirement, property, variant, monitor rule) named in "
    "a marker (e.g. @pytest.mark.property(\"P-FAULT-HALT\"), or any string argument of a "
    "marker), in its name with '-' as '_' (test_p_fault_halt_on_kink), in its own, its "
    "class's or its module's docstring, or in its collected parameter id "
    "(test_x[V-KINK-DOES-NOT-HALT]). A test naming a broken variant V-* exercises the "
    "property that variant breaks. IDs used only as data in a test body do not count.")


class GapKind(Enum):
    """A missing link in the chain hazard -> requirement -> property -> proof -> rule -> test."""

    NO_REQUIREMENT = "hazard answered by no requirement"
    NO_PROVED_PROPERTY = "hazard without a proved property"
    NO_PROPERTY = "requirement without a property"
    NOT_PROVED = "property not proved"
    NO_MONITOR_RULE = "observable property without a monitor rule"
    NO_TEST = "no test exercises it"
    MONITOR_UNCOVERED = "monitor requirement with no monitor code or rule citing it"
    RULE_UNTESTED = "monitor rule without a test"
    RULE_UNKNOWN_PROPERTY = "monitor rule names an unknown property"


@dataclass(frozen=True)
class Gap:
    """One missing link: its kind, the ID it concerns, and a sentence saying what is missing."""

    kind: GapKind
    subject: str
    detail: str


@dataclass(frozen=True)
class TestLink:
    """A test that exercises an ID: its node id (``path::[Class::]name``) and how it says so."""

    test: str
    via: str


@dataclass(frozen=True)
class RuleRef:
    """A monitor rule from ``monitor.rules.RULES``: its ID and the property it checks."""

    id: str
    property_id: str | None
    requirements: tuple[str, ...] = ()


@dataclass(frozen=True)
class Unobservable:
    """A property the monitor declares it cannot (fully) check, why, and what checks part."""

    property_id: str
    reason: str
    partly_checked_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProofSummary:
    """The prover's verdict on one property, as the matrix shows it."""

    status: str
    method: str
    seconds: float
    reason: str = ""


@dataclass(frozen=True)
class PropertyRow:
    """One property with its proof, its observability, its monitor rules and its tests."""

    id: str
    title: str
    requirements: tuple[str, ...]
    hazards: tuple[str, ...]
    proof: ProofSummary | None
    observable: bool
    unseen: tuple[str, ...]
    rules: tuple[str, ...]
    tests: tuple[TestLink, ...]
    declared_unobservable: Unobservable | None = None

    @property
    def monitor_own(self) -> bool:
        """A property of the monitor itself (all its requirements are REQ-MON-*)."""
        return all(r.startswith(MONITOR_REQ_PREFIX) for r in self.requirements)

    @property
    def proved(self) -> bool:
        """The prover's verdict is PROVED."""
        return self.proof is not None and self.proof.status == "PROVED"


@dataclass(frozen=True)
class RequirementRow:
    """One requirement: its hazards, properties, monitor coverage and tests."""

    id: str
    text: str
    hazards: tuple[str, ...]
    properties: tuple[str, ...]
    monitor: tuple[str, ...]
    tests: tuple[TestLink, ...]

    @property
    def is_monitor(self) -> bool:
        """A requirement on the monitor (REQ-MON-*), not on the console."""
        return self.id.startswith(MONITOR_REQ_PREFIX)


@dataclass(frozen=True)
class HazardRow:
    """One hazard: the requirements answering it and the properties proved for it."""

    id: str
    what: str
    requirements: tuple[str, ...]
    properties: tuple[str, ...]
    proved: tuple[str, ...]


@dataclass(frozen=True)
class RuleRow:
    """One monitor rule with the tests that exercise it (``note``: what else it checks)."""

    rule: RuleRef
    tests: tuple[TestLink, ...]
    note: str = ""


@dataclass(frozen=True)
class Chain:
    """One line of the matrix: a hazard, one requirement, one property (None: a gap).

    ``note`` explains a line that is not a plain chain: a monitor requirement (covered by
    monitor code, not by a property), or a property that names the hazard although its
    requirement does not.
    """

    hazard: str
    requirement: str | None
    property: str | None
    note: str = ""


@dataclass(frozen=True)
class Matrix:
    """The whole traceability matrix with its gaps."""

    hazards: tuple[HazardRow, ...]
    requirements: tuple[RequirementRow, ...]
    properties: tuple[PropertyRow, ...]
    rules: tuple[RuleRow, ...]
    chains: tuple[Chain, ...]
    gaps: tuple[Gap, ...]
    rules_note: str
    tests_note: str
    convention: str = TEST_CONVENTION

    def property_row(self, pid: str) -> PropertyRow:
        """The row of property ``pid``."""
        return next(p for p in self.properties if p.id == pid)

    def requirement_row(self, rid: str) -> RequirementRow:
        """The row of requirement ``rid``."""
        return next(r for r in self.requirements if r.id == rid)

    def gaps_for(self, subject: str) -> list[Gap]:
        """Every gap concerning ``subject`` (a hazard, requirement, property or rule ID)."""
        return [g for g in self.gaps if g.subject == subject]

    def to_json(self) -> dict[str, Any]:
        """The matrix as plain JSON data (for tools and for the report's appendix)."""
        def links(ts: Iterable[TestLink]) -> list[dict[str, str]]:
            return [{"test": t.test, "via": t.via} for t in ts]
        return {
            "convention": self.convention, "rules_note": self.rules_note,
            "tests_note": self.tests_note,
            "hazards": [h.__dict__ | {"requirements": list(h.requirements)}
                        for h in self.hazards],
            "requirements": [{"id": r.id, "hazards": list(r.hazards),
                              "properties": list(r.properties), "monitor": list(r.monitor),
                              "tests": links(r.tests)} for r in self.requirements],
            "properties": [{"id": p.id, "status": p.proof.status if p.proof else None,
                            "observable": p.observable, "unseen": list(p.unseen),
                            "rules": list(p.rules), "tests": links(p.tests)}
                           for p in self.properties],
            "rules": [{"id": r.rule.id, "property": r.rule.property_id,
                       "tests": links(r.tests)} for r in self.rules],
            "gaps": [{"kind": g.kind.name, "subject": g.subject, "detail": g.detail}
                     for g in self.gaps],
        }


# -- proof results ------------------------------------------------------------------------

def summaries(results: Sequence[tuple[Property, PropertyResult]]) -> dict[str, ProofSummary]:
    """Proof summaries by property ID from a proof run."""
    return {p.id: ProofSummary(r.status.value, r.method, r.seconds, r.reason)
            for p, r in results}


def summaries_from_json(doc: Mapping[str, Any]) -> dict[str, ProofSummary]:
    """Proof summaries by property ID from an artifact directory's ``results.json``."""
    return {r["property_id"]: ProofSummary(str(r["status"]), str(r["method"]),
                                           float(r["seconds"]), str(r.get("reason", "")))
            for r in doc.get("results", [])}


# -- monitor rules --------------------------------------------------------------------------

def _attr(obj: Any, *names: str) -> str | None:
    """The first of ``names`` that ``obj`` holds as a string (or as an object with an ``id``)."""
    for n in names:
        v = obj.get(n) if isinstance(obj, Mapping) else getattr(obj, n, None)
        if isinstance(v, str):
            return v
        vid = getattr(v, "id", None)
        if isinstance(vid, str):
            return vid
    return None


def describe_rule(obj: Any, key: str | None = None) -> RuleRef:
    """A :class:`RuleRef` from whatever a rule object is (instance, class or dict)."""
    rid = _attr(obj, "rule_id", "id", "name") or key
    if rid is None:
        rid = obj.__name__ if isinstance(obj, type) else type(obj).__name__
    pid = _attr(obj, "property_id", "prop_id", "property")
    raw = obj.get("requirements") if isinstance(obj, Mapping) else getattr(
        obj, "requirements", None)
    if callable(raw):
        try:
            raw = raw()
        except Exception:  # an instance method on a class: the requirements are unknown
            raw = None
    reqs: tuple[str, ...] = ((raw,) if isinstance(raw, str) else
                             tuple(str(r) for r in raw) if isinstance(raw, list | tuple) else ())
    return RuleRef(rid, pid, reqs)


def load_rules(module: str = "monitor.rules") -> tuple[list[RuleRef], str]:
    """The monitor's rules from ``module.RULES``, and a note saying where they came from."""
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module.startswith(exc.name):
            return [], f"{module.replace('.', '/')}.py is absent: there are no monitor rules"
        return [], f"{module} cannot be imported: {exc}"
    except Exception as exc:  # a broken rules module is a gap to show, not a crash
        return [], f"{module} failed to import: {type(exc).__name__}: {exc}"
    raw = getattr(mod, "RULES", None)
    if raw is None:
        return [], f"{module} has no RULES"
    if isinstance(raw, Mapping):
        rules = [describe_rule(v, str(k)) for k, v in raw.items()]
    else:
        rules = [describe_rule(v) for v in raw]
    return rules, f"{len(rules)} rules from {module}.RULES"


def load_unobservable(module: str = "monitor.rules") -> dict[str, Unobservable]:
    """What ``module.UNOBSERVABLE`` declares the monitor cannot check, by property ID."""
    try:
        raw = getattr(importlib.import_module(module), "UNOBSERVABLE", ())
    except Exception:  # absent or broken: nothing declared (load_rules reports why)
        return {}
    out: dict[str, Unobservable] = {}
    for u in raw:
        pid = _attr(u, "property_id")
        if pid is None:
            continue
        why = " ".join(x for x in (_attr(u, "needs"), _attr(u, "reason")) if x)
        partly = getattr(u, "partly_checked_by", ()) if not isinstance(u, Mapping) else \
            u.get("partly_checked_by", ())
        out[pid] = Unobservable(pid, why, tuple(str(x) for x in partly or ()))
    return out


# -- tests ---------------------------------------------------------------------------------

def _strings(node: ast.AST) -> list[str]:
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant)
            and isinstance(n.value, str)]


def _id_pattern(known: set[str]) -> re.Pattern[str]:
    alts = "|".join(re.escape(k) for k in sorted(known, key=len, reverse=True))
    return re.compile(rf"(?<![\w-])(?:{alts})(?![\w-])")


def _ids_in(texts: Iterable[str], known: set[str]) -> set[str]:
    if not known:
        return set()
    pattern = _id_pattern(known)
    return {m for t in texts for m in pattern.findall(t)}


def _ids_in_name(name: str, known: set[str]) -> set[str]:
    low = name.lower()
    return {k for k in known
            if re.search(rf"(?:^|_){re.escape(k.lower().replace('-', '_'))}(?:_|$)", low)}


def _is_marker(dec: ast.expr) -> bool:
    text = ast.unparse(dec)
    return ".mark." in text or text.startswith("mark.")


def _tests_in(tree: ast.Module) -> list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef,
                                              ast.ClassDef | None]]:
    out: list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef, ast.ClassDef | None]] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
                "test"):
            out.append((node.name, node, None))
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            out += [(f"{node.name}::{f.name}", f, node) for f in node.body
                    if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)
                    and f.name.startswith("test")]
    return out


def _module_links(tree: ast.Module, known: set[str]) -> list[tuple[str, set[str]]]:
    out = [("module docstring", _ids_in([ast.get_docstring(tree) or ""], known))]
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "pytestmark"
                                                for t in node.targets):
            out.append(("module marker", _ids_in(_strings(node.value), known)))
    return out


def scan_test_file(path: Path, rel: str, known: set[str]) -> dict[str, list[TestLink]]:
    """The IDs each test of one file exercises (see the module docstring for the rules)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    module_level = _module_links(tree, known)
    found: dict[str, list[TestLink]] = {}
    for name, fn, cls in _tests_in(tree):
        node_id = f"{rel}::{name}"
        sources: list[tuple[str, set[str]]] = [
            ("marker", _ids_in([s for d in fn.decorator_list if _is_marker(d)
                                for s in _strings(d)], known)),
            ("name", _ids_in_name(fn.name, known)),
            ("docstring", _ids_in([ast.get_docstring(fn) or ""], known)),
            *module_level,
        ]
        if cls is not None:
            sources.append(("class docstring", _ids_in([ast.get_docstring(cls) or ""], known)))
            sources.append(("class marker", _ids_in(
                [s for d in cls.decorator_list if _is_marker(d) for s in _strings(d)], known)))
        seen: set[str] = set()
        for via, ids in sources:
            for i in sorted(ids - seen):
                found.setdefault(i, []).append(TestLink(node_id, via))
            seen |= ids
    return found


def collect_node_ids(tests_dir: Path, timeout_s: float = 180.0) -> list[str] | None:
    """The node ids pytest collects under ``tests_dir`` (parameter ids included), or None.

    Runs ``pytest --collect-only`` in a subprocess, so IDs that only exist at run time
    (``@pytest.mark.parametrize("v", variants(), ids=...)``) are seen too.
    """
    cmd = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-o", "addopts=",
           "-p", "no:cacheprovider", str(tests_dir)]
    try:
        proc = subprocess.run(cmd, cwd=tests_dir.parent, capture_output=True, text=True,
                              timeout=timeout_s)
    except (OSError, subprocess.SubprocessError):
        return None
    return [ln.strip() for ln in proc.stdout.splitlines() if "::" in ln]


def _param_links(node_ids: Iterable[str], known: set[str]) -> dict[str, list[TestLink]]:
    found: dict[str, list[TestLink]] = {}
    for nid in node_ids:
        if "[" in nid:
            for i in _ids_in([nid[nid.index("["):]], known):
                found.setdefault(i, []).append(TestLink(nid, "parameter id"))
    return found


def scan_tests(tests_dir: Path, known: set[str],
               variant_breaks: Mapping[str, str] | None = None,
               node_ids: Iterable[str] | None = None) -> dict[str, list[TestLink]]:
    """Every test under ``tests_dir`` that exercises each known ID (variants followed).

    ``node_ids`` (from :func:`collect_node_ids`) adds the tests whose parameter ids name
    an ID.
    """
    vb = dict(variant_breaks or {})
    ids = known | set(vb)
    per_id: dict[str, list[TestLink]] = {}
    for path in sorted(tests_dir.rglob("test_*.py")):
        rel = path.relative_to(tests_dir.parent).as_posix()
        try:
            per_file = scan_test_file(path, rel, ids)
        except SyntaxError:
            continue
        for i, links in per_file.items():
            per_id.setdefault(i, []).extend(links)
    for i, links in _param_links(node_ids or [], ids).items():
        per_id.setdefault(i, []).extend(links)
    found: dict[str, list[TestLink]] = {}
    for i, links in per_id.items():
        found.setdefault(i, []).extend(links)
        if i in vb:
            found.setdefault(vb[i], []).extend(
                TestLink(t.test, f"variant {i} ({t.via})") for t in links)
    return found


def monitor_sources_citing(monitor_dir: Path, ids: Iterable[str]) -> dict[str, list[str]]:
    """Which monitor modules cite each ID (in a docstring or comment)."""
    out: dict[str, list[str]] = {i: [] for i in ids}
    for path in sorted(monitor_dir.glob("*.py")):
        text = path.read_text(encoding="utf-8")
        for i in out:
            if re.search(rf"\b{re.escape(i)}\b", text):
                out[i].append(path.relative_to(monitor_dir.parent).as_posix())
    return out


# -- observability ------------------------------------------------------------------------

def visibility(var: str) -> str | None:
    """How the monitor sees spec variable ``var``, or None if the console does not publish it."""
    for pattern, how in VISIBILITY:
        if pattern.endswith("*") and var.startswith(pattern[:-1]) or var == pattern:
            return how
    return None


def unseen_vars(prop: Property) -> tuple[str, ...]:
    """The variables ``prop`` reads that the monitor cannot see."""
    names = sorted({k.rstrip("'") for k in free_vars(prop.formula)})
    return tuple(n for n in names if visibility(n) is None)


# -- the matrix ---------------------------------------------------------------------------

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
