"""``iabp log show``: an audit log as tables for people (the clinical engineer, the auditor).

The events (sessions, checkpoints, trips, acknowledgements, the end and the seal) with
wall time and, for trips, the monitor's clock and the console's time; for each trip its
rule, its sentence and its black box of telemetry frames in rows of 250 frames (``--trip
N``: every frame); ``--json`` for machines. On a terminal the tables are rich tables;
into a pipe or a file they are plain columns, never wrapped. ``-q`` prints only the
headline (format, chain, signing, counts) as one line; ``-v`` every trip's black box
frame by frame.

Also the reading that ``show`` and ``plot`` share: :func:`open_log`,
:func:`say_if_broken`, :func:`chosen_trips`.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from iabp.monitor.audit_log import CHECKPOINT, OPEN, AuditLogError, VerifyStatus, wall_time_text
from iabp.monitor.cli_args import UsageError, one_line
from iabp.monitor.log_view import (
    SAFE_STATE,
    SEGMENT_FRAMES,
    SHOW_SCHEMA,
    TRIP_EVENTS,
    LogReadError,
    LogView,
    Sample,
    Segment,
    TripRecord,
    frame_text,
    is_telemetry,
    read_log,
    segments,
    statement_text,
)
from iabp.terminal import Verbosity

# -- reading for show and plot --------------------------------------------------------------


def open_log(prog: str, path: Path) -> LogView | None:
    """The log's intact records (a log that fails verification is read up to its first bad
    line: :func:`say_if_broken`). None, with one line on stderr, if the file is not an
    audit log at all (exit 1); :class:`UsageError` if it cannot be read (exit 2)."""
    try:
        return read_log(path)
    except LogReadError as exc:
        raise UsageError(f"{prog}: {one_line(exc)}") from None
    except AuditLogError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return None


def say_if_broken(prog: str, view: LogView) -> int:
    """Say on stderr (one line) that the log failed verification; the exit status."""
    r = view.result
    if r.ok:
        return 0
    problem = r.problem.value if r.problem else "?"
    read = (f"only the {r.records} intact records before it are read" if r.records else
            "no intact record: nothing to read")
    print(f"{prog}: {view.path}: BROKEN at line {r.first_bad_line} ({problem}): {r.detail}; "
          f"{read}", file=sys.stderr)
    return 1


def chosen_trips(prog: str, view: LogView, number: int | None) -> list[TripRecord]:
    """Every trip, or trip ``number`` (1-based) alone; :class:`UsageError` if there is none."""
    if number is None:
        return view.trips
    if number > len(view.trips):
        raise UsageError(f"{prog}: --trip {number}: the log has {len(view.trips)} trips"
                         + (f" (1..{len(view.trips)})" if view.trips else ""))
    return [view.trips[number - 1]]


# -- show -----------------------------------------------------------------------------------


def show(path: Path, number: int | None, as_json: bool,
         talk: Verbosity = Verbosity.NORMAL) -> int:
    """``iabp log show FILE [--trip N] [--json] [-q | -v]``: 0 an intact log, 1 one that
    fails verification (its intact records are shown); :class:`UsageError` for exit 2."""
    prog = "iabp log show"
    view = open_log(prog, path)
    if view is None:
        return 1
    if not view.records:
        return say_if_broken(prog, view)
    trips = chosen_trips(prog, view, number)
    if as_json:
        doc = view.to_json() if number is None else {"schema": SHOW_SCHEMA, **trips[0].to_json()}
        print(json.dumps(doc, indent=2))
        return say_if_broken(prog, view)
    out = Output()
    if talk is Verbosity.QUIET:
        out.line(_headline(view).replace("\n", "; "))
    elif number is None:
        out.line(_headline(view))
        out.table("Events", EVENT_COLUMNS, _event_rows(view))
        for trip in trips:
            _trip_header(out, trip)
            if talk >= Verbosity.VERBOSE:
                _every_frame(out, trip)
            else:
                out.table(f"Black box of trip {trip.number}, {SEGMENT_FRAMES} frames (ms "
                          f"of console time) a row; --trip {trip.number} for every frame",
                          SEGMENT_COLUMNS, _segment_rows(trip))
    else:
        _trip_header(out, trips[0])
        _every_frame(out, trips[0])
    return say_if_broken(prog, view)


def _every_frame(out: Output, trip: TripRecord) -> None:
    out.table(f"Black box of trip {trip.number}, every frame", FRAME_COLUMNS,
              _frame_rows(trip))


EVENT_COLUMNS: Final = ("seq", "wall time (UTC)", "monitor ms", "console ms", "record", "what")
SEGMENT_COLUMNS: Final = ("console ms", "frames", "mode", "balloon", "ECG mV", "arterial mmHg",
                          "balloon mmHg", "R", "notch", "alarms")
FRAME_COLUMNS: Final = ("console ms", "seq", "mode", "balloon", "ECG mV", "arterial mmHg",
                        "balloon mmHg", "R", "notch", "alarms / other frames")
_TRIP_MARK: Final = "--- trip ---"


def _headline(view: LogView) -> str:
    r = view.result
    state = ("chain OK, sealed" if r.status is VerifyStatus.SEALED else
             "chain OK, UNSEALED (records may be missing at the end)" if r.ok else
             f"BROKEN at line {r.first_bad_line}")
    signing = (f"signed by {r.key_id} (signatures not checked here: iabp log verify --key)"
               if r.signed else "unsigned")
    sessions = sum(1 for e in view.records if e["type"] == OPEN)
    counts = [(r.records, "record"), (sessions, "session"), (r.checkpoints, "checkpoint"),
              (len(view.trips), "trip")]
    return (f"{view.path}: {view.log_format or '?'}, {state}, {signing}\n"
            + ", ".join(f"{n} {word}{'' if n == 1 else 's'}" for n, word in counts))


def _event_rows(view: LogView) -> list[list[str]]:
    """One row per record (black boxes go with their trip), runs of checkpoints as one."""
    trips = {t.seq: t for t in view.trips}
    rows: list[list[str]] = []
    run: list[dict[str, Any]] = []

    def flush() -> None:
        if len(run) > 1:
            seqs = f"{run[0]['seq']}-{run[-1]['seq']}"
            rows.append([seqs, wall_time_text(run[-1]["wall_time"]), "", "", CHECKPOINT,
                         f"{len(run)} checkpoints; the last: {statement_text(run[-1])}"])
        elif run:
            rows.append(_event_row(run[0], None))
        run.clear()

    for rec in view.events():
        if rec["type"] == CHECKPOINT:
            run.append(rec)
            continue
        flush()
        rows.append(_event_row(rec, trips.get(rec["seq"])))
    flush()
    return rows


def _event_row(rec: dict[str, Any], trip: TripRecord | None) -> list[str]:
    wall = wall_time_text(rec["wall_time"] if isinstance(rec["wall_time"], (int, float))
                          else None)
    if trip is None or rec["type"] not in TRIP_EVENTS:
        return [str(rec["seq"]), wall, "", "", str(rec["type"]), statement_text(rec)]
    what = f"trip {trip.number}: {trip.message}"
    return [str(rec["seq"]), wall, _num(trip.monitor_ms), _num(trip.console_ms),
            str(rec["type"]), what]


def _trip_header(out: Output, trip: TripRecord) -> None:
    also = (" (the monitor entered its safe state)" if trip.event == SAFE_STATE else
            " (a further cause while the safe state was latched)")
    when = (f"at {wall_time_text(trip.wall_time)} wall time, monitor clock "
            f"{_num(trip.monitor_ms)} ms, console time {_num(trip.console_ms)} ms")
    spans = (f"{len(trip.before)} frames before it, {len(trip.after)} after"
             if trip.before or trip.after else "no frames (no telemetry was received)")
    out.line(f"\nTrip {trip.number}: {trip.rule}{also}\n  {when}\n  {trip.message}\n"
             f"  cause {trip.cause}; detail: {trip.detail}\n  black box: {spans}")


def _segment_rows(trip: TripRecord) -> list[list[str]]:
    rows = [_segment_row(s) for s in segments(trip.before, to_the_end=True)]
    if trip.after:
        rows.append([_TRIP_MARK] + [""] * (len(SEGMENT_COLUMNS) - 1))
        rows += [_segment_row(s) for s in segments(trip.after)]
    return rows


def _segment_row(s: Segment) -> list[str]:
    balloon = ("inflated" if s.inflated_frames == s.frames else
               "deflated" if not s.inflated_frames else
               f"inflated {s.inflated_frames} of {s.frames}")
    return [f"{_num(s.first_ms)}..{_num(s.last_ms)}", str(s.frames), "/".join(s.modes), balloon,
            _span(s.ecg_mv, 2), _span(s.arterial_mmhg, 1), _span(s.balloon_mmhg, 1),
            str(s.r_waves), str(s.notches), " ".join(s.alarms)]


def _frame_rows(trip: TripRecord) -> list[list[str]]:
    def row(f: dict[str, Any]) -> list[str]:
        if not is_telemetry(f):
            return [_num(f.get("time_ms")), _num(f.get("seq")), "", "", "", "", "", "", "",
                    frame_text(f)]
        s = Sample.of(f)
        return [_num(s.console_ms), _num(s.seq), s.mode, "inflate" if s.inflate else "deflate",
                _value(s.ecg_mv, 3), _value(s.arterial_mmhg, 1), _value(s.balloon_mmhg, 1),
                "R" if s.r_wave else "", "notch" if s.notch else "", " ".join(s.alarms)]

    rows = [row(f) for f in trip.before]
    if trip.after:
        rows.append([_TRIP_MARK] + [""] * (len(FRAME_COLUMNS) - 1))
        rows += [row(f) for f in trip.after]
    return rows


def _num(v: int | None) -> str:
    return "" if v is None else str(v)


def _value(v: float | None, digits: int) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}"


def _span(span: tuple[float, float] | None, digits: int) -> str:
    return "n/a" if span is None else f"{span[0]:.{digits}f}..{span[1]:.{digits}f}"


class Output:
    """Tables on stdout: rich tables on a terminal (wrapped to its width; no ANSI styles
    at all under NO_COLOR), plain columns otherwise (never wrapped, no trailing blanks), so a
    pipe or a file gets text a script or ``grep`` can read."""

    def __init__(self) -> None:
        self.tty = sys.stdout.isatty()
        self._console: Any = None
        if self.tty:
            from rich.console import Console

            plain = bool(os.environ.get("NO_COLOR"))  # no colour, and no bold either
            self._console = Console(highlight=False, color_system=None if plain else "auto")

    def line(self, text: str) -> None:
        if self._console is not None:
            self._console.print(text, markup=False)
        else:
            print(text)

    def table(self, title: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        if self._console is not None:
            from rich import box
            from rich.table import Table

            t = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
            for i, c in enumerate(columns):  # only the last column (the words) wraps
                t.add_column(c, overflow="fold", no_wrap=i < len(columns) - 1)
            for r in rows:
                t.add_row(*r)
            self._console.print(t)
            return
        print(f"\n{title}")
        widths = [max(len(c), *(len(r[i]) for r in rows)) if rows else len(c)
                  for i, c in enumerate(columns)]
        for r in [list(columns), *rows]:
            print("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())
