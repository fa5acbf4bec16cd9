"""Runtime rules: the spec's proved properties, compiled from the spec and checked on telemetry.

Each rule is a small online operator (``reset()`` / ``update(valuation, now_ms)``) with
bounded state and no I/O. Its check is the spec's own property expression, transformed
only by named, documented substitutions (point a variable at the monitor's own
reconstruction, add a tolerance, drop an unobservable conjunct from a conclusion) and
compiled with :func:`controller.compile.compile_expr`; no rule is restated by hand. The
valuation comes from :class:`monitor.reconstruct.Reconstruction` (``x'`` this frame, ``x``
the previous frame, inputs unprimed); STATE properties are evaluated on this frame by
priming every state variable.

Timing is judged with the monitor's OWN R-wave detection (REQ-MON-INDEPENDENT). The
detector decides a beat up to ``detection_delay_ms`` after its R peak, so rules about the
ejection window also keep the frames since the last peak (a bounded ring) and judge
them again, with the new beat's window, when the beat is decided.

Where telemetry cannot show what a property needs, the rule says so and
:data:`UNOBSERVABLE` lists the gap and its reason. :data:`RULES` lists every rule class
with its property, requirement and hazard IDs for the traceability matrix.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum, IntFlag
from operator import itemgetter
from typing import Any, ClassVar, Final

from controller.compile import compile_expr
from controller.settings_validator import SettingsValidator
from monitor.reconstruct import substitute
from spec import assumptions as A
from spec.controller_step import ALARM_VARS, HIGH_FAULT_INPUTS, is_stopped
from spec.environment import balloon_may_hold_gas
from spec.expr import (
    BOOL,
    FALSE,
    INT,
    TRUE,
    And,
    Const,
    Expr,
    Implies,
    Ite,
    Not,
    Op,
    Or,
    Var,
    free_vars,
)
from spec.iabp import iabp_spec
from spec.mode_table import MODE_TABLE
from spec.modes import Mode
from spec.settings import SETTINGS
from spec.system import Property, PropertyKind

_SPEC = iabp_spec()
_INPUTS: Final = frozenset(i.name for i in _SPEC.inputs)
_HEART_KEYS: Final = ("heart_t_ms'", "heart_pep_ms'", "heart_qs2_ms'", "heart_silent'",
                      "r_wave_seen'")

#: Valuation keys that change only when the console's commanded state changes (mode,
#: balloon command, alarm mask, settings) or on a monitor event; rules that read only
#: these need judging only on frames flagged ``mon_changed`` and the frame after.
SLOW_KEYS: Final = frozenset(
    k for base in ("mode", "inflate_cmd", *ALARM_VARS, *(s.var.name for s in SETTINGS),
                   "mon_stop_sent")
    for k in (base, base + "'")) | frozenset(
    ("contra_absolute", "contra_relative", "contra_override", "r_wave", "upstroke", "notch",
     "activity", "mon_beat", "mon_activity_late"))


# -- verdicts -------------------------------------------------------------------------------


class Outcome(Enum):
    """A rule's judgement of one frame (never a bare bool)."""

    HOLDS = "holds"
    PENDING = "pending"  #: violated, but still within the rule's reaction tolerance
    VIOLATED = "violated"
    UNKNOWN = "unknown"  #: cannot be judged yet (no own beat timing, no history)


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a rule says about the frame at ``at_ms`` (ms of telemetry)."""

    outcome: Outcome
    rule_id: str
    property_id: str
    at_ms: int = 0
    detail: str = ""

    @property
    def violated(self) -> bool:
        return self.outcome is Outcome.VIOLATED


class Schedule(IntFlag):
    """When a :class:`RuleSet` must call a rule (a rule alone may be called every frame)."""

    EVERY_FRAME = 1  #: reads quantities that change every frame (timers, heart time)
    ON_CHANGE = 2  #: reads only SLOW_KEYS: judge on changed frames and the frame after
    ON_BEAT = 4  #: re-judges past frames when an own beat is decided


@dataclass(frozen=True)
class RuleConfig:
    """Tolerances of the rules, named with units; defaults from ``spec.assumptions``.

    * ``reaction_frames`` (frame jitter): a console reaction the spec puts in the same
      tick may show in the telemetry this many frames late (alarm -> HALTED, ...).
    * ``detection_tolerance_ms``: spread between the console's and the monitor's R-wave
      decisions for the same beat (the detector jitter, ASM-R-DETECT).
    * ``detection_delay_ms``: longest own decision delay after the R peak: frames this
      far back are judged again when a beat is decided (bounds the retro ring).
    * ``peak_tolerance_ms``: error of the own R-peak estimate; the ejection window is
      shrunk by it at both ends (the console's inflation offset may be -20 ms).
    * ``gas_trace_tolerance_ms`` (pressure-trace delay): the helium line may show gas
      moving this much longer than the balloon holds it (transit, transducer settling).
    * ``stop_tolerance_ms``: STOP sent -> STANDBY and deflated seen in telemetry (one
      tick on the console, plus the round trip of a busy serial line).
    * ``settings_grace_ms``: settings in force may be unconfirmed this long (the console
      sends SETTINGS on every change and at least once per 1000 ms).
    * ``warmup_beats``: own beats needed before timing rules judge (one R-R measured).
    """

    reaction_frames: int = A.TICK_MS
    detection_tolerance_ms: int = A.R_DETECT_JITTER_MS
    detection_delay_ms: int = 2 * A.R_DETECT_DELAY_MAX_MS + A.R_DETECT_JITTER_MS
    peak_tolerance_ms: int = A.PEP_STEP_MAX_MS
    gas_trace_tolerance_ms: int = A.GAS_DEFLATE_MAX_MS
    stop_tolerance_ms: int = 50
    settings_grace_ms: int = 2000
    warmup_beats: int = 2


# -- expression transforms (each keeps the spec's rule, only re-points or weakens it) -------


def prime(e: Expr) -> Expr:
    """A STATE property evaluated on this frame: every state variable read as ``x'``."""
    keys = {k: Var(k, s, True) for n in _walk_vars(e) if not n.primed and n.name not in _INPUTS
            for k, s in [(n.name, n.sort)]}
    return substitute(e, keys)


def _walk_vars(e: Expr) -> list[Var]:
    if isinstance(e, Var):
        return [e]
    if isinstance(e, Op):
        return [v for a in e.args for v in _walk_vars(a)]
    return []


def drop_conjuncts(e: Expr, names: frozenset[str]) -> Expr:
    """Weaken a conclusion: drop each conjunct that reads one of ``names`` (unobservable)."""
    if isinstance(e, Op) and e.op == "and":
        kept = [a for a in e.args if not {k.rstrip("'") for k in free_vars(a)} & names]
        return And(*kept) if kept else TRUE
    return TRUE if {k.rstrip("'") for k in free_vars(e)} & names else e


def shrink_window(e: Expr, tol_ms: int) -> Expr:
    """The ejection window (R + PEP .. R + QS2) shrunk by ``tol_ms`` at both ends."""
    pep, qs2 = Var("heart_pep_ms", INT, True), Var("heart_qs2_ms", INT, True)
    return substitute(e, {pep.key: pep + tol_ms, qs2.key: qs2 - tol_ms})


def _gate(premise: Expr) -> str | None:
    """A Boolean variable that is a conjunct of ``premise``: while it is False the
    implication holds and the compiled check can be skipped."""
    stack, found = [premise], []
    while stack:
        node = stack.pop()
        if isinstance(node, Op) and node.op == "and":
            stack.extend(node.args)
        elif isinstance(node, Var) and node.sort == BOOL:
            found.append(node.key)
    return found[0] if found else None


def fast_part(e: Expr) -> Expr:
    """The conjuncts of ``e`` that read some key outside SLOW_KEYS (TRUE if none does)."""
    parts = e.args if isinstance(e, Op) and e.op == "and" else (e,)
    fast = [p for p in parts if free_vars(p) - SLOW_KEYS]
    return And(*fast) if fast else TRUE


MEASURED_GAS: Final[dict[str, Expr]] = {
    "inflate_cmd": Var("mon_gas_inflated", BOOL), "gas_timer_ms": Var("mon_gas_timer_ms", INT),
    "gas_filled": Var("mon_gas_filled", BOOL),
}
"""The spec's plant variables pointed at the balloon state measured on the gas line."""

_Fn = Callable[[Mapping[str, Any]], Any]


# -- the rule base --------------------------------------------------------------------------


class Rule:
    """One runtime rule: ``premise => conclusion`` of a spec property, compiled.

    Subclasses set the IDs, build :attr:`formula` from the spec in :meth:`build` and may
    extend :meth:`update`. ``update`` returns a :class:`Verdict`; a violation is reported
    once per onset (PENDING while inside the reaction tolerance, VIOLATED when it runs out).
    """

    rule_id: ClassVar[str]
    property_id: ClassVar[str]
    schedule: ClassVar[Schedule] = Schedule.EVERY_FRAME
    tolerance_frames: ClassVar[int] = 0  #: frames a violation may last before it counts
    #: How the spec property was adapted to telemetry, for the report.
    adaptation: ClassVar[str] = "as proved"

    #: Valuation keys read besides those of :attr:`formula`.
    extra_reads: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, config: RuleConfig | None = None) -> None:
        self.config = config or RuleConfig()
        self.formula: Expr = self.build(self.config)
        self.reads: frozenset[str] = frozenset(free_vars(self.formula)) | self.extra_reads
        self._check: _Fn = compile_expr(self.formula)
        premise = self.formula.args[0] if isinstance(self.formula, Op) and \
            self.formula.op == "implies" else TRUE
        self._gate_key = _gate(premise)
        self._get = itemgetter(*sorted(self.reads)) if self.reads else None
        self.tolerance = self.tolerance_for(self.config)
        self.ok = Verdict(Outcome.HOLDS, self.rule_id, self.property_id)
        self.reset()

    def tolerance_for(self, cfg: RuleConfig) -> int:
        """Frames a violation may last before it counts (default: ``tolerance_frames``)."""
        return self.tolerance_frames

    @property
    def spec_property(self) -> Property | None:
        """The proved property this rule checks (None for monitor-only rules)."""
        ids = {p.id for p in _SPEC.properties}
        return _SPEC.property(self.property_id) if self.property_id in ids else None

    @classmethod
    def requirements(cls) -> tuple[str, ...]:
        ids = {p.id for p in _SPEC.properties}
        return _SPEC.property(cls.property_id).requirements if cls.property_id in ids else ()

    @classmethod
    def hazards(cls) -> tuple[str, ...]:
        ids = {p.id for p in _SPEC.properties}
        return _SPEC.property(cls.property_id).hazards if cls.property_id in ids else ()

    def build(self, cfg: RuleConfig) -> Expr:
        """The expression this rule checks (from the spec property)."""
        p = _SPEC.property(self.property_id)
        f = p.formula
        return prime(f) if p.kind is PropertyKind.STATE else f

    def quiet_expr(self) -> Expr | None:
        """An expression that, on a frame without ``mon_changed``, guarantees :meth:`update`
        returns HOLDS (or UNKNOWN) without changing the rule's state; None if there is none.
        A :class:`RuleSet` checks all of them in one compiled call per frame.

        Conjuncts of the formula that read only SLOW_KEYS are left out: they can change
        only on frames the RuleSet judges in full (a violation of one keeps the rule
        :attr:`active`, so it is judged every frame until it ends).
        """
        return fast_part(self.formula)

    @property
    def active(self) -> bool:
        """Inside a violation episode: must be judged every frame until it ends."""
        return self._streak > 0

    def reset(self) -> None:
        """Forget all history (as at monitor start)."""
        self._streak = 0

    def update(self, v: Mapping[str, Any], now_ms: int) -> Verdict:
        """Judge the frame whose valuation is ``v`` (ms of telemetry ``now_ms``)."""
        gate = self._gate_key
        if (gate is not None and not v[gate]) or self._check(v):
            self._streak = 0
            return self.ok
        return self._failed(v, now_ms, "")

    def _failed(self, v: Mapping[str, Any], now_ms: int, why: str) -> Verdict:
        self._streak += 1
        if self._streak <= self.tolerance:
            return Verdict(Outcome.PENDING, self.rule_id, self.property_id, now_ms, why)
        if self._streak > self.tolerance + 1:
            return self.ok  # the same violation, already reported at its onset
        return Verdict(Outcome.VIOLATED, self.rule_id, self.property_id, now_ms,
                       (why + "; " if why else "") + self.describe(v))

    def describe(self, v: Mapping[str, Any]) -> str:
        """The values this rule read, for the alarm text and the audit record."""
        parts = []
        for k in sorted(self.reads):
            x = v.get(k)
            parts.append(f"{k}={x.name if isinstance(x, Enum) else x}")
        return " ".join(parts)


