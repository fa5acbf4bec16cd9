"""``iabp audit verify DIR``: check a proof artifact directory without trusting the prover.

Every claim in the directory is checked against something the auditor controls:

- with ``public_key`` (``--key PUBKEY``, the auditor's copy): the Ed25519 signature of
  ``manifest.json`` in ``manifest.json.sig`` (:mod:`iabp.proofs.signing`); a missing
  signature, another signer's or a manifest changed after signing is a FAIL SIGNATURE.
  Without a key nothing authenticates the manifest, and the report says so
  (:attr:`AuditReport.unchecked`): the checks below then show that the files agree with
  each other, not who made them;
- every file's SHA-256 against ``manifest.json``; a file that differs is EDITED, a
  listed file that is gone is MISSING, a file the manifest does not list is EXTRA;
- the manifest's spec hash against the CURRENT spec (``spec.iabp.iabp_spec()``), and
  ``spec.txt`` against the current canonical spec text (first differing line shown);
- ``results.json`` against the manifest (same spec hash, same query hashes) and against
  itself (a PROVED property has every query answer as expected; a VIOLATED one has its
  counterexample files);
- every SMT-LIB2 query re-solved from its file by z3 and by cvc5
  (:mod:`iabp.proofs.recheck`): both must reproduce the answer the prover recorded, and for
  a PROVED property that is the answer the file's header expects.

With ``regenerate`` the audit also runs the prover on the current spec into a scratch
directory and compares every query file byte for byte (z3 prints the same query the
same way for the same version): a forger who rewrites a query AND its hashes still
fails here (and, with the auditor's key, on the manifest's signature). This trusts our query generator (proofs/to_z3.py, proofs/engine.py), which
the auditor can read; the solvers' answers are checked without it.

One PASS/FAIL line per artifact; the directory passes only if every line does.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from iabp.proofs.recheck import (
    DEFAULT_TIMEOUT_S,
    QueryCheck,
    RecheckReport,
    SolveCache,
    recheck,
)
from iabp.proofs.results import recorded_results
from iabp.proofs.signing import MANIFEST, SIGNATURE, check_signature, unchecked_note
from iabp.spec.errors import SpecError
from iabp.spec.iabp import iabp_spec
from iabp.spec.system import SystemSpec

JSON_FORMAT = "iabp-audit-verify"  #: ``iabp audit verify --json``: the document's name
JSON_VERSION = 1  #: ... and its version, raised when a field changes meaning


@dataclass(frozen=True)
class AuditLine:
    """One checked artifact (or whole-directory fact): PASS or FAIL, with what was checked."""

    subject: str
    ok: bool
    detail: str
    #: SIGNATURE, EDITED, MISSING, EXTRA, SPEC, RESULTS, STALE, SOLVER, DIFFERS; "" for a pass
    kind: str = ""

    def text(self) -> str:
        """The printed line: PASS/FAIL (with the kind), subject, what was checked."""
        tag = "PASS" if self.ok else f"FAIL {self.kind}".rstrip()
        return f"{tag:14s} {self.subject}  {self.detail}"


@dataclass
class AuditReport:
    """Everything ``audit verify`` found, and whether the directory holds."""

    art_dir: Path
    lines: list[AuditLine] = field(default_factory=list)
    recheck: RecheckReport | None = None
    #: without the auditor's key: why the manifest is not authenticated (None: it was checked)
    unchecked: str | None = None

    @property
    def ok(self) -> bool:
        """Every check passed (and there was something to check)."""
        return bool(self.lines) and all(line.ok for line in self.lines)

    def named(self, kind: str) -> list[str]:
        """The subjects of every failing line of ``kind`` (e.g. the EDITED files)."""
        return [line.subject for line in self.lines if not line.ok and line.kind == kind]

    def summary(self) -> str:
        """One closing line: PASS with counts, or FAIL naming what failed."""
        bad = [line for line in self.lines if not line.ok]
        n_q = len(self.recheck.checks) if self.recheck else 0
        if not bad:
            return (f"audit verify {self.art_dir}: PASS ({len(self.lines)} checks, {n_q} "
                    "queries re-solved by z3 and cvc5)")
        kinds: dict[str, list[str]] = {}
        for line in bad:
            kinds.setdefault(line.kind, []).append(line.subject)
        parts = [f"{len(v)} {k.lower()} ({', '.join(v[:4])}{', ...' if len(v) > 4 else ''})"
                 for k, v in kinds.items() if k != "STALE"]
        # the cause first, when the directory mixes runs (it explains the other lines)
        parts[:0] = [line.detail for line in bad if line.kind == "STALE"]
        return f"audit verify {self.art_dir}: FAIL: {'; '.join(parts)}"

    def to_json(self) -> dict[str, Any]:
        """The report as ``iabp audit verify --json`` prints it (format ``JSON_FORMAT``,
        ``version`` ``JSON_VERSION``): every line, the verdict, and whether the manifest
        was authenticated by the auditor's key."""
        return {
            "format": JSON_FORMAT, "version": JSON_VERSION, "dir": str(self.art_dir),
            "ok": self.ok,
            "authenticated": any(x.subject == SIGNATURE and x.ok for x in self.lines),
            "unchecked": self.unchecked,
            "queries_resolved": len(self.recheck.checks) if self.recheck else 0,
            "lines": [{"subject": x.subject, "ok": x.ok, "kind": x.kind, "detail": x.detail}
                      for x in self.lines],
            "summary": self.summary(),
        }


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file's bytes, in hex."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def verify(art_dir: Path, spec: SystemSpec | None = None, *, solve: bool = True,
           timeout_s: float = DEFAULT_TIMEOUT_S, jobs: int | None = 1,
           cache: SolveCache | None = None, regenerate: bool = False,
           public_key: Ed25519PublicKey | None = None,
           on_line: Callable[[AuditLine], None] | None = None,
           on_solved: Callable[[int, int], None] | None = None) -> AuditReport:
    """Audit ``art_dir`` against ``spec`` (default: the current IABP spec), and its
    manifest's signature against ``public_key`` when given. ``on_line`` gets each line as
    it is found; ``on_solved(done, total)`` the progress of the re-solving (first with 0
    before any query is solved; queries answered from ``cache`` are not counted)."""
    current = iabp_spec() if spec is None else spec
    report = AuditReport(art_dir)

    def add(line: AuditLine) -> None:
        report.lines.append(line)
        if on_line is not None:
            on_line(line)

    if public_key is None:
        report.unchecked = unchecked_note(art_dir)
    else:
        signed, detail = check_signature(art_dir, public_key)
        add(AuditLine(SIGNATURE, signed, detail, "" if signed else "SIGNATURE"))
    manifest = _load_json(art_dir / MANIFEST)
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        add(AuditLine(MANIFEST, False, "missing or unreadable: nothing can be checked",
                      "MISSING"))
        return report
    files: dict[str, str] = {str(k): str(v) for k, v in manifest["files"].items()}
    results = _load_json(art_dir / "results.json")
    for line in _spec_lines(art_dir, manifest, current, results):
        add(line)
    hashes = _hash_lines(art_dir, files)
    queries = sorted(p for p, line in hashes.items() if p.endswith(".smt2")
                     and line.kind != "MISSING")
    if solve and queries:
        solved = [0]

        def one_solved(_: QueryCheck) -> None:
            solved[0] += 1
            if on_solved is not None:
                on_solved(solved[0], len(queries))

        if on_solved is not None:
            on_solved(0, len(queries))
        report.recheck = recheck(art_dir, [Path(q) for q in queries], timeout_s=timeout_s,
                                 jobs=jobs, cache=cache, on_check=one_solved)
    recorded = _recorded(results)
    checks = report.recheck.by_path() if report.recheck else {}
    for path, line in hashes.items():
        if path in checks:
            line = _with_solvers(line, checks[path], recorded.get(path), manifest)
        elif path.endswith(".smt2") and line.kind != "MISSING" and not solve:
            line = AuditLine(path, False, line.detail + "; NOT re-solved (--no-solve)",
                             line.kind or "SOLVER")
        add(line)
    for extra in _extra_files(art_dir, files):
        add(AuditLine(extra, False, "not listed in manifest.json", "EXTRA"))
    for line in _result_lines(results, files):
        add(line)
    stale = _stale_line(results, files)
    if stale is not None:
        add(stale)
    if regenerate:
        for line in regenerate_lines(art_dir, current, files, results, timeout_s):
            add(line)
    return report


