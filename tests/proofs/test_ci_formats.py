"""JUnit XML and SARIF 2.1.0 from proof results parse back with the structure CI tools expect."""

from __future__ import annotations

import dataclasses
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from iabp.proofs.ci_formats import (
    SARIF_SCHEMA,
    Row,
    junit_xml,
    load_rows,
    property_line,
    rows_from_results,
    sarif,
    write_junit,
    write_sarif,
)
from iabp.proofs.cli import main as prove_main
from tests.proofs.test_audit import SMALL_VARIANT, SharedRun, shared_run


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> SharedRun:
    return shared_run(tmp_path_factory)


def _row(pid: str, status: str) -> Row:
    return Row(pid, f"title of {pid}", "plain words", ("REQ-RATIO",), ("HZ-SETTINGS",), status,
               "1-induction", 0.5, f"reason for {status}", 7 if status == "VIOLATED" else None)


MIXED = [_row("P-RATIO", "PROVED"), _row("P-IDLE-ALARM", "VIOLATED"),
         _row("P-SETTINGS-SAFE", "UNKNOWN"), _row("P-ALARM-LATCH", "VACUOUS")]


def test_junit_has_one_testcase_per_property_and_fails_the_rest() -> None:
    root = ET.fromstring(junit_xml(MIXED))
    assert root.tag == "testsuites" and root.get("tests") == "4" and root.get("failures") == "3"
    suite = root.find("testsuite")
    assert suite is not None and suite.get("failures") == "3"
    cases = suite.findall("testcase")
    assert [c.get("name", "").split(":")[0] for c in cases] == [r.property_id for r in MIXED]
    for case, row in zip(cases, MIXED, strict=True):
        fail = case.find("failure")
        assert (fail is None) == (row.status == "PROVED")
        if fail is not None:
            assert fail.get("type") == row.status and row.reason in (fail.get("message") or "")
            assert "HZ-SETTINGS" in (fail.text or "")
        float(case.get("time", "x"))


def test_sarif_has_a_rule_per_property_and_a_result_per_failure() -> None:
    log = json.loads(json.dumps(sarif(MIXED, {"spec_sha256": "abc"})))
    assert log["version"] == "2.1.0" and log["$schema"] == SARIF_SCHEMA
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [r.property_id for r in MIXED]
    assert all(r["properties"]["requirements"] == ["REQ-RATIO"] for r in rules)
    assert all(r["properties"]["hazards"] == ["HZ-SETTINGS"] for r in rules)
    results = run["results"]
    assert [r["ruleId"] for r in results] == ["P-IDLE-ALARM", "P-SETTINGS-SAFE", "P-ALARM-LATCH"]
    assert [r["level"] for r in results] == ["error", "warning", "warning"]
    for r in results:
        assert rules[r["ruleIndex"]]["id"] == r["ruleId"]
        assert r["message"]["text"]
        loc = r["locations"][0]["physicalLocation"]
        assert loc["artifactLocation"]["uri"] == "spec/properties.py"
        assert loc["region"]["startLine"] >= 1
    assert run["properties"] == {"spec_sha256": "abc"}


def test_sarif_location_is_the_property_definition() -> None:
    line = property_line("P-IDLE-ALARM")
    assert line is not None
    text = (Path(__file__).resolve().parents[2] / "spec" / "properties.py").read_text()
    assert '"P-IDLE-ALARM"' in text.splitlines()[line - 1]


def test_rows_from_a_run_and_from_results_json_agree(run: SharedRun, tmp_path: Path) -> None:
    live = rows_from_results(run.results, run.monitor_rules)
    stored = load_rows(run.art / "results.json")
    key = [(r.property_id, r.status, r.requirements, r.hazards) for r in live]
    assert key == [(r.property_id, r.status, r.requirements, r.hazards) for r in stored]
    not_proved = [r.property_id for r in stored if r.status != "PROVED"]
    junit = ET.parse(write_junit(stored, tmp_path / "j.xml")).getroot()
    assert junit.get("failures") == str(len(not_proved)) and junit.get("tests") == str(len(live))
    log = json.loads(write_sarif(stored, tmp_path / "s.sarif").read_text())
    assert [r["ruleId"] for r in log["runs"][0]["results"]] == not_proved
    assert len(log["runs"][0]["tool"]["driver"]["rules"]) == len(live)


def test_iabp_prove_writes_junit_and_sarif(tmp_path: Path) -> None:
    vid, pid = SMALL_VARIANT
    junit, sarif_path = tmp_path / "ci" / "proofs.xml", tmp_path / "ci" / "proofs.sarif"
    code = prove_main(["--variant", vid, "--property", pid, "--no-artifacts",
                       "--junit", str(junit), "--sarif", str(sarif_path)])
    assert code == 1
    fail = ET.parse(junit).getroot().find("testsuite/testcase/failure")
    assert fail is not None and fail.get("type") == "VIOLATED"
    result, = json.loads(sarif_path.read_text())["runs"][0]["results"]
    assert result["ruleId"] == pid and result["level"] == "error"


def test_the_monitor_theorems_rules_are_rows_located_at_their_declaration(
        run: SharedRun, tmp_path: Path) -> None:
    """A full run's results.json carries the monitor theorem's rules; CI files list each
    as a test case / SARIF rule, and a failing one points at spec/monitor_rules.py."""
    rows = load_rows(run.art / "results.json")
    rules = [r for r in rows if r.property_id.startswith("MON-")]
    assert len(rules) == len(run.monitor_rules) > 0
    assert all(r.source == "spec/monitor_rules.py" and r.status == "PROVED" for r in rules)
    broken = dataclasses.replace(rules[0], status="UNKNOWN", reason="a possible false stop")
    doc = sarif([broken])
    (result,) = doc["runs"][0]["results"]
    loc = result["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] == "spec/monitor_rules.py"
    source = Path(__file__).resolve().parents[2] / "spec" / "monitor_rules.py"
    line = source.read_text().splitlines()[loc["region"]["startLine"] - 1]
    assert f'"{broken.property_id}"' in line
    assert [r.property_id for r in rows_from_results(run.results, run.monitor_rules)] \
        == [r.property_id for r in rows]
