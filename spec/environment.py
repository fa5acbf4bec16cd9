"""The environment the controller is proved against: the heart, the detectors, the pneumatics.

The heart is non-deterministic within the assumptions of :mod:`iabp.spec.assumptions`: at
every beat it picks the next R-R interval, the beat's ejection window, whether the
beat is silent (asystole), and when (or whether) each detector will report it. The
controller never reads these variables; it sees only the detector outputs (inputs
``r_wave``, ``upstroke``, ``notch``, ``activity``), exactly as on the real console.

Time inside a beat is ``heart_t_ms``: 0 on the tick of the QRS ONSET (the start of
ventricular depolarisation, where Weissler measured PEP and QS2 from; the R peak comes
tens of ms later, and the R-wave detector's delay bound is measured from the onset).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from iabp.spec import assumptions as A
from iabp.spec.assumptions import STATED_WORLD, World, world
from iabp.spec.expr import BOOL, INT, And, Between, Expr, Implies, Ite, Min, Not, Or, Var
from iabp.spec.system import Assign, EnvConstraint, InputVar, StateVar, VarRole
from iabp.spec.timing import (
    RR_MAX_MS,
    pep_hi_band_ms,
    pep_hi_ms,
    pep_lo_band_ms,
    pep_lo_ms,
    qs2_hi_ms,
    qs2_lo_ms,
)


def _iv(name: str) -> Var:
    return Var(name, INT)


def _bv(name: str) -> Var:
    return Var(name, BOOL)


# -- heart ------------------------------------------------------------------------------
heart_t = _iv("heart_t_ms")
heart_rr = _iv("heart_rr_ms")
heart_prev_rr = _iv("heart_prev_rr_ms")
heart_pep = _iv("heart_pep_ms")
heart_prev_pep = _iv("heart_prev_pep_ms")
heart_qs2 = _iv("heart_qs2_ms")
heart_silent = _bv("heart_silent")

#: The tick on which the next beat starts (the heart is about to reach its next QRS onset).
new_beat: Expr = heart_t + 1 >= heart_rr

PEP_MAX_MS = 200


def gas_timer_cap_ms(w: World | None = None) -> int:
    """Saturation of the gas timer: past both gas times of ``w`` (default: the world being
    built) (ms)."""
    w = w or world()
    return w.gas_deflate_max_ms + w.gas_inflate_lag_min_ms + 1


#: The gas timer's saturation in the stated world.
GAS_TIMER_CAP_MS = gas_timer_cap_ms(STATED_WORLD)


def pep_lo_world_ms(rr: Expr) -> Expr:
    """Shortest PEP after an R-R of ``rr`` in the world being built (its PEP tolerance)."""
    return pep_lo_ms(rr, world().pep_tol_ms)


def pep_hi_world_ms(rr: Expr) -> Expr:
    """Longest PEP after an R-R of ``rr`` in the world being built."""
    return pep_hi_ms(rr, world().pep_tol_ms)


def qs2_lo_world_ms(rr: Expr) -> Expr:
    """Earliest valve closure after an R-R of ``rr`` in the world being built."""
    return qs2_lo_ms(rr, world().qs2_tol_ms)


def qs2_hi_world_ms(rr: Expr) -> Expr:
    """Latest valve closure after an R-R of ``rr`` in the world being built."""
    return qs2_hi_ms(rr, world().qs2_tol_ms)


def in_ejection(t: Expr = heart_t, primed: bool = False) -> Expr:
    """True while the left ventricle ejects: aortic valve open in a non-silent beat."""
    pep = heart_pep.nxt if primed else heart_pep
    qs2 = heart_qs2.nxt if primed else heart_qs2
    silent = heart_silent.nxt if primed else heart_silent
    return And(Not(silent), pep <= t, t < qs2)


@dataclass(frozen=True)
class Ghost:
    """Observer variables that remember a detector's last report (for the lemmas)."""

    since: Var
    rr_at: Var
    time_at: Var
    interval: Var
    single: Var


