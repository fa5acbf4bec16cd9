"""A simulated IABP patient, stepped once per 1 ms controller tick.

Model (all lumped, forward/semi-implicit Euler at dt = 1 ms):

* **Left ventricle**: time-varying elastance ``P_lv = E(t) (V_lv - V0)``; ``E(t)`` is a
  double-Hill activation started at each R wave, with onset and duration set from the
  R-R interval ending at that beat so that the aortic valve opens about Weissler's PEP
  and shuts about Weissler's QS2 after the R wave (see :mod:`iabp.sim.patient.params`).
* **Mitral valve**: ideal diode with resistance, from a constant left atrial pressure.
* **Aortic valve**: diode with resistance and the inertance of the outflow blood. Flow
  decelerates at the end of ejection, reverses briefly, and the valve shuts once
  ``aortic_backflow_ml`` has flowed back: the sudden stop of that backflow through the
  characteristic impedance is the **dicrotic notch** on the aortic pressure.
* **Arteries**: a 4-element Windkessel (characteristic impedance Zc in parallel with
  the arterial inertance L) feeding a two-compartment aorta (where the balloon sits)
  and periphery, draining through the systemic resistance.
* **Balloon**: its helium volume moves towards "full" while the (optionally lagged)
  inflate command is on and towards "empty" while it is off, taking ``inflate_ms`` /
  ``deflate_ms`` for a full stroke; the volume is displaced directly into the aortic
  compartment. Gas loss, a kinked catheter and blood in the line can be injected.
* **Balloon gas pressure** (console transducer, semi-empirical): baseline when empty,
  close to aortic pressure plus membrane tension when full, plus the pressure drop of the
  gas flowing through the line (overshoot on inflation, undershoot on deflation). It
  scales with the helium left in the system, so a leak lowers the plateau; a kink slows
  the flow and keeps the line-drop term up for the whole inflation: a high plateau.

The heart rhythm belongs to the patient: a :class:`~controller.ecg_synth.BeatSchedule`
(the same one can render a stand-alone ECG), or an endless sinus rhythm at
``params.hr_bpm``, or asystole. The patient also renders its own ECG lead (1 kHz).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from iabp.sim.ecg_synth import BeatKind, BeatSchedule, sinus_stream, synth_ecg
from iabp.sim.patient.params import Faults, PatientParams, elastance_table
from iabp.spec.assumptions import TICK_MS

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

_DT = TICK_MS / 1000.0  # s: one simulation step, one controller tick
_ECG_BLOCK_MS = 1000
_LOOKAHEAD_MS = 3000


class PatientSample(NamedTuple):
    """What the patient shows at one 1 ms tick (``t_ms`` from the start of the simulation)."""

    t_ms: int
    ecg_mv: float  #: surface ECG lead (0.0 if the patient renders no ECG)
    abp_mmhg: float  #: arterial pressure as measured (aortic root delayed by ``abp_delay_ms``)
    aortic_root_mmhg: float  #: true aortic root pressure, no delay
    lv_pressure_mmhg: float
    lv_volume_ml: float
    aortic_flow_ml_s: float  #: flow through the aortic valve (negative = backflow)
    balloon_volume_ml: float  #: helium volume in the balloon
    balloon_gas_pressure_mmhg: float  #: helium line pressure at the console transducer
    r_peak: bool  #: a true R wave is at this tick
    in_ejection: bool  #: aortic valve open (the heart is ejecting)
    beat_index: int  #: number of R waves so far (0 before the first one)
    blood_detected: bool  #: blood-in-gas-line sensor


@dataclass(frozen=True)
class PatientTrace:
    """A block of simulated ticks as arrays (1 kHz, sample ``i`` at ``t0_ms + i``), plus the
    true beat and valve events (ms). Channels have the meaning of :class:`PatientSample`."""

    t0_ms: int
    ecg_mv: FloatArray
    abp_mmhg: FloatArray
    aortic_root_mmhg: FloatArray
    lv_pressure_mmhg: FloatArray
    lv_volume_ml: FloatArray
    balloon_volume_ml: FloatArray
    balloon_gas_pressure_mmhg: FloatArray
    in_ejection: BoolArray
    inflate_cmd: BoolArray
    r_peak_ms: IntArray  #: true R-wave times
    av_open_ms: IntArray  #: aortic valve opening times (start of ejection)
    av_close_ms: IntArray  #: aortic valve closure times (the dicrotic notch)

    @property
    def t_ms(self) -> IntArray:
        """Time of each sample (ms)."""
        return np.arange(self.abp_mmhg.size, dtype=np.int64) + self.t0_ms

    @property
    def fs_hz(self) -> float:
        """Sampling rate of every channel (Hz)."""
        return 1000.0


def _sinus_beats(params: PatientParams, seed: int) -> Iterator[tuple[int, BeatKind]]:
    if params.hr_bpm == 0.0:
        return iter(())
    return sinus_stream(params.hr_bpm, hrv_sd_ms=params.hrv_sd_ms, seed=seed)


class Patient:
    """The simulated patient. Call :meth:`step` once per 1 ms tick with the balloon command,
    or :meth:`run` for a block of ticks with a precomputed command track (faster).

    ``beats``: the true heart rhythm (R-peak times in ms from t = 0). ``None`` = endless
    sinus rhythm at ``params.hr_bpm`` (asystole if 0). After the last beat of a finite
    schedule the heart is in asystole.
    """

    def __init__(self, params: PatientParams | None = None, seed: int = 0,
                 beats: BeatSchedule | None = None) -> None:
        self.params = p = params if params is not None else PatientParams()
        self.seed = seed
        self.faults = Faults()
        self._stream = iter(beats) if beats is not None else _sinus_beats(p, seed)
        self._af = bool(beats.af) if beats is not None else False
        self._known: list[tuple[int, int]] = []  # (r_ms, kind) fetched from the stream
        self._next_beat = 0  # index into _known of the next R wave to happen
        self._last_r = -1
        self._beat_count = 0
        self._fill_beats(_LOOKAHEAD_MS)
        # hemodynamic state
        self.t = 0  #: the next tick to simulate (ms)
        self._vlv, self._pa, self._pp, self._ql, self._qav = 130.0, 72.0, 72.0, 0.0, 0.0
        self._proot = self._pa
        self._plv = p.emin_mmhg_per_ml * (self._vlv - p.v0_ml)
        self._av_open, self._vback = False, 0.0
        self._etab: list[float] = []
        self._k = 0
        # balloon state
        self._frac, self._gas, self._vb, self._pgas = 0.0, 1.0, 0.0, p.gas_baseline_mmhg
        self._lagbuf = [False] * (p.gas_lag_ms + 1)
        self._lagpos = 0
        self._abpbuf = [self._pa] * (p.abp_delay_ms + 1)
        self._abppos = 0
        self._abp = self._pa
        # ECG
        self._ecg_blk: list[float] = []
        self._ecg_t0 = 0
        self._ecg_next = 0
        self._ecg = 0.0
        self._rflag = False

    # --- faults ---------------------------------------------------------------------
    def inject_gas_leak(self, ml_per_s: float) -> None:
        """Start losing helium at ``ml_per_s`` whenever the balloon holds gas (perforation)."""
        self.faults.leak_ml_per_s = max(0.0, ml_per_s)

    def inject_kink(self, severity: float) -> None:
        """Kink the catheter: helium flow cut to ``1 - severity`` (0 = open, 0.95 = nearly shut)."""
        self.faults.kink = min(0.95, max(0.0, severity))

    def inject_blood(self) -> None:
        """Blood appears in the helium line (balloon perforated)."""
        self.faults.blood_detected = True

    def clear_faults(self) -> None:
        """Remove every injected fault (the helium already lost stays lost until :meth:`refill`)."""
        self.faults = Faults()

    def refill(self) -> None:
        """Autofill: top the helium back up to the nominal balloon volume."""
        self._gas = 1.0

    @property
    def helium_fraction(self) -> float:
        """Helium left in the balloon system, as a fraction of the nominal fill."""
        return self._gas

    # --- rhythm ---------------------------------------------------------------------
    def _fill_beats(self, until_ms: int) -> None:
        while not self._known or self._known[-1][0] <= until_ms:
            nxt = next(self._stream, None)
            if nxt is None:
                return
            r, kind = nxt
            if self._known and r <= self._known[-1][0]:
                continue
            self._known.append((int(r), int(kind)))

    def upcoming_r_peaks_ms(self, until_ms: int) -> list[int]:
        """True R-wave times (ms) from the current tick up to ``until_ms`` (an oracle, for tests
        and ideal-timing demos; a real controller has to detect them from the ECG)."""
        self._fill_beats(until_ms)
        return [r for r, _ in self._known[self._next_beat:] if self.t <= r <= until_ms]

    def _next_r(self) -> int:
        if self._next_beat < len(self._known):
            return self._known[self._next_beat][0]
        return 1 << 62

    def _start_beat(self, t: int) -> None:
        p = self.params
        if self._last_r >= 0:
            rr = float(t - self._last_r)
        elif self._next_beat + 1 < len(self._known):  # first beat: assume the next R-R
            rr = float(self._known[self._next_beat + 1][0] - t)
        else:
            rr = 60000.0 / p.hr_bpm if p.hr_bpm > 0 else 750.0
        new = elastance_table(rr, p)
        rest = self._etab[self._k:]
        if rest:  # previous contraction not over yet: the stronger activation wins
            n = min(len(rest), len(new))
            new[:n] = [max(a, b) for a, b in zip(rest[:n], new[:n], strict=True)]
        self._etab, self._k = new, 0
        self._last_r = t
        self._beat_count += 1
        self._next_beat += 1
        if self._next_beat > 64:  # keep the fetched-beat list short in long runs
            del self._known[: self._next_beat - 8]
            self._next_beat = 8
        self._fill_beats(t + _LOOKAHEAD_MS)

    def _render_ecg(self, t: int) -> None:
        self._ecg_t0, self._ecg_next = t, t + _ECG_BLOCK_MS
        noise = self.params.ecg_noise
        if noise is None:
            self._ecg_blk = [0.0] * _ECG_BLOCK_MS
            return
        self._fill_beats(t + _LOOKAHEAD_MS)
        near = [(r, k) for r, k in self._known if t - 2500 <= r <= t + _ECG_BLOCK_MS + 500]
        prev_r = {r: self._known[i - 1][0] for i, (r, _) in enumerate(self._known) if i > 0}
        rr = [float(r - prev_r[r]) if r in prev_r else 800.0 for r, _ in near]
        sched = BeatSchedule(np.array([r for r, _ in near], dtype=np.int64),
                             np.array([k for _, k in near], dtype=np.int8), af=self._af)
        ecg = synth_ecg(sched, _ECG_BLOCK_MS, noise=noise, seed=self.seed, t0_ms=t,
                        rr_before_ms=rr)
        self._ecg_blk = ecg.mv.tolist()

    def _event(self, t: int) -> int:
        """Handle what happens at tick ``t`` besides integration; return the next event tick."""
        self._rflag = False
        if t == self._next_r():
            self._start_beat(t)
            self._rflag = True
        while self._next_r() < t:  # a schedule beat we stepped past (cannot happen at 1 ms)
            self._next_beat += 1
        if t >= self._ecg_next:
            self._render_ecg(t)
        return min(self._next_r(), self._ecg_next)

    # --- simulation -----------------------------------------------------------------
    def step(self, inflate_cmd: bool) -> PatientSample:
        """Simulate one 1 ms tick with the console's inflate command (True = inflate)."""
        self._integrate(1, (inflate_cmd,), None)
        return PatientSample(
            self.t - 1, self._ecg, self._abp, self._proot, self._plv, self._vlv, self._qav,
            self._vb, self._pgas, self._rflag, self._av_open, self._beat_count,
            self.faults.blood_detected)

    def run(self, duration_ms: int, inflate_cmd: Sequence[bool] | BoolArray | None = None
            ) -> PatientTrace:
        """Simulate ``duration_ms`` ticks; ``inflate_cmd[i]`` is the command at tick ``t + i``
        (None: balloon never inflated). Returns every channel as arrays. Faults injected
        before the call hold for the whole block; :meth:`step` picks them up every tick."""
        n = int(duration_ms)
        cmds: Sequence[bool] = ([False] * n if inflate_cmd is None
                                else np.asarray(inflate_cmd, dtype=bool).tolist())
        if len(cmds) != n:
            raise ValueError("inflate_cmd must have one entry per ms of duration_ms")
        t0 = self.t
        chans: list[list[float]] = [[0.0] * n for _ in range(8)]  # ecg, abp, root, plv, vlv, vb, pgas, open
        ev: list[list[int]] = [[], [], []]
        self._integrate(n, cmds, (chans, ev))
        a = [np.array(c, dtype=np.float64) for c in chans]
        return PatientTrace(
            t0, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7] > 0.5,
            np.array(cmds, dtype=bool), np.array(ev[0], dtype=np.int64),
            np.array(ev[1], dtype=np.int64), np.array(ev[2], dtype=np.int64))

    def _integrate(self, n: int, cmds: Sequence[bool],
                   rec: tuple[list[list[float]], list[list[int]]] | None) -> None:
        """The hot loop: ``n`` ticks in pure-Python scalar arithmetic on local variables."""
        p, f = self.params, self.faults
        emin, v0, pla = p.emin_mmhg_per_ml, p.v0_ml, p.la_pressure_mmhg
        inv_rmv, rav, dt_lav = 1.0 / p.mitral_r, p.aortic_valve_r, _DT / p.aortic_valve_l
        vback_max, zc, zc_dt_l = p.aortic_backflow_ml, p.zc, p.zc * _DT / p.arterial_l
        inv_ra, inv_rp, pven = 1.0 / p.aortic_r, 1.0 / p.peripheral_r, p.venous_pressure_mmhg
        inv_ca, dt_cp = 1.0 / p.aortic_c, _DT / p.peripheral_c
        vnom, smooth = p.balloon_volume_ml, p.gas_profile == "smooth"
        flow_k = 1.0 - f.kink
        d_in, d_out = TICK_MS / p.inflate_ms * flow_k, TICK_MS / p.deflate_ms * flow_k
        base, memb = p.gas_baseline_mmhg, p.membrane_mmhg
        rline = p.gas_line_r / flow_k * 1000.0  # per mL/ms of balloon volume change
        leak = f.leak_ml_per_s * _DT / vnom if vnom > 0 else 0.0
        lagbuf, lagn, lagpos = self._lagbuf, len(self._lagbuf), self._lagpos
        abpbuf, abpn, abppos = self._abpbuf, len(self._abpbuf), self._abppos
        vlv, pa, pp, ql, qav, proot = self._vlv, self._pa, self._pp, self._ql, self._qav, self._proot
        av_open, vback, etab, k = self._av_open, self._vback, self._etab, self._k
        frac, gas, vb, pgas, abp = self._frac, self._gas, self._vb, self._pgas, proot
        blk, et0, plv, qmv = self._ecg_blk, self._ecg_t0, self._plv, 0.0
        t = self.t
        t_evt = min(self._next_r(), self._ecg_next)
        chans, ev = rec if rec is not None else (None, None)
        c0, c1, c2, c3, c4, c5, c6, c7 = chans if chans is not None else ([0.0],) * 8
        elen, blen = len(etab), len(blk)
        for i in range(n):
            if t >= t_evt:
                self._etab, self._k = etab, k
                t_evt = self._event(t)
                etab, k, blk, et0 = self._etab, self._k, self._ecg_blk, self._ecg_t0
                elen, blen = len(etab), len(blk)
                if ev is not None and self._rflag:
                    ev[0].append(t)
            e = etab[k] if k < elen else emin
            k += 1
            plv = e * (vlv - v0)
            qmv = (pla - plv) * inv_rmv if plv < pla else 0.0
            if av_open:
                qav += (plv - proot - rav * qav) * dt_lav
                if qav < 0.0:
                    vback -= qav * _DT
                    if vback >= vback_max:
                        av_open, qav = False, 0.0
                        if ev is not None:
                            ev[2].append(t)
            elif plv > proot and k <= elen:  # only a contracting ventricle opens it
                av_open, vback = True, 0.0
                if ev is not None:
                    ev[1].append(t)
            ql += zc_dt_l * (qav - ql)
            qa = (pa - pp) * inv_ra
            cmd = cmds[i]
            if lagn > 1:
                lagbuf[lagpos] = cmd
                lagpos += 1
                if lagpos == lagn:
                    lagpos = 0
                cmd = lagbuf[lagpos]
            if cmd:
                if frac < 1.0:
                    frac = frac + d_in if frac + d_in < 1.0 else 1.0
            elif frac > 0.0:
                frac = frac - d_out if frac > d_out else 0.0
            s = frac * frac * (3.0 - 2.0 * frac) if smooth else frac
            if frac > 0.0 and leak:
                gas = gas - leak if gas > leak else 0.0
            vnew = vnom * gas * s
            dvb = vnew - vb
            vb = vnew
            vlv += (qmv - qav) * _DT
            pa += ((qav - qa) * _DT + dvb) * inv_ca
            pp += (qa - (pp - pven) * inv_rp) * dt_cp
            proot = pa + zc * (qav - ql)
            pgas = gas * (base + s * (pa + memb * s - base)) + rline * dvb
            if abpn > 1:
                abpbuf[abppos] = proot
                abppos += 1
                if abppos == abpn:
                    abppos = 0
                abp = abpbuf[abppos]
            else:
                abp = proot
            if ev is not None:
                j = t - et0
                c0[i] = blk[j] if j < blen else 0.0
                c1[i] = abp
                c2[i] = proot
                c3[i] = plv
                c4[i] = vlv
                c5[i] = vb
                c6[i] = pgas
                c7[i] = av_open
            t += 1
        self.t, self._vlv, self._pa, self._pp, self._ql, self._qav = t, vlv, pa, pp, ql, qav
        self._proot, self._plv, self._av_open, self._vback = proot, plv, av_open, vback
        self._etab, self._k, self._frac, self._gas, self._vb = etab, k, frac, gas, vb
        self._pgas, self._abp, self._lagpos, self._abppos = pgas, abp, lagpos, abppos
        j = t - 1 - et0
        self._ecg = blk[j] if 0 <= j < len(blk) else 0.0
        if t - 1 != self._last_r:
            self._rflag = False
