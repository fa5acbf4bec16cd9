"""The evidence report: one self-contained HTML file and the same content as Markdown.

Everything in it is generated: the mode diagram from the spec's mode table, the
parameter tables from ``iabp.spec.settings``, ``iabp.spec.assumptions`` and ``iabp.spec.timing``, the
properties from the spec with their proof results read back from an artifact directory,
counterexample traces drawn with matplotlib, the z3/cvc5 re-check side by side, and the
traceability matrix (:mod:`iabp.proofs.traceability.matrix`).

The HTML needs no network: CSS is inline, the diagram is inline SVG, plots are
``data:`` URIs, and a Content-Security-Policy forbids any fetch. Besides in-page links
(every hazard, requirement, property and monitor-rule ID links to its entry), the only
links are relative ones to the SMT-LIB2 files and traces in the artifact directory and
to the test files in the repository. The content is built once as a small document
model (:class:`Section` and blocks) and rendered twice, so the HTML and the Markdown
cannot drift apart.

This module holds the public entry points (:func:`build_report`, :class:`Report`) and
puts the page together; the parts live in

- :mod:`iabp.proofs.report.model`: the document model (spans, blocks, sections);
- :mod:`iabp.proofs.report.sections`: the sections built from the spec and the artifacts;
- :mod:`iabp.proofs.report.requirements_section`: every hazard and requirement in full;
- :mod:`iabp.proofs.report.matrix`: the traceability-matrix sections;
- :mod:`iabp.proofs.report.outcomes` and :mod:`iabp.proofs.report.junit`: the tests of each
  ID, linked to their files, with their outcomes from a JUnit file;
- :mod:`iabp.proofs.report.figures`: the mode diagram and the counterexample plots;
- :mod:`iabp.proofs.report.html` and :mod:`iabp.proofs.report.markdown`: the two renderings.

Every public name of those modules that used to live here is re-exported.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iabp.proofs.recheck import RecheckReport
from iabp.proofs.report.figures import counterexample_png, mode_diagram_svg
from iabp.proofs.report.html import CSP, CSS, data_uri, esc, render_html
from iabp.proofs.report.junit import JunitResults
from iabp.proofs.report.margins_section import margins_section
from iabp.proofs.report.markdown import render_markdown
from iabp.proofs.report.matrix import matrix_sections
from iabp.proofs.report.model import (
    STATUS_CLASS,
    Block,
    Cell,
    Code,
    Fold,
    Image,
    Para,
    Section,
    Span,
    Table,
    badge,
    cell,
    relative_href,
    t,
)
from iabp.proofs.report.monitor_theorem_section import monitor_theorem_section
from iabp.proofs.report.outcomes import TestEvidence, test_results_section
from iabp.proofs.report.requirements_section import requirements_sections
from iabp.proofs.report.sections import (
    ReportContext,
    assumptions_section,
    lemmas_section,
    modes_section,
    overview_section,
    parameters_section,
    property_sections,
    recheck_section,
    spec_constants,
)
from iabp.proofs.traceability.matrix import ROOT, Matrix, build_matrix, summaries_from_json
from iabp.spec.system import SystemSpec

__all__ = [
    "CSP", "CSS", "STATUS_CLASS", "Block", "Cell", "Code", "Fold", "Image", "Para", "Report",
    "Section", "Span", "Table", "badge", "build_report", "cell", "counterexample_png",
    "data_uri", "esc", "load_results", "mode_diagram_svg", "render_html", "render_markdown",
    "spec_constants", "t",
]


@dataclass
class Report:
    """A built report: sections, rendered on demand to HTML or Markdown."""

    title: str
    sections: list[Section]

    def images(self) -> list[Image]:
        """Every figure in the report, in order."""
        out: list[Image] = []

        def walk(blocks: list[Block]) -> None:
            for b in blocks:
                if isinstance(b, Image):
                    out.append(b)
                elif isinstance(b, Fold):
                    walk(b.blocks)
        for s in self.sections:
            walk(s.blocks)
        return out

    def html(self) -> str:
        """The self-contained HTML page."""
        return render_html(self.title, self.sections)

    def markdown(self) -> str:
        """The same content as Markdown."""
        return render_markdown(self.title, self.sections)

    def write(self, out_dir: Path) -> tuple[Path, Path]:
        """Write ``report.html``, ``report.md`` and the Markdown's ``img/`` files."""
        out_dir.mkdir(parents=True, exist_ok=True)
        img = out_dir / "img"
        for im in self.images():
            img.mkdir(exist_ok=True)
            if im.svg is not None:
                (img / f"{im.name}.svg").write_text(im.svg, encoding="utf-8")
            if im.png is not None:
                (img / f"{im.name}.png").write_bytes(im.png)
        h, m = out_dir / "report.html", out_dir / "report.md"
        h.write_text(self.html(), encoding="utf-8")
        m.write_text(self.markdown(), encoding="utf-8")
        return h, m


def load_results(art_dir: Path) -> dict[str, Any]:
    """An artifact directory's ``results.json``."""
    doc: dict[str, Any] = json.loads((art_dir / "results.json").read_text(encoding="utf-8"))
    return doc


def build_report(art_dir: Path, spec: SystemSpec, out_dir: Path, *,
                 recheck: RecheckReport | None = None, matrix: Matrix | None = None,
                 diagram: str = "auto", variant: str | None = None,
                 margins: dict[str, Any] | None = None,
                 test_results: JunitResults | None = None) -> Report:
    """The report on the proofs of ``spec`` stored in ``art_dir``, to be written in ``out_dir``
    (``test_results``: the outcome of each test the matrix links, from a JUnit file)."""
    results = load_results(art_dir)
    matrix = matrix or build_matrix(spec, summaries_from_json(results))
    link = relative_href(art_dir, out_dir)
    by_id = {r["property_id"]: r for r in results.get("results", [])}
    tests = TestEvidence(test_results, ROOT if (ROOT / "tests").is_dir() else None, out_dir)
    ctx = ReportContext(art_dir, spec, link, by_id, recheck, matrix, tests)
    sections = [
        overview_section(ctx, results, variant),
        modes_section(spec, diagram),
        parameters_section(),
        assumptions_section(spec),
        *requirements_sections(matrix, tests),
        *property_sections(ctx),
        lemmas_section(spec),
        monitor_theorem_section(results, ctx.href),
        margins_section(margins),
        recheck_section(ctx),
        *matrix_sections(matrix, tests),
        test_results_section(matrix, tests),
    ]
    title = f"IABP safety evidence: spec '{spec.name}'" + (f" (variant {variant})"
                                                           if variant else "")
    return Report(title, sections)
