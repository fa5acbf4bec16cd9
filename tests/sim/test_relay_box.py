"""The relay box's heartbeat watchdog, and end-to-end: a dying or hung monitor trips it.

REQ-MON-FAILSAFE: "its own crash drops the interlock too" -- a stand-in monitor process
beats from its main loop; SIGKILL, SIGSTOP and a hung main loop must each trip the
watchdog within its timeout, while a healthy monitor must never trip it.
"""

from __future__ import annotations

import re
import signal
import subprocess
from collections.abc import Iterator

import pytest

from iabp.monitor.interlock import BEAT_BYTE, TRIP_BYTE, monotonic_ms
from iabp.sim.relay_box import (
    Watchdog,
    WatchdogEvent,
    WatchdogRunner,
    WatchdogState,
    run_watchdog,
    watchdog_main,
)
from iabp.spec.errors import IabpError
from tests.monitor.helpers_pty import (
    FakeClock,
    LineReader,
    MasterPort,
    PtyPair,
    TcpRelay,
    start_heartbeat_child,
    start_watchdog_cli,
    stop_process,
)

PERIOD_MS = 20
TIMEOUT_MS = 150
HEALTHY_WINDOW_MS = 500
SLACK_MS = 800  # scheduling noise allowance on a loaded 2-core machine

# --- the timing rule on a fake clock ----------------------------------------------------


def test_exactly_timeout_of_silence_is_tolerated_one_more_ms_trips() -> None:
    dog = Watchdog(100)
    assert dog.state is WatchdogState.WAITING and not dog.expired(10_000)
    assert dog.feed(0) is WatchdogState.ARMED
    assert not dog.expired(100)
    assert dog.expired(101)
    assert dog.check(101) is WatchdogState.TRIPPED
    assert dog.trip_reason == "after 101 ms of silence"


def test_trip_is_latched_until_reset() -> None:
    dog = Watchdog(100)
    dog.feed(0)
    dog.feed(90)
    assert dog.check(190) is WatchdogState.ARMED
    assert dog.feed(300) is WatchdogState.TRIPPED  # a late beat does not revive it
    assert dog.trip_reason == "after 210 ms of silence"
    assert dog.feed(310) is WatchdogState.TRIPPED
    dog.reset()
    assert dog.state is WatchdogState.WAITING and dog.trip_reason is None
    assert dog.feed(400) is WatchdogState.ARMED


def test_explicit_trip_keeps_first_reason() -> None:
    dog = Watchdog(100)
    dog.feed(0)
    dog.trip("port lost: EIO")
    dog.trip("later")
    assert dog.expired(1) and dog.trip_reason == "port lost: EIO"


def test_bad_timeout_and_mode_are_refused() -> None:
    with pytest.raises(IabpError):
        Watchdog(0)
    with pytest.raises(IabpError, match="mode"):
        WatchdogRunner(ScriptedPort(FakeClock(), {}), 100, "ri")


class ScriptedPort:
    """A port whose bytes arrive at scripted fake times; a read with nothing due waits
    one poll (advancing the fake clock), as a real read timeout would."""

    def __init__(self, clock: FakeClock, script: dict[int, bytes], poll_ms: int = 5) -> None:
        self.clock = clock
        self.script = dict(script)
        self.poll_ms = poll_ms
        self.pending = b""
        self.fail_at_ms: int | None = None
        self.port = "fake://scripted"

    def _arrive(self) -> None:
        for t in sorted(t for t in self.script if t <= self.clock()):
            self.pending += self.script.pop(t)
        if self.fail_at_ms is not None and self.clock() >= self.fail_at_ms:
            raise OSError(5, "Input/output error")

    def read(self, size: int = 1, /) -> bytes:
        self._arrive()
        if not self.pending:
            self.clock.advance(self.poll_ms)
            self._arrive()
        data, self.pending = self.pending[:size], self.pending[size:]
        return data

    @property
    def in_waiting(self) -> int:
        return len(self.pending)


def beats(times: range, token: bytes = BEAT_BYTE) -> dict[int, bytes]:
    return {t: token for t in times}


def scripted_run(
    script: dict[int, bytes], until_ms: int, fail_at_ms: int | None = None
) -> WatchdogRunner:
    clock = FakeClock()
    port = ScriptedPort(clock, script)
    port.fail_at_ms = fail_at_ms
    runner = WatchdogRunner(port, 100, clock=clock, poll_ms=5)
    runner.run(should_stop=lambda: clock() >= until_ms)
    return runner


def summary(runner: WatchdogRunner) -> list[tuple[int, str]]:
    return [(e.at_ms, e.line()) for e in runner.events]


def test_runner_reports_each_state_change_at_exact_times() -> None:
    runner = scripted_run(beats(range(0, 201, 20)), until_ms=1000)
    assert summary(runner) == [
        (0, "WAITING for first heartbeat on fake://scripted (mode bytes, timeout 100 ms)"),
        (0, "ARMED (heartbeat arriving)"),
        (305, "TRIPPED after 105 ms of silence"),
    ]


