"""The monitor's main loop: read the console's port, parse, reconstruct, judge, fail safe.

One :class:`Monitor` watches one console. Each pass of :meth:`Monitor.step`:

1. reads what the port has (bounded: at most ``read_max_bytes``, waiting at most
   ``read_timeout_s`` for the first byte), feeds it to the stream parser;
2. each TELEMETRY frame goes through the independent reconstruction and every rule; a
   violation enters the safe state; each integrity fault goes to the integrity guard;
   then the frames' console time is compared with the monitor's own clock
   (:mod:`iabp.monitor.coherence`: MON-TIME-LAG, MON-CLOCK-FROZEN, MON-FRAME-RATE), so the
   monitor never judges stale, replayed or frozen telemetry without saying so;
3. ticks the fail-safe supervisor (the spec's, compiled: silence watchdog, error window,
   latch), repeats STOP while latched and the console still runs, and keeps the
   interlock's energise-to-run heartbeat going while the supervisor says so (the
   heartbeat is driven from this loop only, so a stalled loop stops it);
4. refreshes a one-line status (rate, mode, balloon, last violation, frames/s, faults)
   on ``out``; or writes it once a second as a JSON line on ``json_events`` (``iabp
   monitor --json``, :meth:`Monitor.event`), where each trip goes too; or (``-q``,
   ``status_line=False``) neither: the alarms are shown on ``out`` in every case;
5. writes a signed audit checkpoint every ``checkpoint_ms`` (record count, chain head,
   frames, trips so far), so the log shows up to when the monitor was alive.

The session ends on ``--seconds``, ``should_stop()`` or :meth:`Monitor.request_stop`
(the CLI's SIGTERM/SIGINT/SIGHUP): :meth:`Monitor.close` de-energises the interlock,
writes a ``session_end`` record saying why and seals the log.

Any exception inside a pass enters the safe state (PORT_LOST for a vanished port,
INTERNAL_ERROR for anything else): the monitor never goes silent. Each pass also measures
the gap since the previous one: a gap longer than the silence watchdog means the monitor
itself was not running (host overloaded, a long fsync, SIGSTOP), so it cannot vouch for
that time; it trips with cause MONITOR_STALL ("monitor stalled 180 ms: host overloaded"),
not as console silence. Time comes from the injected ``clock`` (monotonic ms).
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import select
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import serial
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from iabp.monitor.audit_log import AuditLog, AuditLogError
from iabp.monitor.coherence import (
    COHERENCE_PROPERTY_ID,
    CoherenceBounds,
    CoherenceFinding,
    TimeCoherence,
)
from iabp.monitor.failsafe import (
    Cause,
    CommandChannel,
    FailSafe,
    IntegrityGuard,
    IntegrityThresholds,
    Trip,
)
from iabp.monitor.interlock import (
    ByteHeartbeatInterlock,
    ControlLineInterlock,
    Interlock,
    monotonic_ms,
)
from iabp.monitor.parser import IntegrityEvent, IntegrityKind, StreamParser
from iabp.monitor.port import DEFAULT_BAUDRATE, open_port, port_lost
from iabp.monitor.protocol import (
    BAUD_RATE,
    CONSOLE_TICK_US,
    SETTINGS_GAP_MAX_MS,
    UINT32_MOD,
    HelloFrame,
    LinkRole,
    SettingsFrame,
    TelemetryFrame,
    encode_frame,
)
from iabp.monitor.reconstruct.reconstruction import (
    BalloonState,
    PatientProfile,
    Reconstruction,
    ReconstructionConfig,
)
from iabp.monitor.rules.ruleset import RuleConfig, RuleSet, Verdict
from iabp.monitor.status_feed import StatusFeed
from iabp.spec.errors import PortError
from iabp.spec.modes import STOPPED_MODES, Mode

MONITOR_FIRMWARE = (0, 1, 0)


REALTIME_PRIORITY = 10  #: SCHED_FIFO priority asked for by ``--realtime`` (1..99)


def request_realtime(priority: int = REALTIME_PRIORITY) -> str | None:
    """Ask the OS to run this thread under SCHED_FIFO at ``priority`` (as a bedside monitor
    would be deployed, so other programs cannot delay a trip); None if granted, else why
    not. The loop blocks in ``select``, so it never holds a core while idle."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    except (OSError, AttributeError, ValueError) as exc:
        return f"real-time scheduling refused: {exc}"
    return None


