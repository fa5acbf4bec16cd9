"""False alarms of the runtime monitor on every real record pumped by the verified controller.

Run from the repository root::

    python -m benchmarks.bench_monitor_records                  # first 300 s of every record
    python -m benchmarks.bench_monitor_records --seconds 120    # a shorter window
    python -m benchmarks.bench_monitor_records --whole          # whole records (30 min each)
    python -m benchmarks.bench_monitor_records --records mitdb/233,mitdb/100 --jobs 2

Issue 13's "Done when": the monitor raises no false alarm on any of the 41 MIT-BIH records
pumped by the controller (CI checks 10 s of a representative subset:
``tests/monitor/test_monitor_e2e.py``; this benchmark checks every record present in
``../shared/data/physionet``, the two arterial-pressure records too).

For each record:

1. :func:`iabp.sim.closed_loop.replay_record` drives the project's detectors and the verified
   controller with the recording (ECG trigger, 1:1, START at 1 s);
2. :func:`iabp.sim.telemetry_stream.trace_telemetry_bytes` encodes the run as the console's
   protocol-v1 telemetry (the same stream the CI test feeds the monitor);
3. the live monitor judges it, clocked by console time:
   :class:`iabp.monitor.check.CaptureMonitor` (``iabp check``: the same parser,
   independent reconstruction, rules, integrity guard and compiled fail-safe supervisor as
   :class:`iabp.monitor.runtime.Monitor`; STOP goes to a null port), read by read
   (``CHUNK_BYTES``, 10 ms of telemetry).

The monitor latches its safe state at a trip, and only a named operator's acknowledge
leaves it, when the supervisor sees the cause gone (``FailSafe.acknowledge``, the CLI's
``ack NAME``). To count every false alarm, not just the first, the benchmark's operator
acknowledges at the end of the read in which the monitor tripped (at most 10 ms of
telemetry later): a recording cannot obey the monitor's STOP, so waiting longer would
only add MON-STOP-OBEYED, a consequence of the first trip and not a new alarm. An
acknowledge the supervisor refuses is retried after the next read; violations found while
latched are listed as further reasons of the same trip. Each trip is reported with the
console time at which the monitor entered its safe state, the rule (or cause) that
latched it and the monitor's sentence.

Each trip is then set against the **reference** beats (``.atr`` cardiologist annotations;
for the two ``abp/`` records an offline XQRS detection, not a reference) by the rhythm
benchmark's judge (:mod:`benchmarks.bench_rhythms`: helium from inflate command + 20 ms to
deflate command + 40 ms; ejection from the QRS onset + PEP - 10 ms to QRS onset + QS2 +
15 ms, strict; the lenient judge from R): was there helium in the ejection of a beat near
the trip? Every trip gets a verdict (:func:`auto_triage`: "monitor right" when the
controller really put helium in a reference beat's ejection, "false alarm" when the monitor's
own detector found a beat the reference does not have or missed one it has); verdicts made
by hand, on the waveform and the annotations, are kept in :data:`TRIAGE` and win.

Writes ``benchmarks/results/monitor_records.{md,json}`` (``--no-write``: print only).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import multiprocessing as mp
import os
import platform
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np

from benchmarks.bench_rhythms import (  # the rhythm benchmark's judge, classes, header
    DETECT_WINDOW_MS,
    RESULTS,
    START_MS,
    git_dirty_files,
    git_head,
    judge_beats,
    record_class,
    ref_beats,
    uptime_load,
)
from iabp.monitor.check import CHUNK_BYTES, CaptureMonitor
from iabp.monitor.check_model import Violation
from iabp.monitor.failsafe import Trip
from iabp.monitor.protocol import TelemetryFrame
from iabp.sim.closed_loop import ClosedLoopTrace, replay_record
from iabp.sim.records import BEAT_SYMBOLS, available_records, default_data_dir
from iabp.sim.telemetry_stream import trace_telemetry_bytes
from iabp.spec.assumptions import GAS_DEFLATE_MAX_MS, GAS_INFLATE_LAG_MIN_MS
from iabp.spec.requirements import ASSIST_SUSPENDED_WITHIN_BEATS
from iabp.spec.settings import DEFAULT_SETTINGS
from iabp.spec.timing import QS2_TOL_MS

DEFAULT_SECONDS: Final = 300.0
OPERATOR: Final = "benchmark operator"  #: who acknowledges each trip
EVIDENCE_BEFORE_MS: Final = 1500  #: reference beats this long before the trip are shown
EVIDENCE_AFTER_MS: Final = 300  #: ... and this long after it
DEFAULT_PROGRESS: Final = Path("/tmp/iabp_bench_monitor_records.jsonl")
SAME_EVENT_MS: Final = 200  #: trips closer than this are one alarm event (one inflation)

#: Hand-made verdicts, by (record, console ms of the trip), after looking at the waveform
#: and the ``.atr`` annotations: they replace the evidence rule of :func:`auto_triage`
#: (where it says "look", or where a look found more than it says).
TRIAGE: dict[tuple[str, int], str] = {
    ("abp/mixedsignals", 36537): (
        "false alarm: the monitor's own detector missed a real beat: a wide premature complex "
        "from about 36200 ms (ECG peak 36390 ms) with its own small arterial pulse (peak 121 "
        "mmHg at 36434 ms); the pump detected it and inflated 345 ms later, as after every "
        "beat; XQRS missed it too"),
    ("abp/mixedsignals", 37133): (
        "false alarm: no helium in ejection; the recorded arterial dicrotic notch is at 37138 "
        "ms (R + 348 ms, as R + 351 and R + 352 on the two beats before, which did not trip) "
        "and helium arrives from 37153 ms; the monitor (and the XQRS judge) timed the beat "
        "at 36790 ms from an R-R of 1154 ms across the premature beat it missed (true R-R "
        "about 400-600 ms), so its ejection window was too long"),
    ("abp/mixedsignals", 37153): (
        "false alarm: the same inflation as the trip at 37133 ms (helium after the recorded "
        "dicrotic notch at 37138 ms; the ejection window too long by the missed premature "
        "beat)"),
    ("mitdb/104", 65965): (
        "monitor right: after the inflation ending 62462 ms the pump assisted none of the 5 "
        "reference beats Q@62589, Q@63411, Q@64169, /@64994, /@65836 (4.2 s without pumping) "
        "and raised no assist-suspended alarm: its detector reported only 3 of them (it "
        "missed the two noisy Q beats), below the spec's ratio + 3; the monitor's own count "
        "of 5 included a false beat of its own (onset 65573 ms)"),
    ("mitdb/207", 251862): (
        "false alarm: by the reference, ventricular flutter ('!' waves every 300-400 ms from "
        "248964 ms, last beat 247586 ms), no beat went unassisted because there was none; "
        "the monitor counted 5 flutter waves as beats, the console 4 (it raised "
        "ASSIST_SUSPENDED itself at 252082 ms, 220 ms after the trip). The console had "
        "stopped pumping at 249544 ms: an alarm was due, but as trigger loss"),
    ("mitdb/207", 254462): (
        "monitor right: ventricular flutter, no reference beat since 247586 ms (6.9 s); the "
        "console took flutter waves for triggers until 252461 ms and raised TRIGGER_LOSS "
        "only at 254961 ms, 500 ms after the monitor's limit"),
}

#: A verdict is about the last inflation commanded at or before the frame it names, if that
#: frame is at most this long after its deflate command (helium leaves within 40 ms).
INFLATION_REACH_MS: Final = 200
#: P-ASSIST-SUSPENDED-ALARM at 1:1: the alarm is due once ratio + 3 beats went unassisted.
UNASSISTED_ALARM_BEATS: Final = 1 + ASSIST_SUSPENDED_WITHIN_BEATS
TRIGGER_LOSS_MS: Final = DEFAULT_SETTINGS["trigger_loss_timeout_ms"]  #: the console's default

RIGHT: Final = "monitor right"
FALSE: Final = "false alarm"
LOOK: Final = "look"


@dataclass
class TripRecord:
    """One entry of the monitor's safe state: the rule that latched it and what followed."""

    console_ms: int  #: console time (ms from the start of the record) of the entry
    rule: str  #: rule ID, or the cause's name for a trip that is not a rule's
    cause: str
    message: str  #: the monitor's sentence for the operator
    about_ms: int | None  #: console time of the frame the latching verdict is about
    reasons: list[dict[str, Any]] = field(default_factory=list)  #: every verdict of the episode
    acknowledged_ms: int | None = None  #: console time of the accepted acknowledge
    refused_acks: int = 0
    evidence: dict[str, Any] = field(default_factory=dict)  #: the reference judge near the trip


