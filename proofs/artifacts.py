"""Proof artifacts an auditor can re-check without our code.

Layout of an artifact directory::

    spec.txt                      canonical serialisation of the spec (hashed)
    results.json                  every property's result, with solver version and seed
    manifest.json                 SHA-256 of every file, of spec.txt, and run metadata
    <PROPERTY>/result.json        that property's result
    <PROPERTY>/<query>.smt2       one SMT-LIB2 query per file, ending in one (check-sat);
                                  its header says the answer it must give
    <PROPERTY>/counterexample.{json,csv}   when the property is VIOLATED

``z3 <file>.smt2`` must print the expected answer (``unsat`` for every proof
obligation, ``sat`` for the non-vacuity checks).
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from pathlib import Path
from typing import Any

import z3

from iabp.proofs.counterexample import write_csv, write_json
from iabp.proofs.engine import Query
from iabp.proofs.results import PropertyResult
from iabp.spec.errors import ArtifactError
from iabp.spec.system import Property, SystemSpec

MANIFEST = "manifest.json"


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def safe_name(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)


class ArtifactWriter:
    """Writes one proof run's artifacts into ``out_dir``."""

    def __init__(self, out_dir: Path, spec: SystemSpec, seed: int, timeout_s: float) -> None:
        self.out = out_dir
        self.spec = spec
        self.seed = seed
        self.timeout_s = timeout_s
        try:
            self.out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ArtifactError(f"cannot create artifact directory {out_dir}: {exc}") from exc
        (self.out / "spec.txt").write_text(spec.canonical())

    def header(self, prop: Property) -> str:
        return (f"IABP proof artifact; spec {self.spec.name} sha256 {self.spec.sha256()}; "
                f"property {prop.id} ({', '.join(prop.requirements)}); "
                f"z3 {z3.get_version_string()}; seed {self.seed}")

    def write_property(self, prop: Property, result: PropertyResult,
                       queries: list[Query]) -> None:
        d = self.out / safe_name(prop.id)
        d.mkdir(exist_ok=True)
        by_name = {q.name: q for q in queries}
        for rec in result.queries:
            q = by_name.get(rec.name)
            if q is None:
                continue
            path = d / f"{safe_name(rec.name)}.smt2"
            path.write_text(q.smt2(self.header(prop)))
            rec.smt2_file = str(path.relative_to(self.out))
            rec.sha256 = sha256_file(path)
        if result.counterexample is not None:
            write_json(d / "counterexample.json", result.counterexample, prop, result.method)
            write_csv(d / "counterexample.csv", result.counterexample)
        (d / "result.json").write_text(json.dumps(self.result_doc(prop, result), indent=1))

    def result_doc(self, prop: Property, result: PropertyResult) -> dict[str, Any]:
        doc = result.to_json()
        doc.update({"solver": "z3", "solver_version": z3.get_version_string(),
                    "random_seed": self.seed, "timeout_s": self.timeout_s,
                    "plain": prop.plain, "spec_sha256": self.spec.sha256()})
        return doc

    def finish(self, results: list[tuple[Property, PropertyResult]],
               seconds: float) -> Path:
        summary = {
            "spec": self.spec.name, "spec_sha256": self.spec.sha256(),
            "solver": "z3", "solver_version": z3.get_version_string(),
            "random_seed": self.seed, "timeout_s": self.timeout_s,
            "python": sys.version.split()[0], "platform": platform.platform(),
            "total_seconds": round(seconds, 3),
            "results": [self.result_doc(p, r) for p, r in results],
        }
        (self.out / "results.json").write_text(json.dumps(summary, indent=1))
        return write_manifest(self.out, self.spec)


def write_manifest(out: Path, spec: SystemSpec) -> Path:
    """Hash every file under ``out`` (except the manifest) into ``manifest.json``."""
    files = {}
    for path in sorted(out.rglob("*")):
        if path.is_file() and path.name != MANIFEST:
            files[str(path.relative_to(out))] = sha256_file(path)
    manifest = {
        "format": "iabp-proof-artifacts/1",
        "spec_sha256": spec.sha256(),
        "spec_file_sha256": files.get("spec.txt"),
        "z3_version": z3.get_version_string(),
        "files": files,
    }
    path = out / MANIFEST
    path.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return path
