"""Injected faults: the characteristic waveform, and the controller's answer as the spec says."""

from __future__ import annotations

import numpy as np
import pytest

from iabp.sim.closed_loop import (
    ClosedLoopTrace,
    LoopConfig,
    ScriptEvent,
    SimulationError,
    run_closed_loop,
)
from iabp.sim.faults import (
    ASYSTOLE_MS,
    FAULTS,
    TIMING_SHIFT_MS,
    ContraindicationFault,
    figures_markdown,
    run_fault,
    timing_error_table,
)
from iabp.spec.assumptions import ACTIVITY_DELAY_MAX_MS
from iabp.spec.modes import Alarm, Mode, OperatorCommand
from iabp.spec.settings import DEFAULT_SETTINGS

FAULT_AT = 5000
TIMEOUT = DEFAULT_SETTINGS["trigger_loss_timeout_ms"]


@pytest.fixture(scope="module")
def table() -> dict[str, dict[str, float]]:
    return timing_error_table(hr_bpm=80.0, ratio=2, duration_ms=14_000)


@pytest.fixture(scope="module")
def faults() -> dict[str, ClosedLoopTrace]:
    cfg = LoopConfig(ratio=1, duration_ms=9000)
    out = {name: run_fault(name, cfg, at_ms=FAULT_AT)
           for name in ("trigger-loss", "gas-leak", "kink", "blood")}
    out["asystole"] = run_fault("asystole", LoopConfig(ratio=1, duration_ms=17_000), at_ms=FAULT_AT)
    return out


def test_normal_pumping_is_good_assistance(table: dict[str, dict[str, float]]) -> None:
    n = table["normal"]
    assert n["AUG"] > n["SYS"] and n["ADIA"] < n["DIA"] and n["ASYS"] < n["SYS"]
    assert n["VB_AT_CLOSE_mL"] == 0.0 and n["VB_AT_OPEN_mL"] == 0.0


def test_early_inflation_inflates_in_ejection_and_hides_the_notch(
        table: dict[str, dict[str, float]]) -> None:
    f, n = table["early-inflation"], table["normal"]
    assert f["VB_AT_CLOSE_mL"] > 5.0  # balloon filling while the valve is still open
    assert f["NOTCH_DEPTH"] < 0.5 * n["NOTCH_DEPTH"]  # augmentation merges into systole
    assert f["SV_SYS_mL"] < n["SV_SYS_mL"]  # the beat it hits ejects less


def test_late_inflation_loses_augmentation(table: dict[str, dict[str, float]]) -> None:
    f, n = table["late-inflation"], table["normal"]
    assert f["AUG"] < n["AUG"] - 3.0
    assert f["NOTCH_DEPTH"] > 0.5 * n["NOTCH_DEPTH"]  # notch visible before augmentation


def test_early_deflation_loses_afterload_reduction(table: dict[str, dict[str, float]]) -> None:
    f, n = table["early-deflation"], table["normal"]
    assert f["ADIA"] <= f["DIA"]
    assert f["ADIA"] > n["ADIA"] + 4.0  # pressure recovered before systole


def test_late_deflation_leaves_the_balloon_up_at_ejection(
        table: dict[str, dict[str, float]]) -> None:
    f = table["late-deflation"]
    assert f["ADIA"] >= f["DIA"]
    assert f["VB_AT_OPEN_mL"] > 10.0


def test_timing_errors_are_forced_past_the_controller() -> None:
    for name in TIMING_SHIFT_MS:
        tr = run_fault(name, LoopConfig(ratio=2, duration_ms=6000))
        assert not tr.alarm_mask.any() and tr.mode[-1] == Mode.ECG_TRIGGER
        assert not np.array_equal(tr.inflate_cmd, tr.drive_cmd), name


def test_trigger_loss_stops_inflation_and_alarms_after_the_timeout(
        faults: dict[str, ClosedLoopTrace]) -> None:
    tr = faults["trigger-loss"]
    assert np.isnan(tr.ecg_mv[FAULT_AT:]).all()  # lead off
    last_r = int(np.flatnonzero(tr.r_detected[:FAULT_AT])[-1])
    assert not tr.r_detected[FAULT_AT:].any()
    assert not [a for a, _ in tr.inflations(drive=False) if a > last_r + 1000]
    alarm = tr.alarm(Alarm.TRIGGER_LOSS)
    first = int(np.flatnonzero(alarm)[0])
    assert abs(first - (last_r + TIMEOUT)) <= 1
    assert alarm[first:].all() and not tr.inflate_cmd[first:].any()
    assert tr.mode[-1] == Mode.ECG_TRIGGER  # still in ECG mode, waiting for the trigger


