"""THE DETECTOR SEAM: the one place that picks the beat detectors of the monitor's clock.

:class:`iabp.monitor.reconstruct.heart.OwnBeatClock` times each beat with its own R-wave
detector on the raw ECG and, in pressure trigger mode, its own systolic-upstroke detector
on the arterial line. It only needs what :class:`RWaveSource` and :class:`UpstrokeSource`
describe; :func:`beat_detectors` decides which classes provide them.

They are the monitor's OWN detectors (:mod:`iabp.monitor.detect`: a curve-length R-wave
detector and slope-sum-function pulse onsets), a different algorithm family from the
controller's triggers and no shared code (REQ-MON-INDEPENDENT): a fault in the
controller's detection cannot blind the monitor. The monitor never imports the
controller (``tests/test_layers.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Protocol

from iabp.monitor.detect import (
    MonitorPressureDetector,
    MonitorRWaveDetector,
    PulseEvent,
    QrsOnsetEstimator,
)


class RWaveSource(Protocol):
    """An online R-wave detector on the ECG, one sample (mV, NaN if missing) per 1 ms."""

    def push(self, sample_mv: float, /) -> bool:
        """Take one sample; True when an R wave is decided on it."""
        ...

    @property
    def last_peak_index(self) -> int:
        """Sample index (pushes - 1) of the last decided R wave's estimated peak."""
        ...

    @property
    def learning(self) -> bool:
        """True while the detector is still learning the ECG's level (after start, reset or
        a long lead-off): the beats it reports then are provisional (a P or T wave may be
        among them)."""
        ...

    def reset(self) -> None:
        """Forget every sample (as at power-on)."""
        ...


class OnsetSource(Protocol):
    """A QRS-onset estimator on the same ECG samples as the R-wave detector."""

    def push(self, sample_mv: float, /) -> None:
        """Take one sample (mV, NaN if missing)."""
        ...

    def onset_before(self, peak_n: int, /) -> int | None:
        """Sample index of the QRS onset of the beat whose R peak is at ``peak_n``, or None
        when it cannot be measured (noise, lead off, peak too old)."""
        ...

    def reset(self) -> None:
        """Forget every sample (as at power-on)."""
        ...


class UpstrokeSource(Protocol):
    """An online systolic-upstroke detector on the arterial line, one sample (mmHg, NaN
    if missing) per 1 ms."""

    def push(self, sample_mmhg: float, /) -> int:
        """Take one sample; bit flags of what was decided on it (:data:`UPSTROKE`...)."""
        ...

    @property
    def last_upstroke_index(self) -> int:
        """Sample index (pushes - 1) of the last decided upstroke's estimate."""
        ...

    @property
    def learning(self) -> bool:
        """True while the detector is learning the pulse (after start, reset or a long
        dropout): it reports no upstroke then."""
        ...

    def reset(self) -> None:
        """Forget every sample (as at power-on)."""
        ...


UPSTROKE: Final[int] = int(PulseEvent.UPSTROKE)
"""Bit of :meth:`UpstrokeSource.push`'s result meaning: a systolic upstroke (the start of
the ventricle's ejection into the aorta) was decided on this sample."""


@dataclass(frozen=True)
class BeatDetectors:
    """The detectors one beat clock owns: R waves and their QRS onsets on the ECG, upstrokes
    on the arterial line."""

    r_wave: RWaveSource
    upstroke: UpstrokeSource
    onset: OnsetSource


def beat_detectors(fs_hz: float) -> BeatDetectors:
    """SEAM: fresh detectors for a beat clock sampling at ``fs_hz``."""
    return BeatDetectors(r_wave=MonitorRWaveDetector(fs_hz),
                         upstroke=MonitorPressureDetector(fs_hz),
                         onset=QrsOnsetEstimator(fs_hz))
