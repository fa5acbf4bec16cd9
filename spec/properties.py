"""Every safety requirement as named properties, each traced to requirements and hazards.

A property is ``premise => conclusion``. STATE properties hold in every reachable state;
TRANSITION properties hold on every step (they may read the tick's inputs and the next
state, written ``x'``). Each property lists exactly the environment assumptions and the
auxiliary lemmas its proof may use.
"""

from __future__ import annotations

from iabp.spec import assumptions as A
from iabp.spec.assumptions import STATED_WORLD, World, world
from iabp.spec.controller_step import (
    HIGH_FAULT_INPUTS,
    RR_FLOOR_RISE_MS,
    ecg_deflate_at_ms,
    ecg_inflate_at_ms,
    ecg_inflate_until_ms,
    in_trigger_mode,
    inflate_cmd,
    is_pumping,
    is_stopped,
    mode,
    op,
)
from iabp.spec.environment import (
    QRS_SUSPECT,
    R_CHANNEL,
    UPSTROKE_CHANNEL,
    balloon_may_hold_gas,
    heart_qs2,
    heart_silent,
    heart_t,
    in_ejection,
)
from iabp.spec.expr import BOOL, INT, TRUE, And, Between, Expr, Implies, Ite, Min, Not, Or, Var
from iabp.spec.modes import PUMPING_MODES, TRIGGER_MODES, Mode, OperatorCommand
from iabp.spec.observers import (
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
    rising_inflation,
)
from iabp.spec.requirements import (
    ASSIST_RATIO_MAX,
    ASSIST_SUSPENDED_WITHIN_BEATS,
    IDLE_LIMIT_MAX_MS,
    INTERNAL_RATE_MAX_PER_MIN,
    INTERNAL_RATE_MIN_PER_MIN,
)
from iabp.spec.settings import SETTINGS, current_settings, requested_settings, settings_valid
from iabp.spec.system import Property, PropertyKind
from iabp.spec.timing import RR_BAND_EDGES_MS, RR_MAX_MS, RR_MIN_MS, pep_lo_band_ms

T, S = PropertyKind.TRANSITION, PropertyKind.STATE


def _b(name: str) -> Var:
    return Var(name, BOOL)


def _i(name: str) -> Var:
    return Var(name, INT)


#: REQ-TRIGGER-LOSS asks for the trigger-loss alarm "within a stated bound": this is the
#: bound (ms). Whatever the settings, a lost trigger is announced, and the balloon is off,
#: within 5 s of the last trigger: about three beats at the slowest supported rate (40 bpm).
#: Stated from the requirement, not read from the validator, so a validator that lets the
#: timeout grow past it breaks a proof.
TRIGGER_LOSS_BOUND_MS = 5000

HEART = A.SINUS_HEART
ANY_RHYTHM = A.ANY_RHYTHM_HEART

def empty_after_r_report_ms(w: World | None = None) -> int:
    """On any rhythm, helium is out of the balloon this long after the R-wave report of the
    beat (ms): the controller deflates on the detector's QRS suspicion, which starts
    ``R_SUSPECT_LEAD_MS`` before the report (ASM-R-DETECT), then the command tick and the
    longest deflation (ASM-GAS) of ``w`` (default: the world the spec is being built
    for)."""
    return A.TICK_MS + (w or world()).gas_deflate_max_ms - A.R_SUSPECT_LEAD_MS


#: ``empty_after_r_report_ms`` in the stated world.
EMPTY_AFTER_R_REPORT_MS = empty_after_r_report_ms(STATED_WORLD)


def internal_restart_empty_ms(w: World | None = None) -> int:
    """The balloon is empty this long after the QRS onset of the first beat after internal
    pumping (P-INTERNAL-RESTART): the activity report, the one-tick command and the gas
    time of ``w`` (default: the world the spec is being built for) (ms)."""
    w = w or world()
    return w.activity_delay_max_ms + A.TICK_MS + w.gas_deflate_max_ms


#: ``internal_restart_empty_ms`` in the stated world.
INTERNAL_RESTART_EMPTY_MS = internal_restart_empty_ms(STATED_WORLD)


def helium_bound_by_band_ms(empty_after_onset_ms: int) -> list[tuple[int, int, int]]:
    """Helium in a beat's ejection, per rate band ``(rr_lo_ms, rr_hi_ms, ms)``, when the
    balloon is empty from ``empty_after_onset_ms`` after the beat's QRS onset on: ejection
    starts at the earliest at the onset plus the band's shortest PEP. ``rr`` is the interval
    that ENDS at the beat (a premature beat has a short one)."""
    edges = (*RR_BAND_EDGES_MS, RR_MAX_MS + 1)
    peps = pep_lo_band_ms(world().pep_tol_ms)
    return [(lo, hi - 1, max(0, empty_after_onset_ms - pep))
            for lo, hi, pep in zip(edges, edges[1:], peps, strict=False)]


