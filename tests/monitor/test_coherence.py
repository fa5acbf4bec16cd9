"""Issue 9, item 1: time coherence. The monitor never judges stale, replayed or frozen
telemetry without saying so, and names its own stalls honestly.

Every stream here is the simulated console's (``iabp.sim.console.SimulatedConsole``) or a
byte-exact rewrite of it, delivered by a port whose bytes become readable as a function of
a FAKE monitor clock, so the tests do not depend on the load of the machine:

- :class:`TimedPort` with :func:`real_time` models a console ticking at 1 kHz (optionally
  with a crystal off by some ppm) on the 921 600 baud line: each frame is readable from the
  moment its tick happened;
- :func:`line_rate` models a line carrying a fixed number of bytes per ms (16: half of
  what the console needs; 1120: a replay at 35 000 frames/s).
"""

from __future__ import annotations

import dataclasses
import io
import json
import random
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pytest

from iabp.monitor.audit_log import verify_log
from iabp.monitor.coherence import (
    CLOCK_FROZEN_FRAMES,
    FRAME_RATE_MIN_FRAMES,
    LAG_BOUND_MS,
    MONITOR_STALL_MS,
    STARTUP_BACKLOG_MS,
    CoherenceBounds,
    TimeCoherence,
)
from iabp.monitor.failsafe import Cause, Trip
from iabp.monitor.protocol import UINT32_MOD, decode_payload, encode_frame, unescape
from iabp.monitor.runtime import Monitor, MonitorConfig
from tests.monitor.helpers_pty import FakeClock
from tests.monitor.test_reconstruct import console_bytes

# -- ports driven by the fake clock ---------------------------------------------------------


def split_frames(data: bytes) -> list[tuple[bytes, int]]:
    """``data`` (whole frames, as the console wrote them) as (wire bytes, console time)."""
    out = []
    for part in data.split(b"\x7e"):
        if part:
            frame = decode_payload(unescape(part))
            out.append((b"\x7e" + part + b"\x7e", frame.time_ms))
    return out


def join_frames(frames: list[tuple[bytes, int]]) -> bytes:
    return b"".join(w for w, _ in frames)


class TimedPort:
    """A console port whose first ``release(now)`` bytes are readable at monitor time now."""

    def __init__(self, data: bytes, clock: FakeClock, release: Callable[[int], int],
                 chunk: int = 4096) -> None:
        self.data, self.clock, self.release, self.chunk = data, clock, release, chunk
        self.pos = 0
        self.written = bytearray()

    def _ready(self) -> int:
        return max(0, min(len(self.data), self.release(self.clock())) - self.pos)

    @property
    def in_waiting(self) -> int:
        return min(self.chunk, self._ready())

    def read(self, size: int = 1, /) -> bytes:
        n = min(size, self._ready())
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def write(self, data: bytes, /) -> int:
        self.written += data
        return len(data)

    def close(self) -> None:
        pass

    @property
    def done(self) -> bool:
        return self.pos >= len(self.data)


def real_time(data: bytes | list[tuple[bytes, int]], start_ms: int, ppm: float = 0.0
              ) -> Callable[[int], int]:
    """A 1 kHz console from ``start_ms`` on a fast line: a frame is readable once its tick
    has happened (``data``'s frames, or (wire bytes, tick) pairs); ``ppm`` > 0 is a console
    crystal running fast."""
    ends, times, pos = [], [], 0
    frames = split_frames(data) if isinstance(data, bytes) else data
    t0 = frames[0][1]
    for wire, t in frames:
        pos += len(wire)
        ends.append(pos)
        times.append((t - t0) % UINT32_MOD)
    scale = 1.0 + ppm * 1e-6

    def release(now: int) -> int:
        console_now = (now - start_ms) * scale
        lo, hi = 0, len(times)  # frames whose tick is <= console_now
        while lo < hi:
            mid = (lo + hi) // 2
            if times[mid] <= console_now:
                lo = mid + 1
            else:
                hi = mid
        return ends[lo - 1] if lo else 0

    return release


def line_rate(start_ms: int, bytes_per_ms: int) -> Callable[[int], int]:
    """A line that carries ``bytes_per_ms`` whatever the console sends."""
    return lambda now: max(0, now - start_ms) * bytes_per_ms


def drive(data: bytes, release_of: Callable[[int], Callable[[int], int]], *,
          ms: int | None = None, step: Callable[[], int] = lambda: 1,
          config: MonitorConfig | None = None, log: Path | None = None,
          until: Callable[[Monitor], bool] = lambda m: False) -> Monitor:
    """Run a Monitor on ``data`` through a :class:`TimedPort` until it is read (or ``ms``
    of monitor time pass, or ``until``), the fake clock advancing ``step()`` ms per pass."""
    clock = FakeClock(1000)
    port = TimedPort(data, clock, release_of(clock()))
    mon = Monitor("timed://test", None, log, clock=clock, port=port, out=io.StringIO(),
                  config=config)
    mon.open()
    end = None if ms is None else clock() + ms
    while not port.done and (end is None or clock() < end) and not until(mon):
        mon.step()
        clock.advance(step())
    return mon


