"""Independent re-check: every SMT-LIB2 query re-solved from its file alone by z3 and by cvc5.

Neither solver sees our Python objects: each reads the ``.smt2`` file the prover wrote.
z3 runs as the ``z3`` program when one is installed (next to the Python interpreter, or
on PATH), otherwise through ``z3.Solver().from_file``; cvc5 runs through its Python
package's own SMT-LIB2 parser (``cvc5.InputParser``) with models off, told the logic
the prover's queries use (:data:`CVC5_LOGIC`; a file that logic refuses is solved again
with logic ALL). Each
query has a time limit; a solver that runs out of time, or cannot parse a file, gives
the verdict ``unknown`` or ``error`` with its reason, never a guess.

A query passes when both solvers give the answer its ``; expected:`` header states. When
an artifact records the prover's own answer (``recorded``), a query whose obligation
fails (e.g. a broken variant's ``sat`` step) passes the *reproduction* check if both
solvers give that recorded answer: see :meth:`QueryCheck.reproduces`.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import hashlib
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from iabp.proofs.results import Answer, recorded_results

#: The answers a solver prints for ``(check-sat)`` (and a query file's header may expect).
ANSWERS = tuple(a.value for a in (Answer.SAT, Answer.UNSAT, Answer.UNKNOWN))
_EXPECTED_RE = re.compile(r"^;\s*expected:\s*(\S+)", re.MULTILINE)
DEFAULT_TIMEOUT_S = 60.0


class Agreement(Enum):
    """How one query's re-check came out."""

    AGREE = "agree"  #: both solvers give the expected answer
    REFUTED = "refuted"  #: both solvers agree with each other, against the expected answer
    DISAGREE = "disagree"  #: the two solvers give different definite answers
    INCONCLUSIVE = "inconclusive"  #: a solver said unknown or failed (reason attached)
    NO_EXPECTATION = "no expectation"  #: the file has no ``; expected:`` header


@dataclass(frozen=True)
class SolverVerdict:
    """One solver's answer on one file: ``sat``, ``unsat``, ``unknown`` or ``error``."""

    solver: str
    answer: Answer
    seconds: float
    detail: str = ""

    @property
    def definite(self) -> bool:
        """The solver answered sat or unsat (not unknown, not an error)."""
        return self.answer in (Answer.SAT, Answer.UNSAT)


@dataclass(frozen=True)
class QueryCheck:
    """A query file, the answer its header expects, and both solvers' verdicts."""

    path: str
    expected: Answer | None
    z3: SolverVerdict
    cvc5: SolverVerdict

    @property
    def agreement(self) -> Agreement:
        """How the two verdicts and the expected answer relate."""
        z, c = self.z3, self.cvc5
        if not (z.definite and c.definite):
            return Agreement.INCONCLUSIVE
        if z.answer != c.answer:
            return Agreement.DISAGREE
        if self.expected is None:
            return Agreement.NO_EXPECTATION
        return Agreement.AGREE if z.answer == self.expected else Agreement.REFUTED

    @property
    def ok(self) -> bool:
        """Both solvers give the expected answer."""
        return self.agreement is Agreement.AGREE

    def reproduces(self, recorded: str) -> bool:
        """Both solvers give ``recorded``, the answer the prover recorded for this query."""
        return self.z3.answer == recorded and self.cvc5.answer == recorded

    def describe(self) -> str:
        """One line: expected answer and each solver's verdict with its time."""
        def one(v: SolverVerdict) -> str:
            extra = f", {v.detail}" if v.detail and not v.definite else ""
            return f"{v.solver} {v.answer} ({v.seconds:.2f} s{extra})"
        return f"expected {self.expected or '?'}; {one(self.z3)}; {one(self.cvc5)}"


