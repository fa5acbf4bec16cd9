"""The control clock as the running software sees it: tick rate and the "never" time.

The tick's length is an assumption of the proofs (``iabp.spec.assumptions.TICK_MS``);
these are what the controller's detectors, the simulator and the replayed records derive
from it. They are not proof bounds, so they live apart from the assumptions (whose
integer constants the report lists).
"""

from __future__ import annotations

from iabp.spec.assumptions import TICK_MS

#: Control tick rate (Hz): the controller reads one ECG and one pressure sample per tick,
#: and the simulator and the replayed records run at this rate.
TICK_HZ = 1000.0 / TICK_MS

#: "Has never happened": a time (ms) or sample index long before any real one, so that
#: the time since it exceeds every timeout and refractory period.
NEVER = -(10**12)
