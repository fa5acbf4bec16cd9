"""Layout of the monitor's valuation: which pump variables it holds, for which frame.

The valuation is keyed like the spec's expressions: ``x'`` this frame, ``x`` the previous
frame (for the state the console's tick reads before it acts: mode, inflate command,
settings, balloon gas timers), and unprimed per-tick inputs (own R wave, upstroke,
contraindications...). It also holds the spec's balloon plant and observer steps that
the reconstruction runs every frame: the plant once on the inflate COMMAND and once on
the MEASURED balloon (gas on the helium line), so both views use the spec's gas times.
"""

from __future__ import annotations

from typing import Final

from iabp.spec import observers
from iabp.spec.controller_step import ALARM_VARS, inflate_cmd
from iabp.spec.environment import R_CHANNEL, UPSTROKE_CHANNEL, plant_step
from iabp.spec.expr import BOOL, INT, Expr, Var
from iabp.spec.settings import SETTINGS
from iabp.spec.system import Assign
from iabp.spec.walker import substitute

MEASURED_KEYS: Final = {"gas_timer_ms": "mon_gas_timer_ms", "gas_filled": "mon_gas_filled"}
"""The spec's balloon plant variables (gas timer, gas filled) -> the monitor's copies of
them driven by the MEASURED balloon (gas on the helium line) instead of the command."""
_TO_MEASURED: Final[dict[str, Expr]] = {
    **{k: Var(m, INT if k == "gas_timer_ms" else BOOL) for k, m in MEASURED_KEYS.items()},
    **{k + "'": Var(m, INT if k == "gas_timer_ms" else BOOL, True)
       for k, m in MEASURED_KEYS.items()},
}
#: One tick of the spec's plant on the command and of the same plant on the measured
#: balloon state; and one tick of the spec's console observers (those over what the console
#: shows). Compiled once, run every frame.
PLANT_LINES: Final[tuple[Assign, ...]] = (
    *plant_step(inflate_cmd),
    *(Assign(MEASURED_KEYS[a.target], substitute(a.expr, _TO_MEASURED), a.is_wire, a.role)
      for a in plant_step(Var("mon_gas_inflated", BOOL))),
)
OBSERVER_LINES: Final[tuple[Assign, ...]] = tuple(observers.console_step())
STEP_LINES: Final[tuple[Assign, ...]] = (*PLANT_LINES, *OBSERVER_LINES)
SETTING_PAIRS: Final = tuple((s.name, s.var.name, s.var.name + "'") for s in SETTINGS)
"""Each pump setting (assist ratio, inflation offset, deflation leads...) as (its name in
a SETTINGS record, its valuation key last frame, its valuation key this frame)."""
ALARM_BITS: Final = tuple((name + "'", int(alarm)) for name, alarm in ALARM_VARS.items())
"""Each console alarm as (its valuation key this frame, its bit in the telemetry's alarm
mask)."""
R_SEEN_KEY: Final = R_CHANNEL.seen.name + "'"
"""Valuation key: the monitor's own R wave of this beat was seen, not later than the last
R-R plus the missed-beat margin (the ECG trigger is fresh)."""
UP_SEEN_KEY: Final = UPSTROKE_CHANNEL.seen.name + "'"
"""Valuation key: the monitor's own systolic upstroke (or own R wave) of this beat was
seen in pressure trigger mode (the pressure trigger is fresh)."""

#: Keys kept for this frame (``x'``) AND the previous one (``x``): what the spec's step and
#: the transition properties read of the state before the tick.
TWO_FRAME_KEYS: Final[tuple[str, ...]] = (
    "mode", "inflate_cmd", *(s.var.name for s in SETTINGS), "mon_gas_inflated",
    *(a.target for a in STEP_LINES if not a.is_wire), "mon_settings_unknown_ms",
)
#: Keys kept for this frame only (no property reads their previous value); the alarm bits
#: keep both (``x`` is set when the alarm mask changes and catches up on the next frame).
THIS_FRAME_KEYS: Final[tuple[str, ...]] = (
    *(k + "'" for k in ALARM_VARS), *ALARM_VARS, "heart_t_ms'", "heart_rr_ms'", "heart_pep_ms'",
    "heart_qs2_ms'", "heart_silent'", R_SEEN_KEY, UP_SEEN_KEY,
)
#: Per-tick inputs (unprimed) and monitor-only quantities.
INPUT_KEYS: Final[tuple[str, ...]] = (
    "r_wave", "upstroke", "notch", "activity", "contra_absolute", "contra_relative",
    "contra_override", "mon_beat", "mon_activity_late", "mon_t_ms", "mon_stop_sent",
    "mon_since_stop_ms", "mon_beats_seen", "mon_changed", "mon_upstrokes_visible",
)
