"""Proof results for CI: JUnit XML (one testcase per property) and SARIF 2.1.0.

Both are made from the same rows, taken either from a proof run (a list of
``(Property, PropertyResult)``) or from an artifact directory's ``results.json``:

- JUnit: a ``<testcase>`` per property; VIOLATED, UNKNOWN and VACUOUS get a
  ``<failure>`` whose ``type`` is the status and whose message is the prover's reason,
  so a CI dashboard shows every non-proved property as a failed test.
- SARIF: one ``reportingDescriptor`` (rule) per property ID, with its requirements and
  hazards in ``properties``; one ``result`` per non-proved property (``error`` for
  VIOLATED, ``warning`` for UNKNOWN and VACUOUS), located at the property's definition
  in ``spec/properties.py``.

The monitor theorem's runtime rules (``MON-*``, when the run proved them) are rows too,
located at their declaration in ``spec/monitor_rules.py``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iabp.proofs.results import PropertyResult
from iabp.spec.errors import UsageError
from iabp.spec.system import Property
from iabp.terminal import OutputPlaceError, check_output_place

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
TOOL_NAME = "iabp prove"
PROPERTIES_FILE = "spec/properties.py"
MONITOR_RULES_FILE = "spec/monitor_rules.py"
FAILING = ("VIOLATED", "UNKNOWN", "VACUOUS")
_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Row:
    """One property's verdict, as CI formats need it."""

    property_id: str
    title: str
    plain: str
    requirements: tuple[str, ...]
    hazards: tuple[str, ...]
    status: str
    method: str
    seconds: float
    reason: str
    counterexample_ticks: int | None = None
    source: str = PROPERTIES_FILE  #: where it is declared (a monitor rule: MONITOR_RULES_FILE)


def rows_from_results(results: Sequence[tuple[Property, PropertyResult]],
                      monitor_rules: Sequence[PropertyResult] = ()) -> list[Row]:
    """Rows from a proof run (the properties, then the monitor theorem's rules)."""
    return [_row(r, p.title, p.plain, PROPERTIES_FILE) for p, r in results] + \
        [_row(r, r.title, "", MONITOR_RULES_FILE) for r in monitor_rules]


def _row(r: PropertyResult, title: str, plain: str, source: str) -> Row:
    return Row(r.property_id, title, plain, tuple(r.requirements), tuple(r.hazards),
               r.status.value, r.method, r.seconds, r.reason,
               None if r.counterexample is None else len(r.counterexample), source)


def rows_from_json(doc: Mapping[str, Any]) -> list[Row]:
    """Rows from an artifact directory's ``results.json``."""
    return [Row(str(r["property_id"]), str(r["title"]), str(r.get("plain", "")),
                tuple(r["requirements"]), tuple(r["hazards"]), str(r["status"]),
                str(r["method"]), float(r["seconds"]), str(r.get("reason", "")),
                r.get("counterexample_ticks"), source)
            for key, source in (("results", PROPERTIES_FILE),
                                ("monitor_rules", MONITOR_RULES_FILE))
            for r in doc.get(key) or []]


def load_rows(results_json: Path) -> list[Row]:
    """Rows from a ``results.json`` file."""
    return rows_from_json(json.loads(results_json.read_text(encoding="utf-8")))


# -- JUnit ------------------------------------------------------------------------------

def junit_xml(rows: Sequence[Row], suite: str = "iabp.proofs",
              meta: Mapping[str, str] | None = None) -> str:
    """A JUnit XML document: one testsuite, one testcase per property."""
    failures = sum(r.status in FAILING for r in rows)
    total = sum(r.seconds for r in rows)
    root = ET.Element("testsuites", name=TOOL_NAME, tests=str(len(rows)),
                      failures=str(failures), errors="0", time=f"{total:.3f}")
    ts = ET.SubElement(root, "testsuite", name=suite, tests=str(len(rows)),
                       failures=str(failures), errors="0", skipped="0", time=f"{total:.3f}")
    if meta:
        props = ET.SubElement(ts, "properties")
        for k, v in meta.items():
            ET.SubElement(props, "property", name=k, value=v)
    for r in rows:
        tc = ET.SubElement(ts, "testcase", classname=suite, name=f"{r.property_id}: {r.title}",
                           time=f"{r.seconds:.3f}")
        if r.status in FAILING:
            fail = ET.SubElement(tc, "failure", type=r.status, message=f"{r.status}: {r.reason}")
            fail.text = _details(r)
        out = ET.SubElement(tc, "system-out")
        out.text = (f"{r.status} by {r.method}; requirements {', '.join(r.requirements)}; "
                    f"hazards {', '.join(r.hazards)}. {r.plain}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") \
        + "\n"


