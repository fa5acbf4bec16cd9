"""A real ``iabp monitor`` process killed or frozen trips the relay box (REQ-MON-FAILSAFE).

End to end: the simulated console streams telemetry over a pty to an ``iabp monitor``
child process, whose energise-to-run heartbeat goes over a second pty to a watchdog
(the relay box) in this process. SIGKILL and SIGSTOP of the monitor must each trip the
relay box within its timeout, because the heartbeat stops with the monitor's main loop.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from iabp.monitor.interlock import monotonic_ms
from iabp.sim.console import SimulatedConsole
from iabp.sim.demo import RELAY_TIMEOUT_MS, MasterPort, Pty, null_modem
from iabp.sim.relay_box import WatchdogEvent, WatchdogRunner, WatchdogState
from tests.monitor.helpers_pty import python_env

pytestmark = pytest.mark.property("REQ-MON-FAILSAFE")
SLACK_MS = 800  # a busy 2-core machine: generous, but far below "never"


def _stream(console: SimulatedConsole, stop: threading.Event) -> None:
    """Stream telemetry in real time until ``stop``; a vanished peer ends the stream."""
    try:
        while not stop.is_set():
            console.run(0.1, realtime=True)
    except Exception:  # noqa: BLE001 - the monitor side went away: the test decides
        stop.set()


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGSTOP], ids=["SIGKILL", "SIGSTOP"])
def test_killed_or_frozen_monitor_trips_the_relay_box(sig: signal.Signals,
                                                      tmp_path: Path) -> None:
    console_pty, monitor_pty, relay_pty = Pty(), Pty(), Pty()
    stop = threading.Event()
    events: list[WatchdogEvent] = []
    runner = WatchdogRunner(MasterPort(relay_pty.master), RELAY_TIMEOUT_MS,
                            clock=monotonic_ms, on_event=events.append)
    console = SimulatedConsole(console_pty.path)
    threads = [
        threading.Thread(target=null_modem, daemon=True,
                         args=(console_pty.master, monitor_pty.master, stop)),
        threading.Thread(target=runner.run, kwargs={"should_stop": stop.is_set}, daemon=True),
        threading.Thread(target=_stream, args=(console, stop), daemon=True),
    ]
    for t in threads:
        t.start()
    child = subprocess.Popen(
        [sys.executable, "-m", "iabp", "monitor", monitor_pty.path,
         "--interlock", relay_pty.path, "--seconds", "30", "--log",
         str(tmp_path / "audit.jsonl")],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env=python_env())
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not any(
                e.state is WatchdogState.ARMED for e in events):
            time.sleep(0.05)
        assert any(e.state is WatchdogState.ARMED for e in events), "heartbeat never arrived"
        time.sleep(1.0)  # healthy for a while: no trip
        assert not any(e.state is WatchdogState.TRIPPED for e in events), events
        t_signal = monotonic_ms()
        child.send_signal(sig)
        deadline = time.monotonic() + (RELAY_TIMEOUT_MS + SLACK_MS) / 1000
        while time.monotonic() < deadline and not any(
                e.state is WatchdogState.TRIPPED for e in events):
            time.sleep(0.005)
        tripped = [e for e in events if e.state is WatchdogState.TRIPPED]
        assert tripped, f"relay box did not trip within {RELAY_TIMEOUT_MS + SLACK_MS} ms"
        assert monotonic_ms() - t_signal <= RELAY_TIMEOUT_MS + SLACK_MS
    finally:
        stop.set()
        if sig is signal.SIGSTOP:
            child.send_signal(signal.SIGCONT)
        child.kill()
        child.wait(timeout=10)
        for t in threads:
            t.join(timeout=5)
        console.close()
        for p in (console_pty, monitor_pty, relay_pty):
            p.close()
