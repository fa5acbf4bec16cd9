"""The IABP system as one :class:`~spec.system.SystemSpec`: the spec every engine reads."""

from __future__ import annotations

from functools import cache

from iabp.spec import controller_step, environment, monitor_model, observers
from iabp.spec.assumptions import STATED_WORLD, World, in_world
from iabp.spec.lemmas import lemmas
from iabp.spec.mode_table import MODE_TABLE
from iabp.spec.properties import properties
from iabp.spec.system import SystemSpec


@cache
def iabp_spec(world: World = STATED_WORLD) -> SystemSpec:
    """Controller, heart, detectors, pneumatics and observers, with every property.

    ``world``: the bounds the heart, detectors and pneumatics keep (the environment model,
    the lemmas and the properties are stated for it); the controller is always the one
    designed for the stated world. Only ``iabp margins`` asks for another world.
    """
    with in_world(world):
        return _build()


def _build() -> SystemSpec:
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

