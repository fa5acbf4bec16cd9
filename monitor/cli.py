"""``iabp monitor``, ``iabp demo`` and ``iabp log``: the monitor on the command line.

    iabp monitor URL [--patient PROFILE.json] [--log FILE] [--interlock URL]
                     [--interlock-line bytes|DTR|RTS] [--seconds S] [--realtime]
    iabp demo [--fault NAME|none] [--seconds S] [--fault-at S] [--log FILE]
    iabp log verify FILE

``iabp monitor`` watches a console until ``--seconds`` elapse or Ctrl-C; type
``ack NAME`` (Enter) to acknowledge a latched safe state. ``iabp demo`` runs the
simulated console on one pty pair and the monitor on another, joined by a null-modem
bridge, with a relay box watching the monitor's interlock heartbeat on a third: a clean
period, then the chosen fault, and the monitor's fail-safe response.

Exit status: 0 clean (log intact), 1 the fail-safe was entered (log tampered), 2 bad usage.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import select
import struct
import sys
import tempfile
import termios
import threading
import time
import tty
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TextIO

from monitor.audit_log import AuditLogError, verify_log
from monitor.interlock import monotonic_ms
from monitor.reconstruct import PatientProfile, ProfileError
from monitor.runtime import Monitor, MonitorConfig, request_realtime
from monitor.watchdog import WatchdogEvent, WatchdogRunner, WatchdogState

if TYPE_CHECKING:
    from controller.console import SimulatedConsole

DEMO_FAULTS = ("early-inflation", "late-deflation", "trigger-loss", "gas-leak",
               "contraindication", "silence", "garbage", "none")
DEMO_SECONDS = 12.0  #: default demo length (s): clean period, fault, response, margin
DEMO_FAULT_AT_S = 5.0  #: default clean period before the fault (s of console time)
DEMO_AFTER_TRIP_S = 1.0  #: the demo keeps watching this long after the safe state (s)
RELAY_TIMEOUT_MS = 100  #: the demo relay box trips after this much heartbeat silence


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _UsageError(f"{self.prog}: {message}")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value <= 86400:
        raise argparse.ArgumentTypeError(f"seconds must be in (0, 86400], got {value}")
    return value


# -- iabp monitor ---------------------------------------------------------------------------


def _monitor_parser() -> _Parser:
    p = _Parser(prog="iabp monitor", description="Watch an IABP console's telemetry and fail "
                "safe (STOP, interlock, alarm, audit record) on any violation.")
    p.add_argument("url", help="console port URL: /dev/ttyUSB0, /dev/pts/N, socket://host:port")
    p.add_argument("--patient", default=None, metavar="PROFILE.json",
                   help="patient profile: recorded contraindications, trigger source")
    p.add_argument("--log", default=None, metavar="FILE", help="hash-chained audit log")
    p.add_argument("--interlock", default=None, metavar="URL",
                   help="port of the relay box (energise-to-run heartbeat)")
    p.add_argument("--interlock-line", default="bytes", choices=("bytes", "DTR", "RTS"),
                   help="heartbeat as bytes (default) or a toggling control line")
    p.add_argument("--seconds", type=_seconds, default=None,
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
    except (_UsageError, ProfileError) as exc:
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


# -- iabp demo ------------------------------------------------------------------------------


class _Pty:
    """A raw pty pair: ``master`` fd and the slave's path (a port URL)."""

    def __init__(self) -> None:
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)
        tty.setraw(self.master)
        self.path = os.ttyname(self._slave)

    def close(self) -> None:
        for fd in (self.master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)


class _MasterPort:
    """The master end of a pty as a minimal port for the demo's relay box."""

    def __init__(self, fd: int, timeout_s: float = 0.01) -> None:
        self.fd, self.timeout_s, self.port = fd, timeout_s, f"pty-master-{fd}"

    def read(self, size: int = 1, /) -> bytes:
        ready, _, _ = select.select([self.fd], [], [], self.timeout_s)
        return os.read(self.fd, size) if ready else b""

    @property
    def in_waiting(self) -> int:
        raw = fcntl.ioctl(self.fd, termios.FIONREAD, b"\0\0\0\0")
        return int(struct.unpack("I", raw)[0])


def _null_modem(a: int, b: int, stop: threading.Event) -> None:
    """Copy bytes both ways between two pty masters (the cable between console and monitor)."""
    peer = {a: b, b: a}
    while not stop.is_set():
        try:
            ready, _, _ = select.select([a, b], [], [], 0.02)
            for fd in ready:
                data = os.read(fd, 65536)
                if data:
                    os.write(peer[fd], data)
        except OSError:
            return


@contextlib.contextmanager
def _threads() -> Iterator[tuple[threading.Event, list[threading.Thread]]]:
    stop = threading.Event()
    threads: list[threading.Thread] = []
    try:
        yield stop, threads
    finally:
        stop.set()
        for t in threads:
            t.join(2.0)


