"""The README stays true: two set-up commands, and every property and assumption listed."""

from __future__ import annotations

from pathlib import Path

from iabp.spec.assumptions import ASSUMPTIONS
from iabp.spec.iabp import iabp_spec

ROOT = Path(__file__).resolve().parents[1]


def test_readme_lists_every_property_and_assumption() -> None:
    text = (ROOT / "README.md").read_text()
    for p in iabp_spec().properties:
        assert f"`{p.id}`" in text, p.id
    for a in ASSUMPTIONS:
        assert f"`{a.id}`" in text, a.id


def test_readme_setup_is_two_commands_and_ci_runs_the_test_command() -> None:
    text = (ROOT / "README.md").read_text()
    block = text.split("## Set-up")[1].split("```bash")[1].split("```")[0]
    commands = [line for line in block.strip().splitlines() if line.strip()]
    assert len(commands) == 2
    assert "iabp prove" in commands[0]
    assert "pytest" in commands[1]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "python -m pytest" in ci and "pip install -e '.[test]'" in ci


def test_readme_tables_are_generated_from_the_spec() -> None:
    from iabp.proofs.readme import render

    text = (ROOT / "README.md").read_text()
    assert render(text) == text, "README is stale: run `python -m iabp.proofs.readme`"
