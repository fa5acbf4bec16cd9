"""The balloon as measured: is there helium in it, read off the gas line pressure.

The monitor does not take the inflate command as proof the balloon is empty: the
helium line pressure standing above its learned resting baseline means gas was pushed
into the balloon; once it falls, the spec's deflation bound runs from there (the
measured plant in :mod:`monitor.reconstruct_layout`). No gas signal counts as holding
gas (HZ-BLIND). :class:`MeasuredBalloon` is a part of
:class:`monitor.reconstruct.Reconstruction`, which owns and resets its state.
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Any, Final

from monitor.protocol import NOT_AVAILABLE, TelemetryFrame
from spec import assumptions as A
from spec.environment import GAS_TIMER_CAP_MS
from spec.modes import Mode

if TYPE_CHECKING:
    from monitor.reconstruct import ReconstructionConfig

_STOPPED_MODES: Final = (Mode.STANDBY, Mode.HALTED)


class BalloonState(Enum):
    """The balloon as the monitor reads it off the helium line pressure."""

    EMPTY = "empty"  #: no gas: the deflation bound has passed since the plateau ended
    INFLATED = "inflated"  #: pressure above its resting baseline: gas in the balloon
    DEFLATING = "deflating"  #: plateau ended less than GAS_DEFLATE_MAX_MS ago, or undershoot
    UNKNOWN = "unknown"  #: no gas pressure signal (NA): counted as holding gas


class MeasuredBalloon:
    """Measured balloon state of a reconstruction (gas line pressure vs its baseline)."""

    config: ReconstructionConfig
    valuation: dict[str, Any]
    _gas_na: bool
    _undershoot: bool
    _baseline: float
    _baseline_learned: bool
    _band: float
    _settle: int
    _gas_quiet_ms: int

    @property
    def balloon_state(self) -> BalloonState:
        """The balloon as measured on the helium line in the current frame."""
        v = self.valuation
        if self._gas_na:
            return BalloonState.UNKNOWN
        if v["mon_gas_inflated'"]:
            return BalloonState.INFLATED
        if self._undershoot or (v["mon_gas_filled'"]
                                and v["mon_gas_timer_ms'"] < A.GAS_DEFLATE_MAX_MS):
            return BalloonState.DEFLATING
        return BalloonState.EMPTY

    @property
    def gas_baseline_mmhg(self) -> float:
        """Resting helium line pressure as learned (mmHg)."""
        return self._baseline

    def _balloon(self, f: TelemetryFrame, mode: Mode) -> None:
        """Measured balloon state from the helium line pressure (input of the measured plant).

        "Inflated" means the line pressure stands above its resting baseline (gas pushed
        into the balloon); once it falls, the spec's deflation bound runs from there. The
        undershoot while the gas rushes back is part of that deflation, shown as
        DEFLATING but not counted twice.
        """
        v = self.valuation
        raw = f.balloon_pressure_mmhg_x10
        if raw == NOT_AVAILABLE:
            self._gas_na = True
            inflated = True  # blind to the balloon: count it as holding gas (HZ-BLIND)
        else:
            self._gas_na = False
            off = raw * 0.1 - self._baseline
            band = self._band
            self._undershoot = off < -band
            if off > band:
                self._gas_quiet_ms = 0
                inflated = True
            else:
                self._gas_quiet_ms += 1
                inflated = self._gas_quiet_ms < self._settle
                if not (inflated or self._undershoot or f.inflate) \
                        and v["gas_timer_ms'"] >= GAS_TIMER_CAP_MS:
                    self._learn_baseline(raw * 0.1, mode)
        v["mon_gas_inflated"] = v["mon_gas_inflated'"]
        v["mon_gas_inflated'"] = inflated

    def _learn_baseline(self, p: float, mode: Mode) -> None:
        """Track the resting line pressure (balloon commanded empty, line at rest)."""
        if not self._baseline_learned and mode in _STOPPED_MODES:
            self._baseline, self._baseline_learned = p, True
        else:
            self._baseline += self.config.gas_baseline_gain * (p - self._baseline)
