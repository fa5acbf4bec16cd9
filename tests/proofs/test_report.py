"""``iabp report``: one self-contained HTML page (and its Markdown twin) an auditor can read.

The HTML must render with no network: no external src/href, inline CSS and figures, a
Content-Security-Policy that forbids fetching. When Debian's chromium is installed it
is rendered headless and screenshotted; otherwise that test is skipped.

Issue 10 (the auditor's report): every requirement, hazard and property text appears in
full; every ID links to its entry, its SMT-LIB2 queries and its tests (each in-page link
resolves, each relative link is a file); with ``--test-results`` each linked test shows
its outcome from pytest's JUnit file, and the failing ones are listed.
"""

from __future__ import annotations

import base64
import html as html_lib
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from iabp.proofs.report import cli as report_cli
from iabp.proofs.report.build import (
    build_report,
    counterexample_png,
    load_results,
    mode_diagram_svg,
    spec_constants,
)
from iabp.proofs.report.cli import report_main
from iabp.proofs.report.junit import load_junit
from iabp.proofs.report.progress import StageProgress
from iabp.proofs.traceability.matrix import build_matrix, summaries_from_json
from iabp.spec import assumptions as assumptions_module
from iabp.spec.assumptions import ASSUMPTIONS
from iabp.spec.iabp import iabp_spec
from iabp.spec.mode_table import MODE_TABLE
from iabp.spec.requirements import HAZARDS, REQUIREMENTS
from iabp.spec.settings import SETTINGS
from iabp.spec.system import SystemSpec
from iabp.spec.variants import variant
from tests.proofs.test_audit import CEX_VARIANT, SMALL_VARIANT, SharedRun, shared_run

EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:[a-z][a-z0-9+.-]*:)?//""", re.I)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


UNLINKED_FAILURE = ("tests.nowhere.test_gone", "test_vanished")  #: a failure no ID links


def junit_xml(cases: list[tuple[str, str]]) -> str:
    """A JUnit file as ``pytest --junitxml`` writes it, for (node id, outcome) pairs; a
    node id ``path::[Class::]name[param]`` gives classname ``path.as.dots[.Class]``."""
    body = []
    for node, outcome in cases:
        path, *names = node.split("::")
        classname = ".".join([path.removesuffix(".py").replace("/", "."), *names[:-1]])
        child = {"passed": "", "failed": '<failure message="assert 1 == 2">trace</failure>',
                 "skipped": '<skipped type="pytest.skip" message="no chromium"/>'}[outcome]
        body.append(f'<testcase classname="{classname}" name="{names[-1]}" time="0.1">'
                    f"{child}</testcase>")
    return ('<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" '
            f'tests="{len(cases)}">{"".join(body)}</testsuite></testsuites>')