def _chunks(data: bytes, size: int = CHUNK_BYTES) -> Iterator[bytes]:
    view = memoryview(data)
    for i in range(0, len(data), size):
        yield bytes(view[i:i + size])


def _latching_verdict(trip: Trip, new: Sequence[Violation]) -> Violation | None:
    """The verdict, among those recorded in the read, that latched ``trip``."""
    rule = trip.rule_id or trip.cause.name
    return next((v for v in new if v.rule_id == rule and v.message == trip.message()),
                next((v for v in new if v.rule_id == rule), None))


@dataclass(frozen=True)
class OwnBeat:
    """A beat of the monitor's OWN R-wave detector (console ms), as its rules time it."""

    decided_ms: int  #: the frame in which the monitor's detector reported it
    onset_ms: int  #: the monitor's estimate of its QRS onset
    pep_ms: int  #: ejection may start this long after the onset (judged band for its R-R)
    qs2_ms: int  #: ejection may last until this long after the onset


def _record_own_beats(mon: CaptureMonitor, beats: list[OwnBeat]) -> None:
    """Append every own beat of ``mon`` to ``beats``: the reconstruction's per-frame step is
    wrapped (read only: the valuation it returns is passed on unchanged)."""
    rec = mon.reconstruction
    step = rec.on_telemetry

    def on_telemetry(frame: TelemetryFrame) -> dict[str, Any]:
        v = step(frame)
        if v["mon_beat"]:
            now = mon.clock()
            beats.append(OwnBeat(now, now - int(v["heart_t_ms'"]), int(v["heart_pep_ms'"]),
                                 int(v["heart_qs2_ms'"])))
        return v

    rec.on_telemetry = on_telemetry  # type: ignore[method-assign, assignment]


