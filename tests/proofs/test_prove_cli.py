"""``iabp prove``, ``iabp report`` and ``iabp audit`` on the command line (issue 10).

Relative paths work; ``--out`` holds exactly one run (a previous artifact directory is
replaced whole, anything else is refused without ``--force``, an error or Ctrl-C leaves
it as it was); bad values and unusable output paths are one line on stderr and exit 2
before any proving; Ctrl-C is exit 130 with one line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from iabp.proofs import cli as prove_cli
from iabp.proofs.artifacts import check_artifact_target, unlisted_files
from iabp.proofs.audit import verify
from iabp.proofs.cli import main as prove_main
from iabp.proofs.recheck import recheck
from iabp.proofs.report import cli as report_cli
from iabp.proofs.report.cli import audit_main, report_main
from iabp.spec.errors import ArtifactError

FAST = "P-STANDBY-DEFLATED"  # a property of the real spec that proves in well under 1 s


def _prove(*extra: str) -> int:
    return prove_main(["--property", FAST, *extra])


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def _last_line(err: str) -> str:
    """The last line on stderr (``iabp report`` first names the stage it was in)."""
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


def _on_disk(art: Path) -> set[str]:
    return {p.relative_to(art).as_posix() for p in art.rglob("*") if p.is_file()}


def _no_scratch_left(where: Path) -> None:
    assert not [p.name for p in where.iterdir() if ".partial-" in p.name or ".old-" in p.name]


def _fail_if_called(*_: Any, **__: Any) -> Any:
    raise AssertionError("the work started before the arguments were checked")


# -- 1. relative paths ------------------------------------------------------------------

def test_report_and_recheck_take_relative_paths(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert _prove() == 0  # into the default, relative, proof-artifacts/
    art = Path("proof-artifacts")
    assert len(recheck(art).checks) == len(list((tmp_path / art).rglob("*.smt2"))) > 0
    assert report_main(["--out", "report", "--artifacts", "proof-artifacts",
                        "--no-test-collect"]) == 0
    assert (tmp_path / "report" / "report.html").is_file()
    assert report_main(["--out", "rep", "--property", FAST, "--no-test-collect"]) == 0
    assert (tmp_path / "rep" / "artifacts" / FAST / "result.json").is_file()
    assert "No such file" not in capsys.readouterr().err
    _no_scratch_left(tmp_path / "report")
    _no_scratch_left(tmp_path / "rep")


# -- 2. --out holds one run -------------------------------------------------------------

def test_prove_twice_into_the_default_directory_replaces_it_whole(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    art = tmp_path / "proof-artifacts"
    assert prove_main(["--property", "P-FAULT-HALT", "--no-artifacts"]) == 0
    assert not art.exists()
    assert prove_main(["--variant", "V-KINK-DOES-NOT-HALT", "--property", "P-FAULT-HALT"]) == 1
    assert (art / "P-FAULT-HALT").is_dir()
    capsys.readouterr()
    assert _prove() == 0
    assert "replacing the previous artifacts in proof-artifacts" in capsys.readouterr().err
    assert _prove() == 0  # twice in a row, as CI and the README do
    assert not (art / "P-FAULT-HALT").exists(), "files of the earlier run were kept"
    manifest = json.loads((art / "manifest.json").read_text())
    assert set(manifest["files"]) == _on_disk(art) - {"manifest.json"}
    assert verify(art).ok
    assert audit_main(["verify", "proof-artifacts"]) == 0
    _no_scratch_left(tmp_path)


def test_a_directory_that_is_not_ours_is_refused_unless_forced(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "thesis.tex").write_text("mine")
    assert _prove("--out", str(out)) == 2
    line = _one_line(capsys.readouterr().err)
    assert "not a proof artifact directory" in line and "--force" in line
    assert _on_disk(out) == {"thesis.tex"}
    assert _prove("--out", str(out), "--force") == 0
    assert "replacing the existing directory" in capsys.readouterr().err
    assert not (out / "thesis.tex").exists() and (out / "manifest.json").is_file()


def test_a_file_added_to_an_artifact_directory_is_not_deleted_silently(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "art"
    assert _prove("--out", str(out)) == 0
    (out / "NOTES.txt").write_text("auditor's notes")
    assert unlisted_files(out) == ["NOTES.txt"]
    capsys.readouterr()
    assert _prove("--out", str(out)) == 2
    assert "NOTES.txt" in _one_line(capsys.readouterr().err)
    assert (out / "NOTES.txt").read_text() == "auditor's notes"
    assert _prove("--out", str(out), "--force") == 0
    assert not (out / "NOTES.txt").exists()


def test_unusable_out_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(prove_cli, "prove_all", _fail_if_called)
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "x").write_text("x")
    for out in ("a-file", ".", str(tmp_path.parent), "/proc/iabp-artifacts"):
        assert _prove("--out", out) == 2, out
        _one_line(capsys.readouterr().err)
    with pytest.raises(ArtifactError):
        check_artifact_target(tmp_path / "sub")
    assert check_artifact_target(tmp_path / "new") is None


@pytest.mark.parametrize("trouble", [KeyboardInterrupt, ArtifactError])
def test_an_interrupted_or_failed_run_leaves_the_previous_artifacts_untouched(
        trouble: type[BaseException], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "art"
    assert _prove("--out", str(out)) == 0
    before = {p: (out / p).read_bytes() for p in _on_disk(out)}

    def half_way(*_: Any, out_dir: Path | None = None, **__: Any) -> Any:
        assert out_dir is not None and out_dir != out
        (out_dir / "spec.txt").write_text("half written")
        raise trouble("disk full") if trouble is ArtifactError else trouble()

    monkeypatch.setattr(prove_cli, "prove_all", half_way)
    capsys.readouterr()
    code = _prove("--out", str(out))
    line = _one_line(capsys.readouterr().err)
    if trouble is KeyboardInterrupt:
        assert code == 130 and line == "iabp prove: interrupted"
    else:
        assert code == 2 and "disk full" in line
    assert {p: (out / p).read_bytes() for p in _on_disk(out)} == before
    _no_scratch_left(tmp_path)
    new = tmp_path / "new"
    assert _prove("--out", str(new)) in (2, 130)
    assert not new.exists()
    _no_scratch_left(tmp_path)


# -- 3. one-line errors, before any work -----------------------------------------------

@pytest.mark.parametrize("value", ["nan", "inf", "-1", "0", "1e9", "ten"])
def test_bad_timeouts_are_one_line_exit_2(
        value: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(prove_cli, "prove_all", _fail_if_called)
    assert prove_main(["--timeout", value, "--no-artifacts"]) == 2
    captured = capsys.readouterr()
    assert "--timeout" in _one_line(captured.err) and captured.out == ""
    assert report_main(["--out", "x", "--timeout", value]) == 2
    assert "--timeout" in _one_line(capsys.readouterr().err)
    assert audit_main(["verify", ".", "--timeout", value]) == 2
    assert "--timeout" in _one_line(capsys.readouterr().err)


def test_ci_output_paths_are_checked_before_proving(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(prove_cli, "prove_all", _fail_if_called)
    art = str(tmp_path / "art")
    for argv in (["--junit", str(tmp_path)],  # an existing directory
                 ["--sarif", "/proc/iabp.sarif"],  # a directory that takes no new file
                 ["--junit", str(tmp_path / "art" / "j.xml")],  # inside --out
                 ["--junit", str(tmp_path / "x"), "--sarif", str(tmp_path / "x")]):
        assert prove_main(["--out", art, *argv]) == 2, argv
        _one_line(capsys.readouterr().err)
    assert not (tmp_path / "art").exists()


def test_ci_files_are_written_after_a_run(tmp_path: Path) -> None:
    junit, sarif = tmp_path / "ci" / "proofs.xml", tmp_path / "proofs.sarif"
    assert _prove("--no-artifacts", "--junit", str(junit), "--sarif", str(sarif)) == 0
    assert junit.read_text().startswith("<?xml") and json.loads(sarif.read_text())
    _no_scratch_left(tmp_path / "ci")


def test_unknown_property_is_reported_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    assert prove_main(["--property", "P-NOPE", "--no-artifacts"]) == 2
    captured = capsys.readouterr()
    assert "unknown property P-NOPE" in _one_line(captured.err) and captured.out == ""


def test_report_refuses_property_with_artifacts(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "art").mkdir()
    (tmp_path / "art" / "results.json").write_text("{}")
    assert report_main(["--out", str(tmp_path / "r"), "--artifacts", str(tmp_path / "art"),
                        "--property", FAST]) == 2
    assert "--property" in _one_line(capsys.readouterr().err)


# -- Ctrl-C -------------------------------------------------------------------------------

def _interrupt(*_: Any, **__: Any) -> Any:
    raise KeyboardInterrupt


def test_ctrl_c_in_report_and_audit_is_exit_130(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    art = tmp_path / "art"
    assert _prove("--out", str(art)) == 0
    capsys.readouterr()
    monkeypatch.setattr(report_cli, "verify", _interrupt)
    assert audit_main(["verify", str(art)]) == 130
    assert _one_line(capsys.readouterr().err) == "iabp audit: interrupted"
    monkeypatch.setattr(report_cli, "recheck", _interrupt)
    rep = tmp_path / "rep"
    assert report_main(["--out", str(rep), "--artifacts", str(art)]) == 130
    assert _last_line(capsys.readouterr().err) == "iabp report: interrupted"
    assert not (rep / "report.html").exists()
    monkeypatch.setattr(report_cli, "prove_all", _interrupt)
    assert report_main(["--out", str(rep), "--property", FAST]) == 130
    assert _last_line(capsys.readouterr().err) == "iabp report: interrupted"
    assert not (rep / "artifacts").exists()
    _no_scratch_left(rep)


def test_audit_names_files_of_an_earlier_run_as_the_cause(tmp_path: Path) -> None:
    """A directory written by an older ``iabp prove`` that kept earlier runs' files (and
    hashed them into its manifest): the audit says why the queries are not listed."""
    from iabp.proofs.artifacts import write_manifest
    from iabp.spec.iabp import iabp_spec

    old, new = tmp_path / "old", tmp_path / "new"
    assert prove_main(["--property", "P-FAULT-HALT", "--out", str(old)]) == 0
    assert _prove("--out", str(new)) == 0
    (old / "P-FAULT-HALT").rename(new / "P-FAULT-HALT")
    n_files = len(list((new / "P-FAULT-HALT").iterdir()))
    write_manifest(new, iabp_spec())
    report = verify(new)
    assert not report.ok and report.named("STALE") == ["results.json"]
    assert report.summary().split("FAIL: ", 1)[1].startswith(
        f"{n_files} files of 1 property results.json does not list (P-FAULT-HALT): left over "
        "from an earlier run")


# -- --json, -q, -v (issue 10: one CLI convention) ------------------------------------------

def test_prove_json_is_one_document_with_every_field(capsys: pytest.CaptureFixture[str]) -> None:
    from iabp.spec.iabp import iabp_spec

    assert _prove("--no-artifacts", "--json") == 0
    captured = capsys.readouterr()
    doc = json.loads(captured.out)  # nothing else on stdout
    assert (doc["format"], doc["version"]) == ("iabp-prove", 1) and captured.err == ""
    assert doc["spec_sha256"] == iabp_spec().sha256() and doc["ok"] is True
    (p,) = doc["properties"]
    assert p["id"] == FAST and p["status"] == "PROVED" and p["title"]
    assert p["requirements"] and p["hazards"] and p["method"] and p["k"] >= 0
    assert p["counterexample"] is None and p["seconds"] >= 0
    assert doc["totals"]["properties"] == doc["totals"]["proved"] == 1
    assert doc["artifacts"] is None


def test_prove_json_summarises_counterexamples_without_the_trace() -> None:
    from iabp.proofs.results import PropertyResult, Status
    from iabp.spec.iabp import iabp_spec

    spec = iabp_spec()
    prop, other = spec.property(FAST), spec.properties[0]

    def result(status: Status, **evidence: Any) -> PropertyResult:
        return PropertyResult(prop.id, prop.title, list(prop.requirements),
                              list(prop.hazards), status, "bmc", 3, 0.5, [], [], **evidence)

    trace = [{"tick": t, "mode": "ROW-OF-THE-TRACE"} for t in range(3)]
    doc = prove_cli.prove_document(spec, [
        (prop, result(Status.VIOLATED, counterexample=trace)),
        (other, result(Status.UNKNOWN, cti=trace[:2], cti_query="X.step"))],
        seconds=1.0, variant="V-X")
    violated, unknown = doc["properties"]
    assert violated["counterexample"] == {"trace_ticks": 3, "violated_at_tick": 2}
    assert violated["induction_counterexample"] is None and "ROW-OF" not in str(violated)
    assert unknown["counterexample"] is None
    assert unknown["induction_counterexample"]["query"] == "X.step"
    assert "NOT shown reachable" in unknown["induction_counterexample"]["note"]
    assert doc["ok"] is False and doc["variant"] == "V-X"
    assert doc["totals"] == {"properties": 2, "proved": 0, "violated": 1, "unknown": 1,
                             "vacuous": 0, "seconds": 1.0}


def test_prove_quiet_prints_the_verdict_line_only_and_verbose_the_queries(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert _prove("--no-artifacts", "-q") == 0
    out = capsys.readouterr().out
    assert _one_line(out).startswith("1/1 proved in ")
    assert _prove("--no-artifacts", "-v") == 0
    out = capsys.readouterr().out
    assert "      lemmas: " in out and f"{FAST}.step  (" in out and "; expected unsat)" in out


def test_audit_verify_quiet_prints_only_fail_lines_and_the_verdict(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    art = tmp_path / "art"
    assert _prove("--out", str(art)) == 0
    capsys.readouterr()
    assert audit_main(["verify", str(art), "-q"]) == 0
    captured = capsys.readouterr()
    assert _one_line(captured.out).startswith(f"audit verify {art}: PASS")
    assert captured.err == ""  # no progress bar: stderr is not a terminal
    with (art / "results.json").open("a") as f:
        f.write(" ")
    assert audit_main(["verify", str(art), "-q"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("FAIL EDITED") and "results.json" in lines[0]
    assert lines[-1].startswith(f"audit verify {art}: FAIL")
    assert not any(line.startswith("PASS") for line in lines)
