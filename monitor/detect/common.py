"""Shared pieces of the monitor's own beat detectors (standard library only).

The monitor re-checks the pump's timing from raw telemetry. Its detectors must not
share code with the controller's triggers (a fault there would otherwise blind both),
so everything they need lives in this package.
"""

from __future__ import annotations

import math

#: Largest sampling rate the detectors accept (Hz); telemetry runs at 1 kHz.
MAX_FS_HZ = 20_000.0
#: Smallest sampling rate the detectors accept (Hz): below it a QRS is a few samples.
MIN_FS_HZ = 100.0


class SampleClock:
    """What every monitor detector tells about its own sampling: the rate it was built for
    and how many samples it has taken since construction or reset. Subclasses set
    ``_fs_hz`` and ``_n``."""

    _fs_hz: float
    _n: int

    @property
    def fs_hz(self) -> float:
        """Sampling rate (Hz) the detector was built for."""
        return self._fs_hz

    @property
    def sample_count(self) -> int:
        """Samples pushed since construction or the last reset."""
        return self._n


class DetectorSetupError(ValueError):
    """A monitor detector was built with an unusable argument (for example ``fs_hz``)."""


def checked_fs_hz(fs_hz: float) -> float:
    """Return ``fs_hz`` as a float, or raise :class:`DetectorSetupError` if unusable."""
    try:
        fs = float(fs_hz)
    except (TypeError, ValueError) as exc:
        raise DetectorSetupError(f"fs_hz must be a number, got {fs_hz!r}") from exc
    if not math.isfinite(fs) or not MIN_FS_HZ <= fs <= MAX_FS_HZ:
        raise DetectorSetupError(
            f"fs_hz must be between {MIN_FS_HZ:g} and {MAX_FS_HZ:g} Hz, got {fs_hz!r}"
        )
    return fs


def samples_for_ms(duration_ms: float, fs_hz: float) -> int:
    """Number of samples (at least 1) that span ``duration_ms`` at ``fs_hz``."""
    return max(1, int(round(duration_ms * fs_hz / 1000.0)))


def odd_samples_for_ms(duration_ms: float, fs_hz: float) -> int:
    """Like :func:`samples_for_ms`, rounded to an odd count (a centred window)."""
    n = samples_for_ms(duration_ms, fs_hz)
    return n if n % 2 == 1 else n + 1
