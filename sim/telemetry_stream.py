"""A recording's replay as the console's serial telemetry: protocol-v1 bytes for the monitor.

:func:`iabp.sim.closed_loop.replay_record` drives the detectors and the verified controller
with a real PhysioNet recording, but a recording cannot show the balloon. To let the
runtime monitor judge such a run, :func:`console_telemetry_bytes` encodes it as the
console would send it (PROTOCOL.md): a SETTINGS record every second of console time and
one TELEMETRY record per 1 ms tick, carrying the recorded ECG and arterial pressure, the
console mode, the drive command, the alarm mask and a helium line pressure made up from
the drive command (:func:`gas_trace_x10`). :func:`trace_telemetry_bytes` does the same for
a :class:`iabp.sim.closed_loop.ClosedLoopTrace`.

The stream is what the monitor end-to-end tests (``tests/monitor/test_monitor_e2e.py``)
and the record benchmark (``benchmarks/bench_monitor_records.py``) feed the monitor.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import numpy as np
import numpy.typing as npt

from iabp.monitor.protocol import (
    NOT_AVAILABLE,
    SETTINGS_PERIOD_MS,
    ConsolePhase,
    SettingsFrame,
    TelemetryFrame,
    encode_frame,
    settings_digest,
)
from iabp.sim.closed_loop import ClosedLoopTrace
from iabp.spec.modes import Mode
from iabp.spec.settings import DEFAULT_SETTINGS, SETTINGS

#: Helium line pressure at rest (balloon deflated, line at its baseline), mmHg x 10.
GAS_BASELINE_X10: Final = 120
#: Helium line pressure while the balloon holds its plateau (inflated), mmHg x 10.
GAS_PLATEAU_X10: Final = 1000
#: Line pressure during the vacuum undershoot that empties the balloon, mmHg x 10.
GAS_UNDERSHOOT_X10: Final = -300
GAS_RISE_MS: Final = 3  #: the plateau is reached this long after the inflate command
GAS_UNDERSHOOT_MS: Final = 30  #: the undershoot lasts this long after the deflate command


def gas_trace_x10(drive: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Helium line pressure (mmHg x 10) for a drive command track (True: inflate, 1 per ms).

    The plateau ``GAS_RISE_MS`` after each inflate command, a ``GAS_UNDERSHOOT_MS``
    undershoot after each deflate command, the baseline otherwise: within the spec's gas
    times (ASM-GAS), so the monitor's balloon reconstruction sees a balloon that follows
    the drive as a healthy pneumatic system does.
    """
    d = np.asarray(drive).astype(bool)
    idx = np.arange(d.size)
    change = np.flatnonzero(np.diff(d.astype(np.int8))) + 1
    since = idx - np.maximum.accumulate(np.where(np.isin(idx, change), idx, 0))
    gas = np.full(d.size, GAS_BASELINE_X10, dtype=np.int64)
    gas[d & (since >= GAS_RISE_MS)] = GAS_PLATEAU_X10
    was_on = np.zeros(d.size, dtype=bool)
    was_on[change[~d[change]]] = True
    off_after_on = np.maximum.accumulate(np.where(was_on, idx, -10**6))
    gas[~d & (idx - off_after_on < GAS_UNDERSHOOT_MS)] = GAS_UNDERSHOOT_X10
    return gas


def settings_record(seq: int = 0, t_ms: int = 0,
                    settings: Mapping[str, int] | None = None) -> SettingsFrame:
    """The SETTINGS record of a console running ``settings`` (default: the power-on defaults,
    as the replayed controller runs at 1:1), sequence number ``seq`` at console ``t_ms``."""
    values = {**DEFAULT_SETTINGS, **(settings or {})}
    return SettingsFrame(seq, t_ms, *(values[s.name] for s in SETTINGS))


