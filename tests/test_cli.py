"""The ``iabp`` command's conventions: --version, help on the right stream, exit codes,
a closed pipe, Ctrl-C, a start-up that imports nothing heavy, -q/-v, and progress bars
that only a terminal's stderr gets."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from importlib.metadata import version

import pytest

from iabp import __main__ as iabp_cli
from iabp.terminal import ProgressBar

HEAVY = ("numpy", "scipy", "matplotlib", "z3", "wfdb")


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version(flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert iabp_cli.main([flag]) == 0
    assert capsys.readouterr().out == f"iabp {version('iabp-safety')}\n"


def test_help_goes_to_stdout_and_bare_iabp_to_stderr(
        capsys: pytest.CaptureFixture[str]) -> None:
    for flag in ("--help", "-h"):
        assert iabp_cli.main([flag]) == 0
        captured = capsys.readouterr()
        assert "iabp prove" in captured.out and captured.err == ""
    assert iabp_cli.main([]) == 2
    captured = capsys.readouterr()
    assert "iabp prove" in captured.err and captured.out == ""


def test_unknown_command_goes_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    assert iabp_cli.main(["frobnicate"]) == 2
    captured = capsys.readouterr()
    assert "unknown command 'frobnicate'" in captured.err and captured.out == ""


def _interrupted(argv: list[str]) -> int:
    raise KeyboardInterrupt


def test_ctrl_c_in_any_command_is_exit_130(monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(iabp_cli.COMMANDS, "watchdog", ("tests.test_cli", "_interrupted"))
    assert iabp_cli.main(["watchdog"]) == 130
    assert capsys.readouterr().err == "iabp: interrupted\n"


def _run(*args: str, stdout: int | None = subprocess.PIPE,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], stdout=stdout, stderr=subprocess.PIPE,
                          text=True, timeout=60, env=env)


@pytest.mark.parametrize("argv", [["--help"],
                                  ["prove", "--property", "P-STANDBY-DEFLATED", "--no-artifacts"]])
def test_a_closed_pipe_is_no_traceback(argv: list[str]) -> None:
    """``iabp --help | head -1`` when head has already gone: no BrokenPipeError shown."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = _run("-m", "iabp", *argv, stdout=write_end)
    finally:
        os.close(write_end)
    # 141 (128 + SIGPIPE) from iabp.__main__; rich's consoles (prove) stop with 1 instead
    assert proc.returncode == (141 if argv == ["--help"] else 1)
    assert proc.stderr == ""


def heavy_imports(*args: str, heavy: tuple[str, ...] = HEAVY
                  ) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run ``python ARGS`` with Python's import profile on: the finished process and the
    modules of the ``heavy`` packages it imported (none, for a light start-up)."""
    proc = _run(*args, env={**os.environ, "PYTHONPROFILEIMPORTTIME": "1"})
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines()
                if line.startswith("import time:")}
    assert "encodings" in imported  # the profile did record the imports
    return proc, sorted(m for m in imported if m.split(".")[0] in heavy)


@pytest.mark.parametrize("flag", ["--help", "--version"])
def test_help_and_version_import_nothing_heavy(flag: str) -> None:
    proc, heavy = heavy_imports("-m", "iabp", flag)
    assert proc.returncode == 0 and proc.stdout.startswith(("The ``iabp`` command", "iabp "))
    assert not heavy, heavy


# Options whose value is a duration carry its unit in their first name (issue 10: seconds
# and milliseconds were mixed under one word, e.g. prove --timeout s vs watchdog --timeout
# ms); the old spelling stays as an alias.
_DURATION_OPTION = re.compile(r"^\s+(--[a-z0-9-]+) (MS|S)\b", re.MULTILINE)


@pytest.mark.parametrize("command", [c for c in iabp_cli.COMMANDS if c not in ("log", "audit")])
def test_every_duration_option_names_its_unit(command: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert iabp_cli.main([command, "--help"]) == 0
    out = capsys.readouterr().out
    for name, metavar in _DURATION_OPTION.findall(out):
        unit = "-ms" if metavar == "MS" else "-s"
        assert name.endswith(unit) or name == "--seconds", (command, name, metavar)


# -- -q / -v and progress bars (iabp.terminal) ----------------------------------------------

#: every command that takes -q/-v, with the arguments it needs to get as far as its options
QUIET_VERBOSE = [["prove"], ["margins"], ["simulate"], ["check", "capture.bin"],
                 ["monitor", "loop://"], ["demo"], ["audit", "verify", "artifacts"],
                 ["log", "verify", "audit.jsonl"], ["log", "show", "audit.jsonl"]]


@pytest.mark.parametrize("argv", QUIET_VERBOSE, ids=" ".join)
def test_quiet_and_verbose_are_documented_and_exclusive(argv: list[str],
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    assert iabp_cli.main([*argv, "-q", "-v"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "Traceback" not in captured.err
    assert len(captured.err.strip().splitlines()) == 1, captured.err
    assert "not allowed with argument -q/--quiet" in captured.err
    assert iabp_cli.main([*argv, "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "-q, --quiet say less:" in text and "-v, --verbose say more:" in text


class FakeTerminal(io.StringIO):
    """A stream that says it is a terminal (as a real stderr on a console would)."""

    def isatty(self) -> bool:
        return True


def test_a_progress_bar_is_drawn_on_stderr_only_when_it_is_a_terminal(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    with ProgressBar("re-solving", 4) as bar:  # stderr captured: not a terminal
        for done in range(5):
            bar.update(done)
    assert not bar.enabled and capsys.readouterr() == ("", "")
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    with ProgressBar("re-solving", 4, shown=False) as bar:  # -q or --json
        bar.advance()
    assert terminal.getvalue() == ""
    with ProgressBar("re-solving", 4) as bar:
        bar.advance(4)
    assert "re-solving" in terminal.getvalue()
    assert capsys.readouterr().out == ""  # stdout untouched
