"""The settings validator, compiled from the spec's validator clauses.

REQ-SETTINGS-SAFE: a settings change is accepted only if every clause holds; otherwise
every failing clause's reason is returned, so the operator sees why.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from iabp.spec.engines.to_python import compile_expr
from iabp.spec.iabp import iabp_spec
from iabp.spec.settings import SETTINGS, requested_settings, validator_clauses_for
from iabp.spec.system import SystemSpec


class SettingsValidator:
    """Checks a complete set of settings (by setting name) against the validator clauses."""

    def __init__(self, spec: SystemSpec | None = None) -> None:
        self.spec = spec or iabp_spec()
        self._clauses: list[tuple[str, str, Callable[[Mapping[str, Any]], Any]]] = [
            (c.id, c.reason, compile_expr(c.holds))
            for c in validator_clauses_for(requested_settings())
        ]

    def reasons(self, settings: Mapping[str, int]) -> list[str]:
        """The reasons of every failing clause; empty when the settings are acceptable."""
        missing = [s.name for s in SETTINGS if s.name not in settings]
        if missing:
            return [f"missing setting(s): {', '.join(missing)}"]
        unknown = sorted(set(settings) - {s.name for s in SETTINGS})
        if unknown:
            return [f"unknown setting(s): {', '.join(unknown)}"]
        values: dict[str, Any] = {}
        for s in SETTINGS:
            v = settings[s.name]
            if isinstance(v, bool) or not isinstance(v, int):
                return [f"{s.name} must be a whole number of {s.unit}, got {v!r}"]
            values[s.request.name] = v
        return [f"{cid}: {reason}" for cid, reason, holds in self._clauses if not holds(values)]

    def accepts(self, settings: Mapping[str, int]) -> bool:
        return not self.reasons(settings)
