"""The monitor theorem (issue 9): no false stop of correct therapy, no miss of a visible
violation, proved per runtime rule; every broken monitor fails the half it breaks; the
monitor runs the very checks the theorem is about."""

from __future__ import annotations

import pytest

from iabp.monitor.rules.ruleset import RULES, RuleConfig
from iabp.proofs.engine import ProofContext
from iabp.proofs.monitor_theorem import (
    MONITOR_VARIANTS,
    prove_monitor_rules,
    prove_monitor_variant,
    rule_queries,
)
from iabp.proofs.results import Answer, Status
from iabp.spec.expr import Expr, Var
from iabp.spec.iabp import iabp_spec
from iabp.spec.monitor_rules import (
    RULE_CHECKS,
    STATED_TOLERANCES,
    VIEW,
    RuleTolerances,
    prime,
    rule_check,
    rule_checks,
)
from iabp.spec.system import PropertyKind, SystemSpec
from iabp.spec.walker import to_sexpr


@pytest.fixture(scope="module")
def theorem() -> dict[str, object]:
    spec = iabp_spec()
    ctx = ProofContext(spec, timeout_s=60)
    results = prove_monitor_rules(ctx, frozenset(p.id for p in spec.properties))
    return {r.property_id: r for r in results}


def test_every_runtime_rule_is_declared_in_the_spec_and_proved(
        theorem: dict[str, object]) -> None:
    assert {r.rule_id for r in RULES} == {c.rule_id for c in rule_checks(iabp_spec())}
    assert set(theorem) == {c.rule_id for c in RULE_CHECKS}
    not_proved = {k: (r.status, r.reason) for k, r in theorem.items()  # type: ignore[attr-defined]
                  if r.status is not Status.PROVED}  # type: ignore[attr-defined]
    assert not not_proved


def test_both_halves_are_non_vacuous(theorem: dict[str, object]) -> None:
    """The hypotheses with the observations are satisfiable (no contradiction proves the
    no-false-alarm half), the controller reaches what the rule judges under them, and a
    visible violation exists (else no-miss says nothing)."""
    for rid, r in theorem.items():
        answers = {q.name.rsplit(".", 1)[-1]: q.answer for q in r.queries}  # type: ignore[attr-defined]
        assert answers["consistent"] is Answer.SAT, rid
        assert answers["premise"] is Answer.SAT, rid
        assert answers["no-false-alarm"] is Answer.UNSAT, rid
        if rule_check(rid).property_id != "MODE_TABLE":
            assert answers["violation-exists"] is Answer.SAT, rid
            assert answers["no-miss"] is Answer.UNSAT, rid


def test_the_monitor_runs_the_checks_the_theorem_proves() -> None:
    """What runs is what is proved: each rule's compiled formula is its spec declaration
    built with the monitor's tolerances, which are the stated ones."""
    cfg = RuleConfig()
    assert RuleTolerances(**{k: getattr(cfg, k) for k in STATED_TOLERANCES.__dict__}) \
        == STATED_TOLERANCES
    spec = iabp_spec()
    for cls in RULES:
        rule = cls()
        assert to_sexpr(rule.formula) == to_sexpr(rule_check(rule.rule_id).build(spec, cfg))
        assert rule.adaptation == rule_check(rule.rule_id).adaptation


@pytest.mark.parametrize("vid", [v.id for v in MONITOR_VARIANTS])
def test_every_broken_monitor_fails_the_half_it_breaks(vid: str) -> None:
    v = next(x for x in MONITOR_VARIANTS if x.id == vid)
    r = prove_monitor_variant(vid)
    assert r.status is not Status.PROVED
    failed = [q.name for q in r.queries if q.answer is not q.expected]
    assert failed == [f"{v.breaks}.{v.half}"], (failed, r.reason)
    if v.half == "no-miss":  # any console: the model is a real counterexample
        assert r.status is Status.VIOLATED and r.counterexample
    else:  # a state pair the invariants allow
        assert r.cti