class _RetroRule(Rule):
    """A timing rule judged again on past frames when an own beat is decided.

    Frames on which the heart-free part of the check could fail are kept (at most
    ``detection_delay_ms`` of them); when the detector decides a beat, those after its
    R peak are judged with the new beat's timing (``heart_t_ms'`` from its peak).
    """

    schedule = Schedule.EVERY_FRAME | Schedule.ON_BEAT

    def __init__(self, config: RuleConfig | None = None) -> None:
        super().__init__(config)
        # 0: not at risk; 1: at risk, holds; 2: at risk, violated (one compiled call)
        self._code: _Fn = compile_expr(Ite(self.risk(self.config),
                                           Ite(self.formula, 1, 2), 0))
        self._keep = tuple(sorted(self.reads - set(_HEART_KEYS)))
        self._snap = itemgetter(*self._keep)
        self._scratch: dict[str, Any] = {}

    def risk(self, cfg: RuleConfig) -> Expr:
        """True on frames that may violate the rule whatever the heart does."""
        raise NotImplementedError

    def quiet_expr(self) -> Expr | None:
        # Not at risk and (a changed frame aside) no beat: nothing to keep or judge.
        return Not(self.risk(self.config))

    def reset(self) -> None:
        super().reset()
        self._ring: deque[tuple[int, tuple[Any, ...]]] = deque(
            maxlen=self.config.detection_delay_ms)
        self._reported_ms = -1

    def update(self, v: Mapping[str, Any], now_ms: int) -> Verdict:
        if v["mon_beats_seen"] < self.config.warmup_beats:
            return Verdict(Outcome.UNKNOWN, self.rule_id, self.property_id, now_ms,
                           "no own R-R measured yet")
        verdict = self._rejudge(v, now_ms) if v["mon_beat"] else self.ok
        code = self._code(v)
        if code:
            self._ring.append((now_ms, self._snap(v)))
            if code == 2 and verdict is self.ok:
                verdict = self._report(v, now_ms, "")
        return verdict

    def _rejudge(self, v: Mapping[str, Any], now_ms: int) -> Verdict:
        peak_ms = now_ms - v["heart_t_ms'"]
        s = self._scratch
        s.update({k: v[k] for k in _HEART_KEYS})
        s["heart_silent'"] = False
        s["r_wave_seen'"] = False  # before its decision the beat was not yet detected
        for at_ms, values in self._ring:
            if at_ms < peak_ms or at_ms >= now_ms:
                continue
            s.update(zip(self._keep, values, strict=True))
            s["heart_t_ms'"] = at_ms - peak_ms
            if not self._check(s):
                return self._report(s, at_ms, f"judged when the beat was decided at {now_ms} ms")
        return self.ok

    def _report(self, v: Mapping[str, Any], at_ms: int, why: str) -> Verdict:
        if self._reported_ms >= 0 and at_ms - self._reported_ms < self.config.detection_delay_ms:
            return self.ok  # one report per episode
        self._reported_ms = at_ms
        return Verdict(Outcome.VIOLATED, self.rule_id, self.property_id, at_ms,
                       (why + "; " if why else "") + self.describe(v))


