"""The relay box's side of the energise-to-run interlock: a heartbeat watchdog.

An external relay box holds the pump's run-permit contact closed only while the
monitor's heartbeat (see :mod:`iabp.monitor.interlock`) keeps arriving. This module is what
such a box does, in software: for bench tests, for the end-to-end tests, and as the
``iabp watchdog`` command to watch a live monitor.

* :class:`Watchdog` is the pure timing rule: ``feed(now_ms)`` on each heartbeat,
  ``expired(now_ms)`` once more than ``timeout_ms`` passed without one. A trip is
  latched (like the relay box's contact) until :meth:`Watchdog.reset`.
* :class:`WatchdogRunner` reads a port: heartbeat bytes, or edges of a modem status
  input (CTS, DSR, CD), and reports each state change as a :class:`WatchdogEvent`.
  A trip token, end of stream or a port error trips at once.
* :func:`run_watchdog` opens a port by URL and runs; :func:`watchdog_main` is the CLI.

Time is passed in: the runner reads the injected ``clock`` (monotonic ms) only.
"""

from __future__ import annotations

import argparse
import datetime
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

from iabp.monitor.interlock import BEAT_BYTE, TRIP_BYTE, InterlockError, monotonic_ms
from iabp.monitor.port import DEFAULT_BAUDRATE, open_port, port_errors, port_url
from iabp.spec.errors import PortError

MODES = ("bytes", "cts", "dsr", "cd")
"""What carries the heartbeat: data bytes, or edges on one modem status input."""

MAX_READ_BYTES = 4096
"""Most bytes taken from the port per poll (a bounded buffer, never silent growth)."""


class WatchdogState(Enum):
    """The relay box's view of the monitor's heartbeat."""

    WAITING = "WAITING"
    """No heartbeat seen yet since start or reset: run permit not given."""
    ARMED = "ARMED"
    """Heartbeats arriving within the timeout: run permit given."""
    TRIPPED = "TRIPPED"
    """Silence beyond the timeout, trip token, end of stream or port loss (latched)."""


class Watchdog:
    """Heartbeat timeout rule of a relay box, on ms timestamps passed in by the caller.

    Trips when more than ``timeout_ms`` ms pass after the last heartbeat (exactly
    ``timeout_ms`` of silence is still tolerated). Before the first heartbeat it waits
    without tripping: the run permit is simply not given yet.
    """

    def __init__(self, timeout_ms: int) -> None:
        if timeout_ms <= 0:
            raise InterlockError(f"watchdog timeout must be > 0 ms, got {timeout_ms}")
        self.timeout_ms = timeout_ms
        self.state = WatchdogState.WAITING
        self.last_feed_ms: int | None = None
        self.trip_reason: str | None = None

    def feed(self, now_ms: int) -> WatchdogState:
        """A heartbeat arrived at ``now_ms``. Does not revive a tripped watchdog."""
        if self.check(now_ms) is WatchdogState.TRIPPED:
            return self.state
        self.last_feed_ms = now_ms
        self.state = WatchdogState.ARMED
        return self.state

    def expired(self, now_ms: int) -> bool:
        """True if tripped, or armed and silent for more than ``timeout_ms`` at ``now_ms``."""
        if self.state is WatchdogState.TRIPPED:
            return True
        return self.state is WatchdogState.ARMED and self.silence_ms(now_ms) > self.timeout_ms

    def check(self, now_ms: int) -> WatchdogState:
        """Update and return the state at ``now_ms`` (latching a silence trip)."""
        if self.state is WatchdogState.ARMED and self.expired(now_ms):
            self.trip(f"after {self.silence_ms(now_ms)} ms of silence")
        return self.state

    def trip(self, reason: str) -> None:
        """Trip now for ``reason`` (trip token, end of stream, port lost); latched."""
        if self.state is not WatchdogState.TRIPPED:
            self.state = WatchdogState.TRIPPED
            self.trip_reason = reason

    def silence_ms(self, now_ms: int) -> int:
        """ms since the last heartbeat (0 if none was ever seen)."""
        return 0 if self.last_feed_ms is None else now_ms - self.last_feed_ms

    def reset(self) -> None:
        """Manual re-arm of the relay box: back to waiting for the first heartbeat."""
        self.state = WatchdogState.WAITING
        self.last_feed_ms = None
        self.trip_reason = None


@dataclass(frozen=True)
class WatchdogEvent:
    """One state change: when (ms on the runner's clock, from its start), what, and why."""

    at_ms: int
    state: WatchdogState
    detail: str

    def line(self) -> str:
        """The event as the CLI prints it, e.g. ``TRIPPED after 153 ms of silence``."""
        return f"{self.state.value} {self.detail}".rstrip()


