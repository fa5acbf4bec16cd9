"""Beat-timing rules: the balloon must follow the heart, judged by the monitor's own beats.

No helium in the balloon while the ventricle ejects, inflation only in diastole and only
on a beat the monitor itself saw, the balloon off and the trigger-loss alarm on when the
own triggers stop, and inflation no more often than the assist ratio allows (1:N own
beats). Each is the spec's property on the monitor's OWN R-wave timing
(REQ-MON-INDEPENDENT), with the detection tolerances of :class:`RuleConfig`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from iabp.monitor.rules.base import Outcome, RetroRule, Rule, RuleConfig, Schedule, Verdict
from iabp.monitor.rules.expr import MEASURED_GAS, SPEC, prime
from iabp.spec import assumptions as A
from iabp.spec.expr import And, Expr, Not
from iabp.spec.modes import Mode
from iabp.spec.walker import substitute

NO_INFLATION_YET: Final = "no inflation observed yet"  #: why MON-RATIO does not judge yet


class NoGasInEjectionRule(RetroRule):
    """P-NO-GAS-IN-EJECTION: no helium in the balloon while the ventricle ejects.

    Judged twice per frame with the spec's formula: on the COMMAND history (the spec's
    plant: gas from ``GAS_INFLATE_LAG_MIN_MS`` after inflate, up to
    ``GAS_DEFLATE_MAX_MS`` after deflate) and on the MEASURED balloon state (the same
    plant run on "the gas line shows gas"). The ejection window is the own-detected beat's
    judged window for its measured R-R (``iabp.spec.monitor_rules.judged_pep_ms`` ..
    ``judged_qs2_ms``) from its own QRS-onset estimate, shrunk by ``onset_tolerance_ms``.
    """

    rule_id = "MON-NO-GAS-IN-EJECTION"
    property_id = "P-NO-GAS-IN-EJECTION"

    def risk(self, cfg: RuleConfig) -> Expr:
        p = SPEC.property(self.property_id)
        return Not(prime(And(p.conclusion, substitute(p.conclusion, MEASURED_GAS))))


class InflationInDiastoleRule(RetroRule):
    """P-INFL-DIASTOLE: the inflate command turns on only after the end of ejection
    (the earliest helium arrival at or after the own-detected beat's latest valve closure)."""

    rule_id = "MON-INFL-DIASTOLE"
    property_id = "P-INFL-DIASTOLE"
    schedule = Schedule.ON_CHANGE | Schedule.ON_BEAT  # its premise is a rising command

    def risk(self, cfg: RuleConfig) -> Expr:
        return SPEC.property(self.property_id).premise


class TriggerFreshRule(RetroRule):
    """P-TRIGGER-FRESH: inflation only in a beat the MONITOR saw (its own R wave, or its
    own upstroke in pressure mode), never after a missed beat or before the decision."""

    rule_id = "MON-TRIGGER-FRESH"
    property_id = "P-TRIGGER-FRESH"
    schedule = Schedule.ON_CHANGE | Schedule.ON_BEAT  # its premise is a rising command

    def risk(self, cfg: RuleConfig) -> Expr:
        return SPEC.property(self.property_id).premise


class TriggerLossRule(Rule):
    """P-TRIGGER-LOSS with the monitor's own triggers: in a trigger mode, no own R wave (or
    upstroke) for the trigger-loss timeout plus the detection tolerance means the balloon
    must be off and the trigger-loss alarm on."""

    rule_id = "MON-TRIGGER-LOSS"
    property_id = "P-TRIGGER-LOSS"

    def tolerance_for(self, cfg: RuleConfig) -> int:
        return cfg.detection_tolerance_ms // A.TICK_MS


class TriggerLossBoundRule(Rule):
    """P-TRIGGER-LOSS-BOUND with the monitor's own triggers: whatever the settings, no own R
    wave (or upstroke) for the requirement's bound means the balloon must be off and the
    trigger-loss alarm on (judged after the detection tolerance)."""

    rule_id = "MON-TRIGGER-LOSS-BOUND"
    property_id = "P-TRIGGER-LOSS-BOUND"

    def tolerance_for(self, cfg: RuleConfig) -> int:
        return cfg.detection_tolerance_ms // A.TICK_MS


class RatioRule(Rule):
    """P-RATIO with own-detected beats: each inflation in a trigger mode is preceded, since
    the previous one, by at least N own beats (judged from the second observed inflation,
    counting from one that came once the own detectors had learnt: a monitor started beside
    a pumping console does not blame the console for the beats it could not yet see)."""

    rule_id = "MON-RATIO"
    property_id = "P-RATIO"
    schedule = Schedule.ON_CHANGE

    def quiet_expr(self) -> Expr | None:
        return None

    def reset(self) -> None:
        super().reset()
        self._seen_rise = False

    def not_judged(self, v: Mapping[str, Any], now_ms: int) -> str | None:
        return None if self._seen_rise else NO_INFLATION_YET

    def update(self, v: Mapping[str, Any], now_ms: int) -> Verdict:
        if not self._seen_rise:
            # the count starts at an inflation the own beat detector can count from: in
            # pressure mode once the upstroke detector has first learnt (it reports none
            # while learning; the R-wave detector reports provisional beats): beats it
            # could not see are no fault of the console
            if v["inflate_cmd'"] and not v["inflate_cmd"] and (
                    v["mon_upstrokes_visible"] or v["mode'"] is not Mode.PRESSURE_TRIGGER):
                self._seen_rise = True
            return Verdict(Outcome.UNKNOWN, self.rule_id, self.property_id, now_ms,
                           NO_INFLATION_YET)
        return super().update(v, now_ms)
