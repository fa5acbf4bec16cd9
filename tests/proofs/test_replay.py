"""``iabp prove --emit-tests``: counterexamples become pytest files that can fail."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from iabp.__main__ import main as iabp_main
from iabp.sim.cex_replay import check_emitted
from tests.monitor.helpers_pty import python_env


def test_prove_emits_a_test_that_pytest_runs_green(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cex"
    code = iabp_main(["prove", "--variant", "V-KINK-DOES-NOT-HALT", "--property",
                      "P-FAULT-HALT", "--no-artifacts", "--emit-tests", str(out)])
    assert code == 1  # the variant is not proved
    assert "wrote 1 counterexample test(s)" in capsys.readouterr().out
    tests = sorted(out.glob("test_cex_*.py"))
    assert len(tests) == 1
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          str(out)], capture_output=True, text=True, env=python_env(),
                         timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 passed" in run.stdout


def test_an_emitted_check_fails_when_its_claim_is_false(tmp_path: Path) -> None:
    out = tmp_path / "cex"
    assert iabp_main(["prove", "--variant", "V-KINK-DOES-NOT-HALT", "--property",
                      "P-FAULT-HALT", "--no-artifacts", "--emit-tests", str(out)]) == 1
    trace = next(out.glob("*.json"))
    doc = json.loads(trace.read_text())
    doc["variant"] = None  # claim the counterexample breaks the REAL spec: it does not
    trace.write_text(json.dumps(doc))
    with pytest.raises(AssertionError, match="held all along"):
        check_emitted(trace, on_found_spec=True)


def test_emit_tests_refuses_a_file_where_a_directory_is_needed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "not-a-dir"
    target.write_text("x")
    assert iabp_main(["prove", "--property", "P-FAULT-HALT", "--no-artifacts",
                      "--emit-tests", str(target)]) == 2
    assert "is not a directory" in capsys.readouterr().err
