"""``iabp console --listen``: the console accepts the monitor's ``socket://`` connection."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from iabp.monitor.port import open_port
from iabp.sim.cli import console_main
from iabp.sim.listen_port import AcceptedSocketPort, accept_console_port, parse_listen_address
from iabp.spec.errors import PortError


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_monitor_side_connects_and_bytes_flow_both_ways() -> None:
    address = f"127.0.0.1:{free_port()}"
    listening = threading.Event()
    accepted: list[AcceptedSocketPort] = []
    t = threading.Thread(target=lambda: accepted.append(accept_console_port(
        address, timeout_s=0.0, write_timeout_s=0.5, on_listening=lambda _u: listening.set())))
    t.start()
    assert listening.wait(10)
    monitor_side = open_port(f"socket://{address}", timeout_s=0.5)
    t.join(10)
    console_side = accepted[0]
    try:
        assert console_side.port == f"socket://{address}"
        console_side.write(b"\x7etelemetry\x7e")
        got = b""
        deadline = time.monotonic() + 5
        while len(got) < 11 and time.monotonic() < deadline:
            got += monitor_side.read(64)
        assert got == b"\x7etelemetry\x7e"
        monitor_side.write(b"STOP")
        deadline = time.monotonic() + 5
        back = b""
        while len(back) < 4 and time.monotonic() < deadline:
            back += console_side.read(64)  # non-blocking: b"" until the bytes arrive
        assert back == b"STOP"
    finally:
        monitor_side.close()
        console_side.close()


@pytest.mark.parametrize("text", ["5555", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000",
                                  "0.0.0.0:5555", ":5555", "[::]:5555", "bedside:5555"])
def test_a_bad_or_wildcard_listen_address_is_refused(text: str) -> None:
    with pytest.raises(PortError, match="--listen"):
        parse_listen_address(text)


def test_waiting_gives_up_with_a_clear_error() -> None:
    with pytest.raises(PortError, match="nobody connected"):
        accept_console_port(f"127.0.0.1:{free_port()}", timeout_s=0.0, write_timeout_s=0.1,
                            give_up=lambda: True)


def test_console_cli_listen_errors_are_one_line_exit_2(capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    assert console_main(["--listen", "0.0.0.0:5555", "--seconds", "1"]) == 2
    assert console_main(["--listen", "127.0.0.1:1", "--port", "loop://"]) == 2  # one or other
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        address = f"127.0.0.1:{busy.getsockname()[1]}"
        assert console_main(["--listen", address, "--seconds", "1"]) == 2
    err = capsys.readouterr().err
    assert "wildcard" in err and "cannot listen" in err and "Traceback" not in err
