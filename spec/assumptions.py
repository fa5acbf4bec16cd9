"""The environment (the heart) and hardware bounds every proof rests on.

A proof is only as good as these numbers. Each bound is a named constant with its
unit and source, and each group of constraints the environment model imposes has an
assumption ID (``ASM-*``). Every property declares exactly which assumptions it uses;
the prover adds only those, and the tests check that dropping one breaks the proof.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, fields, replace

from iabp.spec.timing import (
    HR_MAX_BPM,
    HR_MIN_BPM,
    PEP_TOL_MS,
    QS2_TOL_MS,
    RR_MAX_MS,
    RR_MIN_MS,
)

#: Control tick (ms). The whole model counts in ticks of this length.
TICK_MS = 1

#: R-wave detector decision delay: from the ONSET of the QRS complex (where the beat,
#: and Weissler's PEP and QS2, start) to the sample at which the pump's trigger
#: (``iabp.controller.triggers.upslope.FastRWaveDetector``, deciding on the QRS up-slope)
#: says "R wave" (ms). Measured on all 41 MIT-BIH development records, whole length,
#: against the cardiologist beats with each beat's QRS onset measured on its waveform
#: (``benchmarks/bench_trigger_timing.py``, results/trigger_timing.md): the beats of the
#: rhythm ASM-RR-STEP covers are decided 25-90 ms after their onset: 99.45 % of 66 563
#: normal beats (p1 28, median 36, p99.9 75 ms), 99.76 % of LBBB, 99.68 % of RBBB and
#: 99.12 % of paced beats; the rest mostly decide EARLIER than 25 ms (or their onset
#: measurement failed). Ventricular ectopic beats (93.6 % inside; p99 151 ms) are outside
#: the covered rhythm.
R_DETECT_DELAY_MIN_MS = 25
R_DETECT_DELAY_MAX_MS = 90
#: The R-wave detector's QRS suspicion (input ``qrs_suspect``) is on during at least this
#: many ms before each of its reports: it opens a candidate on the threshold crossing and
#: decides it ``confirm_ms`` (8 ms) later, suspecting all the while (by construction of
#: ``FastRWaveDetector``; tests/controller/test_supersede.py checks it on records). The
#: controller deflates on the suspicion, so on any rhythm the balloon starts to empty
#: this long before the report.
R_SUSPECT_LEAD_MS = 8

#: Q-to-R time: from the QRS onset to the R peak, over the same covered beats (ms).
#: Measured on the waveforms of all 41 development records (``benchmarks/qrs_onset.py``):
#: p0.1 16.7, median 36, p99.9 91.7. The runtime monitor, whose own detector estimates the
#: R PEAK, places the onset at that estimate minus the minimum (the latest it can be).
Q_TO_R_MIN_MS = 15
Q_TO_R_MAX_MS = 95

#: Largest beat-to-beat change of the R-R interval in the rhythms the proofs cover
#: (sinus rhythm with sinus arrhythmia; atrial fibrillation is NOT covered) (ms).
RR_STEP_MAX_MS = 40

#: Largest beat-to-beat change of the pre-ejection period (ms) *(unverified)*.
PEP_STEP_MAX_MS = 10

#: Systolic-upstroke detection on the arterial pressure: from aortic valve opening to
#: the detector's decision, catheter-lumen transit (~70 ms) included (ms).
UPSTROKE_DELAY_MIN_MS = 60
UPSTROKE_DELAY_MAX_MS = 100

#: Dicrotic-notch detection: from aortic valve closure to the detector's decision (ms).
NOTCH_DELAY_MIN_MS = 50
NOTCH_DELAY_MAX_MS = 120

#: Cardiac activity (any R wave or pulsatile pressure) is noticed within this delay of
#: the QRS onset of every beat of a beating heart (ms).
ACTIVITY_DELAY_MAX_MS = 150

#: Helium: no gas reaches the balloon sooner than this after the inflate command (ms).
GAS_INFLATE_LAG_MIN_MS = 20
#: Helium: the balloon is fully deflated (>= 90 % of the gas back) at most this long
#: after the deflate command (ms) *(unverified; vendor-specific)*.
GAS_DEFLATE_MAX_MS = 40

#: No cardiac activity for this long means asystole: the guard of internal mode (ms).
#: Must exceed ACTIVITY_GAP_MAX_MS (below), or a slow heart would look dead (P-INTERNAL-ENTRY
#: checks the behaviour against that physiological gap, not against this constant).
ASYSTOLE_CONFIRM_MS = 2000


@dataclass(frozen=True)
class World:
    """The bounds the environment keeps: what the heart, its detectors and the pneumatics may
    do, as the environment model, the lemmas and the properties read them.

    The controller is built from the module constants above (its DESIGN values: the deflation
    lead, the accepted R-R range, the consistency tolerance are derived from them once). A
    World with other numbers asks what happens when the real patient or hardware is worse
    than the design assumed, with the controller left as it is: ``iabp margins`` proves the
    properties under such worlds. ``STATED_WORLD`` is the world every proof states.
    """

    rr_min_ms: int = RR_MIN_MS  #: shortest R-R the heart makes (ASM-HEART-RATE)
    rr_max_ms: int = RR_MAX_MS  #: longest R-R the heart makes (ASM-HEART-RATE)
    r_detect_delay_min_ms: int = R_DETECT_DELAY_MIN_MS  #: ASM-R-DETECT
    r_detect_delay_max_ms: int = R_DETECT_DELAY_MAX_MS  #: ASM-R-DETECT
    rr_step_max_ms: int = RR_STEP_MAX_MS  #: ASM-RR-STEP
    pep_step_max_ms: int = PEP_STEP_MAX_MS  #: ASM-PEP-STEP
    pep_tol_ms: int = PEP_TOL_MS  #: ASM-EJECTION: PEP band widening around Weissler
    qs2_tol_ms: int = QS2_TOL_MS  #: ASM-EJECTION: QS2 band widening around Weissler
    upstroke_delay_min_ms: int = UPSTROKE_DELAY_MIN_MS  #: ASM-PRESSURE-DETECT
    upstroke_delay_max_ms: int = UPSTROKE_DELAY_MAX_MS  #: ASM-PRESSURE-DETECT
    notch_delay_min_ms: int = NOTCH_DELAY_MIN_MS  #: ASM-PRESSURE-DETECT
    notch_delay_max_ms: int = NOTCH_DELAY_MAX_MS  #: ASM-PRESSURE-DETECT
    activity_delay_max_ms: int = ACTIVITY_DELAY_MAX_MS  #: ASM-ACTIVITY
    gas_inflate_lag_min_ms: int = GAS_INFLATE_LAG_MIN_MS  #: ASM-GAS
    gas_deflate_max_ms: int = GAS_DEFLATE_MAX_MS  #: ASM-GAS

    def __post_init__(self) -> None:
        for f in fields(self):
            if getattr(self, f.name) < 0:
                raise ValueError(f"world bound {f.name} = {getattr(self, f.name)} is negative")
        if not (RR_MIN_MS <= self.rr_min_ms <= self.rr_max_ms <= RR_MAX_MS):
            raise ValueError(f"heart-rate range {self.rr_min_ms}-{self.rr_max_ms} ms is not "
                             f"inside the supported {RR_MIN_MS}-{RR_MAX_MS} ms")
        for lo, hi in (("r_detect_delay_min_ms", "r_detect_delay_max_ms"),
                       ("upstroke_delay_min_ms", "upstroke_delay_max_ms"),
                       ("notch_delay_min_ms", "notch_delay_max_ms")):
            if getattr(self, lo) > getattr(self, hi):
                raise ValueError(f"world bound {lo} exceeds {hi}")

    @property
    def r_detect_jitter_ms(self) -> int:
        """Spread of the R-wave decision from beat to beat (ms)."""
        return self.r_detect_delay_max_ms - self.r_detect_delay_min_ms

    @property
    def upstroke_jitter_ms(self) -> int:
        """Spread of the upstroke report time from beat to beat: PEP step plus detector
        spread (ms)."""
        return self.pep_step_max_ms + self.upstroke_delay_max_ms - self.upstroke_delay_min_ms

    @property
    def activity_gap_max_ms(self) -> int:
        """The longest gap between two activity reports of a beating heart (ms)."""
        return self.rr_max_ms + self.activity_delay_max_ms

    def with_(self, **changes: int) -> World:
        """This world with some bounds changed (checked like any other)."""
        return replace(self, **changes)


#: The world every proof of ``iabp prove`` states: the constants above.
STATED_WORLD = World()

#: Jitter of the R-wave decision from beat to beat: latest minus earliest delay (ms; the
#: formulas of these three are the World's, here for the stated world).
R_DETECT_JITTER_MS = STATED_WORLD.r_detect_jitter_ms
#: Jitter of the upstroke report time from beat to beat: PEP step plus detector spread (ms).
UPSTROKE_JITTER_MS = STATED_WORLD.upstroke_jitter_ms
#: The longest gap between two activity reports of a beating heart: the slowest beat
#: (ASM-HEART-RATE) with its report at the start of one beat and the end of the next
#: (ASM-ACTIVITY). Silence longer than this means a beat without activity: asystole (ms).
ACTIVITY_GAP_MAX_MS = STATED_WORLD.activity_gap_max_ms

#: Trigger-to-trigger intervals the controller accepts as one R-R (ms): only up to about
#: 130 bpm (ECG) and 120 bpm (pressure), the fastest rates at which a missed beat is still
#: told apart from the detector's jitter (above them no inflation window exists anyway).
RR_ACCEPT_MIN_MS = 500
RR_ACCEPT_MAX_MS = RR_MAX_MS + R_DETECT_JITTER_MS
PRESSURE_RR_ACCEPT_MIN_MS = 500
PRESSURE_RR_ACCEPT_MAX_MS = RR_MAX_MS + UPSTROKE_JITTER_MS

#: Two successive trigger intervals that differ by more than this are inconsistent:
#: a beat was missed, or the rhythm is not one the timing proof covers (ms).
RR_CONSISTENCY_TOL_MS = RR_STEP_MAX_MS + 2 * R_DETECT_JITTER_MS
PRESSURE_CONSISTENCY_TOL_MS = RR_STEP_MAX_MS + 2 * UPSTROKE_JITTER_MS

#: Saturation caps of the timers (ms).
TRIGGER_TIMER_CAP_MS = 5001
IDLE_TIMER_CAP_MS = 1_800_001


@dataclass(frozen=True)
class Assumption:
    """A named group of environment or hardware constraints, with where its numbers come from."""

    id: str
    text: str
    source: str


ASSUMPTIONS: tuple[Assumption, ...] = (
    Assumption("ASM-HEART-RATE", f"every R-R interval lies in [{RR_MIN_MS}, {RR_MAX_MS}] ms "
               f"({HR_MIN_BPM}-{HR_MAX_BPM} bpm)", "supported range of the console"),
    Assumption("ASM-RR-STEP", f"successive R-R intervals differ by at most {RR_STEP_MAX_MS} ms "
               "(sinus rhythm; atrial fibrillation and early ectopic beats are outside)",
               "sinus arrhythmia; iabp.md 'Timing model'"),
    Assumption("ASM-EJECTION", "ejection of each beat starts at PEP and ends at QS2 after the "
               "ONSET of its QRS complex, with PEP and QS2 inside the rate bands of spec.timing "
               "(Weissler, who measured both from Q onset, +/- tolerance) for the R-R that ended "
               "at that beat; ejection ends before the next QRS onset",
               "Weissler regressions (iabp.md table), tolerance unverified"),
    Assumption("ASM-PEP-STEP", f"the pre-ejection period changes by at most {PEP_STEP_MAX_MS} ms "
               "from one beat to the next (with ASM-EJECTION's bands this also limits how much "
               "shorter a beat may be than the one before it)",
               "steady contractility in sinus rhythm; premature beats are outside (their PEP "
               "is longer, not shorter)"),
    Assumption("ASM-R-DETECT", f"the R-wave detector reports a detected beat between "
               f"{R_DETECT_DELAY_MIN_MS} and {R_DETECT_DELAY_MAX_MS} ms after its QRS onset, "
               f"suspects the QRS during the {R_SUSPECT_LEAD_MS} ms before each report, and "
               "never reports a beat that did not happen",
               "measured decision delay of the pump's trigger from the measured QRS onset "
               "(benchmarks/results/trigger_timing.md)"),
    Assumption("ASM-QRS-SUSPECT", "the R-wave detector raises its QRS suspicion (a QRS "
               "it has not yet decided on) only between a beat's QRS onset and its R "
               "report, never in diastole; only the efficacy properties assume it (a false "
               "suspicion, e.g. noise, only deflates early: no safety property needs it)",
               "the trigger suspects a QRS on a candidate it has not decided yet and, after the "
               "last beat's T-wave window, on a fast rise of its QRS feature above a lower "
               "threshold (controller/triggers/upslope.py); noise, P and T waves in diastole "
               "break it now and then and cost that beat's augmentation, never safety: "
               "counted per 1000 beats in benchmarks/results/trigger_timing.md"),
    Assumption("ASM-MISS-SPACING", "a detector may miss beats (a run of any length, e.g. a lost "
               "lead), but after a run of missed beats it detects at least two beats in a row "
               "before it misses again", "a detector that misses every other beat is a lost "
               "trigger the console cannot tell from a slower heart"),
    Assumption("ASM-PRESSURE-DETECT", f"the systolic upstroke is reported "
               f"{UPSTROKE_DELAY_MIN_MS}-{UPSTROKE_DELAY_MAX_MS} ms after valve opening, the "
               f"dicrotic notch {NOTCH_DELAY_MIN_MS}-{NOTCH_DELAY_MAX_MS} ms after valve "
               "closure, the upstroke before the notch of the same beat; no false reports",
               "catheter-lumen transit ~70 ms (iabp.md); detector delay"),
    Assumption("ASM-ACTIVITY", f"every beat of a beating heart is noticed as cardiac activity "
               f"within {ACTIVITY_DELAY_MAX_MS} ms of its QRS onset; a silent heart (asystole) "
               "produces no activity, no detection and no ejection",
               "R-wave or pulsatility detection"),
    Assumption("ASM-GAS", f"no helium reaches the balloon sooner than {GAS_INFLATE_LAG_MIN_MS} "
               f"ms after the inflate command; the balloon is empty at most {GAS_DEFLATE_MAX_MS} "
               "ms after the deflate command", "console pneumatics (vendor-specific, unverified)"),
)

ASSUMPTION_BY_ID: dict[str, Assumption] = {a.id: a for a in ASSUMPTIONS}

#: The heart of the sinus-rhythm proofs: rate range, bounded R-R and PEP steps, ejection
#: inside the rate bands.
SINUS_HEART: tuple[str, ...] = ("ASM-HEART-RATE", "ASM-RR-STEP", "ASM-PEP-STEP", "ASM-EJECTION")
#: The heart of the early-beat bound: any R-R in range after any other (premature beats,
#: atrial fibrillation, pauses), ejection inside the rate bands of the interval before it.
ANY_RHYTHM_HEART: tuple[str, ...] = ("ASM-HEART-RATE", "ASM-EJECTION")

#: Shortest deflation lead (ms before the predicted R-R end, see ``iabp.spec.settings``) that
#: keeps the balloon empty at the next ejection in ECG-trigger mode: detection delay,
#: detection jitter, R-R step, gas deflation time and the one-tick command latency.
ECG_DEFLATION_LEAD_MIN_MS = (
    R_DETECT_DELAY_MAX_MS + R_DETECT_JITTER_MS + RR_STEP_MAX_MS + GAS_DEFLATE_MAX_MS + TICK_MS
)
#: The same for pressure-trigger mode, where the beat trigger (the upstroke) comes only
#: after ejection has started, so the next ejection must be predicted from the last one.
PRESSURE_DEFLATION_LEAD_MIN_MS = (
    TICK_MS + GAS_DEFLATE_MAX_MS + RR_STEP_MAX_MS + PEP_STEP_MAX_MS + UPSTROKE_JITTER_MS
    + UPSTROKE_DELAY_MAX_MS
)


_WORLD_IN_FORCE: ContextVar[World] = ContextVar("iabp_world_in_force")


def world() -> World:
    """The world the spec is being built for (``STATED_WORLD`` unless :func:`in_world`)."""
    return _WORLD_IN_FORCE.get(STATED_WORLD)


@contextmanager
def in_world(w: World) -> Iterator[World]:
    """Build the environment model, lemmas and properties for ``w`` inside this block."""
    token = _WORLD_IN_FORCE.set(w)
    try:
        yield w
    finally:
        _WORLD_IN_FORCE.reset(token)
