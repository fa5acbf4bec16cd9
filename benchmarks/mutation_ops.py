"""The mutation catalogue over ``spec/`` (issue 14, Deliver 5): named, reviewable source edits.

Each operator is one concrete mistake a console's software could contain, written as an
exact text edit of one place of the spec's SOURCE (``old`` -> ``new`` in one file under
``spec/``). :func:`apply_op` refuses an operator whose ``old`` text is not found exactly
once, so the catalogue cannot silently rot when the spec is edited:
``tests/test_mutation_ops.py`` checks every anchor against the current sources.

What is mutated: the controller's step (``controller_step.py``), the settings and their
validator (``settings.py``), the mode table (``mode_table.py``) and the constants of
``assumptions.py`` that the CONTROLLER reads (acceptance windows, consistency tolerances,
the asystole confirmation time, the minimum deflation leads). Never mutated: the
environment's bounds (the heart, the detectors, the pneumatics: mutating an assumption
is not a mistake of the console), ``timing.py`` (its Weissler bands are all environment
bounds; the controller's timing rules that read them are mutated where the controller
reads them, in ``controller_step.py``), the lemmas (proof aids) and the properties.

Kinds:
- ``comparison``: a comparison flipped (``>=`` to ``>``, ``<`` to ``<=``);
- ``off-by-one``: a timer, margin or constant moved by one or two ms (or ticks);
- ``constant``: a controller constant changed where the controller reads it;
- ``shared-constant``: a constant changed at its definition, read by a guard AND by a
  property or lemma (the proof moves with the mistake unless the property states its
  bound independently);
- ``dropped-guard``: a conjunct of a guard or of a hold condition left out;
- ``dropped-clause``: a whole branch of a decision disabled;
- ``validator-range``: a setting's accepted range widened;
- ``validator-clause``: a safety clause of the settings validator weakened;
- ``alarm-latch``: an alarm that no longer latches until acknowledged;
- ``operator-command``: an operator key handled differently (mode table, acknowledge);
- ``timing-rule``: a timing rule of the controller reads the rate bands differently.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

KINDS: tuple[str, ...] = (
    "comparison", "off-by-one", "constant", "shared-constant", "dropped-guard",
    "dropped-clause", "validator-range", "validator-clause", "alarm-latch",
    "operator-command", "timing-rule",
)


class AnchorError(ValueError):
    """An operator's ``old`` text is missing from, or ambiguous in, the file it mutates."""


@dataclass(frozen=True)
class MutationOp:
    """One mutation operator: which text of which spec file becomes what, and what that
    would mean at the bedside.

    ``issue14`` marks the hand mutations listed in issue 14; ``note`` is the reviewer's
    expectation or the argument for a survivor (filled in from the campaign's results).
    """

    id: str
    kind: str
    file: str  #: path relative to the repository root, e.g. ``spec/controller_step.py``
    meaning: str  #: what the mistake means clinically
    old: str
    new: str
    issue14: bool = False
    note: str = ""


def apply_op(op: MutationOp, source: str) -> str:
    """The mutated source; :class:`AnchorError` unless ``op.old`` occurs exactly once."""
    n = source.count(op.old)
    if n != 1:
        where = "not found" if n == 0 else f"found {n} times (ambiguous)"
        raise AnchorError(f"{op.id}: anchor {op.old!r} {where} in {op.file}")
    out = source.replace(op.old, op.new, 1)
    if out == source:
        raise AnchorError(f"{op.id}: the edit changes nothing")
    return out


def mutate_tree(op: MutationOp, package_root: Path) -> None:
    """Apply ``op`` in place to the copy of the repository at ``package_root`` (the folder
    that holds ``spec/``); the mutated file must still parse."""
    path = package_root / op.file
    text = apply_op(op, path.read_text())
    ast.parse(text, filename=str(path))
    path.write_text(text)


def _op(oid: str, kind: str, file: str, meaning: str, old: str, new: str,
        issue14: bool = False, note: str = "") -> MutationOp:
    assert kind in KINDS, kind
    return MutationOp(oid, kind, f"spec/{file}", meaning, old, new, issue14, note)


CS, ST, MT, AS = "controller_step.py", "settings.py", "mode_table.py", "assumptions.py"