@dataclass(frozen=True)
class Channel:
    """One detector output: when in the beat it fires, and its miss bookkeeping."""

    name: str  #: input variable set true on the tick of a report
    delay: Var  #: this beat's report delay variable (ms)
    prev_delay: Var  #: the previous beat's report delay (ms)
    delay_range: Callable[[World], tuple[int, int]]  #: report delay bounds in a world (ms)
    event_time: Expr  #: heart time of this beat's report
    prev_event_time: Expr  #: heart time of the previous beat's report
    assumption: str
    #: earliest and latest report time in any beat (ms after QRS onset) in a world
    time_range: Callable[[World], tuple[int, int]]
    jitter: Callable[[World], int]  #: spread of the report time from beat to beat (ms)

    @property
    def delay_lo(self) -> int:
        return self.delay_range(world())[0]

    @property
    def delay_hi(self) -> int:
        return self.delay_range(world())[1]

    @property
    def time_lo(self) -> int:
        return self.time_range(world())[0]

    @property
    def time_hi(self) -> int:
        return self.time_range(world())[1]

    @property
    def input(self) -> Var:
        return _bv(self.name)

    @property
    def missed(self) -> Var:
        return _bv(f"{self.name}_missed")

    @property
    def streak(self) -> Var:
        """Detected beats in a row before this one (0, 1, or 2 meaning 2 or more)."""
        return _iv(f"{self.name}_streak")

    @property
    def seen(self) -> Var:
        """The detector already reported this beat."""
        return _bv(f"{self.name}_seen")

    @property
    def prev_seen(self) -> Var:
        """The detector reported the previous beat."""
        return _bv(f"{self.name}_prev_seen")

    @property
    def ghost(self) -> Ghost:
        n = self.name
        return Ghost(_iv(f"g_{n}_since_ms"), _iv(f"g_{n}_rr_at_ms"), _iv(f"g_{n}_time_at_ms"),
                     _iv(f"g_{n}_interval_ms"), _bv(f"g_{n}_single"))

    def fires(self) -> Expr:
        """The report: exactly at the beat's report time, unless missed or silent."""
        return And(heart_t.eq(self.event_time), Not(self.missed), Not(heart_silent))


def _r_delays(w: World) -> tuple[int, int]:
    return w.r_detect_delay_min_ms, w.r_detect_delay_max_ms


def _upstroke_delays(w: World) -> tuple[int, int]:
    return w.upstroke_delay_min_ms, w.upstroke_delay_max_ms


def _upstroke_times(w: World) -> tuple[int, int]:
    return (min(pep_lo_band_ms(w.pep_tol_ms)) + w.upstroke_delay_min_ms,
            max(pep_hi_band_ms(w.pep_tol_ms)) + w.upstroke_delay_max_ms)


R_CHANNEL = Channel(
    "r_wave", _iv("r_delay_ms"), _iv("r_prev_delay_ms"), _r_delays,
    _iv("r_delay_ms"), _iv("r_prev_delay_ms"), "ASM-R-DETECT", _r_delays,
    lambda w: w.r_detect_jitter_ms,
)
UPSTROKE_CHANNEL = Channel(
    "upstroke", _iv("upstroke_delay_ms"), _iv("upstroke_prev_delay_ms"), _upstroke_delays,
    heart_pep + _iv("upstroke_delay_ms"), heart_prev_pep + _iv("upstroke_prev_delay_ms"),
    "ASM-PRESSURE-DETECT", _upstroke_times, lambda w: w.upstroke_jitter_ms,
)
CHANNELS: tuple[Channel, ...] = (R_CHANNEL, UPSTROKE_CHANNEL)
#: The R-wave detector's QRS suspicion: on while it has a QRS candidate open and not yet
#: decided (a few ms before its R report), or its QRS feature is above a suspicion
#: threshold lower than a candidate's. The controller deflates on it at once.
QRS_SUSPECT = _bv("qrs_suspect")

