"""The monitor's latched safe state (REQ-MON-FAILSAFE, HZ-BLIND).

The decision is the spec's fail-safe supervisor (:mod:`iabp.spec.monitor_model`), compiled
and stepped once per ms of the monitor clock: its inputs are what the monitor saw in
that ms (a rule violation, an integrity error, a valid frame, a lost port, an internal
error, an operator acknowledge); it counts ms of silence and integrity errors per window
and latches ``mon_safe`` (so P-MON-FAILSAFE, P-MON-LATCH, P-MON-SILENCE and
P-MON-ENERGISE-TO-RUN are properties of the code that runs). The brief's stricter
integrity thresholds (:class:`IntegrityGuard`: time going backwards, a sequence reset,
a buffer overflow, a gap of more than K frames, more than N bad frames in a SLIDING
window) enter as the monitor's own rule MON-INTEGRITY, i.e. as a rule violation.

When ``mon_safe`` rises, :class:`FailSafe` acts, in this order, each step guarded so a
failing one never stops the next:

1. trip the energise-to-run interlock (``iabp.monitor.interlock``): the relay box opens;
2. send STOP (``encode_command``) to the console, repeated every ``stop_repeat_ms``
   while the telemetry does not show the console stopped (PROTOCOL.md section 8);
3. raise the alarm: a terminal message with the bell character (exit status 1), in plain
   words (:func:`trip_message`: the rule ID and the numbers, from a per-rule template);
4. write an audit record with the black-box window of the frames before it.

Only :meth:`FailSafe.acknowledge` by a named operator leaves the safe state, and only if
the cause is gone (the supervisor decides). The supervisor starts with the first valid
frame: before it the interlock is not energised (no telemetry, no run permit), and no
telemetry within ``startup_ms`` is a trip. Time is passed in (monitor clock, ms).
"""

from __future__ import annotations

import contextlib
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Final

from iabp.monitor.audit_log import AuditLog
from iabp.monitor.interlock import Interlock
from iabp.monitor.parser import IntegrityEvent, IntegrityKind
from iabp.monitor.protocol import UINT32_MOD, MonitorCommand, encode_command
from iabp.monitor.reconstruct.reconstruction import compile_step_in_place, initial_value
from iabp.monitor.rules.base import RuleConfig, Verdict
from iabp.monitor.trip_messages import coherence_message, rule_message, stall_message
from iabp.spec import monitor_model as M
from iabp.spec.engines.to_python import compile_expr
from iabp.spec.errors import IabpError
from iabp.spec.expr import And

BELL: Final = "\a"
SAFE_STATE_EVENT: Final = "safe_state"
#: audit event: a further cause of another rule or kind while the safe state is latched
ANOTHER_CAUSE_EVENT: Final = "safe_state_cause"
ACKNOWLEDGE_EVENT: Final = "operator_acknowledge"
MAX_TRIPS_KEPT: Final = 16
INTEGRITY_RULE_ID: Final = "MON-INTEGRITY"


class FailSafeError(IabpError):
    """The fail-safe was operated in a way that is not allowed (e.g. an anonymous ack)."""


class Cause(Enum):
    """Why the monitor entered its safe state; ``code`` is the STOP command's reason."""

    RULE_VIOLATION = ("rule violation", 1)
    INTEGRITY = ("telemetry integrity", 2)
    SILENCE = ("telemetry silence", 3)
    PORT_LOST = ("port lost", 4)
    INTERNAL_ERROR = ("monitor internal error", 5)
    #: console time against the monitor's clock (monitor/coherence.py): MON-TIME-LAG,
    #: MON-CLOCK-FROZEN, MON-FRAME-RATE, the monitor's own rules
    TIME_COHERENCE = ("telemetry time coherence", 6)
    #: the monitor's own loop did not run for longer than the silence watchdog
    MONITOR_STALL = ("monitor stalled", 7)

    @property
    def text(self) -> str:
        return self.value[0]

    @property
    def code(self) -> int:
        return self.value[1]


