"""``iabp audit verify``: every edited, missing or extra artifact and every spec change is named.

This module also owns the proof run the other evidence tests share (:func:`shared_run`):
one run of every property of the real spec, audited once with both solvers, so the
report, re-check and CI-format tests reuse the same artifacts and solver verdicts.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from iabp import __main__ as iabp_cli
from iabp.proofs.audit import AuditReport, first_difference, sha256_file, verify
from iabp.proofs.prover import prove_all
from iabp.proofs.recheck import QueryCheck
from iabp.proofs.report.cli import audit_main
from iabp.proofs.results import PropertyResult
from iabp.spec.iabp import iabp_spec
from iabp.spec.system import Property
from iabp.spec.variants import variant

SMALL_VARIANT = ("V-KINK-DOES-NOT-HALT", "P-FAULT-HALT")  # 3 queries: a fast full audit
CEX_VARIANT = ("V-INFLATE-ON-R-WAVE", "P-INFL-DIASTOLE")  # a long counterexample trace


@dataclass
class SharedRun:
    """Artifacts of one proof run, and (lazily) their audit with both solvers."""

    art: Path
    results: list[tuple[Property, PropertyResult]]
    monitor_rules: list[PropertyResult] = field(default_factory=list)
    cache: dict[str, QueryCheck] = field(default_factory=dict)
    _audit: AuditReport | None = None

    def audit(self) -> AuditReport:
        if self._audit is None:
            # both solvers over every query: one worker per CPU
            self._audit = verify(self.art, cache=self.cache, jobs=None)
        return self._audit


_SHARED: dict[str, SharedRun] = {}


def shared_run(factory: pytest.TempPathFactory, key: str = "real") -> SharedRun:
    """One proof run per ``key`` for the whole test session ("real", or a variant key)."""
    if key not in _SHARED:
        out = factory.mktemp(f"art-{key}")
        if key == "real":
            spec, props = iabp_spec(), list(iabp_spec().properties)
        else:
            vid, pid = SMALL_VARIANT if key == "small" else CEX_VARIANT
            spec = variant(vid).spec()
            props = [spec.property(pid)]
        rules: list[PropertyResult] | None = [] if key == "real" else None  # as `iabp prove`
        results = prove_all(spec, props, timeout_s=60, out_dir=out, monitor_rules=rules)
        _SHARED[key] = SharedRun(out, results, rules or [])
    return _SHARED[key]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> SharedRun:
    return shared_run(tmp_path_factory)


@pytest.fixture()
def small(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Path:
    """A private copy of the small variant's artifacts (free to tamper with)."""
    src = shared_run(tmp_path_factory, "small").art
    return Path(shutil.copytree(src, tmp_path / "art"))


def test_clean_artifacts_pass_with_one_line_per_file(run: SharedRun) -> None:
    report = run.audit()
    assert report.ok, "\n".join(x.text() for x in report.lines if not x.ok)
    manifest = json.loads((run.art / "manifest.json").read_text())
    subjects = {x.subject for x in report.lines}
    assert set(manifest["files"]) <= subjects
    assert {"spec", "spec.txt"} <= subjects
    assert report.recheck is not None
    assert len(report.recheck.checks) == sum(f.endswith(".smt2") for f in manifest["files"])
    assert report.summary().endswith("queries re-solved by z3 and cvc5)")


def test_edited_missing_and_extra_files_are_each_named(run: SharedRun, tmp_path: Path) -> None:
    art = Path(shutil.copytree(run.art, tmp_path / "art"))
    queries = sorted(p.relative_to(art).as_posix() for p in art.rglob("*.smt2"))
    edited, deleted = queries[0], queries[1]
    data = bytearray((art / edited).read_bytes())
    data[2] = ord("X") if data[2] != ord("X") else ord("Y")  # one byte of the header comment
    (art / edited).write_bytes(bytes(data))
    (art / deleted).unlink()
    (art / "P-RATIO" / "note.txt").write_text("added after the run\n")
    report = verify(art, cache=run.cache)
    assert not report.ok
    assert report.named("EDITED") == [edited]
    assert report.named("MISSING") == [deleted]
    assert report.named("EXTRA") == ["P-RATIO/note.txt"]
    assert "1 edited" in report.summary() and "1 missing" in report.summary()


def test_an_edited_assertion_is_caught_by_the_solvers_too(run: SharedRun,
                                                          tmp_path: Path) -> None:
    art = Path(shutil.copytree(run.art, tmp_path / "art"))
    rel = next(p for p in sorted(art.rglob("*.assumptions-init.smt2")))
    text = rel.read_text()
    rel.write_text(text.replace("(check-sat)", "(assert false)\n(check-sat)"))
    report = verify(art, cache=run.cache)
    line = next(x for x in report.lines if x.subject == rel.relative_to(art).as_posix())
    assert not line.ok and line.kind == "EDITED"
    assert "do not reproduce the recorded answer" in line.detail


