"""Opening serial ports by URL: the one door through which the project reaches a wire.

Every port the monitor uses (console telemetry, console commands, the interlock line to
the external relay box) is named by a pyserial URL and opened here with
:func:`serial.serial_for_url`: a device path (``/dev/ttyUSB0``), a pseudo-terminal path
(``/dev/pts/3``), ``socket://host:port``, ``loop://`` or ``rfc2217://host:port``. Tests
therefore exercise the same code path as the bedside.

A port that cannot be opened, or that vanishes while in use (cable pulled, USB adapter
unplugged, peer closed the TCP connection), is reported as :class:`iabp.spec.errors.PortError`
carrying the URL and the cause, so the monitor's fail-safe (REQ-MON-FAILSAFE: "on losing
the port") can catch one exception type.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import serial

from iabp.spec.errors import PortError

DEFAULT_BAUDRATE = 115200
"""Line rate in bit/s used when the caller does not say (ignored by socket:// and loop://)."""

DEFAULT_TIMEOUT_S = 0.05
"""Read timeout in seconds: the longest one ``read`` call may block the monitor loop."""

DEFAULT_WRITE_TIMEOUT_S = 0.1
"""Write timeout in seconds: a port that does not drain within it counts as lost."""


def open_port(
    url: str,
    baudrate: int = DEFAULT_BAUDRATE,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    write_timeout_s: float | None = DEFAULT_WRITE_TIMEOUT_S,
) -> serial.SerialBase:
    """Open the port named by ``url`` and return it ready for use.

    ``baudrate`` is in bit/s; ``timeout_s`` bounds each read and ``write_timeout_s`` each
    write, in seconds, so a silent or blocked wire can never hang the monitor loop for
    longer than that (``None`` means block forever, which only tests should ask for).
    Any failure (unknown scheme, missing device, refused connection, bad parameter) raises
    :class:`PortError` naming the URL and the cause.
    """
    if not isinstance(url, str) or not url.strip():
        raise PortError(f"cannot open port {url!r}: empty port URL")
    try:
        return serial.serial_for_url(
            url,
            baudrate=baudrate,
            timeout=timeout_s,
            write_timeout=write_timeout_s,
        )
    except Exception as exc:  # pyserial's URL handlers also raise KeyError, TypeError...
        raise PortError(f"cannot open port {url!r}: {_cause(exc)}") from exc


def is_port_vanished(exc: BaseException) -> bool:
    """True if ``exc`` means the wire is gone or unusable (not a programming error).

    pyserial reports a vanished device, a closed pseudo-terminal peer, a disconnected
    socket and a blocked write as :class:`serial.SerialException`; the operating system
    reports the rest as :class:`OSError` (EIO, ENXIO, EPIPE, ENOTTY...).
    """
    return isinstance(exc, (serial.SerialException, OSError))


def port_lost(url: str, action: str, exc: BaseException) -> PortError:
    """Build the :class:`PortError` for a port that failed during ``action`` (e.g. "read").

    The caller raises it (``raise port_lost(...) from exc``) so the traceback keeps the cause.
    """
    return PortError(f"port {url!r} lost during {action}: {_cause(exc)}")


@contextmanager
def port_errors(url: str, action: str) -> Iterator[None]:
    """Turn a vanished-port error raised inside the ``with`` block into :class:`PortError`.

    ``action`` names what was being done ("heartbeat write", "telemetry read") for the
    audit record. Any other exception is not a port fault and passes through untouched.
    """
    try:
        yield
    except (serial.SerialException, OSError) as exc:
        raise port_lost(url, action, exc) from exc


def port_url(port: object) -> str:
    """Best-effort URL (or device path) of an open port object, for messages."""
    name = getattr(port, "port", None) or getattr(port, "name", None)
    return str(name) if name is not None else repr(port)


def _cause(exc: BaseException) -> str:
    """One-line description of an underlying error: its type and message."""
    text = str(exc).strip() or "no detail"
    return f"{type(exc).__name__}: {text}"
