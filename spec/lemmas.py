"""Auxiliary invariants (lemmas) that make the safety properties provable by induction.

A lemma is itself proved: at power-on, and preserved by every step given the lemmas it
uses and the assumptions it names. Lemmas tie the controller's counters to what the
heart and the detectors really did (through the observers' ghost variables):

- ``L-CH-*``: what each detector's ghost variables say about its last reports, and that
  after a missed beat the next interval is far from the last single-beat one;
- ``L-SYNC-*``: in a trigger mode the controller's trigger timer and interval estimate
  are the detector's, armed/inflated only in a detected beat after a single-beat
  interval, inflated only after the end of ejection and before the deflation point;
- ``L-GAS``: helium left after a deflation is gone before the next ejection starts.
"""

from __future__ import annotations

from iabp.spec import assumptions as A
from iabp.spec import monitor_model
from iabp.spec.assumptions import world
from iabp.spec.controller_step import (
    HIGH_FAULT_INPUTS,
    RR_FLOOR_RISE_MS,
    UNASSISTED_BEATS_ALARM,
    ecg_deflate_at_ms,
    ecg_inflate_at_ms,
    in_trigger_mode,
    inflate_cmd,
    is_stopped,
    mode,
    pressure_deflate_at_ms,
)
from iabp.spec.environment import (
    R_CHANNEL,
    UPSTROKE_CHANNEL,
    Channel,
    activity_delay,
    beat_ejection_invariant,
    beat_invariant,
    gas_filled,
    gas_timer,
    gas_timer_cap_ms,
    heart_pep,
    heart_prev_rr,
    heart_qs2,
    heart_rr,
    heart_silent,
    heart_t,
    pep_lo_world_ms,
)
from iabp.spec.expr import BOOL, INT, And, Between, Expr, Implies, Ite, Max, Min, Not, Or, Var
from iabp.spec.modes import PUMPING_MODES, TRIGGER_MODES, Mode
from iabp.spec.observers import (
    SINCE_INTERNAL_CAP_MS,
    obs_beats,
    obs_idle,
    obs_in_ecg,
    obs_no_trigger,
    obs_since_activity,
    obs_since_fall,
    obs_since_internal,
    obs_since_rise,
    obs_steady,
    obs_steady_rr_hi,
    obs_steady_rr_lo,
    obs_unassisted,
    since_activity_cap_ms,
    since_fall_cap_ms,
)
from iabp.spec.properties import ASSIST_RUN_MIN_BEATS, assist_window_open
from iabp.spec.settings import SETTINGS, current_settings, settings_valid
from iabp.spec.system import Lemma, StateVar, VarRole
from iabp.spec.timing import RR_MAX_MS, RR_MIN_MS, qs2_hi_ms

HEART = A.SINUS_HEART
ANY_RHYTHM = A.ANY_RHYTHM_HEART
ENV_DOMAIN_ASSUMPTIONS = ("ASM-HEART-RATE", "ASM-EJECTION", "ASM-R-DETECT",
                          "ASM-PRESSURE-DETECT", "ASM-ACTIVITY")
CAP = A.TRIGGER_TIMER_CAP_MS


def _b(name: str) -> Var:
    return Var(name, BOOL)


def _setting_lo(name: str) -> int:
    return next(s.lo for s in SETTINGS if s.name == name)


def _setting_hi(name: str) -> int:
    return next(s.hi for s in SETTINGS if s.name == name)


def _i(name: str) -> Var:
    return Var(name, INT)


def _domains(state: list[StateVar], env: bool) -> Expr:
    parts = [d for s in state if (s.role is VarRole.ENVIRONMENT) == env
             for d in [s.domain()] if d is not None]
    return And(*parts)


