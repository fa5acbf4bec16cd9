"""Reading assistance off the simulated arterial trace: SYS, DIA, AUG, ADIA, ASYS.

The figures are the ones on the IABP timing card (see ``/work/shared/domain/iabp.md``):

* SYS: unassisted systolic peak (a beat that follows an unassisted diastole),
* DIA: unassisted end-diastolic pressure,
* AUG: augmented diastolic peak (balloon inflated),
* ADIA: assisted end-diastolic pressure (the dip after deflation, before ejection),
* ASYS: assisted systolic peak (the beat right after an augmented diastole).

They need a run with both assisted and unassisted beats, e.g. 1:2 pumping. The pump
commands here come from an *oracle*: the patient's true R waves and Weissler's valve
times, not a detector. That makes "ideal timing" and the four classic timing errors
reproducible, for tests and for the demo (``python -m iabp.sim.patient.figures``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from iabp.sim.patient.model import BoolArray, Patient, PatientTrace
from iabp.sim.patient.params import PatientParams
from iabp.spec.timing import weissler_pep_ms, weissler_qs2_ms

#: Oracle timing shifts (inflate_shift_ms, deflate_shift_ms) of each classic error.
TIMING_ERRORS: dict[str, tuple[int, int]] = {
    "ideal": (0, 0),
    "early_inflation": (-110, 0),  # inflating during late ejection
    "late_inflation": (120, 0),  # well after the notch
    "early_deflation": (0, -170),  # mid diastole
    "late_deflation": (0, 90),  # balloon still deflating while the valve opens
}
DEFLATE_MARGIN_MS = 10  #: ideal timing: deflation complete this long before valve opening
FIGURE_KEYS = ("SYS", "DIA", "AUG", "ADIA", "ASYS")


def ideal_inflate_commands(
    r_peaks_ms: Sequence[int], t0_ms: int, n_ms: int, params: PatientParams, *,
    ratio: int = 1, inflate_shift_ms: int = 0, deflate_shift_ms: int = 0,
) -> BoolArray:
    """Oracle inflate command, one bool per ms of ``[t0_ms, t0_ms + n_ms)``.

    For every ``ratio``-th beat k: the helium arrives at the aortic valve closure
    (R_k + QS2) and the balloon is empty ``DEFLATE_MARGIN_MS`` before the next valve
    opening (R_k+1 + PEP); the command leads both by ``params.gas_lag_ms``. The shifts
    move inflation / deflation (ms, + = later) to make the classic timing errors.
    """
    cmd = np.zeros(n_ms, dtype=bool)
    r = [int(x) for x in r_peaks_ms]
    for k in range(len(r) - 1):
        if k % ratio:
            continue
        rr_k = r[k] - r[k - 1] if k > 0 else r[k + 1] - r[k]
        rr_next = r[k + 1] - r[k]
        on = r[k] + round(weissler_qs2_ms(rr_k)) - params.gas_lag_ms + inflate_shift_ms
        off = (r[k + 1] + round(weissler_pep_ms(rr_next)) - round(params.deflate_ms)
               - DEFLATE_MARGIN_MS - params.gas_lag_ms + deflate_shift_ms)
        lo, hi = max(on - t0_ms, 0), min(off - t0_ms, n_ms)
        if lo < hi:
            cmd[lo:hi] = True
    return cmd


def _first_after(events: np.ndarray, t: int, before: int) -> int | None:
    i = int(np.searchsorted(events, t))
    return int(events[i]) if i < events.size and events[i] < before else None


def _beats(trace: PatientTrace) -> list[tuple[int, int, int, int]]:
    """(R, valve open, valve close, next R) in sample indices, for every complete beat."""
    r = trace.r_peak_ms - trace.t0_ms
    op, cl = trace.av_open_ms - trace.t0_ms, trace.av_close_ms - trace.t0_ms
    out = []
    for a, b in zip(r[:-1].tolist(), r[1:].tolist(), strict=True):
        o = _first_after(op, a, b)
        c = _first_after(cl, o, b + 200) if o is not None else None
        if o is not None and c is not None:
            out.append((a, o, c, b))
    return out


def _mean(xs: list[float]) -> float:
    return float(np.mean(xs)) if xs else float("nan")


def assistance_figures(trace: PatientTrace, *, skip_ms: int = 5000) -> dict[str, float]:
    """SYS, DIA, AUG, ADIA, ASYS (mmHg, means over beats) from the aortic root pressure of a
    run with assisted and unassisted diastoles, ignoring the first ``skip_ms`` (settling).

    Extras: ``SV_SYS_mL`` / ``SV_ASYS_mL`` (stroke volume of the unassisted / assisted
    systole), ``LVP_SYS`` / ``LVP_ASYS`` (peak LV pressure, afterload), ``NOTCH_DEPTH``
    (dip at valve closure of augmented beats, mmHg), ``VB_AT_CLOSE_mL`` (balloon volume
    while the valve is still open: inflation in ejection) and ``VB_AT_OPEN_mL`` (balloon
    volume when the next valve opens: not deflated before ejection).
    """
    p, vb, vlv, plv = (trace.aortic_root_mmhg, trace.balloon_volume_ml, trace.lv_volume_ml,
                       trace.lv_pressure_mmhg)
    full = float(vb.max()) if vb.size else 0.0
    beats = [b for b in _beats(trace) if b[0] >= skip_ms]
    acc: dict[str, list[float]] = {}
    assisted = [full > 0.0 and float(vb[c:b].max()) > 0.5 * full for _, _, c, b in beats]
    for i in range(1, len(beats)):
        a, o, c, b = beats[i]
        prev_aug = assisted[i - 1]
        sys_key = "ASYS" if prev_aug else "SYS"
        acc.setdefault(sys_key, []).append(float(p[o:c + 1].max()))
        acc.setdefault("LVP_" + sys_key, []).append(float(plv[o:c + 1].max()))
        acc.setdefault(f"SV_{sys_key}_mL", []).append(float(vlv[a:o + 1].max() - vlv[o:c + 20].min()))
        nxt = beats[i + 1][1] if i + 1 < len(beats) else None
        if nxt is None:
            continue
        if assisted[i]:
            window = np.nonzero(vb[a:nxt] > 0.5 * full)[0]
            peak = a + int(window[np.argmax(p[a + window])]) if window.size else c
            acc.setdefault("AUG", []).append(float(p[peak]))
            acc.setdefault("ADIA", []).append(float(p[peak:nxt + 1].min()))
            acc.setdefault("NOTCH_DEPTH", []).append(float(p[c - 10] - p[c - 10:c + 15].min()))
            acc.setdefault("VB_AT_CLOSE_mL", []).append(float(vb[c]))
            acc.setdefault("VB_AT_OPEN_mL", []).append(float(vb[nxt]))
        else:
            acc.setdefault("DIA", []).append(float(p[c:nxt + 1].min()))
    return {k: _mean(v) for k, v in sorted(acc.items())}


def run_pumping(
    *, hr_bpm: float = 80.0, ratio: int = 2, duration_ms: int = 20000,
    inflate_shift_ms: int = 0, deflate_shift_ms: int = 0,
    params: PatientParams | None = None, seed: int = 0,
) -> PatientTrace:
    """Simulate ``duration_ms`` of oracle-timed pumping at ``1:ratio`` (sinus ``hr_bpm``)."""
    base = params if params is not None else PatientParams()
    prm = PatientParams(**{**base.__dict__, "hr_bpm": hr_bpm, "ecg_noise": None})
    pat = Patient(prm, seed=seed)
    r = pat.upcoming_r_peaks_ms(duration_ms + 3000)
    cmd = ideal_inflate_commands(r, 0, duration_ms, prm, ratio=ratio,
                                 inflate_shift_ms=inflate_shift_ms,
                                 deflate_shift_ms=deflate_shift_ms)
    return pat.run(duration_ms, cmd)


def timing_error_figures(kind: str, *, hr_bpm: float = 80.0, ratio: int = 2,
                         params: PatientParams | None = None) -> dict[str, float]:
    """Assistance figures for one timing: ``"ideal"``, ``"early_inflation"``,
    ``"late_inflation"``, ``"early_deflation"`` or ``"late_deflation"`` (see ``TIMING_ERRORS``)."""
    if kind not in TIMING_ERRORS:
        raise ValueError(f"unknown timing kind {kind!r}; expected one of {sorted(TIMING_ERRORS)}")
    di, dd = TIMING_ERRORS[kind]
    trace = run_pumping(hr_bpm=hr_bpm, ratio=ratio, inflate_shift_ms=di, deflate_shift_ms=dd,
                        params=params)
    return assistance_figures(trace)


def format_figures(name: str, fig: dict[str, float]) -> str:
    """One line: the five timing-card figures (mmHg) and the stroke volumes (mL)."""
    main = " ".join(f"{k} {fig.get(k, float('nan')):6.1f}" for k in FIGURE_KEYS)
    return (f"{name:16s} {main}  SV {fig.get('SV_SYS_mL', float('nan')):5.1f}"
            f"/{fig.get('SV_ASYS_mL', float('nan')):5.1f} mL  notch {fig.get('NOTCH_DEPTH', 0):4.1f}")


def demo(hr_bpm: float = 80.0) -> dict[str, dict[str, float]]:
    """Run 1:2 pumping at ``hr_bpm`` with ideal timing and each classic error; print the figures."""
    out = {}
    print(f"1:2 pumping at {hr_bpm:g} bpm, 40 mL balloon, aortic root pressure (mmHg)")
    for kind in TIMING_ERRORS:
        out[kind] = timing_error_figures(kind, hr_bpm=hr_bpm)
        print(format_figures(kind, out[kind]))
    return out


if __name__ == "__main__":
    demo()
