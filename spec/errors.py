"""The one exception root of the project and its specific subclasses.

Every error the pump software raises on purpose derives from :class:`IabpError`, so a
caller (the CLI, the monitor's fail-safe) can catch "anything we know about" in one
place and still tell the kinds apart.
"""

from __future__ import annotations


class IabpError(Exception):
    """Root of every deliberate error raised by the IABP spec, controller, monitor and proofs."""


class SpecError(IabpError):
    """The specification itself is malformed (ill-typed expression, unknown name, bad table)."""


class SettingsRejectedError(IabpError):
    """A settings change was refused by the validator; ``reasons`` says why, one line each."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = list(reasons)


class ProofError(IabpError):
    """The proof engine could not build or run a query (not a failed property: that is a result)."""


class ArtifactError(IabpError):
    """A proof artifact directory or file is missing, malformed or inconsistent."""


class ProtocolError(IabpError):
    """Telemetry bytes or a command could not be encoded or decoded."""


class PortError(IabpError):
    """A serial port URL could not be opened, or the port vanished."""


class RecordError(IabpError):
    """A physiological record (PhysioNet WFDB file, replay data) is missing or unreadable."""


class UsageError(IabpError):
    """The user asked for something impossible on the command line (exit status 2)."""