def early_beat_helium_bound_ms() -> list[tuple[int, int, int]]:
    """The stated bound of P-EARLY-BEAT-BOUND per rate band: on a beat nobody could
    predict (premature, AF) the balloon is empty from the latest R-wave report (QRS onset +
    R_DETECT_DELAY_MAX_MS) plus EMPTY_AFTER_R_REPORT_MS."""
    return helium_bound_by_band_ms(world().r_detect_delay_max_ms + empty_after_r_report_ms())


def internal_restart_helium_bound_ms() -> list[tuple[int, int, int]]:
    """The stated bound of P-INTERNAL-RESTART per rate band (the first beat after asystole
    during internal pumping)."""
    return helium_bound_by_band_ms(internal_restart_empty_ms())

#: The shortest internal-mode period the validator accepts (ms).
#: The shortest and longest internal-mode cycle the requirement allows (ms): iabp.md's
#: internal rate range, not the validator's setting range.
INTERNAL_PERIOD_MIN_MS = 60_000 // INTERNAL_RATE_MAX_PER_MIN
INTERNAL_PERIOD_MAX_MS = 60_000 // INTERNAL_RATE_MIN_PER_MIN
DETECT = ("ASM-R-DETECT", "ASM-PRESSURE-DETECT", "ASM-MISS-SPACING")
HIGH_ALARMS = (*HIGH_FAULT_INPUTS.values(), "alm_contra_absolute", "alm_async_activity")


#: The operator's start keys and the mode each one asks for.
START_MODE: dict[OperatorCommand, Mode] = {
    OperatorCommand.START_ECG: Mode.ECG_TRIGGER,
    OperatorCommand.START_PRESSURE: Mode.PRESSURE_TRIGGER,
    OperatorCommand.START_INTERNAL: Mode.INTERNAL,
}


def mode_cases(modes: tuple[Mode, ...], primed: bool,
               inflated: bool = False) -> tuple[tuple[str, Expr], ...]:
    """One vacuity case per mode (``Property.cases``): the premise must be reachable in
    each, so e.g. a pressure trigger that never inflates cannot hide behind ECG trigger's
    witnesses. ``inflated``: with the inflate command on (before the step)."""
    m = mode.nxt if primed else mode
    return tuple((x.name.lower().replace("_", " ") + (", balloon inflated" if inflated else ""),
                  And(m.eq(x), inflate_cmd) if inflated else m.eq(x)) for x in modes)


def assist_floor_lo(rr_lo: Expr, floor_updates: Expr) -> Expr:
    """The lowest the controller's R-R floor can be in a steady run whose shortest R-R is
    ``rr_lo`` ms: that interval measured early by the detector jitter, or the floor still
    climbing from the shortest interval the heart can have, ``floor_updates`` beats at
    ``RR_FLOOR_RISE_MS``."""
    return Min(rr_lo - world().r_detect_jitter_ms, RR_MIN_MS + RR_FLOOR_RISE_MS * floor_updates)


def assist_window_open(rr_lo: Expr, rr_hi: Expr, floor_updates: Expr) -> Expr:
    """The efficacy envelope in ECG trigger (P-ASSIST-EVERY-BEAT).

    The beats' R-R intervals lie in ``[rr_lo, rr_hi]`` ms, so every measured interval lies
    within the detector jitter of that range, and the R-R floor has climbed from the
    shortest interval the heart can have by ``floor_updates`` beats at
    ``RR_FLOOR_RISE_MS`` (it may have been pulled down by an early beat just before the
    run). Then the timing rules of :mod:`iabp.spec.controller_step` leave an inflation
    window on every beat: it opens (at the end of ejection predicted for the longest
    interval) before it closes (the last start the floor allows, and the deflation point),
    and the trigger-loss timeout outlasts the longest interval. Read as a table of rates
    it is the README's efficacy envelope.
    """
    s = current_settings()
    w = world()
    jitter = w.r_detect_jitter_ms
    floor_lo = assist_floor_lo(rr_lo, floor_updates)
    opens = ecg_inflate_at_ms(rr_hi + jitter, s["inflation_offset_ms"])
    return And(rr_lo - jitter >= A.RR_ACCEPT_MIN_MS,
               opens < ecg_inflate_until_ms(floor_lo),
               opens < ecg_deflate_at_ms(floor_lo, s["ecg_deflation_lead_ms"]),
               s["trigger_loss_timeout_ms"] > rr_hi + w.rr_step_max_ms + jitter)


