"""``iabp log``: the audit log for the clinical engineer and the auditor.

    iabp log keygen KEYFILE [--public FILE]
    iabp log verify FILE [--key PUBKEY] [--require-sealed] [--json] [-q | -v]
    iabp log show FILE [--trip N] [--json] [-q | -v]
    iabp log plot FILE --out DIR|FILE.png [--trip N]

``keygen`` makes the Ed25519 key pair the monitor signs with; ``verify`` checks the hash
chain, every signature (with ``--key``) and the seal; ``show`` prints the log as tables
(sessions, checkpoints, every trip with the rule and its sentence, console and wall time,
and each trip's black box of telemetry frames); ``plot`` draws each trip's black box.
``verify -q`` says OK or BROKEN in a few words (:func:`verify_verdict`; ``-v`` is the
default paragraph, which already says all that was checked); ``show -q`` prints only the
headline, ``show -v`` every trip's black box frame by frame.

Exit status: 0 done / intact, 1 a log that fails verification (tampered, damaged, empty,
not signed by the key, or with ``--require-sealed`` not sealed; ``show`` and ``plot``
still show its intact records), 2 bad usage or a file that cannot be read.

Start-up is kept short (the audit-log format and ``cryptography`` only): the monitor
runtime, numpy and serial are never loaded; rich only by ``show`` on a terminal and
matplotlib only by ``plot``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from iabp.keys import KeyFileError, add_keygen_arguments, keygen_command, load_public_key
from iabp.monitor.audit_log import (
    FORMAT,
    SIGNED_FORMAT,
    AuditLogError,
    VerifyResult,
    VerifyStatus,
    wall_time_text,
)
from iabp.monitor.cli_args import ArgParser, UsageError, one_line
from iabp.monitor.log_show import chosen_trips, open_log, say_if_broken, show
from iabp.monitor.log_view import (
    VERIFY_SCHEMA,
    LogReadError,
    TripRecord,
    trip_plot_window,
    verify_file,
    verify_json,
)
from iabp.terminal import Verbosity, add_verbosity_arguments

PLOT_SUFFIXES: Final = (".png", ".svg", ".pdf")
USAGE: Final = ("  iabp log keygen KEYFILE [--public FILE]\n"
                "  iabp log verify FILE [--key PUBKEY] [--require-sealed] [--json] [-q | -v]\n"
                "  iabp log show FILE [--trip N] [--json] [-q | -v]\n"
                "  iabp log plot FILE --out DIR|FILE.png [--trip N]")


def trip_number(text: str) -> int:
    """An argparse type: ``--trip N``, a trip's 1-based number as ``show`` lists it."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"a trip number is 1, 2, ... (as show lists them), "
                                         f"not {text!r}")
    return int(text)


def _parser() -> ArgParser:
    p = ArgParser(prog="iabp log", description="Make the audit log's signing key; check, "
                  "show or plot an audit log.")
    sub = p.add_subparsers(dest="command", metavar="{keygen,verify,show,plot}")
    sub.required = True
    kg = sub.add_parser("keygen", help="make an Ed25519 key pair for signing audit logs",
                        description="Write a new Ed25519 private key to KEYFILE (mode 0600; "
                        "for the monitor: iabp monitor --key KEYFILE) and its public key to "
                        "KEYFILE.pub (for auditors: iabp log verify --key KEYFILE.pub).")
    add_keygen_arguments(kg)
    v = sub.add_parser("verify", help="check an audit log",
                       description="Check the hash chain of an audit log and, with --key, "
                       "every record's Ed25519 signature. Exit 0 intact, 1 not.")
    v.add_argument("file", metavar="FILE")
    v.add_argument("--key", default=None, metavar="PUBKEY",
                   help="public key (PEM) the log must be signed with; without it only the "
                   "chain is checked (not authenticated)")
    v.add_argument("--require-sealed", action="store_true",
                   help="fail unless the log ends in a seal (a complete, cleanly closed session)")
    v.add_argument("--json", action="store_true", help="print the result as JSON")
    add_verbosity_arguments(v, quiet="OK or BROKEN in a few words",
                            verbose="the default paragraph (it already says all that was "
                                    "checked)")
    s = sub.add_parser("show", help="the log as tables: sessions, checkpoints, trips and "
                       "their black boxes", description="Print the intact records of an "
                       "audit log: the events with wall and console time, and for each trip "
                       "its rule, its sentence and its black box of telemetry frames, "
                       "summarised (--trip N: every frame). The chain is checked, not the "
                       "signatures: for those, iabp log verify --key.")
    s.add_argument("file", metavar="FILE")
    s.add_argument("--trip", type=trip_number, default=None, metavar="N",
                   help="show trip N's black box frame by frame")
    s.add_argument("--json", action="store_true", help="print the log (or trip N) as JSON")
    add_verbosity_arguments(s, quiet="only the headline (format, chain, signing, counts)",
                            verbose="every trip's black box frame by frame")
    pl = sub.add_parser("plot", help="draw each trip's black box (matplotlib)",
                        description="One figure per trip: ECG, arterial pressure, balloon "
                        "pressure and the inflate command over console time, a red line at "
                        "the trip, the rule and its sentence in the title.")
    pl.add_argument("file", metavar="FILE")
    pl.add_argument("--out", required=True, metavar="DIR|FILE.png",
                    help="a directory (one PNG per trip) or one .png/.svg/.pdf file (one trip)")
    pl.add_argument("--trip", type=trip_number, default=None, metavar="N",
                    help="plot trip N only")
    return p