class HeartbeatSource(Protocol):
    """What the runner needs from a port (a pyserial port, or a test double)."""

    def read(self, size: int = 1, /) -> bytes:
        """Up to ``size`` bytes, waiting at most the port's read timeout for the first."""
        ...

    @property
    def in_waiting(self) -> int:
        """Bytes already received and not yet read."""
        ...


def _real_wait_ms(ms: int) -> None:
    time.sleep(ms / 1000.0)


class WatchdogRunner:
    """Watches one port and reports :class:`WatchdogEvent` on every state change.

    ``mode`` "bytes": each ``beat_byte`` is a heartbeat, ``trip_byte`` trips at once,
    any other byte is counted in :attr:`noise_bytes` and ignored (garbage must not hold
    the relay closed). Modes "cts", "dsr", "cd": each change of that input's level is a
    heartbeat, polled every ``poll_ms`` (must be shorter than the sender's toggle
    period, or edges are missed). A port error or end of stream trips at once and sets
    :attr:`port_lost`, which ends :meth:`run` (there is nothing left to watch).

    With ``mode="bytes"`` the port's read timeout paces the loop; set it to about
    ``poll_ms``. ``wait_ms`` sleeps between control-line polls (injected for tests).
    """

    def __init__(
        self,
        port: HeartbeatSource,
        timeout_ms: int,
        mode: str = "bytes",
        *,
        clock: Callable[[], int] = monotonic_ms,
        on_event: Callable[[WatchdogEvent], None] = lambda event: None,
        poll_ms: int | None = None,
        wait_ms: Callable[[int], None] = _real_wait_ms,
        beat_byte: bytes = BEAT_BYTE,
        trip_byte: bytes | None = TRIP_BYTE,
    ) -> None:
        if mode not in MODES:
            raise InterlockError(f"watchdog mode must be one of {MODES}, got {mode!r}")
        self.port: Any = port
        self.watchdog = Watchdog(timeout_ms)
        self.mode = mode
        self.poll_ms = poll_ms if poll_ms is not None else max(1, min(10, timeout_ms // 10))
        self.beat_byte = beat_byte[:1]
        self.trip_byte = trip_byte[:1] if trip_byte else None
        self.noise_bytes = 0
        self.port_lost = False
        self.events: list[WatchdogEvent] = []  # bounded: the trip is latched, so <= 3 events
        self._clock = clock
        self._on_event = on_event
        self._wait_ms = wait_ms
        self._url = port_url(port)
        self._start_ms = clock()
        self._last_level: bool | None = None
        self._reported = WatchdogState.WAITING

    @property
    def state(self) -> WatchdogState:
        """Current watchdog state."""
        return self.watchdog.state

    def begin(self) -> None:
        """Report the initial WAITING state (once, before the first :meth:`step`)."""
        self._emit(
            WatchdogState.WAITING,
            f"for first heartbeat on {self._url} (mode {self.mode}, "
            f"timeout {self.watchdog.timeout_ms} ms)",
        )

    def step(self) -> WatchdogState:
        """One poll: take what the port has, feed or trip, and report a state change."""
        try:
            beats, tripped_by_token = self._poll()
        except PortError as exc:
            self.port_lost = True
            self.watchdog.trip(f"port lost: {exc}")
            return self._report(self._clock())
        now_ms = self._clock()
        if beats:
            self.watchdog.feed(now_ms)
        if tripped_by_token:
            self.watchdog.trip("on trip token from the monitor")
        return self._report(now_ms)

    def run(
        self,
        should_stop: Callable[[], bool] = lambda: False,
        exit_on_trip: bool = False,
        duration_ms: int | None = None,
    ) -> WatchdogState:
        """Poll until stopped, the duration (ms) ends, the port is lost, or (with
        ``exit_on_trip``) a trip."""
        self.begin()
        while not should_stop():
            state = self.step()
            if self.port_lost or (exit_on_trip and state is WatchdogState.TRIPPED):
                break
            if duration_ms is not None and self._clock() - self._start_ms >= duration_ms:
                break
        return self.state

    def _poll(self) -> tuple[bool, bool]:
        """Returns (heartbeat seen, trip token seen) for this poll."""
        if self.mode == "bytes":
            return self._poll_bytes()
        return self._poll_line(), False

    def _poll_bytes(self) -> tuple[bool, bool]:
        with port_errors(self._url, "heartbeat read"):
            data = self.port.read(1)
            while data and len(data) < MAX_READ_BYTES:
                waiting = int(self.port.in_waiting)
                chunk = self.port.read(min(waiting, MAX_READ_BYTES - len(data))) if waiting else b""
                if not chunk:
                    break
                data += chunk
        beats = data.count(self.beat_byte)
        trips = data.count(self.trip_byte) if self.trip_byte else 0
        self.noise_bytes += len(data) - beats - trips
        return beats > 0, trips > 0

    def _poll_line(self) -> bool:
        with port_errors(self._url, f"{self.mode.upper()} poll"):
            level = bool(getattr(self.port, self.mode))
        edge = self._last_level is not None and level != self._last_level
        self._last_level = level
        self._wait_ms(self.poll_ms)
        return edge

    def _report(self, now_ms: int) -> WatchdogState:
        state = self.watchdog.check(now_ms)
        if state is not self._reported:
            if state is WatchdogState.ARMED:
                self._emit(state, "(heartbeat arriving)")
            else:
                self._emit(state, self.watchdog.trip_reason or "")
        return state

    def _emit(self, state: WatchdogState, detail: str) -> None:
        self._reported = state
        event = WatchdogEvent(self._clock() - self._start_ms, state, detail)
        self.events.append(event)
        self._on_event(event)


def run_watchdog(
    url: str,
    timeout_ms: int,
    mode: str = "bytes",
    clock: Callable[[], int] = monotonic_ms,
    *,
    on_event: Callable[[WatchdogEvent], None] = lambda event: None,
    should_stop: Callable[[], bool] = lambda: False,
    exit_on_trip: bool = False,
    duration_ms: int | None = None,
    poll_ms: int | None = None,
    baudrate: int = DEFAULT_BAUDRATE,
) -> WatchdogState:
    """Open ``url`` and watch its heartbeat; return the final state.

    A port that cannot be opened counts as lost: one TRIPPED event, state TRIPPED.
    """
    poll = poll_ms if poll_ms is not None else max(1, min(10, timeout_ms // 10))
    try:
        port = open_port(url, baudrate=baudrate, timeout_s=poll / 1000.0)
    except PortError as exc:
        event = WatchdogEvent(0, WatchdogState.TRIPPED, f"port lost: {exc}")
        on_event(event)
        return WatchdogState.TRIPPED
    try:
        runner = WatchdogRunner(
            port, timeout_ms, mode, clock=clock, on_event=on_event, poll_ms=poll
        )
        return runner.run(should_stop, exit_on_trip, duration_ms)
    finally:
        port.close()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="iabp watchdog",
        description="Watch an IABP monitor's interlock heartbeat like the external relay box.",
    )
    parser.add_argument("url", help="port URL: /dev/ttyUSB1, /dev/pts/N, socket://host:port ...")
    parser.add_argument(
        "--timeout-ms",
        "--timeout",
        dest="timeout",
        type=positive_ms,
        required=True,
        metavar="MS",
        help="trip after more than MS ms without a heartbeat",
    )
    parser.add_argument(
        "--mode",
        choices=MODES,
        default="bytes",
        help="heartbeat carrier: bytes, or edges on CTS/DSR/CD (default bytes)",
    )
    parser.add_argument(
        "--exit-on-trip",
        action="store_true",
        help="exit with status 1 as soon as the watchdog trips",
    )
    parser.add_argument(
        "--duration-ms",
        "--duration",
        dest="duration",
        type=positive_ms,
        metavar="MS",
        help="end cleanly after MS ms (default: run until interrupted)",
    )
    parser.add_argument(
        "--poll-ms",
        "--poll",
        dest="poll",
        type=positive_ms,
        metavar="MS",
        help="poll interval in ms (default: timeout/10, at most 10)",
    )
    parser.add_argument("--baud", type=int, default=DEFAULT_BAUDRATE, help="line rate in bit/s")
    return parser


def positive_ms(text: str) -> int:
    """argparse type: a whole, positive number of milliseconds."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of ms: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0 ms, got {value}")
    return value


def _print_event(event: WatchdogEvent) -> None:
    stamp = datetime.datetime.now().isoformat(timespec="milliseconds")
    print(f"{stamp} +{event.at_ms} ms {event.line()}", flush=True)


@contextmanager
def _stop_on_sigterm(stop: threading.Event) -> Iterator[None]:
    """SIGTERM ends the run cleanly (only installable from the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def watchdog_main(argv: list[str]) -> int:
    """``iabp watchdog URL --timeout MS [--mode M] [--exit-on-trip] [--duration MS]``.

    Prints one timestamped line per state change. Exit status: 0 when the run ends
    (``--duration``, SIGTERM, Ctrl-C) without having tripped; 1 when tripped (at once
    with ``--exit-on-trip``, else at the end of the run; also when the port cannot be
    opened); 2 on a usage error.
    """
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    stop = threading.Event()
    seen: list[WatchdogState] = [WatchdogState.WAITING]

    def report(event: WatchdogEvent) -> None:
        seen.append(event.state)
        _print_event(event)

    try:
        with _stop_on_sigterm(stop):
            run_watchdog(
                args.url,
                args.timeout,
                args.mode,
                on_event=report,
                should_stop=stop.is_set,
                exit_on_trip=args.exit_on_trip,
                duration_ms=args.duration,
                poll_ms=args.poll,
                baudrate=args.baud,
            )
    except KeyboardInterrupt:
        pass
    print("END", flush=True)
    return 1 if WatchdogState.TRIPPED in seen else 0
