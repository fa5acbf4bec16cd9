"""The runtime monitor's fail-safe supervisor, as spec (REQ-MON-FAILSAFE).

One tick per ms. Inputs are what the monitor's own machinery reports on that tick: a
runtime rule fired, the parser saw an integrity error, a valid frame arrived, the port
was lost, the monitor itself hit an internal error, the operator acknowledged. The
supervisor latches the safe state (stop command to the console, interlock
de-energised) on any of: a rule violation, silence longer than the watchdog, more
integrity errors than the limit within a window, a lost port, an internal error. Only
an operator acknowledge with the cause gone leaves it. The monitor's fail-safe runs
this step compiled from here (monitor/failsafe.py).
"""

from __future__ import annotations

from iabp.spec.expr import BOOL, INT, And, Expr, Implies, Ite, Min, Not, Or, Var
from iabp.spec.system import Assign, InputVar, Property, PropertyKind, StateVar, VarRole

#: No valid frame for longer than this trips the monitor (ms).
MON_WATCHDOG_MS = 50
#: More integrity errors than this within one window trips the monitor.
MON_ERROR_LIMIT = 5
#: Length of the integrity-error counting window (ms).
MON_ERROR_WINDOW_MS = 1000
MON_SILENCE_CAP_MS = MON_WATCHDOG_MS + 1

safe = Var("mon_safe", BOOL)
interlock = Var("mon_interlock_energised", BOOL)
stop = Var("mon_stop_command", BOOL)
silence = Var("mon_silence_ms", INT)
errors = Var("mon_errors_in_window", INT)
window = Var("mon_window_ms", INT)
obs_silence = Var("obs_mon_silence_ms", INT)


def _b(name: str) -> Var:
    return Var(name, BOOL)


INPUT_NAMES = ("mon_rule_violation", "mon_integrity_error", "mon_frame", "mon_port_lost",
               "mon_internal_error", "mon_ack")


def state_vars() -> list[StateVar]:
    m, o = VarRole.MONITOR, VarRole.OBSERVER
    return [
        StateVar("mon_safe", BOOL, m, "the latched safe state", init=Not(safe)),
        StateVar("mon_interlock_energised", BOOL, m, "energise-to-run interlock output",
                 init=interlock.eq(True)),
        StateVar("mon_stop_command", BOOL, m, "the STOP command is being sent to the console",
                 init=Not(stop)),
        StateVar("mon_silence_ms", INT, m, "ms since the last valid frame", 0,
                 MON_SILENCE_CAP_MS, init=silence.eq(0)),
        StateVar("mon_errors_in_window", INT, m, "integrity errors in the current window",
                 0, MON_ERROR_LIMIT + 1, init=errors.eq(0)),
        StateVar("mon_window_ms", INT, m, "position in the error-counting window", 0,
                 MON_ERROR_WINDOW_MS - 1, init=window.eq(0)),
        StateVar("obs_mon_silence_ms", INT, o, "ms since the last valid frame (observer)", 0,
                 MON_SILENCE_CAP_MS, init=obs_silence.eq(0)),
    ]


def input_vars() -> list[InputVar]:
    return [
        InputVar("mon_rule_violation", BOOL, "a runtime rule fired on this tick"),
        InputVar("mon_integrity_error", BOOL, "the parser reported an integrity error"),
        InputVar("mon_frame", BOOL, "a valid telemetry frame arrived on this tick"),
        InputVar("mon_port_lost", BOOL, "the console port was lost"),
        InputVar("mon_internal_error", BOOL, "the monitor's own loop raised an error"),
        InputVar("mon_ack", BOOL, "the operator acknowledged at the monitor"),
    ]


def trip_cause(silence_next: Expr, errors_next: Expr) -> Expr:
    """Why the monitor must be in the safe state after this tick."""
    return Or(_b("mon_rule_violation"), _b("mon_port_lost"), _b("mon_internal_error"),
              silence_next > MON_WATCHDOG_MS, errors_next > MON_ERROR_LIMIT)


def step() -> list[Assign]:
    m = VarRole.MONITOR
    new_window = window + 1 >= MON_ERROR_WINDOW_MS
    err = Ite(_b("mon_integrity_error"), 1, 0)
    return [
        Assign("mon_silence_ms", Ite(_b("mon_frame"), 0, Min(silence + 1, MON_SILENCE_CAP_MS)),
               False, m),
        Assign("mon_window_ms", Ite(new_window, 0, window + 1), False, m),
        Assign("mon_errors_in_window", Ite(new_window, err,
                                           Min(errors + err, MON_ERROR_LIMIT + 1)), False, m),
        Assign("mon_trip_cause", trip_cause(silence.nxt, errors.nxt), True, m),
        Assign("mon_safe", Or(_b("mon_trip_cause"), And(safe, Not(_b("mon_ack")))), False, m),
        Assign("mon_interlock_energised", Not(safe.nxt), False, m),
        Assign("mon_stop_command", safe.nxt, False, m),
        Assign("obs_mon_silence_ms", Ite(_b("mon_frame"), 0,
                                         Min(obs_silence + 1, MON_SILENCE_CAP_MS)),
               False, VarRole.OBSERVER),
    ]


def properties() -> list[Property]:
    T, S = PropertyKind.TRANSITION, PropertyKind.STATE  # noqa: N806
    cause = trip_cause(silence.nxt, errors.nxt)
    return [
        Property(
            "P-MON-FAILSAFE", "any violation, garbage, silence or port loss trips the monitor",
            ("REQ-MON-FAILSAFE",), ("HZ-BLIND",), T, cause,
            And(safe.nxt, Not(interlock.nxt), stop.nxt), (), (),
            f"On a rule violation, a lost port, an internal error, more than "
            f"{MON_ERROR_LIMIT} integrity errors in {MON_ERROR_WINDOW_MS} ms, or more than "
            f"{MON_WATCHDOG_MS} ms without a valid frame, the monitor is in its safe state on "
            "the same tick: STOP sent to the console and the interlock de-energised."),
        Property(
            "P-MON-LATCH", "the safe state is latched until acknowledged",
            ("REQ-MON-FAILSAFE",), ("HZ-BLIND", "HZ-SILENT"), T,
            And(safe, Not(_b("mon_ack"))), And(safe.nxt, Not(interlock.nxt)), (), (),
            "Once in the safe state the monitor stays there, interlock de-energised, on every "
            "tick without an operator acknowledge (and an acknowledge does not clear a cause "
            "that is still present: see P-MON-FAILSAFE)."),
        Property(
            "P-MON-SILENCE", "silence longer than the watchdog means the safe state",
            ("REQ-MON-FAILSAFE",), ("HZ-BLIND",), S,
            obs_silence > MON_WATCHDOG_MS, And(safe, Not(interlock)), (), ("L-MON",),
            f"Whenever more than {MON_WATCHDOG_MS} ms have passed without a valid frame, the "
            "monitor is in its safe state with the interlock de-energised."),
        Property(
            "P-MON-ENERGISE-TO-RUN", "the interlock is energised only while healthy",
            ("REQ-MON-FAILSAFE",), ("HZ-BLIND",), S,
            interlock, Not(safe), (), ("L-MON",),
            "The interlock output is energised only while the monitor is not in its safe "
            "state, so a tripped, crashed or hung monitor never keeps the pump running."),
    ]


def lemma_expr() -> Expr:
    """L-MON: the observer's silence is the monitor's; outputs follow the safe state."""
    return And(obs_silence.eq(silence), interlock.eq(Not(safe)), stop.eq(safe),
               Implies(silence > MON_WATCHDOG_MS, safe))
