"""``iabp check CAPTURE``: the live monitor's verdicts on a recorded telemetry capture, offline.

A capture is the raw bytes as they came off the console port (HDLC frames, PROTOCOL.md).
:func:`check_bytes` / :func:`check_file` feed them through the live monitor itself
(:class:`iabp.monitor.runtime.Monitor`: the same stream parser, independent
reconstruction, rules, integrity guard and compiled fail-safe supervisor), with no ports
and one difference, the clock:

* **A capture has no monitor clock.** The clock is the console's own ``time_ms``
  (unwrapped modulo 2^32; held, never moved back, when the console's time goes
  backwards). The fail-safe supervisor is stepped once per ms of console time, so
  *silence* is judged on gaps in console time between delivered frames (more than the
  50 ms watchdog between two frames trips, as it would have live). What happened after
  the last frame of the capture (a console that went silent for good) cannot be judged:
  the report says where the capture ends. The integrity guard's window is also measured in
  console time: bytes that carry no frame (garbage) do not advance it, so bad frames
  between two good ones all fall in one instant (stricter than live, never laxer).
* The startup timeout (no telemetry within 2 s of the start) counts from the capture's
  first record; a capture with no valid telemetry at all is reported as such (a
  SILENCE trip at console time "unknown").
* STOP goes nowhere (a null port) but is "sent" exactly as live, so the rule
  MON-STOP-OBEYED judges the console's reaction to the STOP the live monitor would
  have sent at the same frame.

Rule verdicts (rule ID, ms of telemetry, the values read) depend only on the frames, not
on the clock, so they are the live monitor's verdicts on the same bytes;
``tests/monitor/test_check.py`` checks that on every fault stream of the simulated
console and on PhysioNet clean streams.

Each violation is reported with the console's ``time_ms`` of the frame it is about (for
a timing rule re-judged when a beat is decided, the earlier frame it names), the ms of
telemetry (the rule's own ``at_ms``), and the operator's sentence
(:func:`iabp.monitor.trip_messages.rule_message` via :meth:`Trip.message`).

``iabp check -q`` prints one line (:meth:`CheckReport.verdict`); ``-v`` every violation on
its own line with the values its rule read; ``--json`` the report as JSON. While a
capture is read a progress bar (MiB) shows on stderr when it is a terminal (not with
``-q`` or ``--json``).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import stat
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, NoReturn

from iabp.monitor.check_model import PlotWindow, Violation
from iabp.monitor.failsafe import Cause, Trip
from iabp.monitor.parser import IntegrityEvent, IntegrityKind
from iabp.monitor.protocol import UINT32_MOD, SequencedFrame, SettingsFrame, TelemetryFrame
from iabp.monitor.reconstruct.reconstruction import PatientProfile, ProfileError
from iabp.monitor.rules.base import Verdict
from iabp.monitor.runtime import Monitor, MonitorConfig
from iabp.spec.modes import STOPPED_MODES
from iabp.terminal import (
    OutputPlaceError,
    ProgressBar,
    Verbosity,
    add_verbosity_arguments,
    check_output_folder,
)

READ_BYTES: Final = 1 << 16  #: bytes per file read
MIB: Final = 1 << 20  #: bytes in a MiB (the unit of the progress bar)
#: Bytes per parser feed: 10 ms of 1 kHz telemetry (32-byte frames), about what the live
#: monitor gets per read. Frames and rule verdicts do not depend on how the stream is cut,
#: but the parser's reports on a long run of garbage do (a run split across reads is
#: reported per read), so the capture is cut as the live monitor reads it.
CHUNK_BYTES: Final = 320
MAX_VIOLATIONS_KEPT: Final = 10_000  #: violations listed; beyond, only counted
PLOT_HALF_WINDOW_MS: Final = 2000  #: a plot shows this much console time either side
MAX_PLOTS: Final = 50
_HALF: Final = UINT32_MOD // 2
CLOCK_NOTE: Final = ("a capture has no monitor clock: the console's own time_ms is the "
                     "clock; silence is judged on gaps in console time between frames, "
                     "and nothing after the last frame of the capture can be judged")


@dataclass
class CheckReport:
    """What ``iabp check`` says about one capture."""

    source: str
    bytes_read: int = 0
    frames: int = 0  #: TELEMETRY frames judged
    records: int = 0  #: records of every type delivered by the parser
    integrity_events: dict[str, int] = field(default_factory=dict)
    violations: list[Violation] = field(default_factory=list)
    violations_total: int = 0  #: including those beyond MAX_VIOLATIONS_KEPT
    first_trip: Violation | None = None
    console_start_ms: int | None = None
    console_end_ms: int | None = None
    plots: list[PlotWindow] = field(default_factory=list, repr=False)

    @property
    def clean(self) -> bool:
        return self.violations_total == 0

    @property
    def exit_status(self) -> int:
        return 0 if self.clean else 1

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source, "clock": CLOCK_NOTE, "bytes": self.bytes_read,
            "frames": self.frames, "records": self.records,
            "console_start_ms": self.console_start_ms, "console_end_ms": self.console_end_ms,
            "integrity_events": dict(sorted(self.integrity_events.items())),
            "violations_total": self.violations_total,
            "violations": [v.to_json() for v in self.violations],
            "first_trip": self.first_trip.to_json() if self.first_trip else None,
            "verdict": "clean" if self.clean else "violations",
        }

    def verdict(self) -> str:
        """One line (``iabp check -q``): CLEAN, or the count and the first trip."""
        if self.clean:
            return f"iabp check {self.source}: CLEAN ({self.frames} telemetry frames)"
        first = self.first_trip
        return (f"iabp check {self.source}: {self.violations_total} violations" + (
            f"; first trip: {first.rule_id} at console {_ms(first.console_ms)}: "
            f"{first.message}" if first is not None else ""))

    def text(self, *, every: bool = False) -> str:
        """The report for people: counts, integrity events, the violations (a run of one
        rule at one instant as one line; ``every``: each on its own line with the values
        the rule read) and the first trip."""
        lines = [f"iabp check {self.source}",
                 f"  note: {CLOCK_NOTE}",
                 f"  bytes {self.bytes_read}, records {self.records}, telemetry frames "
                 f"{self.frames}, console time {_ms(self.console_start_ms)} .. "
                 f"{_ms(self.console_end_ms)}"]
        if self.integrity_events:
            ev = ", ".join(f"{k} {n}" for k, n in sorted(self.integrity_events.items()))
            lines.append(f"  integrity events: {ev}")
        else:
            lines.append("  integrity events: none")
        if self.clean:
            lines.append("  violations: none (CLEAN)")
            return "\n".join(lines)
        lines.append(f"  violations: {self.violations_total}")
        i, listed = 0, self.violations
        while i < len(listed):  # a run of the same rule at the same instant: one line
            v, n = listed[i], 1
            while not every and i + n < len(listed) \
                    and (listed[i + n].rule_id, listed[i + n].console_ms) \
                    == (v.rule_id, v.console_ms):
                n += 1
            times = f" (x{n}, the last: {listed[i + n - 1].message})" if n > 1 else ""
            lines.append(f"    {v.rule_id:<24} console {_ms(v.console_ms):>12}  {v.message}"
                         f"{times}")
            if every and v.detail:
                lines.append(f"      read: {v.detail}")
            i += n
        if self.violations_total > len(self.violations):
            lines.append(f"    ... {self.violations_total - len(self.violations)} more not listed")
        if self.first_trip is not None:
            lines.append(f"  first trip: {self.first_trip.rule_id} at console "
                         f"{_ms(self.first_trip.console_ms)}: {self.first_trip.message}")
        return "\n".join(lines)


def _ms(x: int | None) -> str:
    return "unknown" if x is None else f"{x} ms"


class _NullPort:
    """The console port of a capture: nothing to read, writes (STOP, HELLO) go nowhere."""

    in_waiting = 0

    def read(self, size: int = 1, /) -> bytes:
        return b""

    def write(self, data: bytes, /) -> int:
        return len(data)

    def close(self) -> None:
        pass


class CaptureMonitor(Monitor):
    """The live :class:`Monitor`, clocked by console time and recording every violation.

    :meth:`feed_capture` replaces the port loop (``step``): per delivered frame, the
    clock is the frame's console time; the fail-safe is stepped as ``step`` does after
    each read, here after each TELEMETRY frame.
    """

    def __init__(self, profile: PatientProfile | None = None, *,
                 config: MonitorConfig | None = None, plot: bool = False,
                 source: str = "capture") -> None:
        self._now = 0
        super().__init__(f"capture:{source}", profile, None, None, clock=self._clock,
                         config=config, wall_clock=lambda: 0.0, out=io.StringIO(),
                         port=_NullPort())
        self.report = CheckReport(source)
        self._t_raw: int | None = None  #: last console time_ms seen (wire value)
        self._last_frame_ms: int | None = None  #: console ms of the last TELEMETRY frame
        self._seen_trips: set[int] = set()
        self._plot = plot
        self._history: deque[tuple[int, int, int, int, bool, bool]] = deque(
            maxlen=PLOT_HALF_WINDOW_MS + 1)
        self._open_plots: list[PlotWindow] = []
        self.open()
        self.failsafe._opened_ms = None  # startup counts from the first record (below)

    def _clock(self) -> int:
        return self._now

    # -- the clock ------------------------------------------------------------------------
    def _advance(self, frame: SequencedFrame) -> None:
        t = frame.time_ms
        last = self._t_raw
        if last is None:
            self._now = t
            self.report.console_start_ms = t
            self.failsafe.open(t)
        else:
            d = (t - last) % UINT32_MOD
            if d >= _HALF:
                return  # console time went back: hold the clock (the parser reports it)
            self._now += d
        self._t_raw = t

    # -- the loop -------------------------------------------------------------------------
    def feed_capture(self, data: bytes) -> None:
        """Parse one chunk of the capture and judge every frame in it (as :meth:`feed`)."""
        rec, rules, fs = self.reconstruction, self.rules, self.failsafe
        on_t, update = rec.on_telemetry, rules.update
        report = self.report
        report.bytes_read += len(data)
        for ev in self.parser.feed(data):
            if isinstance(ev, TelemetryFrame):
                before = self._now
                self._advance(ev)
                now = self._now
                if now - before > 1:
                    self._silent_until(now - 1)  # the ms with no frame, up to this one
                v = on_t(ev)
                found = update(v, rec.now_ms)
                if found:
                    self._violations(found, now)
                fs.frame(now)
                fs.tick(now, v["mode'"] in STOPPED_MODES and not v["inflate_cmd'"])
                self._own_trips()
                self._last_frame_ms = now
                if self._plot:
                    self._plot_sample(ev, now, bool(v["mon_beat"]))
            elif isinstance(ev, IntegrityEvent):
                if ev.kind is IntegrityKind.TIME_JUMP:
                    # the ticks the jump skips passed without a frame before the jumped
                    # frame arrived: live, the watchdog judged them first
                    self._silent_until(self._now + ev.frames_lost)
                if ev.counted_frames:
                    fs.integrity_error()
                trip = self.integrity.update(ev, self._now)
                if trip is not None:
                    self._trip(trip)
            else:
                self._advance(ev)
                if isinstance(ev, SettingsFrame):
                    rec.on_settings(ev)

    def _silent_until(self, t_ms: int) -> None:
        """Console ms up to ``t_ms`` passed with no frame: the supervisor counts silence
        (one catch-up tick, as the live loop's after a quiet read)."""
        fs = self.failsafe
        if fs.started:
            v = self.reconstruction.valuation
            fs.tick(t_ms, v["mode'"] in STOPPED_MODES and not v["inflate_cmd'"])
            self._own_trips()

    def finish(self) -> CheckReport:
        """End of the capture: fill in the report. A frame cut off by the end of the capture
        is counted as an integrity event (TRUNCATED) but is no trip: the recording
        stopped there, the live monitor would have read on."""
        self.parser.finish()
        report = self.report
        stats = self.parser.stats()
        report.frames = self.reconstruction.frames
        report.records = stats.frames_ok
        report.integrity_events = {k.value: n for k, n in stats.errors.items()}
        report.console_end_ms = self._last_frame_ms
        if self._t_raw is None and not report.violations_total:
            self._record(Violation(
                "SILENCE", None, None, Cause.SILENCE.name,
                "telemetry silence: the capture holds no valid frame", ""))
        self._open_plots.clear()
        return report

    # -- recording ------------------------------------------------------------------------
    def _record(self, violation: Violation) -> None:
        report = self.report
        report.violations_total += 1
        if report.first_trip is None:
            report.first_trip = violation
        if len(report.violations) < MAX_VIOLATIONS_KEPT:
            report.violations.append(violation)
        if self._plot and len(report.plots) < MAX_PLOTS and violation.console_ms is not None:
            win = PlotWindow(violation, violation.console_ms)
            for row in self._history:
                if row[0] >= violation.console_ms - PLOT_HALF_WINDOW_MS:
                    _append_row(win, row)
            report.plots.append(win)
            self._open_plots.append(win)

    def _violations(self, found: Any, now_ms: int) -> None:
        limits = self.config.rules
        for verdict in found:
            assert isinstance(verdict, Verdict)
            trip = Trip.from_verdict(verdict, now_ms, limits)
            console = now_ms - (self.reconstruction.now_ms - verdict.at_ms)
            self._record(Violation(verdict.rule_id, console, verdict.at_ms, trip.cause.name,
                                   trip.message(), verdict.detail))
        super()._violations(found, now_ms)

    def _trip(self, trip: Trip) -> None:
        self._seen_trips.add(id(trip))
        if trip.cause is not Cause.RULE_VIOLATION:
            self._record(self._from_trip(trip))
        super()._trip(trip)

    def _own_trips(self) -> None:
        """A trip the supervisor made on its own counters (silence, its error window)."""
        trip = self.failsafe.trip
        if trip is not None and id(trip) not in self._seen_trips:
            self._seen_trips.add(id(trip))
            self._record(self._from_trip(trip))

    def _from_trip(self, trip: Trip) -> Violation:
        rule = trip.rule_id or ("MON-INTEGRITY" if trip.cause is Cause.INTEGRITY
                                else trip.cause.name)
        console = self._last_frame_ms if self._t_raw is not None else None
        if trip.cause is Cause.SILENCE and self._t_raw is not None:
            console = trip.at_ms
        return Violation(rule, console, None, trip.cause.name, trip.message(), trip.detail)

    # -- plots ----------------------------------------------------------------------------
    def _plot_sample(self, f: TelemetryFrame, now: int, beat: bool) -> None:
        row = (now, f.ecg_uv, f.arterial_pressure_mmhg_x10, f.balloon_pressure_mmhg_x10, f.inflate,
               beat)
        self._history.append(row)
        if self._open_plots:
            still = []
            for win in self._open_plots:
                if now <= win.centre_ms + PLOT_HALF_WINDOW_MS:
                    if not win.t_ms or win.t_ms[-1] < now:
                        _append_row(win, row)
                    still.append(win)
            self._open_plots = still


def _append_row(win: PlotWindow, row: tuple[int, int, int, int, bool, bool]) -> None:
    from iabp.monitor.protocol import NOT_AVAILABLE

    t, ecg, art, gas, inflate, beat = row
    nan = float("nan")
    win.t_ms.append(t)
    win.ecg_uv.append(nan if ecg == NOT_AVAILABLE else float(ecg))
    win.arterial_x10.append(nan if art == NOT_AVAILABLE else float(art))
    win.balloon_x10.append(nan if gas == NOT_AVAILABLE else float(gas))
    win.inflate.append(inflate)
    win.beat.append(beat)


# -- entry points -------------------------------------------------------------------------

def _chunks(data: bytes, size: int = CHUNK_BYTES) -> Iterator[bytes]:
    view = memoryview(data)
    for i in range(0, len(data), size):
        yield bytes(view[i:i + size])


def check_chunks(chunks: Iterable[bytes], profile: PatientProfile | None = None, *,
                 config: MonitorConfig | None = None, plot: bool = False,
                 source: str = "capture") -> CheckReport:
    """The live monitor's verdicts on a capture given as consecutive byte chunks."""
    mon = CaptureMonitor(profile, config=config, plot=plot, source=source)
    for chunk in chunks:
        mon.feed_capture(chunk)
    return mon.finish()


def check_bytes(data: bytes, profile: PatientProfile | None = None, *,
                config: MonitorConfig | None = None, plot: bool = False,
                source: str = "capture") -> CheckReport:
    """The live monitor's verdicts on the capture ``data`` (see the module docstring)."""
    return check_chunks(_chunks(data), profile, config=config, plot=plot, source=source)


def _file_chunks(path: Path, on_read: Callable[[int], None] | None = None
                 ) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while True:
            block = fh.read(READ_BYTES)
            if not block:
                return
            yield from _chunks(block)
            if on_read is not None:
                on_read(len(block))


def check_file(path: str | os.PathLike[str], profile: PatientProfile | None = None, *,
               config: MonitorConfig | None = None, plot: bool = False,
               on_read: Callable[[int], None] | None = None) -> CheckReport:
    """:func:`check_bytes` on a capture file, read in chunks (any size, bounded memory);
    ``on_read`` gets the size of each block once it is judged (progress)."""
    p = Path(path)
    return check_chunks(_file_chunks(p, on_read), profile, config=config, plot=plot,
                        source=str(p))


# -- command line -------------------------------------------------------------------------

class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _UsageError(f"{self.prog}: {message}")


def _arg_parser() -> _Parser:
    p = _Parser(prog="iabp check", description="The runtime monitor's verdicts on a recorded "
                "telemetry capture (raw console-port bytes), offline, clocked by console time.")
    p.add_argument("capture", help="capture file: raw bytes as they came off the console port")
    p.add_argument("--patient", default=None, metavar="PROFILE.json",
                   help="patient profile: recorded contraindications, trigger source")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--plot", default=None, metavar="DIR",
                   help="write one PNG per violation (+/-2 s of signals) into DIR")
    add_verbosity_arguments(p, quiet="one line: CLEAN, or the count and the first trip",
                            verbose="every violation on its own line, with the values the "
                                    "rule read")
    return p


