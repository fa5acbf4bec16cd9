"""Observers: bookkeeping that states what a property means, kept apart from the controller.

An observer counts what an outside witness would count (ms without a trigger, beats
detected since the last inflation, ms since activity was seen...). The controller never
reads an observer, so a property stated over observers is a claim about the
controller's behaviour, not about its own counters.
"""

from __future__ import annotations

from iabp.spec import assumptions as A
from iabp.spec.controller_step import (
    UNASSISTED_CAP,
    inflate_cmd,
    mode,
)
from iabp.spec.environment import R_CHANNEL, UPSTROKE_CHANNEL
from iabp.spec.expr import BOOL, INT, And, Expr, Ite, Min, Not, Or, Var
from iabp.spec.modes import STOPPED_MODES, TRIGGER_MODES, Mode
from iabp.spec.system import Assign, StateVar, VarRole

SINCE_INTERNAL_CAP_MS = A.GAS_DEFLATE_MAX_MS + 1
#: Saturation of the ms-since-the-inflation-began observer: past the longest internal period.
SINCE_RISE_CAP_MS = 1501

obs_since_internal = Var("obs_since_internal_ms", INT)
obs_no_trigger = Var("obs_no_trigger_ms", INT)
obs_beats = Var("obs_beats_since_inflation", INT)
obs_since_activity = Var("obs_since_activity_ms", INT)
obs_idle = Var("obs_idle_ms", INT)
obs_unassisted = Var("obs_unassisted_beats", INT)
obs_since_rise = Var("obs_since_inflation_start_ms", INT)


def rising_inflation() -> Expr:
    """The inflate command turns on at this step."""
    return And(Not(inflate_cmd), inflate_cmd.nxt)


def trigger_event(primed_mode: bool = True) -> Expr:
    """A report of the active trigger source on this tick, in a trigger mode."""
    m = mode.nxt if primed_mode else mode
    return Or(And(m.eq(Mode.ECG_TRIGGER), R_CHANNEL.input),
              And(m.eq(Mode.PRESSURE_TRIGGER), UPSTROKE_CHANNEL.input))


def state_vars() -> list[StateVar]:
    o = VarRole.OBSERVER
    return [
        StateVar("obs_since_internal_ms", INT, o, "ms since the mode was last INTERNAL "
                 "(saturating)", 0, SINCE_INTERNAL_CAP_MS,
                 init=obs_since_internal.eq(SINCE_INTERNAL_CAP_MS)),
        StateVar("obs_no_trigger_ms", INT, o, "ms in a trigger mode with no trigger report",
                 0, A.TRIGGER_TIMER_CAP_MS, init=obs_no_trigger.eq(0)),
        StateVar("obs_beats_since_inflation", INT, o, "trigger reports since the inflate "
                 "command last turned on in a trigger mode (saturates at 3)", 0, 3, init=obs_beats.eq(0)),
        StateVar("obs_since_activity_ms", INT, o, "ms since cardiac activity was reported",
                 0, A.ASYSTOLE_CONFIRM_MS, init=obs_since_activity.eq(0)),
        StateVar("obs_idle_ms", INT, o, "ms the mode has been STANDBY or HALTED",
                 0, A.IDLE_TIMER_CAP_MS, init=obs_idle.eq(0)),
        StateVar("obs_unassisted_beats", INT, o, "trigger reports in this trigger mode since "
                 "the last inflation (saturating)", 0, UNASSISTED_CAP,
                 init=obs_unassisted.eq(0)),
        StateVar("obs_since_inflation_start_ms", INT, o, "ms since the inflate command last "
                 "turned on (saturating)", 0, SINCE_RISE_CAP_MS,
                 init=obs_since_rise.eq(SINCE_RISE_CAP_MS)),
    ]


def step() -> list[Assign]:
    o = VarRole.OBSERVER
    trig_mode_n = mode.nxt.isin(TRIGGER_MODES)
    fresh_entry = mode.nxt.ne(mode)
    return [
        Assign("obs_since_internal_ms", Ite(mode.nxt.eq(Mode.INTERNAL), 0,
                                            Min(obs_since_internal + 1,
                                                SINCE_INTERNAL_CAP_MS)), False, o),
        Assign("obs_no_trigger_ms", Ite(
            And(trig_mode_n, Not(fresh_entry), Not(trigger_event())),
            Min(obs_no_trigger + 1, A.TRIGGER_TIMER_CAP_MS), 0), False, o),
        Assign("obs_beats_since_inflation", Ite(
            And(rising_inflation(), trig_mode_n), 0,
            Ite(And(trig_mode_n, Not(fresh_entry), trigger_event()),
                Min(obs_beats + 1, 3), obs_beats)), False, o),
        Assign("obs_since_activity_ms", Ite(Var("activity", BOOL), 0,
                                            Min(obs_since_activity + 1,
                                                A.ASYSTOLE_CONFIRM_MS)), False, o),
        Assign("obs_unassisted_beats", Ite(
            Or(fresh_entry, Not(trig_mode_n), rising_inflation()), 0,
            Ite(trigger_event(), Min(obs_unassisted + 1, UNASSISTED_CAP), obs_unassisted)),
            False, o),
        Assign("obs_idle_ms", Ite(mode.nxt.isin(STOPPED_MODES),
                                  Min(obs_idle + 1, A.IDLE_TIMER_CAP_MS), 0), False, o),
        Assign("obs_since_inflation_start_ms", Ite(rising_inflation(), 0,
                                                   Min(obs_since_rise + 1, SINCE_RISE_CAP_MS)),
               False, o),
    ]