def test_trip_token_trips_at_once() -> None:
    runner = scripted_run({**beats(range(0, 101, 20)), 110: TRIP_BYTE}, until_ms=300)
    assert summary(runner)[-1] == (110, "TRIPPED on trip token from the monitor")


def test_noise_bytes_do_not_hold_the_relay_closed() -> None:
    """Regression guard: a console spewing garbage on the interlock line must not count."""
    runner = scripted_run({0: BEAT_BYTE, **beats(range(5, 500, 5), b"x")}, until_ms=500)
    assert summary(runner)[-1] == (105, "TRIPPED after 105 ms of silence")
    assert runner.noise_bytes >= 20


def test_port_error_trips_at_once() -> None:
    runner = scripted_run(beats(range(0, 1000, 20)), until_ms=1000, fail_at_ms=63)
    at_ms, line = summary(runner)[-1]
    assert at_ms == 65 and runner.port_lost  # and run() ended: nothing left to watch
    assert line.startswith("TRIPPED port lost: port 'fake://scripted' lost during heartbeat read")


def test_run_ends_on_duration_or_on_trip() -> None:
    clock = FakeClock()
    runner = WatchdogRunner(
        ScriptedPort(clock, beats(range(0, 50, 20))), 100, clock=clock, poll_ms=5
    )
    assert runner.run(exit_on_trip=True) is WatchdogState.TRIPPED
    assert clock() == 145
    clock = FakeClock()
    runner = WatchdogRunner(
        ScriptedPort(clock, beats(range(0, 1000, 20))), 100, clock=clock, poll_ms=5
    )
    assert runner.run(duration_ms=200) is WatchdogState.ARMED
    assert 200 <= clock() <= 205


def test_run_watchdog_on_unopenable_url_trips() -> None:
    events: list[WatchdogEvent] = []
    state = run_watchdog("/dev/iabp-no-such-port", 100, on_event=events.append)
    assert state is WatchdogState.TRIPPED
    assert len(events) == 1 and "cannot open port" in events[0].detail


def test_run_watchdog_on_loop_url_waits_without_heartbeat() -> None:
    events: list[WatchdogEvent] = []
    state = run_watchdog("loop://", 50, "cts", on_event=events.append, duration_ms=100)
    assert state is WatchdogState.WAITING
    assert [e.state for e in events] == [WatchdogState.WAITING]


# --- the CLI ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["loop://"],
        ["loop://", "--timeout", "0"],
        ["loop://", "--timeout", "x"],
        ["loop://", "--timeout", "100", "--mode", "ri"],
    ],
)
def test_cli_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert watchdog_main(argv) == 2
    assert "usage: iabp watchdog" in capsys.readouterr().err


def test_cli_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert watchdog_main(["--help"]) == 0
    assert "--exit-on-trip" in capsys.readouterr().out


def test_cli_clean_end_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert watchdog_main(["loop://", "--timeout", "50", "--mode", "dsr", "--duration", "80"]) == 0
    lines = capsys.readouterr().out.splitlines()
    # the first line comes within a few ms of the start (not exactly 0 on a loaded machine)
    assert re.fullmatch(r"\S+ \+\d ms WAITING for first heartbeat on loop:// .*", lines[0])
    assert lines[-1] == "END"


def test_cli_unopenable_port_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert watchdog_main(["/dev/iabp-no-such-port", "--timeout", "100"]) == 1
    assert "TRIPPED port lost: cannot open port" in capsys.readouterr().out


# --- end to end: a real monitor process dies or hangs -----------------------------------


@pytest.fixture
def pty_watch() -> Iterator[tuple[PtyPair, WatchdogRunner]]:
    """A pty pair: the relay box reads the master, the monitor gets the slave's URL."""
    with PtyPair() as pty:
        runner = WatchdogRunner(MasterPort(pty.master), TIMEOUT_MS)
        runner.begin()
        yield pty, runner


def step_for(runner: WatchdogRunner, ms: int) -> list[WatchdogState]:
    end = monotonic_ms() + ms
    states = [runner.step()]
    while monotonic_ms() < end:
        states.append(runner.step())
    return states


def assert_healthy(runner: WatchdogRunner) -> None:
    """ARMED within 2 s of start, then never TRIPPED over the healthy window."""
    start = monotonic_ms()
    while runner.step() is not WatchdogState.ARMED:
        assert monotonic_ms() - start < 2000, "no heartbeat from the monitor"
    assert WatchdogState.TRIPPED not in step_for(runner, HEALTHY_WINDOW_MS)


def ms_to_trip(runner: WatchdogRunner) -> int:
    start = monotonic_ms()
    while runner.step() is not WatchdogState.TRIPPED:
        assert monotonic_ms() - start < TIMEOUT_MS + SLACK_MS, "watchdog did not trip in time"
    return monotonic_ms() - start


