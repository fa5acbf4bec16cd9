"""``iabp monitor``: the monitor on the command line.

    iabp monitor URL [--patient PROFILE.json] [--log FILE [--key KEYFILE]] [--interlock URL]
                     [--interlock-line bytes|DTR|RTS] [--seconds S] [--realtime]
                     [--status-udp HOST:PORT] [--json] [-q | -v]

``iabp monitor`` watches a console until ``--seconds`` elapse or it is told to stop; type
``ack NAME`` (Enter) to acknowledge a latched safe state. (``iabp demo``, the simulated
console beside the monitor, lives in :mod:`iabp.sim.demo`; ``--status-udp`` feeds the live
view, ``iabp view``, :mod:`iabp.monitor.view`.) With ``--log`` every audit
record is signed with the Ed25519 private key of ``--key`` (made by ``iabp log keygen``);
without ``--key`` the log is written unsigned (hash chain only) and a warning says so.
(``iabp log``, to make the key and to check, show and plot a log, is
:mod:`iabp.monitor.log_cli`.)

Output: the status line on stderr (rewritten in place on a terminal, once a second
otherwise), the alarms and warnings on stderr, and at the end a summary with the first
trip. ``-q``: no status line (alarms, warnings and the summary still); ``-v``: the summary
lists every trip kept. ``--json``: on stdout, JSON lines only: ``{"event": "status", ...}``
once a second (:meth:`MonitorStatus.to_json`), ``{"event": "trip", ..., "latching":
true|false}`` for each alarm's trip, and ``{"event": "summary", ...}`` at the end
(:meth:`Monitor.summary`, the reason it stopped and the exit status); the alarms and
warnings stay on stderr as text.

Stopping the monitor (SIGTERM, e.g. ``systemctl stop`` or ``kill``; SIGINT, i.e. Ctrl-C;
SIGHUP, the terminal closed) is an orderly end of the watch, handled the same way for all
three. A stopped monitor no longer guards the pump, so it fails safe: it de-energises the
interlock (the relay box opens: no monitor, no run permit) and writes a final
``session_end`` record saying why it stopped ("stopped by SIGTERM"), then seals the
audit log. It does not send STOP to the console: whether the pump may keep running
without its monitor is the relay box's decision (energise-to-run), exactly as when the
monitor is killed outright. A second signal of the same kind while closing is not
caught (Ctrl-C twice interrupts; SIGTERM twice terminates with 143 and an unsealed log).

Exit status: 0 watched without a trip, 1 the fail-safe was entered during the session
(also when the session then ended by a signal), 2 bad usage or a monitor that cannot
start (unreadable profile or key, unusable log path, a port that cannot be opened).
"""

from __future__ import annotations

import argparse
import os
import select
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from iabp.keys import KeyFileError, load_private_key, private_key_mode_problem
from iabp.monitor.audit_log import AuditLogError
from iabp.monitor.cli_args import ArgParser, UsageError, one_line
from iabp.monitor.detached_output import DetachedWriter
from iabp.monitor.port import open_port
from iabp.monitor.reconstruct.reconstruction import PatientProfile, ProfileError
from iabp.monitor.runtime import Monitor, MonitorConfig, request_realtime
from iabp.monitor.status_feed import FeedAddressError, StatusFeed, loopback_address
from iabp.spec.errors import PortError
from iabp.terminal import Verbosity, add_verbosity_arguments


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
    p.add_argument("--log", default=None, metavar="FILE",
                   help="audit log (hash-chained; signed with --key)")
    p.add_argument("--key", default=None, metavar="KEYFILE",
                   help="Ed25519 private key that signs every audit record (iabp log keygen)")
    p.add_argument("--interlock", default=None, metavar="URL",
                   help="port of the relay box (energise-to-run heartbeat)")
    p.add_argument("--interlock-line", default="bytes", choices=("bytes", "DTR", "RTS"),
                   help="heartbeat as bytes (default) or a toggling control line")
    p.add_argument("--seconds", type=positive_seconds, default=None,
                   help="end the session after S seconds (default: until stopped)")
    p.add_argument("--realtime", action="store_true",
                   help="run under real-time scheduling (SCHED_FIFO) if the OS allows it")
    p.add_argument("--status-udp", type=feed_address, default=None, metavar="HOST:PORT",
                   help="also send the live state (waveforms, balloon marks, judged ejection "
                   "windows, rules, last trip) to 'iabp view' at HOST:PORT on this machine "
                   "(loopback only), every 250 ms")
    p.add_argument("--json", action="store_true",
                   help="JSON lines on stdout: the status once a second, each trip, and the "
                   "summary at the end (alarms and warnings stay on stderr)")
    add_verbosity_arguments(p, quiet="no status line (alarms, warnings and the final "
                            "summary still)", verbose="the final summary lists every trip")
    return p


