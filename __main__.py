"""The ``iabp`` command: one entry point, one subcommand per job.

    iabp prove      prove every safety property (proofs.cli)
    iabp simulate   run the closed loop: patient + triggers + verified controller
    iabp console    run the simulated console on a serial URL
    iabp monitor    watch a console over a serial URL and fail safe
    iabp demo       simulated console and monitor on a pty pair, with a chosen fault
    iabp watchdog   the interlock's other end (what a relay box does)
    iabp report     HTML/Markdown evidence report with the traceability matrix
    iabp audit      re-check proof artifacts (``iabp audit verify DIR``)
    iabp log        check an audit log (``iabp log verify FILE``)

Exit status: 0 success, 1 a property failed or the monitor tripped, 2 bad usage.
"""

from __future__ import annotations

import importlib
import sys

COMMANDS: dict[str, tuple[str, str]] = {
    "prove": ("iabp.proofs.cli", "main"),
    "simulate": ("iabp.sim.cli", "simulate_main"),
    "console": ("iabp.sim.cli", "console_main"),
    "monitor": ("iabp.monitor.cli", "monitor_main"),
    "demo": ("iabp.sim.demo", "demo_main"),
    "watchdog": ("iabp.sim.relay_box", "watchdog_main"),
    "report": ("iabp.proofs.report.cli", "report_main"),
    "audit": ("iabp.proofs.report.cli", "audit_main"),
    "log": ("iabp.monitor.cli", "log_main"),
}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if args else 2
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"iabp: unknown command {name!r}\n{__doc__}", file=sys.stderr)
        return 2
    module_name, func = COMMANDS[name]
    try:
        module = importlib.import_module(module_name)
        entry = getattr(module, func)
    except (ImportError, AttributeError) as exc:
        print(f"iabp {name}: not available in this build ({exc})", file=sys.stderr)
        return 2
    result: int = entry(rest)
    return result


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
