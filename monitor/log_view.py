"""What an audit log holds, read back for people: sessions, checkpoints, events and trips,
each trip with the black box of telemetry frames the monitor kept around it.

:func:`read_log` first verifies the chain (:func:`iabp.monitor.audit_log.verify_log`) and
then reads only the intact records: after a damaged line nothing can be trusted, so
nothing after it is shown. A trip is a ``safe_state`` record (the monitor entered its safe
state) or a ``safe_state_cause`` record (a further cause while latched); its
``blackbox_pre`` record holds the frames before it (up to 2 s of 1 kHz telemetry) and its
``blackbox_post`` record the frames after it (up to 200 ms).

This module imports only the standard library, the audit-log format and the spec's mode
and alarm names: ``iabp log show`` starts without the monitor runtime (numpy, serial).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any, Final

from iabp.monitor.audit_log import (
    BLACKBOX_POST,
    BLACKBOX_PRE,
    CHECKPOINT,
    OPEN,
    SEAL,
    AuditLogError,
    VerifyResult,
    VerifyStatus,
    verify_log,
    wall_time_text,
)
from iabp.monitor.check_model import PlotWindow, Violation
from iabp.spec.modes import Alarm, Mode

#: The record types the fail-safe and the runtime write (``iabp.monitor.failsafe``'s
#: SAFE_STATE_EVENT, ANOTHER_CAUSE_EVENT, ACKNOWLEDGE_EVENT; the runtime's final record).
#: Named here, not imported: the fail-safe loads the monitor runtime (numpy, serial).
SAFE_STATE: Final = "safe_state"
ANOTHER_CAUSE: Final = "safe_state_cause"
ACKNOWLEDGE: Final = "operator_acknowledge"
SESSION_END: Final = "session_end"
TRIP_EVENTS: Final = (SAFE_STATE, ANOTHER_CAUSE)
#: The wire's "no signal" value of a telemetry sample (``iabp.monitor.protocol.NOT_AVAILABLE``)
NOT_AVAILABLE: Final = -32768
_TELEMETRY_AT: Final = re.compile(r"^at (-?\d+) ms of telemetry: ")
TELEMETRY: Final = "TelemetryFrame"  #: the ``kind`` of a 1 ms telemetry frame in a black box


class LogReadError(AuditLogError):
    """The file cannot be read as an audit log at all (missing, a directory, unreadable)."""


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _dict(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one (a record read, not trusted)."""
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class TripRecord:
    """One trip as its record says it: the rule (or cause), the operator's sentence, when
    (wall time, monitor clock, console time of the last frame before it) and its black box."""

    number: int  #: 1-based, in log order
    seq: int  #: the event record's seq
    event: str  #: SAFE_STATE or ANOTHER_CAUSE
    wall_time: float | None
    rule: str  #: rule ID, or the cause's name for a trip without a rule (SILENCE, PORT_LOST)
    cause: str
    message: str  #: the operator's sentence
    detail: str  #: the machine detail (the values the rule read)
    monitor_ms: int | None  #: the monitor's clock when it tripped
    telemetry_ms: int | None  #: a rule's verdict time, in ms of telemetry
    before: list[dict[str, Any]] = field(default_factory=list, repr=False)  #: frames before
    after: list[dict[str, Any]] = field(default_factory=list, repr=False)  #: frames after

    @property
    def console_ms(self) -> int | None:
        """Console time of the last frame the monitor had seen when it tripped."""
        times = [t for f in self.before
                 if is_telemetry(f) and (t := _int(f.get("time_ms"))) is not None]
        return times[-1] if times else None

    def summary_json(self) -> dict[str, Any]:
        """The trip without its frames (for the table of events and ``--json``)."""
        return {"number": self.number, "seq": self.seq, "event": self.event,
                "wall_time": self.wall_time, "wall_time_text": wall_time_text(self.wall_time),
                "rule": self.rule, "cause": self.cause, "message": self.message,
                "detail": self.detail, "monitor_ms": self.monitor_ms,
                "telemetry_ms": self.telemetry_ms, "console_ms": self.console_ms,
                "frames_before": len(self.before), "frames_after": len(self.after)}

    def to_json(self) -> dict[str, Any]:
        """The trip with every frame of its black box, as the log holds them."""
        return {**self.summary_json(), "before": self.before, "after": self.after}


