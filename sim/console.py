"""The simulated console's serial side: protocol-v1 telemetry out, monitor commands in.

:class:`SimulatedConsole` runs the closed loop (patient, detectors, verified controller)
and, for every 1 ms tick, sends one TELEMETRY record on a port opened by URL with
:func:`iabp.monitor.port.open_port` (a pty path, ``socket://host:port``, ``loop://``). It
sends HELLO and SETTINGS first, SETTINGS again on every change and at least once a
second, and an EVENT for every mode change, alarm raised / cleared / acknowledged,
settings decision, operator key and executed monitor command. It reads the monitor's
COMMAND records from the same port with :class:`iabp.monitor.parser.StreamParser`: STOP acts
as the operator's STANDBY key, ALARM_ACKNOWLEDGE as the ACKNOWLEDGE key, on the next tick.

Time is passed in: ``clock()`` (s, monotonic) and ``sleep(s)``. ``run(realtime=True)``
paces the ticks to the clock in batches of ``batch_ms`` (one write per batch);
``realtime=False`` runs as fast as it can.

A **faulty console** (``fault=``, from ``fault_at_ms``) misbehaves on purpose, for the
monitor demo; the verified controller is unchanged, the console around it lies:

* ``early-inflation`` / ``late-deflation``: the drive moves the balloon against the
  controller's timing (:class:`iabp.sim.faults.TimingErrorFault`);
* ``trigger-loss``: the ECG goes flat, the console keeps inflating on its old rhythm and
  reports no TRIGGER_LOSS;
* ``gas-leak``: helium leaks; the gas-loss condition is reported (alarm bit set) but not
  acted on: the mode stays pumping;
* ``contraindication``: an absolute contraindication is recorded (alarm bit set) and the
  console keeps pumping;
* ``silence``: nothing is sent any more; ``garbage``: noise bytes instead of frames;
  ``settings-silent``: the periodic SETTINGS record stops (sent on a change only).
"""

from __future__ import annotations

import dataclasses
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import serial

from iabp.controller.controller import ControllerInputs
from iabp.monitor.parser import IntegrityEvent, StreamParser
from iabp.monitor.port import open_port, port_lost
from iabp.monitor.protocol import (
    BAUD_RATE,
    CONSOLE_TICK_US,
    NOT_AVAILABLE,
    SETTINGS_PERIOD_MS,
    CommandFrame,
    ConsolePhase,
    EventFrame,
    EventKind,
    Frame,
    HelloFrame,
    LinkRole,
    MonitorCommand,
    SettingsFrame,
    TelemetryFrame,
    encode_frame,
    settings_digest,
)
from iabp.sim.closed_loop import (
    ClosedLoop,
    LoopConfig,
    LoopHooks,
    ScriptEvent,
    SimulationError,
    Tick,
    alarm_mask,
    script_by_tick,
)
from iabp.sim.faults import GAS_LEAK_ML_PER_S, Fault, TimingErrorFault
from iabp.spec.modes import Alarm, Mode, OperatorCommand
from iabp.spec.settings import SETTINGS

#: The faults a faulty console can show (see the module docstring).
CONSOLE_FAULTS: tuple[Fault, ...] = (
    Fault.EARLY_INFLATION, Fault.LATE_DEFLATION, Fault.TRIGGER_LOSS, Fault.GAS_LEAK,
    Fault.CONTRAINDICATION, Fault.SILENCE, Fault.GARBAGE, Fault.SETTINGS_SILENT)
DEFAULT_FAULT_AT_MS = 5000  #: faults start after this clean period (ms of console time)
FIRMWARE = (0, 1, 0)
_UINT32 = 1 << 32
_READ_CHUNK = 4096  #: bytes per non-blocking command read (a COMMAND record is 17 to 32 bytes)
WRITE_TIMEOUT_S = 0.05  #: a telemetry write that does not drain within this is dropped, not waited for
_COMMAND_OPS = {MonitorCommand.STOP: OperatorCommand.STANDBY,
                MonitorCommand.ALARM_ACKNOWLEDGE: OperatorCommand.ACKNOWLEDGE}


