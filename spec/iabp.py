"""The IABP system as one :class:`~spec.system.SystemSpec`: the spec every engine reads."""

from __future__ import annotations

from functools import cache

from iabp.spec import controller_step, environment, monitor_model, observers
from iabp.spec.lemmas import lemmas
from iabp.spec.mode_table import MODE_TABLE
from iabp.spec.properties import properties
from iabp.spec.system import SystemSpec


@cache
def iabp_spec() -> SystemSpec:
    """Controller, heart, detectors, pneumatics and observers, with every property."""
    state = [*controller_step.state_vars(), *environment.state_vars(), *observers.state_vars(),
             *environment.ghost_vars(), *monitor_model.state_vars()]
    return SystemSpec(
        name="iabp",
        state=tuple(state),
        inputs=(*controller_step.input_vars(), *environment.input_vars(),
                *monitor_model.input_vars()),
        step=(*controller_step.step(), *environment.heart_step(),
              *environment.plant_step(controller_step.inflate_cmd), *observers.step(),
              *environment.ghost_step(), *monitor_model.step()),
        env=tuple(environment.env_constraints()),
        init=(*controller_step.init_constraints(), *environment.init_constraints()),
        mode_table=MODE_TABLE,
        properties=(*properties(), *monitor_model.properties()),
        lemmas=tuple(lemmas(state)),
    ).checked()