def _channel_lemma(c: Channel) -> Expr:
    w = world()
    jitter_ms = c.jitter(w)
    g, t, rep, prev_rep = c.ghost, heart_t, c.event_time, c.prev_event_time
    seen, prev_seen = c.seen, c.prev_seen
    return And(
        seen.eq(And(t > rep, Not(c.missed), Not(heart_silent))),
        prev_seen.eq(c.streak >= 1),
        Implies(Or(c.missed, heart_silent), c.streak.ne(1)),
        Between(g.rr_at, w.rr_min_ms, w.rr_max_ms), Between(g.time_at, c.time_lo, c.time_hi),
        Between(rep, c.time_lo, c.time_hi), Between(prev_rep, c.time_lo, c.time_hi),
        Implies(seen, And(g.since.eq(t - rep - 1), g.rr_at.eq(heart_rr), g.time_at.eq(rep),
                          g.single.eq(prev_seen),
                          Implies(g.single, g.interval.eq(heart_prev_rr + rep - prev_rep)))),
        Implies(And(Not(seen), prev_seen),
                And(g.since.eq(t + heart_prev_rr - prev_rep - 1), g.rr_at.eq(heart_prev_rr),
                    g.time_at.eq(prev_rep), g.single.eq(c.streak.eq(2)))),
        Implies(And(Not(seen), Not(prev_seen)),
                And(g.since >= Min(t + 2 * g.rr_at - w.rr_step_max_ms - g.time_at - 1, CAP),
                    Implies(g.since < CAP, g.single))),
        Implies(g.single, Between(g.interval - g.rr_at, -(w.rr_step_max_ms + jitter_ms),
                                  w.rr_step_max_ms + jitter_ms)),
    )


def _deflate_at(m: Mode) -> Expr:
    s = current_settings()
    floor = _i("rr_floor_ms")
    if m is Mode.ECG_TRIGGER:
        return ecg_deflate_at_ms(floor, s["ecg_deflation_lead_ms"])
    return pressure_deflate_at_ms(floor, s["pressure_deflation_lead_ms"])


def _helium_after_ejection() -> Expr:
    """Helium that the inflate command lets in arrives at or after this beat's end of
    ejection (the command is on; ``gas_timer`` counts ms since it turned on)."""
    lag = world().gas_inflate_lag_min_ms
    closure = Max(heart_qs2, qs2_hi_ms(heart_prev_rr))
    return And(Implies(gas_timer >= lag, heart_t >= closure),
               Implies(gas_timer < lag, heart_t + lag - gas_timer >= closure))


def _early_beat_lemma() -> Expr:
    """ECG trigger on any rhythm: once this beat's R wave has been reported, the timer and
    the interval are the detector's, an inflation in this beat starts only after its end
    of ejection, and helium still draining was let out no later than the report; from
    the QRS suspicion before the report on, the balloon is deflated and what drains was
    let out by that suspicion."""
    c = R_CHANNEL
    ecg = mode.eq(Mode.ECG_TRIGGER)
    since, seen_n, rr_est = _i("since_trigger_ms"), _i("triggers_seen"), _i("rr_est_ms")
    rep, prev_rep = c.event_time, c.prev_event_time
    reported = And(ecg, c.seen)
    w = world()
    draining = And(Not(inflate_cmd), gas_filled, gas_timer < w.gas_deflate_max_ms)
    # in ECG trigger since before this detected beat's QRS suspicion began, and past it
    suspected = And(ecg, Not(c.missed), Not(heart_silent),
                    heart_t > rep - A.R_SUSPECT_LEAD_MS,
                    obs_in_ecg > heart_t - rep + A.R_SUSPECT_LEAD_MS)
    return And(
        Implies(Not(ecg), obs_in_ecg.eq(0)),
        c.seen.eq(And(heart_t > rep, Not(c.missed), Not(heart_silent))),
        Implies(And(reported, Or(seen_n >= 1, obs_in_ecg > heart_t - rep)),
                since.eq(heart_t - rep - 1)),
        Implies(And(reported, obs_in_ecg > heart_t - rep,
                    since < _i("set_trigger_loss_timeout_ms")), seen_n >= 1),
        Implies(And(ecg, Not(c.seen), seen_n >= 1),
                since >= Min(heart_t + heart_prev_rr - prev_rep - 1, CAP)),
        Implies(And(reported, Or(_b("armed"), inflate_cmd)),
                And(seen_n >= 2, rr_est + w.r_detect_jitter_ms >= heart_prev_rr)),
        Implies(And(reported, inflate_cmd), _helium_after_ejection()),
        Implies(And(reported, obs_in_ecg > heart_t - rep, draining),
                Or(heart_t - gas_timer <= rep + 1, heart_t >= heart_qs2)),
        # the QRS suspicion before the report deflated the balloon and kept it empty
        Implies(And(suspected, Not(c.seen)), Not(inflate_cmd)),
        Implies(And(suspected, draining),
                Or(heart_t - gas_timer <= rep - A.R_SUSPECT_LEAD_MS + 1, heart_t >= heart_qs2)),
    )


