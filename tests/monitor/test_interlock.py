"""Energise-to-run interlock output (REQ-MON-FAILSAFE: "interlock line dropped")."""

from __future__ import annotations

import re

import pytest
import serial

from iabp.monitor.interlock import (
    BEAT_BYTE,
    TRIP_BYTE,
    ByteHeartbeatInterlock,
    ControlLineInterlock,
    InterlockError,
    InterlockState,
    TripOutcome,
    monotonic_ms,
)
from iabp.monitor.port import open_port
from iabp.sim.relay_box import WatchdogRunner, WatchdogState
from iabp.spec.errors import PortError
from tests.monitor.helpers_pty import FakeClock, MasterPort, TcpRelay, TcpServer, pty_pair

PERIOD_MS = 20
TIMEOUT_MS = 150
SLACK_MS = 600  # scheduling noise allowance on a loaded 2-core CI machine


class RecordingSink:
    """A port that records each write with the fake time it happened at."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.writes: list[tuple[int, bytes]] = []
        self.fail: BaseException | None = None
        self.port = "fake://sink"

    def write(self, data: bytes, /) -> int:
        if self.fail is not None:
            raise self.fail
        self.writes.append((self.clock(), data))
        return len(data)

    def times(self, data: bytes = BEAT_BYTE) -> list[int]:
        return [t for t, d in self.writes if d == data]


def at(clock: FakeClock, t_ms: int) -> int:
    """Set the fake clock to ``t_ms`` and return it (for calls that take ``now_ms``)."""
    clock.now_ms = t_ms
    return t_ms


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sink(clock: FakeClock) -> RecordingSink:
    return RecordingSink(clock)


def drive(
    interlock: ByteHeartbeatInterlock, clock: FakeClock, until_ms: int, step_ms: int = 1
) -> None:
    while clock() <= until_ms:
        interlock.service(clock())
        clock.advance(step_ms)


# --- exact timing on a fake clock -------------------------------------------------------


def test_beats_exactly_once_per_period(clock: FakeClock, sink: RecordingSink) -> None:
    beat = ByteHeartbeatInterlock(sink, period_ms=PERIOD_MS)
    states = [beat.state]
    drive(beat, clock, until_ms=100)
    states.append(beat.state)
    assert sink.times() == [0, 20, 40, 60, 80, 100]
    assert states == [InterlockState.IDLE, InterlockState.ENERGISED]
    assert beat.beats_sent == 6


def test_late_service_never_bursts_missed_beats(clock: FakeClock, sink: RecordingSink) -> None:
    """A stalled loop must show as a gap at the relay box, not be papered over."""
    beat = ByteHeartbeatInterlock(sink, period_ms=PERIOD_MS)
    for t in (0, 35, 40, 41, 95, 100, 114, 115):
        clock.now_ms = t
        beat.service(t)
    # 35: late but within a period -> stays on the grid (next 40); 95: a period behind ->
    # schedule restarts from 95 (next 115).
    assert sink.times() == [0, 35, 40, 95, 115]


def test_trip_latches_and_sends_token_once(clock: FakeClock, sink: RecordingSink) -> None:
    beat = ByteHeartbeatInterlock(sink, period_ms=PERIOD_MS)
    drive(beat, clock, until_ms=40)
    assert beat.trip("violation REQ-INFL-DIASTOLE", clock()) is TripOutcome.DEENERGISED
    assert beat.trip("second reason", clock()) is TripOutcome.ALREADY_TRIPPED
    drive(beat, clock, until_ms=500)
    assert sink.times() == [0, 20, 40]
    assert sink.times(TRIP_BYTE) == [41]
    assert beat.tripped and beat.state is InterlockState.TRIPPED
    assert beat.trip_reason == "violation REQ-INFL-DIASTOLE"
    assert beat.tripped_at_ms == 41


def test_only_operator_acknowledge_rearms(clock: FakeClock, sink: RecordingSink) -> None:
    beat = ByteHeartbeatInterlock(sink, period_ms=PERIOD_MS, trip_token=None)
    with pytest.raises(InterlockError, match="not tripped"):
        beat.operator_acknowledge("nurse-7", 0)
    beat.service(at(clock, 0))
    beat.trip("telemetry silence", at(clock, 5))
    with pytest.raises(InterlockError, match="operator id"):
        beat.operator_acknowledge("  ", 10)
    assert beat.tripped
    beat.operator_acknowledge("nurse-7", at(clock, 300))
    assert beat.state is InterlockState.IDLE and beat.acknowledged_by == "nurse-7"
    beat.service(at(clock, 300))
    assert sink.times() == [0, 300]
    assert sink.times(TRIP_BYTE) == []


def test_stalled_service_trips_itself(clock: FakeClock, sink: RecordingSink) -> None:
    beat = ByteHeartbeatInterlock(sink, period_ms=PERIOD_MS, max_service_gap_ms=50)
    beat.service(at(clock, 0))
    beat.service(at(clock, 50))
    assert beat.state is InterlockState.ENERGISED
    beat.service(at(clock, 101))
    assert beat.tripped
    assert beat.trip_reason == "monitor loop stalled: no service for 51 ms"
    assert sink.times() == [0, 50]


def test_port_lost_while_beating_raises_and_latches(clock: FakeClock, sink: RecordingSink) -> None:
    beat = ByteHeartbeatInterlock(sink, period_ms=PERIOD_MS)
    beat.service(0)
    sink.fail = serial.SerialException("device disconnected")
    with pytest.raises(PortError, match="fake://sink.*heartbeat write"):
        beat.service(20)
    assert beat.tripped and (beat.trip_reason or "").startswith("port lost")
    assert beat.trip("fail-safe", 21) is TripOutcome.ALREADY_TRIPPED


def test_trip_never_raises_on_a_dead_port(clock: FakeClock, sink: RecordingSink) -> None:
    beat = ByteHeartbeatInterlock(sink, period_ms=PERIOD_MS)
    beat.service(0)
    sink.fail = OSError(5, "Input/output error")
    assert beat.trip("silence", 10) is TripOutcome.PORT_LOST
    assert beat.tripped and "port lost while de-energising" in (beat.trip_reason or "")


def test_short_write_is_a_port_fault(clock: FakeClock) -> None:
    class Short(RecordingSink):
        def write(self, data: bytes, /) -> int:
            return 0

    beat = ByteHeartbeatInterlock(Short(clock), period_ms=PERIOD_MS)
    with pytest.raises(PortError, match="wrote 0 of 1"):
        beat.service(0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"period_ms": 0},
        {"byte": b""},
        {"byte": b"123456789"},
        {"trip_token": BEAT_BYTE},
        {"max_service_gap_ms": 5},
    ],
)
def test_bad_byte_heartbeat_configuration(kwargs: dict[str, object], sink: RecordingSink) -> None:
    with pytest.raises(InterlockError):
        ByteHeartbeatInterlock(sink, **kwargs)  # type: ignore[arg-type]


# --- control line on loop:// -----------------------------------------------------------


def test_loop_url_maps_rts_to_cts_and_dtr_to_dsr() -> None:
    """pyserial's loop:// wires each output back to an input; CD reads True, RI False."""
    port = open_port("loop://")
    try:
        for level in (True, False, True):
            port.dtr = level
            port.rts = not level
            assert port.dsr is level
            assert port.cts is (not level)
        assert port.cd is True and port.ri is False
    finally:
        port.close()


