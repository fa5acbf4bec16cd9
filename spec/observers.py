"""Observers: bookkeeping that states what a property means, kept apart from the controller.

An observer counts what an outside witness would count (ms without a trigger, beats
detected since the last inflation, ms since activity was seen...). The controller never
reads an observer, so a property stated over observers is a claim about the
controller's behaviour, not about its own counters.
"""

from __future__ import annotations

from iabp.spec import assumptions as A
from iabp.spec.assumptions import STATED_WORLD, World, world
from iabp.spec.controller_step import (
    UNASSISTED_CAP,
    inflate_cmd,
    mode,
)
from iabp.spec.environment import (
    R_CHANNEL,
    UPSTROKE_CHANNEL,
    heart_rr,
    heart_silent,
    heart_t,
    new_beat,
)
from iabp.spec.expr import BOOL, INT, And, Expr, Ite, Max, Min, Not, Or, Var
from iabp.spec.modes import STOPPED_MODES, TRIGGER_MODES, Mode
from iabp.spec.system import Assign, StateVar, VarRole
from iabp.spec.timing import RR_MAX_MS, RR_MIN_MS


def since_internal_cap_ms(w: World | None = None) -> int:
    """Saturation of the ms-since-internal-pumping observer: past the gas deflation time of
    ``w`` (default: the world being built)."""
    return (w or world()).gas_deflate_max_ms + 1


def since_activity_cap_ms(w: World | None = None) -> int:
    """Saturation of the ms-since-activity observer: just past the longest gap between two
    activity reports of a beating heart (its own constant, not the controller's guard)."""
    return (w or world()).activity_gap_max_ms + 1


def since_fall_cap_ms(w: World | None = None) -> int:
    """Saturation of the ms-since-the-deflation-began observer: past the gas deflation time."""
    return (w or world()).gas_deflate_max_ms + 1


#: The observers' saturations in the stated world.
SINCE_INTERNAL_CAP_MS = since_internal_cap_ms(STATED_WORLD)
SINCE_ACTIVITY_CAP_MS = since_activity_cap_ms(STATED_WORLD)
SINCE_FALL_CAP_MS = since_fall_cap_ms(STATED_WORLD)
#: Saturation of the ms-since-the-inflation-began observer: past the longest internal period.
SINCE_RISE_CAP_MS = 1501

obs_since_internal = Var("obs_since_internal_ms", INT)
obs_no_trigger = Var("obs_no_trigger_ms", INT)
obs_beats = Var("obs_beats_since_inflation", INT)
obs_since_activity = Var("obs_since_activity_ms", INT)
obs_idle = Var("obs_idle_ms", INT)
obs_unassisted = Var("obs_unassisted_beats", INT)
obs_since_rise = Var("obs_since_inflation_start_ms", INT)
obs_since_fall = Var("obs_since_deflation_start_ms", INT)
obs_in_ecg = Var("obs_in_ecg_ms", INT)
obs_steady = Var("obs_steady_beats", INT)
obs_steady_rr_lo = Var("obs_steady_rr_lo_ms", INT)
obs_steady_rr_hi = Var("obs_steady_rr_hi_ms", INT)
#: Saturation of the steady-beat count: enough beats for the R-R floor to climb from the
#: shortest interval to the longest (20 ms per beat).
STEADY_CAP = 60
#: Saturation of the ms-in-ECG-trigger-mode observer: as long as the longest beat.
IN_ECG_CAP_MS = RR_MAX_MS


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
                 "(saturating)", 0, since_internal_cap_ms(),
                 init=obs_since_internal.eq(since_internal_cap_ms())),
        StateVar("obs_no_trigger_ms", INT, o, "ms in a trigger mode with no trigger report",
                 0, A.TRIGGER_TIMER_CAP_MS, init=obs_no_trigger.eq(0)),
        StateVar("obs_beats_since_inflation", INT, o, "trigger reports since the inflate "
                 "command last turned on in a trigger mode (saturates at 3)", 0, 3, init=obs_beats.eq(0)),
        StateVar("obs_since_activity_ms", INT, o, "ms since cardiac activity was reported",
                 0, since_activity_cap_ms(), init=obs_since_activity.eq(0)),
        StateVar("obs_idle_ms", INT, o, "ms the mode has been STANDBY or HALTED",
                 0, A.IDLE_TIMER_CAP_MS, init=obs_idle.eq(0)),
        StateVar("obs_unassisted_beats", INT, o, "trigger reports in this trigger mode since "
                 "the last inflation (saturating)", 0, UNASSISTED_CAP,
                 init=obs_unassisted.eq(0)),
        StateVar("obs_since_inflation_start_ms", INT, o, "ms since the inflate command last "
                 "turned on (saturating)", 0, SINCE_RISE_CAP_MS,
                 init=obs_since_rise.eq(SINCE_RISE_CAP_MS)),
        StateVar("obs_since_deflation_start_ms", INT, o, "ms since the inflate command last "
                 "turned off (saturating)", 0, since_fall_cap_ms(),
                 init=obs_since_fall.eq(since_fall_cap_ms())),
        StateVar("obs_in_ecg_ms", INT, o, "ms the console has been in ECG trigger mode without "
                 "a break (saturating; 0 outside it)", 0, IN_ECG_CAP_MS,
                 init=obs_in_ecg.eq(0)),
        StateVar("obs_steady_beats", INT, o, "beats in a row, just ended, that ran whole in ECG "
                 "trigger mode, were reported by the R-wave detector and saw no settings "
                 "request (saturating)", 0, STEADY_CAP, init=obs_steady.eq(0)),
        # no declared range: the heart's R-R is only in range under ASM-HEART-RATE (L-ASSIST)
        StateVar("obs_steady_rr_lo_ms", INT, o, "shortest R-R of those beats (ms)",
                 init=obs_steady_rr_lo.eq(RR_MAX_MS)),
        StateVar("obs_steady_rr_hi_ms", INT, o, "longest R-R of those beats (ms)",
                 init=obs_steady_rr_hi.eq(RR_MIN_MS)),
    ]