def monitor_trips(data: bytes, source: str, own_beats: list[OwnBeat] | None = None
                  ) -> tuple[list[TripRecord], CaptureMonitor]:
    """Feed ``data`` through the live monitor (console-time clock), acknowledging each trip at
    the end of the read in which it happened; every safe-state entry, in order. The
    monitor's own beats are appended to ``own_beats`` if it is given."""
    mon = CaptureMonitor(source=source)
    if own_beats is not None:
        _record_own_beats(mon, own_beats)
    report, fs = mon.report, mon.failsafe
    trips: list[TripRecord] = []
    current: Trip | None = None
    for chunk in _chunks(data):
        seen = len(report.violations)
        mon.feed_capture(chunk)
        new = report.violations[seen:]
        if not fs.latched:
            continue
        trip = fs.trip
        assert trip is not None
        if trip is not current:
            current = trip
            v = _latching_verdict(trip, new)
            entered = fs.entered_at_ms if fs.entered_at_ms is not None else trip.at_ms
            trips.append(TripRecord(entered, trip.rule_id or trip.cause.name, trip.cause.name,
                                    trip.message(), v.console_ms if v else None))
        trips[-1].reasons += [{"rule": v.rule_id, "console_ms": v.console_ms,
                               "message": v.message} for v in new]
        if mon.acknowledge(OPERATOR):
            trips[-1].acknowledged_ms = mon.clock()
            current = None
        else:
            trips[-1].refused_acks += 1
    mon.finish()
    return trips, mon


def non_beat_annotations(record: str) -> list[tuple[int, str, str]]:
    """The record's ``.atr`` annotations that are not beats (ms, symbol, note): rhythm
    changes ``+`` with their label, signal quality ``~``, isolated QRS-like artefact ``|``,
    comments; empty for a record without annotations."""
    import wfdb

    path = default_data_dir() / record
    if not path.with_suffix(".atr").is_file():
        return []
    ann = wfdb.rdann(str(path), "atr")
    scale = 1000.0 / float(ann.fs)
    return [(round(int(t) * scale), str(sym), str(note or "").rstrip("\x00").strip())
            for t, sym, note in zip(ann.sample, ann.symbol, ann.aux_note, strict=True)
            if sym not in BEAT_SYMBOLS]


def reference_evidence(record: str, trace: ClosedLoopTrace, trips: Sequence[TripRecord],
                       own_beats: Sequence[OwnBeat]) -> str:
    """Fill each trip's ``evidence``: the reference beats near it, each with the helium the
    rhythm benchmark's judges find in its ejection, whether the pump's own trigger
    detected it and the monitor's own beat matched to it (its QRS onset within
    ``DETECT_WINDOW_MS`` of the reference R), and the monitor's own beats that match no
    reference beat. Returns what the beats are ("atr" reference or "xqrs" detection)."""
    rb = ref_beats(record)
    dur = trace.duration_ms
    inflations = trace.inflations()
    strict = judge_beats(rb.r_ms, rb.qr_used, inflations, end_ms=dur)
    lenient = judge_beats(rb.r_ms, rb.qr_used, inflations, from_r=True, end_ms=dur)
    det = np.flatnonzero(trace.r_detected)
    own_onsets = np.asarray([b.onset_ms for b in own_beats], dtype=np.int64)
    marks = non_beat_annotations(record)
    offs = np.asarray([b for _, b in inflations], dtype=np.int64)
    for tr in trips:
        at = tr.about_ms if tr.about_ms is not None else tr.console_ms
        lo, hi = at - EVIDENCE_BEFORE_MS, min(at + EVIDENCE_AFTER_MS, tr.console_ms)
        in_window = np.flatnonzero((rb.r_ms >= lo) & (rb.r_ms <= hi)).tolist()
        own_near = set(np.flatnonzero((own_onsets >= lo - DETECT_WINDOW_MS[1])
                                      & (own_onsets <= hi)).tolist())
        beats: list[dict[str, Any]] = []
        for k in in_window:
            r = int(rb.r_ms[k])
            i0 = int(np.searchsorted(det, r + DETECT_WINDOW_MS[0]))
            i1 = int(np.searchsorted(det, r + DETECT_WINDOW_MS[1]))
            # the monitor's own beat of this reference beat: the one whose onset is nearest
            # the reference QRS onset, within the window; any other is a beat of its own
            q = r - float(rb.qr_used[k])
            cands = [j for j in own_near
                     if r - DETECT_WINDOW_MS[1] <= own_onsets[j] <= r - DETECT_WINDOW_MS[0]]
            mine = min(cands, key=lambda j: abs(float(own_onsets[j]) - q), default=None)
            if mine is not None:
                own_near.discard(mine)
            beats.append({
                "r_ms": r, "symbol": rb.symbols[k], "rhythm": rb.rhythm[k],
                "qr_ms": round(float(rb.qr_used[k]), 1),
                "ejection_ms": [round(float(strict.eject_start[k])),
                                round(float(strict.eject_end[k]))],
                "helium_in_ejection_ms": round(float(strict.overlap[k]), 1),
                "helium_in_ejection_lenient_ms": round(float(lenient.overlap[k]), 1),
                "pump_trigger_detected": i1 > i0,
                "pump_trigger_ms": [int(x) - r for x in det[i0:i1].tolist()],
                "monitor_beats": [] if mine is None else [_own_json(own_beats[mine], r)]})
        near = [(int(a), int(b)) for a, b in inflations if b >= lo and a <= hi]
        hit = [b for b in beats if b["helium_in_ejection_ms"] > 0]
        extra = [_own_json(own_beats[j], None) for j in sorted(own_near)
                 if lo <= own_onsets[j] <= hi]
        # unassisted reference beats since the last inflation ended (MON-ASSIST-SUSPENDED)
        # and the last reference beat before the trip (MON-TRIGGER-LOSS)
        n_off = int(np.searchsorted(offs, tr.console_ms, side="right"))
        last_off = int(offs[n_off - 1]) if n_off else 0
        before = rb.r_ms[rb.r_ms <= tr.console_ms]
        tr.evidence = {
            "beats": beats, "inflations": near, "monitor_beats_unmatched": extra,
            "annotations": [m for m in marks if lo - EVIDENCE_BEFORE_MS <= m[0] <= hi],
            "last_inflation_end_ms": last_off if n_off else None,
            "reference_beats_since_last_inflation": int(
                ((rb.r_ms > last_off) & (rb.r_ms <= tr.console_ms)).sum()),
            "last_reference_r_ms": int(before[-1]) if before.size else None,
            "reference_says_helium_in_ejection": bool(hit),
            "worst_helium_in_ejection_ms": max((b["helium_in_ejection_ms"] for b in hit),
                                               default=0.0)}
    return rb.reference


