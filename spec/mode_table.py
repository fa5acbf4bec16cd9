"""The mode table: which mode may follow which, on what event, under which guard.

This table is the only description of mode changes. The controller builds its
``transitions`` Machine from it, the step's ``mode`` update is generated from it, the
prover and the monitor check against it, and the report draws the diagram from it.
Rows are tried in order; the first row whose source matches and whose guard holds
fires; if none fires the mode stays. Guards are named; their expressions are the
``guard.<name>`` wires of the controller step (spec.controller_step).
"""

from __future__ import annotations

from iabp.spec.modes import PUMPING_MODES, Mode
from iabp.spec.system import ModeTransition

_PUMPING = tuple(m.name for m in PUMPING_MODES)

MODE_TABLE: tuple[ModeTransition, ...] = (
    ModeTransition("fault", (*_PUMPING, "STANDBY"), "HALTED", "high_fault"),
    ModeTransition("stop", _PUMPING, "STANDBY", "operator_standby"),
    ModeTransition("contraindication_stop", _PUMPING, "STANDBY", "contraindicated"),
    ModeTransition("cardiac_activity_stop", ("INTERNAL",), "STANDBY", "cardiac_activity"),
    ModeTransition("start_ecg", ("STANDBY",), "ECG_TRIGGER", "may_start_ecg"),
    ModeTransition("start_pressure", ("STANDBY",), "PRESSURE_TRIGGER", "may_start_pressure"),
    ModeTransition("start_internal", ("STANDBY",), "INTERNAL", "may_start_internal"),
    ModeTransition("acknowledge", ("HALTED",), "STANDBY", "fault_cleared_and_acknowledged"),
)

MODE_NAMES: tuple[str, ...] = tuple(m.name for m in Mode)