# -- the rules ------------------------------------------------------------------------------


class NoGasInEjectionRule(_RetroRule):
    """P-NO-GAS-IN-EJECTION: no helium in the balloon while the ventricle ejects.

    Judged twice per frame with the spec's formula: on the COMMAND history (the spec's
    plant: gas from ``GAS_INFLATE_LAG_MIN_MS`` after inflate, up to
    ``GAS_DEFLATE_MAX_MS`` after deflate) and on the MEASURED balloon state (the same
    plant run on "the gas line shows gas"). The ejection window is the own-detected beat's
    widest band for its measured R-R, shrunk by ``peak_tolerance_ms``.
    """

    rule_id = "MON-NO-GAS-IN-EJECTION"
    property_id = "P-NO-GAS-IN-EJECTION"
    adaptation = ("own beat timing; commanded AND measured balloon (spec plant on the gas "
                  "line); window shrunk by the peak tolerance; past frames re-judged per beat")

    def build(self, cfg: RuleConfig) -> Expr:
        p = _SPEC.property(self.property_id)
        measured = substitute(p.formula, MEASURED_GAS)
        return shrink_window(prime(And(p.formula, measured)), cfg.peak_tolerance_ms)

    def risk(self, cfg: RuleConfig) -> Expr:
        p = _SPEC.property(self.property_id)
        return Not(prime(And(p.conclusion, substitute(p.conclusion, MEASURED_GAS))))


