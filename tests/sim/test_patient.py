"""The simulated patient: notch, valve timing, augmentation figures, timing errors, faults."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iabp.sim.ecg_synth import BeatSchedule, pvc_rhythm
from iabp.sim.patient.figures import (
    FIGURE_KEYS,
    TIMING_ERRORS,
    assistance_figures,
    ideal_inflate_commands,
    timing_error_figures,
)
from iabp.sim.patient.model import Patient, PatientTrace
from iabp.sim.patient.params import PatientParams
from iabp.spec.timing import weissler_pep_ms, weissler_qs2_ms

QUIET = PatientParams(hrv_sd_ms=0.0, ecg_noise=None)


def _run(hr: float, ms: int = 10000, abp_delay_ms: int = 0) -> PatientTrace:
    return Patient(dataclasses.replace(QUIET, hr_bpm=hr, abp_delay_ms=abp_delay_ms)).run(ms)


def _valve_delays(tr: PatientTrace, after_ms: int) -> tuple[list[int], list[int]]:
    r = tr.r_peak_ms[tr.r_peak_ms > after_ms][:-1]
    pep = [int(tr.av_open_ms[tr.av_open_ms > x][0] - x) for x in r]
    qs2 = [int(tr.av_close_ms[tr.av_close_ms > x][0] - x) for x in r]
    return pep, qs2


@pytest.fixture(scope="module")
def timing() -> dict[str, dict[str, float]]:
    return {k: timing_error_figures(k) for k in TIMING_ERRORS}


def test_dicrotic_notch_on_every_unassisted_beat() -> None:
    tr = _run(80.0)
    p = tr.aortic_root_mmhg
    closes = tr.av_close_ms[tr.av_close_ms > 4000]
    assert closes.size >= 6
    for c in closes:
        dip = p[c - 10] - p[c - 10:c + 5].min()
        rebound = p[c + 3] - p[c - 1]
        assert dip > 2.0 and rebound > 2.0, (c, dip, rebound)


@pytest.mark.parametrize("hr", [50.0, 80.0, 110.0, 150.0])
def test_valve_times_match_weissler_band(hr: float) -> None:
    """Regression guard: the unassisted default heart stays inside spec.timing's band."""
    tr = _run(hr)
    pep, qs2 = _valve_delays(tr, 5000)
    rr = 60000.0 / hr
    assert max(abs(x - weissler_pep_ms(rr)) for x in pep) <= 10
    assert max(abs(x - weissler_qs2_ms(rr)) for x in qs2) <= 15


def test_in_ejection_flag_is_the_open_valve() -> None:
    tr = _run(80.0, 4000)
    for o, c in zip(tr.av_open_ms, tr.av_close_ms, strict=False):
        assert tr.in_ejection[o] and tr.in_ejection[c - 1] and not tr.in_ejection[c]


def test_ideal_timing_gives_the_textbook_signs(timing: dict[str, dict[str, float]]) -> None:
    f = timing["ideal"]
    assert all(np.isfinite(f[k]) for k in FIGURE_KEYS)
    assert f["AUG"] > f["SYS"]
    assert f["ADIA"] < f["DIA"]
    assert f["ASYS"] < f["SYS"]
    assert f["SV_ASYS_mL"] > f["SV_SYS_mL"]  # unloaded beat ejects more


def test_early_inflation_cuts_ejection(timing: dict[str, dict[str, float]]) -> None:
    ideal, f = timing["ideal"], timing["early_inflation"]
    assert f["VB_AT_CLOSE_mL"] > 5.0  # balloon already filling while the valve is open
    assert f["SYS"] > ideal["SYS"]  # afterload of the beat hit by inflation up
    assert f["SV_SYS_mL"] < ideal["SV_SYS_mL"] - 2.0  # its stroke volume down
    assert f["NOTCH_DEPTH"] < 1.0 < ideal["NOTCH_DEPTH"]  # augmentation merges, no notch


