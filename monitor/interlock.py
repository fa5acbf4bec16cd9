"""The monitor's energise-to-run interlock output to the external relay box.

While the monitor is healthy it keeps a *heartbeat* going on its interlock output: a modem
control line (DTR or RTS) toggling at a fixed period, or a heartbeat byte written each
period. The relay box on the other end (see :mod:`iabp.sim.relay_box`) holds the pump's
run-permit contact closed only while heartbeats keep arriving. Tripping the interlock
(REQ-MON-FAILSAFE: "interlock line dropped") means *stopping* the heartbeat, so every
failure that stops the monitor also trips the relay box:

* the monitor decides to trip: :meth:`Interlock.trip` stops the heartbeat for good
  (latched) and drives the output to its de-energised state;
* the monitor process crashes or is killed: nobody writes beats, the OS closes the port;
* the monitor's main loop hangs (blocked read, deadlock, ``SIGSTOP``): the heartbeat is
  driven by :meth:`Interlock.service`, which only the main loop calls, so it stops too;
* the cable is pulled or the USB adapter vanishes: no beat reaches the relay box.

Heartbeats are therefore never produced by an independent timer that could keep beating
while the monitor loop is stuck.

Time is passed in: every method takes ``now_ms`` from the caller's monotonic clock in ms.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from enum import Enum
from typing import Any, Protocol

import serial

from iabp.monitor.port import port_errors, port_url
from iabp.spec.errors import IabpError, PortError

BEAT_BYTE = b"\x55"
"""Default heartbeat byte ("U", alternating bits): one per period while healthy."""

TRIP_BYTE = b"\x54"
"""Default trip token ("T") written once on trip, so the relay box opens at once."""

MAX_TOKEN_BYTES = 8
"""Longest heartbeat or trip token accepted, in bytes (a short framed token at most)."""

CONTROL_LINES = ("DTR", "RTS")
"""Modem control outputs that can carry a toggling heartbeat."""

NO_CONTROL_LINE_SCHEMES = ("socket://",)
"""URL schemes whose ports have no modem control lines at all."""


def monotonic_ms() -> int:
    """The process's monotonic clock in whole ms: the default clock for real runs."""
    return time.monotonic_ns() // 1_000_000


class InterlockError(IabpError):
    """The interlock was configured or operated in a way that is not allowed."""


class InterlockState(Enum):
    """Where the interlock output stands, as the relay box would see it."""

    IDLE = "idle"
    """Built or re-armed, no heartbeat sent yet: the relay box is not energised."""
    ENERGISED = "energised"
    """Heartbeats are being sent: the relay box may permit pumping."""
    TRIPPED = "tripped"
    """Heartbeat stopped for good (latched) until an operator acknowledges."""


class TripOutcome(Enum):
    """What :meth:`Interlock.trip` achieved, for the audit record."""

    DEENERGISED = "de-energised"
    """Heartbeat stopped and the output driven to its de-energised state."""
    PORT_LOST = "port lost"
    """Heartbeat stopped but the port failed while de-energising; the relay box trips on
    silence within its own timeout."""
    ALREADY_TRIPPED = "already tripped"
    """The interlock was tripped earlier; the first trip's reason is kept."""


