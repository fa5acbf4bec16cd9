"""Time coherence: the monitor never judges stale, replayed or frozen telemetry (issue 9).

The rules judge each frame by its console time (``time_ms``); nothing in a frame says
*when* the monitor got it. A line too slow for the byte rate delivers every frame, in
order and intact, but later and later; a replay delivers them faster than real time; a
console whose clock stopped keeps sending the same instant. All three pass the parser
and the rules. This module compares the console's clock with the monitor's own
(monotonic) clock and names what it finds, as the monitor's own rules:

MON-TIME-LAG
    ``lag = (monitor_now - monitor_at_anchor) - (console_time - console_time_at_anchor)``
    for the newest TELEMETRY frame of each read (console time mod 2^32, so a wrap of
    ``time_ms`` is a step of +1). The unknown constant transport delay cancels out; what
    is left is that delay's *change* plus the drift between the two clocks. The drift
    (at most ``drift_ppm``) is allowed for by two envelopes that may move by at most
    ``drift_ppm`` of the elapsed monitor time: ``low`` follows the smallest lag seen (the
    freshest frame), ``high`` the largest.
    *Behind*: ``lag - low > lag_ms``: the newest frame describes the console at least
    ``lag_ms`` later than the freshest frame did: the monitor judges old data
    (a line slower than the console, a backlog that keeps growing).
    *Ahead*: ``high - lag > lag_ms``: console time advanced more than the monitor's clock
    plus drift plus ``lag_ms``: frames arrive faster than real time (a replay, a
    console clock running fast). During the start-up grace the allowance is
    ``backlog_ms`` instead (what the port may hold buffered when the monitor starts), and
    ``high`` is re-anchored when the grace ends.
MON-CLOCK-FROZEN
    More than ``frozen_frames`` consecutive TELEMETRY frames carry the same ``time_ms``,
    or console time has not advanced for more than ``frozen_ms`` of monitor time while
    frames kept arriving. (A v1 console sends one TELEMETRY per tick with consecutive
    times: a repeated time is never correct.)
MON-FRAME-RATE
    Fewer than ``rate_min_frames`` TELEMETRY frames in the last ``rate_window_ms`` of
    monitor time, judged once a whole window lies after the first frame and the grace. A
    backstop that needs no anchor: it holds even if the lag anchor were taken on bad data.

The monitor's own stalls are the runtime's (``monitor/runtime.py``): a gap longer than
``stall_ms`` between two passes of its loop is a trip of cause MONITOR_STALL, named as
such ("monitor stalled 180 ms: host overloaded"), not as console silence.

State is O(1) apart from the rate window, at most one entry per ms of the window. Each
rule reports once until :meth:`TimeCoherence.reset` (operator acknowledge, console
restart); the supervisor keeps the safe state latched meanwhile. Time is passed in
(monitor clock, ms); nothing here reads a clock.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Final

from iabp.monitor.protocol import UINT32_MOD
from iabp.spec import monitor_model as M

_HALF: Final = UINT32_MOD // 2

TIME_LAG_RULE_ID: Final = "MON-TIME-LAG"
CLOCK_FROZEN_RULE_ID: Final = "MON-CLOCK-FROZEN"
FRAME_RATE_RULE_ID: Final = "MON-FRAME-RATE"
COHERENCE_RULE_IDS: Final = (TIME_LAG_RULE_ID, CLOCK_FROZEN_RULE_ID, FRAME_RATE_RULE_ID)
COHERENCE_PROPERTY_ID: Final = "REQ-MON-FAILSAFE"

#: ms. Largest staleness tolerated: twice the 50 ms silence watchdog (a monitor that sees
#: frames may not be much staler than one that sees none) and a quarter of the shortest
#: R-R the console assists (400 ms at 150 bpm), so a STOP still lands in the same beat.
LAG_BOUND_MS: Final = 100
#: ppm of elapsed monitor time. Console crystal +/-500 ppm plus the monitor host's
#: CLOCK_MONOTONIC +/-500 ppm (Linux slews it at most 500 ppm for NTP); crystals keep 50-100.
DRIFT_PPM: Final = 1000
#: ms of monitor time after the first frame (and after a monitor stall or a re-anchor) in
#: which MON-TIME-LAG "ahead" allows BACKLOG_MS and MON-FRAME-RATE is not judged.
STARTUP_GRACE_MS: Final = 1000
#: ms of console time that may wait in the port when the monitor starts reading: pyserial
#: flushes the input at open, so only the monitor's own start-up (log, key, HELLO) and a
#: USB adapter's or the 4 KB kernel tty buffer (128 frames) remain; 500 covers them 3x.
STARTUP_BACKLOG_MS: Final = 500
#: consecutive TELEMETRY frames with one time_ms. A correct console never repeats one;
#: 20 ticks tells a stuck clock from a single bad record and names it before the lag does.
CLOCK_FROZEN_FRAMES: Final = 20
#: ms of monitor time without console time advancing while frames arrive (a stuck clock
#: sending slowly); one fifth of LAG_BOUND_MS, for the same reason.
CLOCK_FROZEN_MS: Final = 20
#: ms. The frame-rate window: one second, the period of the console's SETTINGS refresh.
FRAME_RATE_WINDOW_MS: Final = 1000
#: TELEMETRY frames per window. 10 % under the 1000 a correct console sends: reads batch
#: frames (a batch at the window edge is at most 50 frames, or the watchdog trips) and
#: drift costs 1, so a correct stream never has fewer than about 950.
FRAME_RATE_MIN_FRAMES: Final = 900
#: ms. A gap in the monitor's own loop longer than the silence watchdog: for that long it
#: watched nothing, so it trips (MONITOR_STALL) exactly when silence could not be judged.
MONITOR_STALL_MS: Final = M.MON_WATCHDOG_MS


@dataclass(frozen=True)
class CoherenceBounds:
    """The time-coherence bounds (ms unless named otherwise; reasons at the constants)."""

    lag_ms: int = LAG_BOUND_MS
    drift_ppm: int = DRIFT_PPM
    grace_ms: int = STARTUP_GRACE_MS
    backlog_ms: int = STARTUP_BACKLOG_MS
    frozen_frames: int = CLOCK_FROZEN_FRAMES
    frozen_ms: int = CLOCK_FROZEN_MS
    rate_window_ms: int = FRAME_RATE_WINDOW_MS
    rate_min_frames: int = FRAME_RATE_MIN_FRAMES
    stall_ms: int = MONITOR_STALL_MS


@dataclass(frozen=True)
class CoherenceFinding:
    """One time-coherence rule fired: its ID and the machine detail (``name=value``
    readings, turned into a sentence by :mod:`iabp.monitor.trip_messages`)."""

    rule_id: str
    detail: str


class TimeCoherence:
    """Console time against the monitor clock: MON-TIME-LAG, MON-CLOCK-FROZEN, MON-FRAME-RATE.

    :meth:`frame` is called for every delivered TELEMETRY frame, in stream order (cheap:
    no judgement); :meth:`check` once per pass of the monitor loop, after the read, with
    the monitor clock of that read: it judges the frames since the previous check.
    """

    def __init__(self, bounds: CoherenceBounds | None = None) -> None:
        self.bounds = bounds or CoherenceBounds()
        self._rho = self.bounds.drift_ppm / 1e6
        self._window: deque[tuple[int, int]] = deque()
        self._last_t: int | None = None
        self._console_ms = 0  # console ms elapsed since the first frame (signed steps mod 2^32)
        self.reset()

    # -- state ------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget the anchor and every finding: the next frames start a new session (after
        an operator acknowledge, or when the console restarted)."""
        self._anchored = False
        self._m0 = 0
        self._c0 = 0
        self._last_check_ms = 0
        self._low = 0.0
        self._high = 0.0
        self._grace_until = 0
        self._grace_open = False
        self._backlog_ms = self.bounds.backlog_ms
        self._rate_from = 0
        self._same = 0
        self._advanced = False
        self._advanced_at = 0
        self._batch = 0
        self._window.clear()
        self._in_window = 0
        self._reported: set[str] = set()
        self.lag_ms: float | None = None  #: last lag above the freshest frame (behind > 0)

    def frame(self, time_ms: int) -> None:
        """A TELEMETRY frame was delivered (stream order), console time ``time_ms``."""
        self._batch += 1
        last = self._last_t
        if time_ms == last:
            self._same += 1
            return
        if last is not None:
            d = (time_ms - last) % UINT32_MOD
            self._console_ms += d if d < _HALF else d - UINT32_MOD
        self._last_t = time_ms
        self._same = 0
        self._advanced = True

    def stalled(self, gap_ms: int) -> None:
        """The monitor's own loop did not run for ``gap_ms``: what it reads next is a
        backlog of that age, not a replay; reopen the grace with room for it."""
        self._backlog_ms = max(self.bounds.backlog_ms, gap_ms + self.bounds.lag_ms)
        self._grace_open = False  # taken up at the next check
        self._grace_until = -1

    # -- judgement ----------------------------------------------------------------------------
    def check(self, now_ms: int) -> CoherenceFinding | None:
        """Judge the frames delivered since the last check, read at ``now_ms``; the first
        rule that fires (each rule once until :meth:`reset`), else None."""
        n = self._batch
        if n == 0:
            return None
        self._batch = 0
        b = self.bounds
        self._count(now_ms, n)
        if not self._anchored:
            self._anchored = True
            self._m0, self._c0, self._last_check_ms = now_ms, self._console_ms, now_ms
            self._low = self._high = 0.0
            self._grace_until, self._grace_open = now_ms + b.grace_ms, True
            self._rate_from = now_ms + max(b.grace_ms, b.rate_window_ms)
            self._advanced, self._advanced_at = False, now_ms
            self.lag_ms = 0.0
            return self._frozen(now_ms)
        if self._grace_until < 0:  # reopened by a stall
            self._grace_until, self._grace_open = now_ms + b.grace_ms, True
            self._rate_from = max(self._rate_from, now_ms + b.grace_ms)
        lag = (now_ms - self._m0) - (self._console_ms - self._c0)
        drift = self._rho * (now_ms - self._last_check_ms)
        self._last_check_ms = now_ms
        self._low = min(self._low + drift, lag)
        self._high = max(self._high - drift, lag)
        if self._grace_open and now_ms >= self._grace_until:
            self._grace_open, self._high = False, float(lag)  # the start-up backlog is over
            self._backlog_ms = b.backlog_ms
        behind, ahead = lag - self._low, self._high - lag
        self.lag_ms = behind
        return (self._frozen(now_ms) or self._lag(now_ms, behind, ahead)
                or self._rate(now_ms))

    def _count(self, now_ms: int, n: int) -> None:
        win = self._window
        if win and win[-1][0] == now_ms:
            win[-1] = (now_ms, win[-1][1] + n)
        else:
            win.append((now_ms, n))
        self._in_window += n
        edge = now_ms - self.bounds.rate_window_ms
        while win[0][0] <= edge:
            self._in_window -= win.popleft()[1]

    def _report(self, rule_id: str, detail: str) -> CoherenceFinding | None:
        if rule_id in self._reported:
            return None
        self._reported.add(rule_id)
        return CoherenceFinding(rule_id, detail)

    def _frozen(self, now_ms: int) -> CoherenceFinding | None:
        b = self.bounds
        if self._advanced:
            self._advanced, self._advanced_at = False, now_ms
        same = self._same
        if same == 0:
            return None
        stuck_ms = now_ms - self._advanced_at
        if same <= b.frozen_frames and stuck_ms <= b.frozen_ms:
            return None
        return self._report(CLOCK_FROZEN_RULE_ID, (
            f"console_time_ms={self._last_t} repeated_frames={same} stuck_ms={stuck_ms} "
            f"limit_frames={b.frozen_frames} limit_ms={b.frozen_ms}"))

    def _lag(self, now_ms: int, behind: float, ahead: float) -> CoherenceFinding | None:
        b = self.bounds
        elapsed = now_ms - self._m0
        if behind > b.lag_ms:
            return self._report(TIME_LAG_RULE_ID, (
                f"direction=behind lag_ms={math.ceil(behind)} limit_ms={b.lag_ms} "
                f"drift_ppm={b.drift_ppm} console_time_ms={self._last_t} "
                f"monitor_elapsed_ms={elapsed} console_elapsed_ms={self._console_ms - self._c0}"))
        limit = self._backlog_ms if self._grace_open else b.lag_ms
        if ahead > limit:
            return self._report(TIME_LAG_RULE_ID, (
                f"direction=ahead lag_ms={math.ceil(ahead)} limit_ms={limit} "
                f"drift_ppm={b.drift_ppm} start_up={self._grace_open} "
                f"console_time_ms={self._last_t} monitor_elapsed_ms={elapsed} "
                f"console_elapsed_ms={self._console_ms - self._c0}"))
        return None

    def _rate(self, now_ms: int) -> CoherenceFinding | None:
        b = self.bounds
        if now_ms < self._rate_from or self._in_window >= b.rate_min_frames:
            return None
        return self._report(FRAME_RATE_RULE_ID, (
            f"frames={self._in_window} window_ms={b.rate_window_ms} "
            f"limit_frames={b.rate_min_frames}"))