def _own_json(b: OwnBeat, r_ms: int | None) -> dict[str, Any]:
    """An own beat of the monitor for the report: times from the reference R if given."""
    base = 0 if r_ms is None else r_ms
    return {"onset_ms": b.onset_ms - base, "decided_ms": b.decided_ms - base,
            "ejection_ms": [b.onset_ms + b.pep_ms - base, b.onset_ms + b.qs2_ms - base],
            "relative_to_r": r_ms is not None}


@dataclass
class RecordResult:
    """What the monitor said about one record pumped by the verified controller."""

    record: str
    rhythm_class: str
    seconds: float  #: of recording replayed
    frames: int  #: TELEMETRY frames judged
    trips: list[TripRecord]
    violations_by_rule: dict[str, int]  #: every verdict, latched or not
    integrity_events: dict[str, int]
    beats_reference: str  #: "atr", "xqrs" (no reference) or "" (no trip: not looked at)
    replay_s: float
    monitor_s: float

    @property
    def trips_by_rule(self) -> dict[str, int]:
        return dict(Counter(t.rule for t in self.trips))

    @property
    def alarm_events(self) -> int:
        """Trips, a trip less than ``SAME_EVENT_MS`` after the previous one counted with it
        (one inflation seen by two rules: MON-INFL-DIASTOLE at its start, then
        MON-NO-GAS-IN-EJECTION when its helium arrives)."""
        times = [t.console_ms for t in self.trips]
        return sum(1 for i, x in enumerate(times) if i == 0 or x - times[i - 1] >= SAME_EVENT_MS)


def run_record(record: str, seconds: float | None) -> RecordResult:
    """Replay ``record`` (``seconds`` of it, None: whole) and count the monitor's trips."""
    t0 = time.perf_counter()
    trace = replay_record(record, seconds=seconds)
    data = trace_telemetry_bytes(trace)
    t1 = time.perf_counter()
    own: list[OwnBeat] = []
    trips, mon = monitor_trips(data, record, own)
    t2 = time.perf_counter()
    reference = reference_evidence(record, trace, trips, own) if trips else ""
    report = mon.report
    return RecordResult(
        record, record_class(record), trace.duration_ms / 1000.0, report.frames, trips,
        dict(Counter(v.rule_id for v in report.violations)), dict(report.integrity_events),
        reference, round(t1 - t0, 1), round(t2 - t1, 1))


def result_from_json(d: dict[str, Any]) -> RecordResult:
    """A :class:`RecordResult` back from its JSON form (``to_json``'s records, a progress line)."""
    fields = {k: v for k, v in d.items() if k in RecordResult.__dataclass_fields__}
    fields["trips"] = [TripRecord(**{k: v for k, v in t.items()
                                     if k in TripRecord.__dataclass_fields__})
                       for t in d["trips"]]
    return RecordResult(**fields)


def _run_star(args: tuple[str, float | None]) -> RecordResult:
    return run_record(*args)