def log_main(argv: list[str]) -> int:
    """``iabp log keygen|verify|show|plot``: 0 done / intact, 1 a log that fails
    verification, 2 bad usage or an unreadable file."""
    parser = _parser()
    if not argv:
        print(parser.format_usage().rstrip() + "\n" + USAGE, file=sys.stderr)
        return 2
    try:
        a = parser.parse_args(argv)
        if a.command == "keygen":
            return keygen_command("iabp log keygen", a.keyfile, a.public,
                                  private_use="for iabp monitor --key; keep it on the monitor",
                                  public_use="for iabp log verify --key")
        path = Path(a.file)
        if a.command == "verify":
            return _verify(path, a.key, a.require_sealed, a.json, a.verbosity)
        if a.command == "show":
            return show(path, a.trip, a.json, a.verbosity)
        return _plot(path, plot_target(a.out), a.trip)
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help
        return int(exc.code) if isinstance(exc.code, int) else 0


# -- verify ---------------------------------------------------------------------------------


def _verify(path: Path, key_path: str | None, require_sealed: bool, as_json: bool,
            talk: Verbosity = Verbosity.NORMAL) -> int:
    try:
        public = load_public_key(key_path) if key_path is not None else None
        result = verify_file(path, public_key=public, require_sealed=require_sealed)
    except (KeyFileError, LogReadError) as exc:
        raise UsageError(f"iabp log verify: {one_line(exc)}") from None
    except AuditLogError as exc:
        print(f"iabp log verify: {exc}", file=sys.stderr)
        return 1
    if as_json:
        signed = SIGNED_FORMAT if result.signed else FORMAT
        print(json.dumps({"schema": VERIFY_SCHEMA, "file": str(path),
                          "log_format": signed if result.records else None,
                          **verify_json(result)}, indent=2))
    elif talk is Verbosity.QUIET:
        print(verify_verdict(path, result, keyed=public is not None))
    else:
        print(verify_report(path, result, keyed=public is not None))
    return 0 if result.ok else 1


def verify_verdict(path: Path, r: VerifyResult, *, keyed: bool) -> str:
    """``iabp log verify -q``: OK (authenticated or chain only; sealed or not) or BROKEN."""
    if not r.ok:
        where = f" at line {r.first_bad_line}" if r.first_bad_line else ""
        return f"{path}: BROKEN{where} ({r.problem.value if r.problem else '?'})"
    sealed = "sealed" if r.status is VerifyStatus.SEALED else "UNSEALED"
    return (f"{path}: OK, {'authenticated' if keyed else 'chain only (not authenticated)'}, "
            f"{r.records} records, {sealed}")


def verify_report(path: Path, r: VerifyResult, *, keyed: bool) -> str:
    """The one-paragraph verdict ``iabp log verify`` prints."""
    if not r.ok:
        return f"{verify_verdict(path, r, keyed=keyed)}: {r.detail}"
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


# -- plot -----------------------------------------------------------------------------------


def plot_target(text: str) -> Path:
    """``--out``: a directory (one figure per trip) or one .png/.svg/.pdf file; refused
    (:class:`UsageError`) before any work if it cannot be written."""
    try:
        prog, path = "iabp log plot", Path(text)
        is_file = path.suffix.lower() in PLOT_SUFFIXES
        if is_file and path.is_dir():
            raise UsageError(f"{prog}: --out {text!r} is a directory; a figure file is not")
        if not is_file and path.exists() and not path.is_dir():
            raise UsageError(f"{prog}: --out {text!r} is a file but not a .png, .svg or .pdf "
                             "figure; give a directory or a figure file name")
        if not is_file and not path.exists() and path.suffix:
            raise UsageError(f"{prog}: --out {text!r}: a figure file ends in .png, .svg or .pdf; "
                             "a directory for the figures has no extension")
        nearest = Path(os.path.abspath(path if not is_file else path.parent))
        while not nearest.exists() and nearest != nearest.parent:
            nearest = nearest.parent
        if not nearest.is_dir() or not os.access(nearest, os.W_OK | os.X_OK):
            raise UsageError(f"{prog}: --out {text!r}: cannot write in {str(nearest)!r}")
        return path
    except OSError as exc:  # e.g. a parent folder that may not be searched
        raise UsageError(f"iabp log plot: --out {text!r}: cannot use it: {exc.strerror}") from None


def _plot(path: Path, out: Path, number: int | None) -> int:
    prog = "iabp log plot"
    view = open_log(prog, path)
    if view is None:
        return 1
    trips = chosen_trips(prog, view, number)
    one_file = out.suffix.lower() in PLOT_SUFFIXES
    if one_file and len(trips) > 1:
        raise UsageError(f"{prog}: --out {str(out)!r} is one figure and the log has "
                         f"{len(trips)} trips: give --trip N, or a directory")
    if not trips:
        print(f"{view.path}: no trips: nothing to plot")
        return say_if_broken(prog, view)
    try:
        for line in _draw(trips, out, one_file):
            print(line)
    except OSError as exc:
        raise UsageError(f"{prog}: cannot write {str(out)!r}: {exc.strerror or exc}") from None
    return say_if_broken(prog, view)


def _draw(trips: Sequence[TripRecord], out: Path, one_file: bool) -> list[str]:
    from iabp.monitor.check_plot import plot_window, window_file_name  # loads matplotlib

    said: list[str] = []
    for trip in trips:
        win = trip_plot_window(trip)
        if win is None:
            said.append(f"trip {trip.number} ({trip.rule}): no frames in its black box: "
                        "no plot")
            continue
        target = out if one_file else out / window_file_name(trip.number, win)
        target.parent.mkdir(parents=True, exist_ok=True)
        plot_window(win, target)
        said.append(f"trip {trip.number} ({trip.rule}): {target}")
    return said
