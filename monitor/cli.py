"""``iabp monitor`` and ``iabp log``: the monitor on the command line.

    iabp monitor URL [--patient PROFILE.json] [--log FILE [--key KEYFILE]] [--interlock URL]
                     [--interlock-line bytes|DTR|RTS] [--seconds S] [--realtime]
    iabp log keygen KEYFILE [--public FILE]
    iabp log verify FILE [--key PUBKEY] [--require-sealed]

``iabp monitor`` watches a console until ``--seconds`` elapse or it is told to stop; type
``ack NAME`` (Enter) to acknowledge a latched safe state. (``iabp demo``, the simulated
console beside the monitor, lives in :mod:`iabp.sim.demo`.) With ``--log`` every audit
record is signed with the Ed25519 private key of ``--key`` (made by ``iabp log keygen``);
without ``--key`` the log is written unsigned (hash chain only) and a warning says so.

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
``iabp log verify``: 0 intact (and authenticated with ``--key``), 1 tampered, damaged,
empty, not signed by the key, or (``--require-sealed``) not sealed, 2 bad usage.
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
from typing import Any, NoReturn, TextIO

from iabp.monitor.audit_log import (
    AuditLogError,
    KeyFileError,
    VerifyResult,
    VerifyStatus,
    generate_key,
    key_id,
    load_private_key,
    load_public_key,
    private_key_mode_problem,
    public_pem,
    verify_log,
    wall_time_text,
)
from iabp.monitor.port import open_port
from iabp.monitor.reconstruct.reconstruction import PatientProfile, ProfileError
from iabp.monitor.runtime import Monitor, MonitorConfig, request_realtime
from iabp.spec.errors import PortError


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


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


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
                         f"{_one_line(exc)}") from None


def _check_log_path(log: str) -> None:
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
    try:  # the ports at the rates the Monitor itself would open them with
        ports.append(open_port(a.url, baudrate=config.baudrate, timeout_s=0.0))
        if a.interlock is not None:
            ports.append(open_port(a.interlock, baudrate=config.interlock_baudrate))
    except PortError as exc:
        for p in ports:
            with suppress(Exception):
                p.close()
        print(f"iabp monitor: {_one_line(exc)}", file=err)
        return 2
    _warn_about_the_log(a.log, a.key, key is not None, err)
    if a.realtime:
        refused = request_realtime()
        if refused:
            print(f"iabp monitor: {refused}; running with normal scheduling", file=err)
    mon = Monitor(a.url, profile, a.log, a.interlock, config=config, out=err, port=ports[0],
                  interlock_port=ports[1] if len(ports) > 1 else None, key=key)
    operator = _stdin_lines(sys.stdin) if sys.stdin is not None else None
    try:
        with _stop_on_signals(mon):
            status = mon.run(a.seconds, operator_input=operator)
    except AuditLogError as exc:
        for p in ports:
            with suppress(Exception):
                p.close()
        print(f"iabp monitor: {_one_line(exc)}", file=err)
        return 2
    _print_summary(mon, err)
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


def _print_summary(mon: Monitor, out: TextIO) -> None:
    s = mon.summary()
    print(f"iabp monitor: {s['frames']} frames, {s['violations']} violations, "
          f"{sum(s['integrity_events'].values())} integrity faults, "
          f"{s['stops_sent']} STOP commands; safe state "
          f"{'ENTERED' if s['safe_state_entered'] else 'never entered'}", file=out)
    if mon.failsafe.first_trip is not None:
        print(f"  first trip: {mon.failsafe.first_trip.message()}", file=out)
    if mon.stop_reason is not None:
        sealed = "audit log sealed" if mon.log_path is not None else "no audit log"
        print(f"iabp monitor: {mon.stop_reason}: interlock de-energised, {sealed}", file=out)


# -- iabp log -------------------------------------------------------------------------------


def _log_parser() -> ArgParser:
    p = ArgParser(prog="iabp log", description="Make the audit log's signing key, or check "
                  "an audit log.")
    sub = p.add_subparsers(dest="command", metavar="{keygen,verify}")
    sub.required = True
    kg = sub.add_parser("keygen", help="make an Ed25519 key pair for signing audit logs",
                        description="Write a new Ed25519 private key to KEYFILE (mode 0600; "
                        "for the monitor: iabp monitor --key KEYFILE) and its public key to "
                        "KEYFILE.pub (for auditors: iabp log verify --key KEYFILE.pub).")
    kg.add_argument("keyfile", metavar="KEYFILE")
    kg.add_argument("--public", default=None, metavar="FILE",
                    help="where to write the public key (default: KEYFILE.pub)")
    v = sub.add_parser("verify", help="check an audit log",
                       description="Check the hash chain of an audit log and, with --key, "
                       "every record's Ed25519 signature. Exit 0 intact, 1 not.")
    v.add_argument("file", metavar="FILE")
    v.add_argument("--key", default=None, metavar="PUBKEY",
                   help="public key (PEM) the log must be signed with; without it only the "
                   "chain is checked (not authenticated)")
    v.add_argument("--require-sealed", action="store_true",
                   help="fail unless the log ends in a seal (a complete, cleanly closed session)")
    return p


def log_main(argv: list[str]) -> int:
    """``iabp log keygen|verify``: 0 done / intact, 1 tampered or damaged, 2 bad usage."""
    parser = _log_parser()
    if not argv:
        print(parser.format_usage().rstrip(), file=sys.stderr)
        print("  iabp log keygen KEYFILE [--public FILE]\n"
              "  iabp log verify FILE [--key PUBKEY] [--require-sealed]", file=sys.stderr)
        return 2
    try:
        a = parser.parse_args(argv)
    except UsageError as exc:
        print(f"{exc}\n{parser.format_usage().rstrip()}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help
        return int(exc.code) if isinstance(exc.code, int) else 0
    if a.command == "keygen":
        return _keygen(a.keyfile, a.public)
    return _verify(Path(a.file), a.key, a.require_sealed)


def _keygen(keyfile: str, public: str | None) -> int:
    pub = public if public is not None else keyfile + ".pub"
    try:
        key = generate_key(keyfile, pub)
    except KeyFileError as exc:
        print(f"iabp log keygen: {exc}", file=sys.stderr)
        return 2
    print(f"private key: {keyfile} (mode 0600; for iabp monitor --key; keep it on the monitor)")
    print(f"public key:  {pub} ({key_id(key.public_key())}; for iabp log verify --key)")
    print(public_pem(key.public_key()), end="")
    return 0


def _verify(path: Path, key_path: str | None, require_sealed: bool) -> int:
    if not path.is_file():
        print(f"iabp log verify: no such file {str(path)!r}", file=sys.stderr)
        return 2
    try:
        public = load_public_key(key_path) if key_path is not None else None
    except KeyFileError as exc:
        print(f"iabp log verify: {exc}", file=sys.stderr)
        return 2
    try:
        result = verify_log(path, public_key=public, require_sealed=require_sealed)
    except OSError as exc:
        print(f"iabp log verify: cannot read {str(path)!r}: {exc.strerror or exc}",
              file=sys.stderr)
        return 2
    print(verify_report(path, result, keyed=public is not None))
    return 0 if result.ok else 1


def verify_report(path: Path, r: VerifyResult, *, keyed: bool) -> str:
    """The one-paragraph verdict ``iabp log verify`` prints."""
    if not r.ok:
        where = f" at line {r.first_bad_line}" if r.first_bad_line else ""
        return (f"{path}: BROKEN{where} ({r.problem.value if r.problem else '?'}): {r.detail}")
    ends = (f"last record {r.records - 1} at {wall_time_text(r.last_wall_time)}; "
            f"{r.checkpoints} checkpoints" + (
                f", the last at record {r.last_checkpoint_seq} "
                f"({wall_time_text(r.last_checkpoint_wall_time)})"
                if r.last_checkpoint_seq is not None else ""))
    tail = ("sealed (the session was closed cleanly: nothing is missing at the end)"
            if r.status is VerifyStatus.SEALED else
            "UNSEALED: records after the last one may be missing (the monitor crashed, was "
            "killed or is still running, or the tail was cut); --require-sealed refuses this")
    if keyed:
        return (f"{path}: OK, authenticated: {r.records} records, every signature verified "
                f"with {r.key_id or 'the given key'}; {tail}; {ends}")
    signing = (f"records are signed (the log names key {r.key_id}): pass --key to check them"
               if r.signed else "unsigned log")
    return (f"{path}: chain only: not authenticated ({signing}): chain OK, {r.records} "
            f"records, {tail}; {ends}")
