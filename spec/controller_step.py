"""The controller's per-tick step, as guarded updates in the expression language.

One call of the step is one 1 ms tick: it reads the current state and the tick's
inputs (detector reports, operator key, fault sensors, recorded contraindications,
settings request) and defines every controller variable's next value. Wires are named
intermediate values (``guard.*`` feed the mode table).

Timing rules (ECG trigger):
- every detected R wave deflates (fallback) and measures the R-R interval; the detector's
  QRS suspicion (a QRS candidate it has opened and not yet decided, about 8 ms before its
  report) deflates at once and holds inflation off while it lasts: an early beat's
  ejection starts about a pre-ejection period after its QRS onset, and the gas needs its
  time to leave, so every ms of the decision counts (a false suspicion, e.g. noise, only
  shortens that beat's inflation);
- inflation is armed only on a detected beat whose interval agrees with the previous
  one (a missed beat makes the interval inconsistent) and whose place in the 1:N
  ratio has come;
- inflation starts at the latest end of ejection the bands allow for the measured
  rate, plus the operator's offset;
- deflation starts ``ecg_deflation_lead_ms`` before the earliest next ejection the
  R-R floor allows (predictive deflation); the floor is the shortest recent interval
  (``RR_FLOOR_RISE_MS``), so after an early beat inflation ends in time for another
  one as early; when no window is left the beat is not assisted (ASSIST_SUSPENDED
  after a few such beats).
Pressure trigger is the same with the systolic upstroke as beat trigger, inflation on
the dicrotic notch, and predictive deflation only (the next upstroke comes after
ejection has started).
"""

from __future__ import annotations

from iabp.spec import assumptions as A
from iabp.spec.environment import QRS_SUSPECT, R_CHANNEL, UPSTROKE_CHANNEL
from iabp.spec.expr import (
    BOOL,
    INT,
    Abs,
    And,
    Between,
    Expr,
    Ite,
    Min,
    Not,
    Or,
    Var,
    enum_sort,
)
from iabp.spec.mode_table import MODE_TABLE
from iabp.spec.modes import (
    PUMPING_MODES,
    STOPPED_MODES,
    TRIGGER_MODES,
    Alarm,
    Mode,
    OperatorCommand,
)
from iabp.spec.settings import (
    SETTINGS,
    current_settings,
    requested_settings,
    settings_valid,
)
from iabp.spec.system import Assign, InputVar, StateVar, VarRole
from iabp.spec.timing import PEP_HI_BAND_MS, RR_MIN_MS, pep_lo_ms, qs2_hi_ms

MODE = enum_sort(Mode)
OPCMD = enum_sort(OperatorCommand)

mode = Var("mode", MODE)
inflate_cmd = Var("inflate_cmd", BOOL)
op = Var("op", OPCMD)

HIGH_FAULT_INPUTS: dict[str, str] = {
    "gas_loss": "alm_gas_loss",
    "blood_detected": "alm_blood_detected",
    "catheter_kink": "alm_catheter_kink",
    "system_fault": "alm_system_fault",
}

#: Which controller variable carries which alarm of the wire protocol.
ALARM_VARS: dict[str, Alarm] = {
    "alm_trigger_loss": Alarm.TRIGGER_LOSS,
    "alm_contra_absolute": Alarm.CONTRA_ABSOLUTE,
    "alm_contra_relative": Alarm.CONTRA_RELATIVE,
    "alm_gas_loss": Alarm.GAS_LOSS,
    "alm_blood_detected": Alarm.BLOOD_DETECTED,
    "alm_catheter_kink": Alarm.CATHETER_KINK,
    "alm_system_fault": Alarm.SYSTEM_FAULT,
    "alm_async_activity": Alarm.ASYNC_ACTIVITY,
    "alm_idle": Alarm.IDLE_TOO_LONG,
    "alm_settings_rejected": Alarm.SETTINGS_REJECTED,
    "alm_assist_suspended": Alarm.ASSIST_SUSPENDED,
}

#: Arrhythmia timing: the R-R floor (the shortest recent beat interval) follows a shorter
#: interval at once and rises by at most this much per beat (ms). A false report splits a
#: beat into two intervals, one of them shorter than any the heart can produce
#: (``RR_MIN_MS``): that one undoes the last update of the floor and the other half is
#: skipped, so a single noise spike does not suspend pumping. Deflation and the
#: last inflation start are timed from the floor, so after an early beat (a PVC, an AF
#: beat) the balloon is empty before a beat that early can eject again, for as many
#: beats as the floor takes to climb back; in sinus rhythm the floor equals the measured
#: interval (a longer beat raises it by more than the R-R step only over a few beats).
RR_FLOOR_RISE_MS = 20