def first_trip(mon: Monitor) -> Trip:
    trip = mon.failsafe.first_trip
    assert trip is not None, "the monitor did not trip"
    return trip


def no_trip(mon: Monitor) -> None:
    assert not mon.failsafe.entered_ever, [t.message() for t in mon.failsafe.trips]


@cache
def clean(seconds: float = 8.0) -> bytes:
    return console_bytes(seconds)


# -- correct telemetry never fires a time-coherence rule -----------------------------------


@pytest.mark.property("REQ-MON-FAILSAFE")
@pytest.mark.parametrize("ppm", [0.0, 450.0, -450.0])
def test_a_clean_console_in_real_time_raises_nothing(ppm: float) -> None:
    mon = drive(clean(), lambda s: real_time(clean(), s, ppm))
    no_trip(mon)
    assert mon.reconstruction.frames > 7900
    assert mon.coherence.lag_ms is not None and mon.coherence.lag_ms < 10


@pytest.mark.property("REQ-MON-FAILSAFE")
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_clean_console_read_in_bursts_raises_nothing(seed: int) -> None:
    """The loop runs late by up to 45 ms (below the stall bound) at random: frames arrive
    in bursts of up to 45, the lag moves, nothing fires."""
    rng = random.Random(seed)
    mon = drive(clean(), lambda s: real_time(clean(), s),
                step=lambda: rng.choice([1, 1, 1, 2, 5, 10, 20, MONITOR_STALL_MS - 5]))
    no_trip(mon)
    assert mon.longest_pass_gap_ms <= MONITOR_STALL_MS


@pytest.mark.property("REQ-MON-FAILSAFE")
def test_a_start_up_backlog_within_the_allowance_raises_nothing() -> None:
    """The port already holds 400 ms of frames when the monitor starts reading."""
    mon = drive(clean(), lambda s: real_time(clean(), s - 400))
    no_trip(mon)


def test_console_time_wrapping_at_2_32_is_one_ms_step() -> None:
    start = UINT32_MOD - 1500
    frames = [(encode_frame(dataclasses.replace(decode_payload(unescape(w[1:-1])),
                                                time_ms=(t + start) % UINT32_MOD)), t)
              for w, t in split_frames(clean())[:4000]]
    data = join_frames(frames)
    assert decode_payload(unescape(split_frames(data)[-1][0][1:-1])).time_ms < 3000
    mon = drive(data, lambda s: real_time(data, s))
    assert all(t.rule_id is None or not t.rule_id.startswith(("MON-TIME", "MON-CLOCK",
                                                              "MON-FRAME"))
               for t in mon.failsafe.trips), [t.message() for t in mon.failsafe.trips]
    assert mon.coherence.lag_ms is not None and mon.coherence.lag_ms < 10


def test_the_unit_never_fires_on_ten_minutes_at_the_drift_limit() -> None:
    """TimeCoherence alone: 600 s of 1 kHz frames, console 900 ppm slow, then 900 ppm fast,
    read in batches of 1..40 frames: no finding."""
    for ppm in (-900.0, 900.0):
        coh, t, now, rng = TimeCoherence(), 0, 0.0, random.Random(4)
        while t < 600_000:
            n = rng.randint(1, 40)
            for _ in range(n):
                coh.frame(t % UINT32_MOD)
                t += 1
            now += n / (1 + ppm * 1e-6)
            assert coh.check(int(now)) is None, (ppm, t)


# -- MON-TIME-LAG -------------------------------------------------------------------------


@pytest.mark.property("REQ-MON-FAILSAFE")
def test_a_half_rate_line_trips_on_lag_before_the_fault_is_judged() -> None:
    """The user's report: the line carries half the bytes the console sends (16 of 32 per
    ms); the early inflation at 3.0 s of console time would be judged 6 s late. The lag
    trips within a quarter of a second instead, and names it."""
    data = console_bytes(4.0, "early-inflation", 3000)
    mon = drive(data, lambda s: line_rate(s, 16), ms=2000)
    trip = first_trip(mon)
    assert trip.cause is Cause.TIME_COHERENCE and trip.rule_id == "MON-TIME-LAG"
    assert trip.at_ms - 1000 < 300  # monitor ms after the start
    msg = trip.message()
    assert msg.startswith("MON-TIME-LAG: the monitor is ")
    assert f"ms behind the console (limit {LAG_BOUND_MS})" in msg
    assert "slower than real time" in msg
    assert mon.failsafe.latched and mon.failsafe.exit_status == 1


