"""``iabp view``: the live view beside the monitor, a local web page for the clinical engineer.

    iabp view [--udp HOST:PORT] [--http-port PORT] [--history S] [--seconds S]

Run ``iabp monitor URL --status-udp 127.0.0.1:9750`` and ``iabp view --udp 127.0.0.1:9750``,
then open http://127.0.0.1:8765/: scrolling ECG, arterial and balloon pressure, the
balloon's inflate (I) and deflate (D) commands, the ejection windows the monitor judged
(shaded: the balloon must hold no helium there), every rule's state, the status line,
the last trip in plain words and a SAFE STATE banner while the monitor is latched.

The view is its own process and only listens to the monitor's status datagrams
(:mod:`iabp.monitor.status_feed`), so it can never slow the monitor's real-time loop; a
datagram lost on the way leaves a gap in the traces, nothing more. Both the UDP port and
the web server are on loopback only (the page shows patient waveforms, unencrypted), the
server answers only requests addressed to 127.0.0.1 or localhost (no DNS rebinding), and
the page fetches nothing from the network (a Content-Security-Policy forbids it): it
works offline.

Exit status: 0 ran to ``--seconds``, 2 bad usage or a port that cannot be opened,
130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any, Final

from iabp.monitor.cli import feed_address, positive_seconds
from iabp.monitor.cli_args import ArgParser, parse_or_status
from iabp.monitor.status_feed import FEED_VERSION
from iabp.spec.errors import IabpError

DEFAULT_UDP: Final = "127.0.0.1:9750"  #: where ``iabp view`` listens for the monitor's feed
DEFAULT_HTTP_PORT: Final = 8765  #: the page: http://127.0.0.1:8765/
DEFAULT_HISTORY_S: Final = 8.0  #: seconds of telemetry the page shows
HTTP_HOST: Final = "127.0.0.1"
RECV_POLL_S: Final = 0.2  #: the receiver checks this often whether it should stop
MAX_DATAGRAM: Final = 65535
MAX_MARKS_SHOWN: Final = 1024  #: inflate/deflate marks and windows kept (8 s: about 40)
RECV_BUFFER_BYTES: Final = 1 << 20  #: asked for (the kernel may give less: net.core.rmem_max)
PAGE_FILES: Final = {"/": ("index.html", "text/html; charset=utf-8"),
                     "/index.html": ("index.html", "text/html; charset=utf-8"),
                     "/view.js": ("view.js", "text/javascript; charset=utf-8"),
                     "/view.css": ("view.css", "text/css; charset=utf-8")}
#: the page may load its own script and style and fetch /state from this server; nothing else
CSP: Final = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
              "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


class DatagramError(IabpError):
    """A datagram that is not the monitor's status feed (ignored and counted)."""


def _scaled(x: Any, scale: float) -> float | None:
    if x is None:
        return None
    if isinstance(x, bool) or not isinstance(x, int):
        raise DatagramError(f"sample {x!r} is not an integer")
    return round(x * scale, 3)


def _int(x: Any) -> int:
    if isinstance(x, bool) or not isinstance(x, int):
        raise DatagramError(f"{x!r} is not an integer")
    return x


def _shown(body: dict[str, Any]) -> dict[str, Any]:
    """The status, rules and trip of a datagram, checked to have the shape the page reads."""
    status, rules, trip = body.get("status"), body["rules"], body.get("trip")
    if not isinstance(status, dict) or not isinstance(status.get("line", ""), str):
        raise DatagramError("no status")
    if not all(isinstance(r, list) and len(r) == 3 and isinstance(r[0], str)
               and isinstance(r[1], str) and isinstance(r[2], (str, type(None))) for r in rules):
        raise DatagramError("rules are not [id, state, note] lists")
    if trip is not None and not (isinstance(trip, dict) and isinstance(trip.get("message"), str)):
        raise DatagramError("a trip without its sentence")
    return {"status": status, "rules": rules, "trip": trip,
            "send_errors": _int(body.get("send_errors", 0))}