#: Detected beats without an inflation, beyond the 1:N ratio, that raise ASSIST_SUSPENDED.
UNASSISTED_BEATS_ALARM = 3
UNASSISTED_CAP = 8


def _iv(name: str) -> Var:
    return Var(name, INT)


def _bv(name: str) -> Var:
    return Var(name, BOOL)


def state_vars() -> list[StateVar]:
    c = VarRole.CONTROLLER
    out = [
        StateVar("mode", MODE, c, "pumping mode", init=mode.eq(Mode.STANDBY)),
        StateVar("inflate_cmd", BOOL, c, "balloon command: True = inflate",
                 init=Not(inflate_cmd)),
        StateVar("since_trigger_ms", INT, c, "ms since the last beat trigger or mode entry",
                 0, A.TRIGGER_TIMER_CAP_MS, init=_iv("since_trigger_ms").eq(0)),
        StateVar("triggers_seen", INT, c, "beat triggers since mode entry or trigger loss "
                 "(saturates at 3)", 0, 3, init=_iv("triggers_seen").eq(0)),
        StateVar("rr_est_ms", INT, c, "last measured trigger-to-trigger interval (ms)",
                 0, A.TRIGGER_TIMER_CAP_MS, init=_iv("rr_est_ms").eq(0)),
        StateVar("rr_floor_ms", INT, c, "shortest recent trigger interval: follows a shorter "
                 "one at once, rises by at most RR_FLOOR_RISE_MS per beat (ms)",
                 0, A.TRIGGER_TIMER_CAP_MS, init=_iv("rr_floor_ms").eq(A.TRIGGER_TIMER_CAP_MS)),
        StateVar("rr_floor_before_ms", INT, c, "the R-R floor before its last update (ms): "
                 "restored when a false report is recognised", 0, A.TRIGGER_TIMER_CAP_MS,
                 init=_iv("rr_floor_before_ms").eq(A.TRIGGER_TIMER_CAP_MS)),
        StateVar("armed", BOOL, c, "inflation allowed in this beat", init=Not(_bv("armed"))),
        StateVar("beats_since_inflation", INT, c, "beat triggers since the last inflation "
                 "(saturates at 3)", 0, 3, init=_iv("beats_since_inflation").eq(0)),
        StateVar("unassisted_triggers", INT, c, "beat triggers since the last inflation or "
                 "mode entry (saturates)", 0, UNASSISTED_CAP,
                 init=_iv("unassisted_triggers").eq(0)),
        StateVar("since_activity_ms", INT, c, "ms since cardiac activity was last seen",
                 0, A.ASYSTOLE_CONFIRM_MS, init=_iv("since_activity_ms").eq(0)),
        StateVar("internal_phase_ms", INT, c, "position in the internal-mode cycle (ms)",
                 0, 1500, init=_iv("internal_phase_ms").eq(0)),
        StateVar("internal_cycle_period_ms", INT, c, "period of the current internal-mode "
                 "cycle: the setting in force when the cycle began (ms)", 0, 1500,
                 init=_iv("internal_cycle_period_ms").eq(0)),
        StateVar("internal_cycle_inflation_ms", INT, c, "inflation time of the current "
                 "internal-mode cycle: the setting in force when the cycle began (ms)", 0, 1000,
                 init=_iv("internal_cycle_inflation_ms").eq(0)),
        StateVar("idle_ms", INT, c, "ms the balloon has been still (standby or halted)",
                 0, A.IDLE_TIMER_CAP_MS, init=_iv("idle_ms").eq(0)),
    ]
    for name in [*HIGH_FAULT_INPUTS.values(), "alm_contra_absolute", "alm_contra_relative",
                 "alm_async_activity", "alm_trigger_loss", "alm_idle",
                 "alm_settings_rejected", "alm_assist_suspended"]:
        out.append(StateVar(name, BOOL, c, f"alarm {name[4:]} active", init=Not(_bv(name))))
    for s in SETTINGS:
        out.append(StateVar(s.var.name, INT, c, f"setting in force: {s.meaning} ({s.unit})",
                            s.lo, s.hi))
    return out