def _assist_lemma() -> Expr:
    """Steady rhythm in ECG trigger: the floor has climbed, the interval is the run's, a
    beat the 1:N ratio selects, reported inside the efficacy envelope, is armed and
    inflates before it ends."""
    c = R_CHANNEL
    n, lo, hi = obs_steady, obs_steady_rr_lo, obs_steady_rr_hi
    w = world()
    jitter = w.r_detect_jitter_ms
    floor, before = _i("rr_floor_ms"), _i("rr_floor_before_ms")
    rr_est, since, seen_n = _i("rr_est_ms"), _i("since_trigger_ms"), _i("triggers_seen")
    # floor updates by intervals of the run: one per reported beat of the run after its
    # first two (the first measures an interval from before the run, the second may be
    # the skipped half of a split beat)
    updates = Max(0, Ite(c.seen, n - 1, n - 2))
    ratio = _i("set_assist_ratio")
    unassisted = obs_unassisted
    run = And(n >= ASSIST_RUN_MIN_BEATS, assist_window_open(lo, hi, n - 2))
    waiting = And(_b("armed"), Not(inflate_cmd),
                  since < ecg_inflate_at_ms(rr_est, current_settings()["inflation_offset_ms"]))
    # the trigger-loss timeout outlasts every interval of the run: no loss resets the count
    no_loss = _i("set_trigger_loss_timeout_ms") > hi + w.rr_step_max_ms + jitter
    return And(
        Implies(mode.eq(Mode.ECG_TRIGGER), And(floor >= RR_MIN_MS, before >= RR_MIN_MS)),
        Implies(n >= 1, And(
            mode.eq(Mode.ECG_TRIGGER), obs_in_ecg > heart_t,
            Between(lo, RR_MIN_MS, hi), hi <= RR_MAX_MS, Between(heart_prev_rr, lo, hi),
            c.prev_seen, c.streak >= Min(n, 2))),
        Implies(And(n >= 1, no_loss), And(
            floor >= Min(lo - jitter, RR_MIN_MS + RR_FLOOR_RISE_MS * updates),
            Implies(n >= 2, Between(rr_est, lo - jitter, hi + jitter)))),
        Implies(And(n >= 1, no_loss, Not(c.missed), Not(heart_silent)), And(
            seen_n >= Min(Ite(c.seen, n + 1, n), 3),
            Implies(c.seen, Between(rr_est, lo - jitter, hi + jitter)))),
        Implies(mode.eq(Mode.ECG_TRIGGER),
                _i("beats_since_inflation").eq(Min(_i("unassisted_triggers"), 3))),
        Implies(And(n >= 2, c.seen, assist_window_open(lo, hi, n - 1)),
                Or(unassisted < ratio, waiting)),
        Implies(And(run, Not(c.seen)), unassisted < ratio),
        Implies(And(run, c.seen), unassisted <= ratio),
    )


