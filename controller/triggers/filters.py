"""Sample-by-sample building blocks for the pump's trigger detectors.

Everything here is causal and has a fixed memory size chosen at construction: the
trigger path of the console runs one sample at a time and must never grow a list.
Filters are designed once (with scipy) from the sampling rate and then run with
their own state, so the same code serves 250, 360, 500 and 1000 Hz inputs.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import signal

from iabp.spec.errors import IabpError

__all__ = [
    "MovingSum",
    "RingBuffer",
    "SosFilter",
    "TriggerSetupError",
    "design_bandpass",
    "design_lowpass",
    "group_delay_ms",
]


class TriggerSetupError(IabpError, ValueError):
    """A trigger detector was built with impossible settings (e.g. a sampling rate too low)."""


class RingBuffer:
    """Fixed-length history of the most recent samples (oldest overwritten first).

    ``capacity`` never changes after construction: this is the bounded memory the
    trigger detectors promise.
    """

    __slots__ = ("_data", "_capacity", "_head", "_count")

    def __init__(self, capacity: int, fill: float = 0.0) -> None:
        if capacity < 1:
            raise TriggerSetupError(f"ring buffer capacity must be at least 1, got {capacity}")
        self._capacity = capacity
        self._data: list[float] = [fill] * capacity
        self._head = 0
        self._count = 0

    @property
    def capacity(self) -> int:
        """Number of samples kept (fixed at construction)."""
        return self._capacity

    def __len__(self) -> int:
        return len(self._data)

    def push(self, value: float) -> float:
        """Store ``value``; return the sample it overwrote (the one ``capacity`` samples old)."""
        old = self._data[self._head]
        self._data[self._head] = value
        self._head = (self._head + 1) % self._capacity
        if self._count < self._capacity:
            self._count += 1
        return old

    def ago(self, lag: int) -> float:
        """Sample ``lag`` steps back (0 = the newest); ``lag`` must be below ``capacity``."""
        return self._data[(self._head - 1 - lag) % self._capacity]

    def filled(self) -> int:
        """How many valid samples are stored (saturates at ``capacity``)."""
        return self._count

    def replace_newest(self, value: float) -> None:
        """Overwrite the newest sample (no-op while empty)."""
        if self._count:
            self._data[(self._head - 1) % self._capacity] = value

    def clear(self, fill: float = 0.0) -> None:
        """Forget the history."""
        for i in range(self._capacity):
            self._data[i] = fill
        self._head = 0
        self._count = 0


class MovingSum:
    """Running sum of the last ``length`` inputs (a moving-window integrator).

    The running total is recomputed from the buffer once per window, so a single huge
    input cannot leave a rounding residue that outlives it.
    """

    __slots__ = ("_buf", "_sum", "_length", "_since_exact")

    def __init__(self, length: int) -> None:
        self._length = max(1, length)
        self._buf = RingBuffer(self._length)
        self._sum = 0.0
        self._since_exact = 0

    def push(self, value: float) -> float:
        """Add ``value``, drop the oldest input, return the window sum."""
        old = self._buf.push(value)
        self._since_exact += 1
        if self._since_exact >= self._length:
            self._sum = math.fsum(self._buf._data)
            self._since_exact = 0
        else:
            self._sum += value - old
        return self._sum

    def clear(self) -> None:
        """Forget the history."""
        self._buf.clear()
        self._sum = 0.0
        self._since_exact = 0

    @property
    def buffer(self) -> RingBuffer:
        """The underlying fixed-size buffer (exposed for memory-bound checks)."""
        return self._buf


class SosFilter:
    """A cascade of biquads (scipy ``sos`` layout) run one sample at a time (DF-II transposed)."""

    __slots__ = ("_sos", "_z", "_zi_unit")

    def __init__(self, sos: np.ndarray) -> None:
        rows = np.asarray(sos, dtype=float)
        self._sos: list[tuple[float, float, float, float, float]] = [
            (float(r[0]), float(r[1]), float(r[2]), float(r[4]), float(r[5])) for r in rows
        ]
        zi = signal.sosfilt_zi(rows)
        self._zi_unit: list[list[float]] = [[float(v) for v in row] for row in zi]
        self._z: list[list[float]] = [[0.0, 0.0] for _ in self._sos]

    def settle(self, value: float) -> None:
        """Set the state to the steady state for a constant input ``value`` (no start-up step)."""
        for z, unit in zip(self._z, self._zi_unit, strict=True):
            z[0] = unit[0] * value
            z[1] = unit[1] * value

    def push(self, x: float) -> float:
        """Filter one input sample and return one output sample."""
        for (b0, b1, b2, a1, a2), z in zip(self._sos, self._z, strict=True):
            y = b0 * x + z[0]
            z[0] = b1 * x - a1 * y + z[1]
            z[1] = b2 * x - a2 * y
            x = y
        return x


def design_bandpass(low_hz: float, high_hz: float, fs_hz: float, order: int = 1) -> np.ndarray:
    """Butterworth band-pass as second-order sections; ``high_hz`` is clipped below Nyquist."""
    nyquist_hz = fs_hz / 2.0
    high = min(high_hz, 0.9 * nyquist_hz)
    low = min(low_hz, 0.5 * high)
    sos: np.ndarray = signal.butter(order, [low, high], btype="bandpass", fs=fs_hz, output="sos")
    return sos


def design_lowpass(cut_hz: float, fs_hz: float, order: int = 2) -> np.ndarray:
    """Butterworth low-pass as second-order sections; ``cut_hz`` is clipped below Nyquist."""
    cut = min(cut_hz, 0.45 * fs_hz)
    sos: np.ndarray = signal.butter(order, cut, btype="lowpass", fs=fs_hz, output="sos")
    return sos


def group_delay_ms(sos: np.ndarray, freqs_hz: list[float], fs_hz: float) -> float:
    """Largest group delay (ms) of the filter over ``freqs_hz`` (the band the detector relies on)."""
    b, a = signal.sos2tf(sos)
    _, gd = signal.group_delay((b, a), w=np.asarray(freqs_hz, dtype=float), fs=fs_hz)
    return float(np.max(gd)) * 1000.0 / fs_hz


class RWaveTriggerClock:
    """What every R-wave trigger tells the pump about its own timing: the rate it samples
    at, its decision-delay bound, the sample index of the last estimated R peak and how
    many samples it has seen. Subclasses set ``_fs_hz``, ``_decision_delay_bound_ms``,
    ``_last_peak_n`` and ``_n``."""

    _fs_hz: float
    _decision_delay_bound_ms: float
    _last_peak_n: int
    _n: int

    @property
    def fs(self) -> float:
        """Sampling rate (Hz) the filters were designed for."""
        return self._fs_hz

    @property
    def decision_delay_bound_ms(self) -> float:
        """Largest time (ms) from the estimated R peak to the decision, by construction."""
        return self._decision_delay_bound_ms

    @property
    def last_peak_index(self) -> int:
        """Sample index of the most recent estimated R peak (-1 before the first beat)."""
        return self._last_peak_n

    @property
    def sample_count(self) -> int:
        """Number of samples pushed since construction or the last :meth:`reset`."""
        return self._n
