"""The simulated console on a serial URL: protocol-v1 telemetry, monitor commands, faulty modes."""

from __future__ import annotations

import os
import select
import time

import numpy as np
import pytest

from iabp.monitor.parser import IntegrityEvent, IntegrityKind, ParseEvent, StreamParser
from iabp.monitor.protocol import (
    EventFrame,
    EventKind,
    HelloFrame,
    MonitorCommand,
    SettingsFrame,
    TelemetryFrame,
    encode_command,
)
from iabp.sim.closed_loop import LoopConfig, run_closed_loop
from iabp.sim.console import CONSOLE_FAULTS, FaultyConsole, SimulatedConsole
from iabp.spec.errors import PortError
from iabp.spec.modes import Alarm, Mode
from tests.monitor.helpers_pty import TcpServer, pty_pair

FAULT_AT = 4000


class Wire:
    """The monitor's end of a pty: collects and parses everything the console sends."""

    def __init__(self, master: int) -> None:
        self.master = master
        self.parser = StreamParser()
        self.events: list[ParseEvent] = []
        self.raw = 0

    def drain(self) -> None:
        while select.select([self.master], [], [], 0.0)[0]:
            data = os.read(self.master, 65536)
            self.raw += len(data)
            self.events += self.parser.feed(data)

    def run(self, console: SimulatedConsole, ticks: int, chunk: int = 100) -> None:
        for _ in range(ticks // chunk):
            console.run_ticks(chunk)
            self.drain()

    def of(self, kind: type) -> list:  # type: ignore[type-arg]
        return [e for e in self.events if isinstance(e, kind)]


def _console_on_pty(ticks: int, fault: str | None = None, stop_at: int | None = None
                    ) -> tuple[Wire, SimulatedConsole]:
    with pty_pair() as pty:
        wire = Wire(pty.master)
        console = SimulatedConsole(pty.path, LoopConfig(ratio=1, duration_ms=ticks), fault=fault,
                                   fault_at_ms=FAULT_AT)
        with console:
            if stop_at is None:
                wire.run(console, ticks)
            else:
                wire.run(console, stop_at)
                os.write(pty.master, encode_command(MonitorCommand.STOP, seq=41, time_ms=9))
                select.select([pty.slave], [], [], 2.0)  # the bytes have crossed the pty
                wire.run(console, ticks - stop_at)
        return wire, console


@pytest.fixture(scope="module")
def clean() -> tuple[Wire, SimulatedConsole]:
    return _console_on_pty(6000, stop_at=5000)


def test_frames_decode_without_integrity_errors(clean: tuple[Wire, SimulatedConsole]) -> None:
    wire, console = clean
    assert not wire.of(IntegrityEvent)
    assert isinstance(wire.events[0], HelloFrame) and isinstance(wire.events[1], SettingsFrame)
    tel: list[TelemetryFrame] = wire.of(TelemetryFrame)
    assert [f.time_ms for f in tel] == list(range(6000))  # one TELEMETRY per 1 ms tick
    assert len(wire.of(SettingsFrame)) >= 6  # at start and at least once a second
    assert any(f.inflate for f in tel) and any(f.r_detected for f in tel)
    assert wire.raw == console.stats.bytes_sent and console.stats.bytes_dropped == 0
    assert all(f.settings_crc == tel[0].settings_crc and f.assist_ratio == 1 for f in tel)


def test_stop_command_puts_the_console_in_standby(clean: tuple[Wire, SimulatedConsole]) -> None:
    wire, console = clean
    tel: list[TelemetryFrame] = wire.of(TelemetryFrame)
    assert tel[4999].mode is Mode.ECG_TRIGGER
    assert tel[5000].mode is Mode.STANDBY and not any(f.inflate for f in tel[5000:])
    done = [e for e in wire.of(EventFrame) if e.kind is EventKind.COMMAND_EXECUTED]
    assert [(e.time_ms, e.detail, e.mode) for e in done] == [(5000, 41, Mode.STANDBY)]
    assert console.stats.commands_executed == 1


def test_console_over_a_socket_url() -> None:
    server = TcpServer()
    try:
        console = SimulatedConsole(server.url, LoopConfig(duration_ms=1000))
        conn = server.accept()
        with console, conn:
            console.run(0.5, realtime=False)
            conn.sendall(encode_command(MonitorCommand.ALARM_ACKNOWLEDGE, seq=3, time_ms=0))
            parser, need = StreamParser(), 500
            events: list[ParseEvent] = []
            while len([e for e in events if isinstance(e, TelemetryFrame)]) < need:
                events += parser.feed(conn.recv(65536))
            for _ in range(200):  # until the command has crossed the TCP hop
                console.run(0.01, realtime=False)
                if console.stats.commands_executed:
                    break
                time.sleep(0.005)
            assert console.stats.commands_executed == 1
    finally:
        server.close()
    assert not [e for e in events if isinstance(e, IntegrityEvent)]


def test_realtime_pacing_uses_the_injected_clock() -> None:
    now = [100.0]
    sleeps: list[float] = []

    def sleep(s: float) -> None:
        sleeps.append(s)
        now[0] += s

    console = SimulatedConsole("loop://", LoopConfig(duration_ms=1000), clock=lambda: now[0],
                               sleep=sleep, batch_ms=10)
    with console:
        stats = console.run(0.25, realtime=True)
    assert stats.ticks == 250
    assert 24 <= len(sleeps) <= 27 and all(abs(s - 0.01) < 1e-9 for s in sleeps[1:-1])


def test_unopenable_port_is_a_port_error() -> None:
    with pytest.raises(PortError):
        SimulatedConsole("/dev/iabp-no-such-port")


def _telemetry_after(wire: Wire, t: int) -> list[TelemetryFrame]:
    return [f for f in wire.of(TelemetryFrame) if f.time_ms >= t]


def test_faulty_trigger_loss_keeps_pumping_on_a_flat_ecg_without_alarm() -> None:
    wire, _ = _console_on_pty(8000, "trigger-loss")
    late = _telemetry_after(wire, FAULT_AT + 3000)  # past the 2500 ms trigger-loss timeout
    assert {f.ecg_uv for f in late} == {0} and not any(f.r_detected for f in late)
    assert any(f.inflate for f in late) and all(f.mode is Mode.ECG_TRIGGER for f in late)
    assert not any(Alarm.TRIGGER_LOSS in f.alarms for f in late)


def test_faulty_gas_leak_raises_the_alarm_bit_and_keeps_pumping() -> None:
    wire, _ = _console_on_pty(8000, "gas-leak")
    tel = _telemetry_after(wire, FAULT_AT)
    first = next(i for i, f in enumerate(tel) if Alarm.GAS_LOSS in f.alarms)
    assert all(f.mode is Mode.ECG_TRIGGER for f in tel[first:])
    assert any(f.inflate for f in tel[first:])


def test_faulty_contraindication_pumps_with_the_alarm_bit_set() -> None:
    wire, _ = _console_on_pty(6000, "contraindication")
    tel = _telemetry_after(wire, FAULT_AT)
    assert all(Alarm.CONTRA_ABSOLUTE in f.alarms and f.mode is Mode.ECG_TRIGGER for f in tel)
    assert any(f.inflate for f in tel)


@pytest.mark.parametrize("fault", ["silence", "garbage"])
def test_faulty_wire(fault: str) -> None:
    wire, console = _console_on_pty(5000, fault)
    assert max(f.time_ms for f in wire.of(TelemetryFrame)) < FAULT_AT
    assert console.stats.ticks == 5000
    if fault == "silence":
        assert wire.raw == console.stats.bytes_sent < 40 * FAULT_AT
    else:
        kinds = {e.kind for e in wire.of(IntegrityEvent)}
        assert kinds & {IntegrityKind.GARBAGE, IntegrityKind.CRC_ERROR}


@pytest.mark.parametrize("fault", ["early-inflation", "late-deflation"])
def test_faulty_timing_puts_the_balloon_in_ejection(fault: str) -> None:
    cfg = LoopConfig(ratio=1, duration_ms=8000)
    tr = run_closed_loop(cfg, hooks=FaultyConsole(fault, FAULT_AT))
    vb = np.where(tr.in_ejection, tr.balloon_volume_ml, 0.0)
    assert vb[:FAULT_AT].max() == 0.0 and vb[FAULT_AT:].max() > 10.0
    assert not tr.alarm_mask.any()


def test_every_console_fault_is_known() -> None:
    assert set(CONSOLE_FAULTS) == {"early-inflation", "late-deflation", "trigger-loss",
                                   "gas-leak", "contraindication", "silence", "garbage",
                                   "settings-silent"}
    with pytest.raises(ValueError):
        FaultyConsole("hiccup", 0)
