"""``iabp prove`` on the real spec: every property PROVED, none vacuous, artifacts re-check."""

from __future__ import annotations

import json
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import z3

from iabp.proofs.artifacts import sha256_file
from iabp.proofs.cli import main as prove_main
from iabp.proofs.results import PropertyResult, Status
from iabp.spec.iabp import iabp_spec
from iabp.spec.system import Property
from tests.proofs.test_audit import shared_run


@pytest.fixture(scope="module")
def proved(tmp_path_factory: pytest.TempPathFactory
           ) -> tuple[Path, list[tuple[Property, PropertyResult]]]:
    # the real spec's proof run the evidence tests share (tests/proofs/test_audit.py)
    run = shared_run(tmp_path_factory)
    return run.art, run.results


def test_every_property_is_proved_with_a_witness(proved: tuple[Path, list]) -> None:
    _, results = proved
    assert len(results) == len(iabp_spec().properties) >= 18
    for prop, r in results:
        assert r.status is Status.PROVED, (prop.id, r.reason)
        assert r.witness_ticks is not None, f"{prop.id}: no witness reaches its premise"
        answers = {q.name: q.answer for q in r.queries}
        assert answers[f"{prop.id}.assumptions-init"] == "sat"
        assert answers[f"{prop.id}.assumptions-step"] == "sat"
        assert answers[f"{prop.id}.premise"] == "sat"
        assert all(q.answer == "unsat" for q in r.queries if q.expected == "unsat")


def test_the_proof_run_proves_the_monitor_theorem_into_the_artifacts(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    """`iabp prove` proves every runtime rule after the properties, assuming them, and its
    queries are artifacts like theirs (results.json ``monitor_rules``, hashed, re-solved
    by the audit)."""
    run = shared_run(tmp_path_factory)
    assert run.monitor_rules and all(r.status is Status.PROVED for r in run.monitor_rules)
    doc = json.loads((run.art / "results.json").read_text())
    rules = doc["monitor_rules"]
    assert [r["property_id"] for r in rules] == [r.property_id for r in run.monitor_rules]
    manifest = json.loads((run.art / "manifest.json").read_text())["files"]
    for r in rules:
        assert r["status"] == "PROVED"
        for q in r["queries"]:
            assert q["smt2_file"] in manifest and q["sha256"] == manifest[q["smt2_file"]]


def test_timing_properties_rest_on_the_heart_and_detector_assumptions(proved) -> None:
    _, results = proved
    by_id = {p.id: r for p, r in results}
    for pid in ("P-INFL-DIASTOLE", "P-NO-GAS-IN-EJECTION", "P-TRIGGER-FRESH"):
        asm = set(by_id[pid].assumptions)
        assert {"ASM-HEART-RATE", "ASM-RR-STEP", "ASM-EJECTION", "ASM-R-DETECT",
                "ASM-MISS-SPACING"} <= asm
    assert by_id["P-FAULT-HALT"].assumptions == []


def test_artifacts_recheck_with_z3_alone(proved: tuple[Path, list]) -> None:
    """Each query file alone, given to the plain ``z3`` program (two at a time: one per
    core), answers what its header expects; no code of ours reads the answers."""
    out, _ = proved
    files = sorted(out.rglob("*.smt2"))
    assert len(files) > 100
    binary = shutil.which("z3")

    def answer(f: Path) -> tuple[str, str]:
        text = f.read_text()
        expected = next(line.split()[-1] for line in text.splitlines()
                        if line.startswith("; expected:"))
        assert text.rstrip().endswith("(check-sat)")
        assert text.count("(check-sat)") == 1
        if binary is not None:
            got = subprocess.run([binary, str(f)], capture_output=True, text=True,
                                 timeout=120).stdout.split()[0]
        else:
            s = z3.Solver()
            s.from_file(str(f))
            got = str(s.check())
        return got, expected

    # the z3 program runs in its own process: threads only wait for it
    with ThreadPoolExecutor(2 if binary is not None else 1) as pool:
        for f, (got, expected) in zip(files, pool.map(answer, files), strict=True):
            assert got == expected, f"{f}: {got} != {expected}"


def test_manifest_hashes_every_file(proved: tuple[Path, list]) -> None:
    out, _ = proved
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["spec_sha256"] == iabp_spec().sha256()
    files = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert set(manifest["files"]) == files - {"manifest.json"}
    for name, digest in manifest["files"].items():
        assert sha256_file(out / name) == digest
    results = json.loads((out / "results.json").read_text())
    assert results["solver_version"] == z3.get_version_string()
    assert {r["property_id"] for r in results["results"]} == {
        p.id for p in iabp_spec().properties}


def test_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert prove_main(["--property", "P-FAULT-HALT", "--out", str(tmp_path / "a")]) == 0
    assert (tmp_path / "a" / "P-FAULT-HALT" / "result.json").exists()
    assert prove_main(["--property", "P-NOPE", "--no-artifacts"]) == 2
    assert prove_main(["--timeout", "0", "--no-artifacts"]) == 2
    assert prove_main(["--bogus-flag"]) == 2
    assert prove_main(["--variant", "V-NOPE"]) == 2
    assert "unknown property" in capsys.readouterr().err
    assert prove_main(["--variant", "V-KINK-DOES-NOT-HALT", "--property", "P-FAULT-HALT",
                       "--no-artifacts"]) == 1
    assert "VIOLATED" in capsys.readouterr().out
