"""The rule base: how one pump safety property is judged on each telemetry frame.

A :class:`Rule` is one spec property (``premise => conclusion``), compiled, with the
reaction tolerance the console is allowed (e.g. frames between an alarm and HALTED); it
says HOLDS, PENDING, VIOLATED or UNKNOWN (:class:`Verdict`), reporting each violation
once. :class:`RetroRule` adds the beat-timing case: the monitor decides a heart beat
only after its R peak, so frames where the balloon might hold gas are kept and judged
again once the beat's ejection window is known. :class:`RuleConfig` names every
tolerance with its unit.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum, IntFlag
from operator import itemgetter
from typing import Any, ClassVar, Final

from iabp.monitor.detect import MonitorRWaveDetector
from iabp.monitor.rules.expr import SPEC, fast_part, gate_key
from iabp.spec import assumptions as A
from iabp.spec.clock import TICK_HZ
from iabp.spec.engines.to_python import compile_expr
from iabp.spec.expr import TRUE, Expr, Ite, Not, Op, Operator
from iabp.spec.monitor_rules import CONSOLE_MONITOR_DECISION_SPREAD_MS, RuleTolerances, rule_check
from iabp.spec.system import Property
from iabp.spec.walker import free_vars

__all__ = ["CONSOLE_MONITOR_DECISION_SPREAD_MS", "OWN_R_DECISION_BOUND_MS", "CompiledCheck",
           "Outcome", "RetroRule", "Rule", "RuleConfig", "Schedule", "Verdict", "WARMING_UP"]

OWN_R_DECISION_BOUND_MS: Final = math.ceil(MonitorRWaveDetector(TICK_HZ).decision_delay_bound_ms)
"""Longest time (ms) from an R peak to the monitor's own decision of it, by construction
of its detector at the telemetry rate: past frames that far back may be judged again."""

WARMING_UP: Final = "no own R-R measured yet"  #: why a timing rule does not judge yet
_HEART_KEYS: Final = ("heart_t_ms'", "heart_pep_ms'", "heart_qs2_ms'", "heart_silent'",
                      "r_wave_seen'")


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
class RuleConfig(RuleTolerances):
    """Tolerances of the rules, named with units: the checks' own
    (:class:`iabp.spec.monitor_rules.RuleTolerances`: detection, onset, gas trace, stop,
    beat count; the theorem's miss bounds are stated in them) plus how the monitor runs
    the checks in time; defaults from ``iabp.spec``.

    * ``reaction_frames`` (frame jitter): a console reaction the spec puts in the same
      tick may show in the telemetry this many frames late (alarm -> HALTED, ...).
    * ``detection_delay_ms``: longest own decision delay after the QRS onset (the own
      detector's bound after its peak plus the longest Q-to-R time): frames this far back
      are judged again when a beat is decided (bounds the retro ring).
    * ``settings_grace_ms``: settings in force may be unconfirmed this long (the console
      sends SETTINGS on every change and at least once per 1000 ms).
    * ``warmup_beats``: own beats needed before timing rules judge (one R-R measured).
    * ``warmup_ms``: ms of telemetry the timing rules wait for those beats. After it, a
      monitor that has still not measured an R-R (ECG not available from its start) judges
      as with a silent heart: an inflation it cannot time is a violation (HZ-BLIND), never
      a frame left unjudged. 5000: the own R-wave detector learns for 2000 ms, then two
      beats at the slowest supported rate (40 bpm) take 3000.
    """

    reaction_frames: int = A.TICK_MS
    detection_delay_ms: int = max(2 * A.R_DETECT_DELAY_MAX_MS + A.R_DETECT_JITTER_MS,
                                  OWN_R_DECISION_BOUND_MS + A.Q_TO_R_MAX_MS)
    settings_grace_ms: int = 2000
    warmup_beats: int = 2
    warmup_ms: int = 5000


CompiledCheck = Callable[[Mapping[str, Any]], Any]
"""A spec expression compiled to Python: evaluates it on a valuation of the pump's
variables (e.g. a rule's ``premise => conclusion``, or a bit mask of rules to run)."""


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
    #: How the spec property was adapted to telemetry, for the report (from the rule's
    #: declaration in ``iabp.spec.monitor_rules``).
    adaptation: ClassVar[str] = "as proved"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "rule_id" in cls.__dict__:
            cls.adaptation = rule_check(cls.rule_id).adaptation

    #: Valuation keys read besides those of :attr:`formula`.
    extra_reads: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, config: RuleConfig | None = None) -> None:
        self.config = config or RuleConfig()
        self.formula: Expr = self.build(self.config)
        self.reads: frozenset[str] = frozenset(free_vars(self.formula)) | self.extra_reads
        self._check: CompiledCheck = compile_expr(self.formula)
        premise = self.formula.args[0] if isinstance(self.formula, Op) and \
            self.formula.op is Operator.IMPLIES else TRUE
        self._gate_key = gate_key(premise)
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
        ids = {p.id for p in SPEC.properties}
        return SPEC.property(self.property_id) if self.property_id in ids else None

    @classmethod
    def requirements(cls) -> tuple[str, ...]:
        ids = {p.id for p in SPEC.properties}
        return SPEC.property(cls.property_id).requirements if cls.property_id in ids else ()

    @classmethod
    def hazards(cls) -> tuple[str, ...]:
        ids = {p.id for p in SPEC.properties}
        return SPEC.property(cls.property_id).hazards if cls.property_id in ids else ()

    def build(self, cfg: RuleConfig) -> Expr:
        """The expression this rule checks: its declaration in ``iabp.spec.monitor_rules``,
        built from the spec property with ``cfg``'s tolerances (what the prover proves)."""
        return rule_check(self.rule_id).build(SPEC, cfg)

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

    def not_judged(self, v: Mapping[str, Any], now_ms: int) -> str | None:
        """Why this rule cannot judge the frame ``v`` at ``now_ms`` yet (shown by the live
        view: a rule that cannot judge is not a rule that holds), or None when it judges."""
        return None

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


class RetroRule(Rule):
    """A timing rule judged again on past frames when an own beat is decided.

    Frames on which the heart-free part of the check could fail are kept (at most
    ``detection_delay_ms`` of them); when the detector decides a beat, those after its
    R peak are judged with the new beat's timing (``heart_t_ms'`` from its peak).
    """

    schedule = Schedule.EVERY_FRAME | Schedule.ON_BEAT

    def __init__(self, config: RuleConfig | None = None) -> None:
        super().__init__(config)
        # 0: not at risk; 1: at risk, holds; 2: at risk, violated (one compiled call)
        self._code: CompiledCheck = compile_expr(Ite(self.risk(self.config),
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

    def not_judged(self, v: Mapping[str, Any], now_ms: int) -> str | None:
        if v["mon_beats_seen"] < self.config.warmup_beats and now_ms <= self.config.warmup_ms:
            return WARMING_UP
        return None

    def update(self, v: Mapping[str, Any], now_ms: int) -> Verdict:
        # not_judged(), inlined: this runs on every frame at risk
        if v["mon_beats_seen"] < self.config.warmup_beats and now_ms <= self.config.warmup_ms:
            return Verdict(Outcome.UNKNOWN, self.rule_id, self.property_id, now_ms, WARMING_UP)
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
