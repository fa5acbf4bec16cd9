"""Which tests exercise which IDs: a static scan of ``tests/`` and pytest's collected ids.

The linking convention is described in :mod:`iabp.proofs.traceability.matrix` (and in
:data:`iabp.proofs.traceability.model.TEST_CONVENTION`).
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from iabp.proofs.traceability.model import TestLink


def _strings(node: ast.AST) -> list[str]:
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant)
            and isinstance(n.value, str)]


def _id_pattern(known: set[str]) -> re.Pattern[str]:
    alts = "|".join(re.escape(k) for k in sorted(known, key=len, reverse=True))
    return re.compile(rf"(?<![\w-])(?:{alts})(?![\w-])")


def _ids_in(texts: Iterable[str], known: set[str]) -> set[str]:
    if not known:
        return set()
    pattern = _id_pattern(known)
    return {m for t in texts for m in pattern.findall(t)}


def _ids_in_name(name: str, known: set[str]) -> set[str]:
    low = name.lower()
    return {k for k in known
            if re.search(rf"(?:^|_){re.escape(k.lower().replace('-', '_'))}(?:_|$)", low)}


def _is_marker(dec: ast.expr) -> bool:
    text = ast.unparse(dec)
    return ".mark." in text or text.startswith("mark.")


def _tests_in(tree: ast.Module) -> list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef,
                                              ast.ClassDef | None]]:
    out: list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef, ast.ClassDef | None]] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
                "test"):
            out.append((node.name, node, None))
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            out += [(f"{node.name}::{f.name}", f, node) for f in node.body
                    if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)
                    and f.name.startswith("test")]
    return out


def _module_links(tree: ast.Module, known: set[str]) -> list[tuple[str, set[str]]]:
    out = [("module docstring", _ids_in([ast.get_docstring(tree) or ""], known))]
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "pytestmark"
                                                for t in node.targets):
            out.append(("module marker", _ids_in(_strings(node.value), known)))
    return out


def scan_test_file(path: Path, rel: str, known: set[str]) -> dict[str, list[TestLink]]:
    """The IDs each test of one file exercises (rules: :mod:`iabp.proofs.traceability.matrix`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    module_level = _module_links(tree, known)
    found: dict[str, list[TestLink]] = {}
    for name, fn, cls in _tests_in(tree):
        node_id = f"{rel}::{name}"
        sources: list[tuple[str, set[str]]] = [
            ("marker", _ids_in([s for d in fn.decorator_list if _is_marker(d)
                                for s in _strings(d)], known)),
            ("name", _ids_in_name(fn.name, known)),
            ("docstring", _ids_in([ast.get_docstring(fn) or ""], known)),
            *module_level,
        ]
        if cls is not None:
            sources.append(("class docstring", _ids_in([ast.get_docstring(cls) or ""], known)))
            sources.append(("class marker", _ids_in(
                [s for d in cls.decorator_list if _is_marker(d) for s in _strings(d)], known)))
        seen: set[str] = set()
        for via, ids in sources:
            for i in sorted(ids - seen):
                found.setdefault(i, []).append(TestLink(node_id, via))
            seen |= ids
    return found


def collect_node_ids(tests_dir: Path, timeout_s: float = 180.0) -> list[str] | None:
    """The node ids pytest collects under ``tests_dir`` (parameter ids included), or None.

    Runs ``pytest --collect-only`` in a subprocess, so IDs that only exist at run time
    (``@pytest.mark.parametrize("v", variants(), ids=...)``) are seen too.
    """
    cmd = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-o", "addopts=",
           "-p", "no:cacheprovider", str(tests_dir)]
    try:
        proc = subprocess.run(cmd, cwd=tests_dir.parent, capture_output=True, text=True,
                              timeout=timeout_s)
    except (OSError, subprocess.SubprocessError):
        return None
    return [ln.strip() for ln in proc.stdout.splitlines() if "::" in ln]


def _param_links(node_ids: Iterable[str], known: set[str]) -> dict[str, list[TestLink]]:
    found: dict[str, list[TestLink]] = {}
    for nid in node_ids:
        if "[" in nid:
            for i in _ids_in([nid[nid.index("["):]], known):
                found.setdefault(i, []).append(TestLink(nid, "parameter id"))
    return found


def scan_tests(tests_dir: Path, known: set[str],
               variant_breaks: Mapping[str, str] | None = None,
               node_ids: Iterable[str] | None = None) -> dict[str, list[TestLink]]:
    """Every test under ``tests_dir`` that exercises each known ID (variants followed).

    ``node_ids`` (from :func:`collect_node_ids`) adds the tests whose parameter ids name
    an ID.
    """
    vb = dict(variant_breaks or {})
    ids = known | set(vb)
    per_id: dict[str, list[TestLink]] = {}
    for path in sorted(tests_dir.rglob("test_*.py")):
        rel = path.relative_to(tests_dir.parent).as_posix()
        try:
            per_file = scan_test_file(path, rel, ids)
        except SyntaxError:
            continue
        for i, links in per_file.items():
            per_id.setdefault(i, []).extend(links)
    for i, links in _param_links(node_ids or [], ids).items():
        per_id.setdefault(i, []).extend(links)
    found: dict[str, list[TestLink]] = {}
    for i, links in per_id.items():
        found.setdefault(i, []).extend(links)
        if i in vb:
            found.setdefault(vb[i], []).extend(
                TestLink(t.test, f"variant {i} ({t.via})") for t in links)
    return found