@pytest.mark.parametrize(("name", "alarm", "sensor"), [
    ("gas-leak", Alarm.GAS_LOSS, "gas_loss"),
    ("kink", Alarm.CATHETER_KINK, "catheter_kink"),
    ("blood", Alarm.BLOOD_DETECTED, "blood_detected"),
])
def test_balloon_faults_halt_within_one_tick_of_the_fault_input(
        faults: dict[str, ClosedLoopTrace], name: str, alarm: Alarm, sensor: str) -> None:
    tr = faults[name]
    fault = tr.fault_input(sensor)
    t = int(np.flatnonzero(fault)[0])
    assert t >= FAULT_AT
    assert tr.mode[t] == Mode.HALTED and not tr.inflate_cmd[t] and tr.alarm(alarm)[t]
    assert (tr.mode[t:] == Mode.HALTED).all() and not tr.drive_cmd[t:].any()


def _plateaus(tr: ClosedLoopTrace) -> list[tuple[int, float]]:
    return [(a, float(tr.gas_pressure_mmhg[b - 20:b].mean()))
            for a, b in tr.inflations() if b - a >= 150]


def test_gas_leak_lowers_and_kink_raises_the_gas_plateau(
        faults: dict[str, ClosedLoopTrace]) -> None:
    leak, kink = _plateaus(faults["gas-leak"]), _plateaus(faults["kink"])
    before = [p for a, p in leak if a < FAULT_AT]
    assert min(p for a, p in leak if a >= FAULT_AT) < 0.9 * min(before)
    assert max(p for a, p in kink if a >= FAULT_AT) > max(before) + 15.0


def test_contraindication_stops_pumping_and_blocks_restart() -> None:
    script = [ScriptEvent(1000, OperatorCommand.START_ECG),
              ScriptEvent(6000, OperatorCommand.ACKNOWLEDGE),
              ScriptEvent(6100, OperatorCommand.START_ECG)]
    tr = run_closed_loop(LoopConfig(ratio=1, duration_ms=7000), script,
                         ContraindicationFault(FAULT_AT))
    t = int(np.flatnonzero(tr.fault_input("contra_absolute"))[0])
    assert t == FAULT_AT and tr.inflations()[0][0] < FAULT_AT
    assert tr.mode[t] == Mode.STANDBY and not tr.inflate_cmd[t:].any()
    assert tr.alarm(Alarm.CONTRA_ABSOLUTE)[t:].all()
    assert (tr.mode[t:] == Mode.STANDBY).all()  # START refused while it is recorded


def test_asystole_internal_mode_and_return_of_the_heart(
        faults: dict[str, ClosedLoopTrace]) -> None:
    tr = faults["asystole"]
    resume = FAULT_AT + ASYSTOLE_MS
    internal = np.flatnonzero(tr.mode == Mode.INTERNAL)
    assert internal.size and internal[0] > FAULT_AT + 2000  # asystole confirmed first
    assert any(internal[0] <= a < resume for a, _ in tr.inflations())
    left = int(internal[-1]) + 1
    assert resume - 400 <= left <= resume + ACTIVITY_DELAY_MAX_MS  # P or R wave of the return
    assert tr.mode[left] == Mode.STANDBY and tr.alarm(Alarm.ASYNC_ACTIVITY)[left]
    assert not tr.inflate_cmd[left:].any()
    assert tr.alarm(Alarm.TRIGGER_LOSS)[FAULT_AT + TIMEOUT]  # ECG mode noticed the silence


def test_fault_notes_and_unknown_fault() -> None:
    assert set(FAULTS) >= {"early-inflation", "late-inflation", "early-deflation",
                           "late-deflation", "trigger-loss", "gas-leak", "kink", "blood",
                           "contraindication", "asystole"}
    with pytest.raises(SimulationError):
        run_fault("hiccup", LoopConfig(duration_ms=10))
    assert OperatorCommand.START_INTERNAL.name in " ".join(
        t for _, t in run_fault("asystole", LoopConfig(duration_ms=10), at_ms=0).notes)


def test_figures_markdown(table: dict[str, dict[str, float]]) -> None:
    md = figures_markdown({"normal": table["normal"], "1:1": {"AUG": 119.0}}, caption="c")
    lines = md.splitlines()
    assert lines[0] == "c" and lines[2].startswith("| run | AUG (mmHg) | SYS (mmHg)")
    assert lines[-1] == "| 1:1 | 119.0 | - | - | - | - |"
