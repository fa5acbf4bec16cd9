"""Proof results: an enum, never a bool, with everything an auditor needs to re-check them."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Answer(str, Enum):
    """A solver's answer to one query; the value is the word SMT-LIB solvers print."""

    SAT = "sat"
    UNSAT = "unsat"
    UNKNOWN = "unknown"  #: the solver gave up (time limit, incompleteness); reason kept aside
    ERROR = "error"  #: the solver could not run the query file (re-check only)

    def __str__(self) -> str:
        return self.value


class Status(Enum):
    """What the prover established about one property."""

    PROVED = "PROVED"  #: holds in every reachable state, for every setting in range
    VIOLATED = "VIOLATED"  #: a real trace from power-on breaks it (counterexample attached)
    UNKNOWN = "UNKNOWN"  #: neither proved nor refuted; the solver's reason is attached
    VACUOUS = "VACUOUS"  #: assumptions unsatisfiable, or the premise is never reachable


#: How a terminal shows each status (rich styles), in every command that prints verdicts.
STATUS_STYLE = {Status.PROVED: "green", Status.VIOLATED: "bold red", Status.UNKNOWN: "yellow",
                Status.VACUOUS: "magenta"}


@dataclass
class QueryRecord:
    """One SMT query the proof rests on (each must be unsat for PROVED, except witnesses)."""

    name: str
    purpose: str
    expected: Answer  #: UNSAT for proof obligations, SAT for non-vacuity checks
    answer: Answer
    seconds: float
    smt2_file: str | None = None
    sha256: str | None = None


@dataclass
class PropertyResult:
    """The verdict on one property and the evidence behind it."""

    property_id: str
    title: str
    requirements: list[str]
    hazards: list[str]
    status: Status
    method: str
    k: int
    seconds: float
    assumptions: list[str]
    lemmas: list[str]
    reason: str = ""
    queries: list[QueryRecord] = field(default_factory=list)
    counterexample: list[dict[str, Any]] | None = None
    witness_ticks: int | None = None
    #: the obligation that failed (``cti_query``) and the solver's state pair breaking it:
    #: a counterexample to induction, not a trace from power-on (that is ``counterexample``)
    cti: list[dict[str, Any]] | None = None
    cti_query: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "property_id": self.property_id,
            "title": self.title,
            "requirements": self.requirements,
            "hazards": self.hazards,
            "status": self.status.value,
            "method": self.method,
            "k": self.k,
            "seconds": round(self.seconds, 4),
            "assumptions": self.assumptions,
            "lemmas": self.lemmas,
            "reason": self.reason,
            "witness_ticks": self.witness_ticks,
            "queries": [q.__dict__ for q in self.queries],
            "counterexample_ticks": None if self.counterexample is None
            else len(self.counterexample),
            "induction_counterexample_query": self.cti_query or None,
        }


def recorded_results(doc: object) -> list[dict[str, Any]]:
    """Every result a ``results.json`` records: the properties', then the monitor
    theorem's rules' (same fields; ``property_id`` is the rule's ID)."""
    if not isinstance(doc, dict):
        return []
    return [r for key in ("results", "monitor_rules") for r in doc.get(key, []) or []
            if isinstance(r, dict)]
