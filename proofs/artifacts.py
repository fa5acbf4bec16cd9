"""Proof artifacts an auditor can re-check without our code.

Layout of an artifact directory::

    spec.txt                      canonical serialisation of the spec (hashed)
    results.json                  every property's result, with solver version and seed
    manifest.json                 SHA-256 of every file, of spec.txt, and run metadata
    manifest.json.sig             with --sign-key: Ed25519 signature of manifest.json
                                  (:mod:`iabp.proofs.signing`)
    <PROPERTY>/result.json        that property's result
    <PROPERTY>/<query>.smt2       one SMT-LIB2 query per file, ending in one (check-sat);
                                  its header says the answer it must give
    <PROPERTY>/counterexample.{json,csv}   when the property is VIOLATED

``z3 <file>.smt2`` must print the expected answer (``unsat`` for every proof
obligation, ``sat`` for the non-vacuity checks).

A run never writes into an existing directory: :func:`fresh_artifact_dir` gives the
prover an empty scratch directory next to the target and renames it into place only
when the run finished, so the target holds one whole run (never files of an earlier run,
nor a half-written one after an error or Ctrl-C). :func:`check_artifact_target` decides,
before any work, whether the target may be replaced.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import secrets
import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import z3

from iabp.proofs.counterexample import write_csv, write_json, write_step_json
from iabp.proofs.engine import Query
from iabp.proofs.results import PropertyResult
from iabp.proofs.signing import MANIFEST, SIGNATURE
from iabp.spec.errors import ArtifactError
from iabp.spec.system import Property, SystemSpec

FORMAT = "iabp-proof-artifacts/1"


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
        return self._header(f"property {prop.id} ({', '.join(prop.requirements)})")

    def _header(self, subject: str) -> str:
        return (f"IABP proof artifact; spec {self.spec.name} sha256 {self.spec.sha256()}; "
                f"{subject}; z3 {z3.get_version_string()}; seed {self.seed}")

    def write_property(self, prop: Property, result: PropertyResult,
                       queries: list[Query]) -> None:
        self._write(prop.id, self.header(prop), lambda: self.result_doc(prop, result), result,
                    queries, (prop, result.method))

    def write_monitor_rule(self, result: PropertyResult, queries: list[Query]) -> None:
        """One rule of the monitor theorem (``iabp.proofs.monitor_theorem``): its queries
        and result, in a directory named by the rule like a property's."""
        self._write(result.property_id, self._header(
            f"monitor rule {result.property_id} ({', '.join(result.requirements)})"),
            lambda: self.rule_doc(result), result, queries, None)

    def _write(self, pid: str, header: str, doc: Callable[[], dict[str, Any]],
               result: PropertyResult, queries: list[Query],
               cex_of: tuple[Property, str] | None) -> None:
        d = self.out / safe_name(pid)
        d.mkdir(exist_ok=True)
        by_name = {q.name: q for q in queries}
        for rec in result.queries:
            q = by_name.get(rec.name)
            if q is None:
                continue
            path = d / f"{safe_name(rec.name)}.smt2"
            path.write_text(q.smt2(header))
            rec.smt2_file = str(path.relative_to(self.out))
            rec.sha256 = sha256_file(path)
        if result.counterexample is not None:
            if cex_of is not None:
                write_json(d / "counterexample.json", result.counterexample, *cex_of)
            else:
                write_step_json(d / "counterexample.json", result.counterexample,
                                result.property_id, "no-miss: one step of any console")
            write_csv(d / "counterexample.csv", result.counterexample)
        (d / "result.json").write_text(json.dumps(doc(), indent=1))

    def result_doc(self, prop: Property, result: PropertyResult) -> dict[str, Any]:
        return {**self.rule_doc(result), "plain": prop.plain}

    def rule_doc(self, result: PropertyResult) -> dict[str, Any]:
        """A result with the run's solver, seed, time limit and spec hash."""
        doc = result.to_json()
        doc.update({"solver": "z3", "solver_version": z3.get_version_string(),
                    "random_seed": self.seed, "timeout_s": self.timeout_s,
                    "spec_sha256": self.spec.sha256()})
        return doc

    def finish(self, results: list[tuple[Property, PropertyResult]],
               seconds: float, monitor_rules: Sequence[PropertyResult] = ()) -> Path:
        summary = {
            "spec": self.spec.name, "spec_sha256": self.spec.sha256(),
            "solver": "z3", "solver_version": z3.get_version_string(),
            "random_seed": self.seed, "timeout_s": self.timeout_s,
            "python": sys.version.split()[0], "platform": platform.platform(),
            "total_seconds": round(seconds, 3),
            "results": [self.result_doc(p, r) for p, r in results],
            "monitor_rules": [self.rule_doc(r) for r in monitor_rules],
        }
        (self.out / "results.json").write_text(json.dumps(summary, indent=1))
        return write_manifest(self.out, self.spec)


