"""The simulated console as a TCP listener: ``iabp console --listen HOST:PORT``.

A bedside console's serial line reaches a monitor on another machine through a
serial-to-LAN adapter, which listens; the monitor connects to it with
``socket://host:port``. pyserial's ``socket://`` is a client only, so two processes that
both use it (console and monitor) can never meet. :func:`accept_console_port` listens on
``host:port``, accepts the one monitor that connects, and returns that connection as a
pyserial port (:class:`AcceptedSocketPort`: the same non-blocking reads and timed writes
as ``socket://``), which :class:`iabp.sim.console.SimulatedConsole` then uses like any
other port.

Only loopback and explicit addresses are accepted; ``0.0.0.0`` and ``::`` are refused so
a simulated console never offers telemetry to the whole network by accident.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable

from serial.urlhandler.protocol_socket import Serial as SocketSerial

from iabp.spec.errors import PortError

ACCEPT_POLL_S = 0.2  #: how often a waiting accept checks whether it should give up
WILDCARD_HOSTS = ("", "0.0.0.0", "::", "*")


class AcceptedSocketPort(SocketSerial):  # type: ignore[misc]  # pyserial has no stubs
    """pyserial's ``socket://`` port on a connection this side accepted, not dialled."""

    def __init__(self, connection: socket.socket, url: str, *, timeout_s: float,
                 write_timeout_s: float | None) -> None:
        self._accepted = connection
        super().__init__(None, timeout=timeout_s, write_timeout=write_timeout_s)
        self._port = url  # the name in messages; set without the setter (it would re-open)
        self.open()

    def open(self) -> None:
        """Adopt the accepted connection (pyserial's own ``open`` would dial ``port``)."""
        self.logger = None
        self._socket = self._accepted
        self._socket.setblocking(False)  # as pyserial's socket://: reads poll with select
        self._reconfigure_port()
        self.is_open = True
        self.reset_input_buffer()
        self.reset_output_buffer()


def parse_listen_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` for IPv6) as ``(host, port)``; :class:`PortError` if
    malformed, the port is out of 1-65535, or the host is a wildcard address."""
    host, sep, port_text = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise PortError(f"--listen {text!r}: expected HOST:PORT with a port in 1-65535, "
                        "e.g. 127.0.0.1:5555")
    if host in WILDCARD_HOSTS:
        raise PortError(f"--listen {text!r}: name the interface to listen on (e.g. 127.0.0.1); "
                        "a wildcard address would offer telemetry to the whole network")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if host != "localhost":
            raise PortError(f"--listen {text!r}: {host!r} is not an IP address") from None
    return host, int(port_text)


def accept_console_port(address: str, *, timeout_s: float, write_timeout_s: float | None,
                        on_listening: Callable[[str], None] = lambda _url: None,
                        give_up: Callable[[], bool] = lambda: False) -> AcceptedSocketPort:
    """Listen on ``address`` (``HOST:PORT``), wait for one connection, return it as a port.

    ``on_listening`` is told the ``socket://`` URL a monitor should open, once the socket
    listens; ``give_up()`` is polled while waiting (True: stop, :class:`PortError`). A
    port already in use or an address this machine does not have is a :class:`PortError`.
    """
    host, port = parse_listen_address(address)
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        server = socket.socket(family, socket.SOCK_STREAM)
    except OSError as exc:
        raise PortError(f"cannot listen on {address!r}: {exc}") from exc
    with server:
        try:
            server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            server.bind((host, port))
            server.listen(1)
        except OSError as exc:
            raise PortError(f"cannot listen on {address!r}: {exc.strerror or exc}") from exc
        url = f"socket://{address}"
        on_listening(url)
        server.settimeout(ACCEPT_POLL_S)
        while True:
            try:
                connection, _peer = server.accept()
                break
            except TimeoutError:
                if give_up():
                    raise PortError(f"nobody connected to {address!r}") from None
    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return AcceptedSocketPort(connection, url, timeout_s=timeout_s,
                              write_timeout_s=write_timeout_s)
