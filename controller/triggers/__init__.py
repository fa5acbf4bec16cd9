"""Trigger detection for the balloon pump: the public import point.

* :class:`FastRWaveDetector` - causal R-wave (ECG) trigger deciding on the QRS up-slope;
  the pump triggers and deflates on it (decision 25-90 ms after the QRS onset,
  ``benchmarks/results/trigger_timing.md``).
* :class:`RWaveDetector` - the earlier integrating R-wave detector, kept as the baseline
  the benchmarks compare the trigger with.
* :class:`PressureTriggerDetector` - causal arterial-pressure trigger: systolic
  upstroke (new beat) and dicrotic notch (aortic valve closure, the inflation point).

All run one sample at a time with fixed memory and a decision delay bounded by
construction (``decision_delay_bound_ms``); the batch helpers run them over a whole
recording for benchmarks and tests. Measured accuracy and delay on MIT-BIH are in
``benchmarks/results/detectors.md``.
"""

from __future__ import annotations

from iabp.controller.triggers.ecg import (
    EcgTuning,
    RWaveDetector,
    detect_r_waves,
    detect_r_waves_with_peaks,
)
from iabp.controller.triggers.filters import TriggerSetupError
from iabp.controller.triggers.pressure import (
    PressureEvent,
    PressureTriggerDetector,
    PressureTuning,
    detect_dicrotic_notches,
    detect_pressure_events,
    detect_systolic_upstrokes,
)
from iabp.controller.triggers.upslope import FastRWaveDetector

__all__ = [
    "EcgTuning",
    "FastRWaveDetector",
    "PressureEvent",
    "PressureTriggerDetector",
    "PressureTuning",
    "RWaveDetector",
    "TriggerSetupError",
    "detect_dicrotic_notches",
    "detect_pressure_events",
    "detect_r_waves",
    "detect_r_waves_with_peaks",
    "detect_systolic_upstrokes",
]