def feed_address(text: str) -> tuple[str, int]:
    """An argparse type: the live view's UDP ``HOST:PORT``, loopback only."""
    try:
        return loopback_address(text)
    except FeedAddressError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


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


def _load_profile(path: str | None) -> PatientProfile:
    if path is None:
        return PatientProfile()
    try:
        return PatientProfile.load(path)
    except ProfileError:
        raise
    except UnicodeDecodeError:
        raise UsageError(f"iabp monitor: patient profile {path!r} is not a text "
                         "(UTF-8 JSON) file") from None
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        raise UsageError(f"iabp monitor: patient profile {path!r} is not a valid profile: "
                         f"{one_line(exc)}") from None


def _check_log_path(log: str) -> None:
    try:
        path = Path(log)
        if path.is_dir():
            raise UsageError(f"iabp monitor: --log {log!r} is a directory; give a file path")
        parent = path.parent
        if not parent.is_dir():
            raise UsageError(f"iabp monitor: --log {log!r}: no such directory {str(parent)!r}")
        if path.exists() and not path.is_file():
            raise UsageError(f"iabp monitor: --log {log!r} is not a regular file")
        if not os.access(parent if not path.exists() else path, os.W_OK):
            raise UsageError(f"iabp monitor: --log {log!r}: not writable")
    except OSError as exc:  # e.g. a parent folder that may not be searched
        raise UsageError(f"iabp monitor: --log {log!r}: cannot use it: {exc.strerror}") from None