def same_query(a: bytes, b: bytes) -> bool:
    """The same SMT-LIB2 query: byte-identical, or the same comment header and the same
    assertions once parsed. z3 prints a query with let-names and declaration order that
    depend on what the printing process built before, so two runs of the prover on the
    same spec may print the same formula differently; parsed into one fresh context the
    terms are hash-consed, so equal formulas are the same term."""
    if a == b:
        return True
    import z3

    def header(text: str) -> list[str]:
        return [ln for ln in text.splitlines() if ln.startswith(";")]

    ta, tb = a.decode("utf-8", "replace"), b.decode("utf-8", "replace")
    if header(ta) != header(tb):
        return False
    ctx = z3.Context()
    try:
        fa, fb = z3.parse_smt2_string(ta, ctx=ctx), z3.parse_smt2_string(tb, ctx=ctx)
    except z3.Z3Exception:
        return False
    return len(fa) == len(fb) and all(x.eq(y) for x, y in zip(fa, fb, strict=True))


def regenerate_lines(art_dir: Path, spec: SystemSpec, files: dict[str, str], results: Any,
                     timeout_s: float = DEFAULT_TIMEOUT_S) -> list[AuditLine]:
    """Compare every query file with the one the prover writes for ``spec`` now."""
    from iabp.proofs.prover import prove_all  # the prover only when asked for

    if not isinstance(results, dict):
        return [AuditLine("regenerate", False, "results.json unreadable", "DIFFERS")]
    try:
        props = [spec.property(str(r["property_id"])) for r in results.get("results", [])]
    except SpecError as exc:
        return [AuditLine("regenerate", False, str(exc), "DIFFERS")]
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp)
        prove_all(spec, props, timeout_s=timeout_s, seed=int(results.get("random_seed", 0)),
                  out_dir=fresh, witnesses=False,
                  monitor_rules=[] if results.get("monitor_rules") else None)
        ours = {p.relative_to(fresh).as_posix(): p.read_bytes() for p in fresh.rglob("*.smt2")}
    lines = []
    for rel in sorted(set(ours) | {f for f in files if f.endswith(".smt2")}):
        path = art_dir / rel
        if rel not in ours:
            lines.append(AuditLine(rel, False, "the current spec generates no such query",
                                   "DIFFERS"))
        elif not path.is_file() or not same_query(path.read_bytes(), ours[rel]):
            lines.append(AuditLine(rel, False, "differs from (or lacks) the query the current "
                                   "spec generates", "DIFFERS"))
    if not lines:
        lines.append(AuditLine("regenerate", True, f"all {len(ours)} queries identical "
                               "(byte for byte, or as parsed formulas) to those the current "
                               "spec generates"))
    return lines