@pytest.mark.property("REQ-MON-FAILSAFE")
def test_a_replay_at_35000_frames_per_second_trips_on_lag() -> None:
    data = clean()
    mon = drive(data, lambda s: line_rate(s, 35 * 32), ms=1000)
    trip = first_trip(mon)
    assert trip.cause is Cause.TIME_COHERENCE and trip.rule_id == "MON-TIME-LAG"
    assert "ahead of the monitor's clock" in trip.message()
    assert "faster than real time" in trip.message()
    assert trip.at_ms - 1000 < 50


@pytest.mark.property("REQ-MON-FAILSAFE")
def test_a_console_clock_running_fast_after_start_up_trips_on_lag() -> None:
    """Twice as fast as real time, from the start: caught in the start-up grace, once the
    backlog allowance is used up (500 ms of console time ahead)."""
    mon = drive(clean(), lambda s: real_time(clean(), s, ppm=1e6), ms=3000)
    trip = first_trip(mon)
    assert trip.rule_id == "MON-TIME-LAG" and "during start-up" in trip.message()
    assert STARTUP_BACKLOG_MS <= trip.at_ms - 1000 <= STARTUP_BACKLOG_MS + 50


def test_after_the_grace_the_ahead_bound_is_the_lag_bound() -> None:
    """TimeCoherence alone: correct for 2 s, then 25 % fast: ahead > 100 ms + drift after
    about 400 ms."""
    coh, t, now = TimeCoherence(), 0, 0.0
    found = None
    while found is None and now < 10_000:
        coh.frame(t)
        t += 1
        now += 1.0 if t < 2000 else 0.8
        found = coh.check(int(now))
    assert found is not None and found.rule_id == "MON-TIME-LAG"
    assert "direction=ahead" in found.detail and "start_up=False" in found.detail
    assert 2000 + 350 < now < 2000 + 450


def test_a_start_up_backlog_beyond_the_allowance_trips() -> None:
    mon = drive(clean(), lambda s: real_time(clean(), s - 2 * STARTUP_BACKLOG_MS), ms=2000)
    assert first_trip(mon).rule_id == "MON-TIME-LAG"


# -- MON-CLOCK-FROZEN ------------------------------------------------------------------------


def frozen_clock(data: bytes, from_ms: int, for_ms: int) -> list[tuple[bytes, int]]:
    """``data``'s frames with console time stuck at ``from_ms`` for ``for_ms`` ticks (frames
    keep coming each tick, sequence numbers keep counting), then running on; each with the
    tick it is sent in."""
    out = []
    for wire, t in split_frames(data):
        if from_ms <= t < from_ms + for_ms:
            frame = decode_payload(unescape(wire[1:-1]))
            wire = encode_frame(dataclasses.replace(frame, time_ms=from_ms))
        out.append((wire, t))
    return out


@pytest.mark.property("REQ-MON-FAILSAFE")
def test_a_frozen_console_clock_trips() -> None:
    """The user's report: time_ms stuck for 5 s raised nothing (exit 0)."""
    frames = frozen_clock(clean(), 2000, 5000)
    mon = drive(join_frames(frames), lambda s: real_time(frames, s), ms=4000)
    trip = first_trip(mon)
    assert trip.cause is Cause.TIME_COHERENCE and trip.rule_id == "MON-CLOCK-FROZEN"
    assert 2000 <= trip.at_ms - 1000 <= 2000 + CLOCK_FROZEN_FRAMES + 5
    assert trip.message().startswith("MON-CLOCK-FROZEN: console time stuck at 2000 ms for ")
    assert mon.failsafe.exit_status == 1


def test_a_slowly_repeating_stuck_clock_trips_on_monitor_time() -> None:
    """TimeCoherence alone: one frame every 15 ms, all with the same time: fewer than 20
    frames, but more than 20 ms of monitor time without console time advancing."""
    coh = TimeCoherence()
    for t in range(100):
        coh.frame(t)
        assert coh.check(t) is None
    found = None
    for k in range(1, 5):
        coh.frame(99)
        found = found or coh.check(99 + 15 * k)
    assert found is not None and found.rule_id == "MON-CLOCK-FROZEN"
    assert "repeated_frames=2" in found.detail


# -- MON-FRAME-RATE --------------------------------------------------------------------------


