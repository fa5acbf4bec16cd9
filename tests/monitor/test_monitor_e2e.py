"""The whole monitor: bytes in, safe state out; over real pseudo-terminals and fuzzed streams.

Also the replay of every real PhysioNet record in ../shared/data/physionet as the
telemetry of a console in STANDBY and of one pumping with the verified controller: the
monitor must raise no false alarm.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import select
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iabp.controller.controller import ControllerInputs
from iabp.monitor.audit_log import verify_log
from iabp.monitor.cli import monitor_main
from iabp.monitor.failsafe import Cause, Trip
from iabp.monitor.log_cli import log_main
from iabp.monitor.parser import StreamParser
from iabp.monitor.protocol import CommandFrame, MonitorCommand
from iabp.monitor.reconstruct.reconstruction import PatientProfile
from iabp.monitor.runtime import Monitor
from iabp.sim.closed_loop import ClosedLoop, LoopConfig, LoopHooks, run_closed_loop
from iabp.sim.records import read_record
from iabp.sim.telemetry_stream import console_telemetry_bytes, trace_telemetry_bytes
from iabp.spec.modes import Mode
from tests.monitor.helpers_pty import FakeClock, pty_pair
from tests.monitor.test_reconstruct import chunks, console_bytes
from tests.records import PUMPED_KNOWN_FAILURES, records_under_test, with_known_failures

BYTES_PER_MS = 32  #: one TELEMETRY record per ms
LINE_BYTES_PER_MS = 92  #: 921 600 baud, 8N1: what the line carries per ms


class BytesPort:
    """An in-memory console port: hands out ``data`` in reads of at most ``chunk`` bytes."""

    def __init__(self, data: bytes = b"", chunk: int = 4096, fail_after: int | None = None) -> None:
        self.data, self.pos, self.chunk = data, 0, chunk
        self.fail_after = fail_after
        self.written = bytearray()

    @property
    def in_waiting(self) -> int:
        if self.fail_after is not None and self.pos >= self.fail_after:
            raise OSError(5, "Input/output error")
        return min(self.chunk, len(self.data) - self.pos)

    def read(self, size: int = 1, /) -> bytes:
        out = self.data[self.pos:self.pos + size]
        self.pos += len(out)
        return out

    def write(self, data: bytes, /) -> int:
        self.written += data
        return len(data)

    def close(self) -> None:
        pass

    @property
    def done(self) -> bool:
        return self.pos >= len(self.data)


def run_on_bytes(data: bytes, profile: PatientProfile | None = None, tail_ms: int = 0,
                 log: Path | None = None, chunk: int = 10 * BYTES_PER_MS,
                 key: Ed25519PrivateKey | None = None) -> Monitor:
    """Feed ``data`` through a Monitor as a port at 1 kHz would (``chunk`` bytes per read),
    the monitor clock following the telemetry's time: 1 ms per TELEMETRY frame read (a
    console ticking in real time), bytes that carry no frame at the line's byte rate.
    ``key`` signs the audit ``log``."""
    clock = FakeClock()
    port = BytesPort(data, chunk)
    mon = Monitor("bytes://test", profile, log, clock=clock, port=port, out=io.StringIO(),
                  key=key)
    mon.open()
    while not port.done:
        before, frames = port.pos, mon.reconstruction.frames
        mon.step()
        clock.advance(max(mon.reconstruction.frames - frames,
                          (port.pos - before) // LINE_BYTES_PER_MS))
    for _ in range(tail_ms):
        mon.step()
        clock.advance(1)
    return mon


def stops(data: bytes | bytearray) -> list[CommandFrame]:
    return [e for e in StreamParser().feed(bytes(data))
            if isinstance(e, CommandFrame) and e.command is MonitorCommand.STOP]


# -- clean and faulty consoles --------------------------------------------------------------


def test_clean_console_raises_no_alarm() -> None:
    mon = run_on_bytes(console_bytes(8.0))
    assert not mon.failsafe.entered_ever and mon.violations == 0
    assert mon.reconstruction.frames > 7900 and mon.status.rate_bpm is not None


@pytest.mark.parametrize("fault, rule", [
    ("early-inflation", "MON-INFL-DIASTOLE"),
    ("late-deflation", "MON-NO-GAS-IN-EJECTION"),
    ("gas-leak", "MON-FAULT-HALT"),
])
def test_faulty_console_trips_the_monitor(fault: str, rule: str) -> None:
    mon = run_on_bytes(console_bytes(6.0, fault, 3000))
    first = mon.failsafe.first_trip
    assert first is not None and first.cause is Cause.RULE_VIOLATION and first.rule_id == rule
    assert stops(mon.port.written)  # type: ignore[union-attr]


def test_the_safe_state_stays_latched_on_clean_telemetry() -> None:
    data = console_bytes(6.0, "early-inflation", 3000) + console_bytes(8.0)[200_000:]
    mon = run_on_bytes(data)
    assert mon.failsafe.latched and mon.failsafe.exit_status == 1


# -- over real pseudo-terminals -------------------------------------------------------------


def _pump(pty_master: int, data: bytes, mon: Monitor, clock: FakeClock,
          until: Callable[[], bool] = lambda: False) -> None:
    for piece in chunks(data, 320):
        os.write(pty_master, piece)
        for _ in range(3):
            mon.step()
        clock.advance(10)
        if until():
            return


def _read_master(fd: int) -> bytes:
    out = b""
    while select.select([fd], [], [], 0.05)[0]:
        out += os.read(fd, 65536)
    return out


def test_over_a_pty_a_violation_sends_stop_and_drops_the_interlock(tmp_path: Path) -> None:
    with pty_pair() as console, pty_pair() as relay:
        clock = FakeClock(1000)
        log = tmp_path / "audit.jsonl"
        mon = Monitor(console.path, None, log, relay.path, clock=clock, out=io.StringIO())
        mon.open()
        _pump(console.master, console_bytes(6.0, "late-deflation", 3000), mon, clock,
              until=lambda: mon.failsafe.latched)
        assert mon.failsafe.latched
        beats = _read_master(relay.master)
        assert beats.count(b"U") >= 5 and beats.endswith(b"T")  # heartbeats, then the trip
        assert stops(_read_master(console.master))
        mon.close()
    result = verify_log(log)
    assert result.ok and result.status.value == "sealed"
    records = [json.loads(line) for line in log.read_text().splitlines()]
    kinds = [r["type"] for r in records if r["type"] != "checkpoint"]
    assert kinds[:3] == ["log_open", "safe_state", "blackbox_pre"]
    pre = next(r for r in records if r["type"] == "blackbox_pre")
    assert len(pre["payload"]["frames"]) >= 1000  # the black box before the trip


def test_losing_the_port_trips() -> None:
    with pty_pair() as console:
        clock = FakeClock()
        mon = Monitor(console.path, clock=clock, out=io.StringIO())
        mon.open()
        _pump(console.master, console_bytes(8.0)[:64_000], mon, clock)
        assert not mon.failsafe.latched
        console.close_master()
        for _ in range(3):
            mon.step()
            clock.advance(1)
        first = mon.failsafe.first_trip
        assert first is not None and first.cause is Cause.PORT_LOST
        mon.close()


def test_silence_trips_after_the_watchdog() -> None:
    with pty_pair() as console:
        clock = FakeClock()
        mon = Monitor(console.path, clock=clock, out=io.StringIO())
        mon.open()
        _pump(console.master, console_bytes(8.0)[:64_000], mon, clock)
        assert not mon.failsafe.latched
        for _ in range(60):
            mon.step()
            clock.advance(1)
        first = mon.failsafe.first_trip
        assert first is not None and first.cause is Cause.SILENCE
        mon.close()


def test_an_unopenable_port_trips_at_once() -> None:
    mon = Monitor("/dev/nonexistent-iabp-port", clock=FakeClock(), out=io.StringIO())
    mon.open()
    first = mon.failsafe.first_trip
    assert first is not None and first.cause is Cause.PORT_LOST


def test_an_exception_inside_the_loop_is_a_trip_not_a_crash() -> None:
    mon = run_on_bytes(console_bytes(8.0)[:32_000])
    mon.reconstruction.on_telemetry = None  # type: ignore[assignment, method-assign]
    mon.port = BytesPort(console_bytes(8.0)[32_000:40_000])
    mon.step()
    first = mon.failsafe.first_trip
    assert first is not None and first.cause is Cause.INTERNAL_ERROR


def test_acknowledge_on_the_cli_key_clears_the_latch_once_the_cause_is_gone() -> None:
    mon = run_on_bytes(console_bytes(6.0, "early-inflation", 3000))
    assert mon.failsafe.latched
    mon._operator("ack Dr Who")
    assert not mon.failsafe.latched and mon.failsafe.exit_status == 1


# -- fuzzing --------------------------------------------------------------------------------

CLEAN_2S = console_bytes(8.0)[:64_000]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(min_size=0, max_size=6000), st.integers(1, 1000))
def test_random_bytes_never_crash_the_monitor(data: bytes, chunk: int) -> None:
    mon = run_on_bytes(CLEAN_2S[:8000] + data + CLEAN_2S[8000:16000], chunk=chunk)
    assert all(t.cause is not Cause.INTERNAL_ERROR for t in mon.failsafe.trips)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(0, 850), min_size=6, max_size=20, unique=True), st.data())
def test_integrity_broken_beyond_threshold_always_ends_in_the_safe_state(
        frames: list[int], data: st.DataObject) -> None:
    raw = bytearray(CLEAN_2S)
    starts = [i for i in range(len(raw)) if raw[i] == 0x7E and i + 1 < len(raw)
              and raw[i + 1] != 0x7E][:1000]
    # one corrupted byte in each of >= 6 DISTINCT frames, all within 1 s of telemetry
    # (frames 100..999): more bad frames than MON_ERROR_LIMIT in one window
    for k in sorted(frames):
        first, nxt = starts[100 + k] + 1, starts[101 + k]
        pos = first + data.draw(st.integers(0, max(0, nxt - first - 2)))
        raw[pos] = (raw[pos] + data.draw(st.integers(1, 255))) % 256  # a different byte
    mon = run_on_bytes(bytes(raw))
    assert mon.failsafe.latched
    assert mon.failsafe.first_trip is not None
    assert mon.failsafe.first_trip.cause in (Cause.INTEGRITY, Cause.RULE_VIOLATION)


def test_garbage_storm_trips_on_integrity() -> None:
    rng = np.random.default_rng(7)
    mon = run_on_bytes(CLEAN_2S[:20_000] + rng.integers(0, 256, 20_000, np.uint8).tobytes())
    first = mon.failsafe.first_trip
    assert first is not None and first.cause is Cause.INTEGRITY


# -- the command line -----------------------------------------------------------------------


def test_monitor_cli_refuses_a_bad_profile(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                           ) -> None:
    bad = tmp_path / "p.json"
    bad.write_text('{"contraindications": ["mystery"]}')
    assert monitor_main(["loop://", "--patient", str(bad)]) == 2
    assert "unknown contraindication" in capsys.readouterr().err
    assert monitor_main(["loop://", "--patient", str(tmp_path / "absent.json")]) == 2
    assert monitor_main(["--seconds", "x"]) == 2


def test_monitor_cli_trips_without_telemetry(tmp_path: Path) -> None:
    log = tmp_path / "a.jsonl"
    assert monitor_main(["loop://", "--seconds", "2.5", "--log", str(log)]) == 1
    assert log_main(["verify", str(log)]) == 0


def test_log_verify_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mon = run_on_bytes(console_bytes(6.0, "early-inflation", 3000), log=tmp_path / "a.jsonl")
    mon.close()
    path = tmp_path / "a.jsonl"
    assert log_main(["verify", str(path)]) == 0
    lines = path.read_text().splitlines()
    trip = next(i for i, line in enumerate(lines) if '"safe_state"' in line)
    lines[trip] = lines[trip].replace("MON-INFL-DIASTOLE", "MON-NOTHING-HAPPENED")
    path.write_text("\n".join(lines) + "\n")
    assert log_main(["verify", str(path)]) == 1
    assert f"BROKEN at line {trip + 1}" in capsys.readouterr().out
    assert log_main(["verify"]) == 2 and log_main(["check", str(path)]) == 2
    assert log_main(["verify", str(tmp_path / "none")]) == 2


# -- real recordings ------------------------------------------------------------------------

RECORDS = records_under_test()


def _no_alarm(mon: Monitor, what: str) -> None:
    trips = [t.message() for t in mon.failsafe.trips]
    assert not mon.failsafe.entered_ever, f"{what}: false alarm: {trips}"


@pytest.mark.skipif(not RECORDS, reason="../shared/data/physionet not present")
@pytest.mark.parametrize("name", RECORDS)
def test_physionet_record_in_standby_raises_no_false_alarm(name: str) -> None:
    rec = read_record(name, duration_s=30.0)
    n = rec.duration_ms
    zeros = np.zeros(n, dtype=np.int64)
    data = console_telemetry_bytes(rec.ecg_mv, rec.abp_mmhg, rec.gap_mask, zeros,
                                   zeros.astype(bool), zeros)
    mon = run_on_bytes(data)
    _no_alarm(mon, f"{name} standby")
    assert mon.reconstruction.frames == n


@pytest.mark.skipif(not RECORDS, reason="../shared/data/physionet not present")
@pytest.mark.parametrize("name", with_known_failures(RECORDS, PUMPED_KNOWN_FAILURES))
def test_physionet_record_pumped_by_the_verified_controller_raises_no_false_alarm(
        name: str) -> None:
    from iabp.sim.closed_loop import replay_record

    trace = replay_record(name, seconds=10.0)
    mon = run_on_bytes(trace_telemetry_bytes(trace))
    _no_alarm(mon, f"{name} pumping")


@pytest.mark.property("REQ-MON-FAILSAFE")
@pytest.mark.parametrize(("mode", "ratio", "hr"), [
    ("ecg", 1, 80.0), ("ecg", 2, 80.0), ("ecg", 3, 80.0), ("pressure", 1, 80.0),
    ("pressure", 2, 80.0), ("pressure", 3, 80.0), ("ecg", 1, 60.0), ("ecg", 1, 110.0),
    ("pressure", 1, 50.0)])
def test_clean_simulated_pumping_at_every_ratio_raises_no_false_alarm(
        mode: str, ratio: int, hr: float) -> None:
    mon = run_on_bytes(console_bytes(8.0, ratio=ratio, hr=hr, mode=mode))
    assert not mon.failsafe.entered_ever, mon.failsafe.first_trip
    assert mon.violations == 0
    assert mon.reconstruction.frames > 7900


class TextbookTimingConsole(LoopHooks):
    """A console with textbook timing (issue 9, failure 3): its drive inflates at the
    patient's TRUE aortic valve closure, the dicrotic notch at the aortic root (earlier
    than any real console, which sees the notch through the catheter lumen, could), and
    deflates when the verified controller does, or at the next trigger of a beat the
    controller did not assist. Helium is never in the balloon during ejection."""

    def __init__(self) -> None:
        self.ejecting = False
        self.closed = False  #: the valve closed and this beat is not over
        self.controller_inflating = False

    def inputs(self, loop: ClosedLoop, t_ms: int, inputs: ControllerInputs) -> ControllerInputs:
        if inputs.r_wave or inputs.upstroke:
            self.closed = False
        return inputs

    def drive(self, loop: ClosedLoop, t_ms: int, inflate: bool) -> bool:
        assert loop.sample is not None
        ejecting = loop.sample.in_ejection
        if self.ejecting and not ejecting:
            self.closed = True
        if self.controller_inflating and not inflate:
            self.closed = False
        self.ejecting, self.controller_inflating = ejecting, inflate
        pumping = loop.controller.mode in (Mode.ECG_TRIGGER, Mode.PRESSURE_TRIGGER)
        return inflate or (pumping and self.closed and t_ms >= TEXTBOOK_FROM_MS)


TEXTBOOK_FROM_MS = 3000  #: the textbook drive starts once the controller has locked on


@pytest.mark.property("MON-INFL-DIASTOLE")
@pytest.mark.parametrize(("mode", "hr"), [("ecg", 50.0), ("ecg", 110.0), ("pressure", 50.0),
                                          ("pressure", 110.0)])
def test_textbook_timing_at_the_true_valve_closure_is_never_stopped(mode: str, hr: float
                                                                    ) -> None:
    """Failure 3 of issue 9: a console inflating exactly at the valve closure was stopped
    (MON-INFL-DIASTOLE at 50, 80 and 110 bpm and in pressure mode) with no helium ever
    in ejection. In pressure mode at 50 bpm the monitor also stopped it, and the verified
    controller too, for "no pressure upstroke" 2.7 s after the console entered the mode:
    its upstroke detector restarted at the entry and learnt for 2 s."""
    hooks = TextbookTimingConsole()
    mon = run_on_bytes(console_bytes(8.0, hr=hr, mode=mode, hooks=hooks))
    assert not mon.failsafe.entered_ever, mon.failsafe.first_trip
    assert mon.violations == 0
    ideal = run_closed_loop(LoopConfig(hr_bpm=hr, mode=mode, duration_ms=8000),
                            hooks=TextbookTimingConsole())
    early = ideal.drive_cmd & ~ideal.inflate_cmd
    assert early.sum() > 100, "the drive must inflate ahead of the controller on most beats"
    assert not (ideal.balloon_volume_ml[ideal.in_ejection] > 0.5).any()


@pytest.mark.property("REQ-MON-FAILSAFE")
@pytest.mark.parametrize(("mode", "hr"), [("ecg", 50.0), ("pressure", 40.0), ("pressure", 50.0)])
def test_a_monitor_started_beside_a_pumping_console_raises_nothing(mode: str, hr: float) -> None:
    """Start-up (issue 10: "monitor start-up trips whichever side starts first"): a monitor
    started 5 s into a console's 1:1 pumping learns its detectors for 2 s while the console
    inflates. It blamed the console for what it could not yet see: a provisional detection
    of a P wave made a 182 ms R-R (MON-TRIGGER-FRESH), beats missed while learning
    counted for MON-RATIO, and 2 s of an upstroke detector learning for MON-TRIGGER-LOSS."""
    data = console_bytes(14.0, hr=hr, mode=mode)
    mon = run_on_bytes(data[len(data) * 5 // 14:])  # cut mid-frame: the parser resyncs
    assert not mon.failsafe.entered_ever, mon.failsafe.first_trip
    assert mon.violations == 0


# -- issue 9: one corrupted frame is one integrity fault; every trip is in the summary ------


def _corrupt_frames(data: bytes, frames: list[int]) -> bytes:
    """``data`` with one content byte changed in each of the given frames (by index among
    the frames of the stream), never into a flag or an escape."""
    raw = bytearray(data)
    starts = [i for i in range(len(raw) - 1) if raw[i] == 0x7E and raw[i + 1] != 0x7E]
    for k in frames:
        pos = (starts[k] + starts[k + 1]) // 2
        new = raw[pos] ^ 0x01
        raw[pos] = new ^ 0x03 if new in (0x7E, 0x7D) else new
    return bytes(raw)


@pytest.mark.property("REQ-MON-FAILSAFE")
@pytest.mark.parametrize("chunk", [BYTES_PER_MS, 10 * BYTES_PER_MS])  # gap in a later read too
def test_three_corrupted_frames_in_a_second_do_not_trip_six_do(chunk: int) -> None:
    three = run_on_bytes(_corrupt_frames(CLEAN_2S, [300, 500, 700]), chunk=chunk)
    stats = three.parser.stats().errors
    assert stats.get(next(k for k in stats if k.value == "seq_gap"), 0) == 3  # all reported
    assert not three.failsafe.entered_ever, [t.message() for t in three.failsafe.trips]
    six = run_on_bytes(_corrupt_frames(CLEAN_2S, [300, 400, 500, 600, 700, 800]), chunk=chunk)
    first = six.failsafe.first_trip
    assert first is not None and first.cause is Cause.INTEGRITY
    assert "6 corrupt or missing telemetry frames within 1000 ms (limit 5)" in first.message()


def test_a_silence_trip_is_in_the_summary_and_the_final_record(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    with pty_pair() as console:
        clock = FakeClock()
        mon = Monitor(console.path, None, log, clock=clock, out=io.StringIO())
        mon.open()
        _pump(console.master, console_bytes(8.0)[:64_000], mon, clock)
        for _ in range(60):
            mon.step()
            clock.advance(1)
        assert mon.failsafe.first_trip is not None
        assert mon.failsafe.first_trip.cause is Cause.SILENCE
        summary = mon.summary()
        assert [t["cause"] for t in summary["trips"]] == ["SILENCE"]
        assert summary["first_trip"]["cause"] == "SILENCE"
        mon.close()
    records = [json.loads(line) for line in log.read_text().splitlines()]
    end = next(r for r in records if r["type"] == "session_end")
    assert [t["cause"] for t in end["payload"]["trips"]] == ["SILENCE"]
    assert end["payload"]["reason"] == "session closed"
    assert records[-1]["type"] == "seal" and verify_log(log).status.value == "sealed"


def test_every_trip_kind_appears_in_the_summary() -> None:
    mon = run_on_bytes(console_bytes(6.0, "early-inflation", 3000))
    now = mon.clock()
    mon._trip(Trip(Cause.PORT_LOST, "cable pulled", now))
    mon._trip(Trip(Cause.INTERNAL_ERROR, "ValueError: x", now))
    mon._trip(Trip(Cause.INTEGRITY, "6 bad frames", now, "MON-INTEGRITY"))
    mon._trip(Trip(Cause.SILENCE, "no telemetry", now))
    mon._trip(Trip(Cause.TIME_COHERENCE, "frames=500 window_ms=1000 limit_frames=900", now,
                   "MON-FRAME-RATE"))
    mon._trip(Trip(Cause.MONITOR_STALL, "stalled_ms=180 limit_ms=50", now))
    causes = {t["cause"] for t in mon.summary()["trips"]}
    assert causes == {c.name for c in Cause}


def test_a_violation_reads_as_a_sentence() -> None:
    mon = run_on_bytes(console_bytes(6.0, "late-deflation", 3000))
    first = mon.failsafe.first_trip
    assert first is not None and first.rule_id == "MON-NO-GAS-IN-EJECTION"
    message = first.message()
    assert message.startswith("MON-NO-GAS-IN-EJECTION: balloon still holding helium ")
    assert "ms after ejection began (limit 0)" in message and "'" not in message.split(":")[1]
    assert "heart_t_ms'" in first.detail  # the machine detail stays for the audit record


# -- issue 9: a fault in the controller's trigger does not blind the monitor ---------------


class LateControllerTrigger(LoopHooks):
    """A faulty controller trigger: every R-wave report, and the QRS suspicion before it,
    reaches the controller ``late_ms`` late (a stuck filter, an overloaded console). The
    monitor's own detectors see the same ECG and are not affected."""

    def __init__(self, late_ms: int) -> None:
        self.late_ms = late_ms
        self.due: set[int] = set()
        self.suspect_due: set[int] = set()

    def inputs(self, loop: ClosedLoop, t_ms: int, inputs: ControllerInputs) -> ControllerInputs:
        late, suspect = t_ms in self.due, t_ms in self.suspect_due
        self.due.discard(t_ms)
        self.suspect_due.discard(t_ms)
        if inputs.r_wave:
            self.due.add(t_ms + self.late_ms)
        if inputs.qrs_suspect:
            self.suspect_due.add(t_ms + self.late_ms)
        return dataclasses.replace(inputs, r_wave=late, qrs_suspect=suspect)


@pytest.mark.property("REQ-MON-INDEPENDENT")
def test_a_late_controller_trigger_puts_gas_in_ejection_and_the_monitor_sees_it() -> None:
    trace = run_closed_loop(LoopConfig(hr_bpm=80.0, ratio=1, mode="ecg", duration_ms=10_000),
                            hooks=LateControllerTrigger(late_ms=300))
    volume = np.asarray(trace.balloon_volume_ml)[np.asarray(trace.in_ejection)]
    assert volume.max() > 5.0, "the faulty trigger really leaves helium in the ejecting aorta"
    assert not trace.alarm_mask.any(), "the console itself notices nothing"
    mon = run_on_bytes(trace_telemetry_bytes(trace))
    assert mon.failsafe.entered_ever
    first = mon.failsafe.first_trip
    assert first is not None and first.rule_id == "MON-NO-GAS-IN-EJECTION", first