def input_vars() -> list[InputVar]:
    out = [
        InputVar("op", OPCMD, "operator key pressed on this tick"),
        *[InputVar(n, BOOL, f"fault sensor: {n.replace('_', ' ')}") for n in HIGH_FAULT_INPUTS],
        InputVar("contra_absolute", BOOL, "an absolute contraindication is recorded"),
        InputVar("contra_relative", BOOL, "a relative contraindication is recorded"),
        InputVar("contra_override", BOOL, "the operator has overridden the relative one"),
        InputVar("set_request", BOOL, "the operator asks to change the settings"),
    ]
    out += [InputVar(s.request.name, INT, f"requested {s.name} ({s.unit})") for s in SETTINGS]
    return out


class _Step:
    """Collects the step's lines in order and hands back variables for the wires."""

    def __init__(self) -> None:
        self.lines: list[Assign] = []

    def wire(self, name: str, expr: Expr) -> Var:
        self.lines.append(Assign(name, expr, True))
        return Var(name, expr.sort)

    def next(self, name: str, expr: Expr) -> Var:
        self.lines.append(Assign(name, expr, False))
        return Var(name, expr.sort).nxt


def _mode_update(s: _Step) -> Var:
    result: Expr = mode
    for row in reversed(MODE_TABLE):
        fires = And(mode.isin([Mode[x] for x in row.sources]), Var(f"guard.{row.guard}", BOOL))
        result = Ite(fires, Mode[row.dest], result)
    return s.next("mode", result)


def _guards(s: _Step) -> None:
    high_fault = s.wire("high_fault", Or(*[_bv(n) for n in HIGH_FAULT_INPUTS]))
    latched = s.wire("high_alarm_latched", Or(*[_bv(n) for n in HIGH_FAULT_INPUTS.values()],
                                              _bv("alm_contra_absolute"),
                                              _bv("alm_async_activity")))
    contra = s.wire("contra_blocks", Or(_bv("contra_absolute"),
                                        And(_bv("contra_relative"), Not(_bv("contra_override")))))
    permitted = s.wire("pumping_permitted", And(Not(high_fault), Not(contra), Not(latched)))
    s.wire("guard.high_fault", high_fault)
    s.wire("guard.operator_standby", op.eq(OperatorCommand.STANDBY))
    s.wire("guard.contraindicated", contra)
    s.wire("guard.cardiac_activity", _bv("activity"))
    s.wire("guard.may_start_ecg", And(op.eq(OperatorCommand.START_ECG), permitted))
    s.wire("guard.may_start_pressure", And(op.eq(OperatorCommand.START_PRESSURE), permitted))
    s.wire("guard.may_start_internal", And(
        op.eq(OperatorCommand.START_INTERNAL), permitted,
        _iv("since_activity_ms") >= A.ASYSTOLE_CONFIRM_MS, Not(_bv("activity"))))
    s.wire("guard.fault_cleared_and_acknowledged",
           And(op.eq(OperatorCommand.ACKNOWLEDGE), Not(high_fault)))


def _settings(s: _Step) -> Var:
    change = s.wire("settings_accepted", And(_bv("set_request"),
                                             settings_valid(requested_settings())))
    for st in SETTINGS:
        s.next(st.var.name, Ite(change, st.request, st.var))
    return change


def ecg_inflate_at_ms(rr_est: Expr, offset: Expr) -> Expr:
    """ECG trigger: ms after the detected R wave at which inflation may start."""
    return qs2_hi_ms(rr_est + A.R_DETECT_JITTER_MS) - A.R_DETECT_DELAY_MIN_MS + offset


def ecg_deflate_at_ms(rr_est: Expr, lead: Expr) -> Expr:
    """ECG trigger: ms after the detected R wave at which deflation must start."""
    return rr_est + pep_lo_ms(rr_est - A.R_DETECT_JITTER_MS - A.RR_STEP_MAX_MS) - lead


def ecg_inflate_until_ms(rr_est: Expr) -> Expr:
    """ECG trigger: inflation may not START this late after the detected R wave: the next
    R wave may come this early (R-R step, detector jitter and delay)."""
    return rr_est - A.R_DETECT_JITTER_MS - A.RR_STEP_MAX_MS - A.R_DETECT_DELAY_MAX_MS - 1


#: Pressure trigger: the next R wave may come this soon before the predicted next
#: upstroke: the latest upstroke report of a beat (PEP and detector delay), the change of
#: PEP and of report delay between beats, and the R-R step.
PRESSURE_R_GUARD_MS = (max(PEP_HI_BAND_MS) + A.PEP_STEP_MAX_MS + 2 * A.UPSTROKE_DELAY_MAX_MS
                       - A.UPSTROKE_DELAY_MIN_MS + A.RR_STEP_MAX_MS + 2)


