"""The traceability matrix lists every hazard, requirement and property and flags every gap."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest

from iabp.proofs.traceability.matrix import (
    GapKind,
    ProofSummary,
    RuleRef,
    build_matrix,
    describe_rule,
    load_rules,
    load_unobservable,
    scan_tests,
    unseen_vars,
)
from iabp.spec.iabp import iabp_spec
from iabp.spec.requirements import HAZARDS, REQUIREMENTS

SPEC = iabp_spec()
ALL_PROVED = {p.id: ProofSummary("PROVED", "1-induction", 0.1) for p in SPEC.properties}

FAKE_TESTS = '''"""Module about REQ-RATIO."""
import pytest

@pytest.mark.property("P-FAULT-HALT")
def test_marked():
    pass

def test_p_idle_alarm_fires_late():
    pass

def test_documented():
    """Checks P-ALWAYS-STOPPABLE from the operator's key."""

def test_body_only():
    record("P-TRIGGER-LOSS")

@pytest.mark.parametrize("vid", ["V-KINK-DOES-NOT-HALT"])
def test_variant(vid):
    pass

class TestRule:
    """Monitor rule R-STANDBY-DEFLATED."""

    def test_it(self):
        pass

def helper_not_a_test():
    """P-RATIO"""
'''


@pytest.fixture()
def fake_repo(tmp_path: Path) -> tuple[Path, Path]:
    tests = tmp_path / "tests" / "monitor"
    tests.mkdir(parents=True)
    (tests / "test_fake.py").write_text(FAKE_TESTS)
    monitor = tmp_path / "monitor"
    monitor.mkdir()
    (monitor / "failsafe.py").write_text('"""Latched safe state (REQ-MON-FAILSAFE)."""\n')
    return tmp_path / "tests", monitor


def _matrix(fake: tuple[Path, Path], rules: list[RuleRef] | None = None,
            proofs: dict[str, ProofSummary] | None = None):  # type: ignore[no-untyped-def]
    return build_matrix(SPEC, ALL_PROVED if proofs is None else proofs, tests_dir=fake[0],
                        monitor_dir=fake[1], rules=rules or [], rules_note="given")


def test_every_hazard_requirement_and_property_is_listed(fake_repo: tuple[Path, Path]) -> None:
    m = _matrix(fake_repo)
    assert [h.id for h in m.hazards] == [h.id for h in HAZARDS]
    assert [r.id for r in m.requirements] == [r.id for r in REQUIREMENTS]
    assert [p.id for p in m.properties] == [p.id for p in SPEC.properties]
    chained = {c.hazard for c in m.chains} | {c.property for c in m.chains}
    assert {h.id for h in HAZARDS} | {p.id for p in SPEC.properties} <= chained
    for p in SPEC.properties:
        for hz in p.hazards:
            assert any(c.hazard == hz and c.property == p.id for c in m.chains)
    json.dumps(m.to_json())


def test_tests_link_by_marker_name_docstrings_and_variants(fake_repo: tuple[Path, Path]) -> None:
    known = {p.id for p in SPEC.properties} | {r.id for r in REQUIREMENTS} | {"R-STANDBY-DEFLATED"}
    links = scan_tests(fake_repo[0], known, {"V-KINK-DOES-NOT-HALT": "P-FAULT-HALT"})
    via = {i: {(t.test.split("::", 1)[1], t.via) for t in ts} for i, ts in links.items()}
    assert ("test_marked", "marker") in via["P-FAULT-HALT"]
    assert ("test_variant", "variant V-KINK-DOES-NOT-HALT (marker)") in via["P-FAULT-HALT"]
    assert via["P-IDLE-ALARM"] == {("test_p_idle_alarm_fires_late", "name")}
    assert via["P-ALWAYS-STOPPABLE"] == {("test_documented", "docstring")}
    assert ("TestRule::test_it", "class docstring") in via["R-STANDBY-DEFLATED"]
    assert len(via["REQ-RATIO"]) == 6  # the module docstring links every test in it
    assert "P-TRIGGER-LOSS" not in links  # an ID used only as data does not link
    assert "P-RATIO" not in links  # nor does a helper that is not a test


def test_collected_parameter_ids_link_too(fake_repo: tuple[Path, Path]) -> None:
    links = scan_tests(fake_repo[0], {"P-FAULT-HALT"}, {"V-KINK-DOES-NOT-HALT": "P-FAULT-HALT"},
                       node_ids=["tests/x.py::test_v[V-KINK-DOES-NOT-HALT]"])
    assert any(t.test == "tests/x.py::test_v[V-KINK-DOES-NOT-HALT]" for t in links["P-FAULT-HALT"])


def test_gaps_are_flagged(fake_repo: tuple[Path, Path]) -> None:
    proofs = dict(ALL_PROVED)
    # HZ-IDLE's three properties: the alarm, the alarm only after the limit, and the idle
    # limit kept inside the requirement's
    failed = {p.id for p in SPEC.properties if "HZ-IDLE" in p.hazards}
    assert failed == {"P-IDLE-ALARM", "P-IDLE-ALARM-CAUSE", "P-SETTINGS-BOUNDS"}
    for pid in failed:
        proofs[pid] = ProofSummary("VIOLATED", "bmc", 1.0, "a trace breaks it")
    m = _matrix(fake_repo, proofs=proofs)
    gaps = {(g.kind, g.subject) for g in m.gaps}
    assert (GapKind.NOT_PROVED, "P-IDLE-ALARM") in gaps
    assert (GapKind.NO_PROVED_PROPERTY, "HZ-IDLE") in gaps  # its only properties failed
    proved = [p for p in SPEC.properties if p.id not in failed]
    covered = {hz for p in proved for hz in p.hazards} | {
        hz for r in REQUIREMENTS if any(r.id in p.requirements for p in proved)
        for hz in r.hazards}
    for h in HAZARDS:
        assert ((GapKind.NO_PROVED_PROPERTY, h.id) in gaps) == (h.id not in covered), h.id
    assert (GapKind.NO_TEST, "P-TRIGGER-LOSS") in gaps
    assert (GapKind.NO_TEST, "P-FAULT-HALT") not in gaps
    assert (GapKind.MONITOR_UNCOVERED, "REQ-MON-INDEPENDENT") in gaps
    assert (GapKind.MONITOR_UNCOVERED, "REQ-MON-FAILSAFE") not in gaps
    assert m.requirement_row("REQ-MON-FAILSAFE").monitor == ("monitor/failsafe.py",)


def test_no_proofs_at_all_is_every_property_not_proved(fake_repo: tuple[Path, Path]) -> None:
    m = _matrix(fake_repo, proofs={})
    not_proved = {g.subject for g in m.gaps if g.kind is GapKind.NOT_PROVED}
    assert not_proved == {p.id for p in SPEC.properties}


def test_monitor_rule_gaps_follow_observability(fake_repo: tuple[Path, Path]) -> None:
    rules = [RuleRef("R-STANDBY-DEFLATED", "P-STANDBY-DEFLATED"),
             RuleRef("R-UNTESTED", "P-RATIO"), RuleRef("R-ORPHAN", "P-NO-SUCH")]
    m = _matrix(fake_repo, rules=rules)
    gaps = {(g.kind, g.subject) for g in m.gaps}
    assert (GapKind.NO_MONITOR_RULE, "P-STANDBY-DEFLATED") not in gaps
    assert (GapKind.NO_MONITOR_RULE, "P-RATIO") not in gaps
    assert (GapKind.NO_MONITOR_RULE, "P-TRIGGER-LOSS") in gaps  # observable, no rule
    assert (GapKind.NO_MONITOR_RULE, "P-CONTRA-ABSOLUTE") not in gaps  # not observable
    assert (GapKind.RULE_UNTESTED, "R-STANDBY-DEFLATED") not in gaps
    assert (GapKind.RULE_UNTESTED, "R-UNTESTED") in gaps
    assert (GapKind.RULE_UNKNOWN_PROPERTY, "R-ORPHAN") in gaps
    assert m.property_row("P-STANDBY-DEFLATED").rules == ("R-STANDBY-DEFLATED",)


def test_observability_reads_what_the_console_publishes() -> None:
    assert unseen_vars(SPEC.property("P-STANDBY-DEFLATED")) == ()
    assert unseen_vars(SPEC.property("P-INFL-DIASTOLE")) == ()  # from the raw signals
    assert "contra_absolute" in unseen_vars(SPEC.property("P-CONTRA-ABSOLUTE"))
    assert "gas_loss" in unseen_vars(SPEC.property("P-FAULT-HALT"))


def test_rules_of_any_shape_are_described(monkeypatch: pytest.MonkeyPatch) -> None:
    class RuleClass:
        property_id = "P-RATIO"

    inst = types.SimpleNamespace(id="R-A", property=SPEC.property("P-RATIO"),
                                 requirements=("REQ-RATIO",))
    assert describe_rule(RuleClass) == RuleRef("RuleClass", "P-RATIO")
    assert describe_rule(inst) == RuleRef("R-A", "P-RATIO", ("REQ-RATIO",))
    assert describe_rule({"property_id": "P-RATIO"}, "R-D").id == "R-D"
    fake = types.ModuleType("fake_rules_mod")
    fake.RULES = {"R-X": {"property_id": "P-RATIO"}}  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_rules_mod", fake)
    rules, note = load_rules("fake_rules_mod")
    assert rules == [RuleRef("R-X", "P-RATIO")] and "1 rules" in note


def test_rule_classes_with_classmethods_and_declared_unobservables(
        fake_repo: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    class TableRule:
        rule_id = "MON-TABLE"
        property_id = "MODE_TABLE"

        @classmethod
        def requirements(cls) -> tuple[str, ...]:
            return ("REQ-ALWAYS-STOPPABLE",)

    fake = types.ModuleType("fake_rules_mod2")
    fake.RULES = (TableRule,)  # type: ignore[attr-defined]
    fake.UNOBSERVABLE = (types.SimpleNamespace(  # type: ignore[attr-defined]
        property_id="P-TRIGGER-LOSS", needs="a key", reason="not on the wire",
        partly_checked_by=("MON-TABLE",)),)
    monkeypatch.setitem(sys.modules, "fake_rules_mod2", fake)
    rules, _ = load_rules("fake_rules_mod2")
    assert rules == [RuleRef("MON-TABLE", "MODE_TABLE", ("REQ-ALWAYS-STOPPABLE",))]
    declared = load_unobservable("fake_rules_mod2")
    assert declared["P-TRIGGER-LOSS"].partly_checked_by == ("MON-TABLE",)
    m = build_matrix(SPEC, ALL_PROVED, tests_dir=fake_repo[0], monitor_dir=fake_repo[1],
                     rules=rules, unobservable=declared)
    gaps = {(g.kind, g.subject) for g in m.gaps}
    assert (GapKind.NO_MONITOR_RULE, "P-TRIGGER-LOSS") not in gaps  # declared, with a reason
    assert (GapKind.RULE_UNKNOWN_PROPERTY, "MON-TABLE") not in gaps  # checks the table
    assert "MODE_TABLE" in m.rules[0].note
    assert "rule MON-TABLE" in m.requirement_row("REQ-ALWAYS-STOPPABLE").monitor


def test_an_absent_rules_module_is_a_stated_gap() -> None:
    rules, note = load_rules("iabp.monitor.no_such_rules_module")
    assert rules == [] and "absent" in note


def test_the_real_tree_builds_a_matrix() -> None:
    m = build_matrix(SPEC, ALL_PROVED)
    assert m.tests_note.startswith("tests scanned")
    assert "failed to import" not in m.rules_note, m.rules_note
    assert len(m.properties) == len(SPEC.properties)