def run_all(records: Sequence[str], seconds: float | None, jobs: int,
            progress: Path | None = None, log: Any = sys.stderr) -> list[RecordResult]:
    """Every record, ``jobs`` processes; one line per record on ``log``. Each result is also
    appended to ``progress`` (JSON lines) as it comes; results already there for the same
    window are reused (so an interrupted run resumes)."""
    out: list[RecordResult] = []
    done: dict[str, RecordResult] = {}
    if progress is not None and progress.is_file():
        for line in progress.read_text().splitlines():
            d = json.loads(line)
            if d.get("window_seconds", "none") == seconds and d["record"] in records:
                done[d["record"]] = result_from_json(d)
    t0 = time.perf_counter()
    work = [(r, seconds) for r in records if r not in done]

    def note(res: RecordResult, reused: bool = False) -> None:
        out.append(res)
        if progress is not None and not reused:
            with progress.open("a") as f:
                f.write(json.dumps({**asdict(res), "window_seconds": seconds}) + "\n")
        rules = ", ".join(f"{k} x{n}" for k, n in sorted(res.trips_by_rule.items())) or "none"
        print(f"[{len(out)}/{len(records)} {time.perf_counter() - t0:6.0f} s] {res.record}: "
              f"{res.seconds:.0f} s, {res.frames} frames, trips {len(res.trips)} ({rules}); "
              f"replay {res.replay_s} s, monitor {res.monitor_s} s"
              f"{' (from ' + str(progress) + ')' if reused else ''}", file=log, flush=True)

    for res in done.values():
        note(res, reused=True)
    if jobs <= 1:
        for w in work:
            note(_run_star(w))
    else:
        with mp.get_context("spawn").Pool(jobs) as pool:
            for res in pool.imap_unordered(_run_star, work):
                note(res)
    return sorted(out, key=lambda r: r.record)


# -- report -----------------------------------------------------------------------------------


def _helium_in_beats(on: int, off: int, beats: Sequence[dict[str, Any]]
                     ) -> list[tuple[dict[str, Any], int, int]]:
    """Each reference beat whose ejection holds helium of the inflation (on, off): the beat,
    the overlap by the strict judge and by the lenient one (ms)."""
    a, b = on + GAS_INFLATE_LAG_MIN_MS, off + GAS_DEFLATE_MAX_MS
    out = []
    for beat in beats:
        s0, s1 = beat["ejection_ms"]
        qr = round(beat["qr_ms"])
        strict = min(b, s1) - max(a, s0)
        lenient = min(b, s1 + qr - QS2_TOL_MS) - max(a, s0 + qr)
        if strict > 0:
            out.append((beat, strict, max(0, lenient)))
    return out


def _inflation_of(about: int, inflations: Sequence[Sequence[int]]) -> tuple[int, int] | None:
    """The inflation a verdict about the frame ``about`` is about: the last one commanded at
    or before it, if its helium may still be there (up to ``INFLATION_REACH_MS`` after
    the deflate command)."""
    mine = [(int(on), int(off)) for on, off in inflations
            if on <= about <= off + INFLATION_REACH_MS]
    return mine[-1] if mine else None


def auto_triage(trip: dict[str, Any], reference: str) -> tuple[str, str]:
    """(verdict, why) of one trip by the evidence rule, the first that applies:

    1. the inflation the verdict is about (the last one commanded at or before the frame
       it names) puts helium in a reference beat's ejection by the strict judge: **monitor
       right**, whatever rule named it;
    2. that inflation began in a reference beat's systole (after its QRS onset, early
       enough for helium to arrive before its ejection ends): **monitor right**
       (P-INFL-DIASTOLE and P-TRIGGER-FRESH hold of the real beat: the pump inflated in a
       beat it had not yet detected), even if the helium left before ejection began;
    3. MON-ASSIST-SUSPENDED, and the reference counts at least ``UNASSISTED_ALARM_BEATS``
       beats since the last inflation: **monitor right** (pumping stopped silently);
       MON-TRIGGER-LOSS, and the reference has no beat for the trigger-loss timeout:
       **monitor right**;
    4. the monitor's own detector found a beat the reference does not have, in the 1.5 s
       before the trip (or two for one reference beat): **false alarm** (its false beat
       opened an ejection window, cut the R-R that says how long a trigger stays fresh,
       or added to a beat count);
    5. it missed a reference beat there: **false alarm**;
    6. else: **look** (no rule decides it).

    With ``reference`` "xqrs" (no cardiologist annotations) the verdict says so.
    """
    ev, about = trip["evidence"], trip["about_ms"]
    if about is None:
        about = trip["console_ms"]
    beats = ev.get("beats", [])
    infl = _inflation_of(about, ev.get("inflations", []))
    hits = _helium_in_beats(*infl, beats) if infl else []
    systole = [b for b in beats if infl and b["r_ms"] - b["qr_ms"] <= infl[0]
               < b["ejection_ms"][1] - GAS_INFLATE_LAG_MIN_MS]
    since = ev.get("reference_beats_since_last_inflation", 0)
    last_r = ev.get("last_reference_r_ms")
    gap = trip["console_ms"] - last_r if last_r is not None else None
    if hits:
        beat, strict, lenient = max(hits, key=lambda h: h[1])
        verdict, why = RIGHT, (f"helium in the ejection of {beat['symbol']}@{beat['r_ms']} "
                               f"({strict} ms strict, {lenient} ms lenient)")
    elif systole:
        b = systole[-1]
        verdict, why = RIGHT, (f"the inflation at {infl[0] if infl else '?'} ms began "
                               f"{(infl[0] if infl else 0) - round(b['r_ms'] - b['qr_ms'])} ms "
                               f"after the QRS onset of {b['symbol']}@{b['r_ms']}, in its "
                               "systole")
    elif trip["rule"] == "MON-ASSIST-SUSPENDED" and since >= UNASSISTED_ALARM_BEATS:
        verdict, why = RIGHT, (f"the reference counts {since} beats since the last inflation "
                               f"(alarm due from {UNASSISTED_ALARM_BEATS})")
    elif trip["rule"] == "MON-TRIGGER-LOSS" and gap is not None and gap >= TRIGGER_LOSS_MS:
        verdict, why = RIGHT, f"no reference beat for {gap} ms (timeout {TRIGGER_LOSS_MS})"
    elif ev.get("monitor_beats_unmatched"):
        extra = ev["monitor_beats_unmatched"]
        verdict, why = FALSE, ("the monitor's own detector found a beat the reference does "
                               "not have (onset " + ", ".join(str(m["onset_ms"]) for m in extra)
                               + " ms); no helium in a reference ejection")
    elif any(not b.get("monitor_beats") for b in beats):
        miss = [b for b in beats if not b.get("monitor_beats")]
        verdict, why = FALSE, ("the monitor's own detector missed reference beat "
                               + ", ".join(f"{b['symbol']}@{b['r_ms']}" for b in miss)
                               + "; no helium in a reference ejection")
    else:
        verdict, why = LOOK, "no evidence rule decides it"
    if reference == "xqrs":
        why += " (beats: offline XQRS, not a reference)"
    return verdict, why