def pressure_inflate_until_ms(rr_est: Expr) -> Expr:
    """Pressure trigger: inflation may not START this late after the detected upstroke,
    so that a late notch report never inflates after the next R wave."""
    return rr_est - PRESSURE_R_GUARD_MS


def pressure_deflate_at_ms(rr_est: Expr, lead: Expr) -> Expr:
    """Pressure trigger: ms after the detected upstroke at which deflation must start."""
    return rr_est - lead


def _beat_timing(s: _Step, entered: Var, changed: Var) -> None:
    ecg, press = mode.nxt.eq(Mode.ECG_TRIGGER), mode.nxt.eq(Mode.PRESSURE_TRIGGER)
    trig_mode = s.wire("trigger_mode", Or(ecg, press))
    trigger = s.wire("trigger", And(Not(entered), Or(And(ecg, R_CHANNEL.input),
                                                     And(press, UPSTROKE_CHANNEL.input))))
    since, seen = _iv("since_trigger_ms"), _iv("triggers_seen")
    rr_est = _iv("rr_est_ms")
    interval = s.wire("interval_ms", Min(since + 1, A.TRIGGER_TIMER_CAP_MS))
    lo = Ite(ecg, A.RR_ACCEPT_MIN_MS, A.PRESSURE_RR_ACCEPT_MIN_MS)
    hi = Ite(ecg, A.RR_ACCEPT_MAX_MS, A.PRESSURE_RR_ACCEPT_MAX_MS)
    tol = Ite(ecg, A.RR_CONSISTENCY_TOL_MS, A.PRESSURE_CONSISTENCY_TOL_MS)
    consistent = s.wire("interval_consistent", And(
        seen >= 2, Between(interval, lo, hi), Between(rr_est, lo, hi),
        Abs(interval - rr_est) <= tol))
    since_n = s.next("since_trigger_ms", Ite(Or(entered, trigger), 0,
                                             Min(since + 1, A.TRIGGER_TIMER_CAP_MS)))
    lost = s.wire("trigger_lost", And(trig_mode,
                                      since_n >= Var("set_trigger_loss_timeout_ms", INT).nxt))
    s.next("triggers_seen", Ite(Or(entered, lost), 0, Ite(trigger, Min(seen + 1, 3), seen)))
    rr_n = s.next("rr_est_ms", Ite(entered, 0, Ite(trigger, interval, rr_est)))
    floor, before = _iv("rr_floor_ms"), _iv("rr_floor_before_ms")
    cap = A.TRIGGER_TIMER_CAP_MS
    # A beat interval the heart can produce, after one it can produce: it updates the floor.
    # An impossible one (shorter than RR_MIN_MS: a false report split a beat) undoes the
    # last update, and the interval after it (the other half of the split) is skipped.
    plausible = s.wire("floor_update", And(trigger, seen >= 1, interval >= RR_MIN_MS,
                                           rr_est >= RR_MIN_MS))
    split = s.wire("floor_undo", And(trigger, seen >= 1, interval < RR_MIN_MS))
    s.next("rr_floor_before_ms", Ite(entered, cap, Ite(plausible, floor, before)))
    floor_n = s.next("rr_floor_ms", Ite(
        entered, cap,
        Ite(plausible, Min(interval, Min(floor + RR_FLOOR_RISE_MS, cap)),
            Ite(split, before, floor))))
    settings_n = {k: v.nxt for k, v in current_settings().items() if isinstance(v, Var)}
    defl_at = s.wire("deflate_at_ms", Ite(
        ecg, ecg_deflate_at_ms(floor_n, settings_n["ecg_deflation_lead_ms"]),
        pressure_deflate_at_ms(floor_n, settings_n["pressure_deflation_lead_ms"])))
    defl_due = s.wire("deflation_due", since_n >= defl_at)
    beats = _iv("beats_since_inflation")
    armed = _bv("armed")
    suspect = s.wire("qrs_suspected", And(ecg, QRS_SUSPECT))
    window = s.wire("inflation_window", And(armed, Not(trigger), Not(inflate_cmd),
                                            Not(defl_due), Not(lost), Not(changed),
                                            Not(suspect)))
    inflate_now = s.wire("inflate_now", Or(
        And(ecg, window,
            since_n >= ecg_inflate_at_ms(rr_n, settings_n["inflation_offset_ms"]),
            since_n < ecg_inflate_until_ms(floor_n)),
        And(press, window, Var("notch", BOOL), since_n < pressure_inflate_until_ms(floor_n))))
    arm = s.wire("arm_on_trigger", And(consistent, beats + 1 >= settings_n["assist_ratio"],
                                       Not(changed)))
    s.next("armed", And(trig_mode, Not(entered), Not(lost), Not(defl_due),
                        Ite(trigger, arm, And(armed, Not(inflate_now), Not(changed)))))
    s.next("beats_since_inflation", Ite(entered, 0, Ite(inflate_now, 0,
                                                         Ite(trigger, Min(beats + 1, 3), beats))))
    unassisted = _iv("unassisted_triggers")
    unassisted_n = s.next("unassisted_triggers", Ite(
        entered, 0, Ite(inflate_now, 0, Ite(trigger, Min(unassisted + 1, UNASSISTED_CAP),
                                            unassisted))))
    s.next("alm_assist_suspended", And(
        trig_mode, unassisted_n >= settings_n["assist_ratio"] + UNASSISTED_BEATS_ALARM))
    internal = mode.nxt.eq(Mode.INTERNAL)
    phase = _iv("internal_phase_ms")
    # A settings change in internal mode takes effect at the next cycle: the cycle runs with
    # the period and inflation time in force when it began (a longer inflation time set
    # after the deflation would otherwise re-inflate within the same cycle).
    cycle_period, cycle_infl = _iv("internal_cycle_period_ms"), _iv("internal_cycle_inflation_ms")
    phase_n = s.next("internal_phase_ms", Ite(
        And(internal, Not(entered)),
        Ite(phase + 1 >= cycle_period, 0, phase + 1), 0))
    cycle_start = phase_n.eq(0)
    s.next("internal_cycle_period_ms", Ite(cycle_start, settings_n["internal_period_ms"],
                                           cycle_period))
    cycle_infl_n = s.next("internal_cycle_inflation_ms", Ite(
        cycle_start, settings_n["internal_inflation_ms"], cycle_infl))
    s.next("inflate_cmd", Ite(
        internal, phase_n < cycle_infl_n,
        And(trig_mode, Not(entered), Not(trigger), Not(defl_due), Not(lost), Not(suspect),
            Or(inflate_cmd, inflate_now))))
    s.next("since_activity_ms", Ite(_bv("activity"), 0,
                                    Min(_iv("since_activity_ms") + 1, A.ASYSTOLE_CONFIRM_MS)))
    s.next("idle_ms", Ite(mode.nxt.isin(STOPPED_MODES), Min(_iv("idle_ms") + 1,
                                                            A.IDLE_TIMER_CAP_MS), 0))