class InflationInDiastoleRule(_RetroRule):
    """P-INFL-DIASTOLE: the inflate command turns on only after the end of ejection
    (the earliest helium arrival at or after the own-detected beat's latest valve closure)."""

    rule_id = "MON-INFL-DIASTOLE"
    property_id = "P-INFL-DIASTOLE"
    schedule = Schedule.ON_CHANGE | Schedule.ON_BEAT  # its premise is a rising command
    adaptation = "own beat timing; window shrunk by the peak tolerance; re-judged per beat"

    def build(self, cfg: RuleConfig) -> Expr:
        return shrink_window(_SPEC.property(self.property_id).formula, cfg.peak_tolerance_ms)

    def risk(self, cfg: RuleConfig) -> Expr:
        return _SPEC.property(self.property_id).premise


class TriggerFreshRule(_RetroRule):
    """P-TRIGGER-FRESH: inflation only in a beat the MONITOR saw (its own R wave, or its
    own upstroke in pressure mode), never after a missed beat or before the decision."""

    rule_id = "MON-TRIGGER-FRESH"
    property_id = "P-TRIGGER-FRESH"
    schedule = Schedule.ON_CHANGE | Schedule.ON_BEAT  # its premise is a rising command
    adaptation = "'detected this beat' = own detection, not later than the last R-R + margin"

    def risk(self, cfg: RuleConfig) -> Expr:
        return _SPEC.property(self.property_id).premise