def write_manifest(out: Path, spec: SystemSpec) -> Path:
    """Hash every file under ``out`` (except the manifest and its signature) into
    ``manifest.json``."""
    files = {}
    for path in sorted(out.rglob("*")):
        if path.is_file() and path.name not in (MANIFEST, SIGNATURE):
            files[str(path.relative_to(out))] = sha256_file(path)
    manifest = {
        "format": FORMAT,
        "spec_sha256": spec.sha256(),
        "spec_file_sha256": files.get("spec.txt"),
        "z3_version": z3.get_version_string(),
        "files": files,
    }
    path = out / MANIFEST
    path.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return path


# -- where a run's artifacts go ----------------------------------------------------------

def unlisted_files(path: Path) -> list[str] | None:
    """The files of ``path`` its ``manifest.json`` does not list; None if it has no manifest.

    A directory whose manifest (of this format) lists every file in it is a previous
    artifact directory, which a new run may replace whole.
    """
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT \
            or not isinstance(manifest.get("files"), dict):
        return None
    listed = set(manifest["files"])
    return sorted(rel for rel in (p.relative_to(path).as_posix() for p in path.rglob("*")
                                  if p.is_file() or p.is_symlink())
                  if rel not in (MANIFEST, SIGNATURE) and rel not in listed)


def check_artifact_target(target: Path, *, force: bool = False) -> str | None:
    """Refuse (:class:`ArtifactError`) a target a run must not replace; else say what happens.

    Returns None for a new or empty directory, or a sentence for stderr when the run will
    replace a previous artifact directory (or, with ``force``, any directory) whole.
    """
    full = Path(os.path.abspath(target))
    if full == Path(os.path.abspath(os.curdir)) or full in Path.cwd().parents:
        raise ArtifactError(f"{target} is the current directory or contains it; "
                            "choose an artifact directory of its own")
    if full.is_symlink() or (full.exists() and not full.is_dir()):
        raise ArtifactError(f"{target} exists and is not a directory")
    if not full.exists() or not any(full.iterdir()):
        return None
    extra = unlisted_files(full)
    if extra is None and not force:
        raise ArtifactError(f"{target} is not empty and is not a proof artifact directory "
                            "(no manifest.json of ours); choose another --out, or --force "
                            "to replace it whole")
    if extra and not force:
        shown = ", ".join(extra[:3]) + (", ..." if len(extra) > 3 else "")
        raise ArtifactError(f"{target} holds {len(extra)} file(s) its manifest does not list "
                            f"({shown}); move them away, or --force to replace the whole "
                            "directory")
    what = "the previous artifacts" if extra == [] else "the existing directory"
    return f"replacing {what} in {target}"


@contextmanager
def fresh_artifact_dir(target: Path, *, force: bool = False,
                       note: Callable[[str], None] | None = None) -> Iterator[Path]:
    """An empty scratch directory beside ``target``, renamed to ``target`` on success.

    On any exception (Ctrl-C included) the scratch directory is removed and ``target`` is
    untouched. On success a previous ``target`` is replaced whole (``note`` is told so).
    """
    message = check_artifact_target(target, force=force)
    full = Path(os.path.abspath(target))
    try:
        full.parent.mkdir(parents=True, exist_ok=True)
        scratch = full.parent / f".{full.name}.partial-{secrets.token_hex(4)}"
        scratch.mkdir()
    except OSError as exc:
        raise ArtifactError(f"cannot create artifact directory {target}: {exc}") from exc
    try:
        yield scratch
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    old: Path | None = None
    try:
        if full.exists():
            old = full.parent / f".{full.name}.old-{secrets.token_hex(4)}"
            full.rename(old)
        scratch.rename(full)
    except BaseException as exc:
        if old is not None and not full.exists():
            old.rename(full)  # put the previous run back
        shutil.rmtree(scratch, ignore_errors=True)
        if isinstance(exc, OSError):
            raise ArtifactError(f"cannot move the artifacts into {target}: {exc}") from exc
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    if message and note is not None:
        note(message)