class LiveState:
    """The last ``history_ms`` of the monitor's feed (by telemetry time), what the page shows.

    :meth:`ingest` takes one datagram (from the receiver thread), :meth:`snapshot` gives
    the page's JSON (from the server's threads); a lock keeps the two apart. ``clock``
    (monotonic s) dates the last datagram, so the page can say when the feed stopped.
    """

    def __init__(self, history_ms: int = int(DEFAULT_HISTORY_S * 1000),
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.history_ms = history_ms
        self.clock = clock
        self.lock = threading.Lock()
        # bounded whatever a sender on this machine sends: at most one sample per ms
        self.samples: deque[tuple[int, float | None, float | None, float | None]] = deque(
            maxlen=history_ms)
        self.marks: deque[tuple[int, int]] = deque(maxlen=MAX_MARKS_SHOWN)
        self.windows: deque[tuple[int, int]] = deque(maxlen=MAX_MARKS_SHOWN)
        self.latest: dict[str, Any] = {}
        self.t_ms: int | None = None
        self.seq: int | None = None  #: of the last datagram
        self.received = 0  #: datagrams taken
        self.rejected = 0  #: datagrams that were not the feed
        self.lost = 0  #: datagrams missing between those received (gaps in ``seq``)
        self.received_at: float | None = None

    def ingest(self, data: bytes) -> bool:
        """Take one datagram; False (counted in :attr:`rejected`) if it is not the feed."""
        try:
            body = json.loads(data)
            if not isinstance(body, dict) or body.get("v") != FEED_VERSION:
                raise DatagramError("not a status feed datagram of this version")
            t_ms = _int(body["t_ms"])
            samples = [(_int(t), _scaled(e, 0.001), _scaled(a, 0.1), _scaled(b, 0.1))
                       for t, e, a, b in body["samples"]]
            marks = [(_int(t), 1 if up else 0) for t, up in body["marks"]]
            windows = [(_int(a), _int(b)) for a, b in body["windows"]]
            seq = _int(body["seq"])
            latest = _shown(body)
        except (DatagramError, ValueError, TypeError, KeyError):
            with self.lock:
                self.rejected += 1
            return False
        with self.lock:
            if self.t_ms is not None and t_ms < self.t_ms - self.history_ms:
                self._forget()  # telemetry time went back: a new monitor session
            elif self.seq is not None and seq > self.seq:
                self.lost += seq - self.seq - 1
            self.seq = seq
            self.samples.extend(samples)
            self.marks.extend(marks)
            self.windows.extend(windows)
            self.latest, self.t_ms = latest, t_ms
            self.received += 1
            self.received_at = self.clock()
            self._trim(t_ms - self.history_ms)
        return True

    def _forget(self) -> None:
        self.samples.clear()
        self.marks.clear()
        self.windows.clear()

    def _trim(self, cutoff_ms: int) -> None:
        for ring in (self.samples, self.marks):
            while ring and ring[0][0] < cutoff_ms:
                ring.popleft()
        while self.windows and self.windows[0][1] < cutoff_ms:
            self.windows.popleft()

    def snapshot(self) -> dict[str, Any]:
        """The page's ``/state``: traces in mV and mmHg, marks, windows, status, rules, trip."""
        with self.lock:
            t, ecg, abp, gas = (list(c) for c in zip(*self.samples, strict=True)) \
                if self.samples else ([], [], [], [])
            age = None if self.received_at is None else round(self.clock() - self.received_at, 2)
            return {"t_ms": self.t_ms, "history_ms": self.history_ms,
                    "received": self.received, "rejected": self.rejected, "lost": self.lost,
                    "feed_age_s": age,
                    "samples": {"t_ms": t, "ecg_mv": ecg, "arterial_mmhg": abp,
                                "balloon_mmhg": gas},
                    "marks": list(self.marks), "windows": list(self.windows),
                    **{k: self.latest.get(k) for k in ("status", "rules", "trip",
                                                       "send_errors")}}


def _page_file(name: str) -> bytes:
    return (resources.files("iabp.monitor") / "view-page" / name).read_bytes()


class _Handler(BaseHTTPRequestHandler):
    """GET the page, its script and style, and ``/state``; only for loopback Host names."""

    server: _ViewServer
    server_version = "iabp-view"
    sys_version = ""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        port = self.server.server_address[1]
        host = (self.headers.get("Host") or "").lower()
        if host not in (f"127.0.0.1:{port}", f"localhost:{port}", "127.0.0.1", "localhost"):
            self._send(403, b"forbidden: open the view as http://127.0.0.1/\n",
                       "text/plain; charset=utf-8")
            return
        path = self.path.split("?", 1)[0]
        if path == "/state":
            body = json.dumps(self.server.state.snapshot(), separators=(",", ":")).encode()
            self._send(200, body, "application/json")
        elif path in PAGE_FILES:
            name, kind = PAGE_FILES[path]
            self._send(200, _page_file(name), kind)
        else:
            self._send(404, b"not found\n", "text/plain; charset=utf-8")

    def _send(self, code: int, body: bytes, kind: str) -> None:
        self.send_response(code)
        for key, value in (("Content-Type", kind), ("Content-Length", str(len(body))),
                           ("Content-Security-Policy", CSP), ("Cache-Control", "no-store"),
                           ("X-Content-Type-Options", "nosniff"),
                           ("Referrer-Policy", "no-referrer")):
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base's name)
        pass  # a page polling 4 times a second would flood the terminal


class _ViewServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, state: LiveState) -> None:
        super().__init__((HTTP_HOST, port), _Handler)
        self.state = state