def test_a_changed_spec_is_named_with_its_first_differing_line(
        run: SharedRun, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = iabp_spec()
    timer = spec.state_var("since_trigger_ms")  # one bound the proofs rely on, moved by 1 ms
    assert timer.hi is not None
    state = tuple(dataclasses.replace(s, hi=timer.hi + 1) if s is timer else s
                  for s in spec.state)
    changed = dataclasses.replace(spec, state=state)
    monkeypatch.setattr("iabp.proofs.audit.iabp_spec", lambda: changed)
    report = verify(run.art, cache=run.cache)
    assert not report.ok
    assert report.named("SPEC") == ["spec", "spec.txt"]
    detail = next(x.detail for x in report.lines if x.subject == "spec.txt")
    assert "differs from the current spec at line" in detail
    assert not report.named("EDITED") and not report.named("MISSING")


def test_a_broken_variant_spec_is_not_the_spec_the_artifacts_prove(run: SharedRun) -> None:
    report = verify(run.art, variant(SMALL_VARIANT[0]).spec(), solve=False)
    assert "spec" in report.named("SPEC")


def test_first_difference_names_the_line() -> None:
    assert first_difference("a\nb\n", "a\nb\n") is None
    assert "line 2" in (first_difference("a\nb\n", "a\nc\n") or "")
    assert "3 lines in the artifact, 2 now" in (first_difference("a\nb\nc\n", "a\nb\n") or "")


def test_cli_passes_a_violated_variant_whose_answers_reproduce(
        small: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert audit_main(["verify", str(small), "--variant", SMALL_VARIANT[0]]) == 0
    out = capsys.readouterr().out
    assert "obligation fails, as recorded" in out
    assert f"property {SMALL_VARIANT[1]}" in out and "FAIL" not in out


def test_cli_fails_on_the_wrong_spec_and_on_tampering(
        small: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert audit_main(["verify", str(small)]) == 1  # artifacts of a variant, current spec
    assert "FAIL SPEC" in capsys.readouterr().out
    (small / "spec.txt").write_text("spec tampered\n")
    victim = next(small.rglob("*.step.smt2"))
    victim.unlink()
    assert audit_main(["verify", str(small), "--variant", SMALL_VARIANT[0]]) == 1
    out = capsys.readouterr().out
    assert "FAIL EDITED" in out and "spec.txt" in out
    assert "FAIL MISSING" in out and victim.name in out


def test_a_consistent_forgery_passes_the_hashes_but_not_regeneration(small: Path) -> None:
    """A query rewritten together with its hashes: only regenerating the queries from the
    current spec exposes it (the solvers happily confirm the forged query's answer)."""
    vid, pid = SMALL_VARIANT
    rel = f"{pid}/{pid}.assumptions-init.smt2"
    header = "".join(ln for ln in (small / rel).read_text().splitlines(True)
                     if ln.startswith(";"))
    (small / rel).write_text(header + "(declare-fun x () Int)\n(assert (> x 0))\n(check-sat)\n")
    new = sha256_file(small / rel)
    results = json.loads((small / "results.json").read_text())
    for r in results["results"]:
        for q in r["queries"]:
            if q.get("smt2_file") == rel:
                q["sha256"] = new
    (small / "results.json").write_text(json.dumps(results))
    manifest = json.loads((small / "manifest.json").read_text())
    manifest["files"][rel] = new
    manifest["files"]["results.json"] = sha256_file(small / "results.json")
    (small / "manifest.json").write_text(json.dumps(manifest))
    spec = variant(vid).spec()
    assert verify(small, spec).ok  # hashes and answers are consistent: a forgery
    report = verify(small, spec, regenerate=True)
    assert not report.ok and report.named("DIFFERS") == [rel]


def test_cli_missing_manifest_fails(small: Path) -> None:
    (small / "manifest.json").unlink()
    assert audit_main(["verify", str(small)]) == 1


@pytest.mark.parametrize("argv", [[], ["verify"], ["bogus", "."], ["verify", "/no/such/dir"],
                                  ["verify", ".", "--variant", "V-NO-SUCH"],
                                  ["verify", ".", "--timeout", "0"]])
def test_cli_usage_errors_exit_2(argv: list[str]) -> None:
    assert audit_main(argv) == 2


def test_iabp_entry_point_dispatches_audit(small: Path) -> None:
    assert iabp_cli.main(["audit", "verify", str(small), "--variant", SMALL_VARIANT[0]]) == 0


def test_regeneration_compares_formulas_not_z3_s_printing() -> None:
    """z3 may print one formula with other let-names and declaration order in another
    process: the same query. A changed formula or header is not."""
    from iabp.proofs.audit import same_query

    head = "; query: q\n; expected: unsat\n"
    a = head + "(declare-fun x () Int)\n(declare-fun y () Int)\n(assert (> x y))\n(check-sat)\n"
    b = head + ("(declare-fun y () Int)\n(declare-fun x () Int)\n"
                "(assert (let ((a!1 x)) (> a!1 y)))\n(check-sat)\n")
    c = head + "(declare-fun x () Int)\n(declare-fun y () Int)\n(assert (> y x))\n(check-sat)\n"
    assert same_query(a.encode(), b.encode())
    assert not same_query(a.encode(), c.encode())
    assert not same_query(a.encode(), a.replace("unsat", "sat").encode())
