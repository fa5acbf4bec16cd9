"""The ``iabp`` command: one entry point, one subcommand per job.

    iabp prove      prove every safety property (proofs.cli)
    iabp margins    how much worse each heart/hardware constant may be before a proof fails
    iabp simulate   run the closed loop: patient + triggers + verified controller
    iabp console    run the simulated console on a serial URL
    iabp monitor    watch a console over a serial URL and fail safe
    iabp view       live view of a running monitor (its --status-udp feed): a local web page
    iabp demo       simulated console and monitor on a pty pair, with a chosen fault
    iabp watchdog   the interlock's other end (what a relay box does)
    iabp report     HTML/Markdown evidence report with the traceability matrix
    iabp audit      re-check proof artifacts (``iabp audit verify DIR``)
    iabp log        monitor key; check, show, plot an audit log (``iabp log verify FILE``)
    iabp check      the monitor's rules over a recorded telemetry capture, offline

    iabp COMMAND --help   that command's options
    iabp --version        the installed version

Exit status: 0 success, 1 a property failed or the monitor tripped, 2 bad usage,
130 interrupted (Ctrl-C). Results go to stdout, errors and warnings to stderr; --json
(prove, audit verify, log verify/show, check, monitor) prints only JSON on stdout;
-q prints only the verdict line, -v more detail; NO_COLOR turns colour off.
"""

# Keep this module light: ``iabp --help`` and ``iabp --version`` import nothing heavy
# (numpy, scipy, matplotlib, z3, wfdb load with the subcommand that needs them;
# tests/test_cli.py checks it).

from __future__ import annotations

import importlib
import os
import sys

COMMANDS: dict[str, tuple[str, str]] = {
    "prove": ("iabp.proofs.cli", "main"),
    "margins": ("iabp.proofs.margins_cli", "main"),
    "simulate": ("iabp.sim.cli", "simulate_main"),
    "console": ("iabp.sim.cli", "console_main"),
    "monitor": ("iabp.monitor.cli", "monitor_main"),
    "view": ("iabp.monitor.view", "view_main"),
    "demo": ("iabp.sim.demo", "demo_main"),
    "watchdog": ("iabp.sim.relay_box", "watchdog_main"),
    "report": ("iabp.proofs.report.cli", "report_main"),
    "audit": ("iabp.proofs.report.cli", "audit_main"),
    "log": ("iabp.monitor.log_cli", "log_main"),
    "check": ("iabp.monitor.check", "check_main"),
}
DISTRIBUTION = "iabp-safety"
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a Ctrl-C
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports ``... | head``


def version() -> str:
    """The installed distribution's version (``importlib.metadata``)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version(DISTRIBUTION)
    except PackageNotFoundError:
        return "unknown (not installed)"


def main(argv: list[str] | None = None) -> int:
    """Run ``iabp ARGS``; return the exit status."""
    args = sys.argv[1:] if argv is None else argv
    try:
        code = _dispatch(args)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:  # a subcommand that does not handle Ctrl-C itself
        print("iabp: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return code


def _dispatch(args: list[str]) -> int:
    if not args:
        print(__doc__, file=sys.stderr)
        return EXIT_USAGE
    if args[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    if args[0] in ("-V", "--version"):
        print(f"iabp {version()}")
        return 0
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"iabp: unknown command {name!r}\n{__doc__}", file=sys.stderr)
        return EXIT_USAGE
    module_name, func = COMMANDS[name]
    try:
        module = importlib.import_module(module_name)
        entry = getattr(module, func)
    except (ImportError, AttributeError) as exc:
        print(f"iabp {name}: not available in this build ({exc})", file=sys.stderr)
        return EXIT_USAGE
    result: int = entry(rest)
    return result


def _silence_stdout() -> None:
    """After a closed pipe: point stdout at /dev/null so the interpreter's final flush of
    the unwritten rest neither raises nor prints a traceback."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no file descriptor behind sys.stdout (a test's capture)
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