class LiveView:
    """The view's two threads: the feed's UDP receiver and the local web server.

    ``udp``: the loopback address to listen on (port 0: any free one, see
    :attr:`udp_address`); ``http_port``: the page's port on 127.0.0.1 (0: any free one, see
    :attr:`url`). Raises OSError if either cannot be bound.
    """

    def __init__(self, udp: tuple[str, int], http_port: int = DEFAULT_HTTP_PORT,
                 state: LiveState | None = None) -> None:
        self.state = state if state is not None else LiveState()
        family = socket.AF_INET6 if ":" in udp[0] else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            # room for a burst of datagrams while a thread of this process is busy
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECV_BUFFER_BYTES)
            self.sock.bind(udp)
            self.sock.settimeout(RECV_POLL_S)
            self.server = _ViewServer(http_port, self.state)
        except OSError:
            self.sock.close()
            raise
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._receive, daemon=True, name="view-udp"),
                        threading.Thread(target=self.server.serve_forever, args=(RECV_POLL_S,),
                                         daemon=True, name="view-http")]

    @property
    def udp_address(self) -> tuple[str, int]:
        host, port = self.sock.getsockname()[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        return f"http://{HTTP_HOST}:{self.server.server_address[1]}/"

    def start(self) -> LiveView:
        for t in self.threads:
            t.start()
        return self

    def _receive(self) -> None:
        while not self.stop.is_set():
            try:
                data = self.sock.recv(MAX_DATAGRAM)
            except TimeoutError:
                continue
            except OSError:
                return
            self.state.ingest(data)

    def close(self) -> None:
        self.stop.set()
        if self.threads[1].is_alive():
            self.server.shutdown()
        self.server.server_close()
        for t in self.threads:
            if t.is_alive():
                t.join(2.0)
        self.sock.close()

    def __enter__(self) -> LiveView:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- iabp view ------------------------------------------------------------------------------


def _http_port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"not a TCP port: {text!r} (0..65535; 0: any free)")
    return int(text)


def _view_parser() -> ArgParser:
    p = ArgParser(prog="iabp view", description="The live view: a local web page showing "
                  "what a running monitor sees (its --status-udp feed).")
    p.add_argument("--udp", type=feed_address, default=feed_address(DEFAULT_UDP),
                   metavar="HOST:PORT", help=f"where the monitor's --status-udp sends "
                   f"(loopback only; default {DEFAULT_UDP})")
    p.add_argument("--http-port", type=_http_port, default=DEFAULT_HTTP_PORT, metavar="PORT",
                   help=f"the page's port on {HTTP_HOST} (default {DEFAULT_HTTP_PORT}; "
                   "0: any free port)")
    p.add_argument("--history-s", "--history", dest="history", type=positive_seconds,
                   default=DEFAULT_HISTORY_S,
                   metavar="S", help=f"seconds of telemetry on screen (default "
                   f"{DEFAULT_HISTORY_S:g})")
    p.add_argument("--seconds", type=positive_seconds, default=None,
                   help="stop after S seconds (default: until Ctrl-C)")
    return p


def view_main(argv: list[str]) -> int:
    """``iabp view``: 0 ran to ``--seconds``, 2 bad usage or a port in use, 130 Ctrl-C."""
    a = parse_or_status(_view_parser(), argv)
    if isinstance(a, int):
        return a
    try:
        view = LiveView(a.udp, a.http_port, LiveState(int(a.history * 1000)))
    except OSError as exc:
        print(f"iabp view: cannot listen on udp {_where(a.udp)} or tcp "
              f"{HTTP_HOST}:{a.http_port}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    host, port = view.udp_address
    print(f"iabp view: listening for 'iabp monitor URL --status-udp {_where((host, port))}'; "
          f"open {view.url} (Ctrl-C to stop)", flush=True)
    try:
        view.start()
        view.stop.wait(a.seconds)
    except KeyboardInterrupt:
        print("iabp view: interrupted", file=sys.stderr)
        return 130
    finally:
        view.close()
    print(f"iabp view: {view.state.received} status datagrams shown, "
          f"{view.state.rejected} ignored")
    return 0


def _where(address: tuple[str, int]) -> str:
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