def _alarms(s: _Step) -> None:
    ack = s.wire("acknowledged", op.eq(OperatorCommand.ACKNOWLEDGE))
    for inp, alm in HIGH_FAULT_INPUTS.items():
        s.next(alm, Or(_bv(inp), And(_bv(alm), Not(ack))))
    s.next("alm_contra_absolute", Or(_bv("contra_absolute"),
                                     And(_bv("alm_contra_absolute"), Not(ack))))
    s.next("alm_contra_relative", _bv("contra_relative"))
    s.next("alm_async_activity", Or(And(mode.eq(Mode.INTERNAL), _bv("activity")),
                                    And(_bv("alm_async_activity"), Not(ack))))
    s.next("alm_trigger_loss", _bv("trigger_lost"))
    s.next("alm_idle", _iv("idle_ms").nxt >= Var("set_idle_limit_ms", INT).nxt)
    rejected = And(_bv("set_request"), Not(_bv("settings_accepted")))
    s.next("alm_settings_rejected", Or(rejected, And(_bv("alm_settings_rejected"), Not(ack),
                                                     Not(_bv("settings_accepted")))))


def step() -> list[Assign]:
    """The whole controller step, in evaluation order."""
    s = _Step()
    _guards(s)
    _mode_update(s)
    entered = s.wire("mode_entered", mode.nxt.ne(mode))
    changed = _settings(s)
    _beat_timing(s, entered, changed)
    _alarms(s)
    return s.lines


def init_constraints() -> list[Expr]:
    """Power-on: any settings the validator accepts (the proofs cover all of them)."""
    return [settings_valid(current_settings())]


def in_trigger_mode(primed: bool = False) -> Expr:
    m = mode.nxt if primed else mode
    return m.isin(TRIGGER_MODES)


def is_pumping(primed: bool = False) -> Expr:
    m = mode.nxt if primed else mode
    return m.isin(PUMPING_MODES)


def is_stopped(primed: bool = False) -> Expr:
    m = mode.nxt if primed else mode
    return m.isin(STOPPED_MODES)