notch_delay = _iv("notch_delay_ms")
notch_missed = _bv("notch_missed")
activity_delay = _iv("activity_delay_ms")

gas_timer = _iv("gas_timer_ms")
gas_filled = _bv("gas_filled")


def balloon_may_hold_gas(inflate_cmd: Expr, timer: Expr = gas_timer,
                         filled: Expr = gas_filled) -> Expr:
    """Conservative balloon state: True unless the balloon is certainly empty.

    After an inflate command helium may arrive from ``GAS_INFLATE_LAG_MIN_MS`` on; after
    a deflate command a balloon that may have received gas may hold it for
    ``GAS_DEFLATE_MAX_MS`` (ASM-GAS). ``timer`` counts ms since the command last changed;
    ``filled`` says the last inflation lasted long enough for gas to arrive.
    """
    w = world()
    return Ite(inflate_cmd, timer >= w.gas_inflate_lag_min_ms,
               And(filled, timer < w.gas_deflate_max_ms))


def state_vars() -> list[StateVar]:
    env = VarRole.ENVIRONMENT
    w = world()
    hv = [
        StateVar("heart_t_ms", INT, env, "ms since this beat's QRS onset", 0, RR_MAX_MS - 1),
        StateVar("heart_rr_ms", INT, env, "this beat's R-R interval (ms)", w.rr_min_ms,
                 w.rr_max_ms),
        StateVar("heart_prev_rr_ms", INT, env, "the R-R interval that ended at this beat's R",
                 w.rr_min_ms, w.rr_max_ms),
        StateVar("heart_pep_ms", INT, env, "this beat's pre-ejection period (ms)", 0, PEP_MAX_MS),
        StateVar("heart_prev_pep_ms", INT, env, "the previous beat's PEP (ms)", 0, PEP_MAX_MS),
        StateVar("heart_qs2_ms", INT, env, "this beat's end of ejection after QRS onset (ms)",
                 0, RR_MAX_MS),
        StateVar("heart_silent", BOOL, env, "asystolic beat: no R wave, no ejection"),
        StateVar("notch_delay_ms", INT, env, "dicrotic-notch report delay after valve closure",
                 w.notch_delay_min_ms, w.notch_delay_max_ms),
        StateVar("notch_missed", BOOL, env, "the notch detector misses this beat"),
        StateVar("activity_delay_ms", INT, env, "cardiac-activity report delay after QRS onset",
                 0, w.activity_delay_max_ms),
    ]
    for c in CHANNELS:
        hv += [
            StateVar(c.delay.name, INT, env, f"{c.name} report delay this beat (ms)",
                     c.delay_lo, c.delay_hi),
            StateVar(c.prev_delay.name, INT, env, f"{c.name} report delay previous beat (ms)",
                     c.delay_lo, c.delay_hi),
            StateVar(c.missed.name, BOOL, env, f"the {c.name} detector misses this beat"),
            StateVar(c.streak.name, INT, env, f"{c.name}: detected beats in a row before this",
                     0, 2),
            StateVar(c.seen.name, BOOL, env, f"{c.name} already reported this beat"),
            StateVar(c.prev_seen.name, BOOL, env, f"{c.name} reported the previous beat"),
        ]
    hv.append(StateVar("gas_timer_ms", INT, VarRole.PLANT, "ms since the balloon command changed",
                       0, gas_timer_cap_ms(), init=_iv("gas_timer_ms").eq(gas_timer_cap_ms())))
    hv.append(StateVar("gas_filled", BOOL, VarRole.PLANT, "helium may have reached the balloon "
                       "during the last inflation", init=Not(gas_filled)))
    return hv


