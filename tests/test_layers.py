"""The layers of the house, enforced: one spec, the engines that translate it, three users.

    sim, the ``iabp`` command           may import anything of ours
    proofs                              spec, spec.engines, keys, terminal, proofs
    controller | monitor                spec, spec.engines, itself (monitor: keys and
                                        terminal too); never each other, nor sim
    keys (Ed25519 key files)            spec.errors only (and cryptography)
    terminal (rich output for the CLIs) nothing of ours (rich)
    spec.engines (spec -> Python, the settings validator)    spec declarations only
    spec (declarations)                 nothing of ours but spec; no solver, no I/O

Also: no import circle between files, no underscore name imported from another file,
and every import of ours goes through the one installed namespace ``iabp``.
The checks read the source with :mod:`ast` (every import counts: top-level, deferred
in a function, or under ``TYPE_CHECKING``), so nothing has to be imported to judge it.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("spec", "controller", "monitor", "proofs", "sim")
ENGINES = "spec.engines"
#: modules at the package root that several layers share (``keys.py`` is ``iabp.keys``)
SHARED = ("keys", "terminal")

#: what each layer may import, of ours (layer names are module prefixes without ``iabp.``)
MAY_IMPORT: dict[str, tuple[str, ...]] = {
    "spec": ("spec",),
    ENGINES: ("spec", ENGINES),
    "controller": ("spec", ENGINES, "controller"),
    "monitor": ("spec", ENGINES, "keys", "terminal", "monitor"),
    "proofs": ("spec", ENGINES, "keys", "terminal", "proofs"),
    "sim": PACKAGES + SHARED,
    "keys": ("spec",),
    "terminal": (),
}
#: the standard-library modules the spec's declarations may use (no solver, no I/O; the
#: context modules carry the world a spec is built for, spec.assumptions.in_world)
SPEC_STDLIB = {"__future__", "dataclasses", "enum", "fractions", "functools", "math", "hashlib",
               "collections", "collections.abc", "typing", "itertools", "contextlib",
               "contextvars"}
#: ... and what the engines may add (generating Python source is neither a solver nor I/O)
ENGINE_STDLIB = SPEC_STDLIB | {"keyword"}
FORBIDDEN_CALLS = {"open", "print", "input", "eval", "__import__"}


@dataclass(frozen=True)
class Import:
    """One import statement of one file: the module it names (absolute) and the names taken."""

    file: Path
    line: int
    module: str
    names: tuple[str, ...]


def module_of(path: Path) -> str:
    """``monitor/rules/base.py`` -> ``iabp.monitor.rules.base`` (``__init__`` -> the package)."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(["iabp", *parts])


def package_files() -> list[Path]:
    out = [ROOT / "__main__.py", *(ROOT / f"{m}.py" for m in SHARED)]
    for pkg in PACKAGES:
        out += sorted((ROOT / pkg).rglob("*.py"))
    return out


def imports_of(path: Path) -> Iterator[Import]:
    tree = ast.parse(path.read_text(), str(path))
    here = module_of(path) if path.name != "__init__.py" else module_of(path) + ".__init__"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield Import(path, node.lineno, a.name, ())
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.split(".")[: -node.level]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            yield Import(path, node.lineno, module, tuple(a.name for a in node.names))


def layer_of(module: str) -> str | None:
    """The layer of an ``iabp.*`` module, or None for ``iabp`` itself (the command)."""
    rest = module.removeprefix("iabp.")
    if rest.startswith(ENGINES + ".") or rest == ENGINES:
        return ENGINES
    if rest in SHARED:
        return rest
    top = rest.split(".")[0]
    return top if top in PACKAGES else None


def ours(module: str) -> bool:
    return module == "iabp" or module.startswith("iabp.")


def resolve(imp: Import, known: set[str]) -> list[str]:
    """The modules of ours an import loads: ``from iabp.x import y`` loads ``iabp.x.y`` when
    that is a module, else ``iabp.x``."""
    if not ours(imp.module):
        return []
    subs = [f"{imp.module}.{n}" for n in imp.names if f"{imp.module}.{n}" in known]
    return subs if subs and len(subs) == len(imp.names) else [imp.module, *subs]


def layering_violations() -> list[str]:
    out = []
    for f in package_files():
        src = layer_of(module_of(f))
        if src is None or src == "sim":
            continue
        for imp in imports_of(f):
            if not ours(imp.module):
                continue
            dst = layer_of(imp.module)
            if dst is None or dst not in MAY_IMPORT[src]:
                out.append(f"{f.relative_to(ROOT)}:{imp.line}: {src} imports {imp.module}")
    return out


