"""Trip messages in plain words: the sentence an operator reads when the monitor trips.

Each runtime rule has a template that reads the values the rule judged (the verdict's
detail, by spec variable name) and says what went wrong with the numbers and the limit,
e.g. "MON-TRIGGER-LOSS: no R wave for 3214 ms (limit 2560) and the console kept pumping
without the trigger-loss alarm". The machine detail stays in the audit record.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from iabp.monitor.rules.base import RuleConfig
from iabp.spec import assumptions as A
from iabp.spec.modes import PUMPING_MODES, Mode
from iabp.spec.properties import INTERNAL_PERIOD_MAX_MS, INTERNAL_PERIOD_MIN_MS

_TOKEN: Final = re.compile(r"([A-Za-z_]\w*'?)=(\S*)")
_INT: Final = re.compile(r"-?\d+")
_TELEMETRY_AT: Final = re.compile(r"^at (-?\d+) ms of telemetry: ")


def _value(text: str) -> Any:
    if text in ("True", "False"):
        return text == "True"
    if text == "None":
        return None
    if _INT.fullmatch(text):
        return int(text)
    return text


def parse_rule_detail(detail: str) -> tuple[dict[str, Any], list[str]]:
    """Split a rule's violation detail into its ``name=value`` readings and its notes.

    A verdict's detail is notes and readings joined by ``"; "``; the readings are the
    values the rule read (:meth:`iabp.monitor.rules.base.Rule.describe`), numbers and
    booleans parsed, enum members by name.
    """
    values: dict[str, Any] = {}
    notes: list[str] = []
    for segment in _TELEMETRY_AT.sub("", detail).split("; "):
        tokens = segment.split()
        if tokens and all(_TOKEN.fullmatch(t) for t in tokens):
            for t in tokens:
                name, raw = t.split("=", 1)
                values[name] = _value(raw)
        elif segment.strip():
            notes.append(segment.strip())
    return values, notes


class _Reading:
    """A violation's readings: ``r["mode"]`` is the value of this frame (``mode'``) if the
    rule read it, else of the previous frame (``mode``); ``r.before("mode")`` the latter."""

    def __init__(self, values: Mapping[str, Any], notes: Sequence[str],
                 limits: RuleConfig) -> None:
        self.values, self.notes, self.limits = values, notes, limits

    def __getitem__(self, name: str) -> Any:
        if name + "'" in self.values:
            return self.values[name + "'"]
        return self.values[name]

    def before(self, name: str) -> Any:
        return self.values[name]

    def has(self, name: str) -> bool:
        return name in self.values or name + "'" in self.values

    def int(self, name: str) -> int:
        x = self[name]
        if isinstance(x, bool) or not isinstance(x, int):
            raise KeyError(name)
        return x

    def flag(self, name: str) -> bool:
        return self[name] is True


def _mode(x: Any) -> Mode:
    return Mode[x] if isinstance(x, str) else Mode(int(x))


_MODE_WORDS: Final[Mapping[Mode, str]] = {
    Mode.STANDBY: "standby", Mode.ECG_TRIGGER: "ECG-trigger mode",
    Mode.PRESSURE_TRIGGER: "pressure-trigger mode", Mode.INTERNAL: "internal mode",
    Mode.HALTED: "halted",
}
_PUMPING: Final = frozenset(PUMPING_MODES)
_ALARM_WORDS: Final[Mapping[str, str]] = {
    "alm_gas_loss": "gas loss", "alm_blood_detected": "blood detected",
    "alm_catheter_kink": "catheter kink", "alm_system_fault": "system fault",
    "alm_contra_absolute": "absolute contraindication",
    "alm_async_activity": "asynchronous heart activity",
}
_FAULT_ALARMS: Final = ("alm_gas_loss", "alm_blood_detected", "alm_catheter_kink",
                        "alm_system_fault")


def _in_mode(r: _Reading) -> str:
    m = _mode(r["mode"])
    return _MODE_WORDS[m] if m is Mode.HALTED else "in " + _MODE_WORDS[m]


def _beats(n: int) -> str:
    return f"{n} detected beat" + ("" if n == 1 else "s")


def _trigger(r: _Reading) -> str:
    return "pressure upstroke" if r.has("mode") and _mode(r["mode"]) is Mode.PRESSURE_TRIGGER \
        else "R wave"


def _and(parts: Sequence[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _pumping_faults(r: _Reading, alarm: str | None, alarm_words: str) -> list[str]:
    """What of "not pumping, balloon off, alarm on" the console got wrong."""
    wrong = []
    if _mode(r["mode"]) in _PUMPING:
        wrong.append(f"the console is pumping {_in_mode(r)}")
    if r.flag("inflate_cmd"):
        wrong.append("the balloon is being inflated")
    if alarm is not None and r.has(alarm) and not r.flag(alarm):
        wrong.append(f"the {alarm_words} alarm is off")
    return wrong


def _no_gas_in_ejection(r: _Reading) -> str:
    into = r.int("heart_t_ms") - r.int("heart_pep_ms")
    why = ("the console was still commanding inflation" if r.flag("inflate_cmd") else
           "the balloon had not finished deflating")
    return f"balloon still holding helium {into} ms after ejection began (limit 0): {why}"


def _infl_diastole(r: _Reading) -> str:
    if r.flag("heart_silent"):
        return "the console inflated with no heartbeat detected, so diastole was not confirmed"
    t, end = r.int("heart_t_ms"), r.int("heart_qs2_ms")
    early = end - (t + A.GAS_INFLATE_LAG_MIN_MS)
    return (f"inflation started {t} ms after the QRS onset, while ejection lasts until {end} "
            f"ms after it: helium could reach the balloon {early} ms before ejection ends "
            f"(limit {r.limits.onset_tolerance_ms} ms, the QRS-onset tolerance)")


def _trigger_fresh(r: _Reading) -> str:
    return (f"the console inflated {_in_mode(r)} on a beat whose {_trigger(r)} the monitor "
            "did not detect (inflation only on a detected beat)")


def _standby_deflated(r: _Reading) -> str:
    if r.flag("inflate_cmd"):
        return f"the console is {_in_mode(r)} but still commanding inflation"
    after = 2 * A.GAS_DEFLATE_MAX_MS + r.limits.gas_trace_tolerance_ms
    return (f"the gas line still shows helium in the balloon {r.int('obs_idle_ms')} ms after "
            f"the console stopped ({_in_mode(r)}; limit {after})")


def _contra_absolute(r: _Reading) -> str:
    evidence = ("the patient profile records an absolute contraindication"
                if r.flag("contra_absolute") else "the console's absolute-contraindication "
                "alarm is on")
    wrong = _pumping_faults(r, "alm_contra_absolute", "absolute-contraindication")
    return f"{evidence}, but {_and(wrong)}" if wrong else f"{evidence}; pumping must stay blocked"


def _contra_relative(r: _Reading) -> str:
    override = r.flag("contra_override")
    evidence = "the patient profile records a relative contraindication" + (
        " (with an override)" if override else " and no override")
    wrong = _pumping_faults(r, None, "") if not override else []
    if r.has("alm_contra_relative") and not r.flag("alm_contra_relative"):
        wrong.append("the relative-contraindication alarm is off")
    return f"{evidence}, but {_and(wrong)}" if wrong else evidence


def _trigger_loss(r: _Reading, limit: int) -> str:
    gone = f"no {_trigger(r)} for {r.int('obs_no_trigger_ms')} ms (limit {limit})"
    pumping, alarm_off = r.flag("inflate_cmd"), not r.flag("alm_trigger_loss")
    if pumping and alarm_off:
        return f"{gone} and the console kept pumping without the trigger-loss alarm"
    if pumping:
        return f"{gone} and the console kept pumping (the trigger-loss alarm is on)"
    return f"{gone} and the console did not raise the trigger-loss alarm"


def _trigger_loss_timeout(r: _Reading) -> str:
    return _trigger_loss(r, r.int("set_trigger_loss_timeout_ms") + r.limits.detection_tolerance_ms)


def _trigger_loss_bound(r: _Reading) -> str:
    from iabp.spec import properties  # the requirement's bound, where the spec states it

    bound = getattr(properties, "TRIGGER_LOSS_BOUND_MS", None)
    if not isinstance(bound, int):
        raise KeyError("TRIGGER_LOSS_BOUND_MS")
    return _trigger_loss(r, bound)


def _internal_entry(r: _Reading) -> str:
    if r.flag("activity"):
        return "the console entered internal mode while heart activity was detected"
    return (f"the console entered internal mode {r.int('obs_since_activity_ms')} ms after the "
            f"last detected heart activity (a beating heart can be silent up to "
            f"{A.ACTIVITY_GAP_MAX_MS} ms)")


def _internal_exit(r: _Reading) -> str:
    wrong = []
    if _mode(r["mode"]) is Mode.INTERNAL:
        wrong.append("stayed in internal mode")
    if r.flag("inflate_cmd"):
        wrong.append("kept inflating")
    if not r.flag("alm_async_activity"):
        wrong.append("did not raise the asynchronous-activity alarm")
    return ("the heart is beating again (the monitor detected activity) but the console "
            + _and(wrong or ["did not stop internal pumping"]))


def _internal_rate(r: _Reading) -> str:
    gap = r.int("obs_since_inflation_start_ms") + 1
    if gap < INTERNAL_PERIOD_MIN_MS:
        return (f"internal pumping started an inflation {gap} ms after the previous one "
                f"(limit {INTERNAL_PERIOD_MIN_MS} ms: at most {60_000 // INTERNAL_PERIOD_MIN_MS} "
                "/min)")
    off = r.int("obs_since_deflation_start_ms") + 1
    return (f"internal pumping inflated again {off} ms after the last deflation began "
            f"(the balloon needs {A.GAS_DEFLATE_MAX_MS} ms to empty)")


def _internal_deflates(r: _Reading) -> str:
    held = r.int("obs_since_inflation_start_ms")
    return (f"an internal-mode inflation has lasted {held} ms: the balloon is not let down in "
            f"the cycle (limit {INTERNAL_PERIOD_MAX_MS - A.GAS_DEFLATE_MAX_MS} ms)")


def _fault_halt(r: _Reading) -> str:
    on = [_ALARM_WORDS[a] for a in _FAULT_ALARMS if r.has(a) and r.flag(a)]
    state = f"{_in_mode(r)}" + (" and still inflating" if r.flag("inflate_cmd") else "")
    return (f"fault alarm {_and(on or ['?'])} is on but the console is {state} "
            "(required: halted, balloon off)")


def _ratio(r: _Reading) -> str:
    n = r.int("set_assist_ratio")
    return (f"the console inflated after {_beats(r.int('obs_beats_since_inflation'))} "
            f"since its last inflation (assist ratio 1:{n} needs at least {n})")


def _settings_safe(r: _Reading) -> str:
    for note in r.notes:
        m = re.fullmatch(r"settings in force unknown for (\d+) ms", note)
        if m:
            return (f"the settings in force could not be confirmed for {m.group(1)} ms "
                    f"(limit {r.limits.settings_grace_ms})")
    return "the console accepted unsafe settings: " + "; ".join(r.notes or ["?"])


def _alarm_cause(r: _Reading) -> str:
    missing = []
    if r.flag("contra_absolute") and not r.flag("alm_contra_absolute"):
        missing.append("an absolute contraindication is recorded but its alarm is off")
    if r.flag("contra_relative") and not r.flag("alm_contra_relative"):
        missing.append("a relative contraindication is recorded but its alarm is off")
    if r.flag("mon_activity_late") and not r.flag("alm_async_activity"):
        missing.append("the heart beat during internal pumping without the "
                       "asynchronous-activity alarm")
    return _and(missing) if missing else "an alarm cause the monitor sees has no alarm"


def _idle_alarm(r: _Reading) -> str:
    return (f"the console has been stopped for {r.int('obs_idle_ms')} ms (idle limit "
            f"{r.int('set_idle_limit_ms')}) without the idle alarm")


def _assist_suspended(r: _Reading) -> str:
    due = r.int("set_assist_ratio") + 3 + r.limits.beat_count_tolerance
    return (f"{_beats(r.int('obs_unassisted_beats'))} went unassisted {_in_mode(r)} "
            f"without the assist-suspended alarm (alarm due from {due})")


def _stop_obeyed(r: _Reading) -> str:
    state = _in_mode(r) + (" and inflating" if r.flag("inflate_cmd") else "")
    return (f"{r.int('mon_since_stop_ms')} ms after the monitor's STOP the console is still "
            f"{state} (limit {r.limits.stop_tolerance_ms})")


def _mode_table(r: _Reading) -> str:
    for note in r.notes:
        m = re.fullmatch(r"mode change (\w+) -> (\w+) is not in the mode table", note)
        if m:
            a, b = _mode(m.group(1)), _mode(m.group(2))
            return (f"the console went from {_MODE_WORDS[a]} to {_MODE_WORDS[b]}, a change "
                    "the mode table does not allow")
    return f"the console went from {_MODE_WORDS[_mode(r.before('mode'))]} to " \
           f"{_MODE_WORDS[_mode(r['mode'])]}, a change the mode table does not allow"


def _no_start_over_alarm(r: _Reading) -> str:
    on = [w for a, w in _ALARM_WORDS.items()
          if r.values.get(a) is True or r.values.get(a + "'") is True]
    return (f"the console started pumping ({_in_mode(r)}) while the "
            f"{_and(on or ['high-priority'])} alarm was on")


#: Per rule ID: the sentence for a violation, from its readings (monitor/rules/ruleset.py).
RULE_MESSAGES: Final[Mapping[str, Callable[[_Reading], str]]] = {
    "MON-NO-GAS-IN-EJECTION": _no_gas_in_ejection,
    "MON-INFL-DIASTOLE": _infl_diastole,
    "MON-TRIGGER-FRESH": _trigger_fresh,
    "MON-STANDBY-DEFLATED": _standby_deflated,
    "MON-CONTRA-ABSOLUTE": _contra_absolute,
    "MON-CONTRA-RELATIVE": _contra_relative,
    "MON-TRIGGER-LOSS": _trigger_loss_timeout,
    "MON-TRIGGER-LOSS-BOUND": _trigger_loss_bound,
    "MON-INTERNAL-ENTRY": _internal_entry,
    "MON-INTERNAL-EXIT": _internal_exit,
    "MON-INTERNAL-RATE": _internal_rate,
    "MON-INTERNAL-DEFLATES": _internal_deflates,
    "MON-FAULT-HALT": _fault_halt,
    "MON-RATIO": _ratio,
    "MON-SETTINGS-SAFE": _settings_safe,
    "MON-ALARM-CAUSE": _alarm_cause,
    "MON-IDLE-ALARM": _idle_alarm,
    "MON-ASSIST-SUSPENDED": _assist_suspended,
    "MON-STOP-OBEYED": _stop_obeyed,
    "MON-MODE-TABLE": _mode_table,
    "MON-NO-START-OVER-ALARM": _no_start_over_alarm,
}


def rule_message(rule_id: str, property_id: str | None, detail: str, limits: RuleConfig) -> str:
    """The operator's sentence for a violation of ``rule_id`` whose machine ``detail`` lists
    the values it read; a generic sentence when no template fits. Never raises."""
    template = RULE_MESSAGES.get(rule_id)
    if template is not None:
        values, notes = parse_rule_detail(detail)
        try:
            return f"{rule_id}: {template(_Reading(values, notes, limits))}"
        except (KeyError, ValueError, TypeError, IndexError):
            pass
    m = _TELEMETRY_AT.match(detail)
    when = f" at {m.group(1)} ms of telemetry" if m else ""
    return (f"{rule_id}: the console broke this rule ({property_id}){when}; "
            "the values it read are in the audit record")


# -- time coherence (monitor/coherence.py) and the monitor's own stalls ---------------------

def _time_lag(r: _Reading) -> str:
    lag, limit = r.int("lag_ms"), r.int("limit_ms")
    at = r.int("console_time_ms")
    if r["direction"] == "behind":
        return (f"the monitor is {lag} ms behind the console (limit {limit}): telemetry "
                f"arrives slower than real time, so the newest frame (console time {at} ms) "
                f"describes the console at least {lag} ms ago")
    allowance = (f"limit {limit} during start-up" if r.flag("start_up") else
                 f"limit {limit} plus {r.int('drift_ppm')} ppm clock drift")
    return (f"console time ran {lag} ms ahead of the monitor's clock ({allowance}): frames "
            f"arrive faster than real time (a replay, or a console clock running fast; "
            f"console time {at} ms)")


def _clock_frozen(r: _Reading) -> str:
    return (f"console time stuck at {r.int('console_time_ms')} ms for "
            f"{r.int('repeated_frames') + 1} frames over {r.int('stuck_ms')} ms of monitor "
            f"time (limit {r.int('limit_frames')} repeats or {r.int('limit_ms')} ms): the "
            "console's clock is not advancing")


def _frame_rate(r: _Reading) -> str:
    return (f"{r.int('frames')} telemetry frames in the last {r.int('window_ms')} ms of "
            f"monitor time (at least {r.int('limit_frames')} needed: the console sends one "
            "per 1 ms tick)")


#: Per time-coherence rule ID: the sentence for its finding.
COHERENCE_MESSAGES: Final[Mapping[str, Callable[[_Reading], str]]] = {
    "MON-TIME-LAG": _time_lag,
    "MON-CLOCK-FROZEN": _clock_frozen,
    "MON-FRAME-RATE": _frame_rate,
}


def coherence_message(rule_id: str, detail: str) -> str:
    """The operator's sentence for a time-coherence finding (``name=value`` readings in
    ``detail``); the rule ID and the raw readings when no template fits. Never raises."""
    template = COHERENCE_MESSAGES.get(rule_id)
    if template is not None:
        values, notes = parse_rule_detail(detail)
        try:
            return f"{rule_id}: {template(_Reading(values, notes, RuleConfig()))}"
        except (KeyError, ValueError, TypeError, IndexError):
            pass
    return f"{rule_id}: {detail}"


def stall_message(detail: str) -> str:
    """The operator's sentence for a MONITOR_STALL trip: the monitor's own loop did not run
    (``stalled_ms``) for longer than the silence watchdog (``limit_ms``). Never raises."""
    values, _ = parse_rule_detail(detail)
    gap, limit = values.get("stalled_ms"), values.get("limit_ms")
    if not isinstance(gap, int) or not isinstance(limit, int):
        return f"monitor stalled: {detail}"
    return (f"monitor stalled {gap} ms: host overloaded (the monitor's own loop did not run "
            f"for {gap} ms, longer than the {limit} ms telemetry watchdog, so it was not "
            "watching; this is not console silence)")