def input_vars() -> list[InputVar]:
    return [
        InputVar("r_wave", BOOL, "the R-wave detector reports a beat on this tick"),
        InputVar("qrs_suspect", BOOL, "the R-wave detector suspects a QRS complex on this tick "
                 "(an open candidate it has not yet decided on): deflate now"),
        InputVar("upstroke", BOOL, "the pressure detector reports a systolic upstroke"),
        InputVar("notch", BOOL, "the pressure detector reports a dicrotic notch"),
        InputVar("activity", BOOL, "cardiac activity (R wave or pulsatile pressure) seen"),
    ]


def _unchanged(v: Var) -> Expr:
    return v.nxt.eq(v)


def heart_step() -> list[Assign]:
    """Deterministic bookkeeping of the heart and detectors: the clock inside the beat and
    what the previous beat was. The free choices (next R-R, ejection window, report
    delays, misses, silence) are constrained by :func:`env_constraints`."""
    e = VarRole.ENVIRONMENT
    nb = new_beat
    out = [
        Assign("heart_t_ms", Ite(nb, 0, heart_t + 1), False, e),
        Assign("heart_prev_rr_ms", Ite(nb, heart_rr, heart_prev_rr), False, e),
        Assign("heart_prev_pep_ms", Ite(nb, heart_pep, heart_prev_pep), False, e),
    ]
    for c in CHANNELS:
        fired_or_seen = Or(c.seen, c.input)
        out += [
            Assign(c.prev_delay.name, Ite(nb, c.delay, c.prev_delay), False, e),
            Assign(c.streak.name, Ite(nb, Ite(Or(c.missed, heart_silent), 0,
                                              Min(c.streak + 1, 2)), c.streak), False, e),
            Assign(c.prev_seen.name, Ite(nb, fired_or_seen, c.prev_seen), False, e),
            Assign(c.seen.name, And(Not(nb), fired_or_seen), False, e),
        ]
    return out


def _channel_constraints(c: Channel) -> list[EnvConstraint]:
    return [
        EnvConstraint(c.assumption, c.input.eq(c.fires()),
                      f"{c.name} fires exactly at its report time, never otherwise"),
        EnvConstraint(c.assumption, Implies(new_beat, Between(c.delay.nxt, c.delay_lo,
                                                              c.delay_hi)),
                      f"{c.name}: a new beat draws a report delay in range"),
        EnvConstraint(c.assumption, Implies(Not(new_beat), And(_unchanged(c.delay),
                                                               _unchanged(c.missed))),
                      f"{c.name}: the report delay and miss are fixed within a beat"),
        EnvConstraint("ASM-MISS-SPACING",
                      Implies(And(new_beat, Or(c.missed.nxt, heart_silent.nxt)),
                              c.streak.nxt.ne(1)),
                      f"{c.name}: after a run of misses, two detected beats before the next "
                      "miss"),
    ]


def qrs_suspect_before_report() -> Expr:
    """The ticks on which ASM-R-DETECT requires the QRS suspicion: the last
    ``R_SUSPECT_LEAD_MS`` before the R report of a detected beat. (Outside them the
    suspicion is free for the safety proofs; the simulator's detector raises it exactly
    there.)"""
    return And(Not(R_CHANNEL.missed), Not(heart_silent),
               heart_t >= R_CHANNEL.delay - A.R_SUSPECT_LEAD_MS, heart_t < R_CHANNEL.delay)