def _spec_lines(art_dir: Path, manifest: dict[str, Any], spec: SystemSpec,
                results: Any) -> list[AuditLine]:
    lines = []
    want, have = spec.sha256(), str(manifest.get("spec_sha256"))
    lines.append(AuditLine("spec", want == have, f"manifest spec sha256 {have[:16]}... "
                           + ("matches" if want == have else "!=") + f" current spec "
                           f"'{spec.name}' {want[:16]}...", "" if want == have else "SPEC"))
    spec_txt = art_dir / "spec.txt"
    if spec_txt.is_file():
        diff = first_difference(spec_txt.read_text(encoding="utf-8"), spec.canonical())
        lines.append(AuditLine("spec.txt", diff is None, "identical to the current canonical "
                               "spec" if diff is None else diff, "" if diff is None else "SPEC"))
    file_hash = manifest.get("files", {}).get("spec.txt")
    if manifest.get("spec_file_sha256") != file_hash:
        lines.append(AuditLine("manifest.json", False, "spec_file_sha256 differs from the "
                               "hash listed for spec.txt", "SPEC"))
    if isinstance(results, dict) and results.get("spec_sha256") != have:
        lines.append(AuditLine("results.json", False, "spec sha256 differs from the "
                               "manifest's", "SPEC"))
    return lines


def first_difference(old: str, new: str) -> str | None:
    """Where ``old`` (the artifact's spec.txt) first differs from ``new`` (the current spec)."""
    a, b = old.splitlines(), new.splitlines()
    for i, (x, y) in enumerate(zip(a, b, strict=False), start=1):
        if x != y:
            return f"differs from the current spec at line {i}: artifact {_clip(x)!r} / " \
                   f"current {_clip(y)!r}"
    if len(a) != len(b):
        return f"differs from the current spec: {len(a)} lines in the artifact, {len(b)} now"
    return None if old == new else "differs from the current spec in line endings"


def _clip(s: str, n: int = 90) -> str:
    return s if len(s) <= n else s[:n] + "..."


