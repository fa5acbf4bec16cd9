"""The balloon as measured: is there helium in it, read off the gas line pressure.

The monitor does not take the inflate command as proof the balloon is empty: the
helium line pressure standing above its learned resting baseline means gas was pushed
into the balloon; once it falls, the spec's deflation bound runs from there (the
measured plant in :mod:`iabp.monitor.reconstruct.layout`). No gas signal counts as holding
gas (HZ-BLIND).

:class:`MeasuredBalloon` is an online operator that owns its state;
:class:`iabp.monitor.reconstruct.reconstruction.Reconstruction` owns one, resets it and
calls :meth:`MeasuredBalloon.update` once per frame.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Final

from iabp.monitor.protocol import NOT_AVAILABLE, TelemetryFrame
from iabp.monitor.reconstruct.config import ReconstructionConfig
from iabp.spec import assumptions as A
from iabp.spec.environment import GAS_TIMER_CAP_MS
from iabp.spec.modes import STOPPED_MODES, Mode

#: ms the line pressure has been at rest at start: long past any settle time
_QUIET_AT_START_MS: Final = 1 << 20


class BalloonState(Enum):
    """The balloon as the monitor reads it off the helium line pressure."""

    EMPTY = "empty"  #: no gas: the deflation bound has passed since the plateau ended
    INFLATED = "inflated"  #: pressure above its resting baseline: gas in the balloon
    DEFLATING = "deflating"  #: plateau ended less than GAS_DEFLATE_MAX_MS ago, or undershoot
    UNKNOWN = "unknown"  #: no gas pressure signal (NA): counted as holding gas


class MeasuredBalloon:
    """Measured balloon state (gas line pressure vs its learned baseline), an online operator.

    :meth:`update` takes one TELEMETRY frame and writes ``mon_gas_inflated`` (last frame)
    and ``mon_gas_inflated'`` (this frame) of the valuation, the input of the spec's plant
    run on the measured balloon; :meth:`state` reads the result; :meth:`reset` forgets
    the learned baseline.
    """

    def __init__(self, config: ReconstructionConfig) -> None:
        self.config = config
        self._band, self._settle = config.gas_band_mmhg, config.gas_settle_ms
        self.reset()

    def reset(self) -> None:
        """Forget the learned baseline and the gas history (as at monitor start)."""
        self._baseline = self.config.gas_baseline_mmhg
        self._baseline_learned = False
        self._gas_na = False
        self._undershoot = False
        self._gas_quiet_ms = _QUIET_AT_START_MS

    @property
    def baseline_mmhg(self) -> float:
        """Resting helium line pressure as learned (mmHg)."""
        return self._baseline

    def state(self, v: dict[str, Any]) -> BalloonState:
        """The balloon as measured on the helium line in the frame of valuation ``v``."""
        if self._gas_na:
            return BalloonState.UNKNOWN
        if v["mon_gas_inflated'"]:
            return BalloonState.INFLATED
        if self._undershoot or (v["mon_gas_filled'"]
                                and v["mon_gas_timer_ms'"] < A.GAS_DEFLATE_MAX_MS):
            return BalloonState.DEFLATING
        return BalloonState.EMPTY

    def update(self, f: TelemetryFrame, mode: Mode, v: dict[str, Any]) -> None:
        """Measured balloon state from the helium line pressure (input of the measured plant).

        "Inflated" means the line pressure stands above its resting baseline (gas pushed
        into the balloon); once it falls, the spec's deflation bound runs from there. The
        undershoot while the gas rushes back is part of that deflation, shown as
        DEFLATING but not counted twice.
        """
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
        if not self._baseline_learned and mode in STOPPED_MODES:
            self._baseline, self._baseline_learned = p, True
        else:
            self._baseline += self.config.gas_baseline_gain * (p - self._baseline)