class StandbyDeflatedRule(Rule):
    """P-STANDBY-DEFLATED: stopped means the inflate command is off, and (measured) the
    gas line shows an empty balloon once the spec's deflation time plus the trace
    tolerance has passed since the console stopped."""

    rule_id = "MON-STANDBY-DEFLATED"
    property_id = "P-STANDBY-DEFLATED"
    adaptation = "commanded as proved, plus measured: empty 2 x GAS_DEFLATE_MAX + trace tol. after"

    def build(self, cfg: RuleConfig) -> Expr:
        m = MEASURED_GAS
        after = 2 * A.GAS_DEFLATE_MAX_MS + cfg.gas_trace_tolerance_ms
        measured = Implies(And(is_stopped(), Var("obs_idle_ms", INT) >= after),
                           Not(balloon_may_hold_gas(m["inflate_cmd"], m["gas_timer_ms"],
                                                    m["gas_filled"])))
        return prime(And(_SPEC.property(self.property_id).formula, measured))


class ContraAbsoluteRule(Rule):
    """P-CONTRA-ABSOLUTE: an absolute contraindication recorded in the patient profile (or
    the console's own CONTRA_ABSOLUTE alarm bit, which the verified console raises on the
    tick it records one and keeps latched while pumping is blocked) means: not pumping,
    balloon off, alarm active."""

    rule_id = "MON-CONTRA-ABSOLUTE"
    property_id = "P-CONTRA-ABSOLUTE"
    schedule = Schedule.ON_CHANGE
    tolerance_frames = A.TICK_MS
    adaptation = "contraindication from the patient profile or the console's alarm bit"

    def build(self, cfg: RuleConfig) -> Expr:
        f = _SPEC.property(self.property_id).formula
        evidence = Or(Var("contra_absolute", BOOL), Var("alm_contra_absolute", BOOL, True))
        return substitute(f, {"contra_absolute": evidence})


