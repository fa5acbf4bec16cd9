"""What ``iabp check`` finds in a capture, as plain data: the violations and, for plots, the
signals around each one. Shared by :mod:`iabp.monitor.check` and
:mod:`iabp.monitor.check_plot`, which never import each other."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Violation:
    """One reason the live monitor would have entered (or stayed in) its safe state."""

    rule_id: str  #: rule ID (MON-INTEGRITY for integrity; SILENCE trips: "SILENCE")
    console_ms: int | None  #: console ``time_ms`` of the frame concerned (None: no frame yet)
    telemetry_ms: int | None  #: ms of telemetry (the rule's ``at_ms``), None for non-rule trips
    cause: str  #: :class:`Cause` name
    message: str  #: the operator's sentence
    detail: str  #: the machine detail (the values the rule read)

    def to_json(self) -> dict[str, Any]:
        return {"rule_id": self.rule_id, "console_ms": self.console_ms,
                "telemetry_ms": self.telemetry_ms, "cause": self.cause,
                "message": self.message, "detail": self.detail}


@dataclass
class PlotWindow:
    """The signals around one violation (console ms, one row per telemetry frame)."""

    violation: Violation
    centre_ms: int
    t_ms: list[int] = field(default_factory=list)
    ecg_uv: list[float] = field(default_factory=list)
    arterial_x10: list[float] = field(default_factory=list)
    balloon_x10: list[float] = field(default_factory=list)
    inflate: list[bool] = field(default_factory=list)
    beat: list[bool] = field(default_factory=list)
