"""Shared helpers for the interlock and watchdog tests: pty pairs, TCP, child processes.

Run as a module (``python -m tests.monitor.helpers_pty heartbeat URL ...``) it is the
end-to-end tests' child process: a stand-in monitor whose main loop runs a
:class:`ByteHeartbeatInterlock` on a port opened by URL, exactly as the monitor does.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import queue
import select
import signal
import socket
import struct
import subprocess
import sys
import termios
import threading
import time
import tty
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


class FakeClock:
    """A monotonic ms clock the test moves by hand."""

    def __init__(self, start_ms: int = 0) -> None:
        self.now_ms = start_ms

    def __call__(self) -> int:
        return self.now_ms

    def advance(self, ms: int) -> None:
        self.now_ms += ms


class MasterPort:
    """The master end of a pty as a minimal port (read with timeout, in_waiting, write).

    A pty master cannot be opened by path, so the side of a test that holds it uses this
    instead of :func:`iabp.monitor.port.open_port`. Once every slave fd is closed, reads fail
    with EIO, as a real port does when the far end vanishes.
    """

    def __init__(self, fd: int, timeout_s: float = 0.005, name: str = "pty-master") -> None:
        self.fd = fd
        self.timeout_s = timeout_s
        self.port = name

    def read(self, size: int = 1, /) -> bytes:
        ready, _, _ = select.select([self.fd], [], [], self.timeout_s)
        return os.read(self.fd, size) if ready else b""

    @property
    def in_waiting(self) -> int:
        raw = fcntl.ioctl(self.fd, termios.FIONREAD, b"\0\0\0\0")
        return int(struct.unpack("I", raw)[0])

    def write(self, data: bytes, /) -> int:
        return os.write(self.fd, data)


class PtyPair:
    """A raw-mode pty pair: ``master`` fd, ``slave`` fd, and ``path``, the slave's name,
    usable as a port URL. A context manager; each fd is closed once, however it ends."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)

    def close_master(self) -> None:
        """Close the master end now (the far end of the wire vanishes)."""
        if self.master >= 0:
            os.close(self.master)
            self.master = -1

    def close_slave(self) -> None:
        """Close the test's own slave fd (others may still hold the slave open)."""
        if self.slave >= 0:
            os.close(self.slave)
            self.slave = -1

    def __enter__(self) -> PtyPair:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close_master()
        self.close_slave()


def pty_pair() -> PtyPair:
    """A new :class:`PtyPair` (use it in a ``with`` statement)."""
    return PtyPair()


def free_tcp_port() -> int:
    """A 127.0.0.1 TCP port number that nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class TcpRelay:
    """A relay box's network hop: forwards bytes from the first client to the second.

    Both the heartbeat sender and the watchdog connect as ``socket://`` clients, so both
    use the production code path. When the sender's connection ends (its process died),
    the relay closes the watchdog's connection too, as a real network hop does.
    """

    def __init__(self) -> None:
        self._server = socket.socket()
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(2)
        self._server.settimeout(10.0)
        self.url = f"socket://127.0.0.1:{self._server.getsockname()[1]}"
        self._conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            source, _ = self._server.accept()
            self._conns.append(source)
            sink, _ = self._server.accept()
            self._conns.append(sink)
        except OSError:
            return
        try:
            while data := source.recv(4096):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for conn in (sink, source):
                conn.close()

    def close(self) -> None:
        for conn in [*self._conns, self._server]:
            conn.close()
        self._thread.join(2.0)


class TcpServer:
    """A one-connection TCP server on 127.0.0.1 for open_port's socket:// tests."""

    def __init__(self) -> None:
        self._server = socket.socket()
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(1)
        self._server.settimeout(5.0)
        self.url = f"socket://127.0.0.1:{self._server.getsockname()[1]}"

    def accept(self) -> socket.socket:
        conn, _ = self._server.accept()
        conn.settimeout(5.0)
        return conn

    def close(self) -> None:
        self._server.close()