#: The steady beats P-ASSIST-EVERY-BEAT needs before it promises every beat: two to have
#: a measured interval from the run, one more so that the previous beat was judged too.
ASSIST_RUN_MIN_BEATS = 3


def assist_every_beat_premise() -> Expr:
    """ECG trigger after enough steady beats inside the efficacy envelope."""
    n = obs_steady
    return And(mode.eq(Mode.ECG_TRIGGER), n >= ASSIST_RUN_MIN_BEATS,
               assist_window_open(obs_steady_rr_lo, obs_steady_rr_hi, n - 2))


def properties() -> list[Property]:
    """The properties, stated for the world in force (:func:`iabp.spec.assumptions.world`)."""
    w = world()
    empty_after_r = empty_after_r_report_ms()
    restart_empty = internal_restart_empty_ms()
    high_fault = Or(*[_b(n) for n in HIGH_FAULT_INPUTS])
    ack = op.eq(OperatorCommand.ACKNOWLEDGE)
    rise_in_trigger_mode = And(in_trigger_mode(primed=True), rising_inflation())
    return [
        Property(
            "P-INFL-DIASTOLE", "inflation starts only after the end of ejection",
            ("REQ-INFL-DIASTOLE",), ("HZ-EARLY-INFL",), T,
            rise_in_trigger_mode,
            And(Not(heart_silent.nxt),
                heart_t.nxt + w.gas_inflate_lag_min_ms >= heart_qs2.nxt),
            (*HEART, *DETECT), ("L-SYNC", "L-GAS"),
            "When the console turns the inflate command on in a trigger mode, the heart is "
            "in a beating beat and the earliest helium arrival is at or after that beat's "
            "aortic valve closure (end of ejection).",
            cases=mode_cases(TRIGGER_MODES, primed=True)),
        Property(
            "P-NO-GAS-IN-EJECTION", "the balloon is empty whenever the ventricle ejects",
            ("REQ-DEFL-BEFORE-EJECTION", "REQ-INFL-DIASTOLE"), ("HZ-LATE-DEFL", "HZ-EARLY-INFL"),
            S,
            And(in_ejection(), obs_since_internal >= w.gas_deflate_max_ms + 1),
            Not(balloon_may_hold_gas(inflate_cmd)),
            (*HEART, *DETECT, "ASM-GAS"), ("L-SYNC", "L-GAS"),
            "From the start of ejection (QRS onset + PEP) to its end (onset + QS2) of every beat, the "
            "balloon holds no helium (deflation complete under the stated gas time), unless "
            "the gas comes from internal-mode pumping (covered by P-INTERNAL-*).",
            cases=mode_cases(TRIGGER_MODES, primed=False)),
        Property(
            "P-EARLY-BEAT-BOUND", "on any rhythm, helium in ejection ends within the R-wave "
            "decision and the gas time",
            ("REQ-DEFL-BEFORE-EJECTION",), ("HZ-LATE-DEFL",), S,
            And(mode.eq(Mode.ECG_TRIGGER), obs_in_ecg > heart_t, R_CHANNEL.seen,
                heart_t >= R_CHANNEL.delay + empty_after_r, in_ejection()),
            Not(balloon_may_hold_gas(inflate_cmd)),
            (*ANY_RHYTHM, "ASM-R-DETECT", "ASM-GAS"), ("L-EARLY-BEAT",),
            "Whatever the rhythm (a premature beat, atrial fibrillation, a pause: any R-R in "
            "the supported range after any other), in ECG trigger mode, on every beat the "
            "R-wave detector reports, the balloon is empty from "
            f"{empty_after_r} ms after that report on: helium in that beat's "
            "ejection lasts at most the detector's delay after QRS onset plus "
            f"{empty_after_r} ms minus the pre-ejection period (the bound per rate "
            "band is printed by the prover). P-NO-GAS-IN-EJECTION is the stronger "
            "result for the rhythms ASM-RR-STEP covers: zero."),
        Property(
            "P-ASSIST-EVERY-BEAT", "in a steady rhythm inside the envelope every beat the "
            "ratio selects is assisted",
            ("REQ-ASSIST",), ("HZ-NO-THERAPY",), S,
            assist_every_beat_premise(), obs_unassisted <= _i("set_assist_ratio"),
            (*HEART, *DETECT, "ASM-QRS-SUSPECT"), ("L-ASSIST",),
            f"Efficacy (bounded response): in ECG trigger mode at 1:N, once "
            f"{ASSIST_RUN_MIN_BEATS} beats in a row have run whole in that mode, each "
            "reported by the R-wave detector, with no settings request, and their R-R "
            "intervals leave an inflation window (assist_window_open: the README's efficacy "
            "envelope, e.g. steady rhythm up to 90 bpm at default settings, after the R-R "
            "floor has climbed back from an early beat), the balloon is inflated on every "
            "beat the ratio selects: never N + 1 beat reports without an inflation. A pump "
            "that never inflates is safe; this is what makes it a pump."),
        Property(
            "P-INFLATION-HELD", "in a steady rhythm inside the envelope the balloon stays "
            "inflated until the deflation point the rhythm allows",
            ("REQ-ASSIST",), ("HZ-NO-THERAPY",), T,
            And(assist_every_beat_premise(), inflate_cmd, Not(inflate_cmd.nxt),
                mode.nxt.eq(Mode.ECG_TRIGGER), Not(_b("set_request")), Not(R_CHANNEL.input),
                Not(QRS_SUSPECT)),
            obs_no_trigger.nxt >= ecg_deflate_at_ms(
                assist_floor_lo(obs_steady_rr_lo, obs_steady - 2),
                current_settings()["ecg_deflation_lead_ms"]),
            (*HEART, *DETECT, "ASM-QRS-SUSPECT"), ("L-ASSIST", "L-NO-TRIGGER"),
            "Efficacy, the length of each inflation (no early deflation: a balloon let down "
            "early gives little augmentation and afterload reduction): under "
            "P-ASSIST-EVERY-BEAT's premise, an inflation in ECG trigger that ends without a "
            "new R-wave report, a QRS suspicion, a settings request or a mode change ends no "
            "earlier after the "
            "last R report than the deflation lead before the shortest R-R the run allows. So "
            "every assisted beat keeps the balloon full from its inflation to that point (the "
            "README's efficacy table gives the least inflation time per rate)."),
        Property(
            "P-CONTRA-ABSOLUTE", "no pumping with an absolute contraindication",
            ("REQ-CONTRA-BLOCK",), ("HZ-CONTRA", "HZ-SILENT"), T,
            _b("contra_absolute"),
            And(Not(is_pumping(primed=True)), Not(inflate_cmd.nxt), _b("alm_contra_absolute").nxt),
            (), ("L-ALARM-STATE",),
            "On any tick on which an absolute contraindication is recorded, the console is "
            "not in a pumping mode, the inflate command is off and the high-priority "
            "contraindication alarm is active."),
        Property(
            "P-CONTRA-RELATIVE", "a relative contraindication needs an override and alarms",
            ("REQ-CONTRA-BLOCK",), ("HZ-CONTRA", "HZ-SILENT"), T,
            _b("contra_relative"),
            And(_b("alm_contra_relative").nxt,
                Implies(Not(_b("contra_override")),
                        And(Not(is_pumping(primed=True)), Not(inflate_cmd.nxt)))),
            (), (),
            "While a relative contraindication is recorded its alarm is active, and without "
            "an explicit override the console does not pump."),
        Property(
            "P-TRIGGER-LOSS", "no trigger for the timeout: deflated and alarming",
            ("REQ-TRIGGER-LOSS",), ("HZ-NO-TRIGGER",), S,
            And(in_trigger_mode(), obs_no_trigger >= _i("set_trigger_loss_timeout_ms")),
            And(Not(inflate_cmd), _b("alm_trigger_loss")),
            (), ("L-NO-TRIGGER",),
            "In a trigger mode, once no trigger has been reported for the trigger-loss "
            "timeout, the inflate command is off and the trigger-loss alarm is active (bound: "
            "the same tick).",
            cases=mode_cases(TRIGGER_MODES, primed=False)),
        Property(
            "P-TRIGGER-LOSS-BOUND", "no trigger for the requirement's bound: deflated and "
            "alarming, whatever the settings",
            ("REQ-TRIGGER-LOSS",), ("HZ-NO-TRIGGER",), S,
            And(in_trigger_mode(), obs_no_trigger >= TRIGGER_LOSS_BOUND_MS),
            And(Not(inflate_cmd), _b("alm_trigger_loss")),
            (), ("L-SETTINGS", "L-NO-TRIGGER"),
            f"In a trigger mode, once no trigger has been reported for "
            f"{TRIGGER_LOSS_BOUND_MS} ms (the bound REQ-TRIGGER-LOSS states, independent of "
            "the settings in force), the inflate command is off and the trigger-loss alarm is "
            "active.",
            cases=mode_cases(TRIGGER_MODES, primed=False)),
        Property(
            "P-TRIGGER-FRESH", "inflation only in a beat whose own trigger was detected",
            ("REQ-TRIGGER-FRESH",), ("HZ-NO-TRIGGER",), T,
            rise_in_trigger_mode,
            Ite(mode.nxt.eq(Mode.ECG_TRIGGER), R_CHANNEL.seen.nxt, UPSTROKE_CHANNEL.seen.nxt),
            (*HEART, *DETECT), ("L-SYNC", "L-GAS"),
            "The inflate command turns on only in a heart beat whose own trigger (R wave, or "
            "systolic upstroke in pressure mode) the detector has reported, so never on a "
            "trigger older than one R-R interval.",
            cases=mode_cases(TRIGGER_MODES, primed=True)),
        Property(
            "P-INTERNAL-ENTRY", "internal mode only on confirmation with no cardiac activity",
            ("REQ-INTERNAL-GUARD",), ("HZ-ASYNC",), T,
            And(mode.ne(Mode.INTERNAL), mode.nxt.eq(Mode.INTERNAL)),
            And(op.eq(OperatorCommand.START_INTERNAL),
                obs_since_activity > w.activity_gap_max_ms, Not(_b("activity"))),
            (), ("L-ACTIVITY",),
            f"Internal mode is entered only on the operator's explicit START_INTERNAL and "
            f"only when no cardiac activity has been reported for longer than "
            f"{w.activity_gap_max_ms} ms, the longest gap between two activity reports of a "
            f"heart beating at the slowest supported rate (the console's own guard waits "
            f"{A.ASYSTOLE_CONFIRM_MS} ms; the property is stated from physiology, so a "
            f"shorter guard fails it)."),
        Property(
            "P-INTERNAL-EXIT", "internal mode is left at once on cardiac activity",
            ("REQ-INTERNAL-GUARD",), ("HZ-ASYNC", "HZ-SILENT"), T,
            And(mode.eq(Mode.INTERNAL), _b("activity")),
            And(mode.nxt.ne(Mode.INTERNAL), Not(inflate_cmd.nxt), _b("alm_async_activity").nxt),
            (), (),
            "When cardiac activity is reported during internal pumping, the console leaves "
            "internal mode, turns the inflate command off and raises the high-priority "
            "alarm on the same tick, so before the next inflation."),
        Property(
            "P-INTERNAL-RATE", "internal pumping never inflates faster than its fastest "
            "allowed rate, and empties the balloon before each inflation",
            ("REQ-INTERNAL-GUARD", "REQ-SETTINGS-SAFE"),
            ("HZ-ASYNC", "HZ-SETTINGS"), T,
            And(mode.eq(Mode.INTERNAL), mode.nxt.eq(Mode.INTERNAL), rising_inflation()),
            And(obs_since_rise + 1 >= INTERNAL_PERIOD_MIN_MS,
                obs_since_fall + 1 > w.gas_deflate_max_ms),
            (), ("L-INTERNAL",),
            f"In internal mode an inflation starts at least {INTERNAL_PERIOD_MIN_MS} ms after "
            f"the previous one ({INTERNAL_RATE_MAX_PER_MIN} /min, the fastest internal rate of "
            "iabp.md, not the validator's own range) and after the command has been off for "
            f"longer than the gas deflation time ({w.gas_deflate_max_ms} ms: the balloon is "
            "empty before it fills again), whatever settings the operator changes mid-cycle: "
            "a changed period or inflation time takes effect at the next cycle."),
        Property(
            "P-INTERNAL-DEFLATES", "no internal inflation outlasts the slowest cycle's time "
            "to empty", ("REQ-INTERNAL-GUARD", "REQ-SETTINGS-SAFE"), ("HZ-ASYNC", "HZ-SETTINGS"),
            S,
            And(mode.eq(Mode.INTERNAL), inflate_cmd),
            obs_since_rise + w.gas_deflate_max_ms < INTERNAL_PERIOD_MAX_MS,
            (), ("L-INTERNAL",),
            f"In internal mode an inflation lasts less than {INTERNAL_PERIOD_MAX_MS} ms (the "
            f"slowest internal cycle, {INTERNAL_RATE_MIN_PER_MIN} /min) minus the gas "
            f"deflation time ({w.gas_deflate_max_ms} ms): the balloon is let down in every "
            "cycle, never held up through asynchronous pumping (with P-INTERNAL-RATE: "
            "emptied before each new inflation)."),
        Property(
            "P-INTERNAL-RESTART", "when the heart restarts during internal pumping, its "
            "first ejection holds helium only until the activity report and the gas time",
            ("REQ-INTERNAL-GUARD", "REQ-DEFL-BEFORE-EJECTION"), ("HZ-ASYNC", "HZ-LATE-DEFL"),
            S,
            And(in_ejection(), obs_since_internal <= w.gas_deflate_max_ms,
                balloon_may_hold_gas(inflate_cmd)),
            heart_t < restart_empty,
            ("ASM-HEART-RATE", "ASM-EJECTION", "ASM-ACTIVITY", "ASM-GAS"), ("L-RESTART",),
            f"Internal pumping runs on a silent heart; when the heart beats again, the "
            f"console leaves internal mode on the activity report (at most "
            f"{w.activity_delay_max_ms} ms after the beat's QRS onset) and the balloon is empty "
            f"{A.TICK_MS + w.gas_deflate_max_ms} ms later: helium from internal pumping is in an "
            f"ejection only before {restart_empty} ms after its QRS onset, i.e. at "
            "most that minus the pre-ejection period (the bound per rate band is printed by "
            "the prover). This is the first beat after asystole; internal mode is never "
            "entered on a beating heart (P-INTERNAL-ENTRY)."),
        Property(
            "P-FAULT-HALT", "a high-priority fault halts pumping within one tick",
            ("REQ-ALARM-HALT",), ("HZ-GAS", "HZ-KINK"), T,
            high_fault,
            And(mode.nxt.eq(Mode.HALTED), Not(inflate_cmd.nxt),
                *[Implies(_b(i), _b(a).nxt) for i, a in HIGH_FAULT_INPUTS.items()]),
            (), (),
            "On a tick with gas loss, blood detected, catheter kink or system fault, the "
            "console is HALTED, the inflate command is off and the fault's alarm is active.",
            cases=mode_cases(PUMPING_MODES, primed=False, inflated=True)),
        Property(
            "P-HALT-LATCH", "halted until the fault is cleared and acknowledged",
            ("REQ-ALARM-HALT",), ("HZ-GAS", "HZ-SILENT"), T,
            And(mode.eq(Mode.HALTED), Not(And(ack, Not(high_fault)))),
            And(mode.nxt.eq(Mode.HALTED), Not(inflate_cmd.nxt)),
            (), (),
            "Once HALTED the console stays halted with the balloon deflated until the fault "
            "sensors are clear AND the operator acknowledges."),
        Property(
            "P-STANDBY-DEFLATED", "standby and halted mean deflated",
            ("REQ-STANDBY-DEFLATED",), ("HZ-EARLY-INFL", "HZ-LATE-DEFL"), S,
            is_stopped(), Not(inflate_cmd),
            (), ("L-IDLE-GAS",),
            "In STANDBY and HALTED the inflate command is off."),
        Property(
            "P-RATIO", "1:N: at most one inflation per N detected beats",
            ("REQ-RATIO",), ("HZ-SETTINGS",), T,
            rise_in_trigger_mode, obs_beats >= _i("set_assist_ratio"),
            (), ("L-RATIO",),
            "Each inflation in a trigger mode is preceded, since the previous inflation, by at "
            "least N trigger reports, N being the assist ratio in force.",
            cases=mode_cases(TRIGGER_MODES, primed=True)),
        Property(
            "P-SETTINGS-SAFE", "the settings in force always pass the validator",
            ("REQ-SETTINGS-SAFE",), ("HZ-SETTINGS",), S,
            TRUE, settings_valid(current_settings()),
            (), (),
            "Every setting in force satisfies every validator clause (ranges and the timing "
            "clauses the proofs need), at power-on and after any change request."),
        Property(
            "P-SETTINGS-BOUNDS", "the settings in force stay inside the requirements' limits",
            ("REQ-SETTINGS-SAFE", "REQ-INTERNAL-GUARD", "REQ-TRIGGER-LOSS", "REQ-IDLE-ALARM"),
            ("HZ-SETTINGS", "HZ-ASYNC", "HZ-NO-TRIGGER", "HZ-IDLE"), S,
            TRUE,
            And(Between(_i("set_assist_ratio"), 1, ASSIST_RATIO_MAX),
                Between(_i("set_internal_period_ms"), INTERNAL_PERIOD_MIN_MS,
                        INTERNAL_PERIOD_MAX_MS),
                _i("set_trigger_loss_timeout_ms") <= TRIGGER_LOSS_BOUND_MS,
                _i("set_idle_limit_ms") <= IDLE_LIMIT_MAX_MS),
            (), ("L-SETTINGS",),
            f"Whatever the operator requests, the settings in force keep the limits the "
            f"requirements state (not the validator's own ranges): assist 1:1 to "
            f"1:{ASSIST_RATIO_MAX}, internal rate {INTERNAL_RATE_MIN_PER_MIN}-"
            f"{INTERNAL_RATE_MAX_PER_MIN} /min, trigger-loss timeout at most "
            f"{TRIGGER_LOSS_BOUND_MS} ms, idle limit at most {IDLE_LIMIT_MAX_MS // 60000} min: "
            "a validator widened past them fails this proof."),
        Property(
            "P-SETTINGS-REJECT", "an invalid settings request is refused and announced",
            ("REQ-SETTINGS-SAFE",), ("HZ-SETTINGS", "HZ-SILENT"), T,
            And(_b("set_request"), Not(settings_valid(requested_settings()))),
            And(*[s.var.nxt.eq(s.var) for s in SETTINGS], _b("alm_settings_rejected").nxt),
            (), (),
            "A settings request that fails any validator clause changes nothing and raises "
            "the settings-rejected alarm (the clause reasons are reported by the validator)."),
        Property(
            "P-ALWAYS-STOPPABLE", "standby takes effect within one tick",
            ("REQ-ALWAYS-STOPPABLE",), ("HZ-STUCK",), T,
            op.eq(OperatorCommand.STANDBY),
            And(is_stopped(primed=True), Not(inflate_cmd.nxt)),
            (), (),
            "From every reachable state, on the tick the operator presses STANDBY the console "
            "is stopped (STANDBY, or HALTED on a fault) with the inflate command off.",
            cases=mode_cases(PUMPING_MODES, primed=False, inflated=True)),
        Property(
            "P-ALARM-LATCH", "high-priority and settings-rejected alarms clear only on "
            "acknowledge", ("REQ-ALARM-LATCH", "REQ-SETTINGS-SAFE"), ("HZ-SILENT",), T,
            And(Or(*[_b(a) for a in HIGH_ALARMS], _b("alm_settings_rejected")), Not(ack)),
            And(*[Implies(_b(a), _b(a).nxt) for a in HIGH_ALARMS],
                Implies(And(_b("alm_settings_rejected"), Not(_b("set_request"))),
                        _b("alm_settings_rejected").nxt)),
            (), (),
            "An active high-priority alarm stays active on every tick without an "
            "acknowledge; so does the settings-rejected alarm until an acknowledge or a new "
            "settings request (a rejection the operator never saw is not announced)."),
        Property(
            "P-ALARM-CAUSE", "every alarm is active while its cause persists",
            ("REQ-ALARM-LATCH",), ("HZ-SILENT",), T,
            Or(*[_b(i) for i in HIGH_FAULT_INPUTS], _b("contra_absolute"),
               _b("contra_relative"), And(mode.eq(Mode.INTERNAL), _b("activity"))),
            And(*[Implies(_b(i), _b(a).nxt) for i, a in HIGH_FAULT_INPUTS.items()],
                Implies(_b("contra_absolute"), _b("alm_contra_absolute").nxt),
                Implies(_b("contra_relative"), _b("alm_contra_relative").nxt),
                Implies(And(mode.eq(Mode.INTERNAL), _b("activity")),
                        _b("alm_async_activity").nxt)),
            (), (),
            "On every tick on which an alarm's cause is present, that alarm is active "
            "afterwards, whatever the operator does (acknowledge cannot clear it)."),
        Property(
            "P-ASSIST-SUSPENDED-ALARM", "beats without assistance raise an alarm",
            ("REQ-ALARM-LATCH",), ("HZ-SILENT",), S,
            And(in_trigger_mode(), obs_unassisted >= _i("set_assist_ratio")
                + ASSIST_SUSPENDED_WITHIN_BEATS),
            _b("alm_assist_suspended"),
            (), ("L-UNASSISTED",),
            f"In a trigger mode, once {ASSIST_SUSPENDED_WITHIN_BEATS} more trigger reports than the "
            "assist ratio have gone by without an inflation (heart rate above the inflation "
            "window, inconsistent rhythm, missed notch), the assist-suspended alarm is active: "
            "pumping never stops silently.",
            cases=mode_cases(TRIGGER_MODES, primed=False)),
        Property(
            "P-NO-START-OVER-ALARM", "pumping never starts over an unacknowledged "
            "high-priority alarm",
            ("REQ-ALARM-HALT", "REQ-ALARM-LATCH"), ("HZ-SILENT", "HZ-GAS", "HZ-KINK"), T,
            And(Not(is_pumping()), is_pumping(primed=True)),
            And(*[Not(_b(a)) for a in HIGH_ALARMS]),
            (), (),
            "The console starts pumping (from STANDBY or HALTED into a pumping mode) only on a "
            "tick on which no high-priority alarm is active: the operator must acknowledge an "
            "alarm (and its cause must be gone) before pumping can start again, so therapy "
            "never restarts over an alarm nobody has seen.",
            cases=mode_cases(PUMPING_MODES, primed=True)),
        Property(
            "P-START-TAKES-EFFECT", "a permitted start enters the chosen mode at once",
            ("REQ-START",), ("HZ-NO-THERAPY",), T,
            And(mode.eq(Mode.STANDBY), op.isin(list(START_MODE)),
                Not(high_fault), *[Not(_b(a)) for a in HIGH_ALARMS],
                Not(_b("contra_absolute")), Implies(_b("contra_relative"), _b("contra_override")),
                Implies(op.eq(OperatorCommand.START_INTERNAL), And(
                    _i("since_activity_ms") >= A.ASYSTOLE_CONFIRM_MS, Not(_b("activity"))))),
            mode.nxt.eq(Ite(op.eq(OperatorCommand.START_ECG), Mode.ECG_TRIGGER,
                            Ite(op.eq(OperatorCommand.START_PRESSURE), Mode.PRESSURE_TRIGGER,
                                Mode.INTERNAL))),
            (), (),
            "From STANDBY, on the tick the operator presses START_ECG, START_PRESSURE or "
            "START_INTERNAL, the console is in that mode, unless a fault sensor is active, "
            "a high-priority alarm is unacknowledged, an absolute contraindication (or a "
            "relative one without override) is recorded, or, for internal mode, cardiac "
            f"activity was seen in the last {A.ASYSTOLE_CONFIRM_MS} ms (the console's "
            "confirmation time): the operator's choice of mode and override are obeyed.",
            cases=tuple((m.name.lower().replace("_", " "), op.eq(k))
                        for k, m in START_MODE.items())),
        Property(
            "P-IDLE-ALARM", "a balloon left still too long raises the idle alarm",
            ("REQ-IDLE-ALARM",), ("HZ-IDLE",), S,
            obs_idle >= _i("set_idle_limit_ms"), _b("alm_idle"),
            (), ("L-IDLE",),
            "Once the balloon has been still (STANDBY or HALTED) for the idle limit, the idle "
            "alarm is active."),
        Property(
            "P-IDLE-ALARM-CAUSE", "the idle alarm only after the idle limit",
            ("REQ-IDLE-ALARM",), ("HZ-IDLE", "HZ-NO-THERAPY"), S,
            _b("alm_idle"), obs_idle >= _i("set_idle_limit_ms"),
            (), ("L-IDLE",),
            "The idle alarm is active only when the balloon has been still (STANDBY or "
            "HALTED) for at least the idle limit: no nuisance alarm that would teach the "
            "staff to ignore it (P-IDLE-ALARM is the other direction)."),
        Property(
            "P-TRIGGER-LOSS-CAUSE", "the trigger-loss alarm only after a gap no detected "
            "beating heart leaves", ("REQ-TRIGGER-LOSS",), ("HZ-NO-THERAPY", "HZ-NO-TRIGGER"),
            T,
            _b("alm_trigger_loss").nxt,
            And(in_trigger_mode(), obs_no_trigger + 1 >= _i("set_trigger_loss_timeout_ms").nxt,
                obs_no_trigger + 1 > w.rr_max_ms + Ite(mode.eq(Mode.ECG_TRIGGER),
                                                       w.r_detect_jitter_ms,
                                                       w.upstroke_jitter_ms)),
            (), ("L-SETTINGS", "L-NO-TRIGGER"),
            "The trigger-loss alarm (which stops pumping) turns on only in a trigger mode "
            "after no trigger for the whole timeout since the last report or the mode's "
            "entry, and only after a gap longer than the slowest beat "
            f"({w.rr_max_ms} ms) plus the detector's jitter: a detector reporting every "
            "beat of a slow heart never stops therapy (P-TRIGGER-LOSS is the other "
            "direction).",
            cases=mode_cases(TRIGGER_MODES, primed=False)),
    ]
