"""The executable controller: the spec's step, compiled, with a ``transitions`` Machine for modes.

Every tick (1 ms) :meth:`Controller.step` takes the tick's inputs and returns the
balloon command and the active alarms. What runs is what is proved:

- the guards, timers, alarms and settings updates are the spec's step lines compiled
  to Python (``iabp.spec.engines.to_python``);
- mode changes are made by a ``transitions`` Machine built from the spec's mode table
  (``auto_transitions=False``: no ``to_<mode>()`` shortcut bypasses a guard), whose
  conditions are the compiled ``guard.*`` wires; the spec's own ``mode`` update is
  computed alongside and any disagreement stops the controller (ControllerFaultError).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from transitions import Machine

from iabp.spec.controller_step import ALARM_VARS
from iabp.spec.engines.to_python import CompiledStep, compile_step
from iabp.spec.engines.validator import SettingsValidator
from iabp.spec.errors import IabpError, SettingsRejectedError, SpecError
from iabp.spec.iabp import iabp_spec
from iabp.spec.modes import Alarm, Mode, OperatorCommand
from iabp.spec.settings import DEFAULT_SETTINGS, SETTINGS
from iabp.spec.system import SystemSpec, VarRole


class ControllerFaultError(IabpError):
    """The controller's two mode computations disagreed: a software fault, never expected."""


@dataclass(frozen=True)
class ControllerInputs:
    """What the controller reads during one tick."""

    r_wave: bool = False  #: R-wave detector reports a beat now
    #: R-wave detector suspects a QRS now (a candidate it has not yet decided): deflate
    qrs_suspect: bool = False
    upstroke: bool = False  #: pressure detector reports a systolic upstroke now
    notch: bool = False  #: pressure detector reports a dicrotic notch now
    activity: bool = False  #: cardiac activity (R wave or pulsatile pressure) seen now
    op: OperatorCommand = OperatorCommand.NONE
    gas_loss: bool = False
    blood_detected: bool = False
    catheter_kink: bool = False
    system_fault: bool = False
    contra_absolute: bool = False
    contra_relative: bool = False
    contra_override: bool = False
    settings_request: Mapping[str, int] | None = None  #: full set of requested settings

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> ControllerInputs:
        """The inputs of one tick read back from a spec valuation (the spec's input names;
        the requested settings only when ``set_request`` is on): the inverse of
        :meth:`as_values`, for running the Controller beside the spec."""
        request = None
        if values["set_request"]:
            request = {s.name: values[s.request.name] for s in SETTINGS}
        return cls(
            r_wave=values["r_wave"], qrs_suspect=values.get("qrs_suspect", False),
            upstroke=values["upstroke"], notch=values["notch"],
            activity=values["activity"], op=values["op"], gas_loss=values["gas_loss"],
            blood_detected=values["blood_detected"], catheter_kink=values["catheter_kink"],
            system_fault=values["system_fault"], contra_absolute=values["contra_absolute"],
            contra_relative=values["contra_relative"],
            contra_override=values["contra_override"], settings_request=request)

    def as_values(self, current_settings: Mapping[str, int]) -> dict[str, Any]:
        req = dict(current_settings)
        if self.settings_request is not None:
            req.update(self.settings_request)
        values: dict[str, Any] = {
            "r_wave": self.r_wave, "qrs_suspect": self.qrs_suspect,
            "upstroke": self.upstroke, "notch": self.notch,
            "activity": self.activity, "op": self.op, "gas_loss": self.gas_loss,
            "blood_detected": self.blood_detected, "catheter_kink": self.catheter_kink,
            "system_fault": self.system_fault, "contra_absolute": self.contra_absolute,
            "contra_relative": self.contra_relative, "contra_override": self.contra_override,
            "set_request": self.settings_request is not None,
        }
        for s in SETTINGS:
            values[s.request.name] = req[s.name]
        return values


@dataclass(frozen=True)
class ControllerOutputs:
    """What the controller commands after a tick."""

    mode: Mode
    inflate: bool  #: balloon command: True = inflate, False = deflate
    alarms: frozenset[Alarm]
    settings_rejected_reasons: tuple[str, ...] = ()