@dataclass
class RecheckReport:
    """Every query re-checked, with the solvers' versions and the time it took."""

    checks: list[QueryCheck] = field(default_factory=list)
    z3_version: str = ""
    cvc5_version: str = ""
    z3_how: str = ""
    timeout_s: float = DEFAULT_TIMEOUT_S
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """Every query re-checked, and both solvers gave every expected answer."""
        return bool(self.checks) and all(c.ok for c in self.checks)

    def by_path(self) -> dict[str, QueryCheck]:
        """The checks by query file (relative to the artifact directory)."""
        return {c.path: c for c in self.checks}

    def problems(self) -> list[QueryCheck]:
        """The checks that did not give the expected answer with both solvers."""
        return [c for c in self.checks if not c.ok]

    def total(self, solver: str) -> float:
        """Seconds spent by ``solver`` ("z3" or "cvc5") over all queries."""
        return sum((c.z3 if solver == "z3" else c.cvc5).seconds for c in self.checks)


# -- reading the files -----------------------------------------------------------------

def expected_answer(path: Path) -> Answer | None:
    """The answer a query file's ``; expected:`` header says it must give."""
    with path.open(encoding="utf-8", errors="replace") as f:
        head = f.read(4096)
    m = _EXPECTED_RE.search(head)
    return Answer(m.group(1)) if m and m.group(1) in ANSWERS else None


def query_files(art_dir: Path) -> list[Path]:
    """Every ``.smt2`` file under an artifact directory, in a stable order."""
    return sorted(art_dir.rglob("*.smt2"))


# -- z3 --------------------------------------------------------------------------------

def z3_program() -> str | None:
    """The z3 executable: the one installed with this Python first, then PATH."""
    here = Path(sys.executable).parent / "z3"
    if here.is_file() and os.access(here, os.X_OK):
        return str(here)
    return shutil.which("z3")


def _z3_binary(exe: str, path: Path, timeout_s: float) -> SolverVerdict:
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([exe, f"-t:{int(timeout_s * 1000)}", "-smt2", str(path)],
                              capture_output=True, text=True, timeout=timeout_s + 10)
    except subprocess.TimeoutExpired:
        return SolverVerdict("z3", Answer.UNKNOWN, time.perf_counter() - t0, "wall-clock timeout")
    dt = time.perf_counter() - t0
    lines = [ln.strip() for ln in proc.stdout.splitlines() if ln.strip()]
    answers = [ln for ln in lines if ln in ANSWERS or ln == "timeout"]
    errors = [ln for ln in lines if ln.startswith("(error")] + (
        [proc.stderr.strip()] if proc.stderr.strip() else [])
    if errors or len(answers) != 1:
        return SolverVerdict("z3", Answer.ERROR, dt, "; ".join(errors) or f"output {lines[:3]}")
    if answers[0] == "timeout":
        return SolverVerdict("z3", Answer.UNKNOWN, dt, "timeout")
    return SolverVerdict("z3", Answer(answers[0]), dt)


def _z3_api(path: Path, timeout_s: float) -> SolverVerdict:
    import z3

    t0 = time.perf_counter()
    try:
        # a private context: the file's declarations must not leak into the prover's
        s = z3.Solver(ctx=z3.Context())
        s.set("timeout", int(timeout_s * 1000))
        s.from_file(str(path))
        r = s.check()
    except z3.Z3Exception as exc:
        return SolverVerdict("z3", Answer.ERROR, time.perf_counter() - t0, str(exc))
    dt = time.perf_counter() - t0
    return SolverVerdict("z3", Answer(str(r)), dt, s.reason_unknown() if r == z3.unknown else "")


def solve_z3(path: Path, timeout_s: float = DEFAULT_TIMEOUT_S,
             program: str | None = None) -> SolverVerdict:
    """z3's verdict on ``path`` (the program when ``program`` is given, else the API)."""
    return _z3_binary(program, path, timeout_s) if program else _z3_api(path, timeout_s)


def z3_version(program: str | None) -> str:
    """The version of the z3 that re-checks (the program's, or the Python API's)."""
    if program:
        out = subprocess.run([program, "--version"], capture_output=True, text=True)
        return out.stdout.strip()
    import z3

    return f"Z3 {z3.get_version_string()} (Python API)"