def _trip(number: int, rec: Mapping[str, Any]) -> TripRecord:
    t = _dict(_dict(rec["payload"]).get("trip"))
    cause = _text(t.get("cause")) or "?"
    detail = _text(t.get("detail")) or ""
    at = _TELEMETRY_AT.match(detail)
    wall = rec["wall_time"]
    return TripRecord(number, rec["seq"], rec["type"],
                float(wall) if isinstance(wall, (int, float)) else None,
                _text(t.get("rule_id")) or cause, cause, _text(t.get("message")) or detail,
                detail, _int(t.get("at_ms")), int(at.group(1)) if at else None)


@dataclass
class LogView:
    """An audit log's intact records, its verdict, and the trips found in it."""

    path: Path
    result: VerifyResult
    records: list[dict[str, Any]]  #: every intact record, black boxes included
    trips: list[TripRecord]

    @property
    def log_format(self) -> str | None:
        """The format the first ``log_open`` names (``iabp-audit/1`` or ``/2``)."""
        for rec in self.records:
            if rec["type"] == OPEN and isinstance(rec["payload"], dict):
                return _text(rec["payload"].get("format"))
        return None

    def events(self) -> Iterator[dict[str, Any]]:
        """The records a reader looks at: all but the black boxes (shown with their trip)."""
        return (r for r in self.records if r["type"] not in (BLACKBOX_PRE, BLACKBOX_POST))

    def to_json(self) -> dict[str, Any]:
        """The whole log for machines: verdict, records (black boxes as frame counts) and
        trips (with every frame)."""
        rows = [{**r, "payload": _brief_payload(r)} if r["type"] in (BLACKBOX_PRE, BLACKBOX_POST)
                else r for r in self.records]
        return {"schema": SHOW_SCHEMA, "file": str(self.path), "log_format": self.log_format,
                "verify": verify_json(self.result), "records": [_without_chain(r) for r in rows],
                "trips": [t.to_json() for t in self.trips]}


SHOW_SCHEMA: Final = "iabp-log-show/1"  #: the name and version of ``iabp log show --json``
VERIFY_SCHEMA: Final = "iabp-log-verify/1"  #: ... and of ``iabp log verify --json``


def _brief_payload(rec: Mapping[str, Any]) -> dict[str, Any]:
    p = _dict(rec["payload"])
    frames = p.get("frames")
    return {"event_seq": p.get("event_seq"),
            "frames": len(frames) if isinstance(frames, list) else 0}


def _without_chain(rec: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in rec.items() if k not in ("hash", "prev_hash", "sig")}


def verify_json(r: VerifyResult) -> dict[str, Any]:
    """A verification result as plain JSON (``iabp log verify --json``, ``show --json``)."""
    return {"status": r.status.value, "ok": r.ok,
            "problem": r.problem.value if r.problem else None, "detail": r.detail,
            "records": r.records, "first_bad_line": r.first_bad_line,
            "first_bad_seq": r.first_bad_seq, "signed": r.signed,
            "authenticated": r.authenticated, "sealed": r.status is VerifyStatus.SEALED,
            "key_id": r.key_id, "checkpoints": r.checkpoints,
            "last_checkpoint_seq": r.last_checkpoint_seq,
            "last_wall_time": r.last_wall_time,
            "last_wall_time_text": wall_time_text(r.last_wall_time)}


def check_readable(path: Path) -> None:
    """Raise :class:`LogReadError` (one line) unless ``path`` is a regular file we may read."""
    if not path.exists():
        raise LogReadError(f"no such file {str(path)!r}")
    if path.is_dir():
        raise LogReadError(f"{str(path)!r} is a directory; give an audit log file")
    if not path.is_file():
        raise LogReadError(f"{str(path)!r} is not a regular file")
    if not os.access(path, os.R_OK):
        raise LogReadError(f"cannot read {str(path)!r}: permission denied")


def verify_file(path: Path, **how: Any) -> VerifyResult:
    """:func:`verify_log` with every way a file can fail to be read turned into
    :class:`LogReadError` (lines that are JSON but nonsense, such as NaN, nesting deeper
    than Python parses or a type that is not a name, are bad records: ``verify_log``
    names their line)."""
    check_readable(path)
    try:
        return verify_log(path, **how)
    except OSError as exc:
        raise LogReadError(f"cannot read {str(path)!r}: {exc.strerror or exc}") from None