#: The supervisor input each cause sets (``iabp.spec.monitor_model.INPUT_NAMES``).
CAUSE_INPUT: Final[Mapping[Cause, str]] = {
    Cause.RULE_VIOLATION: "mon_rule_violation",
    Cause.INTEGRITY: "mon_rule_violation",  # MON-INTEGRITY, the monitor's own rule
    Cause.SILENCE: "mon_port_lost",  # no telemetry at all since the start: a dead port
    Cause.PORT_LOST: "mon_port_lost",
    Cause.INTERNAL_ERROR: "mon_internal_error",
    Cause.TIME_COHERENCE: "mon_rule_violation",  # the monitor's own rules, as MON-INTEGRITY
    Cause.MONITOR_STALL: "mon_internal_error",  # the monitor itself failed to keep watch
}


@dataclass(frozen=True)
class Trip:
    """One reason to be in the safe state, at ``at_ms`` on the monitor clock.

    ``detail`` is the machine detail (for a rule violation: the values the rule read, by
    spec variable name), kept in the audit record; :meth:`message` is the sentence for
    the operator. ``limits`` are the rule tolerances the monitor ran with (for the
    numbers in the sentence; default :class:`RuleConfig`).
    """

    cause: Cause
    detail: str
    at_ms: int
    rule_id: str | None = None
    property_id: str | None = None
    limits: RuleConfig | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_verdict(cls, verdict: Verdict, now_ms: int,
                     limits: RuleConfig | None = None) -> Trip:
        """The trip for a rule's violation verdict, noticed at ``now_ms`` (monitor clock)."""
        return cls(Cause.RULE_VIOLATION, f"at {verdict.at_ms} ms of telemetry: {verdict.detail}",
                   now_ms, verdict.rule_id, verdict.property_id, limits)

    def message(self) -> str:
        """One sentence for the operator: the rule ID and the numbers, in plain words."""
        return trip_message(self)

    def to_json(self) -> dict[str, Any]:
        return {"cause": self.cause.name, "detail": self.detail, "at_ms": self.at_ms,
                "rule_id": self.rule_id, "property_id": self.property_id,
                "message": self.message()}


# -- trip messages in plain words -----------------------------------------------------------

def trip_message(trip: Trip) -> str:
    """The operator's sentence for ``trip`` (see :mod:`iabp.monitor.trip_messages`); a rule
    without a template, or readings a template cannot use, get a generic sentence. Never
    raises."""
    if trip.cause is Cause.RULE_VIOLATION and trip.rule_id is not None:
        return rule_message(trip.rule_id, trip.property_id, trip.detail,
                            trip.limits or RuleConfig())
    if trip.cause is Cause.TIME_COHERENCE and trip.rule_id is not None:
        return coherence_message(trip.rule_id, trip.detail)
    if trip.cause is Cause.MONITOR_STALL:
        return stall_message(trip.detail)
    if trip.rule_id is not None:
        return f"{trip.rule_id}: {trip.detail}"
    if trip.cause is Cause.PORT_LOST and trip.detail.startswith("cannot open"):
        return trip.detail
    return f"{trip.cause.text}: {trip.detail}"


# -- integrity (the brief's thresholds, beyond the supervisor's per-window count) -----------

_KIND_WORDS: Final[Mapping[IntegrityKind, str]] = {
    IntegrityKind.TIME_BACKWARDS: "console time went backwards",
    IntegrityKind.SEQ_RESET: "the console's record counter restarted",
    IntegrityKind.BUFFER_OVERFLOW: "telemetry arrived faster than it could be read",
    IntegrityKind.CRC_ERROR: "corrupt frame (CRC error)",
    IntegrityKind.SEQ_GAP: "frames missing",
    IntegrityKind.GARBAGE: "bytes outside any frame",
    IntegrityKind.SETTINGS_OVERDUE: "the console stopped sending its settings",
    IntegrityKind.HELLO_MISMATCH: "the console runs at a control tick this monitor does not time",
}

#: Faults after which the telemetry cannot be trusted at all: trip at once.
IMMEDIATE_KINDS: Final = frozenset({
    IntegrityKind.TIME_BACKWARDS, IntegrityKind.SEQ_RESET, IntegrityKind.BUFFER_OVERFLOW,
    IntegrityKind.SETTINGS_OVERDUE, IntegrityKind.HELLO_MISMATCH,
})
#: The faults that lose ticks of telemetry at once (``frames_lost``), in words: a sequence
#: gap, and console time jumping over ticks no record was sent for (the monitor's beat
#: clock cannot be kept in step with the console's across more than the gap limit).
_GAP_WORDS: Final[Mapping[IntegrityKind, str]] = {
    IntegrityKind.SEQ_GAP: "{} telemetry frames lost at once",
    IntegrityKind.TIME_JUMP: "console time jumped over {} ticks without telemetry",
}
#: The rule each integrity fault is reported under (MON-INTEGRITY unless named here).
KIND_RULE_ID: Final[Mapping[IntegrityKind, str]] = {
    IntegrityKind.SETTINGS_OVERDUE: "MON-SETTINGS-CADENCE",
}