def test_late_inflation_loses_augmentation(timing: dict[str, dict[str, float]]) -> None:
    ideal, f = timing["ideal"], timing["late_inflation"]
    assert f["AUG"] < ideal["AUG"] - 2.0
    assert f["NOTCH_DEPTH"] > 2.0  # notch visible before the augmentation


def test_early_deflation_gives_little_unloading(timing: dict[str, dict[str, float]]) -> None:
    ideal, f = timing["ideal"], timing["early_deflation"]
    assert f["ADIA"] <= f["DIA"]
    assert f["DIA"] - f["ADIA"] < ideal["DIA"] - ideal["ADIA"]  # ADIA close to DIA
    assert f["SYS"] - f["ASYS"] < ideal["SYS"] - ideal["ASYS"]  # less afterload reduction


def test_late_deflation_raises_afterload(timing: dict[str, dict[str, float]]) -> None:
    ideal, f = timing["ideal"], timing["late_deflation"]
    assert f["ADIA"] >= f["DIA"]
    assert f["VB_AT_OPEN_mL"] > 5.0  # balloon still in the aorta at ejection
    assert f["ASYS"] > ideal["ASYS"]
    assert f["LVP_ASYS"] > ideal["LVP_ASYS"]  # O2 demand up


def _plateaus(tr: PatientTrace) -> tuple[list[float], list[float]]:
    on = np.flatnonzero(np.diff(tr.inflate_cmd.astype(np.int8)) == 1) + 1
    on = on[on + 330 < tr.inflate_cmd.size]
    g, v = tr.balloon_gas_pressure_mmhg, tr.balloon_volume_ml
    return [float(np.median(g[o + 120:o + 250])) for o in on], [float(v[o:o + 330].max()) for o in on]


def _pump(fault: str) -> tuple[PatientTrace, PatientTrace]:
    pat = Patient(QUIET)
    cmd = ideal_inflate_commands(pat.upcoming_r_peaks_ms(14000), 0, 12000, QUIET, ratio=1)
    before = pat.run(4000, cmd[:4000])
    if fault == "leak":
        pat.inject_gas_leak(3.0)
    elif fault == "kink":
        pat.inject_kink(0.8)
    return before, pat.run(8000, cmd[4000:])


def test_gas_pressure_baseline_and_plateau() -> None:
    before, after = _pump("none")
    plat, vol = _plateaus(after)
    base = np.median(after.balloon_gas_pressure_mmhg[after.balloon_volume_ml == 0.0])
    assert 10.0 <= base <= 15.0
    assert all(80.0 < x < 160.0 for x in plat)
    assert min(vol) > 39.0


def test_gas_leak_lowers_plateau_and_volume() -> None:
    before, after = _pump("leak")
    p0, _ = _plateaus(before)
    p1, v1 = _plateaus(after)
    assert p1[-1] < p0[-1] - 30.0 and v1[-1] < 30.0
    assert all(b < a + 1.0 for a, b in zip(p1, p1[1:], strict=False))  # falling plateau


def test_kink_raises_plateau_and_limits_inflation() -> None:
    before, after = _pump("kink")
    p0, _ = _plateaus(before)
    p1, v1 = _plateaus(after)
    assert min(p1[1:]) > max(p0) + 10.0
    assert max(v1[1:]) < 39.0


def test_blood_detected_flag() -> None:
    pat = Patient(QUIET)
    assert not pat.step(False).blood_detected
    pat.inject_blood()
    assert pat.step(False).blood_detected
    pat.clear_faults()
    assert not pat.step(False).blood_detected


def test_asystole_is_flat() -> None:
    tr = Patient(dataclasses.replace(QUIET, hr_bpm=0.0)).run(12000)
    tail = tr.aortic_root_mmhg[-2000:]
    assert tr.r_peak_ms.size == 0 and not tr.in_ejection.any()
    assert tail.max() - tail.min() < 0.5 and tail.mean() < 20.0


def test_finite_schedule_then_asystole_and_r_flags() -> None:
    beats = BeatSchedule.from_times([300, 1100, 1900, 2700])
    pat = Patient(QUIET, beats=beats)
    flags = [s.t_ms for s in (pat.step(False) for _ in range(6000)) if s.r_peak]
    assert flags == [300, 1100, 1900, 2700]
    assert pat.step(False).beat_index == 4


