"""Mode, alarm, settings and contraindication rules: the console's state must be safe.

Stopped means deflated; a recorded contraindication blocks pumping (absolute) or needs
its alarm and an override (relative); internal mode is entered and left only as the
spec allows; a fault alarm comes with HALTED and the balloon off; the settings in force
pass the validator; an alarm has a visible cause; the idle and assist-suspended alarms
are raised; the monitor's own STOP is obeyed; every mode change is a row of the mode
table. Each is a spec property adapted to what telemetry shows (see ``adaptation``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from iabp.monitor.rules.base import Outcome, Rule, RuleConfig, Schedule, Verdict
from iabp.monitor.rules.expr import SPEC
from iabp.spec import assumptions as A
from iabp.spec.engines.validator import SettingsValidator
from iabp.spec.expr import INT, Expr, Var
from iabp.spec.modes import Mode
from iabp.spec.settings import SETTINGS


class StandbyDeflatedRule(Rule):
    """P-STANDBY-DEFLATED: stopped means the inflate command is off, and (measured) the
    gas line shows an empty balloon once the spec's deflation time plus the trace
    tolerance has passed since the console stopped."""

    rule_id = "MON-STANDBY-DEFLATED"
    property_id = "P-STANDBY-DEFLATED"


class ContraAbsoluteRule(Rule):
    """P-CONTRA-ABSOLUTE: an absolute contraindication recorded in the patient profile (or
    the console's own CONTRA_ABSOLUTE alarm bit, which the verified console raises on the
    tick it records one and keeps latched while pumping is blocked) means: not pumping,
    balloon off, alarm active."""

    rule_id = "MON-CONTRA-ABSOLUTE"
    property_id = "P-CONTRA-ABSOLUTE"
    schedule = Schedule.ON_CHANGE
    tolerance_frames = A.TICK_MS


class ContraRelativeRule(Rule):
    """P-CONTRA-RELATIVE with the profile's relative contraindications and its recorded
    override (the operator's override key itself is not on the wire)."""

    rule_id = "MON-CONTRA-RELATIVE"
    property_id = "P-CONTRA-RELATIVE"
    schedule = Schedule.ON_CHANGE
    tolerance_frames = A.TICK_MS


class InternalEntryRule(Rule):
    """P-INTERNAL-ENTRY without its operator-key conjunct (START_INTERNAL is not on the
    wire): internal mode is entered only after 2 s without own-detected activity."""

    rule_id = "MON-INTERNAL-ENTRY"
    property_id = "P-INTERNAL-ENTRY"
    schedule = Schedule.ON_CHANGE  # its premise is a mode change


class InternalRateRule(Rule):
    """P-INTERNAL-RATE: in internal mode, two inflations start at least the shortest
    internal period apart (the observer of ms since the inflate command turned on, run on
    the commanded balloon)."""

    rule_id = "MON-INTERNAL-RATE"
    property_id = "P-INTERNAL-RATE"
    schedule = Schedule.ON_CHANGE


class InternalExitRule(Rule):
    """P-INTERNAL-EXIT: the console must leave internal mode, deflated and alarming, once
    cardiac activity is due to have been noticed: ``activity`` is taken as the frame
    ``activity_tolerance_ms`` (ASM-ACTIVITY) after an own-detected R peak."""

    rule_id = "MON-INTERNAL-EXIT"
    property_id = "P-INTERNAL-EXIT"
    schedule = Schedule.ON_CHANGE


class InternalDeflatesRule(Rule):
    """P-INTERNAL-DEFLATES: an internal-mode inflation never outlasts the slowest cycle's
    time to empty (the observer of ms since the inflate command turned on)."""

    rule_id = "MON-INTERNAL-DEFLATES"
    property_id = "P-INTERNAL-DEFLATES"
    schedule = Schedule.EVERY_FRAME


class NoStartOverAlarmRule(Rule):
    """P-NO-START-OVER-ALARM: the console may enter a pumping mode only on a frame whose
    previous frame showed no high-priority alarm (the alarm mask is on the wire)."""

    rule_id = "MON-NO-START-OVER-ALARM"
    property_id = "P-NO-START-OVER-ALARM"
    schedule = Schedule.ON_CHANGE  # its premise is a mode change


class FaultHaltRule(Rule):
    """P-FAULT-HALT with the fault alarm bits as the evidence of the console's fault
    sensors: a high-priority fault alarm must come with HALTED and the balloon off within
    ``reaction_frames``."""

    rule_id = "MON-FAULT-HALT"
    property_id = "P-FAULT-HALT"
    schedule = Schedule.ON_CHANGE
    tolerance_frames = A.TICK_MS


class SettingsSafeRule(Rule):
    """P-SETTINGS-SAFE: the settings in force pass every validator clause; settings that
    cannot be confirmed (telemetry CRC vs SETTINGS) for ``settings_grace_ms`` count as a
    violation, since an unknown setting is never read as a safe one."""

    rule_id = "MON-SETTINGS-SAFE"
    property_id = "P-SETTINGS-SAFE"

    def __init__(self, config: RuleConfig | None = None) -> None:
        super().__init__(config)
        self._validator = SettingsValidator(SPEC)

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


class IdleAlarmRule(Rule):
    """P-IDLE-ALARM: stopped longer than the idle limit (counted from the monitor's start,
    so never more than the console's count) means the idle alarm is on."""

    rule_id = "MON-IDLE-ALARM"
    property_id = "P-IDLE-ALARM"
    tolerance_frames = A.TICK_MS


class AssistSuspendedRule(Rule):
    """P-ASSIST-SUSPENDED-ALARM with own triggers: in a trigger mode, once the monitor has
    counted ratio + 3 (+ ``beat_count_tolerance``) of its own beats without an inflation,
    the assist-suspended alarm is on (pumping never stops silently); the console may count
    the same beat up to the detection tolerance later, so the alarm may lag by that many
    frames, and the two detectors may disagree on a beat (a false beat of either while it
    learns the signal after START: seen on mitdb/123), so the count has that slack."""

    rule_id = "MON-ASSIST-SUSPENDED"
    property_id = "P-ASSIST-SUSPENDED-ALARM"

    def tolerance_for(self, cfg: RuleConfig) -> int:
        return cfg.detection_tolerance_ms // A.TICK_MS


class StopObeyedRule(Rule):
    """P-ALWAYS-STOPPABLE for the monitor's own STOP (the protocol makes it the operator's
    standby key): ``stop_tolerance_ms`` after STOP, the console is stopped and deflated."""

    rule_id = "MON-STOP-OBEYED"
    property_id = "P-ALWAYS-STOPPABLE"


class ModeTableRule(Rule):
    """Every mode change is a row of ``iabp.spec.mode_table.MODE_TABLE`` (source -> dest),
    checked by the table's expression declared in ``iabp.spec.monitor_rules``."""

    rule_id = "MON-MODE-TABLE"
    property_id = "MODE_TABLE"
    schedule = Schedule.ON_CHANGE
    requirements_: ClassVar[tuple[str, ...]] = (
        "REQ-ALARM-HALT", "REQ-ALWAYS-STOPPABLE", "REQ-CONTRA-BLOCK", "REQ-INTERNAL-GUARD")
    hazards_: ClassVar[tuple[str, ...]] = ("HZ-GAS", "HZ-STUCK", "HZ-CONTRA", "HZ-ASYNC")
    @classmethod
    def requirements(cls) -> tuple[str, ...]:
        return cls.requirements_

    @classmethod
    def hazards(cls) -> tuple[str, ...]:
        return cls.hazards_

    def update(self, v: Mapping[str, Any], now_ms: int) -> Verdict:
        if self._check(v):
            return self.ok
        a, b = v["mode"], v["mode'"]
        return Verdict(Outcome.VIOLATED, self.rule_id, self.property_id, now_ms,
                       f"mode change {Mode(a).name} -> {Mode(b).name} is not in the mode table")