def _fileno_of(port: object) -> int | None:
    """The port's file descriptor if it has one and reads without blocking (timeout 0)."""
    fileno = getattr(port, "fileno", None)
    if fileno is None or getattr(port, "timeout", None) != 0:
        return None
    try:
        return int(fileno())
    except (OSError, ValueError, TypeError, AttributeError, serial.SerialException):
        return None


class TextSink(Protocol):
    """Where the monitor writes its status line, alarms and JSON events: a text stream
    (the CLI gives a :class:`iabp.monitor.detached_output.DetachedWriter`, so a reader that
    stops reading never blocks the loop)."""

    def write(self, text: str, /) -> int: ...

    def flush(self) -> None: ...

    def isatty(self) -> bool: ...


class Port(Protocol):
    """What the monitor needs of a serial port (pyserial, or a test double)."""

    def read(self, size: int = 1, /) -> bytes: ...

    def write(self, data: bytes, /) -> int | None: ...

    @property
    def in_waiting(self) -> int: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class MonitorConfig:
    """Loop and threshold settings (ms unless named otherwise)."""

    startup_ms: int = 2000  #: first valid telemetry must arrive within this (the silence
    #: watchdog itself is the spec's: spec.monitor_model.MON_WATCHDOG_MS)
    read_max_bytes: int = 4096  #: bound on one read
    read_timeout_s: float = 0.002  #: longest wait for the first byte of a read (s)
    heartbeat_period_ms: int = 20  #: interlock heartbeat period
    interlock_line: str = "bytes"  #: "bytes", "DTR" or "RTS"
    stop_repeat_ms: int = 10  #: STOP repeated this often until the console stops
    status_period_ms: int = 250  #: status line refresh
    checkpoint_ms: int = 1000  #: a signed audit checkpoint at least this often (monitor clock)
    checkpoint_records: int = 100  #: and after this many other audit records
    baudrate: int = BAUD_RATE  #: console line (PROTOCOL.md section 2)
    #: interlock line: one heartbeat byte per 20 ms needs no speed; the relay box
    #: (``iabp watchdog``) listens at the same default (PROTOCOL.md section 14)
    interlock_baudrate: int = DEFAULT_BAUDRATE
    integrity: IntegrityThresholds = field(default_factory=IntegrityThresholds)
    rules: RuleConfig = field(default_factory=RuleConfig)
    reconstruction: ReconstructionConfig = field(default_factory=ReconstructionConfig)
    coherence: CoherenceBounds = field(default_factory=CoherenceBounds)  #: time coherence


@dataclass(frozen=True)
class MonitorStatus:
    """The live one-line status."""

    rate_bpm: float | None
    mode: Mode | None
    balloon: BalloonState
    last_violation: str | None
    frames_per_s: float
    frames: int
    integrity_errors: int
    safe_state: bool
    lag_ms: float | None = None  #: how far the newest frame is behind the freshest (MON-TIME-LAG)

    def line(self) -> str:
        rate = f"{self.rate_bpm:5.1f} bpm" if self.rate_bpm is not None else "  --- bpm"
        mode = self.mode.name if self.mode is not None else "NO TELEMETRY"
        state = "SAFE STATE (latched)" if self.safe_state else "watching"
        last = self.last_violation or "none"
        lag = f"{self.lag_ms:4.0f} ms" if self.lag_ms is not None else "  -- ms"
        return (f"[{state}] HR {rate} | {mode:<16} | balloon {self.balloon.value:<9} | "
                f"{self.frames_per_s:6.0f} frames/s | lag {lag} | integrity faults "
                f"{self.integrity_errors} | last violation: {last}")

    def to_json(self) -> dict[str, Any]:
        """The status as JSON values (the live view's feed), with the line itself."""
        mode = self.mode.name if self.mode is not None else None
        return {"state": "safe state" if self.safe_state else "watching",
                "rate_bpm": self.rate_bpm, "mode": mode,
                "balloon": self.balloon.value, "last_violation": self.last_violation,
                "frames_per_s": round(self.frames_per_s, 1), "frames": self.frames,
                "integrity_errors": self.integrity_errors, "safe_state": self.safe_state,
                "lag_ms": self.lag_ms, "line": self.line()}


