"""What every part of the reconstruction shares: its tuning and its time constants.

The parts (:mod:`iabp.monitor.reconstruct.heart`, :mod:`iabp.monitor.reconstruct.balloon`)
and their owner (:mod:`iabp.monitor.reconstruct.reconstruction`) all import from here and
never from each other, so no two files of the reconstruction import each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from iabp.spec import assumptions as A
from iabp.spec.clock import NEVER, TICK_HZ
from iabp.spec.timing import RR_MAX_MS

FS_HZ: Final = TICK_HZ
"""Telemetry rate: one TELEMETRY record per 1 ms console tick."""

NEVER_MS: Final = NEVER
"""Sample index (ms) of an event that has not happened yet (no own R peak, no own
upstroke since the monitor started): far enough in the past that no beat interval or
timer measured from it can look recent, and compared with ``>`` to mean "seen once"."""

NOT_DUE_MS: Final = 10**15
"""Sample index (ms) of a deadline that is not running (no own beat is waiting for the
console to notice cardiac activity): later than any telemetry the monitor will see."""


@dataclass(frozen=True)
class ReconstructionConfig:
    """Tuning of the reconstruction; times in ms, pressures in mmHg.

    ``gas_baseline_mmhg`` is the resting helium line pressure assumed until one is
    learned (iabp.md: about 10-15 mmHg); a gas sample more than ``gas_band_mmhg`` above
    the learned baseline means gas pushed into the balloon (the inflation plateau); the
    balloon counts as no longer inflated only after ``gas_settle_ms`` below that.
    ``missed_beat_margin_ms``: an own beat longer than the last R-R by more than this
    means the next R wave was missed (the trigger is stale). ``silent_after_ms``: no own
    R wave for this long counts as asystole (``heart_silent``). ``activity_tolerance_ms``:
    the console may notice cardiac activity this long after the R peak (ASM-ACTIVITY).
    """

    gas_baseline_mmhg: float = 12.0
    gas_band_mmhg: float = 10.0
    gas_settle_ms: int = 5
    gas_baseline_gain: float = 1.0 / 64.0
    missed_beat_margin_ms: int = A.RR_STEP_MAX_MS + A.R_DETECT_JITTER_MS
    silent_after_ms: int = RR_MAX_MS + A.R_DETECT_JITTER_MS
    activity_tolerance_ms: int = A.ACTIVITY_DELAY_MAX_MS + A.TICK_MS
    max_bridge_ms: int = 64
