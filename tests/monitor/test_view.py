"""``iabp view``: the live view shows what the monitor judged, on a console that misbehaves.

The simulated console (``iabp console``'s :class:`SimulatedConsole`) pumps with a
late-deflation fault from 6 s; the monitor watches it with its status feed on, its STOP
goes back to the console (which obeys: STANDBY), and the view receives the feed over UDP
on loopback and serves the page. The monitor's clock is a fake one that follows the
telemetry, so the run takes about two seconds and nothing depends on the host's speed.
Headless Chromium then renders the page and the screenshot must show the three traces,
the judged ejection windows and the SAFE STATE banner. ``IABP_UPDATE_DOCS_IMAGES=1``
writes that screenshot to docs/img/live_view.png (the README's).
"""

from __future__ import annotations

import http.client
import io
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from iabp.monitor.rules.base import RuleConfig
from iabp.monitor.runtime import Monitor
from iabp.monitor.status_feed import StatusFeed
from iabp.monitor.view import CSP, LiveState, LiveView, view_main
from iabp.sim.closed_loop import LoopConfig
from iabp.sim.console import SimulatedConsole
from tests.monitor.helpers_pty import REPO_ROOT, FakeClock

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
RUN_MS = 8500  #: console time of the run
FAULT_AT_MS = 6000  #: late deflation from here (the console inflates from about 3.6 s)
ROUND_MS = 10  #: console ticks per round trip between console and monitor
TRIP_TEXT = "MON-NO-GAS-IN-EJECTION: balloon still holding helium"
#: trace colours of view.js/view.css (RGB), and the banner's background
ECG_RGB, ABP_RGB, GAS_RGB, BANNER_RGB = (0, 200, 80), (220, 40, 40), (40, 110, 230), (160, 0, 0)


class ConsoleLink:
    """The cable: the monitor reads what the console sent, its commands reach the console."""

    def __init__(self, console: SimulatedConsole) -> None:
        self.console, self.buffer = console, bytearray()

    @property
    def in_waiting(self) -> int:
        return len(self.buffer)

    def read(self, size: int = 1, /) -> bytes:
        out = bytes(self.buffer[:size])
        del self.buffer[:size]
        return out

    def write(self, data: bytes, /) -> int:
        self.console.port.write(data)
        return len(data)

    def close(self) -> None:
        pass