@pytest.mark.parametrize(("line", "echo"), [("DTR", "dsr"), ("RTS", "cts")])
def test_control_line_toggles_each_period_and_trips_low(line: str, echo: str) -> None:
    port = open_port("loop://")
    try:
        interlock = ControlLineInterlock(port, line, period_ms=PERIOD_MS)
        assert getattr(port, echo) is False  # starts de-energised
        levels = []
        for t in range(0, 101, 5):
            interlock.service(t)
            levels.append((t, getattr(port, echo)))
        edges = [t for (t, lvl), (_, prev) in zip(levels[1:], levels, strict=False) if lvl != prev]
        assert edges == [20, 40, 60, 80, 100]
        assert levels[0] == (0, True)
        assert interlock.trip("violation", 101) is TripOutcome.DEENERGISED
        for t in range(101, 400, 5):
            interlock.service(t)
            assert getattr(port, echo) is False and interlock.line_level is False
    finally:
        port.close()


def test_control_line_deenergised_level_can_be_asserted() -> None:
    port = open_port("loop://")
    try:
        interlock = ControlLineInterlock(port, "dtr", PERIOD_MS, deenergised_level=True)
        assert port.dsr is True
        interlock.service(0)
        assert port.dsr is False
        interlock.trip("violation", 1)
        assert port.dsr is True
    finally:
        port.close()


def test_control_line_on_a_pty_raises_port_error_cleanly() -> None:
    """Linux ptys have no modem lines (ENOTTY): refuse at construction, point at bytes."""
    with pty_pair() as pty:
        path = pty.path
        port = open_port(path)
        try:
            with pytest.raises(PortError, match="cannot carry the DTR.*ByteHeartbeatInterlock"):
                ControlLineInterlock(port, "DTR", PERIOD_MS)
            with pytest.raises(PortError, match="RTS"):
                ControlLineInterlock(port, "RTS", PERIOD_MS)
        finally:
            port.close()


def test_control_line_on_socket_or_closed_port_is_refused() -> None:
    server = TcpServer()
    try:
        port = open_port(server.url)
        with pytest.raises(PortError, match="no modem control lines"):
            ControlLineInterlock(port, "DTR", PERIOD_MS)
        port.close()
        with pytest.raises(PortError, match="not open"):
            ControlLineInterlock(port, "DTR", PERIOD_MS)
    finally:
        server.close()
    with pytest.raises(InterlockError, match="control line"):
        ControlLineInterlock(open_port("loop://"), "CTS", PERIOD_MS)