def test_a_rule_stricter_than_its_property_fails_for_every_rule() -> None:
    """Forbidding the property's premise outright (stricter than the spec) fails the
    no-false-alarm half of every rule whose premise the controller reaches; allowing
    everything (a rule that never fires) fails the no-miss half of every rule."""
    from iabp.proofs.monitor_theorem import prove_rule
    from iabp.spec.expr import TRUE, And, Not

    spec = iabp_spec()
    ctx = ProofContext(spec, timeout_s=60)
    proved = frozenset(p.id for p in spec.properties)
    for check in rule_checks(spec):
        base = check.build
        never = type(check)(check.rule_id, check.property_id, check.adaptation,
                            lambda s, t: TRUE, check.visible, check.miss)
        if check.property_id != "MODE_TABLE":
            r = prove_rule(ctx, never, proved=proved)
            assert r.status is Status.VIOLATED, check.rule_id
        premise = _premise(spec, check.property_id)
        strict = type(check)(check.rule_id, check.property_id, check.adaptation,
                             lambda s, t, b=base, p=premise: And(b(s, t), Not(p)),
                             check.visible, check.miss)
        r = prove_rule(ctx, strict, proved=proved)
        assert r.status is not Status.PROVED, check.rule_id
        assert [q.name for q in r.queries if q.answer is not q.expected] \
            == [f"{check.rule_id}.no-false-alarm"], check.rule_id


def _premise(spec: SystemSpec, pid: str) -> Expr:
    """What the rule judges: the property's premise (for the mode table: a mode change)."""
    if pid == "MODE_TABLE":
        m = spec.state_var("mode")
        return Var("mode", m.sort).ne(Var("mode", m.sort, True))
    p = spec.property(pid)
    inputs = frozenset(i.name for i in spec.inputs)
    return prime(p.premise, inputs) if p.kind is PropertyKind.STATE else p.premise


def test_no_gas_queries_read_the_monitors_view_not_the_true_heart() -> None:
    """The no-false-alarm half is more than 'the rule restates the property': the check
    reads the monitor's own beat timing, tied to the true heart only by the observations."""
    ctx = ProofContext(iabp_spec(), timeout_s=60)
    qs = rule_queries(ctx, rule_check("MON-NO-GAS-IN-EJECTION"))
    assert {v.key for v in VIEW.values()} <= set(qs.view)
    text = qs.no_false_alarm.smt2("t")
    assert "view_heart_t_ms" in text and "heart_t_ms@t" in text


def test_prove_cli_runs_a_broken_monitor_and_lists_them(
        capsys: pytest.CaptureFixture[str]) -> None:
    from iabp.proofs.cli import main as prove_main

    assert prove_main(["--list-variants"]) == 0
    listed = capsys.readouterr().out
    assert all(v.id in listed for v in MONITOR_VARIANTS)
    assert prove_main(["--variant", "mon-trigger-loss-late"]) == 1
    out = capsys.readouterr().out
    assert "VIOLATED" in out and "MON-TRIGGER-LOSS" in out and "would miss it" in out


def test_the_theorem_assumes_only_what_the_run_proved() -> None:
    """No false alarm rests on the properties the run PROVED and the lemmas their proofs
    proved: with nothing proved, the gas rule is not proved either (a lemma no proved
    property uses, or an unproved property, is never assumed)."""
    from iabp.proofs.monitor_theorem import prove_rule, usable_invariants

    spec = iabp_spec()
    ctx = ProofContext(spec, timeout_s=60)
    r = prove_rule(ctx, rule_check("MON-NO-GAS-IN-EJECTION"), proved=frozenset())
    assert r.status is not Status.PROVED and r.cti_query.endswith("no-false-alarm")
    every = frozenset(p.id for p in spec.properties)
    lemmas, props = usable_invariants(spec, frozenset(spec.assumptions_of(
        spec.property("P-STANDBY-DEFLATED"))), every)
    used = {lid for p in props for lem in spec.lemma_closure(p.lemmas) for lid in [lem.id]}
    assert {lem.id for lem in lemmas} == used and "L-IDLE-GAS" in used
