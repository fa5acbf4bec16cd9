"""Test outcomes from a JUnit XML file (``python -m pytest --junitxml=FILE``), by matrix test id.

The traceability matrix names a test by its pytest node id, relative to the repository
(``tests/monitor/test_rules.py::TestHalt::test_kink[fast]``, see
:mod:`iabp.proofs.traceability.tested_by`); pytest's JUnit file names the same test by
``classname="tests.monitor.test_rules.TestHalt"`` and ``name="test_kink[fast]"``. Both are
turned into one dotted key per test *function* (``tests.monitor.test_rules.TestHalt.test_kink``)
plus the parameter id, if any. A matrix id without a parameter id stands for every
parametrized run of its function, so its verdict aggregates them (one failed run: failed).
A JUnit file written from a directory above the repository (``classname`` with a prefix,
``main.tests.monitor...``) still matches, when only one function has that ending.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from iabp.spec.errors import UsageError

MESSAGE_CHARS = 300  #: a failure's message is shown up to this many characters


class Outcome(Enum):
    """What happened to a test in the run the JUnit file records (worst first)."""

    FAILED = "failed"
    ERROR = "error"
    PASSED = "passed"
    SKIPPED = "skipped"
    NOT_RUN = "not run"

    @property
    def bad(self) -> bool:
        """The test failed or could not run (an error in its set-up or tear-down)."""
        return self in (Outcome.FAILED, Outcome.ERROR)


@dataclass(frozen=True)
class Case:
    """One ``<testcase>``: its function key, parameter id (``"[fast]"`` or ``""``), outcome
    and the first line of its failure, error or skip message."""

    index: int
    key: str
    param: str
    outcome: Outcome
    message: str

    @property
    def name(self) -> str:
        """The test as the JUnit file names it (``classname.function[param]``)."""
        return self.key + self.param


@dataclass(frozen=True)
class Verdict:
    """A matrix test's outcome: the worst of its runs (parametrized tests run several times)."""

    outcome: Outcome
    runs: int
    bad_runs: int
    message: str

    def text(self) -> str:
        """``passed``, ``failed (2 of 5 runs)``, ``passed (5 runs)``, ``not run``."""
        if self.runs <= 1:
            return self.outcome.value
        if self.bad_runs:
            return f"{self.outcome.value} ({self.bad_runs} of {self.runs} runs)"
        return f"{self.outcome.value} ({self.runs} runs)"


NOT_RUN = Verdict(Outcome.NOT_RUN, 0, 0, "")


def split_node_id(node_id: str) -> tuple[str, str]:
    """A pytest node id as (dotted function key, parameter id):
    ``tests/a/test_b.py::TestC::test_d[x]`` -> (``tests.a.test_b.TestC.test_d``, ``[x]``)."""
    cut = node_id.find("[")
    head, param = (node_id, "") if cut < 0 else (node_id[:cut], node_id[cut:])
    path, *names = head.split("::")
    module = path[:-3] if path.endswith(".py") else path
    return ".".join([module.replace("/", "."), *names]), param


class JunitResults:
    """Every test case of one JUnit file (``source``), indexed by function key."""

    def __init__(self, source: Path, cases: Iterable[Case]) -> None:
        self.source = source
        self.cases = tuple(cases)
        self._by_key: dict[str, list[Case]] = {}
        for c in self.cases:
            self._by_key.setdefault(c.key, []).append(c)
        self._by_ending: dict[str, set[str]] = {}  # "tests.a.test_b.f" -> {"main.tests.a..."}
        for k in self._by_key:
            parts = k.split(".")
            for i in range(1, len(parts)):
                self._by_ending.setdefault(".".join(parts[i:]), set()).add(k)

    def matching(self, node_id: str) -> list[Case]:
        """The runs of matrix test ``node_id`` in this file (none: it did not run)."""
        key, param = split_node_id(node_id)
        runs = self._by_key.get(key)
        if runs is None:
            longer = self._by_ending.get(key, set())
            runs = self._by_key[next(iter(longer))] if len(longer) == 1 else []
        return [c for c in runs if c.param == param] if param else runs

    def verdict(self, node_id: str) -> Verdict:
        """The outcome of matrix test ``node_id``: its worst run, or not run."""
        return verdict_of(self.matching(node_id))

    def counts(self) -> dict[Outcome, int]:
        """How many cases of the file had each outcome."""
        return {o: n for o in Outcome if (n := sum(c.outcome is o for c in self.cases))}


def verdict_of(runs: Iterable[Case]) -> Verdict:
    """The worst outcome of ``runs`` (skipped only if every run was), with its message."""
    cases = list(runs)
    if not cases:
        return NOT_RUN
    worst = min(cases, key=lambda c: list(Outcome).index(c.outcome))
    return Verdict(worst.outcome, len(cases), sum(c.outcome.bad for c in cases), worst.message)


def _outcome(tc: ET.Element) -> tuple[Outcome, str]:
    for tag, outcome in (("failure", Outcome.FAILED), ("error", Outcome.ERROR),
                         ("skipped", Outcome.SKIPPED)):
        child = tc.find(tag)
        if child is not None:
            text = child.get("message") or (child.text or "").strip()
            first = text.strip().splitlines()[0] if text.strip() else ""
            return outcome, first[:MESSAGE_CHARS]
    return Outcome.PASSED, ""


def load_junit(path: Path) -> JunitResults:
    """The test cases of a JUnit XML file, or a UsageError saying in one line what is wrong."""
    what = f"--test-results {path}"
    try:
        root = ET.parse(path).getroot()
    except OSError as exc:
        raise UsageError(f"{what}: cannot read it ({exc.strerror or exc})") from None
    except ET.ParseError as exc:
        raise UsageError(f"{what}: not well-formed XML ({exc})") from None
    if root.tag not in ("testsuites", "testsuite"):
        raise UsageError(f"{what}: not a JUnit XML file (its root is <{root.tag}>, not "
                         "<testsuites> or <testsuite>; write one with "
                         "'python -m pytest --junitxml=FILE')")
    cases = []
    for i, tc in enumerate(root.iter("testcase")):
        name, classname = tc.get("name"), tc.get("classname", "")
        if not name:
            raise UsageError(f"{what}: <testcase> number {i + 1} has no name")
        base, param = (name, "") if "[" not in name else (name[:name.index("[")],
                                                           name[name.index("["):])
        outcome, message = _outcome(tc)
        cases.append(Case(i, f"{classname}.{base}" if classname else base, param, outcome,
                          message))
    return JunitResults(path, tuple(cases))