class Monitor:
    """Watches one console over ``url`` and fails safe (REQ-MON-FAILSAFE).

    ``patient_profile`` gives the recorded contraindications; ``log_path`` the audit log
    (None: no log) and ``key`` the Ed25519 private key that signs it (None: unsigned,
    chain only); ``interlock_url`` the port of the relay box (None: no interlock).
    ``port`` / ``interlock_port`` may be given already open (tests, the demo, the CLI).
    ``status_feed`` (``--status-udp``) also sends the live state to a viewer every status
    period (:mod:`iabp.monitor.status_feed`); the monitor closes it at the end.
    ``json_events`` (``iabp monitor --json``) gets the status once a second and every trip
    as JSON lines (:meth:`event`) instead of the status line on ``out``;
    ``status_line=False`` (``-q``) shows no status line. Alarms go to ``out`` either way.
    """

    def __init__(self, url: str, patient_profile: PatientProfile | None = None,
                 log_path: str | Path | None = None, interlock_url: str | None = None,
                 clock: Callable[[], int] = monotonic_ms, *, config: MonitorConfig | None = None,
                 wall_clock: Callable[[], float] = time.time, out: TextSink | None = None,
                 port: Port | None = None, interlock_port: Any = None,
                 key: Ed25519PrivateKey | None = None,
                 status_feed: StatusFeed | None = None, json_events: TextSink | None = None,
                 status_line: bool = True) -> None:
        self.url = url
        self.profile = patient_profile or PatientProfile()
        self.log_path = Path(log_path) if log_path is not None else None
        self.interlock_url = interlock_url
        self.clock = clock
        self.config = cfg = config or MonitorConfig()
        self.wall_clock = wall_clock
        self.out = out if out is not None else sys.stderr
        self.port: Port | None = port
        self._interlock_port = interlock_port
        self.key = key
        self.status_feed = status_feed
        self.json_events = json_events
        self.status_line = status_line
        self.parser = StreamParser(max_settings_gap_ms=SETTINGS_GAP_MAX_MS,
                                   console_tick_us=CONSOLE_TICK_US)
        self.reconstruction = Reconstruction(self.profile, cfg.reconstruction)
        self.rules = RuleSet(config=cfg.rules)
        self.integrity = IntegrityGuard(cfg.integrity)
        self.coherence = TimeCoherence(cfg.coherence)
        self.audit: AuditLog | None = None
        self.interlock: Interlock | None = None
        self.channel: CommandChannel | None = None
        self.failsafe = FailSafe(announce=self._announce, wall_clock=wall_clock,
                                 stop_repeat_ms=cfg.stop_repeat_ms, startup_ms=cfg.startup_ms,
                                 on_stop_sent=self.reconstruction.note_stop_sent,
                                 on_trip=self._trip_event if json_events is not None else None)
        self.violations = 0
        self.last_violation: Verdict | None = None
        self._opened = False
        self._port_ok = True
        self._fileno: int | None = None
        self._rate_frames = 0
        self._rate_t0 = 0
        self._fps = 0.0
        self._next_status = 0
        self._status_len = 0
        self._next_checkpoint = 0
        self._last_pass_ms: int | None = None  #: monitor clock at the start of the last pass
        self.longest_pass_gap_ms = 0  #: the longest gap between two passes while supervising
        self.stop_reason: str | None = None  #: why the session is ending (see request_stop)

    # -- session --------------------------------------------------------------------------
    def open(self) -> None:
        """Open the audit log, the ports and the interlock; start the watchdog.

        Raises :class:`iabp.monitor.audit_log.AuditLogError` if the log cannot be opened (e.g.
        an existing damaged log): no session starts without its audit trail. A port that
        cannot be opened is a trip (PORT_LOST), not an exception."""
        if self._opened:
            return
        self._opened = True
        now = self.clock()
        if self.log_path is not None:
            self.audit = AuditLog(self.log_path, key=self.key,
                                  checkpoint_every=self.config.checkpoint_records,
                                  background=True)  # the loop never waits for an fsync
            self.audit.open_session(self.wall_clock(), monitor="iabp monitor", url=self.url,
                                    interlock=self.interlock_url, profile=self.profile.to_json(),
                                    checkpoint_ms=self.config.checkpoint_ms)
            self.failsafe.audit = self.audit
            self._next_checkpoint = now + self.config.checkpoint_ms
        self.failsafe.open(now)
        self._rate_t0 = now
        gc.freeze()  # set-up objects leave the collector: no long full-GC pauses in the loop
        try:
            if self.port is None:
                self.port = open_port(self.url, baudrate=self.config.baudrate, timeout_s=0.0)
            self._fileno = _fileno_of(self.port)
            self.channel = CommandChannel(self._write_console)
            self.failsafe.channel = self.channel
            self._open_interlock(now)
            self._send_hello(now)
        except Exception as exc:
            self._port_ok = self.port is not None
            self.failsafe.enter(Trip(Cause.PORT_LOST, str(exc), now))

    def _open_interlock(self, now: int) -> None:
        if self.interlock_url is None and self._interlock_port is None:
            return
        port = self._interlock_port
        if port is None:
            assert self.interlock_url is not None
            port = self._interlock_port = open_port(self.interlock_url,
                                                    baudrate=self.config.interlock_baudrate)
        line = self.config.interlock_line.upper()
        period = self.config.heartbeat_period_ms
        self.interlock = (ByteHeartbeatInterlock(port, period) if line == "BYTES" else
                          ControlLineInterlock(port, line, period))
        self.failsafe.interlock = self.interlock

    def _send_hello(self, now: int) -> None:
        if self.channel is None:
            return
        hello = HelloFrame(self.channel.seq, now % UINT32_MOD, LinkRole.MONITOR, 1,
                           MONITOR_FIRMWARE, 0, 0)
        self.channel.seq += 1
        self._write_console(encode_frame(hello))

    def _write_console(self, data: bytes) -> None:
        if self.port is None:
            raise PortError(f"port {self.url!r} is not open")
        try:
            self.port.write(data)
        except (serial.SerialException, OSError) as exc:
            self._port_ok = False
            raise port_lost(self.url, "command write", exc) from exc

    def request_stop(self, reason: str) -> None:
        """Ask :meth:`run` to end the session after the current pass (safe to call from a
        signal handler: it only sets a flag). ``reason`` goes into the final record."""
        if self.stop_reason is None:
            self.stop_reason = reason

    def close(self, reason: str | None = None) -> None:
        """End the session: stop the heartbeat (the relay box opens: no monitor, no
        permit), write the final ``session_end`` record (the summary and why the session
        ended), seal the log, close the ports."""
        now = self.clock()
        why = reason or self.stop_reason or "session closed"
        if self.interlock is not None and not self.interlock.tripped:
            self.interlock.trip(f"monitor session ended: {why}", now)
        if self.audit is not None:
            try:
                self.audit.write_post_event(self.wall_clock())
                self.audit.append("session_end", {
                    **self.summary(), "reason": why,
                    "interlock": "de-energised" if self.interlock is not None else "none",
                }, self.wall_clock())
                self.audit.seal(self.wall_clock())
            except AuditLogError as exc:  # the session ends anyway; say so
                self._announce(f"\a*** IABP MONITOR: audit log not sealed: {exc} ***")
            finally:
                self.audit.close()
            self.audit = None
        for p in (self.port, self._interlock_port, self.status_feed):
            if p is not None:
                with contextlib.suppress(Exception):  # closing a vanished port
                    p.close()
        self._opened = False

    def summary(self) -> dict[str, Any]:
        """What happened in this session (for the audit log and the CLI): every trip of
        every kind (rule, integrity, silence, port, internal error), the first one kept."""
        stats = self.parser.stats()
        first = self.failsafe.first_trip
        return {
            "frames": self.reconstruction.frames, "violations": self.violations,
            "integrity_events": {k.value: n for k, n in stats.errors.items()},
            "safe_state_entered": self.failsafe.entered_ever,
            "first_trip": first.to_json() if first is not None else None,
            "trips": [t.to_json() for t in self.failsafe.trips],
            "stops_sent": self.channel.stops_sent if self.channel else 0,
            "longest_loop_gap_ms": self.longest_pass_gap_ms,
        }

    def _checkpoint(self, now: int) -> None:
        """A signed checkpoint (record count, chain head, what the monitor has seen)."""
        self._next_checkpoint = now + self.config.checkpoint_ms
        if self.audit is not None:
            self.audit.checkpoint(self.wall_clock(), state={
                "frames": self.reconstruction.frames, "violations": self.violations,
                "trips": len(self.failsafe.trips), "latched": self.failsafe.latched,
                "integrity_errors": self.integrity.total})

    # -- the loop -------------------------------------------------------------------------
    def run(self, seconds: float | None = None,
            should_stop: Callable[[], bool] = lambda: False,
            operator_input: Callable[[], str | None] | None = None) -> int:
        """Watch until ``seconds`` elapse, ``should_stop()``, :meth:`request_stop` (the
        CLI's SIGTERM / SIGINT / SIGHUP handler) or Ctrl-C; then :meth:`close` (interlock
        de-energised, final record, log sealed). Return the exit status (1 if the safe
        state was entered, else 0). ``operator_input`` is polled for ``ack NAME``."""
        self.open()
        deadline = None if seconds is None else self.clock() + int(seconds * 1000)
        reason = "stopped by the caller"
        try:
            while self.stop_reason is None:
                if should_stop():
                    break
                self.step()
                if operator_input is not None:
                    self._operator(operator_input())
                if deadline is not None and self.clock() >= deadline:
                    reason = f"--seconds {seconds:g} elapsed"
                    break
        except KeyboardInterrupt:
            reason = "interrupted (KeyboardInterrupt)"
        finally:
            self._status(self.clock(), force=True)
            self.close(self.stop_reason or reason)
        return self.failsafe.exit_status

    def step(self) -> None:
        """One pass of the loop (see the module docstring). Never raises."""
        now = self.clock()
        try:
            self._loop_gap(now)
            data = self._read() if self._port_ok else b""
            if data:
                self.feed(data, now)
            finding = self.coherence.check(now)
            if finding is not None:
                self._trip(self._coherence_trip(finding, now))
            v = self.reconstruction.valuation
            self.failsafe.tick(now, v["mode'"] in STOPPED_MODES and not v["inflate_cmd'"])
            if self.interlock is not None and self.failsafe.interlock_energised:
                self.interlock.service(now)
            if now >= self._next_status:
                self._status(now)
            if self.audit is not None and now >= self._next_checkpoint:
                self._checkpoint(now)
        except PortError as exc:
            self._port_ok = False
            self._trip(Trip(Cause.PORT_LOST, str(exc), now))
        except Exception as exc:  # never silence: anything unexpected is a trip
            self._trip(Trip(Cause.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}", now))

    def _loop_gap(self, now: int) -> None:
        """The gap since the previous pass; longer than the silence watchdog while
        supervising is a MONITOR_STALL trip (the monitor itself was not running)."""
        last, self._last_pass_ms = self._last_pass_ms, now
        if last is None or not self.failsafe.started or self.failsafe.latched:
            return
        gap = now - last
        if gap > self.longest_pass_gap_ms:
            self.longest_pass_gap_ms = gap
        bound = self.config.coherence.stall_ms
        if gap > bound:
            self.coherence.stalled(gap)
            self._trip(Trip(Cause.MONITOR_STALL, f"stalled_ms={gap} limit_ms={bound} "
                            f"last_pass_ms={last} now_ms={now}", now))

    def _coherence_trip(self, finding: CoherenceFinding, now: int) -> Trip:
        return Trip(Cause.TIME_COHERENCE, finding.detail, now, finding.rule_id,
                    COHERENCE_PROPERTY_ID)

    def _read(self) -> bytes:
        """At most ``read_max_bytes``, waiting at most ``read_timeout_s`` for the first.

        A port with a file descriptor (serial device, pty, socket) is waited on with
        select and read without blocking; a port that is readable but yields nothing has
        reached its end (the far end closed): port lost.
        """
        port = self.port
        if port is None:
            raise PortError(f"port {self.url!r} is not open")
        limit = self.config.read_max_bytes
        try:
            if self._fileno is not None:
                ready, _, _ = select.select([self._fileno], [], [], self.config.read_timeout_s)
                if not ready:
                    return b""
                data = port.read(limit)
                if not data:
                    raise PortError(f"port {self.url!r} lost during telemetry read: end of stream")
                return data
            waiting = port.in_waiting
            return port.read(min(waiting, limit) if waiting else 1)
        except (serial.SerialException, OSError) as exc:
            raise port_lost(self.url, "telemetry read", exc) from exc

    def feed(self, data: bytes, now_ms: int) -> None:
        """Parse ``data`` (read at ``now_ms``) and judge every frame in it."""
        rec, rules, audit = self.reconstruction, self.rules, self.audit
        on_t, update = rec.on_telemetry, rules.update
        push = audit.push_frame if audit is not None else None
        tap = self.status_feed.frame if self.status_feed is not None else None
        clock_frame = self.coherence.frame  # judged per pass in step(), against the clock
        telemetry = False
        for ev in self.parser.feed(data):
            if type(ev) is TelemetryFrame:
                telemetry = True
                clock_frame(ev.time_ms)
                if push is not None and push(ev):
                    self._write_post_event()
                v = on_t(ev)
                found = update(v, rec.now_ms)
                if found:
                    self._violations(found, now_ms)
                if tap is not None:
                    tap(ev, rec.now_ms, v)
            elif type(ev) is IntegrityEvent:
                if ev.counted_frames:  # the gap a discarded frame leaves is not a new error
                    self.failsafe.integrity_error()
                if ev.kind is IntegrityKind.SEQ_RESET:  # the console restarted: new time base
                    self.coherence.reset()
                trip = self.integrity.update(ev, now_ms)
                if trip is not None:
                    self._trip(trip)
            else:
                if type(ev) is SettingsFrame:
                    rec.on_settings(ev)
                if push is not None and push(ev):
                    self._write_post_event()
        if telemetry:
            self.failsafe.frame(now_ms)

    def _violations(self, found: Any, now_ms: int) -> None:
        for verdict in found:
            self.violations += 1
            self.last_violation = verdict
            self._trip(Trip.from_verdict(verdict, now_ms, self.config.rules))

    def _trip(self, trip: Trip) -> None:
        if self.failsafe.latched:
            self.failsafe.enter(trip)  # one more reason, already latched
            return
        try:
            context = {"status": self.status.line(), "summary": self.summary()}
        except Exception as exc:  # the context is a nicety; the trip is not
            context = {"context_error": f"{type(exc).__name__}: {exc}"}
        self.failsafe.enter(trip, context)

    def _write_post_event(self) -> None:
        if self.audit is not None:
            self.audit.write_post_event(self.wall_clock())

    # -- operator -------------------------------------------------------------------------
    def acknowledge(self, operator_id: str) -> bool:
        """An operator acknowledges the safe state. True if the monitor left it (the cause
        is gone: interlock re-armed, watching again); False if the cause persists."""
        now = self.clock()
        left = self.failsafe.acknowledge(operator_id, now)
        if left:
            self.reconstruction.clear_stop()
            self.integrity.reset()
            self.coherence.reset()  # re-anchor console time on the next frames
            self._announce(f"safe state acknowledged by {operator_id}; watching again")
        else:
            self._announce(f"acknowledge by {operator_id} refused: the cause persists")
        return left

    def _operator(self, line: str | None) -> None:
        if not line:
            return
        words = line.split()
        if words and words[0].lower() in ("ack", "a", "acknowledge"):
            name = " ".join(words[1:]) or "operator"
            if self.failsafe.latched:
                self.acknowledge(name)

    # -- status ---------------------------------------------------------------------------
    @property
    def status(self) -> MonitorStatus:
        rec = self.reconstruction
        last = self.last_violation
        return MonitorStatus(
            rate_bpm=rec.rate_bpm, mode=rec.valuation["mode'"] if rec.frames else None,
            balloon=rec.balloon_state,
            last_violation=f"{last.rule_id} at {last.at_ms} ms" if last else None,
            frames_per_s=self._fps, frames=rec.frames, integrity_errors=self.integrity.total,
            safe_state=self.failsafe.latched, lag_ms=self.coherence.lag_ms)

    def _status(self, now: int, force: bool = False) -> None:
        elapsed = now - self._rate_t0
        if elapsed >= 1000 or force:
            frames = self.reconstruction.frames
            self._fps = 1000.0 * (frames - self._rate_frames) / max(elapsed, 1)
            self._rate_frames, self._rate_t0 = frames, now
        self._next_status = now + self.config.status_period_ms
        status = self.status
        if self.status_feed is not None:
            rec = self.reconstruction
            self.status_feed.publish(status.to_json(), self.rules, rec.valuation, rec.now_ms,
                                     self.failsafe)
        if self.json_events is not None:
            if force or elapsed >= 1000:
                self.event("status", status.to_json())
            return
        if not self.status_line:
            return
        line = status.line()
        if self.out.isatty():
            pad = max(0, self._status_len - len(line))
            self.out.write("\r" + line + " " * pad)
            self._status_len = len(line)
        elif force or elapsed >= 1000:
            self.out.write(line + "\n")
        self.out.flush()

    def event(self, kind: str, payload: dict[str, Any]) -> None:
        """One JSON line ``{"event": kind, ...payload}`` on ``json_events`` (``iabp monitor
        --json``: "status", "trip", "summary"); nothing without ``json_events``."""
        if self.json_events is not None:
            self.json_events.write(json.dumps({"event": kind, **payload}) + "\n")
            self.json_events.flush()

    def _trip_event(self, trip: Trip, latching: bool) -> None:
        self.event("trip", {**trip.to_json(), "latching": latching})

    def _announce(self, text: str) -> None:
        if self.out.isatty() and self._status_len:
            self.out.write("\n")
            self._status_len = 0
        self.out.write(text + "\n")
        self.out.flush()
