"""Spec runs in ECG trigger with the concrete Controller beside the spec on every tick."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from iabp.controller.controller import Controller, ControllerInputs
from iabp.proofs.simulate import HeartScript, Run, Scenario, SpecSimulator
from iabp.spec.iabp import iabp_spec
from iabp.spec.modes import OperatorCommand
from iabp.spec.settings import DEFAULT_SETTINGS
from iabp.spec.system import Property

SPEC = iabp_spec()
SIM = SpecSimulator(SPEC)


def run_ecg(heart: HeartScript, ticks: int, first_rr_ms: int, props: list[Property],
            assumptions: frozenset[str] | None = None,
            settings: Mapping[str, int] = DEFAULT_SETTINGS) -> Run:
    """START_ECG at tick 5 (default settings unless given); the executable Controller must
    command the balloon exactly as the spec step does on every tick."""
    controller = Controller(dict(settings))

    def operator(tick: int, _state: Mapping[str, Any]) -> Mapping[str, Any]:
        return {"op": OperatorCommand.START_ECG} if tick == 5 else {}

    def shadow(values: Mapping[str, Any], nxt: Mapping[str, Any]) -> None:
        out = controller.step(ControllerInputs.from_values(values))
        assert out.inflate == nxt["inflate_cmd"]

    sc = Scenario("ecg-run", ticks, heart, operator, dict(settings),
                  first_rr_ms=first_rr_ms, legal=assumptions is None)
    return SIM.run(sc, props, shadow=shadow, assumptions=assumptions)