# -- cvc5 ------------------------------------------------------------------------------

#: The logic cvc5 is told: the prover writes quantifier-free linear integer arithmetic
#: over the mode and command datatypes. With logic ALL cvc5 keeps the machinery of
#: theories no query uses and is up to ten times slower (34 s instead of 5 s on the
#: heaviest lemma step); the narrower logic changes no answer, and a file it refuses
#: (a quantifier, a product of two variables) is solved again with :data:`CVC5_FALLBACK`.
CVC5_LOGIC = "QF_DTLIA"
CVC5_FALLBACK = "ALL"


QUANTIFIER = re.compile(r"\((forall|exists)\s")


def solve_cvc5(path: Path, timeout_s: float = DEFAULT_TIMEOUT_S) -> SolverVerdict:
    """cvc5's verdict on ``path``, parsed by cvc5's own SMT-LIB2 parser: with
    :data:`CVC5_LOGIC`, or with :data:`CVC5_FALLBACK` for a file with a quantifier or one
    that logic refuses."""
    try:
        quantified = QUANTIFIER.search(path.read_text(errors="replace")) is not None
    except OSError as exc:
        return SolverVerdict("cvc5", Answer.ERROR, 0.0, f"cannot read {path}: {exc}")
    if quantified:
        why, spent = "a quantifier", 0.0
    else:
        narrow = _solve_cvc5(path, timeout_s, CVC5_LOGIC)
        if narrow.answer is not Answer.ERROR or "logic" not in narrow.detail.lower():
            return narrow
        why, spent = f"logic {CVC5_LOGIC} refused the file", narrow.seconds
    wide = _solve_cvc5(path, timeout_s, CVC5_FALLBACK)
    note = f"{why}: solved with logic {CVC5_FALLBACK}"
    return dataclasses.replace(wide, seconds=spent + wide.seconds,
                               detail="; ".join(x for x in (note, wide.detail) if x))


def _solve_cvc5(path: Path, timeout_s: float, logic: str) -> SolverVerdict:
    import cvc5

    t0 = time.perf_counter()
    tm = cvc5.TermManager()
    solver = cvc5.Solver(tm)
    solver.setOption("produce-models", "false")
    solver.setOption("tlimit-per", str(int(timeout_s * 1000)))
    solver.setLogic(logic)
    symbols = cvc5.SymbolManager(tm)
    parser = cvc5.InputParser(solver, symbols)
    answers: list[str] = []
    try:
        parser.setFileInput(cvc5.InputLanguage.SMT_LIB_2_6, str(path))
        while True:
            cmd = parser.nextCommand()
            if cmd.isNull():
                break
            out = cmd.invoke(solver, symbols).strip()
            if out:
                answers.append(out)
    except RuntimeError as exc:  # cvc5 reports parse and logic errors this way
        return SolverVerdict("cvc5", Answer.ERROR, time.perf_counter() - t0, str(exc))
    dt = time.perf_counter() - t0
    results = [a.split()[0] for a in answers if a.split()[0] in ANSWERS]
    if len(results) != 1:
        return SolverVerdict("cvc5", Answer.ERROR, dt, f"output {answers[:3]}")
    detail = ""
    answer = Answer(results[0])
    if answer is Answer.UNKNOWN:
        detail = _cvc5_reason(solver)
    return SolverVerdict("cvc5", answer, dt, detail)


def _cvc5_reason(solver: object) -> str:
    try:
        info = solver.getInfo("reason-unknown")  # type: ignore[attr-defined]
    except RuntimeError:
        return "unknown reason"
    return info.decode() if isinstance(info, bytes) else str(info)


def cvc5_version() -> str:
    """The version of the cvc5 Python package's solver."""
    import cvc5

    v = cvc5.Solver(cvc5.TermManager()).getVersion()
    return "cvc5 " + (v.decode() if isinstance(v, bytes) else str(v))


