"""``iabp report``: one self-contained HTML page (and its Markdown twin) an auditor can read.

The HTML must render with no network: no external src/href, inline CSS and figures, a
Content-Security-Policy that forbids fetching. When Debian's chromium is installed it
is rendered headless and screenshotted; otherwise that test is skipped.
"""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from iabp.proofs.report.build import (
    build_report,
    counterexample_png,
    mode_diagram_svg,
    spec_constants,
)
from iabp.proofs.report.cli import report_main
from iabp.spec import assumptions as assumptions_module
from iabp.spec.assumptions import ASSUMPTIONS
from iabp.spec.iabp import iabp_spec
from iabp.spec.mode_table import MODE_TABLE
from iabp.spec.requirements import HAZARDS, REQUIREMENTS
from iabp.spec.settings import SETTINGS
from iabp.spec.variants import variant
from tests.proofs.test_audit import CEX_VARIANT, SMALL_VARIANT, SharedRun, shared_run

EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:[a-z][a-z0-9+.-]*:)?//""", re.I)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> tuple[SharedRun, Path, Path]:
    """The report on the shared run of the real spec (re-check included), written once."""
    run = shared_run(tmp_path_factory)
    out = tmp_path_factory.mktemp("report")
    report = build_report(run.art, iabp_spec(), out, recheck=run.audit().recheck)
    html_path, md_path = report.write(out)
    return run, html_path, md_path


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
    assert links and all(link.endswith((".smt2", ".csv", ".json")) for link in links)
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


def test_report_proves_and_rechecks_by_itself(tmp_path: Path) -> None:
    vid, pid = SMALL_VARIANT
    code = report_main(["--out", str(tmp_path), "--variant", vid, "--property", pid,
                        "--no-test-collect", "--diagram", "builtin"])
    assert code == 1
    html = (tmp_path / "report.html").read_text()
    assert (tmp_path / "artifacts" / pid / f"{pid}.step.smt2").is_file()
    assert f'href="artifacts/{pid}/{pid}.step.smt2"' in html
    assert "3 queries re-solved" in html and "refuted" in html
    assert "the built-in SVG layout" in html


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