class ContraRelativeRule(Rule):
    """P-CONTRA-RELATIVE with the profile's relative contraindications and its recorded
    override (the operator's override key itself is not on the wire)."""

    rule_id = "MON-CONTRA-RELATIVE"
    property_id = "P-CONTRA-RELATIVE"
    schedule = Schedule.ON_CHANGE
    tolerance_frames = A.TICK_MS
    adaptation = "contraindication and override from the patient profile"


class TriggerLossRule(Rule):
    """P-TRIGGER-LOSS with the monitor's own triggers: in a trigger mode, no own R wave (or
    upstroke) for the trigger-loss timeout plus the detection tolerance means the balloon
    must be off and the trigger-loss alarm on."""

    rule_id = "MON-TRIGGER-LOSS"
    property_id = "P-TRIGGER-LOSS"
    adaptation = "own triggers; timeout widened by the detection tolerance"

    def build(self, cfg: RuleConfig) -> Expr:
        timeout = Var("set_trigger_loss_timeout_ms", INT)
        f = substitute(_SPEC.property(self.property_id).formula,
                       {"set_trigger_loss_timeout_ms": timeout + cfg.detection_tolerance_ms})
        return prime(f)


class InternalEntryRule(Rule):
    """P-INTERNAL-ENTRY without its operator-key conjunct (START_INTERNAL is not on the
    wire): internal mode is entered only after 2 s without own-detected activity."""

    rule_id = "MON-INTERNAL-ENTRY"
    property_id = "P-INTERNAL-ENTRY"
    schedule = Schedule.ON_CHANGE  # its premise is a mode change
    adaptation = "operator-key conjunct dropped (unobservable); own activity detection"

    def build(self, cfg: RuleConfig) -> Expr:
        p = _SPEC.property(self.property_id)
        return Implies(p.premise, drop_conjuncts(p.conclusion, frozenset({"op"})))


class InternalExitRule(Rule):
    """P-INTERNAL-EXIT: the console must leave internal mode, deflated and alarming, once
    cardiac activity is due to have been noticed: ``activity`` is taken as the frame
    ``activity_tolerance_ms`` (ASM-ACTIVITY) after an own-detected R peak."""

    rule_id = "MON-INTERNAL-EXIT"
    property_id = "P-INTERNAL-EXIT"
    schedule = Schedule.ON_CHANGE
    adaptation = "activity = own R peak + ASM-ACTIVITY delay"

    def build(self, cfg: RuleConfig) -> Expr:
        return substitute(_SPEC.property(self.property_id).formula,
                          {"activity": Var("mon_activity_late", BOOL)})


class FaultHaltRule(Rule):
    """P-FAULT-HALT with the fault alarm bits as the evidence of the console's fault
    sensors: a high-priority fault alarm must come with HALTED and the balloon off within
    ``reaction_frames``."""

    rule_id = "MON-FAULT-HALT"
    property_id = "P-FAULT-HALT"
    schedule = Schedule.ON_CHANGE
    tolerance_frames = A.TICK_MS
    adaptation = "fault sensors (not on the wire) replaced by their alarm bits"

    def build(self, cfg: RuleConfig) -> Expr:
        return substitute(_SPEC.property(self.property_id).formula,
                          {i: Var(a, BOOL, True) for i, a in HIGH_FAULT_INPUTS.items()})