@dataclass(frozen=True)
class IntegrityThresholds:
    """When corrupt or out-of-order telemetry becomes a trip (rule MON-INTEGRITY).

    More than ``max_bad_frames`` bad frames (each discarded frame, each lost frame of a
    sequence gap, each other fault) within any ``window_ms``; any single gap of more than
    ``max_gap_frames`` lost frames, or console time jumping over more than that many ticks
    without a record; any fault of ``immediate`` at once. (The supervisor
    itself also trips on more than ``MON_ERROR_LIMIT`` error ticks per fixed window.)
    """

    max_bad_frames: int = M.MON_ERROR_LIMIT
    window_ms: int = M.MON_ERROR_WINDOW_MS
    max_gap_frames: int = 10
    immediate: frozenset[IntegrityKind] = field(default_factory=lambda: IMMEDIATE_KINDS)


class IntegrityGuard:
    """Counts integrity faults in a sliding window (bounded: at most one entry per bad
    frame up to the threshold) and says when they amount to a trip."""

    def __init__(self, thresholds: IntegrityThresholds | None = None) -> None:
        self.thresholds = thresholds or IntegrityThresholds()
        self.reset()

    def reset(self) -> None:
        self._window: deque[tuple[int, int]] = deque(maxlen=self.thresholds.max_bad_frames + 1)
        self._bad = 0
        self.total = 0  #: integrity events seen since the last reset
        self.counts: dict[IntegrityKind, int] = {}

    def update(self, event: IntegrityEvent, now_ms: int) -> Trip | None:
        """One fault from the stream parser at ``now_ms``; a :class:`Trip` if over threshold.

        Each bad frame counts once: a sequence gap adds only the lost frames the parser did
        not already report as discarded (:attr:`IntegrityEvent.counted_frames`), so one
        corrupted frame (a CRC error, then the gap it leaves) is one bad frame, not two.
        """
        th = self.thresholds
        self.total += 1
        self.counts[event.kind] = self.counts.get(event.kind, 0) + 1
        if event.kind in th.immediate:
            return self._trip(f"{_KIND_WORDS.get(event.kind, event.kind.value)}: "
                              f"{event.detail}", now_ms,
                              KIND_RULE_ID.get(event.kind, INTEGRITY_RULE_ID))
        gap = _GAP_WORDS.get(event.kind)
        if gap is not None and event.frames_lost > th.max_gap_frames:
            return self._trip(f"{gap.format(event.frames_lost)} (limit {th.max_gap_frames}): "
                              f"{event.detail}", now_ms)
        weight = event.counted_frames
        if weight <= 0:
            return None  # the frames of this gap were counted when they were discarded
        window = self._window
        while window and now_ms - window[0][0] > th.window_ms:
            self._bad -= window.popleft()[1]
        window.append((now_ms, weight))
        self._bad += weight
        if self._bad > th.max_bad_frames:
            return self._trip(f"{self._bad} corrupt or missing telemetry frames within "
                              f"{th.window_ms} ms (limit {th.max_bad_frames}); last: "
                              f"{_KIND_WORDS.get(event.kind, event.kind.value)}: "
                              f"{event.detail}", now_ms)
        return None

    @staticmethod
    def _trip(detail: str, now_ms: int, rule_id: str = INTEGRITY_RULE_ID) -> Trip:
        return Trip(Cause.INTEGRITY, f"telemetry integrity lost: {detail}", now_ms,
                    rule_id, "REQ-MON-FAILSAFE")


# -- the supervisor -------------------------------------------------------------------------

_STATE: Final = tuple(s for s in M.state_vars())
_MAX_CATCH_UP_MS: Final = M.MON_ERROR_WINDOW_MS + M.MON_SILENCE_CAP_MS


