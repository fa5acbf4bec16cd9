"""Parameters of the simulated IABP patient, and the per-beat left-ventricular elastance.

Units: pressures in mmHg, volumes in mL, flows in mL/s, resistances in mmHg*s/mL,
compliances in mL/mmHg, inertances in mmHg*s^2/mL, times in ms, rates in bpm.

The ventricle is a time-varying elastance with the double-Hill activation of
Stergiopulos, Meister and Westerhof (Am J Physiol 270:H2050, 1996). Its timing is tied
to the R wave and to the R-R interval that ends at it, so that with the default
heart the aortic valve opens about Weissler's PEP after the R wave and closes about
Weissler's QS2 after it (``iabp.spec.timing``), the same band the proofs assume.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from iabp.sim.ecg_synth import EcgNoise
from iabp.spec.timing import weissler_qs2_ms


@dataclass(frozen=True)
class PatientParams:
    """Heart, arteries and balloon of one simulated patient (defaults: an IABP candidate
    with moderately reduced contractility, about 105/65 mmHg at 80 bpm, stroke volume 55 mL)."""

    # rhythm (used only when no beat schedule is given to the Patient)
    hr_bpm: float = 80.0  #: sinus rate; 0 means asystole
    hrv_sd_ms: float = 10.0  #: sinus R-R variability (standard deviation, ms)
    # left ventricle and valves
    emax_mmhg_per_ml: float = 1.5  #: end-systolic elastance (contractility)
    emin_mmhg_per_ml: float = 0.08  #: diastolic elastance (stiffness of the relaxed ventricle)
    v0_ml: float = 10.0  #: unstressed LV volume
    la_pressure_mmhg: float = 10.0  #: left atrial (filling) pressure
    mitral_r: float = 0.005  #: mitral valve resistance
    aortic_valve_r: float = 0.005  #: aortic valve resistance
    aortic_valve_l: float = 0.0005  #: inertance of the blood in the outflow tract
    aortic_backflow_ml: float = 1.0  #: backflow through the aortic valve before it shuts (makes the notch)
    # arteries: 4-element Windkessel (Zc parallel to L) into a two-compartment aorta/periphery
    zc: float = 0.06  #: characteristic impedance of the aorta
    arterial_l: float = 0.02  #: total arterial inertance (parallel to zc)
    aortic_c: float = 0.5  #: compliance of the aorta, where the balloon sits
    peripheral_c: float = 0.8  #: compliance of the peripheral arteries
    aortic_r: float = 0.04  #: resistance between aorta and periphery
    peripheral_r: float = 1.0  #: systemic vascular resistance
    venous_pressure_mmhg: float = 5.0  #: pressure the periphery drains into
    # ventricular timing, relative to Weissler for the R-R that ends at the beat
    pep_trim_ms: float = 0.0  #: shift of the contraction onset (ms, + = later valve opening)
    qs2_trim_ms: float = 0.0  #: extra contraction duration (ms, + = later valve closure)
    # balloon and helium line
    balloon_volume_ml: float = 40.0  #: nominal balloon volume (34, 40 or 50 cc)
    inflate_ms: float = 80.0  #: helium inflation time, empty to full
    deflate_ms: float = 60.0  #: helium deflation time, full to empty
    gas_lag_ms: int = 0  #: helium transit lag from command to start of volume change
    gas_profile: str = "smooth"  #: "smooth" (S-shaped ramp) or "linear" volume ramp
    gas_baseline_mmhg: float = 12.0  #: helium line pressure with the balloon deflated
    gas_line_r: float = 0.12  #: helium line resistance seen by the console transducer
    membrane_mmhg: float = 8.0  #: extra pressure of a fully unfolded balloon over aortic pressure
    # measurement
    abp_delay_ms: int = 0  #: transit delay of the ABP signal behind the aortic root (lumen ~70 ms)
    ecg_noise: EcgNoise | None = field(default_factory=EcgNoise)  #: None: no ECG is rendered

    def __post_init__(self) -> None:
        positive = ("emax_mmhg_per_ml", "emin_mmhg_per_ml", "mitral_r", "aortic_valve_r",
                    "aortic_valve_l", "zc", "arterial_l", "aortic_c", "peripheral_c",
                    "aortic_r", "peripheral_r", "inflate_ms", "deflate_ms")
        for name in positive:
            if not getattr(self, name) > 0.0:
                raise ValueError(f"PatientParams.{name} must be > 0")
        if self.balloon_volume_ml < 0.0 or self.gas_lag_ms < 0 or self.abp_delay_ms < 0:
            raise ValueError("balloon volume, gas lag and ABP delay must be >= 0")
        if self.gas_profile not in ("smooth", "linear"):
            raise ValueError("gas_profile must be 'smooth' or 'linear'")
        if self.hr_bpm != 0.0 and not 30.0 <= self.hr_bpm <= 180.0:
            raise ValueError("hr_bpm must be 0 (asystole) or within 30-180 bpm")


@dataclass
class Faults:
    """Balloon faults injected into the simulation (all off by default)."""

    leak_ml_per_s: float = 0.0  #: helium lost through a perforation while the balloon is pressurised
    kink: float = 0.0  #: catheter restriction 0..1: gas flow is cut to (1 - kink) of normal
    blood_detected: bool = False  #: blood in the helium line (perforated balloon)


#: Calibration of the default ventricle (``PatientParams()``, no balloon): R-R interval (ms)
#: -> R wave to onset of contraction (ms). With it the aortic valve opens at Weissler's PEP
#: and shuts at Weissler's QS2 within a few ms from 40 to 180 bpm.
_ONSET_RR_MS: tuple[float, ...] = (333.0, 400.0, 500.0, 600.0, 750.0, 1000.0, 1500.0)
_ONSET_MS: tuple[float, ...] = (17.0, 10.0, 10.0, 14.0, 24.0, 39.0, 63.0)


def contraction_timing_ms(rr_ms: float, params: PatientParams) -> tuple[float, float]:
    """(onset, time from onset to peak elastance) in ms, for the R-R (ms) that ends at the beat.

    Calibrated so that the default ventricle opens its aortic valve at Weissler's PEP
    and shuts it at Weissler's QS2 for that R-R (``iabp.spec.timing``); a weaker or stronger
    ventricle, or a balloon changing the afterload, moves the valve times as in life.
    """
    rr = min(1500.0, max(333.0, rr_ms))
    onset = float(np.interp(rr, _ONSET_RR_MS, _ONSET_MS)) + params.pep_trim_ms
    qs2 = weissler_qs2_ms(rr)
    closure_lag = 22.0 + 0.0612 * (qs2 - 168.0)  # valve shuts this long after peak elastance
    return max(0.0, onset), max(60.0, qs2 - onset - closure_lag + params.qs2_trim_ms)


_A1, _M1 = 0.35, 2.2


def _double_hill(tn: np.ndarray) -> np.ndarray:
    """Normalised double-Hill activation (peak 1 at tn ~ 1), Stergiopulos et al. 1996."""
    x = (tn / _A1) ** _M1
    y = (tn / 1.17) ** 21.9
    a: np.ndarray = x / (1.0 + x) / (1.0 + y)
    return a / float(a.max())


@lru_cache(maxsize=512)
def activation_table(onset_ms: int, t_peak_ms: int) -> tuple[float, ...]:
    """Activation 0..1 of one beat, one value per ms from the R wave; beyond the table it is 0."""
    n = onset_ms + int(1.7 * t_peak_ms) + 1
    t = np.arange(n, dtype=np.float64) - onset_ms
    tn = np.clip(t, 0.0, None) / float(t_peak_ms)
    return tuple(_double_hill(tn).tolist())


def elastance_table(rr_ms: float, params: PatientParams) -> list[float]:
    """LV elastance (mmHg/mL), one value per ms from the R wave, for a beat after ``rr_ms``."""
    onset, t_peak = contraction_timing_ms(rr_ms, params)
    act = activation_table(int(round(max(0.0, onset))), int(round(t_peak)))
    de = params.emax_mmhg_per_ml - params.emin_mmhg_per_ml
    emin = params.emin_mmhg_per_ml
    return [emin + de * a for a in act]