def env_constraints() -> list[EnvConstraint]:
    """Every constraint of the environment, grouped by assumption ID."""
    nb, same = new_beat, Not(new_beat)
    rr_n, prr_n = heart_rr.nxt, heart_prev_rr.nxt
    w = world()
    out = [
        EnvConstraint("ASM-HEART-RATE",
                      Implies(nb, Between(rr_n, w.rr_min_ms, w.rr_max_ms)),
                      "each new beat's R-R lies in the supported range"),
        EnvConstraint("ASM-HEART-RATE",
                      Implies(same, And(_unchanged(heart_rr), _unchanged(heart_silent))),
                      "a beat's length and silence are fixed within the beat"),
        EnvConstraint("ASM-RR-STEP",
                      Implies(nb, And(rr_n - heart_rr <= w.rr_step_max_ms,
                                      heart_rr - rr_n <= w.rr_step_max_ms)),
                      "successive R-R intervals differ by a bounded step"),
        EnvConstraint("ASM-EJECTION",
                      Implies(nb, And(
                          Between(heart_pep.nxt, pep_lo_world_ms(prr_n), pep_hi_world_ms(prr_n)),
                          Between(heart_qs2.nxt, qs2_lo_world_ms(prr_n), qs2_hi_world_ms(prr_n)),
                          heart_pep.nxt < heart_qs2.nxt, heart_qs2.nxt < rr_n)),
                      "each beat's ejection window follows the rate bands"),
        EnvConstraint("ASM-PEP-STEP",
                      Implies(nb, And(heart_pep.nxt - heart_pep <= w.pep_step_max_ms,
                                      heart_pep - heart_pep.nxt <= w.pep_step_max_ms)),
                      "successive pre-ejection periods differ by a bounded step"),
        EnvConstraint("ASM-EJECTION",
                      Implies(same, And(_unchanged(heart_pep), _unchanged(heart_qs2))),
                      "the ejection window is fixed within a beat"),
        EnvConstraint("ASM-PRESSURE-DETECT",
                      Var("notch", BOOL).eq(And(heart_t.eq(heart_qs2 + notch_delay),
                                                Not(notch_missed), Not(heart_silent))),
                      "the notch is reported exactly at its report time"),
        EnvConstraint("ASM-PRESSURE-DETECT",
                      Implies(nb, Between(notch_delay.nxt, w.notch_delay_min_ms,
                                          w.notch_delay_max_ms)),
                      "a new beat draws a notch report delay in range"),
        EnvConstraint("ASM-PRESSURE-DETECT",
                      Implies(same, And(_unchanged(notch_delay), _unchanged(notch_missed))),
                      "the notch report delay is fixed within a beat"),
        EnvConstraint("ASM-PRESSURE-DETECT",
                      Implies(nb, heart_pep.nxt + UPSTROKE_CHANNEL.delay.nxt
                              < heart_qs2.nxt + notch_delay.nxt),
                      "the upstroke is reported before the notch of the same beat"),
        EnvConstraint("ASM-ACTIVITY",
                      Var("activity", BOOL).eq(And(heart_t.eq(activity_delay),
                                                   Not(heart_silent))),
                      "every beating heart beat is noticed, a silent one never"),
        EnvConstraint("ASM-ACTIVITY",
                      Implies(nb, Between(activity_delay.nxt, 0, w.activity_delay_max_ms)),
                      "a new beat draws an activity report delay in range"),
        EnvConstraint("ASM-ACTIVITY",
                      Implies(same, _unchanged(activity_delay)),
                      "the activity report delay is fixed within a beat"),
        EnvConstraint("ASM-R-DETECT", Implies(qrs_suspect_before_report(), QRS_SUSPECT),
                      "the QRS suspicion is on during the last ms before each R report"),
        EnvConstraint("ASM-QRS-SUSPECT",
                      Implies(QRS_SUSPECT, And(Not(heart_silent),
                                               heart_t <= R_CHANNEL.delay)),
                      "the QRS suspicion only between a beat's QRS onset and its R report"),
    ]
    for c in CHANNELS:
        out += _channel_constraints(c)
    return out


def beat_invariant() -> list[Expr]:
    """What every beat satisfies under the heart assumptions (for power-on and L-HEART)."""
    w = world()
    return [
        heart_rr - heart_prev_rr <= w.rr_step_max_ms,
        heart_prev_rr - heart_rr <= w.rr_step_max_ms,
        heart_pep - heart_prev_pep <= w.pep_step_max_ms,
        heart_prev_pep - heart_pep <= w.pep_step_max_ms,
        *beat_ejection_invariant(),
    ]


