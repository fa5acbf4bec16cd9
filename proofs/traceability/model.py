"""The traceability matrix's data model: rows, chains, gaps and proof summaries.

:func:`iabp.proofs.traceability.matrix.build_matrix` fills these in; the report
(:mod:`iabp.proofs.report.matrix`) and tools read them (:meth:`Matrix.to_json`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from iabp.proofs.results import PropertyResult
from iabp.spec.system import Property

MONITOR_REQ_PREFIX = "REQ-MON-"

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
    """A monitor rule from ``iabp.monitor.rules.ruleset.RULES``: its ID and the property it checks."""

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

