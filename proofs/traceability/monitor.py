"""What the traceability matrix knows of the monitor: its rules, what it cites, what it sees.

Loads ``iabp.monitor.rules.ruleset.RULES`` and ``UNOBSERVABLE`` (when that module exists), finds the
monitor modules citing each requirement, and decides which spec variables the monitor
can observe (:data:`VISIBILITY`).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from iabp.proofs.traceability.model import RuleRef, Unobservable
from iabp.spec.system import Property
from iabp.spec.walker import free_vars

#: How the monitor sees a spec variable: (exact name or ``prefix*``, where it comes from).
VISIBILITY: tuple[tuple[str, str], ...] = (
    ("mode", "TELEMETRY mode"),
    ("inflate_cmd", "TELEMETRY flags.inflate, balloon_pressure"),
    ("alm_*", "TELEMETRY alarm_mask"),
    ("set_request", "EVENT SETTINGS_ACCEPTED / SETTINGS_REJECTED"),
    ("set_*", "SETTINGS record"),
    ("op", "EVENT OPERATOR_KEY"),
    ("heart_*", "the monitor's own R-wave and pressure detection (REQ-MON-INDEPENDENT)"),
    ("r_wave_seen", "the monitor's own R-wave detection"),
    ("upstroke_seen", "the monitor's own upstroke detection"),
    ("activity", "the monitor's own R-wave / pulsatility detection"),
    ("gas_filled", "TELEMETRY balloon_pressure"),
    ("gas_timer_ms", "TELEMETRY balloon_pressure (time since the command changed)"),
    ("obs_*", "the monitor's own counters over the telemetry"),
)


def _attr(obj: Any, *names: str) -> str | None:
    """The first of ``names`` that ``obj`` holds as a string (or as an object with an ``id``)."""
    for n in names:
        v = obj.get(n) if isinstance(obj, Mapping) else getattr(obj, n, None)
        if isinstance(v, str):
            return v
        vid = getattr(v, "id", None)
        if isinstance(vid, str):
            return vid
    return None


def describe_rule(obj: Any, key: str | None = None) -> RuleRef:
    """A :class:`RuleRef` from whatever a rule object is (instance, class or dict)."""
    rid = _attr(obj, "rule_id", "id", "name") or key
    if rid is None:
        rid = obj.__name__ if isinstance(obj, type) else type(obj).__name__
    pid = _attr(obj, "property_id", "prop_id", "property")
    raw = obj.get("requirements") if isinstance(obj, Mapping) else getattr(
        obj, "requirements", None)
    if callable(raw):
        try:
            raw = raw()
        except Exception:  # an instance method on a class: the requirements are unknown
            raw = None
    reqs: tuple[str, ...] = ((raw,) if isinstance(raw, str) else
                             tuple(str(r) for r in raw) if isinstance(raw, list | tuple) else ())
    return RuleRef(rid, pid, reqs)


def load_rules(module: str = "iabp.monitor.rules.ruleset") -> tuple[list[RuleRef], str]:
    """The monitor's rules from ``module.RULES``, and a note saying where they came from."""
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module.startswith(exc.name):
            return [], f"{module.replace('.', '/')}.py is absent: there are no monitor rules"
        return [], f"{module} cannot be imported: {exc}"
    except Exception as exc:  # a broken rules module is a gap to show, not a crash
        return [], f"{module} failed to import: {type(exc).__name__}: {exc}"
    raw = getattr(mod, "RULES", None)
    if raw is None:
        return [], f"{module} has no RULES"
    if isinstance(raw, Mapping):
        rules = [describe_rule(v, str(k)) for k, v in raw.items()]
    else:
        rules = [describe_rule(v) for v in raw]
    return rules, f"{len(rules)} rules from {module}.RULES"


def load_unobservable(module: str = "iabp.monitor.rules.ruleset") -> dict[str, Unobservable]:
    """What ``module.UNOBSERVABLE`` declares the monitor cannot check, by property ID."""
    try:
        raw = getattr(importlib.import_module(module), "UNOBSERVABLE", ())
    except Exception:  # absent or broken: nothing declared (load_rules reports why)
        return {}
    out: dict[str, Unobservable] = {}
    for u in raw:
        pid = _attr(u, "property_id")
        if pid is None:
            continue
        why = " ".join(x for x in (_attr(u, "needs"), _attr(u, "reason")) if x)
        partly = getattr(u, "partly_checked_by", ()) if not isinstance(u, Mapping) else \
            u.get("partly_checked_by", ())
        out[pid] = Unobservable(pid, why, tuple(str(x) for x in partly or ()))
    return out


def monitor_sources_citing(monitor_dir: Path, ids: Iterable[str]) -> dict[str, list[str]]:
    """Which monitor modules cite each ID (in a docstring or comment)."""
    out: dict[str, list[str]] = {i: [] for i in ids}
    for path in sorted(monitor_dir.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for i in out:
            if re.search(rf"\b{re.escape(i)}\b", text):
                out[i].append(path.relative_to(monitor_dir.parent).as_posix())
    return out


# -- observability ------------------------------------------------------------------------

def visibility(var: str) -> str | None:
    """How the monitor sees spec variable ``var``, or None if the console does not publish it."""
    for pattern, how in VISIBILITY:
        if pattern.endswith("*") and var.startswith(pattern[:-1]) or var == pattern:
            return how
    return None


def unseen_vars(prop: Property) -> tuple[str, ...]:
    """The variables ``prop`` reads that the monitor cannot see."""
    names = sorted({k.rstrip("'") for k in free_vars(prop.formula)})
    return tuple(n for n in names if visibility(n) is None)