class LiveRig:
    """The live end-to-end rig: the simulated console streams telemetry in real time over a
    pty towards a monitor (``monitor_path``, for a child ``iabp monitor``), whose
    energise-to-run heartbeat comes back over a second pty (``relay_path``) to a watchdog
    (the relay box) running in this process; its state changes land in ``events``.
    A context manager: on exit the streams stop and every pty is closed (stop the child
    first)."""

    def __init__(self) -> None:
        from iabp.monitor.interlock import monotonic_ms
        from iabp.sim.console import SimulatedConsole
        from iabp.sim.demo import RELAY_TIMEOUT_MS, Pty, null_modem
        from iabp.sim.demo import MasterPort as RelayPort
        from iabp.sim.relay_box import WatchdogEvent, WatchdogRunner

        self.console_pty, monitor_pty, relay_pty = Pty(), Pty(), Pty()
        self._ptys = (self.console_pty, monitor_pty, relay_pty)
        self.monitor_path, self.relay_path = monitor_pty.path, relay_pty.path
        self.stop = threading.Event()
        self.events: list[WatchdogEvent] = []
        runner = WatchdogRunner(RelayPort(relay_pty.master), RELAY_TIMEOUT_MS,
                                clock=monotonic_ms, on_event=self.events.append)
        self.console = SimulatedConsole(self.console_pty.path)
        self._threads = [
            threading.Thread(target=null_modem, daemon=True,
                             args=(self.console_pty.master, monitor_pty.master, self.stop)),
            threading.Thread(target=runner.run, kwargs={"should_stop": self.stop.is_set},
                             daemon=True),
            threading.Thread(target=self._stream, daemon=True),
        ]
        for t in self._threads:
            t.start()

    def _stream(self) -> None:
        """Stream telemetry in real time until stopped; a vanished peer ends the stream."""
        try:
            while not self.stop.is_set():
                self.console.run(0.1, realtime=True)
        except Exception:  # noqa: BLE001 - the monitor side went away: the test decides
            self.stop.set()

    def close(self) -> None:
        self.stop.set()
        for t in self._threads:
            t.join(timeout=5)
        self.console.close()
        for p in self._ptys:
            p.close()

    def __enter__(self) -> LiveRig:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def python_env() -> dict[str, str]:
    """Environment for a child Python that imports the project from the repo root."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    return env


def start_heartbeat_child(
    url: str, period_ms: int, hang_after_ms: int | None = None
) -> subprocess.Popen[str]:
    """Start the stand-in monitor on ``url``; return once it printed READY."""
    cmd = [
        sys.executable,
        "-m",
        "tests.monitor.helpers_pty",
        "heartbeat",
        url,
        "--period",
        str(period_ms),
    ]
    if hang_after_ms is not None:
        cmd += ["--hang-after", str(hang_after_ms)]
    child = subprocess.Popen(
        cmd, cwd=REPO_ROOT, env=python_env(), stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    line = child.stdout.readline()
    if line.strip() != "READY":
        child.kill()
        child.wait()
        raise AssertionError(f"heartbeat child did not start: {line!r}")
    return child


def start_watchdog_cli(args: list[str]) -> subprocess.Popen[str]:
    """Run ``iabp watchdog ARGS`` (watchdog_main) as a child process, stdout piped."""
    code = "import sys; from iabp.sim.relay_box import watchdog_main; sys.exit(watchdog_main(sys.argv[1:]))"
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=REPO_ROOT,
        env=python_env(),
        stdout=subprocess.PIPE,
        text=True,
    )


class LineReader:
    """Reads a child's stdout lines on a thread, so a test can wait for the next line
    with a timeout (select on a buffered pipe would miss lines already buffered)."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        self._stdout = proc.stdout
        self._lines: queue.Queue[str] = queue.Queue()
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        try:
            for line in self._stdout:
                self._lines.put(line)
        except (OSError, ValueError):
            pass

    def next(self, timeout_s: float) -> str:
        """The next line, or "" if none arrives within ``timeout_s`` s."""
        try:
            return self._lines.get(timeout=timeout_s)
        except queue.Empty:
            return ""


def stop_process(proc: subprocess.Popen[str]) -> None:
    """Kill and reap a child whatever state it is in (also when stopped by SIGSTOP)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGCONT)
        proc.kill()
    proc.wait(5.0)
    if proc.stdout is not None:
        proc.stdout.close()


def _heartbeat_child(url: str, period_ms: int, hang_after_ms: int | None) -> int:
    """The stand-in monitor: open by URL, beat from the main loop, maybe hang."""
    from iabp.monitor.interlock import ByteHeartbeatInterlock, monotonic_ms
    from iabp.monitor.port import open_port

    port = open_port(url)
    interlock = ByteHeartbeatInterlock(port, period_ms=period_ms)
    start_ms = monotonic_ms()
    interlock.service(start_ms)
    print("READY", flush=True)
    while True:
        now_ms = monotonic_ms()
        if hang_after_ms is not None and now_ms - start_ms >= hang_after_ms:
            time.sleep(3600)  # the main loop is stuck: no service(), no heartbeat
        interlock.service(now_ms)
        time.sleep(0.002)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="helpers_pty")
    sub = parser.add_subparsers(dest="command", required=True)
    beat = sub.add_parser("heartbeat")
    beat.add_argument("url")
    beat.add_argument("--period", type=int, default=20)
    beat.add_argument("--hang-after", type=int, default=None)
    args = parser.parse_args(argv)
    return _heartbeat_child(args.url, args.period, args.hang_after)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
