"""Runtime rules: the spec's proved properties, compiled from the spec and checked on telemetry.

Each rule is a small online operator (``reset()`` / ``update(valuation, now_ms)``) with
bounded state and no I/O. Its check is the spec's own property expression, transformed
only by named, documented substitutions (point a variable at the monitor's own
reconstruction, add a tolerance, drop an unobservable conjunct from a conclusion) and
compiled with :func:`iabp.spec.engines.to_python.compile_expr`; no rule is restated by hand. The
valuation comes from :class:`iabp.monitor.reconstruct.reconstruction.Reconstruction` (``x'`` this frame, ``x``
the previous frame, inputs unprimed); STATE properties are evaluated on this frame by
priming every state variable.

Timing is judged with the monitor's OWN R-wave detection (REQ-MON-INDEPENDENT). The
detector decides a beat up to ``detection_delay_ms`` after its R peak, so rules about the
ejection window also keep the frames since the last peak (a bounded ring) and judge
them again, with the new beat's window, when the beat is decided.

Where telemetry cannot show what a property needs, the rule says so and
:data:`UNOBSERVABLE` lists the gap and its reason. :data:`RULES` lists every rule class
with its property, requirement and hazard IDs for the traceability matrix.

The rules live in :mod:`iabp.monitor.rules.timing` (beat timing) and :mod:`iabp.monitor.rules.modes`
(modes, alarms, settings, contraindications), on the base of :mod:`iabp.monitor.rules.base`
and the transforms of :mod:`iabp.monitor.rules.expr`; every name is importable from here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from iabp.monitor.rules.base import CompiledCheck, Outcome, Rule, RuleConfig, Schedule, Verdict
from iabp.monitor.rules.expr import (
    MEASURED_GAS,
    SLOW_KEYS,
    SPEC,
    drop_conjuncts,
    fast_part,
    prime,
    shrink_window,
)
from iabp.monitor.rules.modes import (
    AlarmCauseRule,
    AssistSuspendedRule,
    ContraAbsoluteRule,
    ContraRelativeRule,
    FaultHaltRule,
    IdleAlarmRule,
    InternalDeflatesRule,
    InternalEntryRule,
    InternalExitRule,
    InternalRateRule,
    ModeTableRule,
    NoStartOverAlarmRule,
    SettingsSafeRule,
    StandbyDeflatedRule,
    StopObeyedRule,
)
from iabp.monitor.rules.timing import (
    InflationInDiastoleRule,
    NoGasInEjectionRule,
    RatioRule,
    TriggerFreshRule,
    TriggerLossBoundRule,
    TriggerLossRule,
)
from iabp.spec.engines.to_python import compile_expr
from iabp.spec.expr import INT, TRUE, Const, Expr, Ite

__all__ = [
    "MEASURED_GAS", "RULES", "SLOW_KEYS", "UNOBSERVABLE", "AlarmCauseRule",
    "AssistSuspendedRule", "ContraAbsoluteRule", "ContraRelativeRule", "FaultHaltRule",
    "IdleAlarmRule", "InflationInDiastoleRule", "InternalEntryRule", "InternalExitRule",
    "InternalDeflatesRule",
    "InternalRateRule",
    "ModeTableRule", "NoGasInEjectionRule", "NoStartOverAlarmRule", "Outcome", "RatioRule",
    "Rule", "RuleConfig",
    "RuleSet", "Schedule", "SettingsSafeRule", "StandbyDeflatedRule", "StopObeyedRule",
    "TriggerFreshRule", "TriggerLossBoundRule", "TriggerLossRule", "Unobservable", "Verdict", "drop_conjuncts",
    "fast_part", "prime", "shrink_window", "traceability",
]


def _in_spec(*rules: type[Rule]) -> tuple[type[Rule], ...]:
    ids = {p.id for p in SPEC.properties} | {"MODE_TABLE"}
    return tuple(r for r in rules if r.property_id in ids)


RULES: Final[tuple[type[Rule], ...]] = _in_spec(
    NoGasInEjectionRule, InflationInDiastoleRule, TriggerFreshRule, StandbyDeflatedRule,
    ContraAbsoluteRule, ContraRelativeRule, TriggerLossRule, InternalEntryRule,
    InternalExitRule, FaultHaltRule, RatioRule, SettingsSafeRule, AlarmCauseRule,
    IdleAlarmRule, AssistSuspendedRule, StopObeyedRule, ModeTableRule, NoStartOverAlarmRule,
    TriggerLossBoundRule, InternalRateRule, InternalDeflatesRule,
)
"""Every runtime rule class (``rule_id``, ``property_id``, ``requirements()``, ``hazards()``)."""


@dataclass(frozen=True)
class Unobservable:
    """A property (or part of one) the monitor cannot check from telemetry, and why."""

    property_id: str
    needs: str
    reason: str
    partly_checked_by: tuple[str, ...] = ()


UNOBSERVABLE: Final[tuple[Unobservable, ...]] = (
    Unobservable("P-HALT-LATCH", "the operator's ACKNOWLEDGE key and the fault sensors",
                 "neither is on the wire; HALTED may only go to STANDBY and stays deflated",
                 ("MON-MODE-TABLE", "MON-STANDBY-DEFLATED")),
    Unobservable("P-SETTINGS-REJECT", "the operator's settings request and its values",
                 "requests are not on the wire (only the console's own SETTINGS_REJECTED "
                 "event); what was accepted is checked", ("MON-SETTINGS-SAFE",)),
    Unobservable("P-ALARM-LATCH", "the operator's ACKNOWLEDGE key",
                 "without it an alarm clearing cannot be told from an acknowledged one",
                 ("MON-FAULT-HALT", "MON-CONTRA-ABSOLUTE")),
    Unobservable("P-ALWAYS-STOPPABLE", "the operator's STANDBY key",
                 "not on the wire; the monitor's own STOP is checked instead",
                 ("MON-STOP-OBEYED",)),
    Unobservable("P-INTERNAL-ENTRY", "the operator's START_INTERNAL key",
                 "not on the wire; the no-activity conjuncts are checked",
                 ("MON-INTERNAL-ENTRY",)),
    Unobservable("P-FAULT-HALT", "the fault sensors (gas loss, blood, kink, system fault)",
                 "the console's sensors are not on the wire; their alarm bits are used",
                 ("MON-FAULT-HALT",)),
    Unobservable("P-CONTRA-RELATIVE", "the operator's override key",
                 "not on the wire; the override recorded in the patient profile is used",
                 ("MON-CONTRA-RELATIVE",)),
    Unobservable("P-EARLY-BEAT-BOUND", "nothing: it is a weaker claim than one already checked",
                 "the monitor holds every beat to zero helium in ejection; a runtime rule for "
                 "the bound would let through what the stronger rule stops",
                 ("MON-NO-GAS-IN-EJECTION",)),
    Unobservable("P-ASSIST-EVERY-BEAT", "nothing, but stopping would be the wrong answer",
                 "a monitor that stops the pump because it skipped beats removes the rest of "
                 "the therapy; unassisted beats are checked through the console's own "
                 "assist-suspended alarm instead", ("MON-ASSIST-SUSPENDED",)),
    Unobservable("P-INFLATION-HELD", "nothing, but stopping would be the wrong answer",
                 "an inflation cut short is less therapy, not harm: stopping the pump for it "
                 "would remove the rest; the console's inflation times are in the audit log",
                 ("MON-ASSIST-SUSPENDED",)),
    Unobservable("P-INTERNAL-RESTART", "nothing: it follows from a rule already checked",
                 "the bound holds because internal mode is left on the activity report, which "
                 "MON-INTERNAL-EXIT checks from the monitor's own R peaks (a late exit trips "
                 "it before the bound is reached)", ("MON-INTERNAL-EXIT",)),
    Unobservable("P-SETTINGS-BOUNDS", "nothing: it follows from a rule already checked",
                 "the validator's ranges, which MON-SETTINGS-SAFE checks on every SETTINGS "
                 "record, lie inside these limits (that is what the property proves)",
                 ("MON-SETTINGS-SAFE",)),
    Unobservable("P-START-TAKES-EFFECT", "the operator's START_* keys and override",
                 "not on the wire; a start the console refused is seen as no mode change, "
                 "and stopping the pump for it would be the wrong answer",
                 ("MON-MODE-TABLE",)),
    Unobservable("P-TRIGGER-LOSS-CAUSE", "nothing, but stopping would be the wrong answer",
                 "a trigger-loss alarm without its cause is the console stopping therapy by "
                 "itself; the monitor stopping it too adds nothing (the alarm bit and the "
                 "monitor's own R peaks are both in the audit log)", ("MON-TRIGGER-LOSS",)),
    Unobservable("P-IDLE-ALARM-CAUSE", "nothing, but stopping would be the wrong answer",
                 "an early idle alarm is a nuisance, not harm; the balloon is already still "
                 "and the alarm bit is in the audit log", ("MON-IDLE-ALARM",)),
    Unobservable("MODE_TABLE guards", "operator keys and fault sensors in the guards",
                 "only source -> destination pairs are checked", ("MON-MODE-TABLE",)),
)


def traceability() -> list[dict[str, Any]]:
    """One row per rule: rule, property, requirements, hazards, how it was adapted."""
    return [{"rule": r.rule_id, "property": r.property_id, "requirements": r.requirements(),
             "hazards": r.hazards(), "adaptation": r.adaptation} for r in RULES]


# -- all rules, scheduled -------------------------------------------------------------------

_NO_VIOLATIONS: Final[tuple[Verdict, ...]] = ()
_NO_RULES: Final[tuple[Rule, ...]] = ()


class RuleSet:
    """Every rule, called only on the frames where it can change its verdict.

    On frames flagged ``mon_changed`` by the reconstruction (a mode, command, alarm or
    settings change, or an own detection), and on the frame after (a transition's ``x``
    catches up), every rule runs. On other frames only EVERY_FRAME rules can change
    their verdict: their :meth:`Rule.quiet_expr` are compiled into ONE function that
    returns a bit mask of the rules whose quiet condition fails, and only those run.
    Rules inside a violation episode run every frame until it ends. :meth:`update`
    returns the violations of the frame (usually none).
    """

    def __init__(self, rules: Sequence[Rule] | None = None,
                 config: RuleConfig | None = None) -> None:
        self.rules: tuple[Rule, ...] = tuple(rules) if rules is not None else tuple(
            cls(config) for cls in RULES)
        every = [r for r in self.rules if r.schedule & Schedule.EVERY_FRAME]
        quiet = [r.quiet_expr() for r in every]
        self._loud = tuple(r for r, q in zip(every, quiet, strict=True) if q is None)
        self._fused = tuple(r for r, q in zip(every, quiet, strict=True) if q is not None)
        mask: Expr = Const(0, INT)
        for bit, q in enumerate(q for q in quiet if q is not None):
            if q != TRUE:
                mask = mask + Ite(q, 0, 1 << bit)
        self._mask: CompiledCheck = compile_expr(mask)
        self._by_mask: dict[int, tuple[Rule, ...]] = {}
        self.reset()

    def _rules_for(self, mask: int) -> tuple[Rule, ...]:
        rules = self._by_mask.get(mask)
        if rules is None:
            picked = tuple(r for i, r in enumerate(self._fused) if mask >> i & 1)
            rules = self._by_mask[mask] = (*self._loud, *picked)
        return rules

    def reset(self) -> None:
        for r in self.rules:
            r.reset()
        self._was_changed = True
        self._pending: tuple[Rule, ...] = ()
        self.last_verdicts: dict[str, Verdict] = {}

    def update(self, v: Mapping[str, Any], now_ms: int) -> Sequence[Verdict]:
        """Judge one frame; return its violations."""
        changed = v["mon_changed"]
        rules: Sequence[Rule]
        if changed or self._was_changed:
            rules = self.rules
        else:
            mask = self._mask(v)
            rules = self._rules_for(mask) if mask or self._loud else _NO_RULES
            if self._pending:
                rules = (*rules, *[r for r in self._pending if r not in rules])
        self._was_changed = changed
        if not rules:
            return _NO_VIOLATIONS
        out: list[Verdict] | None = None
        pending: list[Rule] | None = None
        violated = Outcome.VIOLATED
        for r in rules:
            verdict = r.update(v, now_ms)
            if verdict.outcome is violated:
                if out is None:
                    out = []
                out.append(verdict)
                self.last_verdicts[r.rule_id] = verdict
            if r.active or verdict.outcome is Outcome.PENDING:
                if pending is None:
                    pending = []
                pending.append(r)
        self._pending = tuple(pending) if pending else ()
        return out if out is not None else _NO_VIOLATIONS