def beat_ejection_invariant() -> list[Expr]:
    """What every beat satisfies whatever the rhythm (no ASM-RR-STEP, no ASM-PEP-STEP): the
    ejection window inside the bands of the interval before the beat, the upstroke before
    the notch."""
    tol = world().pep_tol_ms
    return [
        heart_pep >= pep_lo_world_ms(heart_prev_rr), heart_pep <= pep_hi_world_ms(heart_prev_rr),
        heart_qs2 >= qs2_lo_world_ms(heart_prev_rr), heart_qs2 <= qs2_hi_world_ms(heart_prev_rr),
        heart_pep < heart_qs2, heart_qs2 < heart_rr,
        heart_pep + UPSTROKE_CHANNEL.delay < heart_qs2 + notch_delay,
        Between(heart_prev_pep, min(pep_lo_band_ms(tol)), max(pep_hi_band_ms(tol))),
    ]


def init_constraints() -> list[Expr]:
    """Power-on: the heart is at a QRS onset with a beat that obeys the assumptions; no
    detector has a streak yet (so a miss may follow at once)."""
    out: list[Expr] = [heart_t.eq(0), *beat_invariant()]
    for c in CHANNELS:
        out += [c.streak.eq(0), Not(c.seen), Not(c.prev_seen)]
    return out


def plant_step(inflate_cmd: Var) -> list[Assign]:
    """The pneumatics: a timer since the command changed, and whether gas may be inside."""
    p = VarRole.PLANT
    timer_n = Ite(inflate_cmd.nxt.ne(inflate_cmd), 0, Min(gas_timer + 1, gas_timer_cap_ms()))
    return [
        Assign("gas_timer_ms", timer_n, False, p),
        Assign("gas_filled", Ite(inflate_cmd.nxt,
                                 gas_timer.nxt >= world().gas_inflate_lag_min_ms, gas_filled),
               False, p),
    ]


def ghost_vars() -> list[StateVar]:
    """Observer bookkeeping per detector: when it last reported, and the last interval."""
    o = VarRole.OBSERVER
    cap = A.TRIGGER_TIMER_CAP_MS
    out = []
    for c in CHANNELS:
        g = c.ghost
        out += [
            StateVar(g.since.name, INT, o, f"ms since {c.name} last reported", 0, cap,
                     init=g.since.eq(cap)),
            StateVar(g.rr_at.name, INT, o, f"R-R of the beat of the last {c.name} report",
                     init=g.rr_at.eq(world().rr_min_ms)),
            StateVar(g.time_at.name, INT, o, "report time within that beat",
                     init=g.time_at.eq(c.time_lo)),
            StateVar(g.interval.name, INT, o, f"interval between the last two {c.name} reports",
                     0, cap, init=g.interval.eq(cap)),
            StateVar(g.single.name, BOOL, o, f"the last two {c.name} reports came from "
                     "consecutive beats", init=Not(g.single)),
        ]
    return out


def ghost_step() -> list[Assign]:
    """Ghost updates: on a report, remember when, in which beat, and the interval."""
    o = VarRole.OBSERVER
    cap = A.TRIGGER_TIMER_CAP_MS
    out = []
    for c in CHANNELS:
        g, fired = c.ghost, c.input
        out += [
            Assign(g.since.name, Ite(fired, 0, Min(g.since + 1, cap)), False, o),
            Assign(g.rr_at.name, Ite(fired, heart_rr, g.rr_at), False, o),
            Assign(g.time_at.name, Ite(fired, c.event_time, g.time_at), False, o),
            Assign(g.interval.name, Ite(fired, Min(g.since + 1, cap), g.interval), False, o),
            Assign(g.single.name, Ite(fired, c.prev_seen, g.single), False, o),
        ]
    return out