def silence_of(reason: str | None) -> int:
    match = re.fullmatch(r"after (\d+) ms of silence", reason or "")
    assert match, reason
    return int(match.group(1))


@pytest.mark.parametrize("relay_holds_line", [True, False])
def test_sigkill_of_monitor_trips_watchdog(
    pty_watch: tuple[PtyPair, WatchdogRunner], relay_holds_line: bool
) -> None:
    """Killed monitor: silence (line still held open) or EIO (last holder gone) -> trip."""
    pty, runner = pty_watch
    child = start_heartbeat_child(pty.path, PERIOD_MS)
    try:
        if not relay_holds_line:
            pty.close_slave()
        assert_healthy(runner)
        child.send_signal(signal.SIGKILL)
        took_ms = ms_to_trip(runner)
        reason = runner.watchdog.trip_reason or ""
        if relay_holds_line:
            assert silence_of(reason) > TIMEOUT_MS
        else:
            assert reason.startswith("port lost") or silence_of(reason) > TIMEOUT_MS
        assert took_ms <= TIMEOUT_MS + SLACK_MS
    finally:
        stop_process(child)


def test_sigstop_of_monitor_trips_watchdog(pty_watch: tuple[PtyPair, WatchdogRunner]) -> None:
    pty, runner = pty_watch
    child = start_heartbeat_child(pty.path, PERIOD_MS)
    try:
        assert_healthy(runner)
        child.send_signal(signal.SIGSTOP)
        ms_to_trip(runner)
        assert silence_of(runner.watchdog.trip_reason) > TIMEOUT_MS
        child.send_signal(signal.SIGCONT)  # beats resume, the trip stays latched
        assert WatchdogState.ARMED not in step_for(runner, 3 * PERIOD_MS)
    finally:
        stop_process(child)


def test_hung_main_loop_of_monitor_trips_watchdog(
    pty_watch: tuple[PtyPair, WatchdogRunner],
) -> None:
    """The process is alive and its port open, but its main loop is stuck in a sleep."""
    pty, runner = pty_watch
    child = start_heartbeat_child(pty.path, PERIOD_MS, hang_after_ms=HEALTHY_WINDOW_MS + 300)
    try:
        assert_healthy(runner)
        start = monotonic_ms()
        while runner.step() is not WatchdogState.TRIPPED:
            assert monotonic_ms() - start < 2000 + TIMEOUT_MS + SLACK_MS, "did not trip"
        assert silence_of(runner.watchdog.trip_reason) > TIMEOUT_MS
        assert child.poll() is None  # tripped although the process is still running
    finally:
        stop_process(child)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGSTOP], ids=["SIGKILL", "SIGSTOP"])
def test_cli_watchdog_over_socket_trips_when_monitor_dies(sig: signal.Signals) -> None:
    """Both ends by socket:// URL through a relay hop; the CLI exits 1 on trip."""
    relay = TcpRelay()
    child = start_heartbeat_child(relay.url, PERIOD_MS)
    cli = start_watchdog_cli([relay.url, "--timeout", str(TIMEOUT_MS), "--exit-on-trip"])
    out = LineReader(cli)
    try:
        assert " WAITING for first heartbeat on socket://" in out.next(5.0)
        assert out.next(2.0).endswith(" ARMED (heartbeat arriving)\n")
        assert out.next(HEALTHY_WINDOW_MS / 1000) == ""  # nothing happens while healthy
        child.send_signal(sig)
        start = monotonic_ms()
        tripped = out.next((TIMEOUT_MS + SLACK_MS) / 1000)
        took_ms = monotonic_ms() - start
        assert " TRIPPED " in tripped, tripped
        if sig is signal.SIGSTOP:
            assert silence_of(tripped.split(" TRIPPED ")[1].strip()) > TIMEOUT_MS
        assert took_ms <= TIMEOUT_MS + SLACK_MS
        assert cli.wait(5.0) == 1
        assert out.next(1.0) == "END\n"
    finally:
        stop_process(child)
        stop_process(cli)
        relay.close()


def test_cli_watchdog_sigterm_is_a_clean_end() -> None:
    relay = TcpRelay()
    child = start_heartbeat_child(relay.url, PERIOD_MS)
    cli = start_watchdog_cli([relay.url, "--timeout", str(TIMEOUT_MS)])
    out = LineReader(cli)
    try:
        out.next(5.0)
        assert "ARMED" in out.next(2.0)
        cli.send_signal(signal.SIGTERM)
        assert cli.wait(5.0) == 0
    finally:
        stop_process(child)
        stop_process(cli)
        relay.close()


def test_stop_process_reaps_a_stopped_child() -> None:
    child = subprocess.Popen(["sleep", "30"])
    child.send_signal(signal.SIGSTOP)
    stop_process(child)  # type: ignore[arg-type]
    assert child.returncode == -signal.SIGKILL