def triage_of(record: str, trip: dict[str, Any], reference: str) -> str:
    """The verdict on one trip: the hand-made one of :data:`TRIAGE` if any, else the
    evidence rule's (:func:`auto_triage`)."""
    hand = TRIAGE.get((record, trip["console_ms"]))
    if hand is not None:
        return f"{hand} (by hand)"
    verdict, why = auto_triage(trip, reference)
    return f"{verdict}: {why}"


def to_json(results: Sequence[RecordResult], meta: dict[str, Any]) -> dict[str, Any]:
    hours = sum(r.seconds for r in results) / 3600.0
    mitdb = [r for r in results if r.record.startswith("mitdb/")]
    trips = sum(len(r.trips) for r in results)
    events = sum(r.alarm_events for r in results)
    verdicts = [triage_of(r.record, asdict(t), r.beats_reference)
                for r in results for t in r.trips]
    return {
        **meta,
        "pooled": {
            "records": len(results), "records_mitdb": len(mitdb),
            "records_with_a_trip": sorted(r.record for r in results if r.trips),
            "records_with_a_trip_mitdb": sum(1 for r in mitdb if r.trips),
            "hours": round(hours, 3), "trips": trips,
            "trips_per_hour": round(trips / hours, 2) if hours else None,
            "alarm_events": events,
            "alarm_events_per_hour": round(events / hours, 2) if hours else None,
            "trips_by_rule": dict(Counter(t.rule for r in results for t in r.trips)),
            "trips_reference_says_helium_in_ejection": sum(
                1 for r in results for t in r.trips
                if t.evidence.get("reference_says_helium_in_ejection")),
            "triage": dict(Counter(v.split(":")[0] for v in verdicts)),
            "false_alarms_by_rule": dict(Counter(
                t.rule for r in results for t in r.trips
                if triage_of(r.record, asdict(t), r.beats_reference).startswith(FALSE))),
            "records_with_a_false_alarm": sorted({
                r.record for r in results for t in r.trips
                if triage_of(r.record, asdict(t), r.beats_reference).startswith(FALSE)}),
        },
        "records": [{**{k: v for k, v in asdict(r).items() if k != "trips"},
                     "trips_by_rule": r.trips_by_rule, "alarm_events": r.alarm_events,
                     "trips": [{**asdict(t), "triage": triage_of(r.record, asdict(t),
                                                                 r.beats_reference)}
                               for t in r.trips]}
                    for r in results],
    }


def _own_text(m: dict[str, Any]) -> str:
    sign = "+" if m["relative_to_r"] else ""
    return (f"onset {m['onset_ms']:{sign}d} decided {m['decided_ms']:{sign}d} ejection "
            f"{m['ejection_ms'][0]:{sign}d}..{m['ejection_ms'][1]:{sign}d}")


def _beat_text(b: dict[str, Any]) -> str:
    trig = "pump trigger " + ("/".join(f"{x:+d}" for x in b["pump_trigger_ms"]) + " ms"
                              if b["pump_trigger_detected"] else "missed")
    own = ("monitor " + "; ".join(_own_text(m) for m in b["monitor_beats"])
           if b.get("monitor_beats") else "monitor missed it")
    return (f"{b['symbol']}@{b['r_ms']}{' ' + b['rhythm'] if b['rhythm'] else ''} "
            f"(ejection {b['ejection_ms'][0]}-{b['ejection_ms'][1]}, helium in it "
            f"{b['helium_in_ejection_ms']:g}/{b['helium_in_ejection_lenient_ms']:g} ms, {trig}, "
            f"{own})")