def step() -> list[Assign]:
    """Every observer's update: those over what the console shows, and the steady run
    (which also reads the heart)."""
    return [*console_step(), *_steady_run()]


def console_step() -> list[Assign]:
    """The observers over what the console shows (mode, balloon command, detector reports,
    settings): the runtime monitor runs these on telemetry."""
    o = VarRole.OBSERVER
    trig_mode_n = mode.nxt.isin(TRIGGER_MODES)
    fresh_entry = mode.nxt.ne(mode)
    return [
        Assign("obs_since_internal_ms", Ite(mode.nxt.eq(Mode.INTERNAL), 0,
                                            Min(obs_since_internal + 1,
                                                since_internal_cap_ms())), False, o),
        Assign("obs_no_trigger_ms", Ite(
            And(trig_mode_n, Not(fresh_entry), Not(trigger_event())),
            Min(obs_no_trigger + 1, A.TRIGGER_TIMER_CAP_MS), 0), False, o),
        Assign("obs_beats_since_inflation", Ite(
            And(rising_inflation(), trig_mode_n), 0,
            Ite(And(trig_mode_n, Not(fresh_entry), trigger_event()),
                Min(obs_beats + 1, 3), obs_beats)), False, o),
        Assign("obs_since_activity_ms", Ite(Var("activity", BOOL), 0,
                                            Min(obs_since_activity + 1,
                                                since_activity_cap_ms())), False, o),
        Assign("obs_unassisted_beats", Ite(
            Or(fresh_entry, Not(trig_mode_n), rising_inflation()), 0,
            Ite(trigger_event(), Min(obs_unassisted + 1, UNASSISTED_CAP), obs_unassisted)),
            False, o),
        Assign("obs_idle_ms", Ite(mode.nxt.isin(STOPPED_MODES),
                                  Min(obs_idle + 1, A.IDLE_TIMER_CAP_MS), 0), False, o),
        Assign("obs_since_inflation_start_ms", Ite(rising_inflation(), 0,
                                                   Min(obs_since_rise + 1, SINCE_RISE_CAP_MS)),
               False, o),
        Assign("obs_since_deflation_start_ms", Ite(And(inflate_cmd, Not(inflate_cmd.nxt)), 0,
                                                   Min(obs_since_fall + 1, since_fall_cap_ms())),
               False, o),
        Assign("obs_in_ecg_ms", Ite(mode.nxt.eq(Mode.ECG_TRIGGER),
                                    Min(obs_in_ecg + 1, IN_ECG_CAP_MS), 0), False, o),
    ]


def _steady_run() -> list[Assign]:
    """The run of steady beats: a beat that ends whole in ECG trigger mode, reported by
    the detector, extends it (and its R-R range); anything else ends it."""
    o = VarRole.OBSERVER
    broken = Or(mode.nxt.ne(Mode.ECG_TRIGGER), Var("set_request", BOOL))
    beat_ok = And(R_CHANNEL.seen, Not(heart_silent), obs_in_ecg > heart_t)
    first = obs_steady.eq(0)
    extend = And(Not(broken), new_beat, beat_ok)
    keep = And(Not(broken), Not(new_beat))
    return [
        Assign("obs_steady_beats", Ite(extend, Min(obs_steady + 1, STEADY_CAP),
                                       Ite(keep, obs_steady, 0)), False, o),
        Assign("obs_steady_rr_lo_ms", Ite(extend, Ite(first, heart_rr, Min(obs_steady_rr_lo,
                                                                           heart_rr)),
                                          Ite(keep, obs_steady_rr_lo, RR_MAX_MS)), False, o),
        Assign("obs_steady_rr_hi_ms", Ite(extend, Ite(first, heart_rr, Max(obs_steady_rr_hi,
                                                                           heart_rr)),
                                          Ite(keep, obs_steady_rr_hi, RR_MIN_MS)), False, o),
    ]
