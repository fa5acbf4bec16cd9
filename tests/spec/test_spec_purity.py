"""spec/ is declarations only: no solver, no serial port, no file or network I/O."""

from __future__ import annotations

import ast
from pathlib import Path

SPEC_DIR = Path(__file__).resolve().parents[2] / "spec"
ALLOWED = {"__future__", "dataclasses", "enum", "fractions", "functools", "math", "hashlib",
           "collections", "collections.abc", "typing", "spec"}
FORBIDDEN_CALLS = {"open", "print", "input", "exec", "eval", "__import__"}


def _imports(tree: ast.AST) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
    return out


def test_spec_imports_only_pure_modules() -> None:
    files = sorted(SPEC_DIR.glob("*.py"))
    assert len(files) >= 10
    for f in files:
        tree = ast.parse(f.read_text(), str(f))
        for mod in _imports(tree):
            top = mod.split(".")[0]
            assert mod in ALLOWED or top in ALLOWED, f"{f.name} imports {mod}"


def test_spec_makes_no_io_calls() -> None:
    for f in sorted(SPEC_DIR.glob("*.py")):
        tree = ast.parse(f.read_text(), str(f))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in FORBIDDEN_CALLS, f"{f.name} calls {node.func.id}()"


def test_the_purity_check_would_catch_a_solver_import(tmp_path: Path) -> None:
    bad = ast.parse("import z3\nfrom serial import Serial\n")
    assert {"z3", "serial"} <= _imports(bad)
    assert not ({"z3", "serial"} & ALLOWED)
