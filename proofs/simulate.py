"""Concrete runs of the whole spec system: controller, heart, detectors, pneumatics, observers.

Used for the proofs' non-vacuity witnesses (a real trace from power-on that reaches a
property's premise) and to find real counterexamples when an induction fails. A run
is driven by a :class:`Scenario` (how the heart beats, what the operator does), but
everything deterministic is the spec's compiled step, and every tick is checked
against every environment constraint of the spec: a scenario cannot cheat.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from iabp.spec import assumptions as A
from iabp.spec.engines.to_python import compile_expr, compile_many, compile_step
from iabp.spec.environment import QRS_SUSPECT, qrs_suspect_before_report
from iabp.spec.errors import SpecError
from iabp.spec.expr import Const, Op, Operator, Var
from iabp.spec.iabp import iabp_spec
from iabp.spec.modes import OperatorCommand
from iabp.spec.settings import DEFAULT_SETTINGS, SETTINGS
from iabp.spec.system import EnvConstraint, Property, PropertyKind, SystemSpec
from iabp.spec.timing import (
    PEP_HI_BAND_MS,
    PEP_LO_BAND_MS,
    QS2_HI_BAND_MS,
    QS2_LO_BAND_MS,
    RR_BAND_EDGES_MS,
)


@dataclass(frozen=True)
class BeatChoice:
    """What the heart and the detectors do in one beat (the environment's free choices)."""

    rr_ms: int
    pep_ms: int
    qs2_ms: int
    silent: bool = False
    r_delay_ms: int = (A.R_DETECT_DELAY_MIN_MS + A.R_DETECT_DELAY_MAX_MS) // 2
    r_missed: bool = False
    upstroke_delay_ms: int = 80
    upstroke_missed: bool = False
    notch_delay_ms: int = 80
    notch_missed: bool = False
    activity_delay_ms: int = 40

    def values(self) -> dict[str, Any]:
        return {
            "heart_rr_ms": self.rr_ms, "heart_pep_ms": self.pep_ms, "heart_qs2_ms": self.qs2_ms,
            "heart_silent": self.silent, "r_delay_ms": self.r_delay_ms,
            "r_wave_missed": self.r_missed, "upstroke_delay_ms": self.upstroke_delay_ms,
            "upstroke_missed": self.upstroke_missed, "notch_delay_ms": self.notch_delay_ms,
            "notch_missed": self.notch_missed, "activity_delay_ms": self.activity_delay_ms,
        }


def band_index(rr_ms: int) -> int:
    i = 0
    for k, edge in enumerate(RR_BAND_EDGES_MS):
        if rr_ms >= edge:
            i = k
    return i


def ejection_bounds(prev_rr_ms: int) -> tuple[int, int, int, int]:
    """(pep_lo, pep_hi, qs2_lo, qs2_hi) the bands allow after an R-R of ``prev_rr_ms``."""
    i = band_index(prev_rr_ms)
    return PEP_LO_BAND_MS[i], PEP_HI_BAND_MS[i], QS2_LO_BAND_MS[i], QS2_HI_BAND_MS[i]


#: A heart script: (beat index, previous beat's R-R ms, previous PEP ms) -> the new beat.
HeartScript = Callable[[int, int, int], BeatChoice]
#: An operator script: (tick, current state) -> inputs that override the idle ones.
OperatorScript = Callable[[int, Mapping[str, Any]], Mapping[str, Any]]


def steady_heart(rr_ms: int, pep_pos: float = 0.5, qs2_pos: float = 0.5, **kw: Any
                 ) -> HeartScript:
    """A regular heart: constant R-R, ejection at a fixed position inside its band."""
    def script(_i: int, prev_rr: int, prev_pep: int) -> BeatChoice:
        plo, phi, qlo, qhi = ejection_bounds(prev_rr)
        pep = round(plo + pep_pos * (phi - plo))
        pep = max(prev_pep - 10, min(prev_pep + 10, pep))
        qs2 = round(qlo + qs2_pos * (qhi - qlo))
        return BeatChoice(rr_ms, pep, qs2, **kw)
    return script


@dataclass
class Scenario:
    """A scripted run: settings, a heart, an operator, and a length in ticks (ms)."""

    name: str
    ticks: int
    heart: HeartScript
    operator: OperatorScript
    settings: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_SETTINGS))
    first_rr_ms: int = 750
    legal: bool = True  #: False: deliberately breaks an assumption (counterexample search only)


IDLE_INPUTS: dict[str, Any] = {
    "op": OperatorCommand.NONE, "gas_loss": False, "blood_detected": False,
    "catheter_kink": False, "system_fault": False, "contra_absolute": False,
    "contra_relative": False, "contra_override": False, "set_request": False,
    "mon_rule_violation": False, "mon_integrity_error": False, "mon_frame": True,
    "mon_port_lost": False, "mon_internal_error": False, "mon_ack": False,
}