@contextmanager
def _stop_on_signals(mon: Monitor) -> Iterator[None]:
    """SIGTERM, SIGINT and SIGHUP ask the monitor to end its session cleanly (see the
    module docstring); the handlers are restored afterwards."""
    def handler(signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        mon.request_stop(f"stopped by {name}")
        # a second signal of the same kind is not caught: Ctrl-C twice interrupts
        signal.signal(signum, signal.default_int_handler if signum == signal.SIGINT
                      else signal.SIG_DFL)

    wanted = [signal.SIGTERM, signal.SIGINT, getattr(signal, "SIGHUP", None)]
    saved: list[tuple[int, Any]] = []
    for sig in (s for s in wanted if s is not None):
        with suppress(ValueError, OSError):  # not the main thread: leave the default
            saved.append((sig, signal.signal(sig, handler)))
    try:
        yield
    finally:
        for sig, old in saved:
            with suppress(ValueError, OSError):
                signal.signal(sig, old)


def monitor_main(argv: list[str]) -> int:
    """``iabp monitor``: 0 watched without a trip, 1 the safe state was entered, 2 bad usage
    or a monitor that cannot start."""
    err = sys.stderr
    try:
        a = _monitor_parser().parse_args(argv)
        if a.key is not None and a.log is None:
            raise UsageError("iabp monitor: --key signs the audit log: give --log FILE too")
        profile = _load_profile(a.patient)
        key = load_private_key(a.key) if a.key is not None else None
        if a.log is not None:
            _check_log_path(a.log)
    except (UsageError, ProfileError, KeyFileError) as exc:
        print(str(exc) if isinstance(exc, UsageError) else f"iabp monitor: {exc}", file=err)
        return 2
    except SystemExit as exc:  # --help
        return int(exc.code) if isinstance(exc.code, int) else 0
    config = MonitorConfig(interlock_line=a.interlock_line)
    ports: list[Any] = []
    feed: StatusFeed | None = None
    try:  # the ports at the rates the Monitor itself would open them with
        ports.append(open_port(a.url, baudrate=config.baudrate, timeout_s=0.0))
        if a.interlock is not None:
            ports.append(open_port(a.interlock, baudrate=config.interlock_baudrate))
        if a.status_udp is not None:  # e.g. [::1] on a host without IPv6
            feed = StatusFeed(a.status_udp, config.rules.onset_tolerance_ms)
    except (PortError, OSError) as exc:
        for p in ports:
            with suppress(Exception):
                p.close()
        print(f"iabp monitor: {one_line(exc)}", file=err)
        return 2
    _warn_about_the_log(a.log, a.key, key is not None, err)
    if a.realtime:
        refused = request_realtime()
        if refused:
            print(f"iabp monitor: {refused}; running with normal scheduling", file=err)
    # the loop's words go through threads: a reader that stops reading (a full pipe, a
    # terminal on Ctrl-S) must never block the safety loop (monitor/detached_output.py)
    out = DetachedWriter(err)
    events = DetachedWriter(sys.stdout) if a.json else None
    mon = Monitor(a.url, profile, a.log, a.interlock, config=config, out=out, port=ports[0],
                  interlock_port=ports[1] if len(ports) > 1 else None, key=key,
                  status_feed=feed, json_events=events,
                  status_line=a.verbosity >= Verbosity.NORMAL)
    operator = _stdin_lines(sys.stdin) if sys.stdin is not None else None
    try:
        with _stop_on_signals(mon):
            status = mon.run(a.seconds, operator_input=operator)
    except AuditLogError as exc:
        for p in ports:
            with suppress(Exception):
                p.close()
        out.close()
        print(f"iabp monitor: {one_line(exc)}", file=err)
        return 2
    if a.json:
        mon.event("summary", {**mon.summary(), "stop_reason": mon.stop_reason,
                              "exit_status": status})
    out.close()
    if events is not None:
        events.close()
    if not a.json:
        _print_summary(mon, err, every_trip=a.verbosity >= Verbosity.VERBOSE)
    return status


def _warn_about_the_log(log: str | None, key_path: str | None, signed: bool,
                       err: TextIO) -> None:
    if key_path is not None:
        loose = private_key_mode_problem(key_path)
        if loose:
            print(f"iabp monitor: warning: {loose}", file=err)
    if log is not None and not signed:
        print("iabp monitor: warning: no --key: the audit log is NOT signed (hash chain only); "
              "anyone who can write the file can rewrite it undetected. Make a key with "
              "'iabp log keygen KEYFILE' and pass --key KEYFILE.", file=err)
    elif log is None:
        print("iabp monitor: warning: no --log: this session leaves no audit trail", file=err)


def _print_summary(mon: Monitor, out: TextIO, *, every_trip: bool = False) -> None:
    """The session's summary: counts, whether the safe state was entered, the first trip
    (``every_trip``: each trip kept, in order), why the monitor stopped."""
    s = mon.summary()
    print(f"iabp monitor: {s['frames']} frames, {s['violations']} violations, "
          f"{sum(s['integrity_events'].values())} integrity faults, "
          f"{s['stops_sent']} STOP commands; safe state "
          f"{'ENTERED' if s['safe_state_entered'] else 'never entered'}", file=out)
    if every_trip:
        for line in trip_lines(mon):
            print(f"  {line}", file=out)
    elif mon.failsafe.first_trip is not None:
        print(f"  first trip: {mon.failsafe.first_trip.message()}", file=out)
    if mon.stop_reason is not None:
        sealed = "audit log sealed" if mon.log_path is not None else "no audit log"
        print(f"iabp monitor: {mon.stop_reason}: interlock de-energised, {sealed}", file=out)


def trip_lines(mon: Monitor) -> list[str]:
    """Every trip the monitor kept (the latest, up to its limit), one line each: its number,
    the monitor's ms and the operator's sentence (``-v``)."""
    return [f"trip {i} at {trip.at_ms} ms: {trip.message()}"
            for i, trip in enumerate(mon.failsafe.trips, start=1)]