def _sync_lemma(m: Mode, c: Channel, lo: int, hi: int) -> Expr:
    g = c.ghost
    since, seen_n = _i("since_trigger_ms"), _i("triggers_seen")
    rr_est, in_mode = _i("rr_est_ms"), mode.eq(m)
    defl_at = _deflate_at(m)
    estimate_ok = And(seen_n >= 2, g.single, Between(rr_est, lo, hi), since < defl_at)
    this_beat = And(c.seen, Not(heart_silent))
    next_beat = And(Not(c.seen), c.prev_seen,
                    heart_t + (defl_at - since) + world().gas_deflate_max_ms <= heart_pep)
    after_ejection = _helium_after_ejection()
    return And(
        Implies(And(in_mode, seen_n >= 1), since.eq(g.since)),
        Implies(And(in_mode, seen_n >= 2), rr_est.eq(g.interval)),
        Implies(And(in_mode, Or(_b("armed"), inflate_cmd)), _i("rr_floor_ms") <= rr_est),
        Implies(And(in_mode, _b("armed")), And(estimate_ok, Or(this_beat, next_beat))),
        Implies(And(in_mode, inflate_cmd),
                And(estimate_ok, Or(And(this_beat, after_ejection), next_beat))),
    )


def lemmas(state: list[StateVar]) -> list[Lemma]:
    """The lemmas, stated for the world in force (:func:`iabp.spec.assumptions.world`); the
    controller's own constants (accepted R-R range, validator bounds) stay its design's."""
    w = world()
    since = _i("since_trigger_ms")
    sync_asm = (*HEART, "ASM-R-DETECT", "ASM-PRESSURE-DETECT", "ASM-MISS-SPACING")
    return [
        Lemma("L-DOM-CONTROLLER", _domains(state, env=False), (), (),
              "every controller, plant and observer counter stays in its declared range"),
        Lemma("L-DOM-ENVIRONMENT", _domains(state, env=True), ENV_DOMAIN_ASSUMPTIONS, (),
              "every heart and detector variable stays in its declared range"),
        Lemma("L-SETTINGS", settings_valid(current_settings()), (), (),
              "the settings in force pass the validator"),
        Lemma("L-QUIET", And(Implies(Not(in_trigger_mode()), Not(_b("armed"))),
                             Implies(Not(mode.isin(PUMPING_MODES)), Not(inflate_cmd)),
                             Implies(inflate_cmd, gas_filled.eq(
                                 gas_timer >= w.gas_inflate_lag_min_ms)),
                             Implies(mode.eq(Mode.INTERNAL), obs_since_internal.eq(0))),
              (), ("L-DOM-CONTROLLER",),
              "outside the trigger modes nothing is armed, outside the pumping modes the "
              "balloon command is off"),
        Lemma("L-HEART", And(heart_t < heart_rr, *beat_invariant()),
              (*HEART, "ASM-PRESSURE-DETECT"), ("L-DOM-ENVIRONMENT",),
              "the heart is inside its beat and the beat obeys the rate bands"),
        Lemma("L-CH-R", _channel_lemma(R_CHANNEL),
              (*HEART, "ASM-R-DETECT", "ASM-MISS-SPACING"), ("L-DOM-ENVIRONMENT", "L-HEART"),
              "the R-wave ghost variables track the detector's last reports"),
        Lemma("L-CH-UPSTROKE", _channel_lemma(UPSTROKE_CHANNEL),
              (*HEART, "ASM-PRESSURE-DETECT", "ASM-MISS-SPACING"), ("L-DOM-ENVIRONMENT", "L-HEART"),
              "the upstroke ghost variables track the detector's last reports"),
        Lemma("L-SYNC",
              And(_sync_lemma(Mode.ECG_TRIGGER, R_CHANNEL, A.RR_ACCEPT_MIN_MS,
                              A.RR_ACCEPT_MAX_MS),
                  _sync_lemma(Mode.PRESSURE_TRIGGER, UPSTROKE_CHANNEL,
                              A.PRESSURE_RR_ACCEPT_MIN_MS, A.PRESSURE_RR_ACCEPT_MAX_MS)),
              sync_asm, ("L-DOM-CONTROLLER", "L-DOM-ENVIRONMENT", "L-SETTINGS", "L-QUIET",
                         "L-CH-R", "L-CH-UPSTROKE"),
              "in a trigger mode the controller's timer and interval are the detector's; it "
              "is armed or inflated only in a detected beat after a single-beat interval, "
              "after the end of ejection and before its deflation point"),
        Lemma("L-BEAT-ANY-RHYTHM", And(heart_t < heart_rr, *beat_ejection_invariant()),
              (*ANY_RHYTHM, "ASM-PRESSURE-DETECT"), ("L-DOM-ENVIRONMENT",),
              "on any rhythm the heart is inside its beat and the beat's ejection follows the "
              "rate bands of the interval before it"),
        Lemma("L-EARLY-BEAT", _early_beat_lemma(), (*ANY_RHYTHM, "ASM-R-DETECT"),
              ("L-DOM-CONTROLLER", "L-DOM-ENVIRONMENT", "L-SETTINGS", "L-QUIET",
               "L-BEAT-ANY-RHYTHM"),
              "ECG trigger on any rhythm: after this beat's R report the controller's timer "
              "and interval are the detector's, inflation waits for the end of ejection, and "
              "helium still draining was let out by the report at the latest"),
        Lemma("L-RESTART", And(
            Implies(And(mode.eq(Mode.INTERNAL), Not(heart_silent)), heart_t <= activity_delay),
            Implies(And(Not(heart_silent), heart_t > activity_delay),
                    obs_since_activity <= heart_t - activity_delay - 1),
            Implies(And(Not(heart_silent), obs_since_internal <= w.gas_deflate_max_ms),
                    heart_t <= activity_delay + obs_since_internal)),
              ("ASM-HEART-RATE", "ASM-ACTIVITY"),
              ("L-DOM-CONTROLLER", "L-DOM-ENVIRONMENT", "L-ACTIVITY", "L-BEAT-ANY-RHYTHM"),
              "a beating heart is in internal mode only until its activity report; the "
              "report was seen this beat; recent internal pumping ended by then"),
        Lemma("L-ASSIST", _assist_lemma(), sync_asm,
              ("L-DOM-CONTROLLER", "L-DOM-ENVIRONMENT", "L-SETTINGS", "L-QUIET", "L-HEART",
               "L-CH-R", "L-SYNC", "L-EARLY-BEAT", "L-UNASSISTED"),
              "in a steady rhythm in ECG trigger the R-R floor has climbed back, the interval "
              "estimate is the run's, and inside the efficacy envelope every reported beat is "
              "armed and inflates before it ends"),
        Lemma("L-GAS",
              Implies(And(Not(inflate_cmd), gas_filled, gas_timer < w.gas_deflate_max_ms),
                      Or(obs_since_internal <= gas_timer + 1,
                         And(Not(heart_silent),
                             heart_t - gas_timer >= Max(heart_qs2, qs2_hi_ms(heart_prev_rr)),
                             heart_t + w.gas_deflate_max_ms - gas_timer
                             <= heart_rr + Max(pep_lo_world_ms(heart_rr),
                                               heart_pep - w.pep_step_max_ms)),
                         heart_t + w.gas_deflate_max_ms - gas_timer <= heart_pep)),
              (*sync_asm, "ASM-GAS"), ("L-SYNC",),
              "after a deflation from a trigger mode the balloon empties before the next "
              "ejection starts"),
        Lemma("L-MON", monitor_model.lemma_expr(), (), ("L-DOM-CONTROLLER",),
              "the monitor's outputs follow its safe state; silence beyond the watchdog "
              "means safe"),
        Lemma("L-NO-TRIGGER",
              And(Implies(in_trigger_mode(), obs_no_trigger.eq(since)),
                  Implies(Not(in_trigger_mode()), obs_no_trigger.eq(0)),
                  Implies(And(in_trigger_mode(),
                              since >= _i("set_trigger_loss_timeout_ms")),
                          And(Not(inflate_cmd), _b("alm_trigger_loss")))),
              (), ("L-DOM-CONTROLLER",),
              "the observer's ms-without-trigger equals the controller's trigger timer"),
        Lemma("L-ACTIVITY", obs_since_activity.eq(Min(_i("since_activity_ms"),
                                                      since_activity_cap_ms())), (),
              ("L-DOM-CONTROLLER",),
              "the observer's ms-since-activity is the controller's (saturating earlier)"),
        Lemma("L-UNASSISTED",
              And(Implies(in_trigger_mode(), obs_unassisted.eq(_i("unassisted_triggers"))),
                  Implies(And(in_trigger_mode(), _i("unassisted_triggers")
                              >= _i("set_assist_ratio") + UNASSISTED_BEATS_ALARM),
                          _b("alm_assist_suspended"))),
              (), ("L-DOM-CONTROLLER", "L-QUIET"),
              "the observer's unassisted beats equal the controller's count"),
        Lemma("L-INTERNAL", Implies(mode.eq(Mode.INTERNAL), And(
            obs_since_rise.eq(_i("internal_phase_ms")),
            _i("internal_phase_ms") < _i("internal_cycle_period_ms"),
            Between(_i("internal_cycle_period_ms"), _setting_lo("internal_period_ms"),
                    _setting_hi("internal_period_ms")),
            _i("internal_cycle_inflation_ms") >= _setting_lo("internal_inflation_ms"),
            # the validator's guarantee, with the DESIGN gas time it was built for
            _i("internal_cycle_inflation_ms") + A.GAS_DEFLATE_MAX_MS
            < _i("internal_cycle_period_ms"),
            inflate_cmd.eq(_i("internal_phase_ms") < _i("internal_cycle_inflation_ms")),
            Implies(Not(inflate_cmd), obs_since_fall.eq(Min(
                _i("internal_phase_ms") - _i("internal_cycle_inflation_ms"),
                since_fall_cap_ms()))))),
              (), ("L-DOM-CONTROLLER", "L-SETTINGS", "L-QUIET"),
              "in internal mode the cycle runs with settings the validator accepted, the "
              "inflation starts at phase 0 and the observer's ms-since-inflation-start is "
              "the phase"),
        Lemma("L-IDLE", obs_idle.eq(_i("idle_ms")), (), ("L-DOM-CONTROLLER",),
              "the observer's idle time equals the controller's"),
        Lemma("L-IDLE-GAS", And(
            Implies(is_stopped(), And(Not(inflate_cmd),
                                      gas_timer >= Min(obs_idle - 1, gas_timer_cap_ms()))),
            Implies(Not(is_stopped()), obs_idle.eq(0))),
              (), ("L-DOM-CONTROLLER",),
              "stopped means the inflate command is off and has been since the stop: the gas "
              "timer has counted the idle time (the monitor's measured-balloon check of "
              "STANDBY relies on it)"),
        Lemma("L-ALARM-STATE", And(
            *[Implies(_b(a), mode.eq(Mode.HALTED)) for a in HIGH_FAULT_INPUTS.values()],
            Implies(_b("alm_contra_absolute"), Not(mode.isin(PUMPING_MODES)))),
              (), ("L-DOM-CONTROLLER",),
              "a latched fault alarm means HALTED; a latched absolute-contraindication alarm "
              "means not pumping (the monitor reads the alarm bits for the sensors it cannot "
              "see)"),
        Lemma("L-RATIO",
              And(obs_beats >= _i("beats_since_inflation"),
                  Implies(_b("armed"),
                          And(in_trigger_mode(),
                              _i("beats_since_inflation") >= _i("set_assist_ratio")))),
              (), ("L-DOM-CONTROLLER", "L-QUIET", "L-SETTINGS"),
              "armed only in a trigger mode with enough beats counted since the last "
              "inflation; the observer counts at least as many"),
    ]


__all__ = ["lemmas", "TRIGGER_MODES", "SINCE_INTERNAL_CAP_MS"]