def test_pvc_beat_is_weaker() -> None:
    beats = pvc_rhythm(75.0, 12000, every=3, hrv_sd_ms=0.0)
    tr = Patient(QUIET, beats=beats).run(12000)
    sv: dict[int, list[float]] = {}
    for r, k in zip(beats.r_ms.tolist(), beats.kinds.tolist(), strict=True):
        if 3000 < r < 11000:
            v = tr.lv_volume_ml[r - 20:r + 350]
            sv.setdefault(k, []).append(float(v.max() - v.min()))
    assert np.mean(sv[1]) < np.mean(sv[0]) - 5.0


def test_step_and_run_agree() -> None:
    cmd = ideal_inflate_commands(Patient(QUIET).upcoming_r_peaks_ms(4000), 0, 3000, QUIET)
    tr = Patient(QUIET).run(3000, cmd)
    pat = Patient(QUIET)
    s = [pat.step(bool(c)) for c in cmd]
    assert np.array_equal(tr.abp_mmhg, [x.abp_mmhg for x in s])
    assert np.array_equal(tr.balloon_volume_ml, [x.balloon_volume_ml for x in s])


def test_balloon_follows_command_with_gas_times_and_lag() -> None:
    prm = dataclasses.replace(QUIET, hr_bpm=0.0, gas_lag_ms=40, inflate_ms=80, deflate_ms=60)
    cmd = np.zeros(600, dtype=bool)
    cmd[100:300] = True
    v = Patient(prm).run(600, cmd).balloon_volume_ml
    assert v[139] == 0.0 and v[140] > 0.0  # helium arrives 40 ms after the command
    assert v[218] < 40.0 and v[219] == pytest.approx(40.0)  # full after 80 ms
    assert v[339] > 39.0 and v[399] == 0.0 and v[398] > 0.0  # empty after 60 ms


def test_abp_delay() -> None:
    tr = _run(80.0, 3000, abp_delay_ms=70)
    assert np.allclose(tr.abp_mmhg[1070:], tr.aortic_root_mmhg[1000:-70])


def test_patient_ecg_has_r_peaks_at_the_beats() -> None:
    tr = Patient(dataclasses.replace(QUIET, ecg_noise=PatientParams().ecg_noise)).run(5000)
    for r in tr.r_peak_ms[:-1]:
        assert abs(int(np.argmax(tr.ecg_mv[r - 60:r + 60])) - 60) <= 3


def test_figures_need_unassisted_beats() -> None:
    tr = _run(80.0, 8000)
    f = assistance_figures(tr)
    assert np.isfinite(f["SYS"]) and "AUG" not in f


@settings(max_examples=15, deadline=None)
@given(st.lists(st.booleans(), min_size=20, max_size=20), st.floats(40.0, 170.0),
       st.sampled_from([34.0, 40.0, 50.0]))
def test_random_pumping_stays_physical(pattern: list[bool], hr: float, vol: float) -> None:
    prm = dataclasses.replace(QUIET, hr_bpm=hr, balloon_volume_ml=vol)
    cmd = np.repeat(np.array(pattern, dtype=bool), 150)
    tr = Patient(prm, seed=1).run(cmd.size, cmd)
    assert np.isfinite(tr.aortic_root_mmhg).all()
    assert tr.aortic_root_mmhg.min() > 0.0 and tr.aortic_root_mmhg.max() < 250.0
    assert tr.balloon_volume_ml.min() >= 0.0 and tr.balloon_volume_ml.max() <= vol + 1e-9
    assert tr.lv_volume_ml.min() > 0.0


def test_bad_params_rejected() -> None:
    with pytest.raises(ValueError):
        PatientParams(hr_bpm=250.0)
    with pytest.raises(ValueError):
        PatientParams(gas_profile="square")
    with pytest.raises(ValueError):
        Patient(QUIET).run(10, [True] * 5)
