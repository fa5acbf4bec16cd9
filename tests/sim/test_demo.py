"""``iabp demo``: every console fault ends in the latched safe state; a clean run raises nothing.

Each demo runs as its own process (simulated console and monitor on pty pairs, relay box
on a third), two at a time (one per core), with a short clean period so the whole file
stays quick. These are real-time tests: on a loaded host the demo process itself can be
descheduled for longer than the monitor's 50 ms silence watchdog, and the monitor then
(rightly) fails safe on "telemetry silence". A demo whose first trip is such a silence,
where no silence was injected, is run again alone, up to three times: a monitor that falsely
trips every time still fails the test.
"""

from __future__ import annotations

import subprocess
import sys
import time
from functools import lru_cache

import pytest

from iabp.sim.demo import DEMO_FAULTS, demo_main
from tests.monitor.helpers_pty import REPO_ROOT, python_env

FAULTS = tuple(f for f in DEMO_FAULTS if f != "none")
FAULT_AT_S = "2"
SECONDS = "9"
PARALLEL = 2
STALL_RETRIES = 3  # the settings-silent demo trips last (3 s): most exposed to a stall
TIMEOUT_S = 60.0


def _start(fault: str) -> subprocess.Popen[str]:
    code = "import sys; from iabp.sim.demo import demo_main; sys.exit(demo_main(sys.argv[1:]))"
    args = ["--fault", fault, "--fault-at", FAULT_AT_S, "--seconds",
            "4" if fault == "none" else SECONDS]
    if fault == "none":  # the clean run is also the test of -q (the verdict line only)
        args.append("-q")
    return subprocess.Popen([sys.executable, "-c", code, *args], cwd=REPO_ROOT,
                            env=python_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


@lru_cache(maxsize=1)
def demo_runs() -> dict[str, tuple[int, str]]:
    """Exit status and output of every demo (run once, ``PARALLEL`` at a time)."""
    todo = list(DEMO_FAULTS)
    running: dict[str, subprocess.Popen[str]] = {}
    done: dict[str, tuple[int, str]] = {}
    deadline = time.monotonic() + 4 * TIMEOUT_S
    while todo or running:
        while todo and len(running) < PARALLEL:
            fault = todo.pop(0)
            running[fault] = _start(fault)
        for fault, proc in list(running.items()):
            if proc.poll() is not None:
                out = proc.stdout.read() if proc.stdout else ""
                done[fault] = (proc.returncode, out)
                del running[fault]
        if time.monotonic() > deadline:
            for proc in running.values():
                proc.kill()
            raise AssertionError(f"demos did not finish: {sorted(running)}")
        time.sleep(0.05)
    for fault, (_, out) in list(done.items()):
        retries = STALL_RETRIES
        while fault != "silence" and _first_trip_was_silence(out) and retries:
            retries -= 1
            proc = _start(fault)
            try:
                out = proc.communicate(timeout=TIMEOUT_S)[0]
            except subprocess.TimeoutExpired:
                proc.kill()
                raise AssertionError(f"demo {fault} did not finish") from None
            done[fault] = (proc.returncode, out)
    return done


def _first_trip_was_silence(out: str) -> bool:
    """The demo's first fail-safe entry was the silence watchdog (a host stall when no
    silence was injected)."""
    first = next((line for line in out.splitlines() if "FAIL-SAFE ENTERED" in line), "")
    return "telemetry silence" in first or "monitor stalled" in first


@pytest.mark.parametrize("fault", FAULTS)
def test_every_fault_ends_in_the_latched_safe_state(fault: str) -> None:
    status, out = demo_runs()[fault]
    assert status == 1, out
    assert "FAIL-SAFE ENTERED (latched)" in out, out
    assert "SAFE STATE (latched)" in out or "IABP MONITOR SAFE STATE" in out
    assert "relay box TRIPPED" in out
    assert "sealed" in out  # the audit log verifies


def test_timing_faults_are_caught_by_the_timing_rules() -> None:
    runs = demo_runs()
    assert "MON-INFL-DIASTOLE" in runs["early-inflation"][1]
    assert "MON-NO-GAS-IN-EJECTION" in runs["late-deflation"][1]
    assert "MON-TRIGGER-LOSS" in runs["trigger-loss"][1]
    assert "MON-FAULT-HALT" in runs["gas-leak"][1]
    assert "MON-CONTRA-ABSOLUTE" in runs["contraindication"][1]
    assert "telemetry silence" in runs["silence"][1]
    assert "telemetry integrity" in runs["garbage"][1]
    assert "MON-SETTINGS-CADENCE" in runs["settings-silent"][1]


def test_the_console_obeys_the_stop() -> None:
    for fault in ("early-inflation", "late-deflation", "gas-leak", "contraindication"):
        out = demo_runs()[fault][1]
        assert "console ended in STANDBY" in out, out


def test_clean_demo_exits_0_without_alarm() -> None:
    status, out = demo_runs()["none"]  # with -q: nothing but the verdict line
    assert status == 0, out
    assert out.splitlines() == ["iabp demo: no alarm: the monitor stayed watching"]


def test_demo_usage_errors_exit_2() -> None:
    assert demo_main(["--fault", "meteor"]) == 2
    assert demo_main(["--seconds", "-1"]) == 2
    assert demo_main(["--fault-at", "20", "--seconds", "10"]) == 2