def render_md(res: dict[str, Any]) -> str:
    p = res["pooled"]
    window = "whole records" if res["seconds"] is None else f"the first {res['seconds']:g} s"
    lines = [
        "# Monitor on every record pumped by the verified controller: false alarms\n",
        f"Generated by `{res['command']}` on {res['generated']}, git HEAD `{res['git_head']}` "
        f"(working tree had {res['uncommitted_files']} uncommitted files). Machine: "
        f"{res['machine']}. Load: `{res['uptime']}`. Wall time {res['wall_s']:.0f} s "
        f"({res['jobs']} process{'es' if res['jobs'] > 1 else ''}; replay + monitor summed over "
        f"records {res.get('record_s_total', 0):.0f} s, results of records already in the "
        "progress file reused).\n",
        f"**Window: {window} of each record**, ECG trigger 1:1 (START at {START_MS} ms), the "
        "verified controller driven by the project's detectors "
        "(`iabp.sim.closed_loop.replay_record`), encoded as console telemetry "
        "(`iabp.sim.telemetry_stream.trace_telemetry_bytes`: helium line pressure made up from "
        "the drive command) and judged by the live monitor clocked by console time "
        "(`iabp.monitor.check.CaptureMonitor`, 10 ms reads). After each trip the benchmark's "
        "operator acknowledges at the end of the read (at most 10 ms later); the supervisor "
        "re-arms only if the cause is gone, so every later violation is a trip of its own. "
        "A recording cannot obey STOP, so MON-STOP-OBEYED never gets the time to fire.\n",
        "Evidence per trip: the reference beats from 1.5 s before the frame the verdict is "
        "about to the trip (`.atr` cardiologist annotations; `abp/` records: offline XQRS, NOT "
        "a reference), each as `symbol@R ms` with its ejection window [QRS onset + PEP - 10, "
        "QRS onset + QS2 + 15) ms by the rhythm benchmark's strict judge, the helium the "
        "strict / lenient judge finds in it (helium = inflate command + 20 ms to deflate "
        "command + 40 ms), the pump trigger's detection relative to R, and the monitor's "
        "own beat matched to it (its QRS-onset estimate within -250..+150 ms of R; ms "
        "relative to R: onset, the frame it decided the beat, the ejection window its rules "
        "use, onset + the judged PEP..QS2 band for the R-R, `judged_pep_ms`..`judged_qs2_ms`); then the `.atr` annotations that "
        "are not beats (`~` signal quality change, `|` isolated QRS-like artefact, `+` "
        "rhythm) and the monitor's own beats that match no reference beat (console ms).\n",
        "## Pooled\n",
        f"- records: {p['records']} ({p['records_mitdb']} MIT-BIH), {p['hours']:.2f} h of "
        "telemetry",
        f"- records with any trip: {len(p['records_with_a_trip'])} "
        f"({p['records_with_a_trip_mitdb']} MIT-BIH): "
        f"{', '.join(p['records_with_a_trip']) or 'none'}",
        f"- alarm events (trips less than {SAME_EVENT_MS} ms apart counted once): "
        f"{p['alarm_events']}, {p['alarm_events_per_hour']} per hour",
        f"- trips: {p['trips']}, {p['trips_per_hour']} per hour; by rule: "
        + (", ".join(f"{k} {n}" for k, n in sorted(p["trips_by_rule"].items())) or "none"),
        f"- trips where the reference judge finds helium in a nearby beat's ejection: "
        f"{p['trips_reference_says_helium_in_ejection']}",
        "- triage: " + (", ".join(f"{k} {n}" for k, n in sorted(p["triage"].items()))
                        or "nothing to triage"),
        "- false alarms by rule: " + (", ".join(
            f"{k} {n}" for k, n in sorted(p["false_alarms_by_rule"].items())) or "none"),
        f"- records with a false alarm: {len(p['records_with_a_false_alarm'])}: "
        f"{', '.join(p['records_with_a_false_alarm']) or 'none'}\n",
        "Triage: hand-made verdicts (`TRIAGE` in the benchmark, from the waveform and the "
        "annotations) win; else the evidence rule (`auto_triage`), the first that applies: "
        "**monitor right** if the inflation the verdict is about puts helium in a reference "
        "beat's ejection (strict judge), or began in a reference beat's systole (after its "
        "QRS onset), whatever rule named it; MON-ASSIST-SUSPENDED with at least "
        f"{UNASSISTED_ALARM_BEATS} unassisted reference beats, MON-TRIGGER-LOSS with no "
        f"reference beat for {TRIGGER_LOSS_MS} ms: **monitor right**; else **false alarm** if "
        "the monitor's own detector found a beat the reference does not have in the 1.5 s "
        "before the trip (or two for one), or missed a reference beat there; else "
        "**look**.\n",
        "## Per record\n",
        "| record | class | s | frames | trips | events | trips by rule | violations by rule "
        "(all verdicts) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in res["records"]:
        by = ", ".join(f"{k} {n}" for k, n in sorted(r["trips_by_rule"].items())) or "-"
        vio = ", ".join(f"{k} {n}" for k, n in sorted(r["violations_by_rule"].items())) or "-"
        lines.append(f"| {r['record']} | {r['rhythm_class']} | {r['seconds']:.0f} | "
                     f"{r['frames']} | {len(r['trips'])} | {r['alarm_events']} | {by} | {vio} |")
    lines.append("")
    lines.append("## Every trip\n")
    if not any(r["trips"] for r in res["records"]):
        lines.append("None.\n")
    for r in res["records"]:
        for i, t in enumerate(r["trips"], 1):
            ev = t["evidence"]
            ref = "XQRS beats, not a reference" if r["beats_reference"] == "xqrs" else ".atr"
            lines.append(f"### {r['record']} trip {i}: {t['rule']} at {t['console_ms']} ms\n")
            lines.append(f"- monitor: {t['message']}")
            others = [f"{x['rule']} @{x['console_ms']}" for x in t["reasons"]
                      if x["message"] != t["message"]]
            if others:
                lines.append(f"- further verdicts in the episode: {', '.join(others)}")
            lines.append(f"- verdict about the frame at {t['about_ms']} ms; acknowledged at "
                         f"{t['acknowledged_ms']} ms ({t['refused_acks']} refused)")
            lines.append(f"- beats ({ref}): " + ("; ".join(_beat_text(b) for b in ev["beats"])
                                                  or "none"))
            if ev.get("annotations"):
                lines.append("- other .atr annotations (ms symbol note): " + "; ".join(
                    f"{t} {sym}{' ' + note if note else ''}" for t, sym, note in ev["annotations"]))
            if t["rule"] in ("MON-ASSIST-SUSPENDED", "MON-TRIGGER-LOSS"):
                lines.append(f"- reference beats since the last inflation (ended "
                             f"{ev.get('last_inflation_end_ms')} ms): "
                             f"{ev.get('reference_beats_since_last_inflation')}; last reference "
                             f"beat at {ev.get('last_reference_r_ms')} ms")
            if ev.get("monitor_beats_unmatched"):
                lines.append("- monitor beats matching no reference beat: " + "; ".join(
                    _own_text(m) for m in ev["monitor_beats_unmatched"]))
            lines.append(f"- inflations (command on, off ms): "
                         f"{', '.join(f'{a}-{b}' for a, b in ev['inflations']) or 'none'}")
            worst = ev["worst_helium_in_ejection_ms"]
            lines.append("- reference judge: " + (
                f"helium in a beat's ejection, worst {worst:g} ms (strict)"
                if ev["reference_says_helium_in_ejection"]
                else "no helium in any nearby beat's ejection"))
            lines.append(f"- **triage: {t['triage']}**\n")
    return "\n".join(lines) + "\n"


def _machine() -> str:
    return (f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()} "
            f"{platform.release()}, Python {platform.python_version()}")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--records", default=None,
                    help="comma-separated records (e.g. mitdb/100,mitdb/233); default: all")
    ap.add_argument("--seconds", type=float, default=DEFAULT_SECONDS,
                    help=f"replay the first SECONDS of each record (default {DEFAULT_SECONDS:g})")
    ap.add_argument("--whole", action="store_true", help="replay whole records")
    ap.add_argument("--jobs", type=int, default=1, help="processes (default 1)")
    ap.add_argument("--no-write", action="store_true",
                    help="do not write benchmarks/results/monitor_records.{md,json}")
    ap.add_argument("--progress", type=Path, default=DEFAULT_PROGRESS,
                    help="per-record results as they come, JSON lines; reused on a re-run of "
                         f"the same window (default {DEFAULT_PROGRESS})")
    ap.add_argument("--retriage", action="store_true",
                    help="no replay: re-apply TRIAGE to benchmarks/results/monitor_records.json "
                         "and re-write both files")
    a = ap.parse_args(argv)
    if a.retriage:
        return retriage(RESULTS / "monitor_records.json")
    found = available_records()
    records = found if a.records is None else [r.strip() for r in a.records.split(",") if r.strip()]
    missing = sorted(set(records) - set(found))
    if missing or not records:
        print(f"records not found: {', '.join(missing) or 'none at all'}", file=sys.stderr)
        return 2
    seconds = None if a.whole else a.seconds
    t0 = time.perf_counter()
    results = run_all(records, seconds, max(1, a.jobs), a.progress)
    meta = {
        "command": "python -m benchmarks.bench_monitor_records"
                   + (" " + " ".join(argv if argv is not None else sys.argv[1:])).rstrip(),
        "generated": _dt.datetime.now().isoformat(timespec="seconds"),
        "git_head": git_head(), "uncommitted_files": len(git_dirty_files()),
        "machine": _machine(), "uptime": uptime_load(), "jobs": max(1, a.jobs),
        "seconds": seconds, "wall_s": round(time.perf_counter() - t0, 1),
        "record_s_total": round(sum(r.replay_s + r.monitor_s for r in results), 1),
    }
    res = to_json(results, meta)
    if a.no_write:
        print(render_md(res))
        return 0
    write(res)
    return 0


def write(res: dict[str, Any]) -> None:
    """Write ``res`` as ``benchmarks/results/monitor_records.{json,md}``."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "monitor_records.json").write_text(json.dumps(res, indent=1) + "\n")
    (RESULTS / "monitor_records.md").write_text(render_md(res))
    p = res["pooled"]
    print(f"wrote {RESULTS / 'monitor_records.md'}: {p['trips']} trips on "
          f"{len(p['records_with_a_trip'])} of {p['records']} records", file=sys.stderr)


def retriage(path: Path) -> int:
    """Re-apply :data:`TRIAGE` to the results in ``path`` (no replay) and re-write them."""
    old = json.loads(path.read_text())
    results = [result_from_json(d) for d in old["records"]]
    meta = {k: v for k, v in old.items() if k not in ("pooled", "records")}
    meta["triage_applied"] = _dt.datetime.now().isoformat(timespec="seconds")
    write(to_json(results, meta))
    return 0


if __name__ == "__main__":
    sys.exit(main())
