"""``iabp check``: the live monitor's verdicts on a recorded capture, offline.

The agreement tests run the live pipeline (:func:`run_on_bytes`: a :class:`Monitor` on an
in-memory port, its clock following the bytes) and :func:`check_bytes` on the SAME bytes
and demand the same sequence of (rule ID, console time_ms) violations: for every fault a
faulty simulated console can show (``iabp.sim.console.CONSOLE_FAULTS``), a clean console
in every trigger mode, corrupted frames, and PhysioNet records replayed as the telemetry
of a console in STANDBY and of one pumped by the verified controller.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tests.monitor.test_monitor_e2e as e2e
from iabp.monitor.check import check_bytes, check_chunks, check_main, violation_keys
from iabp.monitor.failsafe import Cause, Trip
from iabp.monitor.protocol import HelloFrame, TelemetryFrame, encode_frame
from iabp.monitor.reconstruct.reconstruction import PatientProfile
from iabp.monitor.runtime import Monitor
from iabp.sim.console import CONSOLE_FAULTS
from iabp.sim.records import read_record
from iabp.sim.telemetry_stream import console_telemetry_bytes, trace_telemetry_bytes
from tests.monitor.test_reconstruct import console_bytes, parse_all
from tests.records import records_under_test
from tests.unprivileged import open_and_locked_folders, run_unprivileged

SECONDS = 6.0
FAULT_AT_MS = 3000


class RecordingMonitor(Monitor):
    """The live monitor, noting (rule ID, console time_ms) of every violation and trip.

    The console time of a rule violation is that of the frame the verdict names (the
    current frame's time_ms minus how many ms of telemetry ago ``at_ms`` was); other trips
    are placed at the last TELEMETRY frame delivered before them.
    """

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.seen: list[tuple[str, int | None]] = []
        self._frame_t: int | None = None
        self._ids: set[int] = set()
        on_t = self.reconstruction.on_telemetry

        def on_telemetry(f: TelemetryFrame) -> dict[str, Any]:
            self._frame_t = f.time_ms
            return on_t(f)

        self.reconstruction.on_telemetry = on_telemetry  # type: ignore[method-assign]

    def _violations(self, found: Any, now_ms: int) -> None:
        assert self._frame_t is not None
        for v in found:
            self.seen.append((v.rule_id, self._frame_t - (self.reconstruction.now_ms - v.at_ms)))
        super()._violations(found, now_ms)

    def _trip(self, trip: Trip) -> None:
        self._ids.add(id(trip))
        if trip.cause is not Cause.RULE_VIOLATION:
            self.seen.append((trip.rule_id or trip.cause.name, self._frame_t))
        super()._trip(trip)

    def step(self) -> None:
        super().step()
        trip = self.failsafe.trip  # the supervisor's own counters (silence, error window)
        if trip is not None and id(trip) not in self._ids:
            self._ids.add(id(trip))
            self.seen.append((trip.rule_id or trip.cause.name, self._frame_t))


def live(data: bytes, profile: PatientProfile | None = None,
         monkeypatch: pytest.MonkeyPatch | None = None) -> RecordingMonitor:
    """``run_on_bytes`` (the live loop of the end-to-end tests) with the recording monitor."""
    assert monkeypatch is not None
    monkeypatch.setattr(e2e, "Monitor", RecordingMonitor)
    mon = e2e.run_on_bytes(data, profile)
    assert isinstance(mon, RecordingMonitor)
    return mon


def assert_agree(data: bytes, monkeypatch: pytest.MonkeyPatch,
                 profile: PatientProfile | None = None) -> list[tuple[str, int | None]]:
    mon = live(data, profile, monkeypatch)
    report = check_bytes(data, profile)
    offline = list(violation_keys(report))
    assert offline == mon.seen
    assert report.frames == mon.reconstruction.frames
    assert (report.first_trip is None) == (not mon.failsafe.entered_ever)
    return offline


# -- agreement with the live monitor -------------------------------------------------------

EXPECTED_FIRST = {
    "early-inflation": "MON-INFL-DIASTOLE", "late-deflation": "MON-NO-GAS-IN-EJECTION",
    "trigger-loss": "MON-TRIGGER-LOSS", "gas-leak": "MON-FAULT-HALT",
    "contraindication": "MON-CONTRA-ABSOLUTE", "garbage": "MON-INTEGRITY",
    "settings-silent": "MON-SETTINGS-CADENCE",
}


def test_every_console_fault_has_an_expectation() -> None:
    assert {str(f) for f in CONSOLE_FAULTS} == {*EXPECTED_FIRST, "silence"}


@pytest.mark.parametrize("fault", [str(f) for f in CONSOLE_FAULTS])
def test_check_agrees_with_the_live_monitor_on_every_console_fault(
        fault: str, monkeypatch: pytest.MonkeyPatch) -> None:
    found = assert_agree(console_bytes(SECONDS, fault, FAULT_AT_MS), monkeypatch)
    if fault == "silence":  # the capture just ends: nothing after it can be judged
        assert found == []
    else:
        assert found and found[0][0] == EXPECTED_FIRST[fault]
        # the console sends 10 ticks per write: a garbled write hides up to 10 frames
        assert found[0][1] is not None and found[0][1] >= FAULT_AT_MS - 11


@pytest.mark.parametrize(("mode", "ratio"), [("ecg", 1), ("ecg", 3), ("pressure", 2)])
def test_check_agrees_on_clean_consoles(mode: str, ratio: int,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    assert assert_agree(console_bytes(SECONDS, ratio=ratio, mode=mode), monkeypatch) == []


def test_check_agrees_with_a_contraindicated_patient(monkeypatch: pytest.MonkeyPatch) -> None:
    profile = PatientProfile.from_mapping({"contraindications": ["aortic dissection"]})
    found = assert_agree(console_bytes(SECONDS), monkeypatch, profile)
    assert "MON-CONTRA-ABSOLUTE" in [rule for rule, _ in found]


@pytest.mark.parametrize("frames", [[300, 500, 700], [300, 400, 500, 600, 700, 800]])
def test_check_agrees_on_corrupted_frames(frames: list[int],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    found = assert_agree(e2e._corrupt_frames(console_bytes(SECONDS), frames), monkeypatch)
    assert bool(found) == (len(frames) > 5)


RECORDS = records_under_test()[:6]


def _standby_bytes(name: str) -> bytes:
    rec = read_record(name, duration_s=SECONDS)
    zeros = np.zeros(rec.duration_ms, dtype=np.int64)
    return console_telemetry_bytes(rec.ecg_mv, rec.abp_mmhg, rec.gap_mask, zeros,
                                   zeros.astype(bool), zeros)


@pytest.mark.skipif(not RECORDS, reason="../shared/data/physionet not present")
@pytest.mark.parametrize("name", RECORDS)
def test_check_agrees_on_physionet_standby_streams(name: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    assert assert_agree(_standby_bytes(name), monkeypatch) == []


@pytest.mark.skipif(not RECORDS, reason="../shared/data/physionet not present")
@pytest.mark.parametrize("name", RECORDS[:3])
def test_check_agrees_on_physionet_records_pumped_by_the_controller(
        name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from iabp.sim.closed_loop import replay_record

    trace = replay_record(name, seconds=SECONDS)
    data = trace_telemetry_bytes(trace)
    assert_agree(data, monkeypatch)


# -- the offline clock ----------------------------------------------------------------------

def test_chunking_does_not_change_the_verdicts() -> None:
    data = console_bytes(SECONDS, "early-inflation", FAULT_AT_MS)
    whole = violation_keys(check_bytes(data))
    small = violation_keys(check_chunks(data[i:i + 997] for i in range(0, len(data), 997)))
    assert whole == small and whole


def _shift_time(data: bytes, after_record: int, by_ms: int) -> bytes:
    """The capture re-encoded with console time jumping ``by_ms`` after the given record
    (sequence numbers unbroken: the console's clock stalled, then jumped)."""
    out = bytearray()
    for i, f in enumerate(parse_all(data)):
        out += encode_frame(dataclasses.replace(f, time_ms=f.time_ms + by_ms)
                            if i > after_record else f)
    return bytes(out)


def test_silence_is_judged_on_gaps_in_console_time() -> None:
    data = console_bytes(SECONDS)
    assert check_bytes(data).clean
    gap = check_bytes(_shift_time(data, 2000, 100))
    causes = [(v.rule_id, v.cause) for v in gap.violations]
    assert ("SILENCE", "SILENCE") in causes, causes
    short = check_bytes(_shift_time(data, 2000, 20))  # 20 ms: within the 50 ms watchdog
    assert all(v.cause != "SILENCE" for v in short.violations)


@pytest.mark.property("REQ-MON-FAILSAFE")
def test_a_console_time_jump_beyond_a_tolerated_gap_trips_live_and_offline(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Console time jumps 30 ms with unbroken sequence numbers (29 ticks sent no
    TELEMETRY: inside the 50 ms silence watchdog, beyond the 10 frames a gap may lose):
    MON-INTEGRITY, in the live monitor and in ``iabp check`` alike; a 5 ms jump is bridged."""
    data = console_bytes(SECONDS)
    jumped = _shift_time(data, 2000, 30)
    offline = list(violation_keys(check_bytes(jumped)))
    # the first verdict agrees; later ones (the recording cannot obey the STOP) are timed
    # by the live harness's clock, one ms per frame read, 30 ms behind console time here
    assert offline[:1] == live(jumped, None, monkeypatch).seen[:1]
    assert offline and offline[0][0] == "MON-INTEGRITY", offline
    assert assert_agree(_shift_time(data, 2000, 5), monkeypatch) == []


def test_a_capture_without_telemetry_is_silence() -> None:
    for data in (b"", bytes(range(256)) * 4):
        report = check_bytes(data)
        assert report.exit_status == 1 and report.frames == 0
        assert report.first_trip is not None


# -- the command line -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def captures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("captures")
    out = {}
    for name, fault in (("clean", None), ("late", "late-deflation")):
        p = d / f"{name}.bin"
        p.write_bytes(console_bytes(SECONDS, fault, FAULT_AT_MS))
        out[name] = p
    return out


def test_cli_clean_capture_exits_0(captures: dict[str, Path],
                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert check_main([str(captures["clean"])]) == 0
    text = capsys.readouterr().out
    assert "violations: none (CLEAN)" in text and "no monitor clock" in text


def test_cli_faulty_capture_exits_1_with_rule_time_and_sentence(
        captures: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert check_main([str(captures["late"])]) == 1
    text = capsys.readouterr().out
    assert "MON-NO-GAS-IN-EJECTION" in text and "first trip: MON-NO-GAS-IN-EJECTION" in text
    assert "balloon still holding helium" in text and "console" in text


def test_cli_json(captures: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert check_main([str(captures["late"]), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["verdict"] == "violations" and doc["frames"] == 6000
    first = doc["first_trip"]
    assert first["rule_id"] == "MON-NO-GAS-IN-EJECTION" and first["console_ms"] >= FAULT_AT_MS
    assert first["message"].startswith("MON-NO-GAS-IN-EJECTION: ")
    assert doc["violations"][0] == first and "no monitor clock" in doc["clock"]


def test_cli_plot_writes_one_png_per_violation(captures: dict[str, Path], tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "plots"
    assert check_main([str(captures["late"]), "--plot", str(out), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    pngs = sorted(out.glob("*.png"))
    assert len(pngs) == doc["violations_total"] == len(doc["plots"]) >= 1
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)


def test_cli_bad_usage_exits_2_with_one_line(tmp_path: Path, captures: dict[str, Path],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    bad_profile = tmp_path / "p.json"
    bad_profile.write_text('{"contraindications": ["mystery"]}')
    not_dir = tmp_path / "file"
    not_dir.write_text("x")
    cases = [[], [str(tmp_path / "absent.bin")], [str(tmp_path)],
             [str(captures["clean"]), "--patient", str(bad_profile)],
             [str(captures["clean"]), "--patient", str(tmp_path / "none.json")],
             [str(captures["clean"]), "--plot", str(not_dir)], ["--nope"]]
    for argv in cases:
        assert check_main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("iabp check") and err.count("\n") == 1, (argv, err)
        assert "Traceback" not in err


def test_cli_unreadable_capture_exits_2() -> None:
    """A capture without read permission: one line naming it (run without root's powers:
    root reads any file)."""
    with open_and_locked_folders() as (base, _):
        p = base / "locked.bin"
        p.write_bytes(b"\x7e")
        p.chmod(0)
        status, err = run_unprivileged(check_main, [str(p)])
        assert status == 2, err
        assert err.startswith("iabp check: cannot read") and "Permission denied" in err, err


def test_cli_capture_in_a_folder_it_may_not_search_exits_2() -> None:
    """``Path.exists`` raises when a parent folder may not be searched: a clear line, not a
    traceback, for the capture and for --plot (run without root's powers: root may
    search any folder)."""
    with open_and_locked_folders() as (base, locked):
        status, err = run_unprivileged(check_main, [str(locked / "inside.bin")])
        assert status == 2, err
        assert err.startswith("iabp check: cannot read") and "Permission denied" in err, err
        ok = base / "ok.bin"
        ok.write_bytes(console_bytes(0.5))
        ok.chmod(0o644)
        status, err = run_unprivileged(check_main, [str(ok), "--plot", str(locked / "plots")])
        assert status == 2, err
        assert err.startswith("iabp check: --plot") and "cannot use it: Permission denied" in err, err


def test_a_console_announcing_another_tick_trips_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The live monitor and ``iabp check`` trip on the console's HELLO when it announces a
    control tick other than 1 ms (every timing rule would be judged on the wrong clock)."""
    data = console_bytes(2.0)
    first_end = data.index(b"\x7e", 1) + 1  # the console's HELLO is its first frame
    frames = parse_all(data[:first_end])
    hello = frames[0]
    assert isinstance(hello, HelloFrame) and hello.tick_us == 1000
    slow = HelloFrame(hello.seq, hello.time_ms, hello.role, hello.max_version, hello.firmware,
                      hello.device_serial, 2000)
    bad = encode_frame(slow) + data[first_end:]
    assert check_bytes(data).clean
    keys = assert_agree(bad, monkeypatch)
    report = check_bytes(bad)
    assert report.first_trip is not None and report.first_trip.rule_id == "MON-INTEGRITY"
    assert "2000 us control tick" in report.first_trip.message, report.first_trip.message
    assert keys


def test_cli_quiet_is_one_line_and_verbose_shows_what_each_rule_read(
        captures: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert check_main([str(captures["late"]), "-q"]) == 1
    captured = capsys.readouterr()
    (line,) = captured.out.splitlines()
    assert line.startswith(f"iabp check {captures['late']}: ") and "violations" in line
    assert "first trip: MON-NO-GAS-IN-EJECTION at console" in line
    assert captured.err == ""  # no progress bar: stderr is not a terminal
    assert check_main([str(captures["clean"]), "-q"]) == 0
    clean = f"iabp check {captures['clean']}: CLEAN (6000 telemetry frames)\n"
    assert capsys.readouterr().out == clean
    assert check_main([str(captures["late"]), "-v"]) == 1
    assert "      read: " in capsys.readouterr().out


def test_cli_progress_bar_goes_to_a_terminal_stderr_and_leaves_stdout_alone(
        captures: dict[str, Path], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from tests.test_cli import FakeTerminal

    assert check_main([str(captures["clean"])]) == 0
    piped = capsys.readouterr().out
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert check_main([str(captures["clean"])]) == 0
    assert capsys.readouterr().out == piped
    assert "iabp check: clean.bin (MiB)" in terminal.getvalue()
