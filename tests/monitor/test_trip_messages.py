"""Trip messages in plain words (issue 9): the rule ID and the numbers, no spec variables.

Each rule's violation detail is built by the rule itself (``Rule.describe`` of a
valuation), exactly as the monitor sees it; the message must be a sentence that names
the rule, carries the numbers and shows no primed variable name (``inflate_cmd'``) and no
``name=value`` dump. The machine detail stays in :attr:`Trip.detail` for the audit record.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iabp.monitor.failsafe import Cause, Trip
from iabp.monitor.rules.base import Outcome, Rule, RuleConfig, Verdict
from iabp.monitor.rules.ruleset import RULES
from iabp.monitor.trip_messages import RULE_MESSAGES, parse_rule_detail
from iabp.spec.modes import Mode

PRIMED = re.compile(r"[A-Za-z_]\w*'(?![A-Za-z])")  # not the possessive 's
BOOLS = {"inflate_cmd", "heart_silent", "r_wave_seen", "upstroke_seen", "gas_filled",
         "mon_gas_filled", "mon_gas_inflated", "contra_absolute", "contra_relative",
         "contra_override", "activity", "mon_activity_late", "mon_stop_sent"}

#: One violating valuation per rule (by rule ID), values as the reconstruction gives them.
VIOLATIONS: dict[str, dict[str, Any]] = {
    "MON-NO-GAS-IN-EJECTION": {"heart_t_ms'": 112, "heart_pep_ms'": 100, "heart_qs2_ms'": 330,
                               "inflate_cmd'": True, "gas_timer_ms'": 200},
    "MON-INFL-DIASTOLE": {"heart_t_ms'": 150, "heart_qs2_ms'": 330, "inflate_cmd": False,
                          "inflate_cmd'": True},
    "MON-TRIGGER-FRESH": {"inflate_cmd": False, "inflate_cmd'": True},
    "MON-STANDBY-DEFLATED": {"mode'": Mode.STANDBY, "inflate_cmd'": True},
    "MON-CONTRA-ABSOLUTE": {"contra_absolute": True, "inflate_cmd'": True,
                            "alm_contra_absolute'": False},
    "MON-CONTRA-RELATIVE": {"contra_relative": True, "contra_override": False,
                            "inflate_cmd'": True, "alm_contra_relative'": False},
    "MON-TRIGGER-LOSS": {"obs_no_trigger_ms'": 3214, "set_trigger_loss_timeout_ms'": 2500,
                         "inflate_cmd'": True, "alm_trigger_loss'": False},
    "MON-TRIGGER-LOSS-BOUND": {"obs_no_trigger_ms'": 5214, "inflate_cmd'": True,
                               "alm_trigger_loss'": False},
    "MON-INTERNAL-ENTRY": {"mode": Mode.STANDBY, "mode'": Mode.INTERNAL,
                           "obs_since_activity_ms": 800, "activity": False},
    "MON-INTERNAL-EXIT": {"mode": Mode.INTERNAL, "mode'": Mode.INTERNAL,
                          "mon_activity_late": True, "inflate_cmd'": True,
                          "alm_async_activity'": False},
    "MON-INTERNAL-RATE": {"mode": Mode.INTERNAL, "mode'": Mode.INTERNAL, "inflate_cmd": False,
                          "inflate_cmd'": True, "obs_since_inflation_start_ms": 419},
    "MON-INTERNAL-DEFLATES": {"mode": Mode.INTERNAL, "inflate_cmd": True,
                              "obs_since_inflation_start_ms": 1460},
    "MON-FAULT-HALT": {"alm_gas_loss'": True, "mode'": Mode.ECG_TRIGGER, "inflate_cmd'": True},
    "MON-RATIO": {"obs_beats_since_inflation": 1, "set_assist_ratio": 2, "inflate_cmd": False,
                  "inflate_cmd'": True},
    "MON-SETTINGS-SAFE": {"set_inflation_offset_ms'": -50},
    "MON-ALARM-CAUSE": {"contra_absolute": True, "alm_contra_absolute'": False},
    "MON-IDLE-ALARM": {"obs_idle_ms'": 400_000, "set_idle_limit_ms'": 300_000,
                       "alm_idle'": False},
    "MON-ASSIST-SUSPENDED": {"obs_unassisted_beats'": 6, "set_assist_ratio'": 1,
                             "alm_assist_suspended'": False},
    "MON-STOP-OBEYED": {"mon_since_stop_ms": 80, "mon_stop_sent": True, "inflate_cmd'": True},
    "MON-MODE-TABLE": {"mode": Mode.HALTED, "mode'": Mode.INTERNAL},
    "MON-NO-START-OVER-ALARM": {"mode": Mode.STANDBY, "mode'": Mode.ECG_TRIGGER,
                                "alm_gas_loss'": True},
}
NOTES: dict[str, str] = {
    "MON-SETTINGS-SAFE": "C-OFFSET: inflation_offset_ms must be at least -20",
    "MON-MODE-TABLE": "mode change HALTED -> INTERNAL is not in the mode table",
}


def default(name: str) -> Any:
    base = name.rstrip("'")
    if base == "mode":
        return Mode.ECG_TRIGGER
    if base.startswith("alm_") or base in BOOLS:
        return False
    return 0


def violation_of(rule: Rule, values: dict[str, Any], note: str = "") -> Verdict:
    """The verdict the rule itself would report for ``values`` (its own describe())."""
    v = {k: default(k) for k in rule.reads} | values
    detail = (note + "; " if note else "") + rule.describe(v)
    return Verdict(Outcome.VIOLATED, rule.rule_id, rule.property_id, 4214, detail)


def assert_plain(message: str, rule_id: str) -> None:
    assert message.startswith(rule_id + ": "), message
    assert not PRIMED.search(message), message
    assert "=" not in message, message
    assert "broke this rule" not in message, message  # the template, not the fallback


@pytest.mark.parametrize("rule_cls", RULES, ids=[r.rule_id for r in RULES])
def test_every_rule_has_a_plain_sentence(rule_cls: type[Rule]) -> None:
    rule = rule_cls()
    assert rule.rule_id in RULE_MESSAGES, f"no message template for {rule.rule_id}"
    verdict = violation_of(rule, VIOLATIONS[rule.rule_id], NOTES.get(rule.rule_id, ""))
    trip = Trip.from_verdict(verdict, 5000)
    assert_plain(trip.message(), rule.rule_id)
    assert "inflate_cmd" in trip.detail or rule.rule_id in (
        "MON-SETTINGS-SAFE", "MON-MODE-TABLE", "MON-ALARM-CAUSE", "MON-IDLE-ALARM",
        "MON-ASSIST-SUSPENDED", "MON-INTERNAL-ENTRY", "MON-NO-START-OVER-ALARM")
    assert trip.to_json()["detail"] == trip.detail  # the machine detail stays for the audit
    assert trip.to_json()["message"] == trip.message()


def test_the_messages_carry_the_numbers() -> None:
    def message(rule_id: str) -> str:
        rule = next(r for r in RULES if r.rule_id == rule_id)()
        return Trip.from_verdict(violation_of(rule, VIOLATIONS[rule_id],
                                              NOTES.get(rule_id, "")), 5000).message()

    assert message("MON-NO-GAS-IN-EJECTION").startswith(
        "MON-NO-GAS-IN-EJECTION: balloon still holding helium 12 ms after ejection began "
        "(limit 0)")
    tol = RuleConfig().detection_tolerance_ms
    assert message("MON-TRIGGER-LOSS") == (
        f"MON-TRIGGER-LOSS: no R wave for 3214 ms (limit {2500 + tol}) and the console kept "
        "pumping without the trigger-loss alarm")
    assert "after 1 detected beat since" in message("MON-RATIO") and "1:2" in message("MON-RATIO")
    assert "400000 ms (idle limit 300000)" in message("MON-IDLE-ALARM")
    assert "80 ms after the monitor's STOP" in message("MON-STOP-OBEYED")
    assert "from halted to internal mode" in message("MON-MODE-TABLE")
    assert "at least -20" in message("MON-SETTINGS-SAFE")


def test_a_retro_judged_violation_keeps_its_numbers() -> None:
    rule = next(r for r in RULES if r.rule_id == "MON-NO-GAS-IN-EJECTION")()
    verdict = violation_of(rule, VIOLATIONS["MON-NO-GAS-IN-EJECTION"],
                           "judged when the beat was decided at 4300 ms")
    assert "12 ms after ejection began" in Trip.from_verdict(verdict, 5000).message()


def test_an_unknown_rule_or_unusable_values_get_a_generic_sentence() -> None:
    unknown = Trip(Cause.RULE_VIOLATION, "at 17 ms of telemetry: x'=1", 20, "MON-NEW", "P-NEW")
    assert unknown.message() == ("MON-NEW: the console broke this rule (P-NEW) at 17 ms of "
                                 "telemetry; the values it read are in the audit record")
    garbled = Trip(Cause.RULE_VIOLATION, "at 17 ms of telemetry: nothing", 20,
                   "MON-TRIGGER-LOSS", "P-TRIGGER-LOSS")
    assert "broke this rule" in garbled.message() and not PRIMED.search(garbled.message())


def test_other_causes_read_as_before() -> None:
    assert Trip(Cause.SILENCE, "no valid telemetry for more than 50 ms (watchdog)", 0
                ).message() == "telemetry silence: no valid telemetry for more than 50 ms (watchdog)"
    assert Trip(Cause.PORT_LOST, "cannot open port '/dev/x': gone", 0).message() == \
        "cannot open port '/dev/x': gone"


def test_detail_parsing_keeps_notes_apart() -> None:
    values, notes = parse_rule_detail(
        "at 5 ms of telemetry: judged when the beat was decided at 9 ms; a'=1 b=True c'=ECG_TRIGGER")
    assert values == {"a'": 1, "b": True, "c'": "ECG_TRIGGER"}
    assert notes == ["judged when the beat was decided at 9 ms"]


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(RULES), st.data())
def test_any_readings_give_a_sentence_never_an_exception(rule_cls: type[Rule],
                                                         data: st.DataObject) -> None:
    rule = rule_cls()
    values: dict[str, Any] = {}
    for name in sorted(rule.reads):
        base = name.rstrip("'")
        if base == "mode":
            values[name] = data.draw(st.sampled_from(list(Mode)))
        elif base.startswith("alm_") or base in BOOLS:
            values[name] = data.draw(st.booleans())
        else:
            values[name] = data.draw(st.integers(-10, 10**6))
    message = Trip.from_verdict(violation_of(rule, values), 1).message()
    assert message.startswith(rule.rule_id + ": ") and not PRIMED.search(message)