def test_control_line_watchdog_on_loop_stays_armed_then_trips_in_time() -> None:
    """Fake clock, DSR mode: armed while DTR toggles; trips just after the timeout."""
    clock = FakeClock()
    port = open_port("loop://")
    try:
        interlock = ControlLineInterlock(port, "DTR", period_ms=PERIOD_MS)
        runner = WatchdogRunner(
            port, TIMEOUT_MS, "dsr", clock=clock, poll_ms=5, wait_ms=clock.advance
        )
        runner.begin()
        while clock() < 1000:
            interlock.service(clock())
            assert runner.step() is not WatchdogState.TRIPPED
        assert runner.state is WatchdogState.ARMED
        interlock.trip("violation", clock())
        tripped_at = clock()
        while runner.step() is not WatchdogState.TRIPPED:
            interlock.service(clock())
        # the last edge (possibly the trip's own drop to low) came at most a period earlier
        assert TIMEOUT_MS - PERIOD_MS < clock() - tripped_at <= TIMEOUT_MS + 5
        assert TIMEOUT_MS < silence_ms(runner) <= TIMEOUT_MS + 5
        assert [e.state for e in runner.events] == [
            WatchdogState.WAITING,
            WatchdogState.ARMED,
            WatchdogState.TRIPPED,
        ]
    finally:
        port.close()


# --- byte heartbeat over real transports ------------------------------------------------


def co_run(
    interlock: ByteHeartbeatInterlock, runner: WatchdogRunner, duration_ms: int
) -> list[WatchdogState]:
    """Monitor loop and relay box interleaved in one thread, on the real clock."""
    states = []
    end = monotonic_ms() + duration_ms
    while monotonic_ms() < end:
        interlock.service(monotonic_ms())
        states.append(runner.step())
    return states


def wait_for_trip(runner: WatchdogRunner, limit_ms: int) -> int:
    """Step the relay box until it trips; fail if that takes over ``limit_ms``."""
    start = monotonic_ms()
    while runner.step() is not WatchdogState.TRIPPED:
        assert monotonic_ms() - start < limit_ms, "watchdog did not trip"
    return monotonic_ms() - start


def silence_ms(runner: WatchdogRunner) -> int:
    """The silence the relay box tripped on, from its reason "after N ms of silence"."""
    match = re.fullmatch(r"after (\d+) ms of silence", runner.watchdog.trip_reason or "")
    assert match, runner.watchdog.trip_reason
    return int(match.group(1))


@pytest.mark.parametrize("token", [TRIP_BYTE, None])
def test_byte_heartbeat_over_pty_pair(token: bytes | None) -> None:
    with pty_pair() as pty:
        path = pty.path
        port = open_port(path)
        try:
            interlock = ByteHeartbeatInterlock(port, PERIOD_MS, trip_token=token)
            runner = WatchdogRunner(MasterPort(pty.master), TIMEOUT_MS)
            runner.begin()
            states = co_run(interlock, runner, 400)
            assert WatchdogState.TRIPPED not in states
            assert states[-1] is WatchdogState.ARMED
            interlock.trip("violation", monotonic_ms())
            wait_for_trip(runner, TIMEOUT_MS + SLACK_MS)
            if token is None:
                assert silence_ms(runner) > TIMEOUT_MS
            else:
                assert runner.watchdog.trip_reason == "on trip token from the monitor"
            assert runner.noise_bytes == 0
        finally:
            port.close()


def test_byte_heartbeat_over_socket_both_ends_by_url() -> None:
    relay = TcpRelay()
    sender = open_port(relay.url, timeout_s=0.005)
    receiver = open_port(relay.url, timeout_s=0.005)
    try:
        interlock = ByteHeartbeatInterlock(sender, PERIOD_MS, trip_token=None)
        runner = WatchdogRunner(receiver, TIMEOUT_MS)
        runner.begin()
        states = co_run(interlock, runner, 400)
        assert WatchdogState.TRIPPED not in states and states[-1] is WatchdogState.ARMED
        interlock.trip("violation", monotonic_ms())
        wait_for_trip(runner, TIMEOUT_MS + SLACK_MS)
        assert silence_ms(runner) > TIMEOUT_MS
    finally:
        sender.close()
        receiver.close()
        relay.close()


def test_byte_heartbeat_on_vanished_pty_raises_port_error() -> None:
    with pty_pair() as pty:
        path = pty.path
        port = open_port(path)
        try:
            interlock = ByteHeartbeatInterlock(port, PERIOD_MS)
            interlock.service(0)
            pty.close_master()
            with pytest.raises(PortError, match="heartbeat write"):
                interlock.service(PERIOD_MS)
            assert interlock.tripped
        finally:
            port.close()