OPERATORS: tuple[MutationOp, ...] = (
    # -- the hand mutations of issue 14 ------------------------------------------------------
    _op("M14-START-OVER-LATCHED-ALARM", "dropped-guard", CS,
        "START_* is accepted while a high-priority alarm is latched unacknowledged (its "
        "cause gone): therapy restarts over an alarm nobody has seen",
        "And(Not(high_fault), Not(contra), Not(latched))",
        "And(Not(high_fault), Not(contra))", True),
    _op("M14-ASYSTOLE-GUARD-1000", "constant", CS,
        "internal (asynchronous) pumping may start after 1000 ms without cardiac activity "
        "instead of 2000 ms: a slow beating heart (40 bpm) can be taken for asystole",
        '_iv("since_activity_ms") >= A.ASYSTOLE_CONFIRM_MS, Not(',
        '_iv("since_activity_ms") >= 1000, Not(', True),
    _op("M14-ASYSTOLE-CONST-1000", "shared-constant", AS,
        "the asystole confirmation time is 1000 ms everywhere it is read (guard, observer "
        "and P-INTERNAL-ENTRY): a slow beating heart can be taken for asystole",
        "ASYSTOLE_CONFIRM_MS = 2000", "ASYSTOLE_CONFIRM_MS = 1000", True),
    _op("M14-LOSS-TIMEOUT-RANGE-20S", "validator-range", ST,
        "the validator accepts a trigger-loss timeout up to 20 s: a lost lead pumps on the "
        "stale timing for up to 20 s with no alarm",
        'Setting("trigger_loss_timeout_ms", "ms", 500, TRIGGER_TIMER_CAP_MS - 1, 2500,',
        'Setting("trigger_loss_timeout_ms", "ms", 500, 20_000, 2500,', True),
    _op("M14-INTERNAL-FILL-WHOLE-PERIOD", "validator-clause", ST,
        "internal inflation may fill the whole period: the balloon is never emptied in "
        "internal mode (no deflation, no afterload reduction, gas stagnant)",
        'v["internal_inflation_ms"] + GAS_DEFLATE_MAX_MS < v["internal_period_ms"]),',
        'v["internal_inflation_ms"] <= v["internal_period_ms"]),', True),
    _op("M14-INTERNAL-PERIOD-100", "validator-range", ST,
        "the internal period may be set down to 100 ms (the validator's other clause "
        "stops it at 141 ms): asynchronous pumping at up to 425 /min",
        'Setting("internal_period_ms", "ms", 500, 1500, 750,',
        'Setting("internal_period_ms", "ms", 100, 1500, 750,', True),
    _op("M14-RATIO-N-PLUS-1", "comparison", CS,
        "1:N assists one beat in N + 1 (1:1 assists every other beat): half the therapy "
        "prescribed, silently",
        'beats + 1 >= settings_n["assist_ratio"]', 'beats + 1 > settings_n["assist_ratio"]',
        True),
    _op("M14-PRESSURE-NEVER-INFLATES", "dropped-clause", CS,
        "pressure-trigger mode never inflates: no therapy whenever the ECG is unusable",
        'And(press, window, Var("notch", BOOL), since_n <',
        'And(press, window, Var("notch", BOOL), Not(press), since_n <', True),
    _op("M14-INFLATION-1MS", "dropped-clause", CS,
        "every trigger-mode inflation lasts 1 ms (the command is not held until the "
        "deflation point): no diastolic augmentation at all",
        "Or(inflate_cmd, inflate_now))))", "inflate_now)))", True),
    _op("M14-ASSIST-ALARM-5-BEATS", "off-by-one", CS,
        "the assist-suspended alarm comes after 5 unassisted beats beyond the ratio "
        "instead of 3 (the guard only)",
        'unassisted_n >= settings_n["assist_ratio"] + UNASSISTED_BEATS_ALARM))',
        'unassisted_n >= settings_n["assist_ratio"] + UNASSISTED_BEATS_ALARM + 2))', True),
    _op("M14-ASSIST-ALARM-CONST-5", "shared-constant", CS,
        "the assist-suspended alarm comes after 5 unassisted beats beyond the ratio, with "
        "the constant changed where it is defined (guard, lemma and property read it)",
        "UNASSISTED_BEATS_ALARM = 3", "UNASSISTED_BEATS_ALARM = 5", True),
    _op("M14-RR-PLUS-1", "off-by-one", CS,
        "every R-R interval is measured 1 ms long: inflation and deflation are timed "
        "from a slightly long beat",
        'Min(since + 1, A.TRIGGER_TIMER_CAP_MS))\n', 'Min(since + 2, A.TRIGGER_TIMER_CAP_MS))\n',
        True),
    _op("M14-DEFLATION-DUE-GT", "comparison", CS,
        "predictive deflation starts one tick late (>= became >): with the shortest "
        "accepted lead the balloon may still hold helium as the next ejection starts",
        'since_n >= defl_at)', 'since_n > defl_at)', True),
    _op("M14-INFLATE-UNTIL-DROPPED", "dropped-guard", CS,
        "the 'inflation must start before the next R wave can come' guard is dropped: "
        "inflation may begin after the next beat's QRS, in its pre-ejection period",
        'settings_n["inflation_offset_ms"]),\n            since_n < ecg_inflate_until_ms(floor_n)),',
        'settings_n["inflation_offset_ms"])),', True),
    _op("M14-NO-R-WAVE-DEFLATION", "dropped-guard", CS,
        "a detected R wave no longer deflates the balloon (only the predicted deflation "
        "point does): a premature beat ejects into an inflated balloon",
        "And(trig_mode, Not(entered), Not(trigger), Not(defl_due), Not(lost),",
        "And(trig_mode, Not(entered), Not(defl_due), Not(lost),", True),
    _op("M14-ACK-CLEARS-TRIGGER-LOSS", "operator-command", CS,
        "ACKNOWLEDGE clears the trigger-loss alarm while the trigger is still lost: the "
        "console goes silent about a lost lead",
        's.next("alm_trigger_loss", _bv("trigger_lost"))',
        's.next("alm_trigger_loss", And(_bv("trigger_lost"), Not(ack)))', True),
    _op("M14-CONSISTENCY-TOL-400", "constant", AS,
        "two successive ECG beat intervals may differ by 400 ms more and still be taken as "
        "one rhythm: a missed beat can arm inflation with a doubled R-R",
        "RR_CONSISTENCY_TOL_MS = RR_STEP_MAX_MS + 2 * R_DETECT_JITTER_MS",
        "RR_CONSISTENCY_TOL_MS = RR_STEP_MAX_MS + 2 * R_DETECT_JITTER_MS + 400", True),
    _op("M14-INFLATE-2-EARLY", "off-by-one", CS,
        "ECG inflation starts 2 ticks before the latest end of ejection the bands allow: "
        "with the earliest helium arrival, gas can meet the closing aortic valve",
        'since_n >= ecg_inflate_at_ms(rr_n, settings_n["inflation_offset_ms"]),',
        'since_n + 2 >= ecg_inflate_at_ms(rr_n, settings_n["inflation_offset_ms"]),', True),
    # -- comparison flips ---------------------------------------------------------------------
    _op("M-TRIGGER-LOSS-GT", "comparison", CS,
        "trigger loss is declared 1 ms after the timeout instead of at it",
        'since_n >= Var("set_trigger_loss_timeout_ms", INT).nxt))',
        'since_n > Var("set_trigger_loss_timeout_ms", INT).nxt))'),
    _op("M-ASYSTOLE-GUARD-GT", "comparison", CS,
        "the asystole guard needs MORE than the saturating 2000 ms: internal mode can never "
        "start, no therapy for an asystolic patient",
        '_iv("since_activity_ms") >= A.ASYSTOLE_CONFIRM_MS, Not(',
        '_iv("since_activity_ms") > A.ASYSTOLE_CONFIRM_MS, Not('),
    _op("M-IDLE-ALARM-GT", "comparison", CS,
        "the idle alarm comes 1 ms after the idle limit",
        's.next("alm_idle", _iv("idle_ms").nxt >= Var',
        's.next("alm_idle", _iv("idle_ms").nxt > Var'),
    _op("M-CONSISTENCY-LT", "comparison", CS,
        "two beat intervals differing by exactly the tolerance are no longer one rhythm "
        "(stricter: that beat is not assisted)",
        "Abs(interval - rr_est) <= tol))", "Abs(interval - rr_est) < tol))"),
    _op("M-INTERNAL-PHASE-GT", "comparison", CS,
        "each internal-mode cycle lasts one tick longer than the period set (751 ms for 750)",
        "Ite(phase + 1 >= cycle_period, 0, phase + 1)", "Ite(phase + 1 > cycle_period, 0, phase + 1)"),
    _op("M-INFLATE-UNTIL-LE", "comparison", CS,
        "ECG inflation may still start on the last tick the next R wave allows (1 ms late)",
        "since_n < ecg_inflate_until_ms(floor_n)),", "since_n <= ecg_inflate_until_ms(floor_n)),"),
    _op("M-ASSIST-ALARM-GT", "comparison", CS,
        "the assist-suspended alarm comes one unassisted beat later than stated",
        'unassisted_n >= settings_n["assist_ratio"] + UNASSISTED_BEATS_ALARM))',
        'unassisted_n > settings_n["assist_ratio"] + UNASSISTED_BEATS_ALARM))'),
    _op("M-FLOOR-UPDATE-GT", "comparison", CS,
        "a beat interval of exactly the shortest supported R-R (334 ms, 180 bpm) is taken "
        "for a beat split by a false report and undoes the R-R floor's last update",
        "And(trigger, seen >= 1, interval >= RR_MIN_MS,",
        "And(trigger, seen >= 1, interval > RR_MIN_MS,"),
    # -- off-by-one, constants, timing rules --------------------------------------------------
    _op("M-ECG-LEAD-MIN-NO-TICK", "shared-constant", AS,
        "the shortest ECG deflation lead the validator accepts forgets the one-tick command "
        "latency (235 instead of 236 ms; the default moves to 245)",
        "R_DETECT_DELAY_MAX_MS + R_DETECT_JITTER_MS + RR_STEP_MAX_MS + GAS_DEFLATE_MAX_MS + TICK_MS",
        "R_DETECT_DELAY_MAX_MS + R_DETECT_JITTER_MS + RR_STEP_MAX_MS + GAS_DEFLATE_MAX_MS"),
    _op("M-PRESSURE-R-GUARD-MINUS-2", "off-by-one", CS,
        "pressure trigger: the last inflation start before the next R wave is 2 ms later",
        "- A.UPSTROKE_DELAY_MIN_MS + A.RR_STEP_MAX_MS + 2)",
        "- A.UPSTROKE_DELAY_MIN_MS + A.RR_STEP_MAX_MS + 0)"),
    _op("M-FLOOR-RISE-DOUBLE", "constant", CS,
        "the R-R floor climbs back 40 ms per beat after an early beat instead of 20 (the "
        "controller only): deflation is timed for a later next beat sooner",
        "Min(interval, Min(floor + RR_FLOOR_RISE_MS, cap))",
        "Min(interval, Min(floor + 2 * RR_FLOOR_RISE_MS, cap))"),
    _op("M-FLOOR-RISE-CONST-40", "shared-constant", CS,
        "the R-R floor climbs 40 ms per beat, with the constant changed where it is "
        "defined (controller, lemma and the efficacy envelope read it)",
        "RR_FLOOR_RISE_MS = 20", "RR_FLOOR_RISE_MS = 40"),
    _op("M-PRESSURE-ACCEPT-MIN-400", "shared-constant", AS,
        "pressure trigger accepts beat intervals down to 400 ms (150 bpm), below the rate "
        "at which a missed upstroke is told apart from jitter",
        "PRESSURE_RR_ACCEPT_MIN_MS = 500", "PRESSURE_RR_ACCEPT_MIN_MS = 400"),
    _op("M-IDLE-COUNTS-DOUBLE", "off-by-one", CS,
        "the idle timer counts 2 ms per tick: the idle alarm comes at half the limit",
        'Min(_iv("idle_ms") + 1,', 'Min(_iv("idle_ms") + 2,'),
    _op("M-OFFSET-CLAUSE-MINUS-1", "validator-clause", ST,
        "the validator accepts an inflation offset 1 ms below -20 ms: helium may reach the "
        "balloon 1 ms before the latest aortic valve closure",
        'v["inflation_offset_ms"] >= -GAS_INFLATE_LAG_MIN_MS),',
        'v["inflation_offset_ms"] >= -GAS_INFLATE_LAG_MIN_MS - 1),'),
    _op("M-INFLATE-AT-NO-JITTER", "timing-rule", CS,
        "the end-of-ejection band for inflation is looked up at the measured R-R, "
        "forgetting that detector jitter may have shortened it (band edge too early)",
        "qs2_hi_ms(rr_est + A.R_DETECT_JITTER_MS)", "qs2_hi_ms(rr_est)"),
    _op("M-DEFLATE-AT-NO-STEP", "timing-rule", CS,
        "the next pre-ejection period is looked up without allowing the next R-R to be "
        "one R-R step shorter (deflation timed for too long a PEP)",
        "pep_lo_ms(rr_est - A.R_DETECT_JITTER_MS - A.RR_STEP_MAX_MS)",
        "pep_lo_ms(rr_est - A.R_DETECT_JITTER_MS)"),
    # -- dropped guards and conjuncts ---------------------------------------------------------
    _op("M-PERMIT-DROP-FAULT", "dropped-guard", CS,
        "START is permitted on a tick with a fault present (the fault row of the mode table "
        "fires first, so expected equivalent)",
        "And(Not(high_fault), Not(contra), Not(latched))", "And(Not(contra), Not(latched))"),
    _op("M-PERMIT-DROP-CONTRA", "dropped-guard", CS,
        "START is permitted with a contraindication recorded",
        "And(Not(high_fault), Not(contra), Not(latched))", "And(Not(high_fault), Not(latched))"),
    _op("M-INTERNAL-GUARD-DROP-ACTIVITY", "dropped-guard", CS,
        "internal mode may start on the very tick cardiac activity returns",
        'A.ASYSTOLE_CONFIRM_MS, Not(_bv("activity"))))', "A.ASYSTOLE_CONFIRM_MS))"),
    _op("M-HOLD-DROP-PREDICTIVE-DEFLATION", "dropped-guard", CS,
        "an inflation is held past the predicted deflation point, until the next R wave: "
        "the balloon is still full when the next ejection starts",
        "Not(trigger), Not(defl_due), Not(lost), Not(suspect),",
        "Not(trigger), Not(lost), Not(suspect),"),
    _op("M-ARM-DROP-CONSISTENT", "dropped-guard", CS,
        "inflation is armed on a beat whose interval disagrees with the previous one (after "
        "a missed beat, timed from a doubled R-R)",
        'arm = s.wire("arm_on_trigger", And(consistent, ', 'arm = s.wire("arm_on_trigger", And('),
    _op("M-ARMED-DROP-LOST", "dropped-guard", CS,
        "a trigger loss no longer disarms the beat (the inflation window closes on the loss "
        "anyway: expected equivalent in outputs)",
        's.next("armed", And(trig_mode, Not(entered), Not(lost), Not(defl_due),',
        's.next("armed", And(trig_mode, Not(entered), Not(defl_due),'),
    _op("M-SYSTEM-FAULT-NOT-HALTING", "dropped-guard", CS,
        "a system fault (the last high-priority fault input) does not halt pumping",
        'high_fault = s.wire("high_fault", Or(*[_bv(n) for n in HIGH_FAULT_INPUTS]))',
        'high_fault = s.wire("high_fault", Or(*[_bv(n) for n in list(HIGH_FAULT_INPUTS)[:3]]))'),
    _op("M-TIMER-NO-RESET-ON-ENTRY", "dropped-guard", CS,
        "the trigger timer is not reset on entering a mode: a trigger mode starts with the "
        "standby time on its clock (an immediate trigger-loss alarm on every start)",
        's.next("since_trigger_ms", Ite(Or(entered, trigger), 0,',
        's.next("since_trigger_ms", Ite(trigger, 0,'),
    _op("M-HOLD-DROP-QRS-SUSPICION", "dropped-guard", CS,
        "the QRS suspicion no longer deflates: an early beat's helium waits for the R-wave "
        "decision, 8 ms later (P-EARLY-BEAT-BOUND's tighter bound is broken)",
        "Not(defl_due), Not(lost), Not(suspect),", "Not(defl_due), Not(lost),"),
    _op("M-WINDOW-DROP-SETTINGS-CHANGE", "dropped-guard", CS,
        "an inflation may start on the very tick a settings change is applied",
        "Not(defl_due), Not(lost), Not(changed),", "Not(defl_due), Not(lost),"),
    # -- widened validator ranges and weakened clauses ----------------------------------------
    _op("M-ASSIST-RATIO-4", "validator-range", ST,
        "the validator accepts a 1:4 assist ratio, beyond the beat counters' saturation",
        'Setting("assist_ratio", "1:N", 1, 3, 1,', 'Setting("assist_ratio", "1:N", 1, 4, 1,'),
    _op("M-OFFSET-RANGE-WIDE", "validator-range", ST,
        "the inflation offset range reaches -300 ms (the early-inflation clause still "
        "rejects below -20 ms: expected equivalent)",
        'Setting("inflation_offset_ms", "ms", -100, 200, 0,',
        'Setting("inflation_offset_ms", "ms", -300, 200, 0,'),
    _op("M-IDLE-LIMIT-1H", "validator-range", ST,
        "the idle limit may be set to an hour, past the idle timer's 30 min saturation: "
        "the idle alarm can be switched off",
        'Setting("idle_limit_ms", "ms", 10_000, 1_800_000, 300_000,',
        'Setting("idle_limit_ms", "ms", 10_000, 3_600_000, 300_000,'),
    _op("M-DROP-SAFE-LOSS-TIMEOUT", "validator-clause", ST,
        "the clause keeping the trigger-loss timeout above the slowest beat is dropped: a "
        "slow heart raises false trigger-loss alarms and is not assisted",
        'v["trigger_loss_timeout_ms"] > RR_MAX_MS + R_DETECT_JITTER_MS),',
        'v["trigger_loss_timeout_ms"] > 0),'),
    _op("M-LOSS-TIMEOUT-RANGE-LOW", "validator-range", ST,
        "the trigger-loss timeout range starts at 100 ms (the slow-heart clause still "
        "rejects below 1566 ms: expected equivalent)",
        'Setting("trigger_loss_timeout_ms", "ms", 500,', 'Setting("trigger_loss_timeout_ms", "ms", 100,'),
    # -- alarm latches ------------------------------------------------------------------------
    _op("M-FAULT-ALARMS-UNLATCHED", "alarm-latch", CS,
        "gas-loss, blood, kink and system-fault alarms clear by themselves when the sensor "
        "goes quiet",
        "s.next(alm, Or(_bv(inp), And(_bv(alm), Not(ack))))", "s.next(alm, _bv(inp))"),
    _op("M-CONTRA-ALARM-UNLATCHED", "alarm-latch", CS,
        "the absolute-contraindication alarm clears by itself when the record is withdrawn",
        's.next("alm_contra_absolute", Or(_bv("contra_absolute"),\n'
        '                                     And(_bv("alm_contra_absolute"), Not(ack))))',
        's.next("alm_contra_absolute", _bv("contra_absolute"))'),
    _op("M-ASYNC-ALARM-UNLATCHED", "alarm-latch", CS,
        "the 'heart beating during internal pumping' alarm clears by itself on the next tick",
        's.next("alm_async_activity", Or(And(mode.eq(Mode.INTERNAL), _bv("activity")),\n'
        '                                    And(_bv("alm_async_activity"), Not(ack))))',
        's.next("alm_async_activity", And(mode.eq(Mode.INTERNAL), _bv("activity")))'),
    _op("M-REJECTED-ALARM-UNLATCHED", "alarm-latch", CS,
        "the settings-rejected alarm (low priority) shows for one tick only",
        's.next("alm_settings_rejected", Or(rejected, And(_bv("alm_settings_rejected"), Not(ack),\n'
        '                                                     Not(_bv("settings_accepted")))))',
        's.next("alm_settings_rejected", rejected)'),
    # -- operator commands and the mode table -------------------------------------------------
    _op("M-STANDBY-IGNORED-IN-INTERNAL", "operator-command", MT,
        "the STANDBY key does not stop internal (asynchronous) pumping",
        'ModeTransition("stop", _PUMPING, "STANDBY", "operator_standby"),',
        'ModeTransition("stop", ("ECG_TRIGGER", "PRESSURE_TRIGGER"), "STANDBY", '
        '"operator_standby"),'),
    _op("M-STOP-BEFORE-FAULT", "operator-command", MT,
        "a STANDBY key pressed on the tick of a fault wins over the fault: the console goes "
        "to STANDBY instead of HALTED (no halt latch)",
        '    ModeTransition("fault", (*_PUMPING, "STANDBY"), "HALTED", "high_fault"),\n'
        '    ModeTransition("stop", _PUMPING, "STANDBY", "operator_standby"),\n',
        '    ModeTransition("stop", _PUMPING, "STANDBY", "operator_standby"),\n'
        '    ModeTransition("fault", (*_PUMPING, "STANDBY"), "HALTED", "high_fault"),\n'),
    _op("M-ACK-RESUMES-PUMPING", "operator-command", MT,
        "acknowledging a cleared fault resumes ECG pumping directly instead of STANDBY",
        'ModeTransition("acknowledge", ("HALTED",), "STANDBY",',
        'ModeTransition("acknowledge", ("HALTED",), "ECG_TRIGGER",'),
    _op("M-START-FROM-HALTED", "operator-command", MT,
        "START_ECG is accepted from HALTED (the latched alarm still forbids it: expected "
        "equivalent)",
        'ModeTransition("start_ecg", ("STANDBY",), "ECG_TRIGGER", "may_start_ecg"),',
        'ModeTransition("start_ecg", ("STANDBY", "HALTED"), "ECG_TRIGGER", "may_start_ecg"),'),
    _op("M-START-PRESSURE-GIVES-ECG", "operator-command", MT,
        "START_PRESSURE starts ECG-trigger pumping: the operator's choice of trigger source "
        "is ignored (e.g. a noisy ECG the operator chose to bypass)",
        'ModeTransition("start_pressure", ("STANDBY",), "PRESSURE_TRIGGER", "may_start_pressure"),',
        'ModeTransition("start_pressure", ("STANDBY",), "ECG_TRIGGER", "may_start_pressure"),'),
    _op("M-STANDBY-KEY-ACKNOWLEDGES", "operator-command", CS,
        "the STANDBY key also acknowledges (clears) every latched alarm",
        'ack = s.wire("acknowledged", op.eq(OperatorCommand.ACKNOWLEDGE))',
        'ack = s.wire("acknowledged", Or(op.eq(OperatorCommand.ACKNOWLEDGE), '
        'op.eq(OperatorCommand.STANDBY)))'),
    _op("M-STANDBY-KEY-CLEARS-HALT", "operator-command", CS,
        "the STANDBY key (not ACKNOWLEDGE) releases a halt once the fault has cleared",
        "And(op.eq(OperatorCommand.ACKNOWLEDGE), Not(high_fault)))",
        "And(op.eq(OperatorCommand.STANDBY), Not(high_fault)))"),
    _op("M-CONTRA-OVERRIDE-IGNORED", "operator-command", CS,
        "the operator's override of a relative contraindication is ignored: the patient "
        "the clinician decided to treat is not pumped",
        'And(_bv("contra_relative"), Not(_bv("contra_override")))))', '_bv("contra_relative")))'),
    _op("M-HALT-ACK-IGNORES-FAULT", "operator-command", CS,
        "ACKNOWLEDGE releases a halt while the fault (gas loss, kink...) is still present",
        "And(op.eq(OperatorCommand.ACKNOWLEDGE), Not(high_fault)))",
        "op.eq(OperatorCommand.ACKNOWLEDGE))"),
    _op("M-INTERNAL-KEY-IS-START-ECG", "operator-command", CS,
        "the internal-mode guard listens to START_ECG instead of START_INTERNAL: internal "
        "mode can never be entered (START_ECG's row fires first)",
        "op.eq(OperatorCommand.START_INTERNAL), permitted,",
        "op.eq(OperatorCommand.START_ECG), permitted,"),
)

