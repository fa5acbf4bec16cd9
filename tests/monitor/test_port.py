"""open_port: every port by URL, every failure a PortError naming the URL (REQ-MON-FAILSAFE)."""

from __future__ import annotations

import os

import pytest
import serial

from iabp.monitor.port import is_port_vanished, open_port, port_errors, port_lost, port_url
from iabp.spec.errors import IabpError, PortError
from tests.monitor.helpers_pty import TcpServer, free_tcp_port, pty_pair


def test_loop_url_round_trips_bytes() -> None:
    port = open_port("loop://", timeout_s=0.1)
    try:
        port.write(b"\x55\x55")
        assert port.read(2) == b"\x55\x55"
        assert port_url(port) == "loop://"
    finally:
        port.close()


def test_socket_url_reaches_a_local_tcp_server() -> None:
    server = TcpServer()
    try:
        port = open_port(server.url, timeout_s=1.0)
        conn = server.accept()
        try:
            port.write(b"U")
            assert conn.recv(1) == b"U"
            conn.sendall(b"T")
            assert port.read(1) == b"T"
        finally:
            conn.close()
            port.close()
    finally:
        server.close()


def test_pty_slave_path_is_a_port_url() -> None:
    with pty_pair() as pty:
        path = pty.path
        port = open_port(path, timeout_s=0.5)
        try:
            port.write(b"U")
            assert os.read(pty.master, 1) == b"U"
            os.write(pty.master, b"T")
            assert port.read(1) == b"T"
        finally:
            port.close()


@pytest.mark.parametrize(
    "url",
    ["nosuchscheme://x", "/dev/iabp-no-such-device", "", "loop://?bogus=1"],
)
def test_bad_url_raises_port_error_with_url(url: str) -> None:
    """Also guards pyserial 3.5's loop:// option parser, which raises KeyError, not SerialException."""
    with pytest.raises(PortError) as info:
        open_port(url)
    assert repr(url) in str(info.value)
    assert isinstance(info.value, IabpError)


def test_refused_socket_raises_port_error_with_cause() -> None:
    url = f"socket://127.0.0.1:{free_tcp_port()}"
    with pytest.raises(PortError, match="refused|Could not open") as info:
        open_port(url)
    assert url in str(info.value)
    assert info.value.__cause__ is not None


def test_port_errors_turns_vanished_port_into_port_error() -> None:
    lost = "'loop://' lost during telemetry read: OSError"
    with pytest.raises(PortError, match=lost), port_errors("loop://", "telemetry read"):
        raise OSError(5, "Input/output error")
    gone = "SerialException: socket disconnected"
    with pytest.raises(PortError, match=gone), port_errors("socket://x:1", "heartbeat write"):
        raise serial.SerialException("socket disconnected")


def test_port_errors_leaves_programming_errors_alone() -> None:
    with pytest.raises(KeyError), port_errors("loop://", "read"):
        raise KeyError("not a port fault")


def test_vanished_classification() -> None:
    assert is_port_vanished(OSError(5, "EIO"))
    assert is_port_vanished(serial.SerialTimeoutException("Write timeout"))
    assert not is_port_vanished(ValueError("bad frame"))
    assert "lost during write" in str(port_lost("/dev/ttyUSB0", "write", OSError("gone")))


def test_pty_whose_peer_closed_reports_port_error_on_write() -> None:
    """Regression guard: a pulled cable must surface as PortError, not a raw OSError."""
    with pty_pair() as pty:
        path = pty.path
        port = open_port(path)
        try:
            pty.close_master()
            with pytest.raises(PortError), port_errors(path, "heartbeat write"):
                port.write(b"U")
        finally:
            port.close()
