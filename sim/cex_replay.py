"""Counterexamples as tests: replay a trace on the concrete Controller, check the property.

``iabp prove --emit-tests DIR`` (:mod:`iabp.proofs.emit_tests`) writes, for every VIOLATED
property, a pytest file and the trace (JSON) it replays with this module. The replay takes
from the trace only what the outside world chose: the power-on state, the operator's,
sensors' and detectors' inputs on every tick, and the heart's free choices on every tick.
Everything else is recomputed: the
spec's step runs, the executable :class:`~iabp.controller.controller.Controller` (built
from the same spec) runs beside it and must command the same thing on every tick, and
the property is evaluated on every tick. So the emitted test

- FAILS on the spec the counterexample was found for (a broken variant), and
- PASSES on the real spec: the property holds all along the same world, or the real
  spec refuses the trace's world (its validator rejects the power-on settings, or the
  world breaks one of the property's assumptions, for a variant that dropped it).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iabp.controller.controller import Controller, ControllerInputs
from iabp.proofs.engine import property_assumptions
from iabp.proofs.simulate import BeatChoice, Scenario, SpecSimulator
from iabp.spec.errors import SettingsRejectedError, SpecError
from iabp.spec.iabp import iabp_spec
from iabp.spec.settings import SETTINGS
from iabp.spec.system import Property, SystemSpec
from iabp.spec.variants import variant

#: The heart's and detectors' free choices of one beat, by BeatChoice field.
_BEAT_FIELDS: dict[str, str] = {
    "rr_ms": "heart_rr_ms", "pep_ms": "heart_pep_ms", "qs2_ms": "heart_qs2_ms",
    "silent": "heart_silent", "r_delay_ms": "r_delay_ms", "r_missed": "r_wave_missed",
    "upstroke_delay_ms": "upstroke_delay_ms", "upstroke_missed": "upstroke_missed",
    "notch_delay_ms": "notch_delay_ms", "notch_missed": "notch_missed",
    "activity_delay_ms": "activity_delay_ms",
}


@dataclass(frozen=True)
class ReplayOutcome:
    """What replaying a trace on one spec gave."""

    violated_at: int | None  #: first tick on which the property failed, or None
    refused: str = ""  #: why the spec refused the trace's world ("" if it ran)
    note: str = ""  #: how it ran, when not with the Controller beside the spec

    @property
    def holds(self) -> bool:
        return self.violated_at is None


def _decode(spec: SystemSpec, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows with enum names turned back into members (JSON keeps names)."""
    sorts: dict[str, Any] = {v.name: v.sort for v in spec.state}
    sorts.update({v.name: v.sort for v in spec.inputs})
    out = []
    for r in rows:
        row = dict(r)
        for k, v in r.items():
            enum = getattr(sorts.get(k), "enum", None)
            if enum is not None and isinstance(v, str):
                row[k] = enum[v]
        out.append(row)
    return out


def _scenario(spec: SystemSpec, rows: list[dict[str, Any]]) -> Scenario:
    """The trace as a scenario. The run replays the power-on state and every tick's
    environment from the rows themselves; the heart script serves only a new beat on the
    one tick past the last row, and repeats the last row's beat."""
    inputs = [i.name for i in spec.inputs]

    def heart(_i: int, _prev_rr: int, _prev_pep: int) -> BeatChoice:
        return BeatChoice(**{f: rows[-1][k] for f, k in _BEAT_FIELDS.items()})

    def operator(tick: int, _state: Mapping[str, Any]) -> Mapping[str, Any]:
        row = rows[min(tick, len(rows) - 1)]
        return {k: row[k] for k in inputs if k in row}

    settings = {s.name: int(rows[0][s.var.name]) for s in SETTINGS}
    # one tick past the last row, so that the last row's state is judged too
    return Scenario("counterexample replay", len(rows), heart, operator, settings,
                    first_rr_ms=int(rows[0]["heart_prev_rr_ms"]), legal=False)


def replay(spec: SystemSpec, property_id: str, rows: Sequence[Mapping[str, Any]],
           spec_alone_if_refused: bool = False) -> ReplayOutcome:
    """Replay the world of ``rows`` on ``spec`` with the concrete Controller beside it.

    A broken validator cannot be replayed on the Controller (it validates with the real
    rules): with ``spec_alone_if_refused`` such a variant's step runs alone instead."""
    prop = spec.property(property_id)
    decoded = _decode(spec, rows)
    sc = _scenario(spec, decoded)
    try:
        controller = Controller(sc.settings, spec=spec)
    except SettingsRejectedError as exc:
        if spec.name == iabp_spec().name or not spec_alone_if_refused:
            return ReplayOutcome(None, f"the validator rejects the power-on settings: {exc}")
        # the broken rule is the validator, which the Controller takes from the real
        # settings module, not from the variant: the variant's own step runs alone
        return _outcome(spec, prop, sc, decoded, None, "the Controller refuses these "
                        "settings; the variant's step ran without it")
    names = list(controller.state)

    def shadow(values: Mapping[str, Any], nxt: Mapping[str, Any]) -> None:
        controller.step(ControllerInputs.from_values(values))
        for name in names:
            if controller.state[name] != nxt[name]:
                raise AssertionError(f"the Controller and the spec disagree on {name} at "
                                     f"tick {values.get('tick', '?')}: "
                                     f"{controller.state[name]!r} vs {nxt[name]!r}")

    return _outcome(spec, prop, sc, decoded, shadow, "")


def _outcome(spec: SystemSpec, prop: Property, sc: Scenario, rows: list[dict[str, Any]],
             shadow: Callable[[Mapping[str, Any], Mapping[str, Any]], None] | None,
             note: str) -> ReplayOutcome:
    try:
        run = SpecSimulator(spec).run(sc, [prop], shadow=shadow,
                                      assumptions=property_assumptions(spec, prop),
                                      initial=rows[0], env_rows=rows)
    except SpecError as exc:
        return ReplayOutcome(None, f"the spec refuses the trace's world (power-on state, or "
                                   f"outside the property's assumptions): {exc}")
    return ReplayOutcome(run.violation_tick.get(prop.id), note=note)


def check_emitted(trace_json: Path, on_found_spec: bool) -> None:
    """The emitted test's body: assert the outcome the test's name promises."""
    doc = json.loads(Path(trace_json).read_text())
    pid, vid, rows = doc["property"], doc["variant"], doc["trace"]
    if on_found_spec:
        spec = variant(vid).spec() if vid else iabp_spec()
        out = replay(spec, pid, rows, spec_alone_if_refused=True)
        assert not out.refused, out.refused
        assert out.violated_at is not None, f"{pid} held all along the replay"
    else:
        out = replay(iabp_spec(), pid, rows)
        assert out.holds, f"{pid} fails on the real spec at tick {out.violated_at}"


__all__ = ["ReplayOutcome", "check_emitted", "replay"]