def console_telemetry_bytes(ecg_mv: npt.ArrayLike, abp_mmhg: npt.ArrayLike | None,
                            gap: npt.ArrayLike, mode: npt.ArrayLike, drive: npt.ArrayLike,
                            alarm_mask: npt.ArrayLike,
                            settings: Mapping[str, int] | None = None) -> bytes:
    """Protocol-v1 bytes of a console sending one TELEMETRY record per ms of the inputs.

    Per ms ``t``: ``ecg_mv[t]`` (mV; NOT_AVAILABLE where ``gap[t]`` is set, the lead was
    off or the sample is not finite), ``abp_mmhg[t]`` (mmHg; None: the console has no
    arterial line, every sample NOT_AVAILABLE), the console mode ``mode[t]``
    (``iabp.spec.modes.Mode`` value), the drive command ``drive[t]`` (True: inflate) and
    the console's alarm bits ``alarm_mask[t]``; the helium line pressure follows the drive
    (:func:`gas_trace_x10`). A SETTINGS record (``settings`` over the defaults) precedes
    the first tick and every ``SETTINGS_PERIOD_MS`` after; records are numbered from 0
    and console time starts at 0 ms. Each TELEMETRY record carries the deflation lead of
    its trigger mode, as the simulated console's (:mod:`iabp.sim.console`). The console
    phase is not reported (UNKNOWN) and no R-wave or notch flag is sent: the monitor
    finds beats on its own.
    """
    s = settings_record(settings=settings)
    crc = settings_digest(s)
    ecg_in = np.asarray(ecg_mv, dtype=np.float64)
    ecg = np.where(np.asarray(gap, dtype=bool) | ~np.isfinite(ecg_in), NOT_AVAILABLE,
                   np.clip(np.round(np.nan_to_num(ecg_in) * 1000), -32767, 32767)).astype(int)
    if abp_mmhg is None:
        art = np.full(ecg.size, NOT_AVAILABLE, dtype=int)
    else:
        abp = np.asarray(abp_mmhg, dtype=np.float64)
        art = np.where(np.isfinite(abp), np.clip(np.round(np.nan_to_num(abp) * 10), -500, 4000),
                       NOT_AVAILABLE).astype(int)
    gas = gas_trace_x10(drive).tolist()
    modes = np.asarray(mode).astype(int).tolist()
    inflate = np.asarray(drive).astype(bool).tolist()
    masks = np.asarray(alarm_mask).astype(int).tolist()
    ecg_l, art_l = ecg.tolist(), art.tolist()
    ratio, offset = s.assist_ratio, s.inflation_offset_ms
    out, seq = bytearray(), 0
    for t in range(len(ecg_l)):
        if t % SETTINGS_PERIOD_MS == 0:
            out += encode_frame(settings_record(seq, t, settings))
            seq += 1
        m = Mode(modes[t])
        lead = (s.ecg_deflation_lead_ms if m is Mode.ECG_TRIGGER else
                s.pressure_deflation_lead_ms if m is Mode.PRESSURE_TRIGGER else 0)
        out += encode_frame(TelemetryFrame(
            seq, t, m, ratio, ecg_l[t], art_l[t], gas[t], inflate[t], False, False,
            ConsolePhase.UNKNOWN, masks[t], offset, lead, crc))
        seq += 1
    return bytes(out)


def trace_telemetry_bytes(trace: ClosedLoopTrace,
                          settings: Mapping[str, int] | None = None) -> bytes:
    """:func:`console_telemetry_bytes` of a closed-loop run or a record replay: the ECG the
    console received (lead off where it is NaN), its arterial pressure (none if it is all
    NaN: a record without an arterial line), the mode, drive command and alarm mask."""
    abp = None if np.isnan(trace.abp_mmhg).all() else trace.abp_mmhg
    return console_telemetry_bytes(trace.ecg_mv, abp, ~np.isfinite(trace.ecg_mv), trace.mode,
                                   trace.drive_cmd, trace.alarm_mask, settings)