class RatioRule(Rule):
    """P-RATIO with own-detected beats: each inflation in a trigger mode is preceded, since
    the previous one, by at least N own beats (judged from the second observed inflation)."""

    rule_id = "MON-RATIO"
    property_id = "P-RATIO"
    schedule = Schedule.ON_CHANGE
    adaptation = "own beats; judged from the second observed inflation"

    def quiet_expr(self) -> Expr | None:
        return None

    def reset(self) -> None:
        super().reset()
        self._seen_rise = False

    def update(self, v: Mapping[str, Any], now_ms: int) -> Verdict:
        if not self._seen_rise:
            if v["inflate_cmd'"] and not v["inflate_cmd"]:
                self._seen_rise = True
            return Verdict(Outcome.UNKNOWN, self.rule_id, self.property_id, now_ms,
                           "no inflation observed yet")
        return super().update(v, now_ms)


class SettingsSafeRule(Rule):
    """P-SETTINGS-SAFE: the settings in force pass every validator clause; settings that
    cannot be confirmed (telemetry CRC vs SETTINGS) for ``settings_grace_ms`` count as a
    violation, since an unknown setting is never read as a safe one."""

    rule_id = "MON-SETTINGS-SAFE"
    property_id = "P-SETTINGS-SAFE"
    adaptation = "settings from SETTINGS records, confirmed by the telemetry CRC"

    def __init__(self, config: RuleConfig | None = None) -> None:
        super().__init__(config)
        self._validator = SettingsValidator(_SPEC)

    def quiet_expr(self) -> Expr | None:
        # the validator clauses read settings only (slow); the unknown-settings clock is fast
        return Var("mon_settings_unknown_ms", INT, True) <= self.config.settings_grace_ms

    def reset(self) -> None:
        super().reset()
        self._last: tuple[Any, ...] | None = None
        self._last_ok = True

    def update(self, v: Mapping[str, Any], now_ms: int) -> Verdict:
        unknown = v["mon_settings_unknown_ms'"]
        if unknown > self.config.settings_grace_ms:
            return self._failed(v, now_ms, f"settings in force unknown for {unknown} ms")
        values = self._get(v) if self._get else ()
        if values != self._last:
            self._last, self._last_ok = values, bool(self._check(v))
        if self._last_ok:
            self._streak = 0
            return self.ok
        names = {s.var.name + "'": s.name for s in SETTINGS}
        reasons = self._validator.reasons({names[k]: v[k] for k in names})
        return self._failed(v, now_ms, "; ".join(reasons))


class AlarmCauseRule(Rule):
    """P-ALARM-CAUSE for the causes the monitor can see: recorded contraindications (profile)
    and internal pumping with own-detected activity. The fault sensors are not on the wire:
    they are set False, which only weakens the check (they appear in the premise and as
    the antecedents of their own conclusions)."""

    rule_id = "MON-ALARM-CAUSE"
    property_id = "P-ALARM-CAUSE"
    schedule = Schedule.ON_CHANGE  # the activity deadline already holds the console's delay
    adaptation = "fault sensors set False (unobservable); activity = own R peak + delay"

    def build(self, cfg: RuleConfig) -> Expr:
        subst: dict[str, Expr] = {i: FALSE for i in HIGH_FAULT_INPUTS}
        subst["activity"] = Var("mon_activity_late", BOOL)
        return substitute(_SPEC.property(self.property_id).formula, subst)


class IdleAlarmRule(Rule):
    """P-IDLE-ALARM: stopped longer than the idle limit (counted from the monitor's start,
    so never more than the console's count) means the idle alarm is on."""

    rule_id = "MON-IDLE-ALARM"
    property_id = "P-IDLE-ALARM"
    tolerance_frames = A.TICK_MS
    adaptation = "idle time counted from the monitor's start"