# -- running ---------------------------------------------------------------------------

def check_file(path: str, root: str, timeout_s: float, z3_exe: str | None) -> QueryCheck:
    """Re-check one query file (``path`` relative to ``root``) with both solvers."""
    full = Path(root) / path
    return QueryCheck(path, expected_answer(full), solve_z3(full, timeout_s, z3_exe),
                      solve_cvc5(full, timeout_s))


#: Verdicts by SHA-256 of the query file's bytes: the same bytes are the same question.
SolveCache = MutableMapping[str, QueryCheck]


def recheck(root: Path, files: Sequence[Path] | None = None, *,
            timeout_s: float = DEFAULT_TIMEOUT_S, jobs: int | None = 1,
            use_z3_program: bool = True, cache: SolveCache | None = None,
            on_check: Callable[[QueryCheck], None] | None = None) -> RecheckReport:
    """Re-check ``files`` (default: every ``.smt2`` under ``root``) with z3 and cvc5.

    ``jobs`` worker processes solve files in parallel (None: one per CPU); each worker
    parses and solves its files alone, so one solver crash cannot hide the others.
    ``cache`` (keyed by the file's SHA-256) skips files whose exact bytes were already
    re-checked, e.g. by an earlier audit of the same artifacts in this process.
    """
    t0 = time.perf_counter()
    exe = z3_program() if use_z3_program else None
    root = root.absolute()
    # ``files`` are relative to ``root`` (or absolute); query_files(root) gives paths under
    # root, which must not be joined to it a second time (a relative root did: issue 10)
    rel = [p.relative_to(root).as_posix() if p.is_absolute() else p.as_posix()
           for p in (query_files(root) if files is None else files)]
    report = RecheckReport(z3_version=z3_version(exe), cvc5_version=cvc5_version(),
                           z3_how=f"program {exe}" if exe else "Python API from_file",
                           timeout_s=timeout_s)
    digests = {r: hashlib.sha256((root / r).read_bytes()).hexdigest() for r in rel}
    done: dict[str, QueryCheck] = {}
    if cache is not None:
        done = {r: dataclasses.replace(cache[d], path=r) for r, d in digests.items()
                if d in cache}
    todo = [r for r in rel if r not in done]

    def finished(r: str, c: QueryCheck) -> None:
        done[r] = c
        if cache is not None:
            cache[digests[r]] = c
        if on_check is not None:
            on_check(c)

    workers = max(1, min(jobs or os.cpu_count() or 1, len(todo) or 1))
    if workers == 1:
        for r in todo:
            finished(r, check_file(r, str(root), timeout_s, exe))
    else:
        ctx = multiprocessing.get_context("spawn")
        with cf.ProcessPoolExecutor(workers, mp_context=ctx) as pool:
            futs = {pool.submit(check_file, r, str(root), timeout_s, exe): r for r in todo}
            for fut in cf.as_completed(futs):
                finished(futs[fut], _result_or_crash(fut, futs[fut]))
    report.checks = [done[r] for r in rel]
    report.seconds = time.perf_counter() - t0
    return report


def _result_or_crash(fut: cf.Future[QueryCheck], path: str) -> QueryCheck:
    try:
        return fut.result()
    except Exception as exc:  # a crashed worker is an error verdict, not a lost query
        err = SolverVerdict("cvc5", Answer.ERROR, 0.0, f"worker crashed: {exc}")
        return QueryCheck(path, None, SolverVerdict("z3", Answer.ERROR, 0.0, "worker crashed"), err)


def recorded_answers(results_doc: Mapping[str, object]) -> dict[str, str]:
    """The prover's recorded answer per query file, from ``results.json``."""
    out: dict[str, str] = {}
    for r in recorded_results(results_doc):
        for q in r.get("queries", []):
            if q.get("smt2_file"):
                out[str(q["smt2_file"])] = str(q["answer"])
    return out