class Interlock(ABC):
    """An energise-to-run heartbeat output, driven by the monitor's main loop.

    The main loop calls :meth:`service` every iteration with the current time; a beat
    (line toggle or heartbeat byte) is emitted whenever ``period_ms`` has elapsed since
    the previous one. Missed beats after a late call are not sent in a burst: the
    schedule restarts from the late call, so a stalled loop shows as a gap at the relay box.

    ``max_service_gap_ms``, if given, makes the interlock trip itself when two
    :meth:`service` calls are further apart than that (the relay box has most likely
    tripped already; this keeps the monitor's own state consistent with it).

    Thread-safe: all state changes happen under one lock, so several threads may share
    an interlock.
    """

    def __init__(self, period_ms: int, max_service_gap_ms: int | None = None) -> None:
        if period_ms <= 0:
            raise InterlockError(f"heartbeat period must be > 0 ms, got {period_ms}")
        if max_service_gap_ms is not None and max_service_gap_ms < period_ms:
            raise InterlockError(
                f"max service gap {max_service_gap_ms} ms is shorter than the "
                f"heartbeat period {period_ms} ms"
            )
        self.period_ms = period_ms
        self.max_service_gap_ms = max_service_gap_ms
        self._lock = threading.RLock()
        self._state = InterlockState.IDLE
        self._next_due_ms: int | None = None
        self._last_service_ms: int | None = None
        self.beats_sent = 0
        self.trip_reason: str | None = None
        self.tripped_at_ms: int | None = None
        self.acknowledged_by: str | None = None

    @property
    def state(self) -> InterlockState:
        """Current output state (see :class:`InterlockState`)."""
        return self._state

    @property
    def tripped(self) -> bool:
        """True once tripped, until an operator acknowledges."""
        return self._state is InterlockState.TRIPPED

    def service(self, now_ms: int) -> InterlockState:
        """Emit a heartbeat if one is due at ``now_ms``; call once per main-loop pass.

        Raises :class:`PortError` if the port vanished while beating; the interlock is
        then already latched tripped with reason "port lost".
        """
        with self._lock:
            if self._state is InterlockState.TRIPPED:
                return self._state
            gap_ms = self._service_gap_ms(now_ms)
            if self.max_service_gap_ms is not None and gap_ms > self.max_service_gap_ms:
                self.trip(f"monitor loop stalled: no service for {gap_ms} ms", now_ms)
                return self._state
            self._last_service_ms = now_ms
            if self._next_due_ms is not None and now_ms < self._next_due_ms:
                return self._state
            try:
                self._beat(now_ms)
            except PortError as exc:
                self._latch(f"port lost: {exc}", now_ms)
                raise
            self.beats_sent += 1
            self._state = InterlockState.ENERGISED
            self._next_due_ms = self._schedule_after(now_ms)
            return self._state

    def trip(self, reason: str, now_ms: int) -> TripOutcome:
        """Stop the heartbeat for good and de-energise the output (latched).

        Never raises for a port fault: the fail-safe path that calls it must go on to
        send the stop command, raise the alarm and write the audit record. ``reason``
        goes into :attr:`trip_reason` for that record.
        """
        with self._lock:
            if self._state is InterlockState.TRIPPED:
                return TripOutcome.ALREADY_TRIPPED
            self._latch(reason, now_ms)
            try:
                self._deenergise()
            except Exception as exc:  # a port closed under us fails with TypeError etc.
                self.trip_reason = f"{reason} (and port lost while de-energising: {exc})"
                return TripOutcome.PORT_LOST
            return TripOutcome.DEENERGISED

    def operator_acknowledge(self, operator_id: str, now_ms: int) -> None:
        """Re-arm a tripped interlock on an explicit operator acknowledgement.

        The only way out of the latched trip. The caller must have cleared the monitor's
        safe state first; the heartbeat resumes at the next :meth:`service` call.
        ``operator_id`` (who acknowledged) is kept for the audit record.
        """
        if not operator_id.strip():
            raise InterlockError("operator acknowledgement needs an operator id")
        with self._lock:
            if self._state is not InterlockState.TRIPPED:
                raise InterlockError("interlock is not tripped: nothing to acknowledge")
            self.acknowledged_by = operator_id
            self._state = InterlockState.IDLE
            self._next_due_ms = None
            self._last_service_ms = now_ms

    def _latch(self, reason: str, now_ms: int) -> None:
        self._state = InterlockState.TRIPPED
        self.trip_reason = reason
        self.tripped_at_ms = now_ms

    def _service_gap_ms(self, now_ms: int) -> int:
        if self._last_service_ms is None:
            return 0
        return now_ms - self._last_service_ms

    def _schedule_after(self, now_ms: int) -> int:
        """Next beat time: on the fixed grid, unless the loop fell a whole period behind."""
        if self._next_due_ms is None or now_ms - self._next_due_ms >= self.period_ms:
            return now_ms + self.period_ms
        return self._next_due_ms + self.period_ms

    @abstractmethod
    def _beat(self, now_ms: int) -> None:
        """Emit one heartbeat on the wire; raise :class:`PortError` if the port is gone."""

    @abstractmethod
    def _deenergise(self) -> None:
        """Put the wire in its de-energised state; raise :class:`PortError` on failure."""