class FaultyConsole(LoopHooks):
    """The misbehaviour of a faulty console inside the loop (``silence`` / ``garbage`` are on
    the wire and change nothing here). See the module docstring for each ``kind``."""

    def __init__(self, kind: str, at_ms: int) -> None:
        if kind not in CONSOLE_FAULTS:
            raise SimulationError(f"unknown console fault {kind!r}; expected one of "
                                  f"{', '.join(CONSOLE_FAULTS)}")
        self.kind, self.at_ms = Fault(kind), at_ms
        self.timing = TimingErrorFault(self.kind, at_ms=at_ms) if self.kind in (
            Fault.EARLY_INFLATION, Fault.LATE_DEFLATION) else None
        self._ctrl = False
        self._last_on = self._period = self._length = 0

    def before_tick(self, loop: ClosedLoop, t_ms: int) -> None:
        if self.kind is Fault.GAS_LEAK and t_ms == self.at_ms:
            loop.patient.inject_gas_leak(GAS_LEAK_ML_PER_S)

    def ecg_seen(self, t_ms: int, ecg_mv: float) -> float:
        return 0.0 if self.kind is Fault.TRIGGER_LOSS and t_ms >= self.at_ms else ecg_mv

    def inputs(self, loop: ClosedLoop, t_ms: int, inputs: ControllerInputs) -> ControllerInputs:
        if self.timing is not None:
            return self.timing.inputs(loop, t_ms, inputs)
        if self.kind is Fault.GAS_LEAK and inputs.gas_loss:
            return dataclasses.replace(inputs, gas_loss=False)  # condition seen, not acted on
        return inputs

    def drive(self, loop: ClosedLoop, t_ms: int, inflate: bool) -> bool:
        if self.timing is not None:
            return self.timing.drive(loop, t_ms, inflate)
        if self.kind is not Fault.TRIGGER_LOSS:
            return inflate
        if inflate and not self._ctrl:
            self._period, self._last_on = t_ms - self._last_on, t_ms
        elif self._ctrl and not inflate:
            self._length = t_ms - self._last_on
        self._ctrl = inflate
        if t_ms < self.at_ms or self._period <= 0 or self._length <= 0:
            return inflate
        return (t_ms - self._last_on) % self._period < self._length  # the old rhythm, blind

    def reported_alarm_mask(self, loop: ClosedLoop, t_ms: int, mask: int) -> int:
        if t_ms < self.at_ms:
            return mask
        if self.kind is Fault.TRIGGER_LOSS:
            return mask & ~(1 << Alarm.TRIGGER_LOSS)
        if self.kind is Fault.GAS_LEAK and loop.sensors.gas_loss:
            return mask | 1 << Alarm.GAS_LOSS
        if self.kind is Fault.CONTRAINDICATION:
            return mask | 1 << Alarm.CONTRA_ABSOLUTE
        return mask


@dataclass
class ConsoleStats:
    """What a console run did."""

    ticks: int = 0
    records_sent: int = 0
    bytes_sent: int = 0
    bytes_dropped: int = 0  #: the port did not take them in time (the console never blocks)
    commands_executed: int = 0
    integrity_errors: int = 0  #: faults the command parser reported on the incoming bytes
    final_mode: Mode = Mode.STANDBY


def _clamp(x: float, scale: float, lo: int, hi: int) -> int:
    if x != x:  # NaN: lead off / no transducer
        return NOT_AVAILABLE
    return min(hi, max(lo, int(round(x * scale))))


#: A real-time run() called again within this (s) of the last one's end continues its
#: schedule (catching up the ticks due), so back-to-back runs keep 1 kHz; later, it restarts.
_RESUME_S = 0.5