class Bedside:
    """The simulated console and a monitor with ``feed``, joined by a :class:`ConsoleLink`,
    in lockstep: the monitor's fake clock follows console time, ``ROUND_MS`` at a time."""

    def __init__(self, feed: StatusFeed | None, fault: str | None = None,
                 fault_at_ms: int = FAULT_AT_MS, run_ms: int = RUN_MS) -> None:
        self.console = SimulatedConsole("loop://", LoopConfig(duration_ms=run_ms + 500),
                                        fault=fault, fault_at_ms=fault_at_ms)
        self.link, self.clock = ConsoleLink(self.console), FakeClock()
        self.mon = Monitor("sim://console", clock=self.clock, port=self.link,
                           out=io.StringIO(), status_feed=feed)
        self.mon.open()

    def run(self, ms: int, after_datagram: Callable[[int], object] = lambda seq: None) -> None:
        """``ms`` of console time; ``after_datagram(n)`` once the feed has sent n datagrams."""
        feed = self.mon.status_feed
        for _ in range(ms // ROUND_MS):
            self.console.run_ticks(ROUND_MS)
            self.link.buffer += self.console.port.read(self.console.port.in_waiting)
            sent = feed.seq if feed is not None else 0
            self.mon.step()
            self.clock.advance(ROUND_MS)
            if feed is not None and feed.seq != sent:
                after_datagram(feed.seq)

    def close(self) -> None:
        self.mon.close()
        self.console.close()


def wait_for(condition: Any, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def get(url: str, path: str, host: str | None = None) -> tuple[int, dict[str, str], bytes]:
    where = url.split("//")[1].rstrip("/")
    conn = http.client.HTTPConnection(where, timeout=5)
    try:
        conn.request("GET", path, headers={"Host": host} if host else {})
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def live() -> Iterator[tuple[LiveView, Monitor]]:
    """The faulty console, the monitor with its feed, the view: run once, view kept open."""
    view = LiveView(("127.0.0.1", 0), 0).start()
    bedside = Bedside(StatusFeed(view.udp_address, RuleConfig().onset_tolerance_ms),
                      "late-deflation")
    try:  # one datagram at a time: none lost on a busy host
        bedside.run(RUN_MS, lambda n: wait_for(lambda: view.state.received >= n))
        yield view, bedside.mon
    finally:
        bedside.close()
        view.close()


def state(view: LiveView) -> dict[str, Any]:
    status, _, body = get(view.url, "/state")
    assert status == 200
    parsed: dict[str, Any] = json.loads(body)
    return parsed


def test_the_view_shows_the_traces_marks_windows_rules_and_the_trip(
        live: tuple[LiveView, Monitor]) -> None:
    view, mon = live
    s = state(view)
    assert s["received"] >= RUN_MS // 250 - 1 and s["rejected"] == 0
    assert 0 <= mon.reconstruction.now_ms - s["t_ms"] <= 250 + ROUND_MS  # the last datagram
    # 8 s of each trace at 250 Hz, in mV and mmHg
    samples = s["samples"]
    assert len(samples["t_ms"]) >= 0.9 * s["history_ms"] / 4
    assert 0.3 < max(samples["ecg_mv"]) < 5 and 40 < min(samples["arterial_mmhg"]) < 120
    assert max(samples["balloon_mmhg"]) > 50  # inflations on the helium line
    # inflate and deflate commands, one window per own beat (80 bpm)
    kinds = [up for _, up in s["marks"]]
    assert kinds.count(1) >= 3 and kinds.count(0) >= 3
    assert len(s["windows"]) >= 8
    assert all(0 < b - a < 500 for a, b in s["windows"])
    # the rule that tripped is red, every rule is listed, the trip is the operator's sentence
    rules = {rule: (st, note) for rule, st, note in s["rules"]}
    assert len(rules) == len(mon.rules.rules)
    assert rules["MON-NO-GAS-IN-EJECTION"][0] == "violated"
    assert rules["MON-INFL-DIASTOLE"][0] == "ok"
    assert s["trip"]["message"].startswith(TRIP_TEXT) and s["trip"]["latched"]
    assert s["trip"]["message"] == mon.failsafe.trip.message()  # type: ignore[union-attr]
    assert s["status"]["safe_state"] and s["status"]["mode"] == "STANDBY"  # STOP obeyed


def test_the_windows_are_the_monitors_own_judgement(live: tuple[LiveView, Monitor]) -> None:
    """The trip's frame lies inside a window the view shows: the gas that tripped the
    monitor is drawn inside the shaded ejection window."""
    view, mon = live
    trip = mon.failsafe.first_trip
    assert trip is not None
    at_ms = int(trip.detail.split()[1])  # "at N ms of telemetry: ..."
    assert any(a <= at_ms < b for a, b in state(view)["windows"])


def test_the_server_serves_only_its_page_to_loopback_names(
        live: tuple[LiveView, Monitor]) -> None:
    view, _ = live
    status, headers, body = get(view.url, "/")
    assert status == 200 and b'src="/view.js"' in body
    assert headers["Content-Security-Policy"] == CSP and "default-src 'none'" in CSP
    assert b"http" not in get(view.url, "/view.js")[2].replace(b"http://127.0.0.1", b"")
    assert get(view.url, "/etc/passwd")[0] == 404
    assert get(view.url, "/state", host="evil.example:80")[0] == 403  # DNS rebinding


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_headless_chromium_draws_the_page(live: tuple[LiveView, Monitor],
                                          tmp_path: Path) -> None:
    view, _ = live
    shot = tmp_path / "live_view.png"
    cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--no-first-run", f"--user-data-dir={tempfile.mkdtemp(dir=tmp_path)}",
           f"--screenshot={shot}", "--window-size=1400,900", "--hide-scrollbars",
           "--virtual-time-budget=3000", view.url]
    subprocess.run(cmd, capture_output=True, timeout=120, check=False)
    assert shot.is_file()
    from PIL import Image

    with Image.open(shot) as im:
        rgb = np.asarray(im.convert("RGB"), dtype=np.int16)

    def pixels(colour: tuple[int, int, int], tol: int = 24) -> int:
        return int((np.abs(rgb - np.array(colour)).max(axis=2) <= tol).sum())

    assert pixels(ECG_RGB) > 1500 and pixels(ABP_RGB) > 1500 and pixels(GAS_RGB) > 800
    assert pixels(BANNER_RGB) > 20_000  # the SAFE STATE banner
    if os.environ.get("IABP_UPDATE_DOCS_IMAGES") == "1":
        shutil.copyfile(shot, REPO_ROOT / "docs" / "img" / "live_view.png")


# -- the state and the command --------------------------------------------------------------


def datagram(t_ms: int, **changes: Any) -> bytes:
    body = {"v": 1, "seq": 0, "t_ms": t_ms, "status": {"line": "watching"},
            "rules": [["MON-RATIO", "not judged", "no inflation observed yet"]], "trip": None,
            "samples": [[t_ms, 1000, 800, None]], "marks": [[t_ms, 1]],
            "windows": [[t_ms, t_ms + 300]], **changes}
    return json.dumps(body).encode()


def test_the_state_ignores_what_is_not_the_feed_and_keeps_its_history() -> None:
    s = LiveState(history_ms=1000, clock=lambda: 0.0)
    for bad in (b"\xff", b"[]", datagram(5, v=2), datagram(5, samples=[[5, 1.5, 0, 0]]),
                datagram(5, marks=[[None, 1]]), datagram(5, windows=[[1]]),
                datagram(5, seq="1"), datagram(5, rules=[["MON-RATIO", 1, None]]),
                datagram(5, status=None), datagram(5, trip={"cause": "no sentence"})):
        assert not s.ingest(bad)
    assert s.rejected == 10 and s.received == 0
    for seq, t in enumerate(range(0, 3000, 250)):
        if seq != 5:  # one lost on the way
            assert s.ingest(datagram(t, seq=seq))
    snap = s.snapshot()
    assert snap["received"] == 11 and snap["lost"] == 1 and snap["rejected"] == 10
    assert snap["rules"] == [["MON-RATIO", "not judged", "no inflation observed yet"]]
    assert snap["samples"]["t_ms"] == [1750, 2000, 2250, 2500, 2750]  # the last second only
    assert snap["samples"]["ecg_mv"][0] == 1.0 and snap["samples"]["balloon_mmhg"][0] is None
    assert s.ingest(datagram(10))  # telemetry time went back: a new session, history gone
    assert s.snapshot()["samples"]["t_ms"] == [10]
    assert s.ingest(datagram(20, samples=[[20, 0, 0, 0]] * 5000))  # a flood stays bounded
    assert len(s.snapshot()["samples"]["t_ms"]) == s.history_ms


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_iabp_view_runs_for_its_seconds(capsys: pytest.CaptureFixture[str]) -> None:
    assert view_main(["--udp", f"127.0.0.1:{free_udp_port()}", "--http-port", "0",
                      "--seconds", "0.2"]) == 0
    out = capsys.readouterr().out
    assert "open http://127.0.0.1:" in out and "0 status datagrams shown" in out


@pytest.mark.parametrize("argv, words", [
    (["--udp", "0.0.0.0:9750"], "not a loopback address"),
    (["--udp", "192.168.1.20:9750"], "not a loopback address"),
    (["--udp", "127.0.0.1"], "not HOST:PORT"),
    (["--http-port", "70000"], "not a TCP port"),
    (["--history", "0"], "seconds must be in"),
])
def test_bad_usage_is_one_line_and_exit_2(argv: list[str], words: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert view_main(argv) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


def test_a_port_in_use_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        assert view_main(["--udp", f"127.0.0.1:{port}", "--http-port", "0"]) == 2
    assert "cannot listen" in capsys.readouterr().err


def test_ctrl_c_is_exit_130(monkeypatch: pytest.MonkeyPatch,
                            capsys: pytest.CaptureFixture[str]) -> None:
    start = LiveView.start

    def interrupted(self: LiveView) -> LiveView:
        start(self)
        raise KeyboardInterrupt

    monkeypatch.setattr(LiveView, "start", interrupted)
    assert view_main(["--udp", f"127.0.0.1:{free_udp_port()}", "--http-port", "0"]) == 130
    assert "interrupted" in capsys.readouterr().err