class ControlLineInterlock(Interlock):
    """Heartbeat on a modem control output (DTR or RTS) of a serial port.

    While healthy the line changes level every ``period_ms`` (one edge per period, so a
    square wave of period ``2 * period_ms``); tripped, it is held at
    ``deenergised_level`` (default False: line deasserted) and never toggles again
    until :meth:`operator_acknowledge`. A line stuck at either level means "trip" to the
    relay box, so a crash that freezes the line high is safe too.

    Raises :class:`PortError` at construction if the port cannot carry control lines:
    Linux pseudo-terminals have none (setting DTR fails with ENOTTY) and ``socket://``
    ports silently ignore them; use :class:`ByteHeartbeatInterlock` there. ``loop://``
    carries them back to its own inputs (RTS -> CTS, DTR -> DSR), which the tests use.
    """

    def __init__(
        self,
        port: serial.SerialBase,
        line: str = "DTR",
        period_ms: int = 20,
        *,
        deenergised_level: bool = False,
        max_service_gap_ms: int | None = None,
    ) -> None:
        super().__init__(period_ms, max_service_gap_ms)
        line_name = line.upper()
        if line_name not in CONTROL_LINES:
            raise InterlockError(f"control line must be one of {CONTROL_LINES}, got {line!r}")
        self.port: Any = port
        self.line = line_name
        self.deenergised_level = deenergised_level
        self._url = port_url(port)
        if not getattr(port, "is_open", False):
            raise PortError(f"port {self._url!r} is not open: cannot drive {line_name}")
        if self._url.startswith(NO_CONTROL_LINE_SCHEMES):
            # pyserial accepts DTR/RTS on these and silently drops them.
            raise PortError(
                f"port {self._url!r} has no modem control lines; "
                "use ByteHeartbeatInterlock on this port"
            )
        try:
            self._drive(deenergised_level, "probe")
        except PortError as exc:
            raise PortError(
                f"port {self._url!r} cannot carry the {line_name} control line "
                f"({exc}); use ByteHeartbeatInterlock on this port"
            ) from exc
        self._level = deenergised_level

    @property
    def line_level(self) -> bool:
        """Level last driven on the control line (True = asserted)."""
        return self._level

    def _beat(self, now_ms: int) -> None:
        self._drive(not self._level, "toggle")

    def _deenergise(self) -> None:
        self._drive(self.deenergised_level, "trip")

    def _drive(self, level: bool, action: str) -> None:
        with port_errors(self._url, f"{self.line} {action}"):
            setattr(self.port, self.line.lower(), level)
        self._level = level


class ByteSink(Protocol):
    """Anything heartbeat bytes can be written to (a pyserial port, or a test double)."""

    def write(self, data: bytes, /) -> int | None:
        """Write ``data``; return the number of bytes written (or None if all)."""
        ...


class ByteHeartbeatInterlock(Interlock):
    """Heartbeat as a byte (or short token) written every ``period_ms`` on a data line.

    Works on any port that carries data: a UART, a USB-serial adapter, a pseudo-terminal,
    ``socket://``. Tripping stops the bytes for good (latched) and, unless
    ``trip_token`` is None, writes the trip token once so the relay box can open at once
    instead of waiting out its silence timeout.
    """

    def __init__(
        self,
        port: ByteSink,
        period_ms: int = 20,
        byte: bytes = BEAT_BYTE,
        *,
        trip_token: bytes | None = TRIP_BYTE,
        max_service_gap_ms: int | None = None,
    ) -> None:
        super().__init__(period_ms, max_service_gap_ms)
        _check_token("heartbeat", byte)
        if trip_token is not None:
            _check_token("trip", trip_token)
            if trip_token == byte:
                raise InterlockError("trip token must differ from the heartbeat byte")
        self.port = port
        self.byte = byte
        self.trip_token = trip_token
        self._url = port_url(port)

    def _beat(self, now_ms: int) -> None:
        self._write(self.byte, "heartbeat write")

    def _deenergise(self) -> None:
        if self.trip_token is not None:
            self._write(self.trip_token, "trip token write")

    def _write(self, data: bytes, action: str) -> None:
        with port_errors(self._url, action):
            written = self.port.write(data)
        if written is not None and written != len(data):
            raise PortError(
                f"port {self._url!r} lost during {action}: wrote {written} of {len(data)} bytes"
            )


def _check_token(kind: str, token: bytes) -> None:
    if not isinstance(token, bytes) or not 1 <= len(token) <= MAX_TOKEN_BYTES:
        raise InterlockError(f"{kind} token must be 1..{MAX_TOKEN_BYTES} bytes, got {token!r}")

