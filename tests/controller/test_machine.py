"""The transitions Machine is built from the spec's mode table and nothing else."""

from __future__ import annotations

from iabp.controller.controller import Controller
from iabp.spec.mode_table import MODE_TABLE
from iabp.spec.modes import Mode


def test_machine_transitions_equal_the_spec_table() -> None:
    c = Controller()
    got = set()
    for trigger, event in c.machine.events.items():
        for source, transitions in event.transitions.items():
            for t in transitions:
                assert len(t.conditions) == 1
                got.add((trigger, source, t.dest))
    want = {(row.trigger, src, row.dest) for row in MODE_TABLE for src in row.sources}
    assert got == want


def test_no_shortcut_transitions_exist() -> None:
    c = Controller()
    for m in Mode:
        assert not hasattr(c, f"to_{m.name}"), "auto_transitions would bypass the guards"
    assert set(c.machine.states) == {m.name for m in Mode}
