"""The mutation catalogue (benchmarks/mutation_ops.py) still fits the spec it mutates.

Fast (no proving): every operator's anchor text occurs exactly once in the current
source of the file it mutates, the mutated file still parses, and the catalogue keeps
the kinds and the issue-14 hand mutations the campaign promises. A spec edit that moves
an anchor fails here, not silently in a 30-minute campaign.
"""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

import pytest

from benchmarks.mutation_ops import (
    KINDS,
    OPERATORS,
    AnchorError,
    MutationOp,
    apply_op,
    mutate_tree,
)

REPO = Path(__file__).resolve().parents[1]
#: Files a mutation may touch: the controller's rules, never the environment model,
#: the lemmas (proof aids) or the properties.
MUTABLE = {"spec/controller_step.py", "spec/settings.py", "spec/mode_table.py",
           "spec/assumptions.py"}


@pytest.mark.parametrize("op", OPERATORS, ids=[o.id for o in OPERATORS])
def test_anchor_matches_once_and_mutant_parses(op: MutationOp) -> None:
    source = (REPO / op.file).read_text()
    assert source.count(op.old) == 1, f"{op.id}: anchor found {source.count(op.old)} times"
    mutated = apply_op(op, source)
    assert mutated != source
    ast.parse(mutated, filename=op.file)


def test_catalogue_shape() -> None:
    assert len(OPERATORS) >= 30
    assert len({o.id for o in OPERATORS}) == len(OPERATORS)
    assert {o.file for o in OPERATORS} <= MUTABLE
    kinds = Counter(o.kind for o in OPERATORS)
    assert set(kinds) <= set(KINDS)
    for needed in ("comparison", "off-by-one", "dropped-guard", "validator-range",
                   "shared-constant", "alarm-latch", "operator-command"):
        assert kinds[needed] >= 2, needed
    assert sum(o.issue14 for o in OPERATORS) >= 16
    assert all(o.meaning for o in OPERATORS)


def test_missing_or_ambiguous_anchor_fails_loudly(tmp_path: Path) -> None:
    op = MutationOp("M-TEST", "comparison", "spec/x.py", "test", "a >= b", "a > b")
    with pytest.raises(AnchorError, match="not found"):
        apply_op(op, "c < d\n")
    with pytest.raises(AnchorError, match="2 times"):
        apply_op(op, "a >= b\na >= b\n")
    (tmp_path / "spec").mkdir()
    (tmp_path / "spec" / "x.py").write_text("ok = a >= b\n")
    mutate_tree(op, tmp_path)
    assert (tmp_path / "spec" / "x.py").read_text() == "ok = a > b\n"