def _usable_capture(path: Path) -> None:
    """A clear one-line usage error for a capture that cannot be read, never a traceback
    (``Path.exists`` itself raises when a parent folder may not be searched)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise _UsageError(f"iabp check: no such file {str(path)!r}") from None
    except OSError as exc:
        raise _UsageError(f"iabp check: cannot read {str(path)!r}: {exc.strerror}") from None
    if stat.S_ISDIR(st.st_mode):
        raise _UsageError(f"iabp check: {str(path)!r} is a directory; give a capture file")
    if not stat.S_ISREG(st.st_mode):
        raise _UsageError(f"iabp check: {str(path)!r} is not a regular file")
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise _UsageError(f"iabp check: cannot read {str(path)!r}: {exc.strerror}") from None


def _load_profile(path: str | None) -> PatientProfile:
    if path is None:
        return PatientProfile()
    try:
        return PatientProfile.load(path)
    except ProfileError as exc:
        raise _UsageError(f"iabp check: {' '.join(str(exc).split())}") from None
    except UnicodeDecodeError:
        raise _UsageError(f"iabp check: patient profile {path!r} is not a text (UTF-8 JSON) "
                          "file") from None
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        raise _UsageError(f"iabp check: patient profile {path!r} is not a valid profile: "
                          f"{' '.join(str(exc).split())}") from None


def check_main(argv: list[str], out: Callable[[str], None] | None = None) -> int:
    """``iabp check``: 0 clean, 1 any violation, 2 bad usage (one line on stderr)."""
    say = out or (lambda s: print(s, flush=True))
    try:
        a = _arg_parser().parse_args(argv)
        path = Path(a.capture)
        _usable_capture(path)
        profile = _load_profile(a.patient)
        plot_dir = Path(a.plot) if a.plot is not None else None
        if plot_dir is not None:
            try:
                check_output_folder(plot_dir)
            except OutputPlaceError as exc:
                raise _UsageError(f"iabp check: --plot {a.plot!r}{exc}") from None
    except _UsageError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help
        return int(exc.code) if isinstance(exc.code, int) else 0
    talk = a.verbosity
    try:
        with ProgressBar(f"iabp check: {path.name} (MiB)", path.stat().st_size / MIB,
                         shown=talk >= Verbosity.NORMAL and not a.json) as bar:
            bar.update(0)
            report = check_file(path, profile, plot=plot_dir is not None,
                                on_read=lambda n: bar.advance(n / MIB))
    except OSError as exc:
        print(f"iabp check: cannot read {str(path)!r}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    written: list[str] = []
    if plot_dir is not None and report.plots:
        from iabp.monitor.check_plot import plot_windows

        try:
            written = [str(p) for p in plot_windows(report.plots, plot_dir)]
        except OSError as exc:
            print(f"iabp check: cannot write plots to {str(plot_dir)!r}: "
                  f"{exc.strerror or exc}", file=sys.stderr)
            return 2
    if a.json:
        doc = report.to_json()
        if plot_dir is not None:
            doc["plots"] = written
        say(json.dumps(doc, indent=2))
    elif talk is Verbosity.QUIET:
        say(report.verdict())
    else:
        text = report.text(every=talk >= Verbosity.VERBOSE)
        if written:
            text += f"\n  plots: {len(written)} PNG in {plot_dir}"
        say(text)
    return report.exit_status


def violation_keys(report: CheckReport) -> Sequence[tuple[str, int | None]]:
    """(rule ID, console ms) of every listed violation, in order (for comparisons)."""
    return [(v.rule_id, v.console_ms) for v in report.violations]