def read_log(path: str | os.PathLike[str]) -> LogView:
    """Verify ``path`` (chain only) and read its intact records and trips."""
    p = Path(path)
    result = verify_file(p)
    records: list[dict[str, Any]] = []
    with p.open("rb") as f:
        for _, line in zip(range(result.records), f, strict=False):
            records.append(json.loads(line))
    return LogView(p, result, records, _trips(records))


def _trips(records: Sequence[dict[str, Any]]) -> list[TripRecord]:
    trips: list[TripRecord] = []
    by_seq: dict[int, TripRecord] = {}
    for rec in records:
        kind, payload = rec["type"], rec["payload"]
        if kind in TRIP_EVENTS:
            trip = _trip(len(trips) + 1, rec)
            trips.append(trip)
            by_seq[trip.seq] = trip
        elif kind in (BLACKBOX_PRE, BLACKBOX_POST) and isinstance(payload, dict):
            owner = by_seq.get(_int(payload.get("event_seq")) or -1)
            frames = payload.get("frames")
            if owner is not None and isinstance(frames, list):
                dest = owner.before if kind == BLACKBOX_PRE else owner.after
                dest.extend(f for f in frames if isinstance(f, dict))
    return trips


# -- frames in words ------------------------------------------------------------------------


def is_telemetry(frame: Mapping[str, Any]) -> bool:
    """A telemetry frame (a 1 ms tick), not another kind the black box kept (SETTINGS)."""
    return bool(frame.get("kind", TELEMETRY) == TELEMETRY)


def frame_text(frame: Mapping[str, Any]) -> str:
    """A frame that is not telemetry in one line: its kind and fields (``SettingsFrame:
    assist_ratio 1, ...``)."""
    fields = ", ".join(f"{k} {v}" for k, v in frame.items() if k not in ("kind", "seq", "time_ms"))
    return f"{frame.get('kind', '?')}: {fields}"


def _scaled(value: Any, scale: float) -> float | None:
    v = _int(value)
    return None if v is None or v == NOT_AVAILABLE else v / scale


def mode_name(value: Any) -> str:
    """A frame's mode by name (``ECG_TRIGGER``), or its raw value if unknown."""
    try:
        return Mode(value).name
    except ValueError:
        return str(value)


def alarm_names(mask: Any) -> list[str]:
    """The alarms set in a frame's alarm mask, by name."""
    m = _int(mask) or 0
    return [a.name for a in Alarm if m >> a.value & 1]


@dataclass(frozen=True)
class Sample:
    """One telemetry frame in units: console ms, mode, balloon command, ECG (mV), arterial
    and balloon pressure (mmHg; None = no signal), the console's own detections and alarms."""

    console_ms: int | None
    seq: int | None
    mode: str
    inflate: bool
    ecg_mv: float | None
    arterial_mmhg: float | None
    balloon_mmhg: float | None
    r_wave: bool
    notch: bool
    alarms: list[str]

    @classmethod
    def of(cls, frame: Mapping[str, Any]) -> Sample:
        return cls(_int(frame.get("time_ms")), _int(frame.get("seq")),
                   mode_name(frame.get("mode")), frame.get("inflate") is True,
                   _scaled(frame.get("ecg_uv"), 1000.0),
                   _scaled(frame.get("arterial_pressure_mmhg_x10"), 10.0),
                   _scaled(frame.get("balloon_pressure_mmhg_x10"), 10.0),
                   frame.get("r_detected") is True, frame.get("notch_detected") is True,
                   alarm_names(frame.get("alarm_mask")))


@dataclass(frozen=True)
class Segment:
    """Consecutive frames of a black box, summarised: the span of console time, the modes,
    how long the balloon was commanded inflated, the range of each signal, the console's
    R waves and notches, the alarms raised."""

    first_ms: int | None
    last_ms: int | None
    frames: int
    modes: list[str]
    inflated_frames: int
    ecg_mv: tuple[float, float] | None
    arterial_mmhg: tuple[float, float] | None
    balloon_mmhg: tuple[float, float] | None
    r_waves: int
    notches: int
    alarms: list[str]

    @classmethod
    def of(cls, samples: Sequence[Sample]) -> Segment:
        def span(values: list[float | None]) -> tuple[float, float] | None:
            known = [v for v in values if v is not None]
            return (min(known), max(known)) if known else None

        return cls(samples[0].console_ms, samples[-1].console_ms, len(samples),
                   list(dict.fromkeys(s.mode for s in samples)),
                   sum(s.inflate for s in samples), span([s.ecg_mv for s in samples]),
                   span([s.arterial_mmhg for s in samples]),
                   span([s.balloon_mmhg for s in samples]),
                   sum(s.r_wave for s in samples), sum(s.notch for s in samples),
                   list(dict.fromkeys(a for s in samples for a in s.alarms)))


