"""The latched safe state: what trips it, what it does, and that only an operator clears it."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iabp.monitor.audit_log import BLACKBOX_PRE, AuditLog, verify_log
from iabp.monitor.failsafe import (
    BELL,
    INTEGRITY_RULE_ID,
    Cause,
    CommandChannel,
    FailSafe,
    FailSafeError,
    IntegrityGuard,
    IntegrityThresholds,
    Supervisor,
    Trip,
)
from iabp.monitor.interlock import ByteHeartbeatInterlock, InterlockState
from iabp.monitor.parser import IntegrityEvent, IntegrityKind, StreamParser
from iabp.monitor.protocol import CommandFrame, MonitorCommand
from iabp.spec import monitor_model as M
from iabp.spec.engines.to_python import compile_expr


class Sink:
    """A port double that records what is written (or fails on demand)."""

    def __init__(self, fail: bool = False) -> None:
        self.data = bytearray()
        self.fail = fail

    def write(self, data: bytes, /) -> int:
        if self.fail:
            raise OSError(5, "Input/output error")
        self.data += data
        return len(data)

    def commands(self) -> list[CommandFrame]:
        return [e for e in StreamParser().feed(bytes(self.data)) if isinstance(e, CommandFrame)]


def make(tmp_path: Path | None = None, **kw: Any) -> tuple[FailSafe, Sink, Sink, list[str]]:
    console, relay, shown = Sink(), Sink(), list[str]()
    audit = AuditLog(tmp_path / "audit.jsonl") if tmp_path is not None else None
    fs = FailSafe(channel=CommandChannel(console.write),
                  interlock=ByteHeartbeatInterlock(relay, period_ms=20), audit=audit,
                  announce=shown.append, wall_clock=lambda: 1.0e9, **kw)
    fs.open(0)
    return fs, console, relay, shown


def healthy(fs: FailSafe, t0: int, t1: int) -> None:
    """Valid frames every ms from ``t0`` to ``t1``, the supervisor ticked each ms."""
    for t in range(t0, t1):
        fs.frame(t)
        fs.tick(t, console_stopped=False)
        if fs.interlock is not None and fs.interlock_energised:
            fs.interlock.service(t)


def event(kind: IntegrityKind, frames_lost: int = 0) -> IntegrityEvent:
    return IntegrityEvent(kind, "test", 0, 0, frames_lost)


# -- integrity thresholds -------------------------------------------------------------------


def test_more_than_n_bad_frames_in_a_sliding_window_trips() -> None:
    g = IntegrityGuard(IntegrityThresholds(max_bad_frames=5, window_ms=1000))
    assert all(g.update(event(IntegrityKind.CRC_ERROR), t) is None for t in (0, 300, 600, 900, 990))
    trip = g.update(event(IntegrityKind.CRC_ERROR), 999)
    assert trip is not None and trip.cause is Cause.INTEGRITY and trip.rule_id == INTEGRITY_RULE_ID


def test_bad_frames_spread_over_time_do_not_trip() -> None:
    g = IntegrityGuard(IntegrityThresholds(max_bad_frames=5, window_ms=1000))
    assert all(g.update(event(IntegrityKind.CRC_ERROR), t * 300) is None for t in range(50))


def test_a_long_gap_and_time_going_back_trip_at_once() -> None:
    g = IntegrityGuard(IntegrityThresholds(max_gap_frames=10))
    assert g.update(event(IntegrityKind.SEQ_GAP, frames_lost=3), 0) is None
    assert g.update(event(IntegrityKind.SEQ_GAP, frames_lost=11), 1) is not None
    for kind in (IntegrityKind.TIME_BACKWARDS, IntegrityKind.SEQ_RESET,
                 IntegrityKind.BUFFER_OVERFLOW):
        assert IntegrityGuard().update(event(kind), 0) is not None


def test_console_time_jumping_over_more_ticks_than_a_tolerated_gap_trips() -> None:
    """A jump of console time with no sequence gap is ticks sent no TELEMETRY: judged as a
    gap of that many frames (a 65..100 ms jump was one bad frame, and left the monitor's
    beat clock behind console time)."""
    g = IntegrityGuard(IntegrityThresholds(max_gap_frames=10))
    assert g.update(event(IntegrityKind.TIME_JUMP, frames_lost=10), 0) is None
    trip = g.update(event(IntegrityKind.TIME_JUMP, frames_lost=79), 1)
    assert trip is not None and trip.cause is Cause.INTEGRITY
    assert "jumped over 79 ticks" in trip.detail


# -- the supervisor is the spec's -----------------------------------------------------------


@settings(max_examples=80, deadline=None)
@given(st.lists(st.fixed_dictionaries({n: st.booleans() for n in M.INPUT_NAMES}),
                min_size=1, max_size=120))
def test_compiled_supervisor_keeps_the_monitor_properties(inputs: list[dict[str, bool]]) -> None:
    props = [(p.id, compile_expr(p.formula), p.kind) for p in M.properties()]
    sup = Supervisor()
    for tick_inputs in inputs:
        before = {k[:-1]: v for k, v in sup.v.items() if k.endswith("'")}
        sup.tick(tick_inputs)
        after = {k: v for k, v in sup.v.items() if k.endswith("'")}
        values = {**before, **after, **tick_inputs}
        for pid, holds, kind in props:
            if kind.value == "state":
                state = {k[:-1]: v for k, v in after.items()}
                assert holds(state), pid
            else:
                assert holds(values), pid


# -- entering the safe state ----------------------------------------------------------------


def test_a_violation_trips_interlock_sends_stop_alarms_and_audits(tmp_path: Path) -> None:
    fs, console, relay, shown = make(tmp_path)
    healthy(fs, 0, 100)
    assert fs.interlock is not None and fs.interlock.state is InterlockState.ENERGISED
    fs.enter(Trip(Cause.RULE_VIOLATION, "gas in ejection", 100, "MON-X", "P-X"))
    assert fs.latched and fs.exit_status == 1
    assert fs.interlock.tripped and relay.data.endswith(b"T")
    assert [c.command for c in console.commands()] == [MonitorCommand.STOP]
    assert console.commands()[0].reason == Cause.RULE_VIOLATION.code
    assert shown and shown[0].startswith(BELL) and "MON-X" in shown[0]
    assert fs.audit is not None
    fs.audit.close()
    lines = (tmp_path / "audit.jsonl").read_text().splitlines()
    assert '"safe_state"' in lines[0] and BLACKBOX_PRE in lines[1]
    assert verify_log(tmp_path / "audit.jsonl").ok


def test_a_new_cause_while_latched_is_shown_and_audited_once(tmp_path: Path) -> None:
    """The console ignoring the STOP (MON-STOP-OBEYED) while the safe state is latched is
    evidence of its own: an alarm line and an audit record, once per rule and cause in the
    episode (it was kept only in the last 16 trips); the same fault again adds nothing."""
    fs, _, _, shown = make(tmp_path)
    healthy(fs, 0, 100)
    fs.enter(Trip(Cause.RULE_VIOLATION, "gas in ejection", 100, "MON-X", "P-X"))
    for t in (150, 151, 152):
        fs.enter(Trip(Cause.RULE_VIOLATION, "not stopped", t, "MON-STOP-OBEYED", "P-S"))
    fs.enter(Trip(Cause.RULE_VIOLATION, "gas in ejection", 160, "MON-X", "P-X"))
    assert len(shown) == 2 and "also:" in shown[1] and "MON-STOP-OBEYED" in shown[1]
    assert fs.audit is not None
    fs.audit.close()
    kinds = [json.loads(line)["type"] for line in
             (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert kinds.count("safe_state") == 1 and kinds.count("safe_state_cause") == 1
    assert verify_log(tmp_path / "audit.jsonl").ok


def test_stop_is_repeated_until_the_console_is_seen_stopped() -> None:
    fs, console, _, _ = make()
    healthy(fs, 0, 10)
    fs.enter(Trip(Cause.RULE_VIOLATION, "x", 10))
    for t in range(11, 60):
        fs.frame(t)
        fs.tick(t, console_stopped=t >= 40)
    assert [c.time_ms for c in console.commands()] == [10, 20, 30]  # then seen stopped


def test_silence_longer_than_the_watchdog_trips() -> None:
    fs, _, _, shown = make()
    healthy(fs, 0, 100)
    for t in range(100, 100 + M.MON_WATCHDOG_MS):  # the last frame counted at tick 99
        fs.tick(t, False)
    assert not fs.latched
    fs.tick(100 + M.MON_WATCHDOG_MS, False)  # the 51st tick without a frame
    assert fs.latched and fs.first_trip is not None and fs.first_trip.cause is Cause.SILENCE


def test_no_telemetry_at_all_trips_after_the_startup_window() -> None:
    fs, _, _, _ = make(startup_ms=2000)
    fs.tick(2000, False)
    assert not fs.latched and not fs.interlock_energised  # no telemetry, no run permit
    fs.tick(2001, False)
    assert fs.latched and fs.first_trip is not None and fs.first_trip.cause is Cause.SILENCE


def test_the_supervisors_own_error_window_trips() -> None:
    fs, _, _, _ = make()
    for t in range(0, 20):
        fs.frame(t)
        if t % 3 == 0:
            fs.integrity_error()
        fs.tick(t, False)
    assert fs.latched and fs.first_trip is not None and fs.first_trip.cause is Cause.INTEGRITY


def test_port_loss_and_internal_errors_trip() -> None:
    for cause in (Cause.PORT_LOST, Cause.INTERNAL_ERROR):
        fs, _, _, _ = make()
        healthy(fs, 0, 5)
        fs.enter(Trip(cause, "x", 5))
        assert fs.latched and fs.trip is not None and fs.trip.cause is cause


def test_a_failing_step_does_not_stop_the_others() -> None:
    shown: list[str] = []
    relay = Sink()
    fs = FailSafe(channel=CommandChannel(Sink(fail=True).write),
                  interlock=ByteHeartbeatInterlock(relay, period_ms=20), announce=shown.append)
    fs.open(0)
    healthy(fs, 0, 30)
    fs.enter(Trip(Cause.RULE_VIOLATION, "x", 30))
    assert fs.latched and fs.interlock is not None and fs.interlock.tripped
    assert any("STOP command failed" in p for p in fs.problems)
    assert any("SAFE STATE" in s for s in shown)


# -- latched until an operator acknowledges ---------------------------------------------------


def test_the_safe_state_is_latched_while_telemetry_is_clean_again() -> None:
    fs, _, _, _ = make()
    healthy(fs, 0, 10)
    fs.enter(Trip(Cause.RULE_VIOLATION, "x", 10))
    healthy(fs, 11, 5000)
    assert fs.latched and fs.interlock is not None and fs.interlock.tripped


def test_acknowledge_needs_an_operator_and_a_latched_state() -> None:
    fs, _, _, _ = make()
    healthy(fs, 0, 10)
    with pytest.raises(FailSafeError):
        fs.acknowledge("nurse", 10)
    fs.enter(Trip(Cause.RULE_VIOLATION, "x", 10))
    with pytest.raises(FailSafeError):
        fs.acknowledge("  ", 11)


def test_acknowledge_is_refused_while_the_cause_persists(tmp_path: Path) -> None:
    fs, _, _, _ = make(tmp_path)
    healthy(fs, 0, 10)
    for t in range(10, 80):  # silence
        fs.tick(t, False)
    assert fs.latched
    assert fs.acknowledge("nurse", 80) is False and fs.latched
    healthy(fs, 81, 100)
    assert fs.acknowledge("nurse", 100) is True and not fs.latched
    assert fs.interlock is not None and fs.interlock.state is InterlockState.IDLE
    healthy(fs, 101, 150)
    assert fs.interlock.state is InterlockState.ENERGISED and fs.exit_status == 1
    assert fs.audit is not None
    fs.audit.close()
    text = (tmp_path / "audit.jsonl").read_text()
    assert text.count('"operator_acknowledge"') == 2 and '"left_safe_state":true' in text


def test_status_line_output_is_plain_text() -> None:
    out = io.StringIO()
    fs = FailSafe(announce=lambda s: print(s, file=out))
    fs.open(0)
    fs.enter(Trip(Cause.PORT_LOST, "cable pulled", 0))
    assert "port lost: cable pulled" in out.getvalue()


# -- one bad frame counts once (issue 9) ----------------------------------------------------


def _bad_frame(guard: IntegrityGuard, now_ms: int) -> Trip | None:
    """A corrupted frame as the parser reports it: a CRC error, then the gap it leaves."""
    first = guard.update(IntegrityEvent(IntegrityKind.CRC_ERROR, "test", 0, 30), now_ms)
    gap = guard.update(IntegrityEvent(IntegrityKind.SEQ_GAP, "test", 0, 0, 1,
                                      already_reported=1), now_ms + 1)
    return first or gap


def test_three_corrupted_frames_in_a_second_do_not_trip_six_do() -> None:
    g = IntegrityGuard()
    assert g.thresholds.max_bad_frames == 5 and g.thresholds.window_ms == 1000
    assert all(_bad_frame(g, t) is None for t in (0, 300, 600))
    assert all(_bad_frame(g, t) is None for t in (700, 800))
    trip = _bad_frame(g, 900)  # the sixth bad frame within 1000 ms
    assert trip is not None and trip.cause is Cause.INTEGRITY
    assert trip.message().startswith("MON-INTEGRITY: telemetry integrity lost: 6 corrupt or "
                                     "missing telemetry frames within 1000 ms (limit 5)")


def test_a_gap_beyond_the_discarded_frames_still_counts() -> None:
    g = IntegrityGuard()
    g.update(IntegrityEvent(IntegrityKind.CRC_ERROR, "test", 0, 30), 0)
    # 1 discarded frame + 4 more never received = 5 bad frames: the limit, not beyond it
    assert g.update(IntegrityEvent(IntegrityKind.SEQ_GAP, "test", 0, 0, 5,
                                   already_reported=1), 1) is None
    assert g.update(IntegrityEvent(IntegrityKind.CRC_ERROR, "test", 0, 30), 2) is not None


# -- every trip kind is kept for the summary (issue 9) --------------------------------------


def test_the_supervisors_own_trips_are_kept_with_the_others() -> None:
    fs, _, _, _ = make()
    healthy(fs, 0, 100)
    for t in range(100, 100 + M.MON_WATCHDOG_MS + 1):
        fs.tick(t, False)
    assert fs.latched and [t.cause for t in fs.trips] == [Cause.SILENCE]
    fs2, _, _, _ = make()
    for t in range(0, 20):
        fs2.frame(t)
        if t % 3 == 0:
            fs2.integrity_error()
        fs2.tick(t, False)
    assert [t.cause for t in fs2.trips] == [Cause.INTEGRITY]
