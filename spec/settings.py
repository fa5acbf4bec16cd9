"""The operator's settings: units, ranges, defaults, and the validator that guards changes.

Each setting is a controller state variable that changes only through the validator
(REQ-SETTINGS-SAFE): a requested value is applied only if every validator clause holds,
otherwise it is rejected with the clauses' reasons. The proofs hold for every setting
the validator accepts, so the validator's clauses are exactly the conditions the proofs
need on the settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from iabp.spec.assumptions import (
    ECG_DEFLATION_LEAD_MIN_MS,
    GAS_DEFLATE_MAX_MS,
    GAS_INFLATE_LAG_MIN_MS,
    PRESSURE_DEFLATION_LEAD_MIN_MS,
    R_DETECT_JITTER_MS,
    TRIGGER_TIMER_CAP_MS,
)
from iabp.spec.expr import INT, And, Between, Expr, Var
from iabp.spec.timing import RR_MAX_MS


@dataclass(frozen=True)
class Setting:
    """One operator setting: a whole number in ``[lo, hi]`` (its unit in the name)."""

    name: str
    unit: str
    lo: int
    hi: int
    default: int
    meaning: str

    @property
    def var(self) -> Var:
        """The controller state variable holding the setting in force."""
        return Var(f"set_{self.name}", INT)

    @property
    def request(self) -> Var:
        """The input carrying a requested new value (read when ``set_request`` is true)."""
        return Var(f"req_{self.name}", INT)


SETTINGS: tuple[Setting, ...] = (
    Setting("assist_ratio", "1:N", 1, 3, 1, "assist one beat in N (1:1, 1:2, 1:3)"),
    Setting("inflation_offset_ms", "ms", -100, 200, 0,
            "inflate this much after the latest end of ejection predicted for the rate "
            "(negative: earlier, to allow for helium transit)"),
    Setting("ecg_deflation_lead_ms", "ms", 0, 400, ECG_DEFLATION_LEAD_MIN_MS + 10,
            "ECG trigger: deflate this long before the predicted end of the next "
            "pre-ejection period"),
    Setting("pressure_deflation_lead_ms", "ms", 0, 600, PRESSURE_DEFLATION_LEAD_MIN_MS + 10,
            "pressure trigger: deflate this long before the predicted next upstroke"),
    Setting("trigger_loss_timeout_ms", "ms", 500, TRIGGER_TIMER_CAP_MS - 1, 2500,
            "no trigger for this long: stop pumping, deflate, alarm"),
    Setting("idle_limit_ms", "ms", 10_000, 1_800_000, 300_000,
            "balloon left still in standby for this long raises the idle alarm"),
    Setting("internal_period_ms", "ms", 500, 1500, 750,
            "internal (asynchronous) mode: one inflation every this many ms (40-120 /min)"),
    Setting("internal_inflation_ms", "ms", 100, 1000, 300,
            "internal mode: how long each inflation lasts"),
)


@dataclass(frozen=True)
class ValidatorClause:
    """One condition a settings change must meet, with the reason shown when it fails."""

    id: str
    reason: str
    holds: Expr


def _clauses(v: Mapping[str, Expr]) -> list[ValidatorClause]:
    ranges = [
        ValidatorClause(f"RANGE-{s.name}", f"{s.name} must lie in [{s.lo}, {s.hi}] {s.unit}",
                        Between(v[s.name], s.lo, s.hi))
        for s in SETTINGS
    ]
    return [
        *ranges,
        ValidatorClause(
            "SAFE-INFLATION-OFFSET",
            f"inflation_offset_ms below -{GAS_INFLATE_LAG_MIN_MS} would let helium reach the "
            "balloon before the aortic valve closes (early inflation)",
            v["inflation_offset_ms"] >= -GAS_INFLATE_LAG_MIN_MS),
        ValidatorClause(
            "SAFE-ECG-DEFLATION-LEAD",
            f"ecg_deflation_lead_ms below {ECG_DEFLATION_LEAD_MIN_MS} cannot empty the balloon "
            "before the next ejection under the detector and gas bounds (late deflation)",
            v["ecg_deflation_lead_ms"] >= ECG_DEFLATION_LEAD_MIN_MS),
        ValidatorClause(
            "SAFE-PRESSURE-DEFLATION-LEAD",
            f"pressure_deflation_lead_ms below {PRESSURE_DEFLATION_LEAD_MIN_MS} cannot empty the "
            "balloon before the next ejection (late deflation)",
            v["pressure_deflation_lead_ms"] >= PRESSURE_DEFLATION_LEAD_MIN_MS),
        ValidatorClause(
            "SAFE-LOSS-TIMEOUT",
            f"trigger_loss_timeout_ms must exceed the slowest R-R ({RR_MAX_MS} ms) plus the "
            f"detector jitter ({R_DETECT_JITTER_MS} ms), or a slow heart raises false alarms",
            v["trigger_loss_timeout_ms"] > RR_MAX_MS + R_DETECT_JITTER_MS),
        ValidatorClause(
            "SAFE-INTERNAL-DEFLATION",
            f"internal_inflation_ms must leave {GAS_DEFLATE_MAX_MS} ms per period to empty the "
            "balloon",
            v["internal_inflation_ms"] + GAS_DEFLATE_MAX_MS < v["internal_period_ms"]),
    ]


def validator_clauses_for(values: Mapping[str, Expr]) -> list[ValidatorClause]:
    """The validator's clauses over the given setting expressions (by setting name)."""
    return _clauses(values)


def current_settings() -> dict[str, Expr]:
    """The settings in force, as state variables."""
    return {s.name: s.var for s in SETTINGS}


def requested_settings() -> dict[str, Expr]:
    """The requested settings, as inputs."""
    return {s.name: s.request for s in SETTINGS}


def settings_valid(values: Mapping[str, Expr]) -> Expr:
    """All validator clauses over ``values``."""
    return And(*[c.holds for c in _clauses(values)])


DEFAULT_SETTINGS: dict[str, int] = {s.name: s.default for s in SETTINGS}
