"""``iabp demo``: the simulated console and the monitor side by side on pty pairs.

    iabp demo [--fault NAME|none] [--seconds S] [--fault-at S] [--log FILE] [-q | -v]

The simulated console runs on one pty pair and the monitor on another, joined by a
null-modem bridge, with a relay box watching the monitor's interlock heartbeat on a
third: a clean period, then the chosen fault, and the monitor's fail-safe response.
``-q`` shows only the monitor's alarms and the verdict line (fail-safe entered or not);
``-v`` adds every trip the monitor kept to the closing report.

Exit status: 0 clean run without alarm, 1 the fail-safe was entered, 2 bad usage.
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
from typing import TextIO

from iabp.monitor.audit_log import verify_log
from iabp.monitor.cli import positive_seconds, trip_lines
from iabp.monitor.cli_args import ArgParser, parse_or_status
from iabp.monitor.interlock import monotonic_ms
from iabp.monitor.reconstruct.reconstruction import PatientProfile
from iabp.monitor.runtime import Monitor
from iabp.sim.console import CONSOLE_FAULTS, SimulatedConsole
from iabp.sim.relay_box import WatchdogEvent, WatchdogRunner, WatchdogState
from iabp.terminal import Verbosity, add_verbosity_arguments

#: ``--fault`` choices: a faulty console's fault, or none (a clean run)
DEMO_FAULTS: tuple[str, ...] = (*(f.value for f in CONSOLE_FAULTS), "none")
DEMO_SECONDS = 12.0  #: default demo length (s): clean period, fault, response, margin
DEMO_FAULT_AT_S = 5.0  #: default clean period before the fault (s of console time)
DEMO_AFTER_TRIP_S = 1.0  #: the demo keeps watching this long after the safe state (s)
RELAY_TIMEOUT_MS = 100  #: the demo relay box trips after this much heartbeat silence


class Pty:
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


class MasterPort:
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


def null_modem(a: int, b: int, stop: threading.Event) -> None:
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


def _demo_parser() -> ArgParser:
    p = ArgParser(prog="iabp demo", description="Simulated console and monitor on pty pairs: a "
                "clean period, then a fault, and the monitor's fail-safe response.")
    p.add_argument("--fault", choices=DEMO_FAULTS, default="early-inflation",
                   help="console fault to inject (default early-inflation; none: clean run)")
    p.add_argument("--seconds", type=positive_seconds, default=DEMO_SECONDS,
                   help=f"longest demo run (s), default {DEMO_SECONDS:g}")
    p.add_argument("--fault-at-s", "--fault-at", type=positive_seconds, default=DEMO_FAULT_AT_S,
                   dest="fault_at",
                   help=f"clean period before the fault (s), default {DEMO_FAULT_AT_S:g}")
    p.add_argument("--log", default=None, metavar="FILE",
                   help="audit log (default: a temporary file, verified and removed)")
    add_verbosity_arguments(p, quiet="only the alarms and the verdict line (no status line, "
                            "no relay-box events)", verbose="also every trip the monitor kept")
    return p


def demo_main(argv: list[str]) -> int:
    """``iabp demo``: 0 clean run without alarm, 1 fail-safe entered, 2 bad usage."""
    a = parse_or_status(_demo_parser(), argv)
    if isinstance(a, int):
        return a
    if a.fault != "none" and a.fault_at >= a.seconds:
        print("iabp demo: --fault-at must come before the end (--seconds)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="iabp-demo-") as tmp:
        log = Path(a.log) if a.log else Path(tmp) / "monitor-audit.jsonl"
        return _run_demo(a, log)


def _run_demo(a: argparse.Namespace, log: Path) -> int:
    out = sys.stdout
    talk: Verbosity = a.verbosity
    said = talk >= Verbosity.NORMAL
    fault = None if a.fault == "none" else a.fault
    console_pty, monitor_pty, relay_pty = Pty(), Pty(), Pty()
    relay_events: list[WatchdogEvent] = []
    try:
        console = SimulatedConsole(console_pty.path, fault=fault,
                                   fault_at_ms=int(a.fault_at * 1000))
        mon = Monitor(monitor_pty.path, PatientProfile(patient_id="demo patient"), log,
                      relay_pty.path, out=out, status_line=said)
        if said:
            print(f"iabp demo: console on {console_pty.path} <-> monitor on "
                  f"{monitor_pty.path}; relay box on {relay_pty.path}", file=out)
            print(f"iabp demo: clean pumping, then fault {a.fault!r} at "
                  f"{a.fault_at:g} s" if fault else "iabp demo: clean run, no fault", file=out)
        with _threads() as (stop, threads):
            threads += [
                threading.Thread(target=null_modem, daemon=True,
                                 args=(console_pty.master, monitor_pty.master, stop)),
                threading.Thread(target=_relay_box, daemon=True,
                                 args=(relay_pty.master, relay_events, stop,
                                       out if said else None)),
                threading.Thread(target=_run_console, daemon=True, args=(console, stop)),
            ]
            for t in threads:
                t.start()
            status = mon.run(a.seconds, should_stop=_stop_after_trip(mon))
        console.close()
        return _demo_report(mon, console.stats.final_mode.name, relay_events, log, status, out,
                            talk)
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


def _relay_box(fd: int, events: list[WatchdogEvent], stop: threading.Event,
               out: TextIO | None) -> None:
    """The relay box on the interlock line: a watchdog on the monitor's heartbeat bytes
    (each change of state printed on ``out``, if given)."""
    def report(event: WatchdogEvent) -> None:
        events.append(event)
        if out is not None and event.state is not WatchdogState.WAITING:
            print(f"relay box: {event.line()}", file=out, flush=True)

    runner = WatchdogRunner(MasterPort(fd), RELAY_TIMEOUT_MS, clock=monotonic_ms,
                            on_event=report)
    runner.run(should_stop=stop.is_set)


def _demo_report(mon: Monitor, console_mode: str, relay: list[WatchdogEvent], log: Path,
                 status: int, out: TextIO, talk: Verbosity = Verbosity.NORMAL) -> int:
    s = mon.summary()
    first = mon.failsafe.first_trip
    verdict = (f"iabp demo: FAIL-SAFE ENTERED (latched): {first.message()}" if first is not None
               else "iabp demo: no alarm: the monitor stayed watching")
    if talk is Verbosity.QUIET:
        print(verdict, file=out)
        return status
    print(f"iabp demo: monitor saw {s['frames']} telemetry frames; console ended in "
          f"{console_mode}; STOP commands sent: {s['stops_sent']}", file=out)
    print(verdict, file=out)
    if talk >= Verbosity.VERBOSE:
        for line in trip_lines(mon):
            print(f"iabp demo:   {line}", file=out)
    tripped = [e for e in relay if e.state is WatchdogState.TRIPPED]
    print(f"iabp demo: relay box {'TRIPPED: ' + tripped[0].line() if tripped else 'never tripped'}",
          file=out)
    result = verify_log(log)
    print(f"iabp demo: audit log {log.name}: {result.records} records, {result.status.value}",
          file=out)
    return status