SEGMENT_FRAMES: Final = 250  #: frames per summary row (250 ms of 1 kHz telemetry)


def segments(frames: Sequence[Mapping[str, Any]], size: int = SEGMENT_FRAMES, *,
             to_the_end: bool = False) -> list[Segment]:
    """A black box's telemetry in rows of ``size`` frames (other kinds are left out); with
    ``to_the_end`` the rows are counted back from the last frame (the frames before a trip:
    the last row is the ``size`` frames just before it, the first may be shorter)."""
    samples = [Sample.of(f) for f in frames if is_telemetry(f)]
    first = len(samples) % size if to_the_end else 0
    cuts = sorted({0, *range(first, len(samples), size), len(samples)})
    return [Segment.of(samples[i:j]) for i, j in pairwise(cuts)]


def trip_plot_window(trip: TripRecord) -> PlotWindow | None:
    """The trip's black box as the signals ``iabp check --plot`` draws, centred on the
    console time of the trip; None when the black box holds no frame (e.g. a trip on
    silence before any telemetry)."""
    centre = trip.console_ms
    if centre is None:
        return None
    nan = float("nan")
    win = PlotWindow(Violation(trip.rule, centre, trip.telemetry_ms, trip.cause, trip.message,
                               trip.detail), centre)
    for s in (Sample.of(f) for f in trip.before + trip.after if is_telemetry(f)):
        if s.console_ms is None:
            continue
        win.t_ms.append(s.console_ms)
        win.ecg_uv.append(nan if s.ecg_mv is None else s.ecg_mv * 1000.0)
        win.arterial_x10.append(nan if s.arterial_mmhg is None else s.arterial_mmhg * 10.0)
        win.balloon_x10.append(nan if s.balloon_mmhg is None else s.balloon_mmhg * 10.0)
        win.inflate.append(s.inflate)
        win.beat.append(False)  # the log keeps no beats of the monitor's own
    return win


def statement_text(rec: Mapping[str, Any]) -> str:
    """One line on what a non-trip record says (session start and end, checkpoint, seal,
    acknowledge), for the table of events."""
    p = _dict(rec["payload"])
    kind = rec["type"]
    if kind == OPEN:
        profile = _dict(p.get("profile"))
        signed = f"signed by {p['key_id']}" if p.get("key_id") else "unsigned"
        return (f"session {'resumed' if p.get('resumed') else 'opened'}: {p.get('format')}, "
                f"{signed}; console {p.get('url')}, interlock {p.get('interlock') or 'none'}, "
                f"patient {profile.get('patient_id', '?')}")
    if kind == CHECKPOINT:
        s = _dict(p.get("state"))
        state = ", ".join(f"{k} {v}" for k, v in s.items())
        return f"checkpoint ({p.get('reason')}): {p.get('records')} records" + (
            f"; {state}" if state else "")
    if kind == SEAL:
        return f"seal: {p.get('records')} records; the session was closed cleanly"
    if kind == SESSION_END:
        faults = p.get("integrity_events")
        faults = sum(faults.values()) if isinstance(faults, dict) else "?"
        return (f"session end ({p.get('reason')}): {p.get('frames')} frames, "
                f"{p.get('violations')} violations, {faults} integrity faults, safe state "
                f"{'ENTERED' if p.get('safe_state_entered') else 'never entered'}, "
                f"{p.get('stops_sent')} STOP commands, interlock {p.get('interlock')}")
    if kind == ACKNOWLEDGE:
        return (f"operator {p.get('operator')!s} acknowledged at monitor {p.get('at_ms')} ms: "
                + ("safe state left" if p.get("left_safe_state") else "cause persists, "
                   "safe state kept"))
    return json.dumps(p, sort_keys=True)[:200]
