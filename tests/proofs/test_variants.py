"""Every deliberately broken variant makes its proof FAIL with a real counterexample.

The counterexample must start at power-on and break exactly the property the variant
targets: the property's formula is re-evaluated on the trace's last step. It then becomes
a test (``iabp prove --emit-tests``): replayed on the concrete Controller it fails on the
variant and passes on the real spec.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from pathlib import Path

import pytest

from iabp.proofs.emit_tests import emit_test
from iabp.proofs.engine import ProofContext, prove_property
from iabp.proofs.prover import prove_variant, side_by_side
from iabp.proofs.results import PropertyResult, Status
from iabp.sim.cex_replay import check_emitted
from iabp.spec.engines.to_python import compile_expr
from iabp.spec.iabp import iabp_spec
from iabp.spec.system import PropertyKind
from iabp.spec.variants import Variant, variant, variants

VIOLATING = [v for v in variants() if v.expected == "VIOLATED"]


@dataclass(frozen=True)
class VariantRun:
    """A variant's proof, and its counterexample emitted as a test and replayed on the
    concrete Controller: ``replays`` maps "variant" and "real spec" to the replay's
    failure (its traceback), or "" when the emitted test passed there."""

    result: PropertyResult
    replays: dict[str, str]


def prove_and_replay(vid: str, out_dir: str) -> VariantRun:
    """One worker's job: prove the variant, then emit its counterexample as a test and run
    that test's two checks (in the worker too: the replays are a third of this module)."""
    v = variant(vid)
    r = prove_variant(vid, timeout_s=60)
    replays: dict[str, str] = {}
    if r.status is Status.VIOLATED and r.counterexample:
        _, trace_json = emit_test(Path(out_dir), v.breaks, v.id, r.counterexample, r.method)
        for where, on_found_spec in (("variant", True), ("real spec", False)):
            try:
                check_emitted(trace_json, on_found_spec=on_found_spec)
                replays[where] = ""
            except AssertionError:
                replays[where] = traceback.format_exc()
    return VariantRun(r, replays)


@pytest.fixture(scope="module")
def variant_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, VariantRun]:
    """Every violating variant proved and replayed once, side by side on every CPU (each is
    independent; this module is most of the suite's time)."""
    calls = [(v.id, str(tmp_path_factory.mktemp(v.id))) for v in VIOLATING]
    return {v.id: run for v, run in zip(VIOLATING, side_by_side(prove_and_replay, calls),
                                        strict=True)}


@pytest.mark.parametrize("v", VIOLATING, ids=lambda v: v.id)
def test_variant_is_violated_with_a_counterexample(
        v: Variant, variant_runs: dict[str, VariantRun]) -> None:
    spec = v.spec()
    prop = spec.property(v.breaks)
    r = variant_runs[v.id].result
    assert r.status is Status.VIOLATED, (v.id, r.reason)
    trace = r.counterexample
    assert trace is not None and len(trace) >= 2
    first, before, after = trace[0], trace[-2], trace[-1]
    assert first["tick"] == 0
    assert first["mode"].name == "STANDBY" and first["inflate_cmd"] is False
    formula = compile_expr(prop.formula)
    if prop.kind is PropertyKind.TRANSITION:
        values = dict(before)
        values.update({k + "'": val for k, val in after.items()})
        for a in spec.step:
            if a.is_wire:
                values[a.target] = compile_expr(a.expr)(values)
        assert formula(values) is False
    else:
        assert formula(after) is False or formula(before) is False
    replays = variant_runs[v.id].replays
    assert replays == {"variant": "", "real spec": ""}, "\n".join(replays.values())


@pytest.mark.parametrize("v", [v for v in variants() if v.expected == "VACUOUS"],
                         ids=lambda v: v.id)
def test_variant_that_removes_a_case_is_vacuous_there(v: Variant) -> None:
    """A mistake that takes a whole case away (a mode that never inflates) leaves the
    property true but empty there: the prover says VACUOUS and names the case, where it
    would otherwise have said PROVED on the other cases' witnesses."""
    spec = v.spec()
    prop = spec.property(v.breaks)
    assert prop.cases, "a VACUOUS variant needs a property with named cases"
    r = prove_property(ProofContext(spec, timeout_s=60), prop)
    assert r.status is Status.VACUOUS, (v.id, r.reason)
    assert "in the case" in r.reason
    real_spec = iabp_spec()
    real = prove_property(ProofContext(real_spec, timeout_s=60), real_spec.property(v.breaks))
    assert real.status is Status.PROVED, real.reason
