"""``iabp monitor`` and ``iabp log``: the monitor on the command line.

    iabp monitor URL [--patient PROFILE.json] [--log FILE] [--interlock URL]
                     [--interlock-line bytes|DTR|RTS] [--seconds S] [--realtime]
    iabp log verify FILE

``iabp monitor`` watches a console until ``--seconds`` elapse or Ctrl-C; type
``ack NAME`` (Enter) to acknowledge a latched safe state. (``iabp demo``, the simulated
console beside the monitor, lives in :mod:`iabp.sim.demo`.)

Exit status: 0 clean (log intact), 1 the fail-safe was entered (log tampered), 2 bad usage.
"""

from __future__ import annotations

import argparse
import os
import select
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn, TextIO

from iabp.monitor.audit_log import AuditLogError, verify_log
from iabp.monitor.reconstruct.reconstruction import PatientProfile, ProfileError
from iabp.monitor.runtime import Monitor, MonitorConfig, request_realtime


class UsageError(Exception):
    """A command line that cannot be run: the entry point prints it and returns 2."""


class ArgParser(argparse.ArgumentParser):
    """argparse that raises :class:`UsageError` instead of exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def positive_seconds(text: str) -> float:
    """An argparse type: a duration in seconds, in (0, 86400]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value <= 86400:
        raise argparse.ArgumentTypeError(f"seconds must be in (0, 86400], got {value}")
    return value


# -- iabp monitor ---------------------------------------------------------------------------


def _monitor_parser() -> ArgParser:
    p = ArgParser(prog="iabp monitor", description="Watch an IABP console's telemetry and fail "
                "safe (STOP, interlock, alarm, audit record) on any violation.")
    p.add_argument("url", help="console port URL: /dev/ttyUSB0, /dev/pts/N, socket://host:port")
    p.add_argument("--patient", default=None, metavar="PROFILE.json",
                   help="patient profile: recorded contraindications, trigger source")
    p.add_argument("--log", default=None, metavar="FILE", help="hash-chained audit log")
    p.add_argument("--interlock", default=None, metavar="URL",
                   help="port of the relay box (energise-to-run heartbeat)")
    p.add_argument("--interlock-line", default="bytes", choices=("bytes", "DTR", "RTS"),
                   help="heartbeat as bytes (default) or a toggling control line")
    p.add_argument("--seconds", type=positive_seconds, default=None,
                   help="end the session after S seconds (default: until Ctrl-C)")
    p.add_argument("--realtime", action="store_true",
                   help="run under real-time scheduling (SCHED_FIFO) if the OS allows it")
    return p


def _stdin_lines(stream: TextIO) -> Callable[[], str | None]:
    """A non-blocking reader of operator lines (``ack NAME``) from ``stream``'s descriptor
    (read raw, so a second line already received is never stranded in a buffer)."""
    try:
        fd = stream.fileno()
    except (OSError, ValueError, AttributeError):
        return lambda: None
    pending: list[str] = []
    buf = b""
    done = False

    def poll() -> str | None:
        nonlocal buf, done
        if pending:
            return pending.pop(0)
        if done:
            return None
        try:
            if not select.select([fd], [], [], 0)[0]:
                return None
            data = os.read(fd, 4096)
        except (OSError, ValueError):
            data = b""
        if not data:
            done = True
            return None
        *lines, buf = (buf + data).split(b"\n")
        pending.extend(x.decode("utf-8", "replace") for x in lines if x.strip())
        return pending.pop(0) if pending else None

    return poll


def monitor_main(argv: list[str]) -> int:
    """``iabp monitor``: 0 watched without a trip, 1 the safe state was entered, 2 bad usage."""
    err = sys.stderr
    try:
        a = _monitor_parser().parse_args(argv)
        profile = PatientProfile.load(a.patient) if a.patient else PatientProfile()
    except (UsageError, ProfileError) as exc:
        print(f"iabp monitor: {exc}" if isinstance(exc, ProfileError) else str(exc), file=err)
        return 2
    except SystemExit as exc:  # --help
        return int(exc.code) if isinstance(exc.code, int) else 0
    if a.realtime:
        refused = request_realtime()
        if refused:
            print(f"iabp monitor: {refused}; running with normal scheduling", file=err)
    config = MonitorConfig(interlock_line=a.interlock_line)
    mon = Monitor(a.url, profile, a.log, a.interlock, config=config, out=err)
    operator = _stdin_lines(sys.stdin) if sys.stdin is not None else None
    try:
        status = mon.run(a.seconds, operator_input=operator)
    except AuditLogError as exc:
        print(f"iabp monitor: {exc}", file=err)
        return 2
    _print_summary(mon, err)
    return status


def _print_summary(mon: Monitor, out: TextIO) -> None:
    s = mon.summary()
    print(f"iabp monitor: {s['frames']} frames, {s['violations']} violations, "
          f"{sum(s['integrity_events'].values())} integrity faults, "
          f"{s['stops_sent']} STOP commands; safe state "
          f"{'ENTERED' if s['safe_state_entered'] else 'never entered'}", file=out)
    if mon.failsafe.first_trip is not None:
        print(f"  first trip: {mon.failsafe.first_trip.message()}", file=out)


# -- iabp log -------------------------------------------------------------------------------


def log_main(argv: list[str]) -> int:
    """``iabp log verify FILE``: 0 intact, 1 tampered or damaged, 2 bad usage."""
    if len(argv) != 2 or argv[0] != "verify":
        print("usage: iabp log verify FILE", file=sys.stderr)
        return 2
    path = Path(argv[1])
    if not path.is_file():
        print(f"iabp log: no such file {str(path)!r}", file=sys.stderr)
        return 2
    result = verify_log(path)
    if result.ok:
        print(f"{path}: OK, {result.records} records, {result.status.value}")
        return 0
    print(f"{path}: BROKEN at line {result.first_bad_line} ({result.problem.value if result.problem else '?'}): "
          f"{result.detail}")
    return 1
