"""The runtime monitor's own beat detectors, diverse from the controller's triggers.

The monitor re-checks the pump's timing from raw telemetry (1 kHz ECG in mV, arterial
pressure in mmHg). If it reused the controller's trigger code, one fault would blind
both, so these detectors come from different algorithm families and share no code
with the controller (this package imports only the standard library and numpy):

* :class:`MonitorRWaveDetector` - curve-length (length-transform) R-wave detector;
* :class:`MonitorPressureDetector` - slope-sum-function pulse onsets and
  maximum-curvature dicrotic notches (:class:`PulseEvent`);
* :class:`QrsOnsetEstimator` - the QRS onset of each detected beat (length-transform
  onset on the buffered ECG): the spec times ejection from it.

Both run one sample at a time, never look ahead, hold fixed-size buffers, treat NaN
or out-of-range samples as lead-off (hold, block, recover) and never raise from
``push``. The batch helpers :func:`detect_r_peaks` and :func:`detect_pulses` run them
over whole recordings for tests and ``benchmarks/bench_monitor_detectors.py``.
"""

from __future__ import annotations

from .common import DetectorSetupError
from .onset import QrsOnsetEstimator
from .pressure import MonitorPressureDetector, PulseEvent, detect_pulses
from .r_wave import MonitorRWaveDetector, detect_r_peaks

__all__ = [
    "DetectorSetupError",
    "QrsOnsetEstimator",
    "MonitorPressureDetector",
    "MonitorRWaveDetector",
    "PulseEvent",
    "detect_pulses",
    "detect_r_peaks",
]