@pytest.mark.property("REQ-MON-FAILSAFE")
def test_the_frame_rate_floor_trips_when_the_lag_rule_is_out_of_the_way() -> None:
    """The backstop on its own: the half-rate line with the lag bound set to a minute."""
    config = MonitorConfig(coherence=CoherenceBounds(lag_ms=60_000))
    mon = drive(clean(), lambda s: line_rate(s, 16), ms=3000, config=config)
    trip = first_trip(mon)
    assert trip.cause is Cause.TIME_COHERENCE and trip.rule_id == "MON-FRAME-RATE"
    assert 1000 <= trip.at_ms - 1000 <= 1100  # judged once the first full window is in
    assert trip.message().startswith("MON-FRAME-RATE: ")
    assert f"(at least {FRAME_RATE_MIN_FRAMES} needed" in trip.message()


def test_each_rule_reports_once_until_reset() -> None:
    coh = TimeCoherence()
    for _ in range(30):
        coh.frame(0)
    assert coh.check(0) is not None  # frozen at the first check
    for _ in range(30):
        coh.frame(0)
    assert coh.check(30) is None  # already reported
    coh.reset()
    for _ in range(30):
        coh.frame(0)
    assert coh.check(60) is not None


# -- the monitor's own stalls ----------------------------------------------------------------


@pytest.mark.property("REQ-MON-FAILSAFE")
def test_a_monitor_stall_is_named_as_such_and_still_fails_safe(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    stalled = {"done": False}

    def step() -> int:
        if mon_ref and mon_ref[0].reconstruction.frames > 3000 and not stalled["done"]:
            stalled["done"] = True
            return 180
        return 1

    mon_ref: list[Monitor] = []
    clock = FakeClock(1000)
    data = clean()
    port = TimedPort(data, clock, real_time(data, clock()))
    mon = Monitor("timed://test", None, log, clock=clock, port=port, out=io.StringIO())
    mon_ref.append(mon)
    mon.open()
    while not port.done and clock() < 6000:
        mon.step()
        clock.advance(step())
    trip = first_trip(mon)
    assert trip.cause is Cause.MONITOR_STALL
    assert trip.message().startswith("monitor stalled 180 ms: host overloaded")
    assert "telemetry silence" not in trip.message()
    assert mon.failsafe.latched and mon.failsafe.exit_status == 1
    summary = mon.summary()
    assert summary["first_trip"]["cause"] == "MONITOR_STALL"
    assert "SILENCE" not in [t["cause"] for t in summary["trips"]]
    mon.close()
    records = [json.loads(line) for line in log.read_text().splitlines()]
    safe = next(r for r in records if r["type"] == "safe_state")
    assert safe["payload"]["trip"]["cause"] == "MONITOR_STALL"
    assert "monitor stalled 180 ms: host overloaded" in safe["payload"]["trip"]["message"]
    end = next(r for r in records if r["type"] == "session_end")
    assert end["payload"]["first_trip"]["cause"] == "MONITOR_STALL"
    assert verify_log(log).ok


def test_console_silence_with_the_loop_running_is_still_silence() -> None:
    """The loop keeps running every ms while the console says nothing for 60 ms."""
    data = clean()
    frames = split_frames(data)
    cut = next(i for i, (_, t) in enumerate(frames) if t >= 2000)
    release = real_time(data, 1000)
    gap_start = 1000 + 2000
    cut_pos = sum(len(w) for w, _ in frames[:cut])
    mon = drive(data, lambda s: lambda now: min(release(now), cut_pos)
                if now < gap_start + 60 else release(now - 60), ms=2200)
    trip = first_trip(mon)
    assert trip.cause is Cause.SILENCE, trip.message()
    assert trip.message().startswith("telemetry silence")


def test_a_stall_below_the_bound_is_not_a_trip() -> None:
    seen = {"n": 0}

    def step() -> int:
        seen["n"] += 1
        return MONITOR_STALL_MS if seen["n"] % 500 == 0 else 1

    mon = drive(clean(), lambda s: real_time(clean(), s), step=step)
    no_trip(mon)
    assert mon.longest_pass_gap_ms == MONITOR_STALL_MS


# -- operator and status -----------------------------------------------------------------


def test_acknowledge_re_anchors_and_a_lasting_lag_trips_again() -> None:
    mon = drive(clean(), lambda s: line_rate(s, 16), ms=400)
    assert first_trip(mon).rule_id == "MON-TIME-LAG"
    mon.acknowledge("Dr Who")
    assert not mon.failsafe.latched
    port = mon.port
    assert isinstance(port, TimedPort)
    clock = port.clock
    while clock() < 2000 and not mon.failsafe.latched:
        mon.step()
        clock.advance(1)
    assert mon.failsafe.latched
    assert [t.rule_id for t in mon.failsafe.trips].count("MON-TIME-LAG") == 2


def test_the_status_line_shows_the_lag() -> None:
    mon = drive(clean(), lambda s: real_time(clean(), s), ms=1500)
    assert " frames/s | lag " in mon.status.line()
    assert mon.status.lag_ms is not None
