"""The patient profile: what is recorded about this patient that the pump must respect.

The monitor checks the console against it: a recorded absolute contraindication (severe
aortic insufficiency, aortic dissection...) means the balloon must never pump; a relative
one means its alarm stays visible and pumping needs the clinician's recorded override,
since the operator's override key is not on the wire (REQ-CONTRA-BLOCK). The profile
also names the trigger source and balloon volume. :class:`ProfileError` is a bad or
missing profile file (exit status 2).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Final

from iabp.spec.errors import UsageError


class Severity(Enum):
    """How a recorded contraindication constrains pumping (REQ-CONTRA-BLOCK)."""

    ABSOLUTE = "absolute"  #: never pump
    RELATIVE = "relative"  #: pump only with a recorded override; alarm stays visible


KNOWN_CONTRAINDICATIONS: Final[Mapping[str, Severity]] = {
    "severe aortic insufficiency": Severity.ABSOLUTE,
    "aortic dissection": Severity.ABSOLUTE,
    "aortic aneurysm": Severity.ABSOLUTE,
    "severe peripheral vascular disease": Severity.ABSOLUTE,
    "bleeding": Severity.RELATIVE,
    "coagulopathy": Severity.RELATIVE,
    "sepsis": Severity.RELATIVE,
    "severe thrombocytopenia": Severity.RELATIVE,
    "descending aortic graft": Severity.RELATIVE,
    "end-stage disease": Severity.RELATIVE,
}
"""Default severity of the contraindications named in shared/domain/iabp.md."""

TRIGGER_SOURCES: Final = ("ecg", "pressure", "internal")


class ProfileError(UsageError):
    """A patient profile file is missing, not JSON, or has a bad field (exit status 2)."""


@dataclass(frozen=True)
class Contraindication:
    """One recorded contraindication of this patient."""

    name: str
    severity: Severity


@dataclass(frozen=True)
class PatientProfile:
    """What is recorded about the patient that the monitor checks the console against.

    JSON form (every key optional)::

        {"patient_id": "bed 4", "trigger_source": "ecg", "balloon_volume_ml": 40,
         "relative_override": false,
         "contraindications": ["sepsis", {"name": "aortic dissection", "severity": "absolute"}]}

    A contraindication given as a bare string must be one of
    :data:`KNOWN_CONTRAINDICATIONS`; any other needs an explicit severity.
    ``relative_override`` is the clinician's recorded override of the relative ones (the
    operator's override key is not on the wire, so the profile is the monitor's source).
    """

    patient_id: str = "anonymous"
    contraindications: tuple[Contraindication, ...] = ()
    relative_override: bool = False
    trigger_source: str = "ecg"
    balloon_volume_ml: int = 40

    @property
    def absolute(self) -> bool:
        """An absolute contraindication is recorded: the console must not pump."""
        return any(c.severity is Severity.ABSOLUTE for c in self.contraindications)

    @property
    def relative(self) -> bool:
        """A relative contraindication is recorded: its alarm must be active."""
        return any(c.severity is Severity.RELATIVE for c in self.contraindications)

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form (for the audit log)."""
        return {
            "patient_id": self.patient_id, "trigger_source": self.trigger_source,
            "balloon_volume_ml": self.balloon_volume_ml,
            "relative_override": self.relative_override,
            "contraindications": [{"name": c.name, "severity": c.severity.value}
                                  for c in self.contraindications],
        }

    @classmethod
    def from_mapping(cls, data: Any) -> PatientProfile:
        """Build from parsed JSON; raise :class:`ProfileError` naming the bad field."""
        if not isinstance(data, Mapping):
            raise ProfileError("a patient profile must be a JSON object")
        known = {"patient_id", "contraindications", "relative_override", "trigger_source",
                 "balloon_volume_ml"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ProfileError(f"unknown profile field(s): {', '.join(unknown)}")
        pid = data.get("patient_id", "anonymous")
        source = data.get("trigger_source", "ecg")
        override = data.get("relative_override", False)
        volume = data.get("balloon_volume_ml", 40)
        if not isinstance(pid, str) or not pid.strip():
            raise ProfileError("patient_id must be a non-empty string")
        if source not in TRIGGER_SOURCES:
            raise ProfileError(f"trigger_source must be one of {TRIGGER_SOURCES}, got {source!r}")
        if not isinstance(override, bool):
            raise ProfileError("relative_override must be true or false")
        if isinstance(volume, bool) or volume not in (34, 40, 50):
            raise ProfileError(f"balloon_volume_ml must be 34, 40 or 50, got {volume!r}")
        raw = data.get("contraindications", [])
        if not isinstance(raw, list):
            raise ProfileError("contraindications must be a list")
        return cls(pid, tuple(_contraindication(x) for x in raw), override, source, volume)

    @classmethod
    def load(cls, path: str | Path) -> PatientProfile:
        """Read a profile JSON file; raise :class:`ProfileError` with a clear reason."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ProfileError(f"cannot read patient profile {str(path)!r}: {exc.strerror}") from exc
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ProfileError(f"patient profile {str(path)!r} is not valid JSON: {exc}") from exc
        return cls.from_mapping(data)


def _contraindication(item: Any) -> Contraindication:
    if isinstance(item, str):
        sev = KNOWN_CONTRAINDICATIONS.get(item.strip().lower())
        if sev is None:
            raise ProfileError(f"unknown contraindication {item!r}: give it as "
                               '{"name": ..., "severity": "absolute"|"relative"}')
        return Contraindication(item.strip().lower(), sev)
    if isinstance(item, Mapping) and set(item) <= {"name", "severity"} and "name" in item:
        name = item["name"]
        if not isinstance(name, str) or not name.strip():
            raise ProfileError("a contraindication name must be a non-empty string")
        default = KNOWN_CONTRAINDICATIONS.get(name.strip().lower())
        sev_text = item.get("severity", default.value if default else None)
        try:
            return Contraindication(name.strip().lower(), Severity(sev_text))
        except ValueError:
            raise ProfileError(f"contraindication {name!r}: severity must be 'absolute' or "
                               f"'relative', got {sev_text!r}") from None
    raise ProfileError(f"bad contraindication entry {item!r}")