@dataclass
class Run:
    """The outcome of a run: the trace, and where each property's premise first held or
    its formula first failed."""

    scenario: str
    rows: list[dict[str, Any]]
    premise_tick: dict[str, int]
    violation_tick: dict[str, int]


def _input_derivations(env: Sequence[EnvConstraint], inputs: set[str]
                       ) -> dict[str, Callable[[Mapping[str, Any]], Any]]:
    """Inputs the environment defines outright (``input == expr``): how to compute them."""
    out: dict[str, Callable[[Mapping[str, Any]], Any]] = {}
    for c in env:
        e = c.expr
        if (isinstance(e, Op) and e.op is Operator.EQ and isinstance(e.args[0], Var)
                and e.args[0].name in inputs):
            out[e.args[0].name] = compile_expr(e.args[1])
    return out


class SpecSimulator:
    """Runs a SystemSpec concretely (any variant) under scenarios."""

    def __init__(self, spec: SystemSpec | None = None) -> None:
        self.spec = spec or iabp_spec()
        self.step = compile_step(list(self.spec.step))
        # The detector inputs follow the scenario's heart and detectors (the real spec's
        # detector model) even when this spec drops the assumption that constrains them:
        # a spec without ASM-R-DETECT still has a detector, only an unconstrained one.
        inputs = {i.name for i in self.spec.inputs}
        self.derived: dict[str, Callable[[Mapping[str, Any]], Any]] = {
            **_input_derivations(iabp_spec().env, inputs),
            **_input_derivations(self.spec.env, inputs),
        }
        if QRS_SUSPECT.name in inputs:  # the detector suspects each reported QRS just before
            self.derived[QRS_SUSPECT.name] = compile_expr(qrs_suspect_before_report())
        self._env_checked: dict[frozenset[str] | None, tuple[
            list[tuple[str, str, Callable[[Mapping[str, Any]], Any]]],
            Callable[[Mapping[str, Any]], tuple[Any, ...]]]] = {}
        self.init_checks = [compile_expr(e) for e in self.spec.init]
        self.chosen = [s.name for s in self.spec.chosen()]

    def env_checks(self, assumptions: frozenset[str] | None = None) -> tuple[
            list[tuple[str, str, Callable[[Mapping[str, Any]], Any]]],
            Callable[[Mapping[str, Any]], tuple[Any, ...]]]:
        """The environment constraints a run must obey (all of the spec's, or only those of
        ``assumptions``): one checker per constraint and one for all of them at once."""
        if assumptions not in self._env_checked:
            env = [c for c in self.spec.env if assumptions is None or c.assumption in assumptions]
            self._env_checked[assumptions] = (
                [(c.assumption, c.text, compile_expr(c.expr)) for c in env],
                compile_many([c.expr for c in env]))
        return self._env_checked[assumptions]

    def initial_state(self, sc: Scenario) -> dict[str, Any]:
        state: dict[str, Any] = {}
        for s in self.spec.state:
            if s.init is not None:
                state[s.name] = _init_value(s.init)
        for e in self.spec.init:
            if isinstance(e, Op) and _is_simple_init(e):
                state[_init_target(e)] = _init_value(e)
        for st in SETTINGS:
            state[st.var.name] = int(sc.settings[st.name])
        first = sc.heart(0, sc.first_rr_ms, ejection_bounds(sc.first_rr_ms)[0] + 10)
        state.update(first.values())
        state["heart_prev_rr_ms"] = sc.first_rr_ms
        state["heart_prev_pep_ms"] = first.pep_ms
        state["r_prev_delay_ms"] = first.r_delay_ms
        state["upstroke_prev_delay_ms"] = first.upstroke_delay_ms
        missing = [s.name for s in self.spec.state if s.name not in state]
        if missing:
            raise SpecError(f"no power-on value for {missing}")
        for i, chk in enumerate(self.init_checks):
            if not chk(state):
                raise SpecError(f"scenario {sc.name}: power-on state breaks init #{i}")
        return state

    def _checked_initial(self, initial: Mapping[str, Any]) -> dict[str, Any]:
        state = {s.name: initial[s.name] for s in self.spec.state}
        for i, chk in enumerate(self.init_checks):
            if not chk(state):
                raise SpecError(f"the given power-on state breaks init #{i}")
        for s in self.spec.state:
            if s.init is not None and not compile_expr(s.init)(state):
                raise SpecError(f"the given power-on state breaks the init of {s.name}")
        return state

    def run(self, sc: Scenario, props: list[Property], stop_when_all_reached: bool = False,
            stop_on_violation: bool = False, keep_rows: bool = True,
            shadow: Callable[[Mapping[str, Any], Mapping[str, Any]], None] | None = None,
            assumptions: frozenset[str] | None = None,
            initial: Mapping[str, Any] | None = None,
            env_rows: Sequence[Mapping[str, Any]] | None = None) -> Run:
        """Run ``sc``; ``shadow(values, next_state)`` is called every tick (e.g. to run the
        concrete Controller alongside and compare). The environment must obey every
        assumption of the spec, or only ``assumptions`` when given (a counterexample to a
        property needs only that property's assumptions). ``initial``: start from this
        power-on state (every state variable; checked against the spec's power-on
        constraints) instead of the one the scenario builds. ``env_rows``: replay a
        recorded trace: on tick k the environment's free choices are those of
        ``env_rows[k + 1]`` and the detector inputs those of ``env_rows[k]`` (where given),
        instead of the scenario's heart and the detector model."""
        env_checks, env_all = self.env_checks(assumptions)
        state_props = [p for p in props if p.kind is PropertyKind.STATE]
        trans_props = [p for p in props if p.kind is PropertyKind.TRANSITION]
        order = [p.id for p in state_props] + [p.id for p in trans_props]
        check_state = compile_many([e for p in state_props for e in (p.premise, p.formula)])
        check_trans = compile_many([e for p in trans_props for e in (p.premise, p.formula)])
        state = self.initial_state(sc) if initial is None else self._checked_initial(initial)
        out = Run(sc.name, [], {}, {})
        beat = 0
        # names computed once: the loop below runs once per simulated millisecond
        requests = [(st.request.name, st.var.name) for st in SETTINGS]
        names = [s.name for s in self.spec.state]
        primed = [name + "'" for name in names]
        waiting = list(range(len(order)))  #: properties whose premise has not held yet
        for tick in range(sc.ticks):
            values = dict(state)
            values.update(IDLE_INPUTS)
            for req, var in requests:
                values[req] = state[var]
            given = sc.operator(tick, state)
            values.update(given)
            for name, fn in self.derived.items():
                if env_rows is None or name not in given:
                    values[name] = fn(values)
            nxt, wires = self.step(values)
            if shadow is not None:
                shadow(values, nxt)
            new_beat = state["heart_t_ms"] + 1 >= state["heart_rr_ms"]
            if env_rows is not None and tick + 1 < len(env_rows):
                recorded = env_rows[tick + 1]
                for name in self.chosen:
                    nxt[name] = recorded.get(name, state[name])
            elif new_beat:
                beat += 1
                nxt.update(sc.heart(beat, state["heart_rr_ms"], state["heart_pep_ms"]).values())
            else:
                for name in self.chosen:
                    nxt[name] = state[name]
            full = {**values, **wires}
            full.update(zip(primed, map(nxt.__getitem__, names), strict=True))
            if not all(env_all(full)):
                for asm, text, chk in env_checks:
                    if not chk(full):
                        raise SpecError(f"scenario {sc.name} breaks {asm} ({text}) "
                                        f"at tick {tick}")
            if keep_rows:
                out.rows.append({"tick": tick, **values})
            flags = (check_state(values) if state_props else ()) + \
                (check_trans(full) if trans_props else ())
            # (premise, formula) pairs: look only at premises not reached yet, and at the
            # formulas only when one is false (the common tick has none)
            if waiting and any(flags[0::2]):
                for k in [k for k in waiting if flags[2 * k]]:
                    out.premise_tick[order[k]] = tick
                    waiting.remove(k)
            if not all(flags[1::2]):
                for k, pid in enumerate(order):
                    if not flags[2 * k + 1] and pid not in out.violation_tick:
                        out.violation_tick[pid] = tick
            if stop_on_violation and out.violation_tick:
                if keep_rows:
                    out.rows.append({"tick": tick + 1, **nxt})
                break
            if stop_when_all_reached and len(out.premise_tick) == len(order):
                break
            state = nxt
        return out


def _init_value(e: Any) -> Any:
    """The value an ``x == c`` / ``not x`` init constraint fixes."""
    if isinstance(e, Op) and e.op is Operator.EQ and isinstance(e.args[1], Const):
        return e.args[1].value
    if isinstance(e, Op) and e.op is Operator.NOT and isinstance(e.args[0], Var):
        return False
    raise SpecError(f"cannot read a power-on value from {e!r}")


def _is_simple_init(e: Any) -> bool:
    return (isinstance(e, Op) and ((e.op is Operator.EQ and isinstance(e.args[0], Var)
                                    and isinstance(e.args[1], Const))
                                   or (e.op is Operator.NOT and isinstance(e.args[0], Var))))


def _init_target(e: Op) -> str:
    v = e.args[0]
    assert isinstance(v, Var)
    return v.name