class SimulatedConsole:
    """A console on a serial URL: the closed loop plus the protocol-v1 telemetry and commands.

    ``config``: patient and pumping (default 80 bpm, 1:1, ECG, start at 1 s); ``script``:
    operator actions (default: press the mode's START key at ``config.start_ms``); ``port``:
    an already open port (e.g. the connection :mod:`iabp.sim.listen_port` accepted), used
    instead of opening ``port_url``, which then only names it.
    """

    def __init__(self, port_url: str, config: LoopConfig | None = None, *,
                 fault: str | None = None, fault_at_ms: int = DEFAULT_FAULT_AT_MS,
                 script: Sequence[ScriptEvent] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, batch_ms: int = 10,
                 device_serial: int = 1, port: serial.SerialBase | None = None) -> None:
        cfg = config if config is not None else LoopConfig(duration_ms=3_600_000)
        self.hooks = FaultyConsole(fault, fault_at_ms) if fault is not None else LoopHooks()
        self.fault = None if fault is None else Fault(fault)
        self.fault_at_ms = fault_at_ms
        self.loop = ClosedLoop(cfg, self.hooks)
        self._script = script_by_tick(script if script is not None else cfg.default_script())
        self.clock, self.sleep, self.batch_ms = clock, sleep, max(1, batch_ms)
        self.url = port_url
        self.port = port if port is not None else open_port(
            port_url, baudrate=BAUD_RATE, timeout_s=0.0, write_timeout_s=WRITE_TIMEOUT_S)
        self.parser = StreamParser(max_time_step_ms=_UINT32 - 1)
        self.stats = ConsoleStats()
        self._pending: deque[tuple[OperatorCommand, int | None, ScriptEvent | None]] = deque()
        self._seq = 0
        self._out = bytearray()
        self._mask = 0
        self._mode = Mode.STANDBY
        self._phase = ConsolePhase.UNKNOWN
        self._rng = np.random.default_rng(device_serial)
        self._settings_sent_ms = 0
        self._last_drive = False
        self._paced_until: float | None = None  #: where the last real-time run's schedule ended
        self._record(HelloFrame(self._next_seq(), 0, LinkRole.CONSOLE, 1, FIRMWARE, device_serial,
                                CONSOLE_TICK_US))
        self._send_settings(0)

    # --- frames out ------------------------------------------------------------------
    def _next_seq(self) -> int:
        """The sequence number of the next record: +1 per record of any type, wraps at 2^32."""
        seq = self._seq
        self._seq = (seq + 1) % _UINT32
        return seq

    def _record(self, frame: Frame) -> None:
        self._out += encode_frame(frame)
        self.stats.records_sent += 1

    def _settings_frame(self, seq: int, t_ms: int) -> SettingsFrame:
        s = self.loop.controller.settings
        return SettingsFrame(seq, t_ms, *(s[x.name] for x in SETTINGS))

    def _send_settings(self, t_ms: int) -> None:
        frame = self._settings_frame(self._next_seq(), t_ms)
        self._settings_crc = settings_digest(frame)
        self._record(frame)
        self._settings_sent_ms = t_ms

    def _event(self, t_ms: int, kind: EventKind, alarm: Alarm | None = None, detail: int = 0
               ) -> None:
        self._record(EventFrame(self._next_seq(), t_ms, kind, alarm, self._mode, self._mask, detail))

    def _telemetry(self, k: Tick, mask: int) -> None:
        s, mode = self.loop.controller.settings, k.out.mode
        lead = (s["ecg_deflation_lead_ms"] if mode is Mode.ECG_TRIGGER else
                s["pressure_deflation_lead_ms"] if mode is Mode.PRESSURE_TRIGGER else 0)
        self._record(TelemetryFrame(
            self._next_seq(), k.t_ms % _UINT32, mode, s["assist_ratio"],
            _clamp(k.ecg_seen_mv, 1000.0, -32767, 32767),
            _clamp(k.abp_seen_mmhg, 10.0, -500, 4000),
            _clamp(k.sample.balloon_gas_pressure_mmhg, 10.0, -4000, 10000),
            k.drive, k.r_detected, k.notch, self._phase, mask, s["inflation_offset_ms"], lead,
            self._settings_crc))

    def _phase_after(self, k: Tick) -> None:
        beat = k.upstroke if k.out.mode is Mode.PRESSURE_TRIGGER else k.r_detected
        if beat:
            self._phase = ConsolePhase.SYSTOLE
        elif k.notch or (k.drive and not self._last_drive):
            self._phase = ConsolePhase.DIASTOLE

    # --- one tick --------------------------------------------------------------------
    def _tick(self) -> None:
        t = self.loop.t_ms
        ev = self._script.get(t)
        if ev is not None:
            self._pending.append((ev.op, None, ev))
        op, cmd_seq, req = self._pending.popleft() if self._pending else (
            OperatorCommand.NONE, None, None)
        k = self.loop.tick(op, req.settings if req is not None else None)
        self._phase_after(k)
        self._last_drive = k.drive
        if req is not None and req.settings and not k.out.settings_rejected_reasons:
            self._settings_crc = settings_digest(self._settings_frame(0, t))
        mask = self.hooks.reported_alarm_mask(self.loop, t, alarm_mask(k.out))
        self._telemetry(k, mask)
        self._events(t, k, op, cmd_seq, req, mask)
        self.stats.ticks += 1
        self.stats.final_mode = k.out.mode

    def _events(self, t: int, k: Tick, op: OperatorCommand, cmd_seq: int | None,
                req: ScriptEvent | None, mask: int) -> None:
        old_mask, self._mask = self._mask, mask
        old_mode, self._mode = self._mode, k.out.mode
        if cmd_seq is not None:
            self._event(t, EventKind.COMMAND_EXECUTED, detail=cmd_seq)
            self.stats.commands_executed += 1
        elif op is not OperatorCommand.NONE:
            self._event(t, EventKind.OPERATOR_KEY, detail=int(op))
        if op is OperatorCommand.ACKNOWLEDGE:
            for a in Alarm:
                if old_mask >> a & 1:
                    self._event(t, EventKind.ALARM_ACKNOWLEDGED, a)
        if old_mode is not self._mode:
            self._event(t, EventKind.MODE_CHANGED)
        for a in Alarm:
            was, now = old_mask >> a & 1, mask >> a & 1
            if was != now:
                self._event(t, EventKind.ALARM_RAISED if now else EventKind.ALARM_CLEARED, a)
        if req is not None and req.settings:
            rejected = bool(k.out.settings_rejected_reasons)
            self._event(t, EventKind.SETTINGS_REJECTED if rejected else EventKind.SETTINGS_ACCEPTED)
            if not rejected:
                self._send_settings(t)
        if t - self._settings_sent_ms >= SETTINGS_PERIOD_MS and not (
                self.fault is Fault.SETTINGS_SILENT and t >= self.fault_at_ms):
            self._send_settings(t)

    # --- the wire ----------------------------------------------------------------------
    def poll_commands(self) -> None:
        """Read whatever the monitor sent; queue STOP / ALARM_ACKNOWLEDGE for the next tick."""
        try:
            waiting = self.port.in_waiting  # socket:// says only "1: something is there"
            data = self.port.read(max(waiting, _READ_CHUNK)) if waiting else b""
        except (serial.SerialException, OSError) as exc:
            raise port_lost(self.url, "command read", exc) from exc
        if not data:
            return
        for ev in self.parser.feed(data):
            if isinstance(ev, CommandFrame):
                # STOP before any queued operator key: the monitor may always stop the pump
                self._pending.appendleft((_COMMAND_OPS[ev.command], ev.seq, None))
            elif isinstance(ev, IntegrityEvent):
                self.stats.integrity_errors += 1

    def _flush(self) -> None:
        data, self._out = bytes(self._out), bytearray()
        t = self.loop.t_ms
        if self.fault is Fault.SILENCE and t >= self.fault_at_ms:
            return
        if self.fault is Fault.GARBAGE and t >= self.fault_at_ms:
            data = self._rng.integers(0, 256, len(data), dtype=np.uint8).tobytes()
        try:
            n = self.port.write(data)
        except serial.SerialTimeoutException:
            self.stats.bytes_dropped += len(data)
            return
        except (serial.SerialException, OSError) as exc:
            raise port_lost(self.url, "telemetry write", exc) from exc
        sent = len(data) if n is None else int(n)
        self.stats.bytes_sent += sent
        self.stats.bytes_dropped += len(data) - sent

    def run_ticks(self, n: int) -> None:
        """Read commands, simulate ``n`` ticks, send their records in one write."""
        self.poll_commands()
        for _ in range(n):
            self._tick()
        self._flush()

    def run(self, seconds: float, *, realtime: bool = True) -> ConsoleStats:
        """Run ``seconds`` of console time, paced to ``clock`` (realtime) or flat out."""
        total = int(round(seconds * 1000.0))
        start, done = self.clock(), 0
        last_end = self._paced_until
        if realtime and last_end is not None and start - last_end < _RESUME_S:
            start = last_end  # called again soon: one 1 kHz schedule, no loss per call
        while done < total:
            if realtime:
                due = min(total, int((self.clock() - start) * 1000.0 + 1e-6))
                if due > done:
                    self.run_ticks(due - done)
                    done = due
                if done >= total:
                    break  # no sleep after the last tick: back-to-back runs keep 1 kHz
                wake = start + (done + self.batch_ms) / 1000.0
                self.sleep(max(0.0, wake - self.clock()))
            else:
                step = min(self.batch_ms, total - done)
                self.run_ticks(step)
                done += step
        self._paced_until = start + total / 1000.0 if realtime else None
        return self.stats

    def close(self) -> None:
        """Close the port."""
        self.port.close()

    def __enter__(self) -> SimulatedConsole:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