def _hash_lines(art_dir: Path, files: dict[str, str]) -> dict[str, AuditLine]:
    out: dict[str, AuditLine] = {}
    for rel, want in sorted(files.items()):
        path = art_dir / rel
        if not path.is_file():
            out[rel] = AuditLine(rel, False, "listed in manifest.json, not on disk", "MISSING")
            continue
        have = sha256_file(path)
        out[rel] = (AuditLine(rel, True, "sha256 ok") if have == want else
                    AuditLine(rel, False, f"sha256 {have[:16]}... != manifest {want[:16]}...",
                              "EDITED"))
    return out


def _extra_files(art_dir: Path, files: dict[str, str]) -> list[str]:
    return sorted(p.relative_to(art_dir).as_posix() for p in art_dir.rglob("*")
                  if p.is_file() and p.name not in (MANIFEST, SIGNATURE)
                  and p.relative_to(art_dir).as_posix() not in files)


def _recorded(results: Any) -> dict[str, tuple[str, str]]:
    """(recorded answer, recorded sha256) per query file, from results.json."""
    out: dict[str, tuple[str, str]] = {}
    if not isinstance(results, dict):
        return out
    for r in recorded_results(results):
        for q in r.get("queries", []):
            if q.get("smt2_file"):
                out[str(q["smt2_file"])] = (str(q.get("answer")), str(q.get("sha256")))
    return out


def _with_solvers(line: AuditLine, check: QueryCheck, recorded: tuple[str, str] | None,
                  manifest: dict[str, Any]) -> AuditLine:
    claim = recorded[0] if recorded else check.expected
    detail = f"{line.detail}; recorded {claim or '?'}; {check.describe()}"
    problems = []
    if not (check.z3.definite and check.cvc5.definite):
        problems.append("a solver gave no definite answer")
    elif claim is None or not check.reproduces(claim):
        problems.append("the solvers do not reproduce the recorded answer")
    if recorded is None:
        problems.append("results.json does not list this query")
    elif recorded[1] != manifest["files"].get(check.path):
        problems.append("results.json records another sha256 for it")
    if claim is not None and check.expected is not None and claim != check.expected \
            and not problems:
        detail += " (obligation fails, as recorded)"
    if not problems:
        return AuditLine(line.subject, line.ok, detail, line.kind)
    return AuditLine(line.subject, False, detail + "; " + "; ".join(problems),
                     line.kind or "SOLVER")


def _stale_line(results: Any, files: dict[str, str]) -> AuditLine | None:
    """Name the likely cause when the directory holds properties results.json does not list
    (files left by an earlier run into the same directory), instead of only one FAIL per
    query."""
    if not isinstance(results, dict):
        return None
    listed = {str(r.get("property_id")) for r in recorded_results(results)}
    others = sorted({f.split("/", 1)[0] for f in files if "/" in f} - listed)
    if not others:
        return None
    n = sum(1 for f in files if f.split("/", 1)[0] in others)
    shown = ", ".join(others[:4]) + (", ..." if len(others) > 4 else "")
    return AuditLine("results.json", False, f"{n} files of {len(others)} "
                     f"propert{'y' if len(others) == 1 else 'ies'} results.json does not list ({shown}): left over from an earlier run "
                     "into the same directory? 'iabp prove --out DIR' now replaces DIR "
                     "whole: prove again into it", "STALE")


def _result_lines(results: Any, files: dict[str, str]) -> list[AuditLine]:
    if not isinstance(results, dict):
        return [AuditLine("results.json", False, "missing or unreadable", "RESULTS")]
    lines = []
    for r in recorded_results(results):
        pid, status = str(r.get("property_id")), str(r.get("status"))
        qs = r.get("queries", [])
        bad = [q["name"] for q in qs if q.get("answer") != q.get("expected")]
        problem = ""
        if status == "PROVED" and (bad or not qs):
            problem = f"PROVED but queries {bad} did not give their expected answer"
        if status == "VIOLATED" and not any(f.startswith(f"{pid}/counterexample") for f in files):
            problem = "VIOLATED without counterexample files"
        missing = [q["name"] for q in qs if not q.get("smt2_file")]
        if missing:
            problem += f" queries without an SMT-LIB2 file: {missing}"
        unlisted = [q["smt2_file"] for q in qs if q.get("smt2_file")
                    and q["smt2_file"] not in files]
        if unlisted:
            problem += f" query files not in manifest.json: {unlisted}"
        label = "monitor rule" if r in (results.get("monitor_rules") or []) else "property"
        lines.append(AuditLine(f"{label} {pid}", not problem, problem or
                               f"{status}: {len(qs)} queries, answers consistent with status",
                               "RESULTS" if problem else ""))
    return lines

