"""Independent re-check: z3 and cvc5 re-solve every SMT-LIB2 query from its file alone."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from iabp.proofs.recheck import (
    CVC5_FALLBACK,
    Agreement,
    QueryCheck,
    SolverVerdict,
    expected_answer,
    query_files,
    recheck,
    recorded_answers,
    solve_cvc5,
    solve_z3,
    z3_program,
)
from tests.proofs.test_audit import SharedRun, shared_run

DATATYPES = """; expected: {expected}
(declare-datatypes ((Mode 0)) (((Mode_STANDBY) (Mode_HALTED))))
(declare-fun m () Mode)
(declare-fun x () Int)
(assert (= m Mode_HALTED))
(assert (> (ite (= m Mode_STANDBY) x (+ x 1)) 5))
(assert (< x {bound}))
(check-sat)
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> SharedRun:
    return shared_run(tmp_path_factory)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_expected_answer_comes_from_the_header(tmp_path: Path) -> None:
    assert expected_answer(_write(tmp_path, "a.smt2", DATATYPES.format(
        expected="unsat", bound=5))) == "unsat"
    assert expected_answer(_write(tmp_path, "b.smt2", "(check-sat)\n")) is None


@pytest.mark.parametrize(("bound", "answer"), [(5, "unsat"), (9, "sat")])
def test_both_solvers_read_datatypes_ints_and_ite(tmp_path: Path, bound: int,
                                                   answer: str) -> None:
    path = _write(tmp_path, "q.smt2", DATATYPES.format(expected=answer, bound=bound))
    for use_program in (True, False):
        exe = z3_program() if use_program else None
        assert solve_z3(path, 10, exe).answer == answer
    assert solve_cvc5(path, 10).answer == answer


@pytest.mark.parametrize(("text", "answer"), [
    ("(declare-fun x () Int)\n(assert (forall ((y Int)) (> x y)))\n(check-sat)\n", "unsat"),
    ("(declare-fun x () Int)\n(declare-fun y () Int)\n(assert (= (* x y) 7))\n"
     "(assert (> x 1))\n(assert (> y 1))\n(check-sat)\n", "unsat"),
])
def test_cvc5_solves_a_file_outside_the_narrow_logic_with_logic_all(
        tmp_path: Path, text: str, answer: str) -> None:
    """The prover writes quantifier-free linear queries and cvc5 is told so; a file with a
    quantifier or a product of variables is still answered (with logic ALL), not refused."""
    path = _write(tmp_path, "wide.smt2", text)
    verdict = solve_cvc5(path, 10)
    assert verdict.answer == answer, verdict.detail
    assert verdict.detail.endswith(f"solved with logic {CVC5_FALLBACK}"), verdict.detail


def test_a_malformed_file_is_an_error_not_an_answer(tmp_path: Path) -> None:
    path = _write(tmp_path, "bad.smt2", "; expected: unsat\n(assert (> x 1)\n(check-sat)\n")
    z, c = solve_z3(path, 10, z3_program()), solve_cvc5(path, 10)
    assert z.answer == "error" and c.answer == "error"
    assert QueryCheck("bad.smt2", "unsat", z, c).agreement is Agreement.INCONCLUSIVE


def test_a_timeout_is_reported_as_unknown_with_its_reason(run: SharedRun) -> None:
    slowest = max(run.audit().recheck.checks,  # type: ignore[union-attr]
                  key=lambda c: c.cvc5.seconds)
    v = solve_cvc5(run.art / slowest.path, timeout_s=0.001)
    assert v.answer == "unknown" and "timeout" in v.detail.lower()


def test_agreement_classes() -> None:
    def v(solver: str, answer: str) -> SolverVerdict:
        return SolverVerdict(solver, answer, 0.0)
    assert QueryCheck("q", "unsat", v("z3", "unsat"), v("cvc5", "unsat")).ok
    refuted = QueryCheck("q", "unsat", v("z3", "sat"), v("cvc5", "sat"))
    assert refuted.agreement is Agreement.REFUTED and refuted.reproduces("sat")
    assert QueryCheck("q", "sat", v("z3", "sat"), v("cvc5", "unsat")).agreement \
        is Agreement.DISAGREE
    assert QueryCheck("q", "sat", v("z3", "sat"), v("cvc5", "unknown")).agreement \
        is Agreement.INCONCLUSIVE


def test_every_query_z3_and_cvc5_reproduce_the_prover(run: SharedRun) -> None:
    """Both solvers give the prover's recorded answer on every query, from the file alone;
    on every query of a PROVED property that is the answer the file's header expects."""
    rc = run.audit().recheck
    assert rc is not None
    assert len(rc.checks) == len(query_files(run.art)) >= 100
    doc = json.loads((run.art / "results.json").read_text())
    recorded = recorded_answers(doc)
    bad = [c.path + ": " + c.describe() for c in rc.checks if not c.reproduces(recorded[c.path])]
    assert not bad, "\n".join(bad)
    proved = {r["property_id"] for r in doc["results"] if r["status"] == "PROVED"}
    bad = [c.path + ": " + c.describe() for c in rc.checks
           if c.path.split("/")[0] in proved and not c.ok]
    assert not bad, "\n".join(bad)
    assert all(c.expected in ("sat", "unsat") for c in rc.checks)
    assert rc.z3_version.startswith("Z3") and rc.cvc5_version.startswith("cvc5")


def test_the_cache_skips_files_already_solved_and_only_those(run: SharedRun,
                                                             tmp_path: Path) -> None:
    files = query_files(run.art)[:3]
    t0 = time.perf_counter()
    again = recheck(run.art, files, cache=run.cache)
    assert time.perf_counter() - t0 < 5
    assert [c.path for c in again.checks] == [f.relative_to(run.art).as_posix() for f in files]
    assert again.ok


def test_worker_processes_give_the_same_verdicts(tmp_path: Path) -> None:
    for i, (bound, answer) in enumerate([(5, "unsat"), (9, "sat"), (4, "unsat")]):
        _write(tmp_path, f"q{i}.smt2", DATATYPES.format(expected=answer, bound=bound))
    one = recheck(tmp_path, jobs=1)
    two = recheck(tmp_path, jobs=2, use_z3_program=False)
    assert one.ok and two.ok
    assert [(c.path, c.z3.answer, c.cvc5.answer) for c in one.checks] == \
        [(c.path, c.z3.answer, c.cvc5.answer) for c in two.checks]