def _initial_supervisor() -> dict[str, Any]:
    """The supervisor at power-on, from the spec's init constraints (and checked on them)."""
    v: dict[str, Any] = {s.name: initial_value(s) for s in _STATE}
    v.update({k + "'": x for k, x in list(v.items())})
    v.update({name: False for name in M.INPUT_NAMES})
    init = compile_expr(And(*[s.init for s in _STATE if s.init is not None]))
    if not init(v):
        raise FailSafeError("supervisor power-on values violate spec.monitor_model's init")
    return {k: x for k, x in v.items() if k.endswith("'") or k in M.INPUT_NAMES}


class Supervisor:
    """The spec's fail-safe supervisor step (``iabp.spec.monitor_model.step``), compiled and run
    in place, one tick per ms. :attr:`v` holds ``x'`` after each tick."""

    def __init__(self) -> None:
        self._step = compile_step_in_place(tuple(M.step()))
        self.v: dict[str, Any] = _initial_supervisor()

    def tick(self, inputs: Mapping[str, bool]) -> None:
        v = self.v
        for name in M.INPUT_NAMES:
            v[name] = inputs.get(name, False)
        self._step(v)

    @property
    def safe(self) -> bool:
        return bool(self.v["mon_safe'"])


# -- the safe state ---------------------------------------------------------------------


class CommandChannel:
    """The monitor's own record counter and the write side of the console port."""

    def __init__(self, write: Callable[[bytes], object]) -> None:
        self._write = write
        self.seq = 0
        self.stops_sent = 0

    def send(self, command: MonitorCommand, now_ms: int, reason: int = 0) -> None:
        """Encode and write one COMMAND (STOP or ALARM_ACKNOWLEDGE only)."""
        wire = encode_command(command, seq=self.seq, time_ms=now_ms % UINT32_MOD, reason=reason)
        self.seq = (self.seq + 1) % UINT32_MOD
        self._write(wire)
        if command is MonitorCommand.STOP:
            self.stops_sent += 1


def _print_alarm(text: str) -> None:
    import sys

    print(text, file=sys.stderr, flush=True)


