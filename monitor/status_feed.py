"""The monitor's status feed: its live state as UDP datagrams for a viewer (``iabp view``).

``iabp monitor URL --status-udp 127.0.0.1:9750`` makes the monitor send, every status
period (250 ms), one JSON datagram to that address on this machine: what the status line
shows, the waveforms received since the previous datagram (decimated to 250 Hz), the
balloon's inflate and deflate commands, the ejection windows the monitor judged (from
its OWN beat timing), each rule's state and the trip in plain words. A viewer in another
process draws them, so a slow or absent viewer never slows the real-time loop: the send
is fire-and-forget on a non-blocking socket, a failed send is counted, never raised, and
nothing is collected or sent without ``--status-udp``. The feed carries patient
waveforms unencrypted, so it goes to a loopback address only.

A datagram (version :data:`FEED_VERSION`; times in ms of telemetry, the monitor's 1 ms
sample index, as in the audit record's "at N ms of telemetry")::

    {"v": 1, "seq": 12, "t_ms": 5000,
     "status": {... MonitorStatus.to_json() ...},
     "samples": [[t_ms, ecg_uv, arterial_mmhg_x10, balloon_mmhg_x10], ...],
     "marks": [[t_ms, 1], [t_ms, 0]],          # inflate (1) / deflate (0) command edges
     "windows": [[start_ms, end_ms], ...],     # judged ejection windows (no gas allowed)
     "rules": [[rule_id, "ok" | "violated" | "not judged", note | null], ...],
     "trip": {"message": ..., "cause": ..., "rule_id": ..., "latched": true} | null,
     "send_errors": 0}

Raw sample units as on the wire (uV, tenths of mmHg); ``null`` where the console sent
NOT_AVAILABLE. A datagram is kept under :data:`MAX_DATAGRAM_BYTES` by dropping the
oldest samples.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import socket
from collections import deque
from collections.abc import Mapping
from typing import Any, Final

from iabp.monitor.failsafe import FailSafe, Trip
from iabp.monitor.protocol import NOT_AVAILABLE, TelemetryFrame
from iabp.monitor.rules.ruleset import RuleSet
from iabp.spec.errors import IabpError

FEED_VERSION: Final = 1
MAX_DATAGRAM_BYTES: Final = 8000  #: one datagram stays under this (well below 64 KiB)
FEED_SAMPLE_HZ: Final = 250  #: waveform samples per second in the feed (telemetry: 1 kHz)
MAX_SAMPLES: Final = 160  #: samples kept between two datagrams (640 ms at 250 Hz)
MAX_MARKS: Final = 32  #: inflate/deflate edges kept between two datagrams
MAX_WINDOWS: Final = 16  #: ejection windows kept between two datagrams

#: a rule's state as the feed reports it
RULE_OK, RULE_VIOLATED, RULE_NOT_JUDGED = "ok", "violated", "not judged"


class FeedAddressError(IabpError):
    """A status feed address that is not ``HOST:PORT`` on this machine (loopback)."""


def loopback_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` with a loopback host (127.0.0.0/8, ``::1`` as ``[::1]``, localhost)
    and a port in 0..65535, as ``(host, port)``. Anything else raises
    :class:`FeedAddressError`: the feed carries patient waveforms, unencrypted, and must
    not leave this machine."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not host or not port_text.isdigit() or int(port_text) > 65535:
        raise FeedAddressError(f"not HOST:PORT: {text!r} (e.g. 127.0.0.1:9750)")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if host.lower() == "localhost":
        host = "127.0.0.1"
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise FeedAddressError(f"{host!r} is not a loopback address: the live view carries "
                               "patient waveforms unencrypted and stays on this machine "
                               "(use 127.0.0.1)")
    return host, int(port_text)


def _sample(x: int) -> int | None:
    return None if x == NOT_AVAILABLE else x


class StatusFeed:
    """Collects the live view's data per frame and sends one datagram per status period.

    :meth:`frame` runs in the monitor's loop for every TELEMETRY frame (a few attribute
    reads and, every 4th frame, one append to a bounded ring); :meth:`publish` encodes and
    sends. Neither raises: a failure is counted in :attr:`send_errors`.
    ``onset_tolerance_ms`` shrinks each ejection window as the timing rules do.
    """

    def __init__(self, address: tuple[str, int], onset_tolerance_ms: int = 0,
                 sample_hz: int = FEED_SAMPLE_HZ) -> None:
        self.address = address
        self.onset_tolerance_ms = onset_tolerance_ms
        self.every = max(1, 1000 // sample_hz)  #: keep one telemetry frame in this many
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        self.samples: deque[tuple[int, int, int, int]] = deque(maxlen=MAX_SAMPLES)
        self.marks: deque[tuple[int, int]] = deque(maxlen=MAX_MARKS)
        self.windows: deque[tuple[int, int]] = deque(maxlen=MAX_WINDOWS)
        self.seq = 0  #: datagrams made (the viewer sees a lost one as a gap)
        self.send_errors = 0  #: datagrams not sent (no viewer is not an error for UDP)
        self._count = 0
        self._trip_text: tuple[Trip | None, str] = (None, "")

    # -- per frame (the real-time loop) -----------------------------------------------------
    def frame(self, f: TelemetryFrame, t_ms: int, v: Mapping[str, Any]) -> None:
        """One TELEMETRY frame at ``t_ms`` (ms of telemetry), after the reconstruction
        wrote its valuation ``v``: inflate/deflate edges, the window of a beat the monitor
        just decided, and one sample in ``every``."""
        inflate = v["inflate_cmd'"]
        if inflate is not v["inflate_cmd"]:
            self.marks.append((t_ms, 1 if inflate else 0))
        if v["mon_beat"]:
            onset = t_ms - v["heart_t_ms'"]
            tol = self.onset_tolerance_ms
            self.windows.append((onset + v["heart_pep_ms'"] + tol,
                                 onset + v["heart_qs2_ms'"] - tol))
        self._count += 1
        if self._count >= self.every:
            self._count = 0
            self.samples.append((t_ms, f.ecg_uv, f.arterial_pressure_mmhg_x10,
                                 f.balloon_pressure_mmhg_x10))

    # -- per status period ------------------------------------------------------------------
    def publish(self, status: Mapping[str, Any], rules: RuleSet, v: Mapping[str, Any],
                t_ms: int, failsafe: FailSafe) -> None:
        """Send what was collected since the last datagram, with ``status``
        (``MonitorStatus.to_json()``), the rules' states on valuation ``v`` at ``t_ms``
        and the trip. Never raises."""
        try:
            body = {"v": FEED_VERSION, "seq": self.seq, "t_ms": t_ms, "status": dict(status),
                    "marks": list(self.marks), "windows": list(self.windows),
                    "rules": rule_states(rules, v, t_ms, failsafe),
                    "trip": self._trip(failsafe), "send_errors": self.send_errors}
            samples = [[t, _sample(e), _sample(a), _sample(b)] for t, e, a, b in self.samples]
            data = _encode(body, samples)
            self.samples.clear()
            self.marks.clear()
            self.windows.clear()
            self.seq += 1
            self.sock.sendto(data, self.address)
        except Exception:  # the view is a nicety: the loop never fails because of it
            self.send_errors += 1

    def _trip(self, failsafe: FailSafe) -> dict[str, Any] | None:
        """The trip that latched the safe state, else the session's latest one (the
        sentence is made once per trip)."""
        trip = failsafe.trip if failsafe.latched else (
            failsafe.trips[-1] if failsafe.trips else None)
        if trip is None:
            return None
        if self._trip_text[0] is not trip:
            self._trip_text = (trip, trip.message())
        return {"message": self._trip_text[1], "cause": trip.cause.text,
                "rule_id": trip.rule_id, "latched": failsafe.latched}

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


def _encode(body: dict[str, Any], samples: list[list[Any]]) -> bytes:
    """The datagram, its oldest samples dropped until it fits MAX_DATAGRAM_BYTES."""
    while True:
        data = json.dumps({**body, "samples": samples}, separators=(",", ":")).encode()
        if len(data) <= MAX_DATAGRAM_BYTES or not samples:
            return data
        samples = samples[len(samples) // 2 + 1:]


def rule_states(rules: RuleSet, v: Mapping[str, Any], t_ms: int,
                failsafe: FailSafe) -> list[list[Any]]:
    """Each rule's state for the view: ``violated`` (it tripped and the safe state is still
    latched, or its violation goes on), ``not judged`` (with the reason: e.g. no own R-R
    measured yet) or ``ok``; the note of a rule that tripped earlier says when. The
    monitor's own rules behind the latched safe state (MON-INTEGRITY, MON-TIME-LAG...) are
    added as violated."""
    latched = failsafe.latched
    out: list[list[Any]] = []
    for r in rules.rules:
        last = rules.last_verdicts.get(r.rule_id)
        if last is not None and (latched or r.active):
            out.append([r.rule_id, RULE_VIOLATED, f"at {last.at_ms} ms of telemetry"])
            continue
        why = r.not_judged(v, t_ms)
        if why is not None:
            out.append([r.rule_id, RULE_NOT_JUDGED, why])
        else:
            note = f"last violated at {last.at_ms} ms of telemetry" if last else None
            out.append([r.rule_id, RULE_OK, note])
    listed = {r.rule_id for r in rules.rules}
    for own in _episode_rules(failsafe):
        if own not in listed:
            listed.add(own)
            out.append([own, RULE_VIOLATED, "the monitor's own check"])
    return out


def _episode_rules(failsafe: FailSafe) -> list[str]:
    """The rules behind the latched safe state: the trip that latched it and every later
    cause (e.g. MON-TIME-LAG after it); none when not latched."""
    first, since = failsafe.trip, failsafe.entered_at_ms
    if not failsafe.latched or first is None or since is None:
        return []
    later = [t for t in failsafe.trips if t.at_ms >= since and t is not first]
    return [t.rule_id for t in (first, *later) if t.rule_id is not None]
