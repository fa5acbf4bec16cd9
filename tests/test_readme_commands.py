"""Every command in the README runs verbatim, the way a person types it (issue 10).

Each ```` ```bash ```` block of README.md is run, in README order, by one bash shell per
block, in one empty working directory that has ``../shared`` beside it (the repository's
data folder, as in a checkout), with relative paths exactly as written. A line whose
comment says ``(exit N)`` must exit with N; every other line must exit 0. A line ending in
``&`` runs in the background and is waited for at the end of its block, with the same
rule. The set-up block's ``python -m pip install ...`` and ``python -m pytest`` commands
are not run here (the package is installed; CI runs exactly those two itself): its
``iabp prove`` is.

The whole README takes minutes (``iabp margins``, ``iabp report``, ``iabp audit verify``
re-solving every query with z3 and cvc5), so this module is marked ``readme`` and left
out of the default run (``addopts`` in pyproject.toml); CI runs it as its own step:
``python -m pytest -m readme``.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from iabp.sim.records import default_data_dir

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BLOCK_TIMEOUT_S = 1200.0  #: one block (the auditor's: prove, report, re-solve everything)
EXPECTED_EXIT = re.compile(r"#.*\(exit (\d+)\)")
NOT_RUN_HERE = ("python -m pip install", "python -m pytest")  #: CI runs these itself

pytestmark = pytest.mark.readme


@dataclass(frozen=True)
class Command:
    """One README line: what a person types, where it is, what exit status it must give."""

    text: str
    line_no: int
    expected_exit: int

    @property
    def background(self) -> bool:
        return _without_comment(self.text).rstrip().endswith("&")


def _without_comment(line: str) -> str:
    """The line without a trailing ``# comment`` (bash's rule: ``#`` after a blank, outside
    quotes; README lines quote with ``'`` only)."""
    quoted = False
    for i, ch in enumerate(line):
        if ch == "'":
            quoted = not quoted
        elif ch == "#" and not quoted and (i == 0 or line[i - 1].isspace()):
            return line[:i]
    return line


def readme_blocks(text: str) -> list[list[Command]]:
    """The commands of every ```` ```bash ```` block, in order, with their line numbers."""
    blocks: list[list[Command]] = []
    current: list[Command] | None = None
    for no, line in enumerate(text.splitlines(), start=1):
        fence = line.strip()
        if current is None:
            if fence == "```bash":
                current = []
            continue
        if fence == "```":
            blocks.append(current)
            current = None
            continue
        if not _without_comment(line).strip():
            continue
        m = EXPECTED_EXIT.search(line)
        current.append(Command(line, no, int(m.group(1)) if m else 0))
    assert current is None, "README.md has an unclosed ```bash block"
    return blocks


def runnable(cmd: Command) -> Command | None:
    """``cmd`` without the ``&&``-joined parts CI runs itself (pip install, pytest); None
    if nothing is left."""
    parts = [p.strip() for p in _without_comment(cmd.text).split("&&")]
    kept = [p for p in parts if not p.startswith(NOT_RUN_HERE)]
    if not kept:
        return None
    if len(kept) == len(parts):
        return cmd
    return Command(" && ".join(kept), cmd.line_no, cmd.expected_exit)


def block_script(commands: list[Command]) -> str:
    """A bash script running ``commands`` as typed and failing loudly on a wrong exit."""
    out = ["pids=()", "lines=()", "expect=()"]
    for c in commands:
        where = f"README.md:{c.line_no}"
        if c.background:
            out += [c.text, f"pids+=($!); lines+=({shlex.quote(where)}); "
                    f"expect+=({c.expected_exit})"]
        else:
            out += [c.text, "rc=$?",
                    f"if [ $rc -ne {c.expected_exit} ]; then echo \"{where}: exit $rc, expected "
                    f"{c.expected_exit}: \"{shlex.quote(c.text)} >&2; exit 99; fi"]
    out += ['for i in "${!pids[@]}"; do wait "${pids[$i]}"; rc=$?',
            '  if [ $rc -ne "${expect[$i]}" ]; then',
            '    echo "${lines[$i]}: background command exit $rc, expected ${expect[$i]}" >&2',
            "    exit 99; fi; done"]
    return "\n".join(out) + "\n"


BLOCKS = readme_blocks(README.read_text())


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty directory with ``../shared`` beside it, as a checkout has."""
    base = tmp_path_factory.mktemp("readme")
    shared = default_data_dir().resolve().parents[1]  # .../shared (data/physionet below)
    (base / "shared").symlink_to(shared, target_is_directory=True)
    work = base / "work"
    work.mkdir()
    return work


def test_the_readme_has_runnable_blocks() -> None:
    lines = [c.text for b in BLOCKS for c in b]
    assert any(t.startswith("iabp prove") for t in lines)
    assert any("iabp monitor socket:" in t for t in lines)
    assert all(runnable(c) is not None for b in BLOCKS[1:] for c in b)


@pytest.mark.parametrize("index", range(len(BLOCKS)),
                         ids=[f"line{b[0].line_no}" if b else "empty" for b in BLOCKS])
def test_readme_block_runs_verbatim(index: int, workdir: Path) -> None:
    commands = [c for c in (runnable(c) for c in BLOCKS[index]) if c is not None]
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("IABP_PHYSIONET_DIR", None)  # the README's paths must work on their own
    proc = subprocess.run(["bash", "-c", block_script(commands)], cwd=workdir, env=env,
                          capture_output=True, text=True, timeout=BLOCK_TIMEOUT_S)
    assert proc.returncode == 0, (
        f"README block at line {BLOCKS[index][0].line_no} failed:\n{proc.stderr[-3000:]}\n"
        f"--- stdout (end) ---\n{proc.stdout[-2000:]}")