def import_graph() -> dict[str, set[str]]:
    files = package_files()
    known = {module_of(f) for f in files}
    graph: dict[str, set[str]] = {m: set() for m in known}
    for f in files:
        src = module_of(f)
        for imp in imports_of(f):
            for dst in resolve(imp, known):
                if dst in known and dst != src:
                    graph[src].add(dst)
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one file (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_runs_up_a_layer_or_across_controller_and_monitor() -> None:
    assert layering_violations() == []


def test_no_import_circle_between_files() -> None:
    assert circles(import_graph()) == []


def test_no_underscore_name_is_imported_from_another_file() -> None:
    bad = []
    for f in package_files() + sorted((ROOT / "tests").rglob("*.py")):
        for imp in imports_of(f):
            if ours(imp.module):
                bad += [f"{f.relative_to(ROOT)}:{imp.line}: {imp.module}.{n}"
                        for n in imp.names if n.startswith("_") and n != "__main__"]
    assert bad == []


@pytest.mark.parametrize("folder", ["tests", "benchmarks", *PACKAGES])
def test_every_import_of_ours_goes_through_the_iabp_namespace(folder: str) -> None:
    bad = []
    for f in sorted((ROOT / folder).rglob("*.py")):
        for imp in imports_of(f):
            top = imp.module.split(".")[0]
            if top in PACKAGES or top in SHARED or top == "iabp_cli":
                bad.append(f"{f.relative_to(ROOT)}:{imp.line}: {imp.module}")
    assert bad == []


def test_spec_declarations_use_only_pure_standard_modules() -> None:
    bad = []
    for f in sorted((ROOT / "spec").rglob("*.py")):
        engine = layer_of(module_of(f)) == ENGINES
        allowed = ENGINE_STDLIB if engine else SPEC_STDLIB
        for imp in imports_of(f):
            if not ours(imp.module) and imp.module not in allowed:
                bad.append(f"{f.relative_to(ROOT)}: imports {imp.module}")
    assert bad == []


def test_the_key_module_needs_only_the_standard_library_cryptography_and_our_errors() -> None:
    """iabp.keys is shared by the monitor and the prover, so it must pull in neither."""
    bad = [f"{imp.line}: {imp.module}" for imp in imports_of(ROOT / "keys.py")
           if imp.module.split(".")[0] not in sys.stdlib_module_names
           and imp.module.split(".")[0] != "cryptography" and imp.module != "iabp.spec.errors"]
    assert bad == []


def test_spec_makes_no_io_calls() -> None:
    bad = []
    for f in sorted((ROOT / "spec").rglob("*.py")):
        for node in ast.walk(ast.parse(f.read_text(), str(f))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in FORBIDDEN_CALLS):
                bad.append(f"{f.relative_to(ROOT)}:{node.lineno}: {node.func.id}()")
    assert bad == []


# -- the checks can fail ----------------------------------------------------------------------


def _fake(tmp_path: Path, rel: str, text: str) -> Path:
    p = tmp_path / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


def test_the_layer_check_catches_monitor_importing_controller(monkeypatch: pytest.MonkeyPatch,
                                                             tmp_path: Path) -> None:
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    _fake(tmp_path, "__main__.py", "")
    for pkg in PACKAGES:
        _fake(tmp_path, f"{pkg}/__init__.py", "")
    _fake(tmp_path, "monitor/x.py", "from iabp.controller.triggers import RWaveDetector\n")
    _fake(tmp_path, "spec/y.py", "from ..monitor import x\nimport z3\n")
    _fake(tmp_path, "proofs/z.py", "from iabp.keys import key_id\n")  # allowed
    _fake(tmp_path, "keys.py", "from iabp.monitor.x import y\nimport z3\n")
    _fake(tmp_path, "terminal.py", "from iabp.spec.errors import IabpError\n")
    found = layering_violations()
    assert any("monitor imports iabp.controller.triggers" in v for v in found)
    assert any("spec imports iabp.monitor" in v for v in found)
    assert any("keys.py:1: keys imports iabp.monitor.x" in v for v in found)
    assert any("terminal.py:1: terminal imports iabp.spec.errors" in v for v in found)
    assert not any("proofs/z.py" in v for v in found)
    with pytest.raises(AssertionError):
        test_spec_declarations_use_only_pure_standard_modules()
    with pytest.raises(AssertionError):
        test_the_key_module_needs_only_the_standard_library_cryptography_and_our_errors()


def test_the_circle_check_catches_two_files_importing_each_other() -> None:
    graph = {"a": {"b"}, "b": {"a"}, "c": {"a"}}
    assert circles(graph) == [["a", "b"]]
