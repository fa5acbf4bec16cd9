"""SIGTERM stops a real ``iabp monitor`` process cleanly (issue 9).

A stopped monitor no longer guards the pump: on SIGTERM it de-energises the interlock
(the relay box trips), writes a final ``session_end`` record saying it was stopped by
SIGTERM, seals its signed log, and exits 0 if it never tripped, 1 if it did (not 143).
Real processes on pseudo-terminals, as in ``tests/sim/test_monitor_process_dies.py``;
the timeouts are generous because CI machines are loaded.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from iabp.keys import generate_key
from iabp.monitor.audit_log import VerifyStatus, verify_log
from iabp.sim.demo import Pty
from iabp.sim.relay_box import WatchdogState
from tests.monitor.helpers_pty import LiveRig, python_env

pytestmark = pytest.mark.property("REQ-MON-FAILSAFE")
EXIT_TIMEOUT_S = 30.0


def _start_monitor(url: str, log: Path, key: Path, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "iabp", "monitor", url, "--seconds", "120", "--log", str(log),
         "--key", str(key), *extra],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        env=python_env())


def _wait_for(predicate: object, timeout_s: float) -> bool:
    assert callable(predicate)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())


def _records(log: Path) -> list[dict[str, object]]:
    """The complete records of ``log`` (a line still being written is left out)."""
    out = []
    for line in log.read_text().splitlines(keepends=True):
        if line.endswith("\n"):
            out.append(json.loads(line))
    return out


def _assert_sealed_by_sigterm(log: Path, key: Path) -> list[dict[str, object]]:
    from iabp.keys import load_public_key

    result = verify_log(log, public_key=load_public_key(str(key) + ".pub"), require_sealed=True)
    assert result.ok and result.status is VerifyStatus.SEALED and result.authenticated, result
    records = _records(log)
    assert [r["type"] for r in records][-2:] == ["session_end", "seal"]
    end = records[-2]["payload"]
    assert isinstance(end, dict) and end["reason"] == "stopped by SIGTERM"
    return records


def test_sigterm_on_a_watching_monitor_trips_the_interlock_and_seals_the_log(
        tmp_path: Path) -> None:
    key = tmp_path / "monitor.key"
    generate_key(key)
    log = tmp_path / "audit.jsonl"
    with LiveRig() as rig:
        child = _start_monitor(rig.monitor_path, log, key, "--interlock", rig.relay_path)
        try:
            _sigterm_while_watching(child, rig, log, key)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait(timeout=10)


def _sigterm_while_watching(child: subprocess.Popen[bytes], rig: LiveRig, log: Path,
                            key: Path) -> None:
    events = rig.events
    assert _wait_for(lambda: any(e.state is WatchdogState.ARMED for e in events), 20), \
        "heartbeat never arrived"
    time.sleep(1.0)
    n_before = len([e for e in events if e.state is WatchdogState.TRIPPED])
    child.send_signal(signal.SIGTERM)
    code = child.wait(timeout=EXIT_TIMEOUT_S)
    assert child.stderr is not None
    err = child.stderr.read().decode("utf-8", "replace")
    assert "Traceback" not in err, err
    assert "stopped by SIGTERM" in err
    assert _wait_for(lambda: len([e for e in events if e.state is WatchdogState.TRIPPED])
                     > n_before or n_before > 0, 10), "the relay box did not trip"
    records = _assert_sealed_by_sigterm(log, key)
    tripped = any(r["type"] == "safe_state" for r in records)
    # 0 when the monitor only watched; 1 if a (load-induced) trip happened before
    assert code == (1 if tripped else 0), (code, err)


def test_sigterm_after_a_trip_exits_1_with_the_log_sealed(tmp_path: Path) -> None:
    key = tmp_path / "monitor.key"
    generate_key(key)
    log = tmp_path / "audit.jsonl"
    silent = Pty()  # nobody writes: no telemetry within the startup window, a trip
    child = _start_monitor(silent.path, log, key)
    try:
        assert _wait_for(lambda: log.exists() and any(
            r["type"] == "safe_state" for r in _records(log)), 30), \
            "the monitor never tripped on silence"
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=EXIT_TIMEOUT_S) == 1
        records = _assert_sealed_by_sigterm(log, key)
        end = records[-2]["payload"]
        assert isinstance(end, dict) and end["safe_state_entered"] is True
        assert [t["cause"] for t in end["trips"]] == ["SILENCE"]  # type: ignore[index]
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)
        silent.close()