def _demo_parser() -> _Parser:
    p = _Parser(prog="iabp demo", description="Simulated console and monitor on pty pairs: a "
                "clean period, then a fault, and the monitor's fail-safe response.")
    p.add_argument("--fault", choices=DEMO_FAULTS, default="early-inflation",
                   help="console fault to inject (default early-inflation; none: clean run)")
    p.add_argument("--seconds", type=_seconds, default=DEMO_SECONDS,
                   help=f"longest demo run (s), default {DEMO_SECONDS:g}")
    p.add_argument("--fault-at", type=_seconds, default=DEMO_FAULT_AT_S, dest="fault_at",
                   help=f"clean period before the fault (s), default {DEMO_FAULT_AT_S:g}")
    p.add_argument("--log", default=None, metavar="FILE",
                   help="audit log (default: a temporary file, verified and removed)")
    return p


def demo_main(argv: list[str]) -> int:
    """``iabp demo``: 0 clean run without alarm, 1 fail-safe entered, 2 bad usage."""
    try:
        a = _demo_parser().parse_args(argv)
    except _UsageError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help
        return int(exc.code) if isinstance(exc.code, int) else 0
    if a.fault != "none" and a.fault_at >= a.seconds:
        print("iabp demo: --fault-at must come before the end (--seconds)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="iabp-demo-") as tmp:
        log = Path(a.log) if a.log else Path(tmp) / "monitor-audit.jsonl"
        return _run_demo(a, log)


def _run_demo(a: argparse.Namespace, log: Path) -> int:
    from controller.console import SimulatedConsole  # deferred: loads the patient model

    out = sys.stdout
    fault = None if a.fault == "none" else a.fault
    console_pty, monitor_pty, relay_pty = _Pty(), _Pty(), _Pty()
    relay_events: list[WatchdogEvent] = []
    try:
        console = SimulatedConsole(console_pty.path, fault=fault,
                                   fault_at_ms=int(a.fault_at * 1000))
        mon = Monitor(monitor_pty.path, PatientProfile(patient_id="demo patient"), log,
                      relay_pty.path, out=out)
        print(f"iabp demo: console on {console_pty.path} <-> monitor on {monitor_pty.path}; "
              f"relay box on {relay_pty.path}", file=out)
        print(f"iabp demo: clean pumping, then fault {a.fault!r} at "
              f"{a.fault_at:g} s" if fault else "iabp demo: clean run, no fault", file=out)
        with _threads() as (stop, threads):
            threads += [
                threading.Thread(target=_null_modem, daemon=True,
                                 args=(console_pty.master, monitor_pty.master, stop)),
                threading.Thread(target=_relay_box, daemon=True,
                                 args=(relay_pty.master, relay_events, stop, out)),
                threading.Thread(target=_run_console, daemon=True, args=(console, stop)),
            ]
            for t in threads:
                t.start()
            status = mon.run(a.seconds, should_stop=_stop_after_trip(mon))
        console.close()
        return _demo_report(mon, console.stats.final_mode.name, relay_events, log, status, out)
    finally:
        for p in (console_pty, monitor_pty, relay_pty):
            p.close()


def _stop_after_trip(mon: Monitor) -> Callable[[], bool]:
    def should_stop() -> bool:
        at = mon.failsafe.entered_at_ms
        return at is not None and mon.clock() - at >= DEMO_AFTER_TRIP_S * 1000

    return should_stop


def _run_console(console: SimulatedConsole, stop: threading.Event) -> None:
    """Pace the console's ticks to real time until ``stop`` (its own run() cannot stop)."""
    run_ticks = console.run_ticks
    start, done = time.monotonic(), 0
    try:
        while not stop.is_set():
            due = int((time.monotonic() - start) * 1000.0)
            if due > done:
                run_ticks(due - done)
                done = due
            stop.wait(0.005)
    except Exception as exc:  # the console's port vanished as the demo ends
        if not stop.is_set():
            print(f"iabp demo: console stopped: {exc}", file=sys.stderr)


def _relay_box(fd: int, events: list[WatchdogEvent], stop: threading.Event, out: TextIO) -> None:
    """The relay box on the interlock line: a watchdog on the monitor's heartbeat bytes."""
    def report(event: WatchdogEvent) -> None:
        events.append(event)
        if event.state is not WatchdogState.WAITING:
            print(f"relay box: {event.line()}", file=out, flush=True)

    runner = WatchdogRunner(_MasterPort(fd), RELAY_TIMEOUT_MS, clock=monotonic_ms,
                            on_event=report)
    runner.run(should_stop=stop.is_set)


def _demo_report(mon: Monitor, console_mode: str, relay: list[WatchdogEvent], log: Path,
                 status: int, out: TextIO) -> int:
    s = mon.summary()
    print(f"iabp demo: monitor saw {s['frames']} telemetry frames; console ended in "
          f"{console_mode}; STOP commands sent: {s['stops_sent']}", file=out)
    first = mon.failsafe.first_trip
    if first is not None:
        print(f"iabp demo: FAIL-SAFE ENTERED (latched): {first.message()}", file=out)
    else:
        print("iabp demo: no alarm: the monitor stayed watching", file=out)
    tripped = [e for e in relay if e.state is WatchdogState.TRIPPED]
    print(f"iabp demo: relay box {'TRIPPED: ' + tripped[0].line() if tripped else 'never tripped'}",
          file=out)
    result = verify_log(log)
    print(f"iabp demo: audit log {log.name}: {result.records} records, {result.status.value}",
          file=out)
    return status
