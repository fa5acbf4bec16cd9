"""The spec is well formed and covers every hazard and requirement."""

from __future__ import annotations

import pytest

from iabp.spec.assumptions import ASSUMPTION_BY_ID
from iabp.spec.errors import SpecError
from iabp.spec.expr import BOOL, INT, Var
from iabp.spec.iabp import iabp_spec
from iabp.spec.requirements import HAZARDS, REQUIREMENTS
from iabp.spec.variants import variants


def test_every_hazard_and_controller_requirement_has_a_property() -> None:
    spec = iabp_spec()
    reqs = {r for p in spec.properties for r in p.requirements}
    hazards = {h for p in spec.properties for h in p.hazards}
    for r in REQUIREMENTS:
        if r.id == "REQ-MON-INDEPENDENT":
            continue  # a property of the monitor's code, checked by tests/monitor
        assert r.id in reqs, f"{r.id} has no property"
    for h in HAZARDS:
        assert h.id in hazards, f"{h.id} has no property"


def test_every_property_names_known_ids_and_assumptions() -> None:
    spec = iabp_spec()
    req_ids = {r.id for r in REQUIREMENTS}
    hz_ids = {h.id for h in HAZARDS}
    for p in spec.properties:
        assert set(p.requirements) <= req_ids and p.requirements
        assert set(p.hazards) <= hz_ids and p.hazards
        for a in spec.assumptions_of(p):
            assert a in ASSUMPTION_BY_ID


def test_every_property_has_a_broken_variant() -> None:
    broken = {v.breaks for v in variants()}
    for p in iabp_spec().properties:
        assert p.id in broken, f"{p.id} has no broken variant"


def test_controller_cannot_read_the_heart() -> None:
    spec = iabp_spec()
    cheat = spec.assign("inflate_now").expr | (Var("heart_t_ms", INT) > 300)
    with pytest.raises(SpecError, match="non-controller"):
        spec.replace_assign("inflate_now", cheat)


def test_reading_an_undeclared_or_later_value_is_rejected() -> None:
    spec = iabp_spec()
    with pytest.raises(SpecError, match="undeclared"):
        spec.replace_assign("alm_idle", Var("no_such_thing", BOOL))
    with pytest.raises(SpecError, match="before it is defined"):
        spec.replace_assign("mode_entered", Var("inflate_cmd", BOOL).nxt)
