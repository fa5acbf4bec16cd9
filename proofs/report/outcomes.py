"""The tests in the evidence report: links to their files, and their outcomes from a JUnit file.

Every ID of the matrix (hazard, requirement, property, monitor rule) lists the tests that
exercise it in a fold anchored ``#<id>-tests``; each test links to its file in the
repository (relative to the report, when the repository is there) and, with
``iabp report --test-results FILE.xml``, shows whether it passed. The "Test results"
section lists every failing test.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from iabp.proofs.report.junit import JunitResults, Outcome, Verdict
from iabp.proofs.report.model import (
    Cell,
    Fold,
    Para,
    Section,
    Span,
    Table,
    anchor_of,
    cell,
    refs,
    relative_href,
    t,
)
from iabp.proofs.traceability.model import Matrix, TestLink

OUTCOME_CLASS = {Outcome.PASSED: "ok", Outcome.FAILED: "bad", Outcome.ERROR: "bad",
                 Outcome.SKIPPED: "warn", Outcome.NOT_RUN: "warn"}
TESTS_SUFFIX = "-tests"  #: ``#p-fault-halt-tests``: the list of a property's tests


@dataclass(frozen=True)
class TestEvidence:
    """How the report shows tests: ``results`` from a JUnit file (None: not given), the
    repository the matrix's test paths are relative to (None: not at hand, no file links),
    and the directory the report is written to (links are relative to it)."""

    results: JunitResults | None
    repo: Path | None
    out_dir: Path
    _hrefs: dict[str, str | None] = field(default_factory=dict, init=False, repr=False,
                                          compare=False)

    def verdict(self, test: str) -> Verdict | None:
        """The outcome of matrix test ``test`` (None: no results were given)."""
        return None if self.results is None else self.results.verdict(test)

    def test_span(self, test: str) -> Span:
        """The test's node id, linked to its file when the repository is at hand."""
        path = test.split("::")[0]
        if path not in self._hrefs:
            file = self.repo / path if self.repo is not None else None
            self._hrefs[path] = (relative_href(file, self.out_dir)
                                 if file is not None and file.is_file() else None)
        return t(test, code=True, href=self._hrefs[path])

    def outcome_cell(self, test: str) -> Cell:
        """The test's outcome as a badge, with the message of a failure ("-": no results)."""
        v = self.verdict(test)
        if v is None:
            return cell("-")
        out = cell(t(v.text(), cls=OUTCOME_CLASS[v.outcome]))
        return out + [t(" " + v.message)] if v.outcome.bad and v.message else out

    def summary(self, tests: Sequence[str]) -> Span:
        """``12 tests: 11 passed, 1 failed`` (red if any failed, green if all passed)."""
        head = f"{len(tests)} test" + ("" if len(tests) == 1 else "s")
        if self.results is None:
            return t(head)
        tally = Counter(self.results.verdict(x).outcome for x in tests)
        text = head + ": " + ", ".join(f"{tally[o]} {o.value}" for o in Outcome if tally[o])
        cls = ("bad" if any(o.bad for o in tally) else
               "ok" if set(tally) == {Outcome.PASSED} else "")
        return t(text, cls=cls)

    def summary_cell(self, tests: Sequence[TestLink], ident: str) -> Cell:
        """The summary of ``ident``'s tests, linked to their list (a gap when there are none)."""
        if not tests:
            return cell(t("GAP: no test", cls="bad"))
        s = self.summary([x.test for x in tests])
        return [Span(s.text, cls=s.cls, href=f"#{anchor_of(ident)}{TESTS_SUFFIX}")]

    def tests_fold(self, tests: Sequence[TestLink], ident: str) -> list[Fold]:
        """The list of ``ident``'s tests with how each is linked and its outcome (unfolded
        when one failed); no fold when there are none."""
        if not tests:
            return []
        rows = [[cell(self.test_span(x.test)), cell(x.via), self.outcome_cell(x.test)]
                for x in tests]
        summary = self.summary([x.test for x in tests])
        return [Fold(f"Tests of {ident}: {summary.text}",
                     [Table(["test", "linked by", "result"], rows)],
                     anchor=f"{anchor_of(ident)}{TESTS_SUFFIX}", unfolded=summary.cls == "bad")]


def linked_tests(m: Matrix) -> dict[str, list[str]]:
    """Every test the matrix links, with the IDs it exercises (properties, requirements,
    monitor rules), in matrix order."""
    out: dict[str, list[str]] = {}

    def add(ident: str, tests: Iterable[TestLink]) -> None:
        for x in tests:
            ids = out.setdefault(x.test, [])
            if ident not in ids:
                ids.append(ident)
    for p in m.properties:
        add(p.id, p.tests)
    for r in m.requirements:
        add(r.id, r.tests)
    for rule in m.rules:
        add(rule.rule.id, rule.tests)
    return out


def overview_para(m: Matrix, ev: TestEvidence) -> Para:
    """One line for the overview: how many tests the matrix links and how they fared."""
    s = ev.summary(list(linked_tests(m)))
    return Para([t("Tests linked by the matrix: "), s, t(" "),
                 t("(test results)", href="#test-results"), t(".")])


def test_results_section(m: Matrix, ev: TestEvidence) -> Section:
    """Where the outcomes come from, their totals, and every failing test."""
    s = Section("test-results", "Test results")
    res = ev.results
    if res is None:
        s.blocks.append(Para([t("No test results were given, so the matrix says which tests "
                                "exercise each ID but not whether they pass. Run "),
                              t("python -m pytest --junitxml=tests.xml", code=True),
                              t(" and then "), t("iabp report ... --test-results tests.xml",
                                                 code=True), t(".")]))
        return s
    linked = linked_tests(m)
    counts = ", ".join(f"{n} {o.value}" for o, n in res.counts().items())
    s.blocks.append(Para([t(f"From {res.source}: {len(res.cases)} test runs ({counts or 'none'})"
                            ". Of the tests the matrix links, "), ev.summary(list(linked)),
                          t(". A test that ran several times (parametrized) counts once, "
                            "with its worst outcome.")]))
    failing = [(x, ids) for x, ids in linked.items() if (v := ev.verdict(x)) and v.outcome.bad]
    seen = {c.index for x in linked for c in res.matching(x)}
    others = [c for c in res.cases if c.outcome.bad and c.index not in seen]
    s.blocks.append(Para([t(f"Failing tests: {len(failing) + len(others)}.",
                            cls="bad" if failing or others else "ok")]))
    if failing:
        s.blocks.append(Table(["failing test", "result", "exercises"], [
            [cell(ev.test_span(x)), ev.outcome_cell(x), refs(ids)] for x, ids in failing]))
    if others:
        s.blocks.append(Table(["failing test the matrix does not link", "result"], [
            [cell(t(c.name, code=True)), cell(t(c.outcome.value, cls="bad"),
                                              f" {c.message}" if c.message else "")]
            for c in others]))
    missing = [x for x in linked if not res.matching(x)]
    if missing:
        s.blocks.append(Fold(f"Tests the matrix links that are not in the file ({len(missing)})",
                             [Table(["test", "exercises"], [[cell(ev.test_span(x)),
                                                             refs(linked[x])]
                                                            for x in missing])]))
    return s