@dataclass
class _Compiled:
    before_mode: CompiledStep
    after_mode: CompiledStep


def _compile(spec: SystemSpec) -> _Compiled:
    lines = [a for a in spec.step if a.role is VarRole.CONTROLLER]
    split = next(i for i, a in enumerate(lines) if not a.is_wire and a.target == "mode") + 1
    return _Compiled(compile_step(lines[:split]), compile_step(lines[split:], given=("mode'",)))


class Controller:
    """The IABP console's control logic, one 1 ms tick per :meth:`step`."""

    def __init__(self, settings: Mapping[str, int] | None = None,
                 spec: SystemSpec | None = None) -> None:
        self.spec = spec or iabp_spec()
        self.validator = SettingsValidator(self.spec)
        chosen = dict(DEFAULT_SETTINGS)
        if settings is not None:
            chosen.update(settings)
        reasons = self.validator.reasons(chosen)
        if reasons:
            raise SettingsRejectedError(reasons)
        self._code = _compile(self.spec)
        self.state: dict[str, Any] = self._initial_state(chosen)
        self._guards: dict[str, bool] = {}
        self.machine_state: str = Mode.STANDBY.name
        self.machine = Machine(
            model=self, states=[m.name for m in Mode], initial=Mode.STANDBY.name,
            auto_transitions=False, ignore_invalid_triggers=True,
            model_attribute="machine_state",
            transitions=[
                {"trigger": row.trigger, "source": list(row.sources), "dest": row.dest,
                 "conditions": [self._guard(row.guard)]}
                for row in self.spec.mode_table
            ],
        )
        self.ticks = 0

    def _guard(self, name: str) -> Any:
        key = f"guard.{name}"
        return lambda *_a, **_k: self._guards[key]

    def _initial_state(self, settings: Mapping[str, int]) -> dict[str, Any]:
        state: dict[str, Any] = {}
        for s in self.spec.state:
            if s.role is not VarRole.CONTROLLER:
                continue
            if s.name.startswith("set_"):
                state[s.name] = int(settings[s.name[4:]])
                continue
            value = s.power_on_value()
            if value is None:
                raise SpecError(f"the spec gives no power-on value for {s.name}")
            state[s.name] = Mode(value) if s.sort.kind == "enum" else value
        return state

    @property
    def mode(self) -> Mode:
        return Mode(self.state["mode"])

    @property
    def settings(self) -> dict[str, int]:
        return {s.name: int(self.state[s.var.name]) for s in SETTINGS}

    def step(self, inputs: ControllerInputs) -> ControllerOutputs:
        """Advance one tick: read ``inputs``, update the state, return the commands."""
        values = {**self.state, **inputs.as_values(self.settings)}
        nxt1, wires = self._code.before_mode(values)
        self._guards = {k: bool(v) for k, v in wires.items() if k.startswith("guard.")}
        for row in self.spec.mode_table:
            if self.state_name_in(row.sources) and getattr(self, row.trigger)():
                break
        machine_mode = Mode[self.machine_state]
        if machine_mode != nxt1["mode"]:
            raise ControllerFaultError(f"Machine says {machine_mode.name}, spec says "
                                  f"{Mode(nxt1['mode']).name} at tick {self.ticks}")
        values.update(wires)
        values["mode'"] = machine_mode
        nxt2, _ = self._code.after_mode(values)
        self.state = {"mode": machine_mode, **nxt2}
        self.ticks += 1
        reasons: tuple[str, ...] = ()
        if inputs.settings_request is not None and not values.get("settings_accepted", True):
            reasons = tuple(self.validator.reasons({**self.settings,
                                                    **inputs.settings_request}))
        return self.outputs(reasons)

    def state_name_in(self, sources: tuple[str, ...]) -> bool:
        return self.machine_state in sources

    def outputs(self, reasons: tuple[str, ...] = ()) -> ControllerOutputs:
        alarms = frozenset(a for var, a in ALARM_VARS.items() if self.state[var])
        return ControllerOutputs(self.mode, bool(self.state["inflate_cmd"]), alarms, reasons)
