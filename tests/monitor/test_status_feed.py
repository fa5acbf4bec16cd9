"""The monitor's status feed (``iabp monitor --status-udp``): what it sends, and that it can
never hurt the real-time loop."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from iabp.monitor.cli import monitor_main
from iabp.monitor.failsafe import Cause, Trip
from iabp.monitor.protocol import NOT_AVAILABLE
from iabp.monitor.rules.base import WARMING_UP, RuleConfig
from iabp.monitor.rules.timing import NO_INFLATION_YET
from iabp.monitor.status_feed import (
    MAX_DATAGRAM_BYTES,
    MAX_SAMPLES,
    FeedAddressError,
    StatusFeed,
    loopback_address,
    rule_states,
)
from tests.monitor.test_view import Bedside


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A UDP socket on loopback standing in for the viewer."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(2.0)
        yield s


def received(s: socket.socket, n: int) -> list[dict[str, Any]]:
    return [json.loads(s.recv(65535)) for _ in range(n)]


@pytest.mark.parametrize("text, address", [
    ("127.0.0.1:9750", ("127.0.0.1", 9750)), ("localhost:1", ("127.0.0.1", 1)),
    ("127.8.9.10:0", ("127.8.9.10", 0)), ("[::1]:9750", ("::1", 9750)),
])
def test_loopback_addresses_are_taken(text: str, address: tuple[str, int]) -> None:
    assert loopback_address(text) == address


@pytest.mark.parametrize("text", ["0.0.0.0:9750", "192.168.1.20:9750", "[::]:9750",
                                  "example.com:9750", "127.0.0.1", "127.0.0.1:70000",
                                  ":9750", "127.0.0.1:-1"])
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(FeedAddressError):
        loopback_address(text)


def test_the_feed_says_what_cannot_be_judged_yet_then_sends_the_waveforms(
        listener: socket.socket) -> None:
    bedside = Bedside(StatusFeed(listener.getsockname(), RuleConfig().onset_tolerance_ms))
    try:
        bedside.run(4000)
    finally:
        bedside.close()
    grams = received(listener, 16)
    assert [g["seq"] for g in grams] == list(range(16))
    rules = {r: (state, note) for r, state, note in grams[2]["rules"]}  # 0.5 s in
    assert rules["MON-NO-GAS-IN-EJECTION"] == ("not judged", WARMING_UP)
    assert rules["MON-RATIO"] == ("not judged", NO_INFLATION_YET)
    assert rules["MON-STANDBY-DEFLATED"] == ("ok", None)
    late = {r: state for r, state, _ in grams[-1]["rules"]}  # 3.75 s: beats and inflations
    assert set(late.values()) == {"ok"}
    samples = [s for g in grams[1:] for s in g["samples"]]
    times = [s[0] for s in samples]
    assert all(b - a == 4 for a, b in zip(times, times[1:], strict=False))  # 250 Hz, no gap
    assert all(isinstance(x, int) for s in samples for x in s)  # raw units as on the wire
    assert any(g["windows"] for g in grams) and any(g["marks"] for g in grams)
    assert all(g["trip"] is None and not g["status"]["safe_state"] for g in grams)


@pytest.mark.parametrize("line_chars, all_samples_fit", [(200, True), (4000, False)])
def test_a_datagram_stays_under_its_bound(listener: socket.socket, line_chars: int,
                                          all_samples_fit: bool) -> None:
    """The widest samples fill the ring; with a status line of the usual length all fit,
    with an oversized one the oldest are dropped, never the datagram."""
    feed = StatusFeed(listener.getsockname())
    feed.samples.extend((4_000_000_000 + i, -32767, NOT_AVAILABLE, -4000)
                        for i in range(MAX_SAMPLES))
    bedside = Bedside(None)
    try:
        mon = bedside.mon
        feed.publish({"line": "x" * line_chars}, mon.rules, mon.reconstruction.valuation,
                     4_000_000_000, mon.failsafe)
    finally:
        bedside.close()
    data = listener.recv(65535)
    assert len(data) <= MAX_DATAGRAM_BYTES and feed.send_errors == 0
    samples = json.loads(data)["samples"]
    assert (len(samples) == MAX_SAMPLES) is all_samples_fit and samples
    assert samples[-1][0] == 4_000_000_000 + MAX_SAMPLES - 1  # the newest are kept
    assert samples[0][2] is None  # NOT_AVAILABLE is null


def test_a_feed_that_cannot_send_never_trips_the_monitor() -> None:
    feed = StatusFeed(("127.0.0.1", 9))
    feed.sock.close()  # every send fails
    bedside = Bedside(feed)
    try:
        bedside.run(2000)
    finally:
        bedside.close()
    assert not bedside.mon.failsafe.entered_ever and bedside.mon.reconstruction.frames == 2000
    assert feed.send_errors == feed.seq == 8  # one per status period, counted


def test_the_monitors_own_rules_behind_the_safe_state_are_listed() -> None:
    bedside = Bedside(None)
    mon = bedside.mon
    try:
        bedside.run(500)
        now = mon.clock()
        mon.failsafe.enter(Trip(Cause.TIME_COHERENCE, "lag", now, "MON-TIME-LAG"))
        mon.failsafe.enter(Trip(Cause.INTEGRITY, "crc", now + 1, "MON-INTEGRITY"))
        mon.failsafe.enter(Trip(Cause.PORT_LOST, "unplugged", now + 2))  # no rule: not listed
        assert mon.failsafe.latched
        states = rule_states(mon.rules, mon.reconstruction.valuation,
                             mon.reconstruction.now_ms, mon.failsafe)
    finally:
        bedside.close()
    assert len(states) == len(mon.rules.rules) + 2
    assert [s[:2] for s in states[-2:]] == [["MON-TIME-LAG", "violated"],
                                            ["MON-INTEGRITY", "violated"]]


def test_iabp_monitor_status_udp(listener: socket.socket,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    port = listener.getsockname()[1]
    assert monitor_main(["loop://", "--status-udp", f"127.0.0.1:{port}", "--seconds", "0.3"]) == 0
    first = received(listener, 1)[0]
    assert first["status"]["mode"] is None and "NO TELEMETRY" in first["status"]["line"]
    assert monitor_main(["loop://", "--status-udp", "0.0.0.0:9750"]) == 2
    err = capsys.readouterr().err
    assert "not a loopback address" in err and "Traceback" not in err