#: The reviewer's reading of every operator the campaign did not kill with a trace
#: (campaign of 2026-12-01, base c8f4ef7): the argument that it is harmless, or the property
#: (and the scenario its counterexample search needs) that would kill it. Rendered into
#: benchmarks/results/mutations.md; re-render with ``bench_mutations.py --render-only``.
NOTES: dict[str, str] = {
    # -- clinically different survivors: a property is missing ---------------------------
    "M14-ASYSTOLE-CONST-1000":
        "CHANGES CLINICAL BEHAVIOUR (internal pumping over a 40 bpm heart). P-INTERNAL-ENTRY "
        "reads the same constant as the guard. Kill: state its bound from REQ-INTERNAL-GUARD "
        "as a literal (>= RR_MAX_MS + ACTIVITY_DELAY_MAX_MS = 1650 ms, like "
        "TRIGGER_LOSS_BOUND_MS) and add a scenario pressing START_INTERNAL 1.1-1.6 s after "
        "the last beat of a slow heart.",
    "M14-INTERNAL-PERIOD-100":
        "CHANGES CLINICAL BEHAVIOUR (asynchronous pumping up to 425 /min). P-INTERNAL-RATE "
        "reads its 500 ms from the validator's range. Kill: a P-SETTINGS-BOUNDS property with "
        "the requirement's limits as literals (period >= 500, timeout <= 5000, ratio <= 3, "
        "idle <= 30 min): BMC finds a 2-tick settings-request trace.",
    "M14-PRESSURE-NEVER-INFLATES":
        "CHANGES CLINICAL BEHAVIOUR (no therapy in pressure trigger; ASSIST_SUSPENDED says "
        "so). Kill: P-ASSIST-EVERY-BEAT for PRESSURE_TRIGGER inside its envelope (R-R >= "
        "500 ms); pressure-80bpm would be its trace.",
    "M14-INFLATION-1MS":
        "CHANGES CLINICAL BEHAVIOUR (1 ms inflations: no augmentation; every property "
        "counts inflation starts, none their length). Kill: P-INFLATION-HELD: in a trigger "
        "mode the command turns off only on a trigger, the deflation point, a loss or a "
        "mode change (ecg-80bpm gives the trace).",
    "M14-ASSIST-ALARM-CONST-5":
        "CHANGES CLINICAL BEHAVIOUR (alarm 2 beats later). P-ASSIST-SUSPENDED-ALARM reads "
        "UNASSISTED_BEATS_ALARM. Kill: write its 3 as a literal from REQ-ALARM-LATCH "
        "(M14-ASSIST-ALARM-5-BEATS, the same mistake in the guard only, is killed).",
    "M-FLOOR-RISE-DOUBLE":
        "Changes behaviour only outside ASM-RR-STEP: after a premature beat the R-R floor "
        "protects half as many beats (in sinus rhythm it equals the interval; "
        "ecg-varying-rate inflates longer). Kill: a follow-up bound for premature beats "
        "(the beats after an early beat of R-R r deflate in time for another as early), or "
        "the rhythm benchmark.",
    "M-FLOOR-RISE-CONST-40": "As M-FLOOR-RISE-DOUBLE (the lemma and the efficacy envelope "
        "move with the constant).",
    "M-IDLE-LIMIT-1H":
        "CHANGES CLINICAL BEHAVIOUR (idle alarm can be disabled: limit above the 30 min "
        "timer cap). Kill: P-SETTINGS-BOUNDS (idle limit <= 30 min as a literal) or an "
        "idle bound property like P-TRIGGER-LOSS-BOUND.",
    "M-REJECTED-ALARM-UNLATCHED":
        "Low-priority alarm shown for 1 ms. Kill: P-SETTINGS-REJECT extended: the alarm "
        "stays until ACKNOWLEDGE or an accepted request (settings-changes gives the trace).",
    "M-START-PRESSURE-GIVES-ECG":
        "CHANGES CLINICAL BEHAVIOUR (the operator's trigger source ignored). Kill: "
        "P-MODE-FOLLOWS-KEY: a permitted START_X from STANDBY enters mode X (BMC, 2 ticks).",
    "M-CONTRA-OVERRIDE-IGNORED":
        "CHANGES CLINICAL BEHAVIOUR (the override does nothing: no therapy). Kill: "
        "P-MODE-FOLLOWS-KEY with the override counted as permission (BMC, 2 ticks).",
    # -- survivors that are safe: every property still proved ----------------------------
    "M-OFFSET-CLAUSE-MINUS-1":
        "No clinical change: P-INFL-DIASTOLE stays PROVED at offset -21 ms, i.e. the "
        "SAFE-INFLATION-OFFSET clause is conservative by >= 1 ms (band rounding).",
    "M-PRESSURE-R-GUARD-MINUS-2":
        "No clinical change: every property stays PROVED, so PRESSURE_R_GUARD_MS has >= 2 ms "
        "of slack; no scenario output differs.",
    "M-FLOOR-UPDATE-GT":
        "No clinical change: the floor is 1 ms higher for a few beats after an interval of "
        "exactly 334 ms (180 bpm, no inflation window); all properties stay PROVED; no "
        "scenario output differs.",
    "M-WINDOW-DROP-SETTINGS-CHANGE":
        "No clinical change: an inflation may start on the tick a change is applied, timed "
        "with the new settings; all properties stay PROVED; no scenario output differs.",
    # -- UNKNOWN only: the proof notices, the scenario library has no trace --------------
    "M14-ASYSTOLE-GUARD-1000":
        "Unsafe (internal pumping over a slow heart). Needs a scenario: START_INTERNAL "
        "1.1-1.9 s after the last activity (P-INTERNAL-ENTRY would be VIOLATED).",
    "M14-INTERNAL-FILL-WHOLE-PERIOD":
        "CHANGES CLINICAL BEHAVIOUR (balloon never emptied in internal mode). Kill: "
        "P-INTERNAL-DEFLATES (every internal cycle has the command off >= GAS_DEFLATE_MAX_MS) "
        "or P-SETTINGS-BOUNDS with the clause as a literal.",
    "M14-RR-PLUS-1":
        "Timing moves 1 ms (inflated +1 ms per beat in every ECG scenario); the 1 ms margins "
        "may absorb it. Only a worst-case-timing scenario (latest detection, shortest PEP, "
        "shortest accepted lead, offset -20) can show a trace.",
    "M14-DEFLATION-DUE-GT":
        "Deflation 1 tick late: eats the TICK_MS margin of the minimum lead. Needs the "
        "worst-case-timing scenario at ecg_deflation_lead_ms = 236.",
    "M14-INFLATE-UNTIL-DROPPED":
        "Likely unsafe at fast rates with a late window (large offset): inflation after the next "
        "QRS. Needs a scenario at 95-110 bpm, offset +200, R-R stepping down 40 ms.",
    "M14-ACK-CLEARS-TRIGGER-LOSS":
        "CHANGES CLINICAL BEHAVIOUR (silent lost lead). Needs a scenario: ACKNOWLEDGE during "
        "ecg-lead-off (P-TRIGGER-LOSS would be VIOLATED on the next tick).",
    "M14-CONSISTENCY-TOL-400":
        "Likely unsafe: a missed beat at 100-120 bpm (doubled R-R within 570 ms) arms inflation "
        "timed from a doubled R-R. Needs ecg-missed-beats at R-R 520-560 ms.",
    "M-ASYSTOLE-GUARD-GT":
        "CHANGES CLINICAL BEHAVIOUR (internal mode unreachable; P-INTERNAL-ENTRY VACUOUS). "
        "Kill with a trace: P-INTERNAL-AVAILABLE: a permitted START_INTERNAL after 2 s "
        "without activity enters INTERNAL (asystole-internal gives it).",
    "M-CONSISTENCY-LT":
        "A beat whose interval differs by exactly 170 ms is not assisted: inside the "
        "efficacy envelope, so P-ASSIST-EVERY-BEAT is really broken; needs the "
        "alternating-earliest/latest-detector scenario of tests/proofs/test_assist_every_beat.py.",
    "M-INTERNAL-PHASE-GT":
        "Internal cycle 1 ms longer (79.9 instead of 80 /min): no clinical change; the "
        "lemma L-INTERNAL restates the phase rule, so the proof notices.",
    "M-INFLATE-UNTIL-LE":
        "Inflation may start 1 ms later than the margin allows: needs the worst-case-timing "
        "scenario (as M14-INFLATE-UNTIL-DROPPED).",
    "M-ECG-LEAD-MIN-NO-TICK":
        "Shortest lead 235 ms: eats the 1-tick latency margin. Needs the worst-case-timing "
        "scenario at lead 235; the prover's candidate-settings search compares against the "
        "mutated validator, so it cannot propose 235 by itself.",
    "M-PRESSURE-ACCEPT-MIN-400":
        "Pressure trigger at 120-150 bpm, where a missed upstroke looks like jitter. Needs "
        "pressure-missed-upstrokes at R-R 420-480 ms.",
    "M-IDLE-COUNTS-DOUBLE":
        "Idle alarm at half the limit (nuisance, not silence). Kill: P-IDLE-ALARM as an "
        "equivalence (no idle alarm before the limit); idle-balloon gives the trace.",
    "M-INFLATE-AT-NO-JITTER":
        "Inflation timed for a too-short beat: can inflate before valve closure when the "
        "detector was late on the previous beat. Needs the worst-case-timing scenario "
        "(ecg-varying-rate already inflates 208 ms longer).",
    "M-DEFLATE-AT-NO-STEP":
        "Deflation timed without the R-R step: late deflation when the next beat is 40 ms "
        "shorter. Needs a scenario with R-R stepping down 40 ms at the shortest PEP.",
    "M-INTERNAL-GUARD-DROP-ACTIVITY":
        "Internal mode may start on the tick activity returns (then exits at once with the "
        "alarm). Needs a scenario pressing START_INTERNAL on the first activity tick.",
    "M-TIMER-NO-RESET-ON-ENTRY":
        "False trigger-loss alarm when ECG is started > 2.5 s after standby. Kill: "
        "P-TRIGGER-LOSS as an equivalence (no alarm before the timeout) and a scenario that "
        "starts late.",
    "M-DROP-SAFE-LOSS-TIMEOUT":
        "CHANGES CLINICAL BEHAVIOUR (false alarms and no therapy at 40 bpm). Kill: a "
        "no-false-trigger-loss property and a 40 bpm scenario with timeout 1000 ms.",
    "M-STANDBY-IGNORED-IN-INTERNAL":
        "Unsafe (internal pumping cannot be stopped). Needs a scenario pressing STANDBY in "
        "internal mode (P-ALWAYS-STOPPABLE has no internal-mode witness today).",
    "M-START-FROM-HALTED":
        "Equivalent by argument: in HALTED a high-priority alarm is always latched (entering "
        "HALTED latches one; ACKNOWLEDGE with a fault present keeps that fault's), so START "
        "is never permitted there. No lemma says so: add L-HALTED-ALARMED.",
    "M-INTERNAL-KEY-IS-START-ECG": "As M-ASYSTOLE-GUARD-GT (internal mode unreachable).",
}

OPERATORS = tuple(MutationOp(o.id, o.kind, o.file, o.meaning, o.old, o.new, o.issue14,
                             NOTES.get(o.id, o.note)) for o in OPERATORS)
OPERATOR_BY_ID: dict[str, MutationOp] = {o.id: o for o in OPERATORS}
assert set(NOTES) <= set(OPERATOR_BY_ID), set(NOTES) - set(OPERATOR_BY_ID)
assert len(OPERATOR_BY_ID) == len(OPERATORS), "duplicate operator ids"