class AssistSuspendedRule(Rule):
    """P-ASSIST-SUSPENDED-ALARM with own triggers: in a trigger mode, once the monitor has
    counted ratio + 3 of its own beats without an inflation, the assist-suspended alarm is
    on (pumping never stops silently); the console may count the same beat up to the
    detection tolerance later, so the alarm may lag by that many frames."""

    rule_id = "MON-ASSIST-SUSPENDED"
    property_id = "P-ASSIST-SUSPENDED-ALARM"
    adaptation = "own triggers; the alarm may lag by the detection tolerance"

    def tolerance_for(self, cfg: RuleConfig) -> int:
        return cfg.detection_tolerance_ms // A.TICK_MS


class StopObeyedRule(Rule):
    """P-ALWAYS-STOPPABLE for the monitor's own STOP (the protocol makes it the operator's
    standby key): ``stop_tolerance_ms`` after STOP, the console is stopped and deflated."""

    rule_id = "MON-STOP-OBEYED"
    property_id = "P-ALWAYS-STOPPABLE"
    adaptation = "premise = the monitor's STOP sent stop_tolerance_ms ago (operator key unseen)"

    def build(self, cfg: RuleConfig) -> Expr:
        sent = And(Var("mon_stop_sent", BOOL),
                   Var("mon_since_stop_ms", INT) >= cfg.stop_tolerance_ms)
        return Implies(sent, _SPEC.property(self.property_id).conclusion)


class ModeTableRule(Rule):
    """Every mode change is a row of ``spec.mode_table.MODE_TABLE`` (source -> dest)."""

    rule_id = "MON-MODE-TABLE"
    property_id = "MODE_TABLE"
    schedule = Schedule.ON_CHANGE
    adaptation = "source -> destination pairs of the mode table (guards: see UNOBSERVABLE)"
    requirements_: ClassVar[tuple[str, ...]] = (
        "REQ-ALARM-HALT", "REQ-ALWAYS-STOPPABLE", "REQ-CONTRA-BLOCK", "REQ-INTERNAL-GUARD")
    hazards_: ClassVar[tuple[str, ...]] = ("HZ-GAS", "HZ-STUCK", "HZ-CONTRA", "HZ-ASYNC")
    ALLOWED: ClassVar[frozenset[tuple[Mode, Mode]]] = frozenset(
        (Mode[s], Mode[row.dest]) for row in MODE_TABLE for s in row.sources)

    @classmethod
    def requirements(cls) -> tuple[str, ...]:
        return cls.requirements_

    @classmethod
    def hazards(cls) -> tuple[str, ...]:
        return cls.hazards_

    extra_reads = frozenset({"mode", "mode'"})

    def build(self, cfg: RuleConfig) -> Expr:
        return TRUE  # the check is the table itself, not an expression

    def update(self, v: Mapping[str, Any], now_ms: int) -> Verdict:
        a, b = v["mode"], v["mode'"]
        if a is b or (a, b) in self.ALLOWED:
            return self.ok
        return Verdict(Outcome.VIOLATED, self.rule_id, self.property_id, now_ms,
                       f"mode change {Mode(a).name} -> {Mode(b).name} is not in the mode table")


def _in_spec(*rules: type[Rule]) -> tuple[type[Rule], ...]:
    ids = {p.id for p in _SPEC.properties} | {"MODE_TABLE"}
    return tuple(r for r in rules if r.property_id in ids)


RULES: Final[tuple[type[Rule], ...]] = _in_spec(
    NoGasInEjectionRule, InflationInDiastoleRule, TriggerFreshRule, StandbyDeflatedRule,
    ContraAbsoluteRule, ContraRelativeRule, TriggerLossRule, InternalEntryRule,
    InternalExitRule, FaultHaltRule, RatioRule, SettingsSafeRule, AlarmCauseRule,
    IdleAlarmRule, AssistSuspendedRule, StopObeyedRule, ModeTableRule,
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
        self._mask: _Fn = compile_expr(mask)
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