@dataclass(frozen=True)
class Built:
    """The report on the shared run of the real spec, with a JUnit file whose three tests
    (all linked to ``pid``) passed (twice, parametrized), failed (one run of two), skipped."""

    run: SharedRun
    html: Path
    md: Path
    pid: str
    passed: str
    failed: str
    skipped: str


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The report on the shared run of the real spec (re-check included), written once."""
    run = shared_run(tmp_path_factory)
    out = tmp_path_factory.mktemp("report")
    spec = iabp_spec()
    matrix = build_matrix(spec, summaries_from_json(load_results(run.art)))
    row = next(p for p in matrix.properties if len(p.tests) >= 3)
    ok, bad, skip = (x.test for x in row.tests[:3])
    xml = tmp_path_factory.mktemp("junit") / "tests.xml"
    xml.write_text(junit_xml([(f"{ok}[a]", "passed"), (f"{ok}[b]", "passed"),
                              (f"{bad}[a]", "passed"), (f"{bad}[b]", "failed"),
                              (skip, "skipped"), ("::".join(UNLINKED_FAILURE), "failed")]))
    report = build_report(run.art, spec, out, recheck=run.audit().recheck, matrix=matrix,
                          test_results=load_junit(xml))
    html_path, md_path = report.write(out)
    return Built(run, html_path, md_path, row.id, ok, bad, skip)


@pytest.fixture(scope="module")
def real(built: Built) -> tuple[SharedRun, Path, Path]:
    return built.run, built.html, built.md


def test_html_is_self_contained(real: tuple[SharedRun, Path, Path]) -> None:
    html = real[1].read_text()
    assert not EXTERNAL.findall(html), EXTERNAL.findall(html)[:5]
    assert "url(http" not in html and "@import" not in html
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    assert "<svg" in html and "<style>" in html


def test_html_and_markdown_carry_every_id(real: tuple[SharedRun, Path, Path]) -> None:
    html, md = real[1].read_text(), real[2].read_text()
    ids = ([p.id for p in iabp_spec().properties] + [h.id for h in HAZARDS]
           + [r.id for r in REQUIREMENTS] + [a.id for a in ASSUMPTIONS]
           + [s.name for s in SETTINGS] + [m.trigger for m in MODE_TABLE])
    for text in (html, md):
        missing = [i for i in ids if i not in text]
        assert not missing, missing
    for title in ("Modes and transitions", "Parameters", "Assumptions", "Properties",
                  "Independent re-check", "Traceability matrix", "Gaps"):
        assert title in html and title in md


def test_query_links_are_relative_and_resolve(real: tuple[SharedRun, Path, Path]) -> None:
    html_path = real[1]
    links = re.findall(r'href="([^"#]+)"', html_path.read_text())
    assert links and all(link.endswith((".smt2", ".csv", ".json", ".py")) for link in links)
    assert any(link.endswith(".py") for link in links)  # the tests' files, in the repository
    for link in links:
        assert (html_path.parent / link).is_file(), link


def test_markdown_figures_are_written(real: tuple[SharedRun, Path, Path]) -> None:
    md_path = real[2]
    for name in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md_path.read_text()):
        assert (md_path.parent / name).is_file(), name


def test_violated_variant_report_draws_its_counterexample(
        tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> None:
    vid, pid = CEX_VARIANT
    art = shared_run(tmp_path_factory, "cex").art
    code = report_main(["--out", str(tmp_path), "--artifacts", str(art), "--variant", vid,
                        "--no-recheck", "--no-test-collect"])
    assert code == 1  # the report is written, but a property is not proved
    html = (tmp_path / "report.html").read_text()
    assert "VIOLATED" in html and f"variant {vid}" in html
    png = re.search(r'src="data:image/png;base64,([^"]+)"', html)
    assert png is not None and base64.b64decode(png.group(1)).startswith(b"\x89PNG")
    assert (tmp_path / "img" / f"cex-{pid}.png").is_file()
    assert not EXTERNAL.findall(html)


def test_report_proves_and_rechecks_by_itself(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    vid, pid = SMALL_VARIANT
    code = report_main(["--out", str(tmp_path), "--variant", vid, "--property", pid,
                        "--no-test-collect", "--diagram", "builtin"])
    assert code == 1
    html = (tmp_path / "report.html").read_text()
    assert (tmp_path / "artifacts" / pid / f"{pid}.step.smt2").is_file()
    assert f'href="artifacts/{pid}/{pid}.step.smt2"' in html
    assert "3 queries re-solved" in html and "refuted" in html
    assert "the built-in SVG layout" in html
    # stderr is not a terminal here: one line per stage, in order; stdout: the result only
    out, err = capsys.readouterr()
    stages = [line.split(": ", 1)[1].split(" ")[0] for line in err.splitlines()]
    assert stages == ["proving", "re-solving", "linking", "building", "writing"], err
    assert "proving 1 property of" in err and "re-solving 3 queries" in err
    assert out.startswith("wrote ") and len(out.splitlines()) == 1


def test_counterexample_plot_is_a_png(tmp_path_factory: pytest.TempPathFactory) -> None:
    vid, pid = CEX_VARIANT
    run = shared_run(tmp_path_factory, "cex")
    (prop, result), = run.results
    assert result.counterexample is not None
    png, shown = counterexample_png(result.counterexample, prop, variant(vid).spec())
    assert png.startswith(b"\x89PNG") and 0 < shown <= len(result.counterexample)


@pytest.mark.parametrize("engine", ["builtin", "graphviz"])
def test_mode_diagram_names_every_mode_and_trigger(engine: str) -> None:
    if engine == "graphviz" and shutil.which("dot") is None:
        pytest.skip("graphviz is not installed")
    svg, who = mode_diagram_svg(MODE_TABLE, engine)
    assert svg.lstrip().startswith("<svg") and engine[:5] in who.replace("built-in", "builtin")
    names = {n for m in MODE_TABLE for n in (*m.sources, m.dest)}
    for word in names | {m.trigger for m in MODE_TABLE}:
        assert word in svg, word
    assert not EXTERNAL.findall(svg)


def test_constants_carry_their_doc_comments() -> None:
    consts = {n: (v, d) for n, v, d in spec_constants(assumptions_module)}
    assert consts["GAS_DEFLATE_MAX_MS"][0] == assumptions_module.GAS_DEFLATE_MAX_MS
    assert "deflated" in consts["GAS_DEFLATE_MAX_MS"][1]


@pytest.mark.parametrize("argv", [[], ["--out"], ["--out", "x", "--variant", "V-NO-SUCH"],
                                  ["--out", "x", "--artifacts", "/no/such/dir"],
                                  ["--out", "x", "--property", "P-NO-SUCH"]])
def test_usage_errors_exit_2(argv: list[str], tmp_path: Path,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert report_main(argv) == 2


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_renders_in_headless_chromium_without_network(real: tuple[SharedRun, Path, Path],
                                                      tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    profile = tempfile.mkdtemp(dir=tmp_path)
    cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--no-first-run", f"--user-data-dir={profile}", f"--screenshot={shot}",
           "--window-size=1400,2000", real[1].as_uri()]
    subprocess.run(cmd, capture_output=True, timeout=120, check=False)
    assert shot.is_file() and shot.stat().st_size > 20_000
    from PIL import Image

    with Image.open(shot) as im:
        colours = im.convert("RGB").getcolors(maxcolors=1 << 20) or []
    assert len(colours) > 50  # text, tables and the diagram, not a blank page
    dom = subprocess.run([*cmd[:-2], "--dump-dom", real[1].as_uri()], capture_output=True,
                         text=True, timeout=120, check=False).stdout
    assert all(p.id in dom for p in iabp_spec().properties)


# -- issue 10: full texts, links, test outcomes, progress -------------------------------

def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def test_full_texts_appear_untruncated(real: tuple[SharedRun, Path, Path]) -> None:
    html, md = real[1].read_text(), real[2].read_text()
    longest = [max((r.text for r in REQUIREMENTS), key=len),
               max((h.harm for h in HAZARDS), key=len),
               max((p.plain for p in iabp_spec().properties), key=len)]
    for text in longest:
        assert html_lib.escape(text) in html, text
        assert _md_cell(text) in md, text


def test_every_in_page_link_resolves(built: Built) -> None:
    html, md = built.html.read_text(), built.md.read_text()
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), "an anchor is defined twice"
    targets = set(re.findall(r'href="#([^"]+)"', html))
    assert not targets - set(ids), sorted(targets - set(ids))[:5]
    md_targets = set(re.findall(r"\]\(#([^)]+)\)", md))
    assert not md_targets - set(re.findall(r'<a id="([^"]+)"></a>', md))
    # hazard -> requirement -> property -> its queries and tests, each a link
    prop = iabp_spec().property(built.pid)
    for ident in (prop.hazards[0], prop.requirements[0], prop.id, f"{prop.id}-tests"):
        anchor = ident.lower()
        assert f'href="#{anchor}"' in html and f"](#{anchor})" in md, anchor
    section = html[html.index(f'<section id="{prop.id.lower()}">'):]
    section = section[:section.index("</section>")]
    assert re.search(rf'href="[^"#]+/{prop.id}\.step\.smt2"', section)
    assert re.search(r'href="[^"#]+\.py"><code>tests/', section)


def _html_row(html: str, test: str) -> str:
    rows = [r for r in re.findall(r"<tr>.*?</tr>", html, re.S) if f"<code>{test}</code>" in r]
    assert rows, test
    return rows[0]


def test_junit_outcomes_appear_on_their_rows(built: Built) -> None:
    html, md = built.html.read_text(), built.md.read_text()
    tests = html[html.index(f'<details id="{built.pid.lower()}-tests" open>'):]
    tests = tests[:tests.index("</details>")]  # unfolded: one of its tests failed
    assert "passed (2 runs)" in _html_row(tests, built.passed)
    assert "failed (1 of 2 runs)" in _html_row(tests, built.failed)
    assert "assert 1 == 2" in _html_row(tests, built.failed)
    assert ">skipped<" in _html_row(tests, built.skipped)
    summary = re.search(rf'href="#{built.pid.lower()}-tests"><span class="bad">(\d+) tests: '
                        r"1 failed, 1 passed, 1 skipped(, \d+ not run)?<", html)
    assert summary is not None  # its rows in the overview and the matrix, highlighted
    md_rows = {t: next(line for line in md.splitlines() if f"`{t}`" in line)
               for t in (built.passed, built.failed, built.skipped)}
    assert "failed (1 of 2 runs)" in md_rows[built.failed]
    assert "passed (2 runs)" in md_rows[built.passed]
    failing = html[html.index('<section id="test-results">'):]
    assert _html_row(failing, built.failed) and f"<code>{built.passed}</code>" not in failing
    assert "test_vanished" in failing and "Failing tests: 2." in failing
    assert f'href="#{built.pid.lower()}"' in _html_row(failing, built.failed)


def test_junit_of_a_real_pytest_run_maps_to_node_ids(tmp_path: Path) -> None:
    """pytest's own classname/name (not our idea of it) match the matrix's node ids."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "tests" / "sub").mkdir(parents=True)
    (tmp_path / "tests" / "sub" / "test_demo.py").write_text(
        "import pytest\n"
        "def test_ok(): pass\n"
        "@pytest.mark.parametrize('x', ['V-A', 'V-B'])\n"
        "def test_param(x): assert x == 'V-A'\n"
        "class TestK:\n"
        "    @pytest.mark.skip(reason='no chromium')\n"
        "    def test_skip(self): pass\n"
        "@pytest.fixture\n"
        "def broken(): raise RuntimeError('no port')\n"
        "def test_error(broken): pass\n")
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                    "--junitxml=out.xml", "tests"], cwd=tmp_path, capture_output=True,
                   timeout=120, check=False)
    res = load_junit(tmp_path / "out.xml")
    node = "tests/sub/test_demo.py::"
    got = {n: res.verdict(node + n).text() for n in
           ("test_ok", "test_param", "test_param[V-A]", "test_param[V-B]", "TestK::test_skip",
            "test_error", "test_nothing")}
    assert got == {"test_ok": "passed", "test_param": "failed (1 of 2 runs)",
                   "test_param[V-A]": "passed", "test_param[V-B]": "failed",
                   "TestK::test_skip": "skipped", "test_error": "error",
                   "test_nothing": "not run"}


@pytest.mark.parametrize("content", [None, "<testsuite><testcase name='x'>", "<html/>",
                                     "<testsuite><testcase classname='a'/></testsuite>"],
                         ids=["missing", "malformed", "not-junit", "nameless-case"])
def test_bad_test_results_exit_2_before_proving(
        content: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    xml = tmp_path / "tests.xml"
    if content is not None:
        xml.write_text(content)
    monkeypatch.setattr(report_cli, "prove_all", _fail_if_called)
    assert report_main(["--out", str(tmp_path / "r"), "--test-results", str(xml)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert err.startswith(f"iabp report: --test-results {xml}: ")
    assert not (tmp_path / "r").exists()


def _fail_if_called(spec: SystemSpec, *_: object, **__: object) -> None:
    raise AssertionError("proving started before --test-results was checked")


def test_stages_draw_a_bar_on_a_terminal_without_colour_under_no_color(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    with StageProgress("iabp report").stage("re-solving 2 queries", 2) as solved:
        solved()
        solved()
    err = capsys.readouterr().err
    assert "re-solving 2 queries" in err and "\x1b[" in err  # drawn, not a plain line
    assert not re.search(r"\x1b\[[0-9;]*(?:3[0-9]|38;)[0-9;]*m", err)  # no colour