def _details(r: Row) -> str:
    lines = [f"property {r.property_id}: {r.title}", f"status: {r.status}",
             f"reason: {r.reason}", f"requirements: {', '.join(r.requirements)}",
             f"hazards: {', '.join(r.hazards)}"]
    if r.counterexample_ticks is not None:
        lines.append(f"counterexample: {r.counterexample_ticks} ticks from power-on "
                     f"(artifacts: {r.property_id}/counterexample.csv)")
    return "\n".join(lines)


def write_junit(rows: Sequence[Row], path: Path, meta: Mapping[str, str] | None = None) -> Path:
    """Write :func:`junit_xml` to ``path`` (parents created)."""
    write_text_atomic(path, junit_xml(rows, meta=meta))
    return path


# -- SARIF ------------------------------------------------------------------------------

def property_line(pid: str, source: Path | None = None) -> int | None:
    """The line of ``spec/properties.py`` (or ``source``) where ``pid`` is defined."""
    src = source or _ROOT / PROPERTIES_FILE
    try:
        text = src.read_text(encoding="utf-8")
    except OSError:
        return None
    m = re.search(rf'"{re.escape(pid)}"', text)
    return text.count("\n", 0, m.start()) + 1 if m else None


def _rule(r: Row) -> dict[str, Any]:
    return {"id": r.property_id,
            "name": "".join(w.capitalize() for w in r.property_id.split("-")),
            "shortDescription": {"text": r.title},
            "fullDescription": {"text": r.plain or r.title},
            "defaultConfiguration": {"level": "error"},
            "properties": {"requirements": list(r.requirements), "hazards": list(r.hazards),
                           "tags": ["safety", *r.requirements, *r.hazards]}}


def _result(r: Row, index: int) -> dict[str, Any]:
    region = {"startLine": property_line(r.property_id, _ROOT / r.source) or 1}
    return {"ruleId": r.property_id, "ruleIndex": index, "kind": "fail",
            "level": "error" if r.status == "VIOLATED" else "warning",
            "message": {"text": f"{r.property_id} {r.status}: {r.reason}"},
            "locations": [{"physicalLocation": {
                "artifactLocation": {"uri": r.source, "uriBaseId": "SRCROOT"},
                "region": region}}],
            "properties": {"status": r.status, "method": r.method,
                           "requirements": list(r.requirements), "hazards": list(r.hazards),
                           "counterexample_ticks": r.counterexample_ticks}}


def sarif(rows: Sequence[Row], meta: Mapping[str, str] | None = None,
          tool_version: str = "0.1.0") -> dict[str, Any]:
    """A SARIF 2.1.0 log: a rule per property, a result per property not PROVED."""
    rules = [_rule(r) for r in rows]
    results = [_result(r, i) for i, r in enumerate(rows) if r.status != "PROVED"]
    run: dict[str, Any] = {
        "tool": {"driver": {"name": TOOL_NAME, "version": tool_version, "rules": rules}},
        "results": results,
        "invocations": [{"executionSuccessful": True}],
        "properties": dict(meta or {}),
    }
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}


def write_sarif(rows: Sequence[Row], path: Path, meta: Mapping[str, str] | None = None) -> Path:
    """Write :func:`sarif` to ``path`` as JSON (parents created)."""
    write_text_atomic(path, json.dumps(sarif(rows, meta), indent=1))
    return path


def write_ci_files(results: Sequence[tuple[Property, PropertyResult]], *,
                   junit: Path | None = None, sarif_path: Path | None = None,
                   meta: Mapping[str, str] | None = None,
                   monitor_rules: Sequence[PropertyResult] = ()) -> list[Path]:
    """Write the requested CI files for a proof run (``iabp prove --junit/--sarif``)."""
    rows = rows_from_results(results, monitor_rules)
    out = []
    if junit is not None:
        out.append(write_junit(rows, junit, meta))
    if sarif_path is not None:
        out.append(write_sarif(rows, sarif_path, meta))
    return out


# -- output files ------------------------------------------------------------------------

def check_output_file(path: Path, option: str) -> None:
    """Refuse (:class:`UsageError`) an output file that cannot be written, before any work
    (:func:`iabp.terminal.check_output_place`: not a directory, and the folder it goes in,
    or its nearest existing ancestor, takes a new file)."""
    try:
        check_output_place(path)
    except OutputPlaceError as exc:
        raise UsageError(f"{option} {path}{exc}") from None


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all (a scratch file renamed over it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.parent / f".{path.name}.partial-{secrets.token_hex(4)}"
    try:
        scratch.write_text(text, encoding="utf-8")
        os.replace(scratch, path)
    except BaseException:
        scratch.unlink(missing_ok=True)
        raise
