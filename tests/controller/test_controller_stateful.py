"""Hypothesis drives the concrete Controller with random hearts and operators.

Every tick, the concrete ``Controller`` (transitions Machine + compiled step) runs beside
the spec's own compiled step; their next states must be identical, and every property
of the spec must hold on the full state (heart, detectors, pneumatics, observers).
The heart is random but inside the assumptions (the simulator checks every tick).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iabp.controller.controller import Controller, ControllerInputs
from iabp.proofs.simulate import BeatChoice, Scenario, SpecSimulator, ejection_bounds
from iabp.spec import assumptions as A
from iabp.spec.iabp import iabp_spec
from iabp.spec.modes import OperatorCommand
from iabp.spec.settings import DEFAULT_SETTINGS
from iabp.spec.system import VarRole

SPEC = iabp_spec()
SIM = SpecSimulator(SPEC)
CONTROLLER_VARS = [s.name for s in SPEC.state if s.role is VarRole.CONTROLLER]


@st.composite
def hearts(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Per-beat random choices; R-R steps, bands and miss spacing are applied at run time."""
    n = draw(st.integers(8, 16))
    return [draw(st.fixed_dictionaries({
        "step": st.integers(-40, 40), "pep": st.floats(0, 1), "qs2": st.floats(0, 1),
        "r_delay": st.integers(A.R_DETECT_DELAY_MIN_MS, A.R_DETECT_DELAY_MAX_MS),
        "up_delay": st.integers(A.UPSTROKE_DELAY_MIN_MS, A.UPSTROKE_DELAY_MAX_MS),
        "notch_delay": st.integers(50, 120), "act": st.integers(0, 150),
        "miss": st.booleans(), "silent": st.integers(0, 9),
        "notch_miss": st.booleans()})) for _ in range(n)]


@st.composite
def operators(draw: st.DrawFn) -> dict[int, dict[str, Any]]:
    keys = st.sampled_from(list(OperatorCommand))
    events = draw(st.lists(st.tuples(st.integers(0, 6500), keys,
                                     st.sampled_from(["", "gas_loss", "catheter_kink",
                                                      "contra_absolute", "contra_relative",
                                                      "settings"])), max_size=12))
    out: dict[int, dict[str, Any]] = {5: {"op": OperatorCommand.START_ECG}}
    for tick, key, extra in events:
        e: dict[str, Any] = {"op": key}
        if extra == "settings":
            e.update({"set_request": True, "req_assist_ratio": draw(st.integers(0, 4)),
                      "req_inflation_offset_ms": draw(st.integers(-60, 60))})
        elif extra:
            e[extra] = True
        out[tick] = e
    return out


def _heart_script(beats: list[dict[str, Any]]):
    state = {"misses_allowed": False, "streak": 0}

    def script(i: int, prev_rr: int, prev_pep: int) -> BeatChoice:
        b = beats[i % len(beats)]
        rr = min(1500, max(334, prev_rr + b["step"]))
        plo, phi, qlo, qhi = ejection_bounds(prev_rr)
        pep = max(prev_pep - 10, min(prev_pep + 10, round(plo + b["pep"] * (phi - plo))))
        pep = min(max(pep, plo), phi)
        qs2 = max(pep + 1, round(qlo + b["qs2"] * (qhi - qlo)))
        notch = b["notch_delay"]
        if pep + b["up_delay"] >= qs2 + notch:
            notch = min(120, pep + b["up_delay"] - qs2 + 1)
        can_miss = state["streak"] != 1
        silent = b["silent"] == 0 and can_miss
        miss = b["miss"] and can_miss
        state["streak"] = 0 if (miss or silent) else min(state["streak"] + 1, 2)
        return BeatChoice(rr, pep, qs2, silent, b["r_delay"], miss, b["up_delay"],
                          miss, notch, b["notch_miss"], b["act"])
    return script


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hearts(), operators(), st.sampled_from([1, 2, 3]),
       st.sampled_from(["START_ECG", "START_PRESSURE"]))
def test_controller_runs_the_spec_and_every_property_holds(beats, ops, ratio, start) -> None:
    ops = {**ops, 5: {"op": OperatorCommand[start]}}
    settings_ = {**DEFAULT_SETTINGS, "assist_ratio": ratio}
    controller = Controller(settings_)

    def operator(tick: int, _state: Mapping[str, Any]) -> Mapping[str, Any]:
        return ops.get(tick, {})

    def shadow(values: Mapping[str, Any], nxt: Mapping[str, Any]) -> None:
        controller.step(ControllerInputs.from_values(values))
        for name in CONTROLLER_VARS:
            assert controller.state[name] == nxt[name], name

    sc = Scenario("random", 7000, _heart_script(beats), operator, settings_,
                  first_rr_ms=700)
    run = SIM.run(sc, list(SPEC.properties), keep_rows=False, shadow=shadow)
    assert run.violation_tick == {}, run.violation_tick
    assert run.premise_tick  # the run reached at least some premises