class FailSafe:
    """The supervisor plus everything that happens on entering and leaving the safe state.

    ``channel`` (STOP to the console), ``interlock`` and ``audit`` may be None when the
    monitor runs without them. ``announce`` shows the alarm (default: stderr);
    ``wall_clock`` stamps audit records; ``on_trip`` (``iabp monitor --json``) gets each
    trip the alarm is about, with True for the one that latched the safe state and False
    for another kind of cause while latched.
    """

    def __init__(self, *, channel: CommandChannel | None = None,
                 interlock: Interlock | None = None, audit: AuditLog | None = None,
                 announce: Callable[[str], None] = _print_alarm,
                 wall_clock: Callable[[], float] = time.time, stop_repeat_ms: int = 10,
                 startup_ms: int = 2000,
                 on_stop_sent: Callable[[], None] | None = None,
                 on_trip: Callable[[Trip, bool], None] | None = None) -> None:
        self.channel, self.interlock, self.audit = channel, interlock, audit
        self.announce, self.wall_clock = announce, wall_clock
        self.on_trip = on_trip
        self.stop_repeat_ms, self.startup_ms = stop_repeat_ms, startup_ms
        self.on_stop_sent = on_stop_sent
        self.supervisor = Supervisor()
        self.started = False  #: the supervisor runs (first valid frame, or a trip)
        self.entered_ever = False
        self.trip: Trip | None = None  #: the trip that latched the current episode
        self.first_trip: Trip | None = None  #: the first trip of the session (kept)
        self.trips: deque[Trip] = deque(maxlen=MAX_TRIPS_KEPT)  #: the latest reasons
        self.problems: deque[str] = deque(maxlen=MAX_TRIPS_KEPT)  #: failed fail-safe steps
        self.entered_at_ms: int | None = None
        self.console_stopped = False
        self._opened_ms: int | None = None
        self._model_ms = 0
        self._inputs: dict[str, bool] = {}
        self._pending: list[Trip] = []
        self._context: Mapping[str, Any] | None = None
        self._last_stop_ms: int | None = None
        self._ack_operator: str | None = None
        self._causes_seen: set[tuple[str | None, Cause]] = set()  #: this episode's causes

    # -- state --------------------------------------------------------------------------
    @property
    def latched(self) -> bool:
        """In the safe state (``mon_safe``)."""
        return self.supervisor.safe

    @property
    def interlock_energised(self) -> bool:
        """The heartbeat may run: the supervisor runs and says so (P-MON-ENERGISE-TO-RUN)."""
        return self.started and bool(self.supervisor.v["mon_interlock_energised'"])

    @property
    def exit_status(self) -> int:
        """1 once the safe state was entered in this session, else 0."""
        return 1 if self.entered_ever else 0

    # -- inputs ---------------------------------------------------------------------------
    def open(self, now_ms: int) -> None:
        """The session starts at ``now_ms`` (the startup timeout counts from here)."""
        self._opened_ms = now_ms

    def frame(self, now_ms: int) -> None:
        """Valid telemetry arrived at ``now_ms`` (starts the supervisor on the first)."""
        if not self.started:
            self.started, self._model_ms = True, now_ms
        self._inputs["mon_frame"] = True

    def integrity_error(self) -> None:
        """The parser reported an integrity error in the current ms."""
        self._inputs["mon_integrity_error"] = True

    def enter(self, trip: Trip, context: Mapping[str, Any] | None = None) -> None:
        """A cause for the safe state: step the supervisor at once. Never raises."""
        self.trips.append(trip)
        self._inputs[CAUSE_INPUT[trip.cause]] = True
        if self.latched:  # one more reason; the supervisor sees it on its next tick
            self._another_cause(trip)
            return
        self._pending.append(trip)
        if context is not None and self._context is None:
            self._context = context
        if not self.started:
            self.started, self._model_ms = True, trip.at_ms
        self.tick(trip.at_ms, self.console_stopped, urgent=True)

    def tick(self, now_ms: int, console_stopped: bool, urgent: bool = False) -> None:
        """Advance the supervisor to ``now_ms`` and act on its outputs. Never raises.

        ``urgent`` (a new cause while not latched, or an acknowledge) steps at once even
        within the current ms; the model clock then leads the monitor clock by at most
        2 ms, so silence is never counted late.
        """
        self.console_stopped = console_stopped
        if not self.started:
            if self._opened_ms is not None and now_ms - self._opened_ms > self.startup_ms:
                self.enter(Trip(Cause.SILENCE, f"no valid telemetry within {self.startup_ms} ms "
                                "of the start", now_ms))
            return
        if now_ms - self._model_ms > _MAX_CATCH_UP_MS:  # counters saturate long before
            self._model_ms = now_ms - _MAX_CATCH_UP_MS
        steps = now_ms - self._model_ms
        force = (urgent and not self.latched) or self._inputs.get("mon_ack", False)
        if steps <= 0 and force and self._model_ms - now_ms < 2:
            steps = 1
        sup = self.supervisor
        for _ in range(max(0, steps)):
            was = sup.safe
            sup.tick(self._inputs)
            self._inputs = {}
            self._model_ms += 1
            if sup.safe and not was:
                self._entered(now_ms)
            elif was and not sup.safe:
                self._left(now_ms)
        if sup.safe:
            self._repeat_stop(now_ms)

    # -- acting ---------------------------------------------------------------------------
    def _entered(self, now_ms: int) -> None:
        if self._pending:
            trip = self._pending[0]
        else:  # the supervisor's own counters (silence, error window): a reason like any
            trip = self._own_trip(now_ms)
            self.trips.append(trip)
        self._pending.clear()
        context, self._context = self._context, None
        self.entered_ever = True
        self.trip, self.entered_at_ms = trip, now_ms
        self._causes_seen = {(trip.rule_id, trip.cause)}
        if self.first_trip is None:
            self.first_trip = trip
        self._guard("interlock trip", lambda: self.interlock.trip(trip.message(), now_ms)
                    if self.interlock is not None else None)
        self._send_stop(now_ms, trip.cause.code)
        self._guard("alarm", lambda: self.announce(
            f"{BELL}*** IABP MONITOR SAFE STATE: {trip.message()} ***"))
        payload = {"trip": trip.to_json(), "supervisor": self._supervisor_json(),
                   **(dict(context) if context else {})}
        self._guard("audit record", lambda: self.audit.record_event(
            SAFE_STATE_EVENT, payload, self.wall_clock()) if self.audit is not None else None)
        self._tell(trip, latching=True)

    def _another_cause(self, trip: Trip) -> None:
        """A new kind of cause while latched (e.g. the console not obeying the STOP): shown
        and audited once per rule and cause in the episode (the trips list keeps only the
        latest few; a stream of the same fault must not flood the log)."""
        key = (trip.rule_id, trip.cause)
        if key in self._causes_seen:
            return
        self._causes_seen.add(key)
        self._guard("alarm", lambda: self.announce(
            f"{BELL}*** IABP MONITOR SAFE STATE, also: {trip.message()} ***"))
        payload = {"trip": trip.to_json(), "latched_by": self.trip.to_json() if self.trip else None}
        self._guard("audit record", lambda: self.audit.record_event(
            ANOTHER_CAUSE_EVENT, payload, self.wall_clock()) if self.audit is not None else None)
        self._tell(trip, latching=False)

    def _own_trip(self, now_ms: int) -> Trip:
        """The supervisor tripped on its own counters: silence or the error window."""
        v = self.supervisor.v
        if v["mon_silence_ms'"] > M.MON_WATCHDOG_MS:
            return Trip(Cause.SILENCE, f"no valid telemetry for more than {M.MON_WATCHDOG_MS} "
                        "ms (watchdog)", now_ms)
        if v["mon_errors_in_window'"] > M.MON_ERROR_LIMIT:
            return Trip(Cause.INTEGRITY, f"more than {M.MON_ERROR_LIMIT} integrity errors "
                        f"within {M.MON_ERROR_WINDOW_MS} ms", now_ms)
        return Trip(Cause.INTERNAL_ERROR, "supervisor tripped with no recorded cause", now_ms)

    def _supervisor_json(self) -> dict[str, Any]:
        return {k.rstrip("'"): v for k, v in self.supervisor.v.items() if k.endswith("'")}

    def _repeat_stop(self, now_ms: int) -> None:
        if self.console_stopped or self._last_stop_ms is None:
            return
        if now_ms - self._last_stop_ms >= self.stop_repeat_ms:
            self._send_stop(now_ms, self.trip.cause.code if self.trip else 0)

    def acknowledge(self, operator_id: str, now_ms: int) -> bool:
        """A named operator acknowledges; True if the supervisor left the safe state (its
        cause is gone: the interlock is re-armed), False if it stays (the cause persists)."""
        if not operator_id.strip():
            raise FailSafeError("acknowledging the safe state needs an operator id")
        if not self.latched:
            raise FailSafeError("the monitor is not in its safe state: nothing to acknowledge")
        self._ack_operator = operator_id
        self._inputs["mon_ack"] = True
        trip = self.trip
        self.tick(now_ms, self.console_stopped)
        left = not self.latched
        payload = {"operator": operator_id, "at_ms": now_ms, "left_safe_state": left,
                   "trip": trip.to_json() if trip else None}
        self._guard("audit record", lambda: self.audit.append(
            ACKNOWLEDGE_EVENT, payload, self.wall_clock()) if self.audit is not None else None)
        return left

    def _left(self, now_ms: int) -> None:
        """The supervisor left the safe state on an acknowledge: re-arm the interlock."""
        self.trip, self._last_stop_ms = None, None
        operator = self._ack_operator or "operator"
        interlock = self.interlock
        if interlock is not None and interlock.tripped:
            self._guard("interlock re-arm",
                        lambda: interlock.operator_acknowledge(operator, now_ms))

    def _send_stop(self, now_ms: int, reason: int) -> None:
        self._last_stop_ms = now_ms
        if self.channel is None:
            return
        channel = self.channel
        self._guard("STOP command", lambda: channel.send(MonitorCommand.STOP, now_ms, reason))
        if self.on_stop_sent is not None:
            self.on_stop_sent()

    def _tell(self, trip: Trip, *, latching: bool) -> None:
        """The trip to ``on_trip``, if given: last, after the safety steps and the audit
        record (a slow reader of the JSON cannot delay them), and like them it never
        raises."""
        on_trip = self.on_trip
        if on_trip is not None:
            self._guard("trip report", lambda: on_trip(trip, latching))

    def _guard(self, what: str, action: Callable[[], object]) -> None:
        """Run one fail-safe step; a failure is kept and shown, never raised."""
        try:
            action()
        except Exception as exc:  # the next step must still happen
            problem = f"{what} failed: {type(exc).__name__}: {exc}"
            self.problems.append(problem)
            if what != "alarm":
                with contextlib.suppress(Exception):  # nothing left to tell it to
                    self.announce(f"{BELL}*** IABP MONITOR: {problem} ***")
